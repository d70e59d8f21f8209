"""Executes the book's notebooks by profile, and prints a summary.

    python -m tlhelpers.runner notebooks/*.ipynb                # tiny profile, in place
    python -m tlhelpers.runner --profile full --output-dir out notebooks/01_nine_steps.ipynb
    python -m tlhelpers.runner -p EPOCHS=2 -p SEED=1 --output-dir out notebooks/01_nine_steps.ipynb

With the default profile the executed notebooks replace the originals (their outputs
are what the book shows and what `pytest --nbval` compares against); with another
profile, or with parameters of their own (`-p KEY=VALUE`, repeatable, on top of
`--profile`), they go to `--output-dir`. A notebook is written only when it ran to the end:
a failing one leaves the original untouched, is reported with its cell and error, and
its partial outputs go to `<name>.failed.ipynb` beside it. A cell tagged
`raises-exception` that did not raise counts as a failure too.

What is stored is the same on every machine that gets the same numbers: progress bars
are switched off in the kernel (`TQDM_DISABLE=1`), TensorFlow's C++ start-up logs are
not captured, and machine paths left in any output (the Python installation, the
repository, the home folder, temporary folders) are replaced by short placeholders
(`sanitize_outputs`).

Used by `make notebooks` (stored outputs) and `make book` (a copy built into HTML).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

__all__ = ["NotebookFailed", "execute_notebook", "notebook_parameters", "parse_parameter",
           "merge_streams", "sanitize_outputs", "sanitize_text", "strip_volatile_metadata"]

DEFAULT_PROFILE = "tiny"


class NotebookFailed(RuntimeError):
    """A notebook stopped at a cell; the message names the notebook, the cell and the error."""


def merge_streams(nb) -> None:
    """Joins each run of consecutive printed outputs of one stream (stdout or stderr) in
    a cell into one output. How a kernel chunks what a cell prints depends on timing;
    merged, a stored notebook is the same however busy the machine was. In place.

    Args:
        nb: an `nbformat.NotebookNode`.
    """
    for cell in nb.cells:
        merged = []
        for output in cell.get("outputs", []):
            last = merged[-1] if merged else None
            if (output.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream"
                    and last.get("name") == output.get("name")):
                last["text"] = "".join(last["text"]) + "".join(output["text"])
            else:
                merged.append(output)
        if "outputs" in cell:
            cell.outputs = merged


def strip_volatile_metadata(nb) -> None:
    """Removes what changes from run to run without changing a result: timings, papermill
    bookkeeping, kernel versions. Modifies `nb` in place.

    Args:
        nb: an `nbformat.NotebookNode`.
    """
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        for key in ("papermill", "execution", "ExecuteTime"):
            cell.metadata.pop(key, None)


def _path_prefixes(repository: Path) -> list[tuple[str, str]]:
    """Machine-specific path prefixes and what replaces them, longest first."""
    prefixes = {
        sysconfig.get_paths()["purelib"]: "<site-packages>",
        sysconfig.get_paths()["platlib"]: "<site-packages>",
        str(repository.resolve()): "<repo>",
        tempfile.gettempdir(): "<tmp>",
        str(Path.home()): "~",
    }
    return sorted(((p, r) for p, r in prefixes.items() if len(p) > 1),
                  key=lambda item: -len(item[0]))


# Any other installation's site-packages, and the folders made in the temporary folder.
# The lookbehind starts a match only where a path can start: without it, a long word
# (an image embedded in HTML as base64) is rescanned from each of its characters.
_OTHER_SITE_PACKAGES = re.compile(r"(?<![^\s'\"(])[^\s'\"(]*/site-packages(?=/)")
_TEMP_FOLDER = re.compile(r"<tmp>/[^/\s'\"]+")


def sanitize_text(text: str, repository: str | os.PathLike[str] = ".") -> str:
    """Replaces machine paths in a piece of output by short placeholders.

    `<site-packages>` stands for the Python installation's packages, `<repo>` for the
    repository, `<tmp>` for the temporary folder (and a folder made in it by `tempfile`
    becomes `<tmp>/<tmpdir>`), `~` for the home folder.

    Args:
        text: the output text.
        repository: the repository's root (default: the current folder).

    Returns:
        The text without machine paths.
    """
    for prefix, replacement in _path_prefixes(Path(repository)):
        text = re.sub(re.escape(prefix) + r"(?![\w.-])", replacement, text)
    text = _OTHER_SITE_PACKAGES.sub("<site-packages>", text)
    return _TEMP_FOLDER.sub("<tmp>/<tmpdir>", text)


def sanitize_outputs(nb, repository: str | os.PathLike[str] = ".") -> None:
    """Applies `sanitize_text` to every text a notebook's outputs hold. In place.

    Args:
        nb: an `nbformat.NotebookNode`.
        repository: the repository's root (default: the current folder).
    """

    def clean(value):
        if isinstance(value, str):
            return sanitize_text(value, repository)
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = clean(output["text"])
            for key in ("evalue", "traceback"):
                if key in output:
                    output[key] = clean(output[key])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/"):
                    output["data"][mime] = clean(value)


def _failing_cell(nb) -> tuple[int, int | None, str | None]:
    """The first cell that failed: its position, execution count and what went wrong.

    A cell fails when it stored an error and is not tagged `raises-exception`, or when
    it is tagged `raises-exception` and raised nothing.
    """
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        raised = any(out.get("output_type") == "error" for out in cell.get("outputs", []))
        intended = "raises-exception" in cell.get("metadata", {}).get("tags", [])
        if raised and not intended:
            return index, cell.get("execution_count"), None
        if intended and not raised and cell.get("execution_count") is not None:
            return index, cell.get("execution_count"), (
                "no exception, although the cell is tagged raises-exception (it shows an "
                "error on purpose); the code no longer fails as the text says")
    return -1, None, None


def _python_literals():
    """papermill's translator of parameters into Python, but for tuples, sets and complex
    numbers, which it would inject as strings: `(5, 20)` stays a tuple."""
    from papermill.translators import PythonTranslator

    class PythonLiterals(PythonTranslator):
        @classmethod
        def translate(cls, val):
            if isinstance(val, tuple):
                items = [cls.translate(item) for item in val]
                return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
            if isinstance(val, set | frozenset):
                items = sorted(cls.translate(item) for item in val)
                text = f"{{{', '.join(items)}}}" if items else "set()"
                return text if isinstance(val, set) else f"frozenset({text if items else ''})"
            if isinstance(val, complex):
                return repr(val)
            return super().translate(val)

    return PythonLiterals


def execute_notebook(path: str | os.PathLike[str], output: str | os.PathLike[str],
                     parameters: dict | None = None, timeout: int = 1800) -> float:
    """Executes one notebook and writes it only if every cell ran.

    Parameters are injected by papermill (after the cell tagged `parameters`); the cells
    run under nbclient, which lets cells tagged `raises-exception` show their error and
    go on. The kernel's C-level output (TensorFlow's start-up logs) goes to this
    process's terminal rather than into the stored outputs, as under `pytest --nbval`.

    Args:
        path: the notebook.
        output: where to write the executed notebook (may equal `path`).
        parameters: values injected after the `parameters` cell (none: run as written).
        timeout: seconds a single cell may take (default 1800).

    Returns:
        The seconds it took.

    Tests only: with `$TLHELPERS_STAND_INS` set (`tlhelpers.config.StandIns`), the
    kernel starts by calling `tlhelpers.models.stand_in_keras_applications()`, so that
    `keras.applications` called directly in a cell builds the stand-in bases with random
    weights too; the executed notebook then shows a `STAND-IN:` line wherever a stand-in
    was used, and may not replace the notebook it was run from.

    Raises:
        NotebookFailed: naming the notebook, the cell and the error; `output` is not
            written, the outputs up to the failure go to `<name>.failed.ipynb`.
        ValueError: when stand-ins are set and `output` is the notebook itself.
        tlhelpers.config.StandInsError: when the stand-ins file is malformed.
    """
    import nbclient
    import nbformat
    from papermill.parameterize import parameterize_notebook

    from tlhelpers.config import STAND_INS_VARIABLE, stand_ins

    path, output = Path(path), Path(output)
    kernel_arguments = ["--IPKernelApp.capture_fd_output=False"]
    stand_in = stand_ins()
    if stand_in is not None:
        if output.resolve() == path.resolve():
            raise ValueError(
                f"{STAND_INS_VARIABLE} is set ({stand_in.path}): a run on stand-ins never "
                f"replaces a notebook's stored outputs. Received: output={str(output)!r}, the "
                "notebook itself. Write it elsewhere (--output-dir), or unset "
                f"{STAND_INS_VARIABLE}."
            )
        kernel_arguments.append(  # no name is left in the notebook's namespace
            "--IPKernelApp.exec_lines=__import__('tlhelpers.models', fromlist=['_'])"
            ".stand_in_keras_applications()")
    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    if parameters:
        nb.metadata.setdefault("papermill", {})  # papermill records the parameters there
        for cell in nb.cells:  # papermill reads every cell's tags
            cell.metadata.setdefault("tags", [])
        nb = parameterize_notebook(nb, parameters)
        for cell in nb.cells:  # papermill writes tuples, sets and complex numbers as strings
            if "injected-parameters" in cell.metadata["tags"]:
                cell.source = _python_literals().codify(parameters, comment="Parameters")
        for cell in nb.cells:
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(path.parent.resolve())}},
        extra_arguments=kernel_arguments,
    )
    repository = Path.cwd()
    failure = None
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # the kernel inherits it: no progress bars stored
    try:
        client.execute()
    except Exception as err:
        failure = err
    finally:
        if previous is None:
            del os.environ["TQDM_DISABLE"]
        else:
            os.environ["TQDM_DISABLE"] = previous
    index, count, problem = _failing_cell(nb)
    if failure is not None or problem is not None:
        where = f"cell {index + 1} (execution count [{count}])" if index >= 0 else "a cell"
        if problem is None:
            ename = getattr(failure, "ename", type(failure).__name__)
            evalue = getattr(failure, "evalue", str(failure))
            problem = f"raised {ename}: {evalue}"
        failed = output.with_name(f"{output.stem}.failed.ipynb")
        nbformat.write(nb, failed)  # for debugging, with the real paths
        raise NotebookFailed(
            f"{path}: {where} {problem}\nOutputs up to the failing cell: {failed}"
        ) from failure
    merge_streams(nb)
    sanitize_outputs(nb, repository)
    strip_volatile_metadata(nb)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=output.parent, suffix=".partial",
                                     delete=False) as staged:
        nbformat.write(nb, staged)
    Path(staged.name).chmod(0o644)
    Path(staged.name).replace(output)  # atomic: never a half-written notebook at `output`
    return time.perf_counter() - start


def parse_parameter(text: str) -> tuple[str, object]:
    """Reads one `-p KEY=VALUE` of the command line.

    The value is read as a Python literal (`ast.literal_eval`: `1`, `0.5`, `None`,
    `True`, `'text'`, `(5, 20)`, `{'source_images': 500}`); anything else is kept as the
    string it is (`DATA_DIR=/data/photos`, `PROFILE=full`).

    Args:
        text: `KEY=VALUE`, where `KEY` is a Python name.

    Returns:
        `(key, value)`.

    Raises:
        ValueError: when `text` has no `=` or `KEY` is not a Python name.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ValueError(
            f"A parameter is written KEY=VALUE, KEY a Python name. Received: `{text}`. "
            "For example: -p EPOCHS=2 or -p DATA_DIR=/data/photos."
        )
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw
    return key, value


