"""Executes the book's notebooks by profile, and prints a summary.

    python -m tlhelpers.runner notebooks/*.ipynb                # tiny profile, in place
    python -m tlhelpers.runner --profile full --output-dir out notebooks/01_nine_steps.ipynb
    python -m tlhelpers.runner -p EPOCHS=2 -p SEED=1 --output-dir out notebooks/01_nine_steps.ipynb
    python -m tlhelpers.runner --jobs 2 notebooks/*.ipynb        # two at a time

With the default profile the executed notebooks replace the originals (their outputs
are what the book shows and what `pytest --nbval` compares against); with another
profile, or with parameters of their own (`-p KEY=VALUE`, repeatable, on top of
`--profile`), they go to `--output-dir`. A notebook is written only when it ran to the end:
a failing one leaves the original untouched, is reported with its cell and error, and
its partial outputs go to `<name>.failed.ipynb` beside it. A cell tagged
`raises-exception` that did not raise counts as a failure too.

While notebooks run, a status line says which cell of which notebook is running and for
how long (on a terminal; elsewhere a line every 30 s of a long cell). What the kernel
process prints itself (TensorFlow's C++ logs, Jupyter's warnings) stays out of the
terminal: it is kept beside a notebook that failed (`<name>.failed.log`).

What is stored is the same on every machine that gets the same numbers: progress bars
are switched off in the kernel (`TQDM_DISABLE=1`), the kernel's own C-level output is not
captured, and machine paths left in any output (the Python installation, the
repository, the home folder, temporary folders) are replaced by short placeholders
(`sanitize_outputs`).

Used by `make notebooks` (stored outputs) and `make book` (a copy built into HTML).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import importlib.util
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["NotebookFailed", "Progress", "execute_notebook", "merge_streams",
           "notebook_parameters", "parse_parameter", "sanitize_outputs", "sanitize_text",
           "strip_volatile_metadata"]

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
    from papermill.translators import PythonTranslator  # deferred: the `book` extra

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


class Progress:
    """Shows which cell of which notebook is running, and for how long.

    On a terminal it keeps one status line up to date (every second); elsewhere (a CI
    log, a file) it prints a line when a cell has run for a while, at most every
    `every` seconds per notebook, so that a long cell is never silent.

    Args:
        stream: where to write (default: standard output).
        every: seconds between lines when `stream` is not a terminal (default 30).
    """

    def __init__(self, stream=None, every: float = 30.0):
        self.stream = stream or sys.stdout
        self.every = every
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._running: dict[str, list] = {}  # name -> [cell, cells, started, last line]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Progress:
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._clear()

    def start(self, name: str, cells: int) -> None:
        """Notes that notebook `name`, of `cells` code cells, started."""
        now = time.perf_counter()
        with self._lock:
            self._running[name] = [0, cells, now, now]

    def cell(self, name: str, number: int) -> None:
        """Notes that code cell `number` (from 1) of notebook `name` started."""
        with self._lock:
            if name in self._running:
                self._running[name][0] = number

    def finish(self, name: str, line: str) -> None:
        """Notes that notebook `name` ended, and prints `line` about it."""
        with self._lock:
            self._running.pop(name, None)
            self._clear()
            print(line, file=self.stream, flush=True)

    def _status(self, name: str, entry: list, now: float) -> str:
        cell, cells, started, _ = entry
        return f"{name}: cell {cell} of {cells}, {now - started:.0f} s"

    def _clear(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            now = time.perf_counter()
            with self._lock:
                if self.live:
                    status = " | ".join(self._status(n, e, now)
                                        for n, e in self._running.items())
                    self.stream.write("\r\x1b[K  " + status[:_terminal_width() - 3])
                    self.stream.flush()
                    continue
                for name, entry in self._running.items():
                    if now - entry[3] >= self.every:
                        entry[3] = now
                        print("  " + self._status(name, entry, now), file=self.stream,
                              flush=True)


def _terminal_width() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def _require_notebook_tools() -> None:
    """Stops with the fix when the notebook tools (the `book` extra) are missing."""
    missing = [name for name in ("nbclient", "nbformat", "papermill", "ipykernel")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ModuleNotFoundError(
            f"Running notebooks needs {', '.join(missing)} (the package's `book` extra). "
            "Install it: `pip install 'tlhelpers[book]'` (in this repository: `make setup`, "
            "or `pip install -e '.[book]'`)."
        )


def execute_notebook(path: str | os.PathLike[str], output: str | os.PathLike[str],
                     parameters: dict | None = None, timeout: int = 1800, *,
                     kernel_setup: str | None = None, kernel_env: dict | None = None,
                     on_cell: Callable[[int, int], None] | None = None) -> float:
    """Executes one notebook and writes it only if every cell ran.

    Parameters are injected by papermill (after the cell tagged `parameters`); the cells
    run under nbclient, which lets cells tagged `raises-exception` show their error and
    go on. Progress bars are switched off in the kernel (`TQDM_DISABLE=1`). What the
    kernel process itself prints (TensorFlow's C++ start-up logs, Jupyter's warnings)
    goes to a log file, not into the notebook nor the terminal; when the notebook fails
    the log is kept beside the failed notebook (`<name>.failed.log`).

    Args:
        path: the notebook.
        output: where to write the executed notebook (may equal `path`).
        parameters: values injected after the `parameters` cell (none: run as written).
        timeout: seconds a single cell may take (default 1800).
        kernel_setup: Python code the kernel runs when it starts, before the first cell
            (IPython's `exec_lines`), e.g. a test's patches; a run with setup code never
            replaces the notebook it ran from (default None).
        kernel_env: environment variables set for the kernel, on top of this process's
            (default None).
        on_cell: called as `on_cell(number, cells)` when code cell `number` (from 1) of
            `cells` starts (default None).

    Returns:
        The seconds it took.

    Raises:
        NotebookFailed: naming the notebook, the cell and the error; `output` is not
            written, the outputs up to the failure go to `<name>.failed.ipynb`.
        ValueError: when `kernel_setup` is given and `output` is the notebook itself.
        ModuleNotFoundError: when nbclient, nbformat, papermill or ipykernel is missing.
    """
    _require_notebook_tools()
    import nbclient  # deferred: the notebook tools are an extra (see _require_notebook_tools)
    import nbformat  # deferred: likewise
    from papermill.parameterize import parameterize_notebook  # deferred: likewise

    path, output = Path(path), Path(output)
    kernel_arguments = ["--IPKernelApp.capture_fd_output=False"]
    if kernel_setup:
        if output.resolve() == path.resolve():
            raise ValueError(
                "A run with kernel setup code never replaces the notebook it ran from. "
                f"Received: output={str(output)!r}, the notebook itself. Write it elsewhere "
                "(--output-dir)."
            )
        kernel_arguments.append(f"--IPKernelApp.exec_lines={kernel_setup}")
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
    code_cells = {index: number for number, index in enumerate(
        (i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"), 1)}

    def cell_started(cell, cell_index, **_):
        if on_cell is not None and cell_index in code_cells:
            on_cell(code_cells[cell_index], len(code_cells))

    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(path.parent.resolve())}},
        extra_arguments=kernel_arguments,
        on_cell_start=cell_started,
    )
    env = {**os.environ, "TQDM_DISABLE": "1", **(kernel_env or {})}
    repository = Path.cwd()
    failure = None
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
        try:
            client.execute(env=env, stdout=log, stderr=log)
        except Exception as err:
            failure = err
        index, count, problem = _failing_cell(nb)
        if failure is not None or problem is not None:
            where = f"cell {index + 1} (execution count [{count}])" if index >= 0 else "a cell"
            if problem is None:
                ename = getattr(failure, "ename", type(failure).__name__)
                evalue = getattr(failure, "evalue", str(failure))
                problem = f"raised {ename}: {evalue}"
            failed = output.with_name(f"{output.stem}.failed.ipynb")
            failed.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, failed)  # for debugging, with the real paths
            log.seek(0)
            kernel_log = failed.with_suffix(".log")
            kernel_log.write_text(log.read(), encoding="utf-8")
            raise NotebookFailed(
                f"{path}: {where} {problem}\nOutputs up to the failing cell: {failed}\n"
                f"What the kernel process printed: {kernel_log}"
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
    for cell in json.loads(Path(path).read_text(encoding="utf-8")).get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and "parameters" in tags:
            source = cell.get("source", "")
            try:
                tree = ast.parse(source if isinstance(source, str) else "".join(source))
            except SyntaxError:
                return []
            names = []
            for node in tree.body:
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, ast.AnnAssign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
            return names
    return []


def _code_cells(path: Path) -> int:
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return sum(cell.get("cell_type") == "code" for cell in cells)


def _kernel_threads(jobs: int) -> dict[str, str]:
    """With several notebooks at once, each kernel's share of the cores: TensorFlow's
    intra-op threads and BLAS threads, unless the environment sets them already."""
    if jobs < 2:
        return {}
    share = str(max(1, (os.cpu_count() or 1) // jobs))
    names = ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "MKL_NUM_THREADS")
    return {name: share for name in names if name not in os.environ}


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlhelpers.runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser.add_argument("-j", "--jobs", type=int, default=1,
                        help="notebooks run at once, each kernel on its share of the cores "
                             "(default 1)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1. Received: --jobs {args.jobs}")
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
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    try:
        _require_notebook_tools()
    except ModuleNotFoundError as err:
        parser.error(str(err))
    if parameters:
        print("parameters: " + ", ".join(f"{k}={v!r}" for k, v in parameters.items()))
    for path in args.notebooks:
        unknown = [key for key in parameters if key not in notebook_parameters(path)]
        if unknown:
            print(f"warning: {path} has no parameter {', '.join(unknown)} in its cell tagged "
                  "`parameters`; injected all the same, but probably not used", file=sys.stderr)
    total = len(args.notebooks)
    threads = _kernel_threads(args.jobs)
    each = threads.get("TF_NUM_INTRAOP_THREADS", os.environ.get("TF_NUM_INTRAOP_THREADS"))
    print(f"running {total} notebook(s), profile {args.profile}, {args.jobs} at a time"
          + (f" ({each} thread(s) each)" if args.jobs > 1 and each else ""), flush=True)
    results: dict[Path, tuple[str, str]] = {}
    failures: list[str] = []

    with Progress() as progress:
        def run(path: Path) -> None:
            output = (args.output_dir / path.name) if args.output_dir else path
            name = path.stem
            progress.start(name, _code_cells(path))
            try:
                seconds = execute_notebook(
                    path, output, parameters, kernel_env=threads,
                    on_cell=lambda number, cells: progress.cell(name, number))
            except NotebookFailed as err:
                failures.append(str(err))
                results[path] = ("FAILED", "-")
            else:
                results[path] = ("ok", f"{seconds:.0f} s")
            status, seconds_text = results[path]
            progress.finish(name, f"[{len(results)}/{total}] {status:<6} {path} "
                                  f"({seconds_text})")

        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for future in [pool.submit(run, path) for path in args.notebooks]:
                future.result()
    width = max(len(str(p)) for p in args.notebooks)
    print(f"\n{'notebook':<{width}}  status  time")
    for path in args.notebooks:
        status, seconds_text = results[path]
        print(f"{str(path):<{width}}  {status:<6}  {seconds_text}")
    for failure in failures:
        print(f"\n{failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(_main())
