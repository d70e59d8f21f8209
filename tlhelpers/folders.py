"""Index and check an image folder, reporting every problem at once.

An image folder is laid out in one of two ways:

- split: `<root>/<split>/<class>/<image>`. Split folders are recognised by name, in
  any case: `train` or `training`; `val`, `valid` or `validation`; `test` or
  `testing`. A missing validation or test split is carved out of the train folder
  (stratified by class, seeded); the train folder itself is required.
- unsplit: `<root>/<class>/<image>`, split here into train, validation and test the
  same way.

`index_image_folder` walks the whole folder and decodes every image before any
pipeline is built. It does not stop at the first problem: it collects them all
(images where class folders belong, empty classes, files that are not images,
unsupported formats, corrupt or tiny images, ...) and raises one `ImageFolderError`
that lists them by kind, each kind with its files and its fix, so a messy folder is
cleaned in one pass. The same problems are on the error as data (`err.problems`).
It also compares the images' contents: an image whose identical copy (same bytes for
JPEG, same pixels for the lossless formats; any file name) sits in another split is a
leak from training into evaluation. Copies that the carving of a split would pull apart
are kept in train instead, and the report says how many; copies in split folders of
your own are reported with both paths.
Only what makes every further check meaningless stops at once: a root that does not
exist or is a file, and split folders that do not form a layout.

Used by `tlhelpers.data`, which turns the checked index into `tf.data` pipelines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tlhelpers.display import pad, progress_bar, text_width

__all__ = [
    "PROBLEM_KINDS",
    "SPLITS",
    "SPLIT_FOLDER_NAMES",
    "FolderProblem",
    "ImageFolderError",
    "ImageIndex",
    "index_image_folder",
]

# What tf.io.decode_image reads, by extension and by the format Pillow finds inside.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SUPPORTED_FORMATS = {"PNG", "JPEG", "MPO", "BMP", "GIF", "WEBP"}
UNSUPPORTED_IMAGE_EXTENSIONS = (
    ".tif", ".tiff", ".heic", ".heif", ".avif", ".svg", ".ico", ".psd", ".jp2", ".ppm", ".pgm",
)
SYSTEM_FILES = {"Thumbs.db", "desktop.ini"}
# How the loader (tf.io.decode_image with channels=3) turns each Pillow mode into RGB.
MODE_CONVERSIONS = {
    "L": "greyscale images: the grey value is copied to R, G and B.",
    "LA": "greyscale images with alpha: grey copied to R, G, B; alpha dropped.",
    "P": "palette images: the palette colours are used.",
    "PA": "palette images with alpha: the palette colours are used; alpha dropped.",
    "RGBA": "RGBA images: the alpha channel is dropped (transparent pixels keep their colour).",
    "CMYK": "CMYK JPEG images: converted to RGB by the JPEG decoder.",
    "I;16": "16-bit images: scaled to 8 bits (value / 257).",
    "I;16B": "16-bit images: scaled to 8 bits (value / 257).",
    "I": "32-bit integer images: scaled to 8 bits.",
    "1": "1-bit images: black and white become 0 and 255.",
}
PROGRESS_THRESHOLD = 2000  # images; a progress bar shows while larger folders are checked
SPLITS = ("train", "val", "test")
# Folder names (compared in lower case) that mark a split, and the split each one is.
SPLIT_FOLDER_NAMES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}
MAX_LISTED = 20  # paths listed per kind of problem in a message; the rest are counted
MAX_SIZES_LISTED = 6  # image sizes listed one by one in a report; more are summarised
# Every kind of problem, in the order a message lists them. The first two and the three
# about split folders stop the check at once; the others are collected.
PROBLEM_KINDS = (
    "missing_folder",
    "not_a_folder",
    "split_beside_other_folders",
    "duplicate_split",
    "split_without_train",
    "images_at_top",
    "broken_link",
    "no_class_folders",
    "single_class",
    "classes_differ",
    "empty_class",
    "not_an_image",
    "unsupported_extension",
    "unsupported_content",
    "corrupt_image",
    "too_small",
    "duplicate_across_splits",
    "empty_after_split",
)


@dataclasses.dataclass(frozen=True)
class FolderProblem:
    """One kind of problem in an image folder, with every file or folder that has it.

    Args:
        kind: the kind, one of `PROBLEM_KINDS` (e.g. `"corrupt_image"`).
        summary: what is wrong, in words.
        paths: the files or folders that have the problem, in the order found.
        details: one note per path (e.g. `"4x30"`, `"really TIFF"`, the decoder's
            complaint), `""` where there is nothing to add.
        fix: what to do about it.
    """

    kind: str
    summary: str
    paths: tuple[Path, ...]
    details: tuple[str, ...]
    fix: str

    def lines(self) -> list[str]:
        """Returns one line per path: the path, then its note in brackets if it has one."""
        return [f"{path} ({note})" if note else str(path)
                for path, note in zip(self.paths, self.details, strict=True)]

    def describe(self, limit: int = MAX_LISTED) -> str:
        """Returns the summary, up to `limit` paths (then how many more), and the fix."""
        lines = self.lines()
        listing = "".join(f"\n     {line}" for line in lines[:limit])
        if len(lines) > limit:
            listing += f"\n     ... and {len(lines) - limit} more"
        return f"{self.summary}:{listing}\n   Fix: {self.fix}"


class ImageFolderError(ValueError):
    """An image folder cannot be used as it is; the message says what to change.

    Args:
        message: the message.
        problems: the problems behind it, one `FolderProblem` per kind.

    Attributes:
        problems: the `FolderProblem`s, in the order of the message.
    """

    def __init__(self, message: str, problems: Sequence[FolderProblem] = ()):
        super().__init__(message)
        self.problems: list[FolderProblem] = list(problems)

    @classmethod
    def from_problems(cls, root: Path, problems: Sequence[FolderProblem],
                      limit: int = MAX_LISTED) -> ImageFolderError:
        """Builds the one error that lists every problem of a folder, numbered, by kind.

        Args:
            root: the image folder.
            problems: its problems, one `FolderProblem` per kind.
            limit: paths listed per kind (default `MAX_LISTED`); the rest are counted.

        Returns:
            The error (to raise).
        """
        count = sum(len(problem.paths) for problem in problems)
        if count == 1:
            found, fix = "1 problem", "Fix it"
        elif len(problems) == 1:
            found, fix = f"{count} problems", "Fix them all"
        else:
            found, fix = f"{count} problems of {len(problems)} kinds", "Fix them all"
        head = (f"The image folder {root} has {found}; nothing was loaded. {fix}, then load "
                "it again:")
        blocks = [f"{i}. {problem.describe(limit)}" for i, problem in enumerate(problems, 1)]
        return cls("\n\n".join([head, *blocks]), problems)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _summary_and_fix(kind: str, paths: tuple[Path, ...], min_side: int) -> tuple[str, str]:
    extensions = ", ".join(IMAGE_EXTENSIONS)
    names = [path.name for path in paths]
    if kind == "split_beside_other_folders":
        return ("Folders beside split folders (train/, val/, test/ or their other names): a "
                "folder holds either split folders or class folders, not both",
                "Move each class folder into the split folders (train/<class>/, and val/<class>/ "
                "and test/<class>/ where you have them), or rename the split-named folders if "
                "they are classes.")
    if kind == "duplicate_split":
        return ("Two folders for one split (train/ or training/; val/, valid/ or validation/; "
                "test/ or testing/; in any case)",
                "Keep one folder per split: merge the others into it, or move them away.")
    if kind == "split_without_train":
        return ("Split folders without a train/ (or training/) folder",
                "Add a train/ folder with one sub-folder per class; a missing val/ or test/ is "
                "carved out of it.")
    if kind == "images_at_top":
        return ("Images at the top of a folder that should hold class folders (one per class, "
                "images inside)", "Move each image into the folder of its class.")
    if kind == "broken_link":
        return "Broken symbolic links", "Fix the links or delete them."
    if kind == "no_class_folders":
        if len(paths) == 1:
            return ("Folders with no class folders",
                    f"Lay out the images as {paths[0]}/<class>/<image>.")
        return ("Folders with no class folders",
                f"Lay out the images as <folder>/<class>/<image>, e.g. {paths[0]}/<class>/<image>.")
    if kind == "single_class":
        return (f"A single class folder ({_quoted(names)}); a classifier needs at least two",
                "Add a folder for every class.")
    if kind == "classes_differ":
        return ("Split folders whose class folders differ from those of the train split",
                "Every split needs the same class folders.")
    if kind == "empty_class":
        which = f"class {_quoted(names)}" if len(names) == 1 else f"classes {_quoted(names)}"
        return ("Class folders without a usable image",
                f"Add images of {which}, or delete the folder if the class is not wanted.")
    if kind == "not_an_image":
        return (f"Files that are not images ({extensions})",
                "Move or delete them, or pass `skip_non_images=True` to leave them out (they "
                "are then listed in the report).")
    if kind == "unsupported_extension":
        return (f"Images in a format TensorFlow cannot decode (supported: {extensions})",
                "Convert them, e.g. `PIL.Image.open(path).convert('RGB').save(new_path)` with "
                "a .png name, and delete the originals.")
    if kind == "unsupported_content":
        return ("Files that have an image name but hold a format TensorFlow cannot decode",
                "Convert them to PNG or JPEG (e.g. with Pillow) under the right extension.")
    if kind == "corrupt_image":
        return "Images that cannot be decoded (corrupt or truncated)", "Delete or replace them."
    if kind == "too_small":
        return (f"Images smaller than {min_side} pixels on a side, too small to show anything "
                "after resizing",
                "Delete them, or pass a smaller `min_side` if they are meant to be that small.")
    if kind == "duplicate_across_splits":
        return ("Identical images in two splits (same content, whatever the file names): the "
                "model would be evaluated on images it was trained on",
                "Keep each image in one split only: delete the copy in the later split (val/ "
                "or test/), the first path of each line.")
    if kind == "empty_after_split":
        return ("Classes with too few images to split: a split gets none of them",
                "Add images to those classes, or split the folder yourself into train/, val/ "
                "and test/.")
    raise AssertionError(f"unknown kind of problem: {kind!r}")


class _Findings:
    """The problems found so far, by kind."""

    def __init__(self, root: Path, min_side: int):
        self.root = root
        self.min_side = min_side
        self._found: dict[str, list[tuple[Path, str]]] = {}

    def add(self, kind: str, path: Path, detail: str = "") -> None:
        self._found.setdefault(kind, []).append((path, detail))

    def add_all(self, kind: str, paths: Iterable[Path]) -> None:
        for path in paths:
            self.add(kind, path)

    def __bool__(self) -> bool:
        return bool(self._found)

    def error(self) -> ImageFolderError:
        problems = []
        for kind in PROBLEM_KINDS:
            if kind in self._found:
                paths = tuple(path for path, _ in self._found[kind])
                details = tuple(detail for _, detail in self._found[kind])
                summary, fix = _summary_and_fix(kind, paths, self.min_side)
                problems.append(FolderProblem(kind, summary, paths, details, fix))
        return ImageFolderError.from_problems(self.root, problems)


@dataclasses.dataclass(frozen=True)
class ImageIndex:
    """The checked contents of an image folder.

    Args:
        root: the folder.
        class_names: the class folder names, sorted; a label is an index into it.
        files: for each split, the image paths, sorted.
        labels: for each split, the labels, aligned with `files`.
        modes: how many images of each PIL mode (`"L"`, `"RGB"`, ...) the folder holds.
        sizes: how many images of each `(width, height)`.
        formats: how many images of each format (`"PNG"`, `"JPEG"`, ...).
        skipped: files left out: hidden and system files, and non-images when
            `skip_non_images=True`.
        split_sources: for each split, where its images come from, in words: `"from
            val/"` for a split folder taken as it is, `"carved from train/ (15% of each
            class, seed 0)"` for a split carved out of another.
        kept_in_train: images that the carving would have put into val or test although
            an identical copy of each is in another split; they were kept in train.
    """

    root: Path
    class_names: list[str]
    files: dict[str, list[Path]]
    labels: dict[str, np.ndarray]
    modes: dict[str, int]
    sizes: dict[tuple[int, int], int]
    formats: dict[str, int]
    skipped: list[Path] = dataclasses.field(default_factory=list)
    split_sources: dict[str, str] = dataclasses.field(default_factory=dict)
    kept_in_train: list[Path] = dataclasses.field(default_factory=list)

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.class_names)

    def counts(self, split: str) -> list[int]:
        """Images per class in one split, in the order of `class_names`."""
        return np.bincount(self.labels[split], minlength=self.num_classes).tolist()

    def report(self) -> str:
        """A short table of images per class and split, where each split comes from (when
        not from its own folder), then sizes, formats and modes."""
        splits = list(self.files)
        # widths in columns: a Chinese, Japanese or Korean letter takes two
        width = max(text_width(name) for name in [*self.class_names, "class", "total"])
        lines = ["  ".join([pad("class", width), *(f"{s:>6}" for s in splits)])]
        per_split = {split: self.counts(split) for split in splits}
        for i, name in enumerate(self.class_names):
            cells = (f"{per_split[s][i]:>6}" for s in splits)
            lines.append("  ".join([pad(name, width), *cells]))
        totals = (f"{len(self.files[s]):>6}" for s in splits)
        lines.append("  ".join([pad("total", width), *totals]))
        for split in splits:
            source = self.split_sources.get(split, f"from {split}/")
            if source != f"from {split}/":
                lines.append(f"{split}: {source}")
        if self.kept_in_train:
            lines.append(f"{_plural(len(self.kept_in_train), 'image')} with an identical copy "
                         "kept in train, so that no image is in two splits")
        sizes = _describe_sizes(self.sizes)
        formats = ", ".join(f"{k}: {n}" for k, n in sorted(self.formats.items()))
        modes = ", ".join(f"{k}: {n}" for k, n in sorted(self.modes.items()))
        lines.append(f"sizes (w x h): {sizes}")
        lines.append(f"formats: {formats}; colour modes: {modes}")
        for mode, count in sorted(self.modes.items()):
            if mode in MODE_CONVERSIONS:
                lines.append(f"{count} {MODE_CONVERSIONS[mode]}")
        if self.skipped:
            names = ", ".join(str(p.relative_to(self.root)) for p in self.skipped[:5])
            more = f" and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            lines.append(f"left out: {len(self.skipped)} file(s): {names}{more}")
        return "\n".join(lines)


def _describe_sizes(sizes: dict[tuple[int, int], int]) -> str:
    """Each size with its count; beyond `MAX_SIZES_LISTED` sizes (a folder of photos), their
    range and the most common ones instead."""
    if len(sizes) <= MAX_SIZES_LISTED:
        return ", ".join(f"{w}x{h}: {n}" for (w, h), n in sorted(sizes.items()))
    widths, heights = [w for w, _ in sizes], [h for _, h in sizes]
    text = (f"{len(sizes)} different, {min(widths)} to {max(widths)} wide, {min(heights)} to "
            f"{max(heights)} high")
    common = [(size, n) for size, n in sorted(sizes.items(), key=lambda item: (-item[1],
                                                                              item[0])) if n > 1]
    if common:
        text += "; most common: " + ", ".join(f"{w}x{h}: {n}" for (w, h), n in common[:3])
    return text


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name in SYSTEM_FILES


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _is_broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _split_folders(root: Path, findings: _Findings) -> dict[str, Path]:
    """The split folders at the top of `root` by split, in `SPLITS` order; `{}` when there
    are none (an unsplit folder) or when they do not form a layout (then in `findings`)."""
    folders = [p for p in sorted(root.iterdir()) if not _is_hidden(p) and p.is_dir()]
    split_of = {p: SPLIT_FOLDER_NAMES.get(p.name.lower()) for p in folders}
    named = [p for p in folders if split_of[p]]
    if not named:
        return {}
    if len(named) < len(folders):
        for path in folders:
            note = f"the {split_of[path]} split" if split_of[path] else "not a split name"
            findings.add("split_beside_other_folders", path, note)
    by_split: dict[str, list[Path]] = {}
    for path in named:
        by_split.setdefault(split_of[path], []).append(path)
    for split, paths in by_split.items():
        if len(paths) > 1:
            for path in paths:
                findings.add("duplicate_split", path, f"the {split} split")
    if "train" not in by_split:
        for path in named:
            findings.add("split_without_train", path, f"the {split_of[path]} split")
    if findings:
        return {}
    return {split: by_split[split][0] for split in SPLITS if split in by_split}


def _walk_files(class_dir: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Files below a class folder, following symbolic links once (no loops)."""
    files, hidden, broken = [], [], []
    seen = set()
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link back up the tree
            dirnames[:] = []
            continue
        seen.add(real)
        here = Path(dirpath)
        hidden += [here / d for d in dirnames if _is_hidden(Path(d))]
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(Path(d)))
        for name in filenames:
            path = here / name
            if _is_hidden(path):
                hidden.append(path)
            elif not path.exists():
                broken.append(path)
            else:
                files.append(path)
    return sorted(files), hidden, broken


