"""The README, the docs and the Makefile only use commands and flags that exist."""

import re
import shlex

import pytest

from singan_tf.cli.main import cli

from conftest import ROOT

DOCUMENTS = [ROOT / "README.md", ROOT / "Makefile", *sorted((ROOT / "docs").glob("*.md"))]


def _command_lines(text: str) -> list[str]:
    """What a reader would type: lines of fenced code blocks, `inline code` and Makefile recipes."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            lines.append(line.split("#")[0])
        lines += [code for code in line.split("`")[1::2] if "singan-tf " in code]
        lines += re.findall(r"^\t\$\(BIN\)/(singan-tf .*)", line)
    return lines


def _invocations(text: str) -> list[list[str]]:
    calls = []
    for line in _command_lines(text):
        match = re.search(r"(?:^|[\s/])singan-tf\s+([a-z][\w-]*)(.*)", line)
        if match:
            calls.append([match.group(1), *shlex.split(match.group(2).replace("\\", ""), posix=True)])
    return calls


def _flags(command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        names.update(param.opts)
        names.update(param.secondary_opts)
    return names


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_documented_invocations_exist(document):
    calls = _invocations(document.read_text())
    for name, *args in calls:
        assert name in cli.commands, f"{document.name}: singan-tf {name} is not a command"
        unknown = {a.split("=")[0] for a in args if a.startswith("-")} - _flags(cli.commands[name])
        assert not unknown, f"{document.name}: singan-tf {name} has no {sorted(unknown)}"


def test_the_readme_shows_the_demo_and_test_commands():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in readme and re.search(rf"^{target}:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_python_api_exists():
    """Every name the README's "From Python" block uses is part of the API."""
    import singan_tf

    section = (ROOT / "README.md").read_text().split("## From Python", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    used = {"singan_tf": re.findall(r"singan_tf\.(\w+)", code), "model": re.findall(r"model\.(\w+)", code),
            "result": re.findall(r"result\.(\w+)", code)}
    owners = {"singan_tf": singan_tf, "model": singan_tf.SinGAN, "result": singan_tf.InjectionResult}
    assert all(used.values())
    for owner, names in used.items():
        missing = [name for name in names if not hasattr(owners[owner], name)]
        assert not missing, f"README uses {owner}.{missing}"
    assert "examples/quickstart.ipynb" in section and (ROOT / "examples" / "quickstart.ipynb").is_file()
