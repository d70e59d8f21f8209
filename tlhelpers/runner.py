"""Executes the book's notebooks by profile, and prints a summary.

    python -m tlhelpers.runner notebooks/*.ipynb                # tiny profile, in place
    python -m tlhelpers.runner --profile full --output-dir out notebooks/01_nine_steps.ipynb

With the default profile the executed notebooks replace the originals (their outputs
are what the book shows and what `pytest --nbval` compares against); with another
profile they go to `--output-dir`. A notebook is written only when it ran to the end:
a failing one leaves the original untouched, is reported with its cell and error, and
its partial outputs go to `<name>.failed.ipynb` beside it.

Used by `make book`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["NotebookFailed", "execute_notebook", "strip_volatile_metadata"]

DEFAULT_PROFILE = "tiny"


class NotebookFailed(RuntimeError):
    """A notebook stopped at a cell; the message names the notebook, the cell and the error."""


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


def _failing_cell(nb) -> tuple[int, int | None]:
    """The position and execution count of the first error not tagged `raises-exception`."""
    for index, cell in enumerate(nb.cells):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return index, cell.get("execution_count")
    return -1, None


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

    Raises:
        NotebookFailed: naming the notebook, the cell and the error; `output` is not
            written, the outputs up to the failure go to `<name>.failed.ipynb`.
    """
    import nbclient
    import nbformat
    from papermill.parameterize import parameterize_notebook

    path, output = Path(path), Path(output)
    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    if parameters:
        nb.metadata.setdefault("papermill", {})  # papermill records the parameters there
        for cell in nb.cells:  # papermill reads every cell's tags
            cell.metadata.setdefault("tags", [])
        nb = parameterize_notebook(nb, parameters)
        for cell in nb.cells:
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(path.parent.resolve())}},
        extra_arguments=["--IPKernelApp.capture_fd_output=False"],
    )
    try:
        client.execute()
    except Exception as err:
        index, count = _failing_cell(nb)
        where = f"cell {index + 1} (execution count [{count}])" if index >= 0 else "a cell"
        ename = getattr(err, "ename", type(err).__name__)
        evalue = getattr(err, "evalue", str(err))
        failed = output.with_name(f"{output.stem}.failed.ipynb")
        nbformat.write(nb, failed)
        raise NotebookFailed(
            f"{path}: {where} raised {ename}: {evalue}\n"
            f"Outputs up to the failing cell: {failed}"
        ) from err
    strip_volatile_metadata(nb)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=output.parent, suffix=".partial",
                                     delete=False) as staged:
        nbformat.write(nb, staged)
    Path(staged.name).chmod(0o644)
    Path(staged.name).replace(output)  # atomic: never a half-written notebook at `output`
    return time.perf_counter() - start


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlhelpers.runner", description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="the PROFILE parameter (default: tiny, written in place)")
    parser.add_argument("--output-dir", type=Path,
                        help="where executed notebooks go (required unless --profile tiny)")
    args = parser.parse_args(argv)
    if args.profile != DEFAULT_PROFILE and args.output_dir is None:
        parser.error("--output-dir is required with a non-default --profile, so that the "
                     "stored tiny-profile outputs stay as they are")
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    parameters = {} if args.profile == DEFAULT_PROFILE else {"PROFILE": args.profile}
    rows, failures = [], []
    for i, path in enumerate(args.notebooks, 1):
        output = (args.output_dir / path.name) if args.output_dir else path
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