def _index_split(folder: Path, findings: _Findings, skip_non_images: bool,
                 skipped: list[Path]) -> dict[str, list[Path]]:
    """The image files of each class folder of `folder` (classes sorted), recording what
    is wrong in `findings` and what is left out in `skipped`."""
    entries = sorted(folder.iterdir())
    skipped.extend(p for p in entries if _is_hidden(p))
    entries = [p for p in entries if not _is_hidden(p)]
    stray = [p for p in entries if p.is_file() and _is_image_name(p)]
    findings.add_all("images_at_top", stray)
    findings.add_all("broken_link", [p for p in entries if _is_broken_link(p)])
    # other files beside the class folders (a LICENSE.txt) are left out and reported
    skipped.extend(p for p in entries if p.is_file() and not _is_image_name(p))
    classes = [p for p in entries if p.is_dir()]
    if not classes:
        findings.add("no_class_folders", folder)
        return {}
    found: dict[str, list[Path]] = {}
    for class_dir in classes:
        files, hidden, broken = _walk_files(class_dir)
        skipped.extend(hidden)
        findings.add_all("broken_link", broken)
        findings.add_all("unsupported_extension", [
            p for p in files if p.suffix.lower() in UNSUPPORTED_IMAGE_EXTENSIONS])
        others = [p for p in files if not _is_image_name(p)
                  and p.suffix.lower() not in UNSUPPORTED_IMAGE_EXTENSIONS]
        if skip_non_images:
            skipped.extend(others)
        else:
            findings.add_all("not_an_image", others)
        found[class_dir.name] = [p for p in files if _is_image_name(p)]
    return found


