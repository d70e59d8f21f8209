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
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
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
    """

    root: Path
    class_names: list[str]
    files: dict[str, list[Path]]
    labels: dict[str, np.ndarray]
    modes: dict[str, int]
    sizes: dict[tuple[int, int], int]
    formats: dict[str, int]

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
        converted = sum(n for mode, n in self.modes.items() if mode != "RGB")
        if converted:
            lines.append(f"{converted} images not in RGB are converted to RGB by the loader.")
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
    return path.name.startswith(".")


def _class_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ImageFolderError(
            f"Not a folder: {folder}. Point the loader at a folder that holds one "
            "sub-folder per class."
        )
    entries = sorted(p for p in folder.iterdir() if not _is_hidden(p))
    stray = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if stray:
        names = ", ".join(str(p) for p in stray[:5])
        raise ImageFolderError(
            f"{folder} should hold class folders (one per class, images inside), but has "
            f"images at its top: {names}. Move each image into the folder of its class."
        )
    classes = [p for p in entries if p.is_dir()]
    if not classes:
        raise ImageFolderError(
            f"{folder} has no class folders. Lay out the images as {folder}/<class>/<image>."
        )
    return classes


def _index_split(folder: Path) -> tuple[list[str], list[Path], list[int]]:
    classes = _class_folders(folder)
    files: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(classes):
        found = sorted(
            p for p in class_dir.rglob("*") if p.is_file() and not _is_hidden(p)
        )
        others = [p for p in found if p.suffix.lower() not in IMAGE_EXTENSIONS]
        if others:
            listing = "\n  ".join(str(p) for p in others[:10])
            raise ImageFolderError(
                f"{class_dir} holds {len(others)} file(s) that are not images "
                f"({', '.join(IMAGE_EXTENSIONS)}):\n  {listing}\nMove or delete them."
            )
        if not found:
            raise ImageFolderError(
                f"The class folder {class_dir} is empty. Add images of class "
                f"{class_dir.name!r}, or delete the folder if the class is not wanted."
            )
        files.extend(found)
        labels.extend([label] * len(found))
    return [c.name for c in classes], files, labels


def _inspect_images(paths: list[Path]) -> tuple[Counter, Counter, Counter]:
    from PIL import Image, UnidentifiedImageError

    modes: Counter = Counter()
    sizes: Counter = Counter()
    formats: Counter = Counter()
    broken: list[str] = []
    progress = None
    if len(paths) > 2000:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(paths), desc="checking images", unit="img")
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
                modes[image.mode] += 1
                sizes[image.size] += 1
                formats[image.format] += 1
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            broken.append(f"{path} ({type(err).__name__}: {err})")
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    if broken:
        listing = "\n  ".join(broken[:20])
        raise ImageFolderError(
            f"{len(broken)} image(s) cannot be decoded (corrupt or truncated):\n  {listing}\n"
            "Delete or replace them."
        )
    return modes, sizes, formats


def index_image_folder(
    root: str | os.PathLike[str],
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> ImageIndex:
    """Indexes and checks an image folder, splitting it if it is not split already.

    Args:
        root: a folder laid out as `<root>/{train,val,test}/<class>/<image>`, or as
            `<root>/<class>/<image>` (then split here, stratified by class).
        seed: the seed of that split (default 0).
        val_fraction: the share of each class that goes to validation when splitting
            (default 0.15).
        test_fraction: the share of each class that goes to test when splitting
            (default 0.15).

    Returns:
        The checked `ImageIndex`.

    Raises:
        ImageFolderError: the folder is missing, not a tree of class folders, has an
            empty class, a single class, files that are not images, images that cannot
            be decoded, or splits whose class folders differ.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise ImageFolderError(
            f"The image folder {root} does not exist. Check the path (relative paths start "
            f"at {Path.cwd()})."
        )
    if all((root / split).is_dir() for split in SPLITS):
        per_split = {split: _index_split(root / split) for split in SPLITS}
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
        class_names, all_files, all_labels = _index_split(root)
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
    modes, sizes, formats = _inspect_images([p for split in SPLITS for p in files[split]])
    return ImageIndex(
        root=root,
        class_names=class_names,
        files=files,
        labels=labels,
        modes=dict(modes),
        sizes=dict(sizes),
        formats=dict(formats),
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
    index = index_image_folder(root, seed=seed)
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


def load_dataset(name: str, image_size: tuple[int, int], batch_size: int = 32,
                 seed: int = 0, label_mode: str = "categorical", verbose: bool = True
                 ) -> ImageData:
    """Loads a named data set (see `DATASETS`) with `load_image_folder`.

    Args:
        name: a key of `DATASETS`.
        image_size: `(height, width)` the images are resized to.
        batch_size: images per batch (default 32).
        seed: seeds the split and the shuffle (default 0).
        label_mode: `"categorical"` (default) or `"int"`.
        verbose: print the folder's report (default True).

    Returns:
        An `ImageData`.
    """
    return load_image_folder(dataset_path(name), image_size, batch_size, seed, label_mode, verbose)


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
