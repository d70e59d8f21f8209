"""Image folders to `tf.data` pipelines, with checks that fail early and clearly.

An image folder is either split already (`<root>/{train,val,test}/<class>/<image>`) or
one tree of class folders (`<root>/<class>/<image>`) that is split here, stratified and
seeded. Every file is indexed and checked *before* any pipeline is built, so a missing
folder, an empty class or a broken image stops the first cell that touches the data
with a message that names the file and the fix, instead of failing mid-epoch inside
`tf.data`.

The pipelines yield `(images, labels)` batches of raw RGB pixels in `[0, 255]`
(`float32`, resized to `image_size`); the model does its own preprocessing (see
`tlhelpers.models.Preprocess`), so images can be plotted as they are.

Used by every chapter that trains on images.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "ImageData",
    "ImageFolderError",
    "ImageIndex",
    "dataset_path",
    "index_image_folder",
    "load_dataset",
    "load_fashion_mnist",
    "load_image_folder",
]

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "tshirt_top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle_boot",
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


class ImageFolderError(ValueError):
    """An image folder cannot be used as it is; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A data set the book knows by name.

    Args:
        name: the key in `DATASETS`.
        description: one line for people.
        url: where to download it (`None` for a data set bundled with the package).
        sha256: the archive's SHA-256 (`None` when bundled).
        subfolder: the folder inside the archive (or the package) that holds the images.
        source: where the images come from, and their licence.
    """

    name: str
    description: str
    url: str | None
    sha256: str | None
    subfolder: str
    source: str


DATASETS: dict[str, DatasetSpec] = {
    "fashion-mnist-tiny": DatasetSpec(
        name="fashion-mnist-tiny",
        description=(
            "1,200 Fashion-MNIST images (28x28 greyscale PNG, 10 classes; 60/20/40 per "
            "class in train/val/test), bundled with tlhelpers"
        ),
        url=None,
        sha256=None,
        subfolder="fashion_mnist_tiny",
        source="Fashion-MNIST, (c) 2017 Zalando SE, MIT licence",
    ),
    "flowers": DatasetSpec(
        name="flowers",
        description="TensorFlow's flower photos: 3,670 JPEG photos of 5 kinds of flower",
        url="https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz",
        sha256="4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
        subfolder="flower_photos",
        source="TensorFlow's example images (photos from Flickr, CC-BY 2.0; see its LICENSE.txt)",
    ),
}


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
    """

    root: Path
    class_names: list[str]
    files: dict[str, list[Path]]
    labels: dict[str, np.ndarray]
    modes: dict[str, int]
    sizes: dict[tuple[int, int], int]
    formats: dict[str, int]
    skipped: list[Path] = dataclasses.field(default_factory=list)

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.class_names)

    def counts(self, split: str) -> list[int]:
        """Images per class in one split, in the order of `class_names`."""
        return np.bincount(self.labels[split], minlength=self.num_classes).tolist()

    def report(self) -> str:
        """A short table of images per class and split, then sizes, formats and modes."""
        splits = list(self.files)
        width = max(len(name) for name in [*self.class_names, "class", "total"])
        lines = ["  ".join([f"{'class':<{width}}", *(f"{s:>6}" for s in splits)])]
        per_split = {split: self.counts(split) for split in splits}
        for i, name in enumerate(self.class_names):
            cells = (f"{per_split[s][i]:>6}" for s in splits)
            lines.append("  ".join([f"{name:<{width}}", *cells]))
        totals = (f"{len(self.files[s]):>6}" for s in splits)
        lines.append("  ".join([f"{'total':<{width}}", *totals]))
        sizes = ", ".join(f"{w}x{h}: {n}" for (w, h), n in sorted(self.sizes.items()))
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


@dataclasses.dataclass
class ImageData:
    """Train, validation and test pipelines of one image folder.

    Args:
        train_ds: shuffled (seeded, reshuffled every epoch) batches of `(images, labels)`.
        val_ds: batches in a fixed order.
        test_ds: batches in a fixed order.
        class_names: label `i` is `class_names[i]`.
        index: the checked folder contents behind the pipelines.
    """

    train_ds: object
    val_ds: object
    test_ds: object
    class_names: list[str]
    index: ImageIndex

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.class_names)