def _inspect_images(paths: list[Path], min_side: int, findings: _Findings
                    ) -> tuple[Counter, Counter, Counter, set[Path], dict[Path, str]]:
    """Decodes every image in full; returns the counts of modes, sizes and formats of the
    usable ones, the unusable ones (recorded in `findings`), and a digest of the content
    of each usable one (of its bytes for JPEG, which is decoded at 1/8 scale here; of its
    mode, size and pixels otherwise)."""
    modes: Counter = Counter()
    sizes: Counter = Counter()
    formats: Counter = Counter()
    unusable: set[Path] = set()
    digests: dict[Path, str] = {}
    progress = progress_bar(enabled=len(paths) > PROGRESS_THRESHOLD, total=len(paths),
                            desc="checking images", unit="img")
    for path in paths:
        try:
            with Image.open(path) as image:
                size, mode, kind = image.size, image.mode, image.format
                if kind == "JPEG":  # decode at 1/8 scale: still reads every byte, 10x faster
                    image.draft(mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
                image.load()
                if kind in ("JPEG", "MPO"):
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    digest = hashlib.sha256(f"{mode} {size}".encode() + image.tobytes()
                                            ).hexdigest()
            if kind not in SUPPORTED_FORMATS:
                findings.add("unsupported_content", path, f"really {kind}")
                unusable.add(path)
            elif min(size) < min_side:
                findings.add("too_small", path, f"{size[0]}x{size[1]}")
                unusable.add(path)
            else:
                modes[mode] += 1
                sizes[size] += 1
                formats[kind] += 1
                digests[path] = digest
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                Image.DecompressionBombError) as err:
            complaint = str(err).replace(f" {str(path)!r}", "")  # the path is listed already
            findings.add("corrupt_image", path, f"{type(err).__name__}: {complaint}")
            unusable.add(path)
        progress.update()
    progress.close()
    return modes, sizes, formats, unusable, digests


