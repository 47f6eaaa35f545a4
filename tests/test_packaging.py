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
    installed = {p.relative_to(lib / "singan_tf").as_posix() for p in (lib / "singan_tf").rglob("*.py")}
    for folder, package in (("singan_tf", ""), ("cli", "cli/"), ("export", "export/"), ("serving", "serving/")):
        expected = {package + p.relative_to(ROOT / folder).as_posix() for p in (ROOT / folder).rglob("*.py")}
        assert expected and expected <= installed, sorted(expected - installed)