def dataset_path(name: str) -> Path:
    """Returns the folder of a named data set, downloading it (with a checksum) if needed.

    Args:
        name: a key of `DATASETS`, e.g. `"fashion-mnist-tiny"` (bundled, offline) or
            `"flowers"` (downloaded once, 218 MiB).

    Returns:
        The image folder.

    Raises:
        ValueError: for an unknown name.
        tlhelpers.downloads.DownloadError: when a download fails or its checksum differs.
    """
    if name not in DATASETS:
        known = ", ".join(repr(key) for key in DATASETS)
        raise ValueError(f"Unknown data set. Received: `name={name!r}`. Use one of {known}.")
    spec = DATASETS[name]
    if spec.url is None:
        return Path(str(resources.files("tlhelpers") / "datasets" / spec.subfolder))
    from tlhelpers.downloads import fetch

    return fetch(spec.url, spec.sha256, extract=True) / spec.subfolder


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name in SYSTEM_FILES


def _fail(problem: str, paths: list[Path], fix: str, limit: int = 20) -> ImageFolderError:
    listing = "\n  ".join(str(p) for p in paths[:limit])
    more = f"\n  ... and {len(paths) - limit} more" if len(paths) > limit else ""
    return ImageFolderError(f"{problem}:\n  {listing}{more}\n{fix}")


def _class_folders(folder: Path) -> tuple[list[Path], list[Path]]:
    if not folder.is_dir():
        raise ImageFolderError(
            f"Not a folder: {folder}. Point the loader at a folder that holds one "
            "sub-folder per class."
        )
    entries = sorted(folder.iterdir())
    hidden = [p for p in entries if _is_hidden(p)]
    entries = [p for p in entries if not _is_hidden(p)]
    stray = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if stray:
        raise _fail(
            f"{folder} should hold class folders (one per class, images inside), but has "
            "images at its top", stray, "Move each image into the folder of its class.")
    broken = [p for p in entries if p.is_symlink() and not p.exists()]
    if broken:
        raise _fail(f"{folder} has broken symbolic links", broken,
                    "Fix or delete the links.")
    classes = [p for p in entries if p.is_dir()]
    hidden += [p for p in entries if p.is_file()]  # e.g. a LICENSE.txt beside the classes
    if not classes:
        raise ImageFolderError(
            f"{folder} has no class folders. Lay out the images as {folder}/<class>/<image>."
        )
    return classes, hidden


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


