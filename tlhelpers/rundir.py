"""The folder a run of the train command writes, kept safe for the files around it.

A run folder carries a marker, `tl-run.json`, that the command writes when it starts a
run; it lists every file and folder the run has written. So:

- the command refuses a folder that is not empty and has no marker (someone's files),
  naming the folder and the fix, and writes nothing there;
- it never writes over, nor deletes, a file it did not write: `--restart` deletes the
  files the marker lists, and nothing else;
- every file is written under a unique temporary name beside its place and then
  renamed, so an interruption never leaves half a file;
- paths are compared resolved: `./photos` and `photos` are the same folder.

`tlhelpers.train` writes these files, `tlhelpers.predict` and `tlhelpers.export` read
them; all take the names from here, so that no command imports another.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "CLASS_NAMES_FILE",
    "CONFIG_FILE",
    "EVALUATION_FILE",
    "HISTORY_CSV",
    "HISTORY_FILE",
    "MARKER",
    "MODEL_CARD",
    "MODEL_FILE",
    "REPORT_FILE",
    "STAGE1_MODEL",
    "RunDirError",
    "RunFolder",
    "new_file_mode",
    "resolved",
    "write_atomically",
]

MARKER = "tl-run.json"
CONFIG_FILE = "config.json"
CLASS_NAMES_FILE = "class_names.json"
STAGE1_MODEL = "stage1.keras"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
HISTORY_CSV = "history.csv"
EVALUATION_FILE = "evaluation.json"
REPORT_FILE = "report.html"
MODEL_CARD = "MODEL_CARD.md"
# Files of the operating system that do not make a folder someone's (never touched).
_SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def new_file_mode() -> int:
    """The permissions `open(path, "w")` gives a new file: 0o666 less the umask.

    A file staged by `tempfile` is readable by its owner alone (0o600); an atomic write
    sets this mode before the rename, so a report or a config can be shared or served
    like any other file the user writes.

    Returns:
        The mode, e.g. 0o644 under the usual umask 022.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomically(path: str | os.PathLike[str], content: bytes) -> Path:
    """Writes a file under a unique temporary name beside it, then renames it into place:
    a reader never sees it half-written, and a failure leaves any earlier file as it was.
    The file gets the permissions of any new file (`new_file_mode`).

    Args:
        path: the file to write.
        content: its bytes.

    Returns:
        `path`, as a `Path`.
    """
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",
                                     suffix=".partial", delete=False) as staged:
        staged.write(content)
    os.chmod(staged.name, new_file_mode())  # a temporary file is private (0600)
    os.replace(staged.name, path)
    return path


class RunDirError(ValueError):
    """RUN_DIR cannot be used for this run; the message says why and what to do."""


def resolved(path: str | os.PathLike[str]) -> Path:
    """A path with `~` expanded and made absolute, links resolved: the form in which two
    spellings of one folder (`./photos`, `photos`, `~/photos`) compare equal."""
    return Path(path).expanduser().resolve()


