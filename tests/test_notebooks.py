"""The example notebooks run top to bottom, as a reader would run them: stored without outputs, and
executed with the tiny preset injected after their parameters cell (papermill's convention)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from conftest import ROOT

EXAMPLES = ROOT / "examples"


def parameters_cell(notebook: nbformat.NotebookNode) -> int:
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters'"
    return tagged[0]


def test_notebooks_are_stored_without_outputs():
    notebooks = sorted(EXAMPLES.glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has stored outputs"


def test_quickstart_runs_with_the_tiny_preset(tmp_path: Path):
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    injected = (f'PRESET = "tiny"\nOUT = {str(tmp_path / "model")!r}\nEXPORTS = {str(tmp_path / "exports")!r}')
    notebook.cells.insert(parameters_cell(notebook) + 1,
                          new_code_cell(injected, metadata={"tags": ["injected-parameters"]}))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    pictures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(pictures) >= 10, f"{len(pictures)} pictures shown"
    assert (tmp_path / "model" / "manifest.json").is_file() and (tmp_path / "exports" / "singan" / "1").is_dir()
    assert not list(EXAMPLES.glob("models")) and not list(EXAMPLES.glob("exports*"))
