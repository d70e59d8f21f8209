"""What the notebooks store: what a reader sees on GitHub and in the book, and what nbval
compares. It must be the same on any machine: no machine paths, no progress bars, no
errors but the intended ones; and every chapter opens the same way."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("[0-9]*.ipynb")
                   if not p.name.endswith(".failed.ipynb"))
# A path of the machine that ran the notebook; `<site-packages>/...` is the runner's
# placeholder for a library file, the same everywhere.
MACHINE_PATH = re.compile(r"(/work/|/tmp/|/root/|/home/\w|/Users/\w|\.venv/|(?<!<)site-packages/|"
                          r"[A-Z]:\\\\)")
PROGRESS_BAR = re.compile(r"\d+/\d+ \[\d\d:\d\d<|\d(it|batch|img|run)/s\]|\d+%\|")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _texts(output) -> list[str]:
    texts = ["".join(output.get("text", "")), output.get("evalue", ""),
             "".join(output.get("traceback", []))]
    texts += ["".join(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return [ANSI.sub("", t) for t in texts if t]


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_path_and_no_progress_bar_is_stored(path):
    found = []
    for index, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            for text in _texts(output):
                for pattern, what in ((MACHINE_PATH, "machine path"),
                                      (PROGRESS_BAR, "progress bar")):
                    match = pattern.search(text)
                    if match:
                        context = text[max(0, match.start() - 40):][:120]
                        found.append(f"cell {index}: {what} {context!r}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_are_stored_only_where_intended_and_are_short(path):
    for index, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        intended = "raises-exception" in cell["metadata"].get("tags", [])
        assert bool(errors) == intended, f"cell {index}: error stored {bool(errors)}, " \
                                         f"tagged raises-exception {intended}"
        for error in errors:  # the reader's line, then type and message (tlhelpers.display)
            assert len(error["traceback"]) <= 2, f"cell {index}: a long traceback is stored"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_ran_and_no_volatile_metadata(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), \
        "store the outputs of one complete run (`make notebooks`)"
    assert "parameters" in code[0]["metadata"].get("tags", []), "the first code cell"
    assert sum("parameters" in c["metadata"].get("tags", []) for c in code) == 1
    assert "papermill" not in nb["metadata"] and "widgets" not in nb["metadata"]
    for cell in code:
        assert not {"execution", "papermill", "ExecuteTime"} & set(cell["metadata"])


def _setup_cell(path) -> str:
    cells = [c for c in _cells(path) if c["cell_type"] == "code"]
    return "".join(cells[1]["source"])


def test_every_chapter_opens_with_the_same_setup_cell_and_ends_with_its_run_summary():
    setups = {path.name: _setup_cell(path) for path in NOTEBOOKS}
    assert len(set(setups.values())) == 1, setups
    assert "display.setup_notebook()" in next(iter(setups.values()))
    for path in NOTEBOOKS:
        last = [c for c in _cells(path) if c["cell_type"] == "code"][-1]
        assert "".join(last["source"]) == "print(display.run_summary(started))"
        assert "nbval-ignore-output" in last["metadata"]["tags"]


def test_the_colab_setup_cell_keeps_the_installed_tensorflow_and_keras(monkeypatch):
    """Run the setup cell as IPython would where tlhelpers is missing (Colab), with pip
    replaced by a recorder: the install must pin the TensorFlow and Keras installed."""
    import importlib.util
    from importlib import metadata

    import yaml
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.utils.text import DollarFormatter

    from tlhelpers import display

    source = TransformerManager().transform_cell(_setup_cell(NOTEBOOKS[0]))
    calls = []

    class Shell:
        def __init__(self, namespace):
            self.namespace = namespace

        def run_line_magic(self, name, line):
            calls.append((name, DollarFormatter().vformat(line, [], self.namespace)))

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tlhelpers" else real_find_spec(name, *a))
    namespace = {}
    namespace["get_ipython"] = lambda: Shell(namespace)
    try:
        exec(source, namespace)
    finally:
        display.restore_notebook()
    ((magic, line),) = calls
    assert magic == "pip" and line.startswith("install --quiet")
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f'"tlhelpers @ git+{repository}"' in line
    for name in ("tensorflow", "keras"):
        assert f"{name}=={metadata.version(name)}" in line.split()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_alt_text_and_a_numbered_caption(path):
    """A screen reader reads a figure's alt text (MyST-NB's `mystnb: image: alt` cell
    metadata), not '<Figure size 640x480 with 1 Axes>'; the caption (`mystnb: figure:`)
    numbers the figure and says what it shows, and in what setting."""
    missing = []
    for index, cell in enumerate(_cells(path)):
        outputs = cell.get("outputs", []) if cell["cell_type"] == "code" else []
        if not any(k.startswith("image/") for o in outputs for k in o.get("data", {})):
            continue
        mystnb = cell["metadata"].get("mystnb", {})
        alt = str(mystnb.get("image", {}).get("alt", "")).strip()
        figure = mystnb.get("figure", {})
        if len(alt) < 40 or alt.startswith("<Figure"):
            missing.append(f"cell {index}: no alt text (mystnb.image.alt, a sentence or two)")
        if not figure.get("caption") or not str(figure.get("name", "")).startswith("fig-"):
            missing.append(f"cell {index}: no caption and name (mystnb.figure)")
    assert not missing, "\n".join(missing)