def _index_split(folder: Path, skip_non_images: bool, skipped: list[Path]
                 ) -> tuple[list[str], list[Path], list[int]]:
    classes, hidden = _class_folders(folder)
    skipped.extend(hidden)
    files: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(classes):
        found, hidden, broken = _walk_files(class_dir)
        skipped.extend(hidden)
        if broken:
            raise _fail(f"{class_dir} has broken symbolic links", broken,
                        "Fix the links or delete them.")
        unsupported = [p for p in found if p.suffix.lower() in UNSUPPORTED_IMAGE_EXTENSIONS]
        if unsupported:
            raise _fail(
                f"{class_dir} has {len(unsupported)} image(s) in a format TensorFlow cannot "
                f"decode (supported: {', '.join(IMAGE_EXTENSIONS)})", unsupported,
                "Convert them, e.g. `PIL.Image.open(path).convert('RGB').save(new_path)` "
                "with a .png name, and delete the originals.")
        others = [p for p in found if p.suffix.lower() not in IMAGE_EXTENSIONS]
        if others and not skip_non_images:
            raise _fail(
                f"{class_dir} has {len(others)} file(s) that are not images "
                f"({', '.join(IMAGE_EXTENSIONS)})", others,
                "Move or delete them, or pass `skip_non_images=True` to leave them out "
                "(they are then listed in the report).")
        skipped.extend(others)
        images = [p for p in found if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not images:
            raise ImageFolderError(
                f"The class folder {class_dir} is empty (no images). Add images of class "
                f"{class_dir.name!r}, or delete the folder if the class is not wanted."
            )
        files.extend(images)
        labels.extend([label] * len(images))
    return [c.name for c in classes], files, labels


def _inspect_images(paths: list[Path], min_side: int) -> tuple[Counter, Counter, Counter]:
    from PIL import Image, UnidentifiedImageError

    modes: Counter = Counter()
    sizes: Counter = Counter()
    formats: Counter = Counter()
    broken: list[str] = []
    wrong_format: list[str] = []
    tiny: list[str] = []
    progress = None
    if len(paths) > PROGRESS_THRESHOLD:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(paths), desc="checking images", unit="img")
    for path in paths:
        try:
            with Image.open(path) as image:
                size, mode, kind = image.size, image.mode, image.format
                if kind == "JPEG":  # decode at 1/8 scale: still reads every byte, 10x faster
                    image.draft(mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
                image.load()
            if kind not in SUPPORTED_FORMATS:
                wrong_format.append(f"{path} (really {kind})")
            elif min(size) < min_side:
                tiny.append(f"{path} ({size[0]}x{size[1]})")
            else:
                modes[mode] += 1
                sizes[size] += 1
                formats[kind] += 1
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                Image.DecompressionBombError) as err:
            broken.append(f"{path} ({type(err).__name__}: {err})")
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    if broken:
        raise _fail(f"{len(broken)} image(s) cannot be decoded (corrupt or truncated)",
                    broken, "Delete or replace them.")
    if wrong_format:
        raise _fail(
            f"{len(wrong_format)} file(s) have an image name but hold a format TensorFlow "
            "cannot decode", wrong_format,
            "Convert them to PNG or JPEG (e.g. with Pillow) under the right extension.")
    if tiny:
        raise _fail(
            f"{len(tiny)} image(s) are smaller than {min_side} pixels on a side, too small "
            "to show anything after resizing", tiny,
            "Delete them, or pass a smaller `min_side` if they are meant to be that small.")
    return modes, sizes, formats