class RunFolder:
    """A run's folder: what the run wrote there, and safe ways to write more.

    Open one with `RunFolder.open(path)`; write with `write_text`, `write_json`,
    `write_bytes` or `save_model`, each atomic and recorded in the marker.

    Args:
        path: the folder.
        written: the names of the files and folders the run has written there.
    """

    def __init__(self, path: Path, written: list[str]):
        self.path = path
        self.written = written

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunFolder:
        """Opens a folder for a run: a new or empty one (then marked), or one the command
        marked before.

        Args:
            path: the folder (created, with its parents, when the first file is written).

        Returns:
            The `RunFolder`.

        Raises:
            RunDirError: the path is a file; the folder holds files and no marker
                (nothing is written there); or its marker cannot be read.
        """
        path = Path(path).expanduser()
        if path.exists() and not path.is_dir():
            raise RunDirError(f"RUN_DIR {path} is a file, not a folder. Give the run a folder "
                              "of its own (it is created if needed).")
        marker = path / MARKER
        if marker.is_file():
            try:
                content = json.loads(marker.read_text(encoding="utf-8"))
                written = [str(name) for name in content["written"]]
            except (ValueError, KeyError, TypeError, OSError) as err:
                raise RunDirError(
                    f"{marker} cannot be read ({err}), so it is unknown which files of "
                    f"{path} the command wrote. Choose a new RUN_DIR; or, if you know the "
                    "folder holds only an earlier run, delete it yourself.") from None
            return cls(path, written)
        others = sorted(p.name for p in path.iterdir()
                        if p.name not in _SYSTEM_FILES) if path.is_dir() else []
        if others:
            listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more"
                                              if len(others) > 5 else "")
            raise RunDirError(
                f"RUN_DIR {path} is not empty and is not the folder of an earlier run (it has "
                f"no {MARKER}): it holds {listed}. Nothing was written there. Choose a new "
                "or empty folder for the run, e.g. a sub-folder of it.")
        # created, and marked, with the first file written: a run that stops before it
        # writes anything (a messy image folder) leaves no folder behind
        return cls(path, [])

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def owns(self, name: str) -> bool:
        """Whether the run wrote `name` (a file or folder directly in the run's folder)."""
        return name in self.written

    def is_run(self) -> bool:
        """Whether an earlier run left settings here (`config.json`)."""
        return self.owns(CONFIG_FILE) and (self.path / CONFIG_FILE).is_file()

    def _save_marker(self) -> None:
        content = {"written_by": "tlhelpers.train (tl-train)",
                   "about": "every file and folder listed here was written by the train "
                            "command; --restart deletes these, and nothing else",
                   "written": sorted(set(self.written))}
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path / MARKER,
                         (json.dumps(content, indent=1, ensure_ascii=False) + "\n")
                         .encode("utf-8"))

    def _claim(self, name: str) -> Path:
        """The path of `name`, once it is sure that writing there overwrites no file the
        run did not write; records it in the marker before anything is written."""
        if Path(name).name != name or name in ("", ".", "..", MARKER):
            raise ValueError(f"A run writes files directly in its folder. Received: {name!r}.")
        target = self.path / name
        if (target.exists() or target.is_symlink()) and not self.owns(name):
            raise RunDirError(
                f"{target} exists and was not written by this run: it is left as it is. "
                "Move it away, or choose a new RUN_DIR.")
        if not self.owns(name):
            self.written.append(name)
            self._save_marker()
        return target

    def write_bytes(self, name: str, content: bytes) -> Path:
        """Writes a file atomically (a unique temporary name, then a rename).

        Raises:
            RunDirError: a file of that name exists that the run did not write.
        """
        return write_atomically(self._claim(name), content)

    def write_text(self, name: str, text: str) -> Path:
        """`write_bytes` of UTF-8 text."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_json(self, name: str, content) -> Path:
        """`write_text` of JSON, indented, non-ASCII kept as it is."""
        return self.write_text(name, json.dumps(content, indent=1, ensure_ascii=False) + "\n")

    def read_json(self, name: str):
        """Reads a JSON file the run wrote."""
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def save_model(self, name: str, model) -> Path:
        """Saves a Keras model atomically, without its optimizer's state.

        A run never trains a saved model on with its optimizer (stage 2 compiles a new
        one), and Adam's two moment estimates per weight would triple the file; so an
        uncompiled model over the same layers is saved.
        """
        import keras  # deferred: the commands' --help stays instant

        target = self._claim(name)
        staged = self.path / f".{Path(name).stem}.{os.getpid()}.partial.keras"
        try:
            inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
            outputs = model.outputs[0] if len(model.outputs) == 1 else model.outputs
            keras.Model(inputs, outputs, name=model.name).save(staged)
            os.replace(staged, target)
        finally:
            staged.unlink(missing_ok=True)
        return target

    def folder(self, name: str) -> Path:
        """A sub-folder the run owns (e.g. for Keras' `BackupAndRestore`), created.

        Raises:
            RunDirError: a file or folder of that name exists that the run did not write.
        """
        target = self._claim(name)
        target.mkdir(exist_ok=True)
        return target

    def remove(self, name: str) -> None:
        """Deletes a file or folder the run wrote (a no-op for anything else)."""
        if not self.owns(name):
            return
        target = self.path / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        self.written.remove(name)
        self._save_marker()

    def clear(self) -> list[str]:
        """Deletes every file and folder the run wrote, and nothing else (`--restart`).

        Returns:
            The names deleted.
        """
        names = [name for name in list(self.written) if (self.path / name).exists()]
        for name in list(self.written):
            self.remove(name)
        return names

    def files(self) -> Iterator[str]:
        """The names the run wrote that are there now."""
        return (name for name in sorted(self.written) if (self.path / name).exists())
