"""Downloads with checksums, the Keras weights cache, and clear errors when offline.

Keras downloads pretrained weights on first use into `$KERAS_HOME/models` (by default
`~/.keras/models`). Where the internet cannot be reached it fails with a bare
`Exception: URL fetch failure on <url>`. This module turns that into an error that
names the file, the URL, the cache path to put the file in, and the way out; it
verifies the checksums of everything the book downloads; and it seeds a project-owned
Keras cache from a read-only copy (`make keras-cache`).

Used by `tlhelpers.models.build_base` (weights) and `tlhelpers.data` (data sets, and
the clear error when Fashion-MNIST can be neither read nor downloaded).

Command line:
    python -m tlhelpers.downloads seed-keras-cache ../shared/keras-cache
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tlhelpers.config import cache_dir

__all__ = [
    "KNOWN_WEIGHTS",
    "DatasetUnavailableError",
    "DownloadError",
    "WeightsUnavailableError",
    "explain_download_failures",
    "fetch",
    "file_sha256",
    "failed_url",
    "keras_cache_folder",
    "keras_home",
    "seed_keras_cache",
    "verify_cached_weights",
]

# Weight files the book uses, by the name Keras gives them in `$KERAS_HOME/models`.
# The MobileNet hash is that of the 2017 original (Keras checks none for MobileNet v1);
# VGG16's is the md5 Keras itself checks.
KNOWN_WEIGHTS: dict[str, str] = {
    "mobilenet_2_5_224_tf_no_top.h5": (
        "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf"
    ),
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5": "6d6bbae143d832006294945121d1f1fc",
}

_URL_FAILURE = re.compile(r"URL fetch failure on (?P<url>\S+): ")


class DownloadError(RuntimeError):
    """A file could not be downloaded, or its checksum did not match."""


class WeightsUnavailableError(DownloadError):
    """Pretrained weights are neither in the Keras cache nor downloadable."""


class DatasetUnavailableError(DownloadError):
    """A data set is neither on this machine nor downloadable."""


def keras_home() -> Path:
    """Returns the Keras cache root: `$KERAS_HOME`, or `~/.keras` when it is unset."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def keras_cache_folder(cache_subdir: str) -> Path:
    """Returns the folder where `keras.utils.get_file(..., cache_subdir=...)` keeps files.

    As Keras decides it: its home, fixed when Keras is imported (`$KERAS_HOME`, else
    `~/.keras`, or `/tmp/.keras` where the home folder is not writable), or
    `/tmp/.keras` where that is not writable.

    Args:
        cache_subdir: the sub-folder, e.g. `"datasets/fashion-mnist"`.

    Returns:
        The folder (it may not exist yet).
    """
    try:  # deferred: Keras' own rule, read only when a message needs it
        from keras.src.backend.config import keras_home as keras_own_home
    except ImportError:  # another Keras layout: decide as Keras 3 documents it
        home = keras_home()
    else:
        home = Path(keras_own_home())
    home = home.expanduser()
    if not os.access(home, os.W_OK):
        home = Path("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()) / ".keras"
    return home / cache_subdir


def failed_url(err: BaseException) -> str | None:
    """Returns the URL of Keras' bare `URL fetch failure on <url>: ...` error, else `None`.

    Args:
        err: any exception.

    Returns:
        The URL that could not be fetched, or `None` for other errors.
    """
    match = _URL_FAILURE.search(str(err))
    return match.group("url") if match else None


def file_sha256(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Returns the hex digest of a file.

    Args:
        path: the file.
        algorithm: `"sha256"` (default) or `"md5"`.

    Returns:
        The digest, in lower-case hex.
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches(path: Path, expected: str) -> bool:
    algorithm = "sha256" if len(expected) == 64 else "md5"
    return file_sha256(path, algorithm) == expected.lower()


def _is_readable_hdf5(path: Path) -> bool:
    import h5py  # deferred: only when a cached file must be checked

    try:
        with h5py.File(path, "r") as handle:
            handle.visit(lambda name: None)  # walks the whole index: truncation shows here
        return True
    except (OSError, RuntimeError, ValueError):
        return False


def verify_cached_weights(fname: str) -> Path | None:
    """Checks a weights file in the Keras cache before Keras loads it.

    A file matching its known checksum is fine. Otherwise it must at least be a readable
    HDF5 file: a truncated or corrupt copy (an interrupted download, say) would make
    Keras fail deep inside h5py, so it is renamed to `<name>.corrupt` (kept for
    inspection) and Keras fetches it again. A readable file with another checksum is
    kept: publishers re-save weights, and Keras itself checks none for MobileNet.

    Args:
        fname: the file name in `$KERAS_HOME/models`, e.g.
            `"mobilenet_2_5_224_tf_no_top.h5"`.

    Returns:
        The path of the renamed corrupt copy, or `None` if the file is absent or usable.
    """
    path = keras_home() / "models" / fname
    if not path.is_file():
        return None
    expected = KNOWN_WEIGHTS.get(fname)
    if (expected is not None and _matches(path, expected)) or _is_readable_hdf5(path):
        return None
    corrupt = path.with_name(path.name + ".corrupt")
    path.replace(corrupt)
    print(
        f"The cached weights {path} are not a readable HDF5 file (a partial or corrupt "
        f"download); moved to {corrupt.name} and fetching them again.",
        file=sys.stderr,
    )
    return corrupt


def _remedy(url: str, target: Path, tiny_hint: bool) -> str:
    lines = [
        f"  file:  {url.rsplit('/', 1)[-1]}",
        f"  URL:   {url}",
        f"  cache: {target}",
        "To fix it: connect to the internet and run the cell again, or download the file "
        "on another machine and copy it to the cache path above"
        + (" (make keras-cache does this from a pre-seeded cache)." if tiny_hint else "."),
    ]
    if tiny_hint:
        lines.append(
            "Or use the offline profile: set PROFILE = 'tiny' in the notebook's parameters "
            "cell (MobileNet alpha=0.25, whose weights ship in the pre-seeded cache)."
        )
    return "\n".join(lines)


@contextlib.contextmanager
def explain_download_failures(what: str, subdir: str = "models") -> Iterator[None]:
    """Re-raises Keras' bare download failures as errors that say how to fix them.

    Args:
        what: what was being loaded, for the message (e.g. `"ImageNet weights of VGG16"`).
        subdir: the Keras cache sub-folder the file goes to (`"models"` for weights).

    Raises:
        WeightsUnavailableError: when Keras reports `URL fetch failure`.
    """
    try:
        yield
    except Exception as err:
        match = _URL_FAILURE.search(str(err))
        if match is None:
            raise
        url = match.group("url")
        target = keras_home() / subdir / url.rsplit("/", 1)[-1]
        raise WeightsUnavailableError(
            f"Could not load the {what}: they are not in the Keras cache and the download "
            f"failed ({err}).\n" + _remedy(url, target, tiny_hint=subdir == "models")
        ) from err


def fetch(url: str, sha256: str, fname: str | None = None, extract: bool = False) -> Path:
    """Downloads a file once into the cache, checks its SHA-256, and optionally extracts it.

    A cached copy whose checksum does not match (a partial download, say) is fetched
    again. An archive is extracted once, next to it, into `<name>_extracted/`, and
    extracted again when the archive there has another checksum than the one it was
    extracted from.

    Args:
        url: where the file is.
        sha256: its expected SHA-256, in hex.
        fname: the file name in the cache; defaults to the URL's last part.
        extract: whether to extract a `.tar`, `.tgz` or `.tar.gz` archive.

    Returns:
        The file's path, or the extraction folder's if `extract=True`.

    Raises:
        DownloadError: if the download fails or the checksum does not match.
    """
    import keras  # deferred: `make keras-cache` (this module's command) needs no Keras

    fname = fname or url.rsplit("/", 1)[-1]
    folder = cache_dir("downloads")
    target = folder / fname
    try:
        path = Path(
            keras.utils.get_file(
                fname=fname, origin=url, file_hash=sha256, cache_subdir=str(folder)
            )
        )
    except Exception as err:
        if "hash does not match" in str(err) or "corrupted" in str(err):
            raise DownloadError(
                f"The download of {url} does not match its SHA-256 {sha256}; the server "
                f"sent another file or the transfer broke. Delete {target} and try again."
            ) from err
        if _URL_FAILURE.search(str(err)) is None:
            raise
        raise DownloadError(
            f"Could not download {fname} ({err}).\n" + _remedy(url, target, tiny_hint=True)
        ) from err
    if not extract:
        return path
    out = folder / f"{fname.split('.')[0]}_extracted"
    if not _extracted_from(out, sha256):
        _extract(path, out, sha256)
    return out


def _extracted_from(folder: Path, sha256: str) -> bool:
    """Whether `folder` holds the whole of the archive with this checksum."""
    done = folder / ".complete"  # holds the checksum of the archive it was extracted from
    return done.is_file() and done.read_text().strip() == sha256


def _extract(archive_path: Path, out: Path, sha256: str) -> None:
    """Extracts an archive into a folder of a unique name beside `out`, then renames it
    to `out`: an interrupted extraction never leaves a half-filled `out`, and two
    processes extracting at once do not mix their files."""
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        with tarfile.open(archive_path) as archive:
            archive.extractall(staging, filter="data")
        (staging / ".complete").write_text(sha256)
        if out.exists():  # extracted from another archive: replaced, out of the way first
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            out.rename(old / out.name)
            shutil.rmtree(old, ignore_errors=True)
        try:
            staging.rename(out)
        except OSError:
            if not _extracted_from(out, sha256):  # not another process's complete copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def seed_keras_cache(source: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None
                     ) -> list[Path]:
    """Copies weight files from a read-only pre-seeded Keras cache into a writable one.

    Files with a known checksum are verified first; a mismatch is an error.

    Args:
        source: a folder laid out like a Keras cache (`<source>/models/<file>`).
        dest: the Keras cache to fill; defaults to `$KERAS_HOME` (or `~/.keras`).

    Returns:
        The paths of the files now in the destination's `models/` folder.

    Raises:
        DownloadError: if a known file's checksum does not match.
    """
    source_models = Path(source) / "models"
    dest_models = (Path(dest) if dest else keras_home()) / "models"
    dest_models.mkdir(parents=True, exist_ok=True)
    copied = []
    for src in sorted(source_models.glob("*")):
        if not src.is_file():
            continue
        expected = KNOWN_WEIGHTS.get(src.name)
        if expected is not None and not _matches(src, expected):
            raise DownloadError(
                f"The pre-seeded weights {src} do not match their known checksum {expected}. "
                "Replace the file with an intact copy (see the cache's NOTICE)."
            )
        target = dest_models / src.name
        if not (target.is_file() and (expected is None or _matches(target, expected))):
            shutil.copyfile(src, target)
        copied.append(target)
    return copied


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlhelpers.downloads")
    commands = parser.add_subparsers(dest="command", required=True)
    seed = commands.add_parser("seed-keras-cache", help=seed_keras_cache.__doc__.splitlines()[0])
    seed.add_argument("source", help="a pre-seeded Keras cache, e.g. ../shared/keras-cache")
    args = parser.parse_args(argv)
    if not (Path(args.source) / "models").is_dir():
        print(
            f"No pre-seeded Keras cache at {args.source} (no models/ folder): Keras will "
            "download ImageNet weights on first use, which needs the internet.",
        )
        return 0
    for path in seed_keras_cache(args.source):
        print(f"Keras cache: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
