"""How a chapter shows errors and warnings: short, and the same on every machine.

A notebook of this book runs some of the article's lines on purpose to show the error
they give today. By default IPython prints such an error with every frame of the
library it went through (a dozen screens of Keras internals, each with a path of the
machine that ran it), and Python prints a warning with the path and line of the library
file that issued it. `setup_notebook` makes both short:

- an error shows the line of the notebook that raised it, then its type and message;
- a warning shows its category and message, without a file path.

`restore_notebook()` brings Python's full tracebacks and warning format back.
`run_summary` says at the end of a chapter how long it ran, on what. `progress_bar` is
the progress bar of every long loop in `tlhelpers`: shown when a person runs a cell,
switched off by `TQDM_DISABLE=1` where outputs are stored (the runner, `make`, the tests).

Used by the first and the last cell of every chapter.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
import warnings

__all__ = ["format_warning", "progress_bar", "reader_traceback", "restore_notebook",
           "run_summary", "setup_notebook"]

_ORIGINAL_FORMATWARNING = warnings.formatwarning


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

    Call it once, in the first cell after the parameters; `restore_notebook()` undoes it.

    Returns:
        The time it was called (`time.perf_counter()`), for `run_summary`.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.formatwarning = format_warning
    shell = _ipython()
    if shell is not None:
        shell.set_custom_exc((Exception,), reader_traceback)
    return time.perf_counter()


def run_summary(started: float) -> str:
    """One line for the end of a chapter: how long it ran, and on what.

    Args:
        started: what `setup_notebook` returned.

    Returns:
        E.g. `"This chapter ran in 95 s on 2 CPU cores (no GPU), with TensorFlow 2.21.0,
        Keras 3.15.1 (tensorflow backend), Python 3.11.7."`
    """
    import keras

    backend = keras.backend.backend()
    gpus = 0
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = len(tf.config.list_physical_devices("GPU"))
        versions = f"TensorFlow {tf.__version__}, "
    else:
        versions = ""
        if backend == "jax":
            import jax

            gpus = sum(device.platform == "gpu" for device in jax.devices())
    accelerator = f"{gpus} GPU(s)" if gpus else "no GPU"
    return (f"This chapter ran in {time.perf_counter() - started:.0f} s on {os.cpu_count()} "
            f"CPU cores ({accelerator}), with {versions}Keras {keras.__version__} "
            f"({backend} backend), Python {platform.python_version()}.")


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
    from tqdm import tqdm  # tqdm.auto would want ipywidgets in a notebook

    kwargs.setdefault("mininterval", 1.0)
    kwargs.setdefault("file", sys.stderr)
    if not enabled:
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)


def _ipython():
    """The running IPython shell, or `None` outside IPython."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()
