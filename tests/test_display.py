"""The "tested with" box at the end of every chapter, and the lock file behind it."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tlhelpers import display

ROOT = Path(__file__).resolve().parents[1]


def test_the_lock_file_ships_inside_the_package_as_a_link_to_the_repositorys():
    link = ROOT / "tlhelpers" / "constraints.txt"
    assert link.is_symlink() and link.resolve() == (ROOT / "constraints.txt").resolve()
    assert '"constraints.txt"' in (ROOT / "pyproject.toml").read_text()


def test_lock_versions_are_the_pins_of_constraints_txt():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$",
                           (ROOT / "constraints.txt").read_text(), flags=re.M))
    locked = display.lock_versions()
    assert set(locked) == set(display.TESTED_PACKAGES)
    assert all(pins[name] == version for name, version in locked.items())


def test_the_box_says_how_long_on_what_and_with_which_versions():
    box = display.run_summary(time.perf_counter() - 95).splitlines()
    assert box[0].startswith("┌─ Tested with ") and box[-1].startswith("└")
    assert len({len(line) for line in box}) == 1  # a closed frame
    text = "\n".join(box)
    ran = re.search(r"ran in (\d+) s on \d+ CPU cores \((no GPU|\d+ GPU\(s\))\)", text)
    assert ran and int(ran[1]) >= 95, text  # and the first import of TensorFlow
    for name in ("Python 3.", "TensorFlow 2.", "Keras 3.", "NumPy ", "Matplotlib "):
        assert name in text
    # `make setup` installs exactly the lock file's versions
    assert "the lock file (constraints.txt) pins these same versions" in text


def test_the_box_names_what_differs_from_the_lock_file(monkeypatch):
    monkeypatch.setattr(display, "lock_versions",
                        lambda: {"tensorflow": "0.0.1", **display.installed_versions(["keras"])})
    text = display.run_summary(time.perf_counter())
    assert "pins TensorFlow 0.0.1 · Keras " in text
    assert re.search(r"this run differs from it in TensorFlow +│", text), text
    monkeypatch.setattr(display, "lock_versions", lambda: {})
    assert "no lock file found" in display.run_summary(time.perf_counter())


def test_setup_notebook_works_in_a_fresh_interpreter():
    # A fresh kernel has imported no matplotlib submodule yet (pytest --nbval's has not).
    code = ("from tlhelpers import display\n"
            "display.setup_notebook()\n"
            "import matplotlib\n"
            "assert matplotlib.rcParams['image.cmap'] == 'viridis'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_figure_of_a_notebook_shows_after_a_styled_first_one():
    # The inline backend, loaded by a first figure inside `plt.style.context` (as
    # tlhelpers.plots draws), switched interactive mode off on the context's exit: no
    # later figure of the notebook showed. IPython's shell stands in for the kernel.
    code = (
        "import os\n"
        "os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "for cell in ('from tlhelpers import display, plots\\n'\n"
        "             'display.setup_notebook()',\n"
        "             'plots.plot_histories_over_seeds('\n"
        "             '    {\"a\": [{\"accuracy\": [0.1, 0.2], \"loss\": [1.0, 0.5]}]})',\n"
        "             'import matplotlib\\n'\n"
        "             'assert matplotlib.is_interactive()'):\n"
        "    assert shell.run_cell(cell).success, cell\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_quiet_tensorflow_holds_its_log_at_errors_and_puts_the_level_back():
    import logging

    logger = logging.getLogger("tensorflow")
    logger.setLevel(logging.INFO)
    with pytest.raises(RuntimeError), display.quiet_tensorflow():
        assert logger.level == logging.ERROR
        assert not logger.isEnabledFor(logging.WARNING)
        raise RuntimeError("the level comes back after an error too")
    assert logger.level == logging.INFO
