"""What `pip install` puts in site-packages: one import name, with cli/export/serving inside it."""

import subprocess
import sys

from conftest import ROOT


def test_build_installs_only_singan_tf(tmp_path):
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build", "--build-base", str(tmp_path)],
        cwd=ROOT, check=True, capture_output=True,
    )
    lib = tmp_path / "lib"
    assert sorted(p.name for p in lib.iterdir()) == ["singan_tf"]
    for module in ("cli/main.py", "export/__init__.py", "serving/__init__.py", "sampler.py"):
        assert (lib / "singan_tf" / module).is_file(), module
