"""The notebook runner: parameters, intended errors, outputs without machine paths, and no
half-written notebooks."""

import os
import sys
import tempfile
from pathlib import Path

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


def test_intended_errors_are_short_and_warnings_name_no_file(tmp_path):
    path = _notebook(tmp_path / "short.ipynb", [
        ("from tlhelpers import display\ndisplay.setup_notebook()", []),
        ("import warnings\nwarnings.warn('careful')", []),
        ("import json\n\njson.loads('{')", ["raises-exception"]),
        ("print('went on')", []),
    ])
    runner.execute_notebook(path, tmp_path / "out.ipynb")
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[1].outputs[0].text == "UserWarning: careful\n"
    error = out.cells[2].outputs[0]
    assert error.ename == "JSONDecodeError"
    shown = "".join(error.traceback)
    assert shown.startswith("Cell In[3], line 3:\n    json.loads('{')\n")
    assert shown.endswith("json.decoder.JSONDecodeError: Expecting property name enclosed in "
                          "double quotes: line 1 column 2 (char 1)\n")
    assert "decoder.py" not in shown and len(error.traceback) == 2
    assert out.cells[3].outputs[0].text == "went on\n"


def test_a_raises_exception_cell_that_does_not_raise_is_a_failure(tmp_path):
    path = _notebook(tmp_path / "quiet.ipynb", [("x = 1", ["raises-exception"])])
    with pytest.raises(runner.NotebookFailed, match="cell 1 .*no exception, although the cell is "
                                                    "tagged raises-exception"):
        runner.execute_notebook(path, tmp_path / "out.ipynb")
    assert not (tmp_path / "out.ipynb").exists()


def test_stored_outputs_hold_no_machine_path_and_no_progress_bar(tmp_path):
    path = _notebook(tmp_path / "paths.ipynb", [
        ("import os, sys, tempfile, tqdm\n"
         "for _ in tqdm.tqdm(range(3)):\n    pass\n"
         "print(os.getcwd(), sys.prefix)\n"
         "print(tempfile.mkdtemp(prefix='features-'))\n"
         "print(os.path.expanduser('~/.keras'), tqdm.__file__)", []),
    ])
    runner.execute_notebook(path, tmp_path / "out.ipynb")
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in out.cells[0].outputs)
    assert [o.name for o in out.cells[0].outputs] == ["stdout"]  # no tqdm bar on stderr
    assert "<tmp>/<tmpdir>" in printed and "~/.keras" in printed
    assert "<site-packages>/tqdm/__init__.py" in printed
    for machine_path in (str(tmp_path), str(Path.home()), sys.prefix, "/tmp/"):
        assert machine_path not in printed


def test_sanitize_text_replaces_machine_paths_only():
    repository = Path.cwd()
    text = (f"{repository}/tlhelpers/models.py:12: x\n"
            "/opt/venv/lib/python3.12/site-packages/keras/src/a.py\n"
            f"{tempfile.gettempdir()}/tmpab_12/h.npz\n"
            f"{Path.home()}x/not-home\n"
            "val_accuracy 0.750 in 12/19 batches\n")
    assert runner.sanitize_text(text, repository) == (
        "<repo>/tlhelpers/models.py:12: x\n"
        "<site-packages>/keras/src/a.py\n"
        "<tmp>/<tmpdir>/h.npz\n"
        f"{Path.home()}x/not-home\n"
        "val_accuracy 0.750 in 12/19 batches\n")


def test_sanitize_text_takes_linear_time_on_a_long_word():
    """An HTML output can hold an image as one long base64 word; the site-packages rule
    once rescanned it from every character (minutes for a report of 300 KB; 20 s for this
    word). The rule now starts a match only where a path can start, so this returns at
    once; the test suite's own time shows it, no clock is asserted."""
    import base64

    word = base64.b64encode(bytes(range(256)) * 180).decode()
    assert runner.sanitize_text(f'<img src="data:image/png;base64,{word}">', Path.cwd()) == (
        f'<img src="data:image/png;base64,{word}">')
    assert runner.sanitize_text('x="/opt/lib/site-packages/a.py"', Path.cwd()) == (
        'x="<site-packages>/a.py"')


