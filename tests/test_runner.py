"""The notebook runner: parameters, intended errors, and no half-written notebooks."""

import nbformat
import pytest

from tlhelpers import runner


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def test_runs_with_parameters_and_intended_errors(tmp_path):
    path = _notebook(tmp_path / "ok.ipynb", [
        ("X = 1", ["parameters"]),
        ("1 / 0", ["raises-exception"]),
        ("print(X * 10)", []),
    ])
    runner.execute_notebook(path, tmp_path / "out.ipynb", parameters={"X": 4})
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[1].metadata["tags"] == ["injected-parameters"]
    assert out.cells[2].outputs[0].ename == "ZeroDivisionError"
    assert out.cells[3].outputs[0].text == "40\n"
    assert "papermill" not in out.metadata
    assert all("execution" not in c.metadata for c in out.cells)


def test_failure_names_notebook_cell_and_error_and_keeps_the_original(tmp_path):
    path = _notebook(tmp_path / "bad.ipynb", [
        ("print('first')", []),
        ("raise ValueError('broken data folder')", []),
        ("print('never')", []),
    ])
    original = path.read_bytes()
    with pytest.raises(runner.NotebookFailed) as info:
        runner.execute_notebook(path, path)
    message = str(info.value)
    assert str(path) in message and "cell 2" in message
    assert "ValueError: broken data folder" in message
    assert path.read_bytes() == original
    failed = nbformat.read(tmp_path / "bad.failed.ipynb", as_version=4)
    assert failed.cells[0].outputs[0].text == "first\n"
    assert not list(tmp_path.glob("*.partial"))


def test_command_line_summary(tmp_path, capsys):
    good = _notebook(tmp_path / "good.ipynb", [("print(2)", [])])
    bad = _notebook(tmp_path / "bad.ipynb", [("assert False, 'nope'", [])])
    assert runner._main([str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert "ok" in captured.out and "FAILED" in captured.out
    assert "AssertionError: nope" in captured.err
