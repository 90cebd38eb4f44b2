"""The notebooks run top to bottom, in this environment's kernel, writing only to a temporary folder.

Each notebook is executed with nbclient from notebooks/ (as Jupyter would), with TMPDIR pointing
at the test's own folder so that its outputs land there. The researcher notebook is also run in a
copy of the repository without ../shared/data, to exercise its bundled-sample-only path.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

# Smoke tests: the notebooks run on the bundled sample (and the shared data), as users do.
pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = ("analyst.ipynb", "researcher.ipynb")
KERNEL_NAME = "python3"
TIMEOUT_S = 600


def execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel; nbclient raises CellExecutionError at the first failure."""
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return notebook


def error_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        f"{output.ename}: {output.evalue}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]


def stream_text(notebook: nbformat.NotebookNode) -> str:
    return "".join(
        output.text
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )


def test_kernel_runs_in_this_environment(tmp_path):
    notebook = new_notebook(cells=[new_code_cell("import sys; print(sys.prefix)")])
    execute(notebook, tmp_path)
    assert stream_text(notebook).strip() == sys.prefix


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_saved_without_outputs(name):
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert all(not cell.outputs and cell.execution_count is None for cell in code_cells)
    assert notebook.metadata.kernelspec.name == KERNEL_NAME


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's tempfile.mkdtemp() lands here
    before = sorted(path.name for path in NOTEBOOK_DIR.iterdir())
    notebook = execute(nbformat.read(NOTEBOOK_DIR / name, as_version=4), NOTEBOOK_DIR)
    assert error_outputs(notebook) == []
    assert sorted(path.name for path in NOTEBOOK_DIR.iterdir()) == before
    assert list(tmp_path.glob("geocarbon-*/*/figures/*.png")), "no figure written"


def test_researcher_notebook_runs_on_the_bundled_sample_alone(tmp_path, monkeypatch):
    # A copy of the repository's layout with nothing beside it: no ../shared/data.
    copy = tmp_path / "checkout"
    shutil.copytree(NOTEBOOK_DIR, copy / "notebooks")
    for folder in ("rasters", "vectors"):
        shutil.copytree(REPO_ROOT / folder, copy / folder)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    notebook = nbformat.read(copy / "notebooks" / "researcher.ipynb", as_version=4)
    execute(notebook, copy / "notebooks")
    assert error_outputs(notebook) == []
    text = stream_text(notebook)
    assert "not found; using the bundled sample only" in text
    assert "the literature comparison needs ../shared/data" in text