def index_image_folder(
    root: str | os.PathLike[str],
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    skip_non_images: bool = False,
    min_side: int = 8,
) -> ImageIndex:
    """Indexes and checks an image folder, splitting it if it is not split already.

    Checks, each failing with an `ImageFolderError` that names the files and the fix:
    the folder exists and is a tree of class folders (no images at its top); no class
    folder is empty; there are at least two classes; split folders have the same
    classes; no broken symbolic links; every file is an image in a format TensorFlow
    decodes (PNG, JPEG, BMP, GIF, WebP) and decodes completely; no image is smaller than
    `min_side`. Hidden files (`.DS_Store`, `._*`, `Thumbs.db`) and files beside the
    class folders (a `LICENSE.txt`) are left out and listed in the report; symbolic
    links are followed; sub-folders of a class folder belong to that class.

    Args:
        root: a folder laid out as `<root>/{train,val,test}/<class>/<image>`, or as
            `<root>/<class>/<image>` (then split here, stratified by class).
        seed: the seed of that split (default 0).
        val_fraction: the share of each class that goes to validation when splitting
            (default 0.15).
        test_fraction: the share of each class that goes to test when splitting
            (default 0.15).
        skip_non_images: leave out (and list in the report) files that are not images
            instead of stopping (default False).
        min_side: the smallest image side accepted, in pixels (default 8).

    Returns:
        The checked `ImageIndex`.

    Raises:
        ImageFolderError: when a check fails.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise ImageFolderError(
            f"The image folder {root} does not exist. Check the path (relative paths start "
            f"at {Path.cwd()})."
        )
    skipped: list[Path] = []
    if all((root / split).is_dir() for split in SPLITS):
        per_split = {split: _index_split(root / split, skip_non_images, skipped)
                     for split in SPLITS}
        class_names = per_split["train"][0]
        for split in SPLITS[1:]:
            if per_split[split][0] != class_names:
                missing = sorted(set(class_names) - set(per_split[split][0]))
                extra = sorted(set(per_split[split][0]) - set(class_names))
                raise ImageFolderError(
                    f"The class folders of {root / split} differ from those of "
                    f"{root / 'train'}: missing {missing}, extra {extra}. Every split needs "
                    "the same class folders."
                )
        files = {split: per_split[split][1] for split in SPLITS}
        labels = {split: np.array(per_split[split][2], dtype=np.int64) for split in SPLITS}
    else:
        class_names, all_files, all_labels = _index_split(root, skip_non_images, skipped)
        if len(class_names) >= 2:
            files, labels = _stratified_split(
                all_files, np.array(all_labels), seed, val_fraction, test_fraction
            )
    if len(class_names) < 2:
        raise ImageFolderError(
            f"{root} has a single class folder ({class_names[0]!r}); a classifier needs at "
            "least two. Add a folder for every class."
        )
    for split in SPLITS:
        empty = [class_names[i] for i, n in enumerate(
            np.bincount(labels[split], minlength=len(class_names))) if n == 0]
        if empty:
            raise ImageFolderError(
                f"After splitting {root}, the {split} split has no image of {empty}. "
                "Add images to those classes, or split the folder yourself into "
                "train/, val/ and test/."
            )
    modes, sizes, formats = _inspect_images(
        [p for split in SPLITS for p in files[split]], min_side)
    return ImageIndex(
        root=root,
        class_names=class_names,
        files=files,
        labels=labels,
        modes=dict(modes),
        sizes=dict(sizes),
        formats=dict(formats),
        skipped=sorted(skipped),
    )


def _stratified_split(
    files: list[Path], labels: np.ndarray, seed: int, val_fraction: float, test_fraction: float
) -> tuple[dict[str, list[Path]], dict[str, np.ndarray]]:
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            "Split fractions must be in (0, 1) and sum to less than 1. Received: "
            f"`val_fraction={val_fraction}`, `test_fraction={test_fraction}`."
        )
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[int]] = {split: [] for split in SPLITS}
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(len(idx) * val_fraction))
        n_test = int(round(len(idx) * test_fraction))
        chosen["val"].extend(idx[:n_val])
        chosen["test"].extend(idx[n_val:n_val + n_test])
        chosen["train"].extend(idx[n_val + n_test:])
    out_files = {s: [files[i] for i in sorted(chosen[s])] for s in SPLITS}
    out_labels = {s: labels[sorted(chosen[s])].astype(np.int64) for s in SPLITS}
    return out_files, out_labels


def _pipeline(files, labels, num_classes, image_size, batch_size, label_mode, shuffle_seed):
    import tensorflow as tf

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.image.resize(image, image_size)  # bilinear; returns float32
        image.set_shape((*image_size, 3))
        if label_mode == "categorical":
            label = tf.one_hot(label, num_classes)
        return image, label

    ds = tf.data.Dataset.from_tensor_slices(([str(p) for p in files], labels))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(files), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_image_folder(
    root: str | os.PathLike[str],
    image_size: tuple[int, int],
    batch_size: int = 32,
    seed: int = 0,
    label_mode: str = "categorical",
    verbose: bool = True,
    skip_non_images: bool = False,
    min_side: int = 8,
) -> ImageData:
    """Checks an image folder and returns its train, validation and test pipelines.

    Args:
        root: the image folder (see `index_image_folder` for its two layouts).
        image_size: `(height, width)` every image is resized to (bilinear).
        batch_size: images per batch (default 32).
        seed: seeds the split (for an unsplit folder) and the training shuffle (default 0).
        label_mode: `"categorical"` (one-hot, for `categorical_crossentropy`; default) or
            `"int"` (for `sparse_categorical_crossentropy`).
        verbose: print the folder's report (images per class, sizes, formats; default True).
        skip_non_images: leave out files that are not images (listed in the report)
            instead of stopping (default False).
        min_side: the smallest image side accepted, in pixels (default 8).

    Returns:
        An `ImageData` with `train_ds`, `val_ds`, `test_ds` and `class_names`.

    Raises:
        ImageFolderError: see `index_image_folder`.
        ValueError: for a bad `label_mode` or `image_size`.
    """
    if label_mode not in ("categorical", "int"):
        raise ValueError(
            f"`label_mode` must be 'categorical' or 'int'. Received: `label_mode={label_mode!r}`."
        )
    if len(tuple(image_size)) != 2 or min(image_size) < 1:
        raise ValueError(
            f"`image_size` must be (height, width). Received: `image_size={image_size!r}`."
        )
    index = index_image_folder(root, seed=seed, skip_non_images=skip_non_images,
                               min_side=min_side)
    if verbose:
        print(f"Image folder: {index.root.name}, {index.num_classes} classes")
        print(index.report())
    pipelines = {
        split: _pipeline(
            index.files[split],
            index.labels[split],
            index.num_classes,
            tuple(image_size),
            batch_size,
            label_mode,
            shuffle_seed=seed if split == "train" else None,
        )
        for split in SPLITS
    }
    return ImageData(
        train_ds=pipelines["train"],
        val_ds=pipelines["val"],
        test_ds=pipelines["test"],
        class_names=index.class_names,
        index=index,
    )


def load_dataset(name_or_path: str | os.PathLike[str], image_size: tuple[int, int],
                 batch_size: int = 32, seed: int = 0, label_mode: str = "categorical",
                 verbose: bool = True) -> ImageData:
    """Loads a named data set (see `DATASETS`) or an image folder of your own.

    Args:
        name_or_path: a key of `DATASETS` (e.g. `"fashion-mnist-tiny"`), or the path of
            an image folder (see `index_image_folder` for its two layouts).
        image_size: `(height, width)` the images are resized to.
        batch_size: images per batch (default 32).
        seed: seeds the split and the shuffle (default 0).
        label_mode: `"categorical"` (default) or `"int"`.
        verbose: print the folder's report (default True).

    Returns:
        An `ImageData`.

    Raises:
        ImageFolderError: for a path that is not a usable image folder (or neither a
            known name nor an existing folder).
    """
    if isinstance(name_or_path, str) and name_or_path in DATASETS:
        root = dataset_path(name_or_path)
    else:
        root = Path(name_or_path).expanduser()
        if not root.exists():
            known = ", ".join(repr(key) for key in DATASETS)
            raise ImageFolderError(
                f"{str(name_or_path)!r} is neither a data set the book knows ({known}) nor "
                f"an existing folder (relative paths start at {Path.cwd()}). Check the name "
                "or the path."
            )
    return load_image_folder(root, image_size, batch_size, seed, label_mode, verbose)


def _read_idx(path: Path, offset: int) -> np.ndarray:
    import gzip

    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), np.uint8, offset=offset)


def load_fashion_mnist(
    folder: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Returns all of Fashion-MNIST as arrays: `(x_train, y_train), (x_test, y_test)`.

    Offline it reads the gzipped IDX files of Debian's `dataset-fashion-mnist` package
    (`make fashion-mnist` installs it); without them it falls back to
    `keras.datasets.fashion_mnist`, which downloads. Images are `uint8`, 28x28; labels
    are 0..9, named by `FASHION_MNIST_CLASSES`.

    Args:
        folder: a folder with the four IDX files; default: Debian's
            `/usr/share/datasets/fashion-mnist` when it exists.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: 60,000 and 10,000 images.

    Raises:
        FileNotFoundError: `folder` was given but lacks a file.
    """
    folder = Path(folder) if folder is not None else DEBIAN_FASHION_MNIST
    if folder.is_dir() or folder != DEBIAN_FASHION_MNIST:
        def split(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            for kind in ("labels-idx1", "images-idx3"):
                path = folder / f"{prefix}-{kind}-ubyte.gz"
                if not path.is_file():
                    raise FileNotFoundError(
                        f"Fashion-MNIST file {path} is missing. Install Debian's package "
                        "(`make fashion-mnist`, or `apt-get install dataset-fashion-mnist`) "
                        "or pass `folder=None` with internet access to download it."
                    )
            labels = _read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 8)
            images = _read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", 16)
            return images.reshape(len(labels), 28, 28), labels.astype(np.int64)

        return split("train"), split("t10k")
    import keras

    from tlhelpers.downloads import explain_download_failures

    with explain_download_failures("Fashion-MNIST data set", subdir="datasets"):
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))