def notebook_parameters(path: str | os.PathLike[str]) -> list[str]:
    """The names a notebook's cell tagged `parameters` assigns, in order.

    Args:
        path: the notebook.

    Returns:
        The names (empty when the notebook has no such cell, or it does not parse).
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return []
            names = []
            for node in tree.body:
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, ast.AnnAssign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
            return names
    return []


def _main(argv: list[str] | None = None) -> int:
    from tlhelpers.config import STAND_INS_VARIABLE, StandInsError, stand_ins

    parser = argparse.ArgumentParser(prog="python -m tlhelpers.runner", description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="the PROFILE parameter (default: tiny, written in place)")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                        dest="parameters",
                        help="a notebook parameter, on top of --profile (repeatable); VALUE is "
                             "read as a Python literal, else kept as a string: -p EPOCHS=2 "
                             "-p DATA_DIR=/data/photos -p \"SIZES_OVERRIDE={'source_images': "
                             "500}\"")
    parser.add_argument("--output-dir", type=Path,
                        help="where executed notebooks go (required unless --profile tiny "
                             "without -p)")
    args = parser.parse_args(argv)
    parameters = {} if args.profile == DEFAULT_PROFILE else {"PROFILE": args.profile}
    for text in args.parameters:
        try:
            key, value = parse_parameter(text)
        except ValueError as err:
            parser.error(str(err))
        if key == "PROFILE":
            parser.error(f"set the profile with --profile, not -p. Received: `-p {text}`")
        parameters[key] = value
    if parameters and args.output_dir is None:
        parser.error("--output-dir is required with a non-default --profile or with -p, so "
                     "that the stored tiny-profile outputs stay as they are")
    try:
        stand_in = stand_ins()
    except StandInsError as err:
        parser.error(str(err))
    if stand_in is not None and args.output_dir is None:
        parser.error(f"--output-dir is required while {STAND_INS_VARIABLE} is set "
                     f"({stand_in.path}): a run on stand-ins never replaces the stored outputs")
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if parameters:
        print("parameters: " + ", ".join(f"{k}={v!r}" for k, v in parameters.items()))
    rows, failures = [], []
    for i, path in enumerate(args.notebooks, 1):
        output = (args.output_dir / path.name) if args.output_dir else path
        unknown = [key for key in parameters if key not in notebook_parameters(path)]
        if unknown:
            print(f"warning: {path} has no parameter {', '.join(unknown)} in its cell tagged "
                  "`parameters`; injected all the same, but probably not used", file=sys.stderr)
        print(f"[{i}/{len(args.notebooks)}] {path} (profile {args.profile}) ...", flush=True)
        try:
            seconds = execute_notebook(path, output, parameters)
            rows.append((str(path), "ok", f"{seconds:.0f} s"))
        except NotebookFailed as err:
            failures.append(str(err))
            rows.append((str(path), "FAILED", "-"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'notebook':<{width}}  status  time")
    for name, status, seconds in rows:
        print(f"{name:<{width}}  {status:<6}  {seconds}")
    for failure in failures:
        print(f"\n{failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(_main())