@pytest.mark.parametrize("text, expected", [
    ("EPOCHS=2", ("EPOCHS", 2)),
    ("LR=1e-3", ("LR", 1e-3)),
    ("DATA_DIR=None", ("DATA_DIR", None)),
    ("FAST=True", ("FAST", True)),
    ("SIZES=(5, 20)", ("SIZES", (5, 20))),
    ("SIZES_OVERRIDE={'source_images': 500}", ("SIZES_OVERRIDE", {"source_images": 500})),
    ("NAME='full'", ("NAME", "full")),
    ("NAME=full", ("NAME", "full")),  # not a literal: kept as the string
    ("DATA_DIR=/data/my photos", ("DATA_DIR", "/data/my photos")),
    ("EXPR=1 + 2j", ("EXPR", 1 + 2j)),
    ("EMPTY=", ("EMPTY", "")),
    ("NOTE=a=b", ("NOTE", "a=b")),
])
def test_parse_parameter_reads_literals_and_falls_back_to_the_string(text, expected):
    assert runner.parse_parameter(text) == expected


@pytest.mark.parametrize("text", ["EPOCHS", "=2", "2X=1", "my-key=1"])
def test_parse_parameter_rejects_what_is_not_key_equals_value(text):
    with pytest.raises(ValueError, match=f"KEY=VALUE.*Received: `{text}`"):
        runner.parse_parameter(text)


def test_notebook_parameters_are_the_names_the_parameters_cell_assigns(tmp_path):
    path = _notebook(tmp_path / "p.ipynb", [
        ("import os\nPROFILE = 'tiny'  # a comment\nSEED: int = 0\nA = B = None\nSEED = 1",
         ["parameters"]),
        ("OTHER = 1", []),
    ])
    assert runner.notebook_parameters(path) == ["PROFILE", "SEED", "A", "B"]
    assert runner.notebook_parameters(_notebook(tmp_path / "none.ipynb", [("X = 1", [])])) == []


def test_command_line_injects_parameters_on_top_of_the_profile(tmp_path, capsys):
    path = _notebook(tmp_path / "p.ipynb", [
        ("PROFILE = 'tiny'\nX = 1\nSIZES = None\nNAME = 'a'", ["parameters"]),
        ("print(PROFILE, X * 10, repr(SIZES), NAME)", []),
    ])
    out = tmp_path / "out"
    assert runner._main(["--profile", "full", "-p", "X=4", "--parameter", "SIZES=(5, 20)",
                         "-p", "NAME=b c", "--output-dir", str(out), str(path)]) == 0
    assert "parameters: PROFILE='full', X=4, SIZES=(5, 20), NAME='b c'" in capsys.readouterr().out
    executed = nbformat.read(out / "p.ipynb", as_version=4)
    assert executed.cells[2].outputs[0].text == "full 40 (5, 20) b c\n"  # a tuple, not a str
    assert nbformat.read(path, as_version=4).cells[1].outputs == []  # the original untouched


def test_command_line_parameters_need_an_output_folder_and_a_valid_form(tmp_path, capsys):
    path = _notebook(tmp_path / "p.ipynb", [("X = 1", ["parameters"])])
    for argv, message in [
        (["-p", "X=2", str(path)], "--output-dir is required"),
        (["-p", "X", "--output-dir", str(tmp_path), str(path)], "KEY=VALUE"),
        (["-p", "PROFILE=full", "--output-dir", str(tmp_path), str(path)], "with --profile"),
    ]:
        with pytest.raises(SystemExit) as info:
            runner._main(argv)
        assert info.value.code == 2
        assert message in capsys.readouterr().err


def test_command_line_warns_of_a_parameter_the_notebook_does_not_declare(tmp_path, capsys):
    path = _notebook(tmp_path / "p.ipynb", [("EPOCHS = None", ["parameters"]), ("1", [])])
    assert runner._main(["-p", "EPOCH=1", "--output-dir", str(tmp_path / "o"), str(path)]) == 0
    assert "has no parameter EPOCH in its cell tagged `parameters`" in capsys.readouterr().err


def test_parameters_keep_their_python_types(tmp_path):
    """papermill alone would inject a tuple, a set or a complex number as a string."""
    values = {"T": (5, 20), "ONE": (1,), "NESTED": {"sizes": (5, 20), "names": ["a", (1, 2)]},
              "S": {3, 1}, "C": 1 + 2j, "NOTHING": None, "TEXT": 'say "hi"', "F": 0.5}
    path = _notebook(tmp_path / "types.ipynb", [
        ("\n".join(f"{name} = None" for name in values), ["parameters"]),
        ("print(repr((" + ", ".join(values) + ",)))", []),
    ])
    runner.execute_notebook(path, tmp_path / "out.ipynb", parameters=values)
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[2].outputs[0].text == repr(tuple(values.values())) + "\n"