def _copies_across_splits(files: dict[str, list[Path]], labels: dict[str, np.ndarray],
                          digests: dict[Path, str], carved: list[str],
                          findings: _Findings) -> list[Path]:
    """Keeps identical images out of two splits.

    A carved split's image whose identical copy is in another split goes back to train
    (`files` and `labels` are updated); the moved images are returned. Copies still in
    two splits after that (split folders of the user's own) are recorded in `findings`,
    the copy in the later split first, then the one it repeats.
    """
    def groups() -> dict[str, list[tuple[str, Path]]]:
        found: dict[str, list[tuple[str, Path]]] = {}
        for split in SPLITS:
            for path in files[split]:
                found.setdefault(digests[path], []).append((split, path))
        return {d: members for d, members in found.items()
                if len({split for split, _ in members}) > 1}

    moved: list[Path] = []
    for members in groups().values():
        moved += [path for split, path in members if split in carved]
    if moved:
        gone = set(moved)
        for split in carved:
            keep = [i for i, path in enumerate(files[split]) if path not in gone]
            back = [i for i, path in enumerate(files[split]) if path in gone]
            pairs = list(zip(files["train"], labels["train"].tolist(), strict=True))
            pairs += [(files[split][i], int(labels[split][i])) for i in back]
            pairs.sort(key=lambda pair: str(pair[0]))
            files["train"] = [path for path, _ in pairs]
            labels["train"] = np.array([label for _, label in pairs], dtype=np.int64)
            files[split] = [files[split][i] for i in keep]
            labels[split] = labels[split][keep]
    for members in groups().values():
        first_split, first = members[0]
        for split, path in members[1:]:
            if split != first_split:
                findings.add("duplicate_across_splits", path, f"same image as {first}")
    return sorted(moved)


