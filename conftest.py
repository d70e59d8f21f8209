"""How pytest runs this repository's tests and notebooks, whatever the command line.

`pytest --nbval notebooks/` (or one notebook) works as typed in the activated
environment, with nothing else set: this file sets what the Makefile would, before any
kernel starts (kernels inherit it):

- no progress bars (`TQDM_DISABLE=1`) and no TensorFlow start-up logs in any output;
- `PYTHONHASHSEED=0`, as the stored outputs were made;
- the project's own Keras cache (`.cache/keras`, filled by `make keras-cache`) as
  `KERAS_HOME`, so that the ImageNet weights are found offline;
- nbval's sanitizers (`tests/sanitize.cfg`) and the kernel of this environment.

It also orders the work for `pytest -n 2 --dist loadfile` (the longest files first, by
the durations measured in `tests/durations.json`), and adds one determinism check to the
notebook named by `DETERMINISM_NOTEBOOK`: after nbval has run it, the notebook runs once
more and every printed line must be the same.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "tests" / "sanitize.cfg"
DURATIONS = ROOT / "tests" / "durations.json"
# The smallest chapter that trains and prints the results of training: run twice by the
# test suite (nbval, then the determinism check), every printed line compared.
DETERMINISM_NOTEBOOK = "06_lora.ipynb"
_SECONDS: dict[str, float] = {}  # file -> seconds its tests took, for --record-durations

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHONHASHSEED", "0")
if "KERAS_HOME" not in os.environ and (ROOT / ".cache" / "keras").is_dir():
    os.environ["KERAS_HOME"] = str(ROOT / ".cache" / "keras")


def pytest_addoption(parser):
    parser.addoption("--record-durations", metavar="PATH", default=None,
                     help="write the seconds each file (each notebook) took to PATH, as "
                          "JSON; `make durations` updates tests/durations.json with it")


def pytest_configure(config):
    option = config.option
    if getattr(option, "nbval", False) or getattr(option, "nbval_lax", False):
        if not option.nbval_sanitize_with and SANITIZE.is_file():
            option.nbval_sanitize_with = str(SANITIZE)
        if not option.nbval_kernel_name:
            option.nbval_current_env = True


def _scope(nodeid: str) -> str:
    """The unit `--dist loadfile` hands to one worker: the file of a test or notebook."""
    return nodeid.split("::", 1)[0]


def _measured() -> dict[str, float]:
    try:
        return json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return {}


def pytest_collection_modifyitems(session, config, items):
    """The longest files first, by their measured durations, so that one long notebook
    never starts last on a worker; then the rest, in the order collected. Only the order
    changes, never what runs. And the determinism check after its notebook's cells."""
    measured = _measured()
    ranked = sorted(enumerate(items),
                    key=lambda pair: (-measured.get(_scope(pair[1].nodeid), 0.0), pair[0]))
    items[:] = [item for _, item in ranked]
    cells = [item for item in items if item.path.name == DETERMINISM_NOTEBOOK
             and type(item).__name__ == "IPyNbCell"]
    if cells:
        check = DeterminismCheck.from_parent(cells[-1].parent, name="determinism")
        items.insert(items.index(cells[-1]) + 1, check)


def pytest_runtest_logreport(report):
    """Adds up the seconds of each file's tests (setup, call and teardown). Under xdist
    the workers' reports arrive here, in the controller, too."""
    _SECONDS[_scope(report.nodeid)] = _SECONDS.get(_scope(report.nodeid), 0.0) + report.duration


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    path = config.getoption("--record-durations")
    if path is None or hasattr(config, "workerinput"):  # written by the controller only
        return
    seconds = {scope: round(value, 1)
               for scope, value in sorted(_SECONDS.items(), key=lambda pair: -pair[1])}
    Path(path).write_text(json.dumps(seconds, indent=1) + "\n")


def _printed(outputs) -> str:
    """What a cell printed, as one text: streams, results and errors, without images."""
    from tlhelpers.runner import sanitize_text

    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            text = output.get("text", "")
            parts.append(text if isinstance(text, str) else "".join(text))
        elif output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
        elif "text/plain" in output.get("data", {}):
            text = output["data"]["text/plain"]
            parts.append(text if isinstance(text, str) else "".join(text))
    return sanitize_text("".join(parts), ROOT)


class DeterminismCheck(pytest.Item):
    """Runs a notebook again, after nbval ran it, and compares every printed line.

    Seeded, with TensorFlow's op determinism on, a chapter must print the same on the
    same machine every time, results of training included: the texts nbval got from
    each cell (those of cells tagged `nbval-ignore-output` too) must equal those of a
    second run, but for the closing cell that says how long the chapter ran.
    """

    def runtest(self):
        from tlhelpers import runner

        cells = [item for item in self.session.items
                 if item.parent is self.parent and item is not self]
        first = [getattr(cell, "test_outputs", None) for cell in cells]
        if any(outputs is None for outputs in first):
            pytest.skip("nbval did not run every cell of the notebook: nothing to compare")
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder) / self.path.name
            runner.execute_notebook(self.path, output)
            second = [cell["outputs"] for cell in json.loads(output.read_text())["cells"]
                      if cell["cell_type"] == "code"]
        assert len(second) == len(first)
        for cell, before, after in zip(cells, first, second, strict=True):
            if "display.run_summary" in cell.cell.source:
                continue
            assert _printed(before) == _printed(after), (
                f"{self.path.name}, {cell.name}: a second run on this machine printed "
                "something else")

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::determinism"
