"""How a chapter shows errors and warnings: short, and the same on every machine.

A notebook of this book runs some of the article's lines on purpose to show the error
they give today. By default IPython prints such an error with every frame of the
library it went through (a dozen screens of Keras internals, each with a path of the
machine that ran it), and Python prints a warning with the path and line of the library
file that issued it. `setup_notebook` makes both short:

- an error shows the line of the notebook that raised it, then its type and message;
- a warning shows its category and message, without a file path.

`restore_notebook()` brings Python's full tracebacks and warning format back.
`run_summary` says at the end of a chapter how long it ran, on what, with which
versions, next to the versions of the book's lock file (`tested_with`). `progress_bar` is
the progress bar of every long loop in `tlhelpers`: shown when a person runs a cell,
switched off by `TQDM_DISABLE=1` where outputs are stored (the runner, `make`, the tests).

Used by the first and the last cell of every chapter.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import time
import traceback
import unicodedata
import warnings
from importlib import metadata, resources

from tqdm import tqdm  # not tqdm.auto, which would want ipywidgets in a notebook

__all__ = ["format_warning", "installed_versions", "lock_versions", "pad", "progress_bar",
           "quiet_tensorflow", "reader_traceback", "restore_notebook", "run_summary",
           "setup_notebook", "tested_with", "text_width"]

# The packages the "tested with" box names, as pip spells them, and how it titles them.
TESTED_PACKAGES = {"tensorflow": "TensorFlow", "keras": "Keras", "numpy": "NumPy",
                   "matplotlib": "Matplotlib"}

_ORIGINAL_FORMATWARNING = warnings.formatwarning


def text_width(text: str) -> int:
    """The columns `text` takes in a terminal or a fixed-width block: two for each wide
    or full-width letter (Chinese, Japanese, Korean), none for a combining mark.

    Args:
        text: any text.

    Returns:
        The width in columns, e.g. 6 for "日本語" and 5 for "grass".
    """
    return sum(0 if unicodedata.combining(c)
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
               for c in text)


def pad(text: str, width: int) -> str:
    """`text` padded with spaces on the right to `width` columns (`text_width`), so
    that a column of names in any script lines up; longer text is returned as it is.

    Args:
        text: the text.
        width: the columns to fill.

    Returns:
        The padded text.
    """
    return text + " " * max(0, width - text_width(text))


def format_warning(message, category, filename, lineno, line=None) -> str:
    """Formats a warning as `Category: message`, without the file path and source line.

    The signature of `warnings.formatwarning`, which it replaces.

    Args:
        message: the warning's message (or the warning itself).
        category: its class, e.g. `UserWarning`.
        filename: the file that issued it (not shown).
        lineno: the line that issued it (not shown).
        line: the source line (not shown).

    Returns:
        One line, ending in a newline.
    """
    return f"{category.__name__}: {message}\n"


@contextlib.contextmanager
def quiet_tensorflow():
    """Holds TensorFlow's own log at errors only, for a while: its INFO lines name
    temporary folders, and its warnings that a function was traced again are about its
    internals (a command that loads and runs several models triggers them)."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def reader_traceback(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """The short form of an exception: the notebook line that raised it, type and message.

    Frames of library code are left out: only the last frame that belongs to a notebook
    cell is shown (`Cell In[12], line 4`, then that line), followed by what
    `traceback.format_exception_only` gives (`ValueError: ...`). Installed by
    `setup_notebook` as IPython's custom exception handler.

    Args:
        shell: the IPython shell.
        etype: the exception's class.
        value: the exception.
        tb: its traceback.
        tb_offset: unused (IPython's handler signature).

    Returns:
        The lines shown, as IPython's structured traceback.
    """
    lines = []
    for frame in reversed(traceback.extract_tb(tb)):
        label = shell.compile.format_code_name(frame.filename)
        if label is not None:
            lines.append(f"{label[0]} {label[1]}, line {frame.lineno}:\n    {frame.line}\n")
            break
    lines += traceback.format_exception_only(etype, value)
    show = getattr(shell, "_showtraceback", None)
    if show is not None:  # ipykernel: sends the error (type, message, these lines) to the page
        show(etype, value, lines)
    else:
        print("".join(lines), file=sys.stderr, end="")
    return lines


def setup_notebook() -> float:
    """Makes a notebook's errors and warnings short, and TensorFlow's start-up quiet.

    - Warnings print as `UserWarning: message` (see `format_warning`).
    - In IPython, an exception prints as the notebook line that raised it, its type and
      its message (see `reader_traceback`).
    - `TF_CPP_MIN_LOG_LEVEL` is set to 3 (errors only) unless it is set already; this
      only takes effect if TensorFlow has not been imported yet.
    - Figures drawn with Matplotlib directly in a cell take the colours of
      `tlhelpers.plots`: the colour-blind-safe `petroff10` cycle, `viridis` for maps.

    Call it once, in the first cell after the parameters; `restore_notebook()` undoes it
    (but for the figures' colours).

    Returns:
        The time it was called (`time.perf_counter()`), for `run_summary`.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.formatwarning = format_warning
    # deferred: a folder check (folders imports display) needs no Matplotlib
    import matplotlib.style  # a submodule: `import matplotlib` alone does not load it

    matplotlib.style.use("petroff10")
    matplotlib.rcParams["image.cmap"] = "viridis"
    shell = _ipython()
    if shell is not None:
        shell.set_custom_exc((Exception,), reader_traceback)
    return time.perf_counter()


def lock_versions(names=tuple(TESTED_PACKAGES)) -> dict[str, str]:
    """The versions the book's lock file (`constraints.txt`) pins, for some packages.

    The lock file ships inside the package (`tlhelpers/constraints.txt`, a link to the
    repository's), so this works where `tlhelpers` was installed from a wheel too.

    Args:
        names: the packages, as pip spells them (default: those of `TESTED_PACKAGES`).

    Returns:
        `{name: version}` for the names the lock file pins; `{}` without a lock file.
    """
    try:
        text = (resources.files("tlhelpers") / "constraints.txt").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return {}
    pins = {}
    for line in text.splitlines():
        name, _, version = line.partition("==")
        if version and name.strip().lower() in names:
            pins[name.strip().lower()] = version.split(";")[0].strip()
    return pins


def installed_versions(names) -> dict[str, str]:
    """The installed versions of some packages.

    Args:
        names: the packages, as pip spells them.

    Returns:
        `{name: version}` for those installed; the others are left out.
    """
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def tested_with() -> list[str]:
    """The versions this run uses next to those of the book's lock file, as lines.

    Returns:
        Lines: this run's Python, TensorFlow, Keras (and backend), NumPy and Matplotlib;
        then whether the lock file pins the same versions, or which it pins and which of
        them differ here.
    """
    import keras  # deferred: checking a folder (folders imports display) needs no Keras

    here = installed_versions(TESTED_PACKAGES)
    pins = lock_versions()
    named = [f"{TESTED_PACKAGES[name]} {version}" for name, version in here.items()]
    backend = f" ({keras.backend.backend()} backend)" if "keras" in here else ""
    lines = [" · ".join([f"Python {platform.python_version()}", *named[:2]]) + backend,
             " · ".join(named[2:])]
    if not pins:
        return [*lines, "no lock file found (tlhelpers/constraints.txt)"]
    differ = [TESTED_PACKAGES[name] for name in TESTED_PACKAGES
              if name in pins and here.get(name) != pins[name]]
    if not differ:
        return [*lines, "the lock file (constraints.txt) pins these same versions"]
    locked = " · ".join(f"{TESTED_PACKAGES[n]} {pins[n]}" for n in TESTED_PACKAGES if n in pins)
    return [*lines, f"the lock file (constraints.txt) pins {locked}",
            f"this run differs from it in {', '.join(differ)}"]


def run_summary(started: float) -> str:
    """The "tested with" box at the end of a chapter: how long it ran, on what, with
    which versions, and the versions of the book's lock file.

    Args:
        started: what `setup_notebook` returned.

    Returns:
        A few lines in a frame, e.g. `ran in 95 s on 2 CPU cores (no GPU), Linux`, then
        the lines of `tested_with()`.
    """
    import keras  # deferred: see tested_with

    backend = keras.backend.backend()
    gpus = 0
    if backend == "tensorflow":
        import tensorflow as tf  # deferred: each backend's own library, only when it runs

        gpus = len(tf.config.list_physical_devices("GPU"))
    elif backend == "jax":
        import jax  # deferred: likewise

        gpus = sum(device.platform == "gpu" for device in jax.devices())
    accelerator = f"{gpus} GPU(s)" if gpus else "no GPU"
    lines = [f"ran in {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPU cores "
             f"({accelerator}), {platform.system()} {platform.machine()}", *tested_with()]
    width = max(len(line) for line in lines)
    title = " Tested with "
    top = "┌─" + title + "─" * max(0, width - len(title) + 1) + "┐"
    body = [f"│ {line:<{width}} │" for line in lines]
    return "\n".join([top, *body, "└" + "─" * (width + 2) + "┘"])


def restore_notebook() -> None:
    """Undoes `setup_notebook`: full tracebacks and Python's own warning format again."""
    warnings.formatwarning = _ORIGINAL_FORMATWARNING
    shell = _ipython()
    if shell is not None:
        shell.set_custom_exc((), None)


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs):
    """A `tqdm` progress bar on stderr that `TQDM_DISABLE=1` switches off.

    tqdm lets an argument passed in the call override its `TQDM_*` environment
    variables, so `disable` is only passed when the caller asks for no bar.

    Args:
        iterable: what to iterate over (or `None`, and call `update()` by hand).
        enabled: show the bar (default True); False always hides it.
        **kwargs: more `tqdm` arguments (`total`, `desc`, `unit`, ...). A redraw at most
            once a second (`mininterval=1.0`) unless given.

    Returns:
        The `tqdm` object.
    """
    kwargs.setdefault("mininterval", 1.0)
    kwargs.setdefault("file", sys.stderr)
    if not enabled:
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)


def _ipython():
    """The running IPython shell, or `None` outside IPython."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython  # deferred: loaded already where it is used (above)

    return get_ipython()