def test_a_run_with_kernel_setup_never_replaces_the_notebook(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", [("print(1)", [])])
    original = path.read_bytes()
    with pytest.raises(ValueError, match="kernel setup code never replaces the notebook"):
        runner.execute_notebook(path, path, kernel_setup="x = 1")
    assert path.read_bytes() == original


def test_kernel_setup_runs_before_the_first_cell(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", [("import math\nprint(math.tau)", [])])
    runner.execute_notebook(path, tmp_path / "out.ipynb",
                            kernel_setup="__import__('math').tau = 7")
    outputs = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs
    assert outputs[0].text == "7\n"


def test_progress_is_reported_cell_by_cell_and_kernel_noise_kept_out(tmp_path, capfd):
    path = _notebook(tmp_path / "nb.ipynb", [
        ("X = 1", ["parameters"]),
        ("import os\nos.write(2, b'C-level noise\\n')\nprint('printed')", []),
    ])
    seen = []
    runner.execute_notebook(path, tmp_path / "out.ipynb", parameters={"X": 2},
                            on_cell=lambda number, cells: seen.append((number, cells)))
    assert seen == [(1, 3), (2, 3), (3, 3)]  # the injected parameters cell counts
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert [o.text for o in out.cells[2].outputs] == ["printed\n"]
    captured = capfd.readouterr()  # neither the kernel's C-level output nor Jupyter's warning
    assert "C-level noise" not in captured.out + captured.err
    assert "without encryption" not in captured.out + captured.err


def test_a_failure_keeps_what_the_kernel_printed(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", [
        ("import os\nos.write(2, b'C-level clue\\n')\nraise RuntimeError('stop')", []),
    ])
    with pytest.raises(runner.NotebookFailed, match="What the kernel process printed: "):
        runner.execute_notebook(path, tmp_path / "out.ipynb")
    assert "C-level clue" in (tmp_path / "out.failed.log").read_text()


def test_command_line_runs_notebooks_at_once_and_reports_each(tmp_path, capsys):
    paths = [_notebook(tmp_path / f"nb{i}.ipynb", [
        ("import os\nprint(os.environ['TF_NUM_INTRAOP_THREADS'])", [])]) for i in range(3)]
    out = tmp_path / "out"
    assert runner._main(["--jobs", "2", "-p", "X=1", "--output-dir", str(out),
                         *map(str, paths)]) == 0
    printed = capsys.readouterr().out
    assert "3 notebook(s), profile tiny, 2 at a time" in printed
    assert sorted(line.split()[0] for line in printed.splitlines()
                  if line.startswith("[")) == ["[1/3]", "[2/3]", "[3/3]"]
    threads = [nbformat.read(out / p.name, as_version=4).cells[1].outputs[0].text
               for p in paths]  # each kernel's share of the cores, unless set already
    share = os.environ.get("TF_NUM_INTRAOP_THREADS", str(max(1, os.cpu_count() // 2)))
    assert threads == [f"{share}\n"] * 3


def test_command_line_says_how_to_install_the_notebook_tools(tmp_path, capsys, monkeypatch):
    path = _notebook(tmp_path / "nb.ipynb", [("1", [])])
    real_find_spec = runner.importlib.util.find_spec
    monkeypatch.setattr(runner.importlib.util, "find_spec",
                        lambda name: None if name == "papermill" else real_find_spec(name))
    with pytest.raises(SystemExit):
        runner._main([str(path)])
    assert "needs papermill (the package's `book` extra)" in capsys.readouterr().err


def test_printed_lines_are_stored_as_one_output_per_stream_run():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warn\n"),
        nbformat.v4.new_output("stream", name="stdout", text="c\n"),
        nbformat.v4.new_output("stream", name="stdout", text="d\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "x"}),
        nbformat.v4.new_output("stream", name="stdout", text="e\n"),
    ]
    runner.merge_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in nb.cells[0].outputs] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "warn\n"),
        ("stream", "stdout", "c\nd\n"), ("display_data", None, None),
        ("stream", "stdout", "e\n")]