def _empty_classes(found: dict[str, dict[str, list[Path]]], parents: dict[str, Path],
                   unusable: set[Path], findings: _Findings) -> set[tuple[str, str]]:
    """Records the class folders without a usable image; returns their `(split, class)`."""
    empty = set()
    for split, classes in found.items():
        for name, paths in classes.items():
            if all(path in unusable for path in paths):
                note = f"none of its {_plural(len(paths), 'image')} can be used" if paths else ""
                findings.add("empty_class", parents[split] / name, note)
                empty.add((split, name))
    return empty


def _check_carving(class_dir: Path, label: int, labels: dict[str, np.ndarray],
                   findings: _Findings) -> None:
    """Records a class that a split, carved or carved from, gets no image of."""
    total = sum(int(np.sum(split_labels == label)) for split_labels in labels.values())
    short = [split for split, split_labels in labels.items() if not np.any(split_labels == label)]
    if short:
        findings.add("empty_after_split", class_dir,
                     f"{_plural(total, 'image')}, none for {' or '.join(short)}")


def _check_fractions(carved: list[str], val_fraction: float, test_fraction: float) -> None:
    shares = [{"val": val_fraction, "test": test_fraction}[split] for split in carved]
    if not (all(0 < share < 1 for share in shares) and sum(shares) < 1):
        raise ValueError(
            "Split fractions must be in (0, 1) and sum to less than 1. Received: "
            f"`val_fraction={val_fraction}`, `test_fraction={test_fraction}`."
        )


def _stratified_split(files: list[Path], labels: np.ndarray, seed: int,
                      fractions: dict[str, float]
                      ) -> tuple[dict[str, list[Path]], dict[str, np.ndarray]]:
    """Carves `fractions[split]` of each class out of `files` for each split named there;
    the rest stays in `"train"`. Validation is drawn first, then test."""
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[int]] = {"train": [], **{split: [] for split in fractions}}
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for split in SPLITS[1:]:
            if split in fractions:
                count = int(round(len(idx) * fractions[split]))
                chosen[split].extend(idx[start:start + count])
                start += count
        chosen["train"].extend(idx[start:])
    out_files = {s: [files[i] for i in sorted(chosen[s])] for s in chosen}
    out_labels = {s: labels[sorted(chosen[s])].astype(np.int64) for s in chosen}
    return out_files, out_labels


def index_image_folder(
    root: str | os.PathLike[str],
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    skip_non_images: bool = False,
    min_side: int = 8,
) -> ImageIndex:
    """Indexes and checks an image folder, carving out the splits it does not have.

    Checks the whole folder and decodes every image, then raises one `ImageFolderError`
    listing every problem found, by kind, with the files and the fix of each: images at
    the top of a folder that should hold class folders; broken symbolic links; a folder
    without class folders; a single class; split folders whose classes differ; class
    folders without a usable image; files that are not images; formats TensorFlow
    cannot decode, by extension or by content; corrupt or truncated images; images
    smaller than `min_side`; a class that a carved split gets no image of. It stops at
    once, with that one problem, when the root does not exist or is a file, and when
    split folders do not form a layout (one beside other folders, two for one split,
    none for train).

    Hidden files (`.DS_Store`, `._*`, `Thumbs.db`) and files beside the class folders
    (a `LICENSE.txt`) are left out and listed in the report; symbolic links are
    followed; sub-folders of a class folder belong to that class.

    Args:
        root: a folder laid out as `<root>/<split>/<class>/<image>` (split folders named
            `train`/`training`, `val`/`valid`/`validation`, `test`/`testing`, in any
            case; `train` required, the others carved out of it when missing), or as
            `<root>/<class>/<image>` (then split here).
        seed: the seed of the carving (default 0).
        val_fraction: the share of each class carved out for validation when there is
            no validation folder (default 0.15).
        test_fraction: the share of each class carved out for test when there is no
            test folder (default 0.15).
        skip_non_images: leave out (and list in the report) files that are not images
            instead of reporting them as problems (default False).
        min_side: the smallest image side accepted, in pixels (default 8).

    Returns:
        The checked `ImageIndex`; its `split_sources` say where each split comes from.

    Raises:
        ImageFolderError: listing every problem found; its `problems` hold them as
            `FolderProblem`s.
        ValueError: for split fractions outside (0, 1), or summing to 1 or more, when a
            split is carved.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise ImageFolderError(
            f"The image folder {root} does not exist. Check the path (relative paths start "
            f"at {Path.cwd()}).",
            [FolderProblem("missing_folder", "the image folder does not exist", (root,), ("",),
                           f"Check the path (relative paths start at {Path.cwd()}).")],
        )
    if not root.is_dir():
        fix = "Point the loader at a folder that holds one sub-folder per class."
        raise ImageFolderError(f"Not a folder: {root}. {fix}",
                               [FolderProblem("not_a_folder", "not a folder", (root,), ("",), fix)])
    findings = _Findings(root, min_side)
    parents = _split_folders(root, findings)
    if findings:  # without a layout, no folder below can be read as classes
        raise findings.error()
    if parents:
        entries = [p for p in sorted(root.iterdir()) if not _is_hidden(p)]
        findings.add_all("images_at_top", [p for p in entries if p.is_file() and _is_image_name(p)])
        findings.add_all("broken_link", [p for p in entries if _is_broken_link(p)])
        source = f"{parents['train'].name}/"
        sources = {split: f"from {folder.name}/" for split, folder in parents.items()}
    else:
        parents = {"train": root}
        source = "the class folders"
        sources = {"train": f"from {source}"}
    carved = [split for split in SPLITS if split not in parents]
    _check_fractions(carved, val_fraction, test_fraction)

    skipped: list[Path] = []
    found = {split: _index_split(folder, findings, skip_non_images, skipped)
             for split, folder in parents.items()}
    class_names = list(found["train"])
    if len(class_names) == 1:
        findings.add("single_class", parents["train"] / class_names[0])
    for split, classes in found.items():
        if split != "train" and class_names and classes and list(classes) != class_names:
            missing = sorted(set(class_names) - set(classes))
            extra = sorted(set(classes) - set(class_names))
            findings.add("classes_differ", parents[split], f"missing {missing}, extra {extra}")
    modes, sizes, formats, unusable, digests = _inspect_images(
        [path for classes in found.values() for paths in classes.values() for path in paths],
        min_side, findings)
    empty = _empty_classes(found, parents, unusable, findings)
    label_of = {name: label for label, name in enumerate(class_names)}
    files = {split: [] for split in SPLITS}
    labels = {split: np.zeros(0, dtype=np.int64) for split in SPLITS}
    for split, classes in found.items():  # the usable images: what carving must share out
        usable = {name: [p for p in paths if p not in unusable]
                  for name, paths in classes.items() if name in label_of}
        files[split] = [path for paths in usable.values() for path in paths]
        labels[split] = np.array([label_of[name] for name, paths in usable.items()
                                  for _ in paths], dtype=np.int64)
    if carved and class_names:
        fractions = {"val": val_fraction, "test": test_fraction}
        shares = {split: fractions[split] for split in carved}
        out_files, out_labels = _stratified_split(files["train"], labels["train"], seed, shares)
        files.update(out_files)
        labels.update(out_labels)
        sources["train"] += f", less the images carved out for {' and '.join(carved)}"
        for split, share in shares.items():
            sources[split] = f"carved from {source} ({share * 100:g}% of each class, seed {seed})"
    kept_in_train = _copies_across_splits(files, labels, digests, carved, findings)
    if carved and class_names:
        carved_labels = {split: labels[split] for split in ("train", *carved)}
        for label, name in enumerate(class_names):
            if ("train", name) not in empty:  # reported already
                _check_carving(parents["train"] / name, label, carved_labels, findings)
    if findings:
        raise findings.error()
    return ImageIndex(
        root=root,
        class_names=class_names,
        files=files,
        labels=labels,
        modes=dict(modes),
        sizes=dict(sizes),
        formats=dict(formats),
        skipped=sorted(skipped),
        split_sources={split: sources[split] for split in SPLITS},
        kept_in_train=kept_in_train,
    )
