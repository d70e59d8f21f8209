"""Image folders to `tf.data` pipelines, and the data sets the book knows by name.

An image folder is either split already (`<root>/{train,val,test}/<class>/<image>`, with
a missing validation or test folder carved out of train) or one tree of class folders
(`<root>/<class>/<image>`) that is split here, stratified and seeded. Every file is
indexed and checked *before* any pipeline is built (`tlhelpers.folders`), so a messy
folder stops the first cell that touches the data with one message that lists every
problem, its files and its fix, instead of failing mid-epoch inside `tf.data`.

The pipelines yield `(images, labels)` batches of raw RGB pixels in `[0, 255]`
(`float32`, resized to `image_size`); the model does its own preprocessing (see
`tlhelpers.models.Preprocess`), so images can be plotted as they are.

Used by every chapter that trains on images.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from tlhelpers.downloads import (
    DatasetUnavailableError,
    failed_url,
    fetch,
    keras_cache_folder,
)
from tlhelpers.folders import (
    SPLITS,
    FolderProblem,
    ImageFolderError,
    ImageIndex,
    index_image_folder,
)

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "FolderProblem",
    "ImageData",
    "ImageFolderError",
    "ImageIndex",
    "class_subset",
    "dataset_path",
    "index_image_folder",
    "load_dataset",
    "load_fashion_mnist",
    "load_image",
    "load_image_folder",
]

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = (
    "train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
)
# Where `keras.datasets.fashion_mnist.load_data` downloads these files from, and the
# sub-folder of the Keras cache it keeps them in.
KERAS_FASHION_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_FASHION_MNIST_SUBDIR = "datasets/fashion-mnist"
FASHION_MNIST_CLASSES = [
    "tshirt_top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle_boot",
]


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
    return fetch(spec.url, spec.sha256, extract=True) / spec.subfolder


def _decode_and_resize(path, image_size: tuple[int, int]):
    """One image file -> RGB, bilinear resize, float32 in [0, 255]: what the pipelines do."""
    import tensorflow as tf  # deferred: checking a folder and the commands' --help need none

    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.resize(image, image_size)  # bilinear; returns float32
    image.set_shape((*image_size, 3))
    return image


def load_image(path: str | os.PathLike[str], image_size: tuple[int, int]) -> np.ndarray:
    """Reads one image file exactly as the pipelines of `load_image_folder` read it.

    The file is decoded by TensorFlow (grey, palette and RGBA images become RGB) and
    resized to `image_size` with bilinear interpolation. Use it to predict from a file:
    the model then sees the same pixels it was trained and evaluated on.
    (`keras.utils.load_img(path, target_size=...)` resizes with nearest-neighbour
    interpolation by default, and decodes with Pillow.)

    Args:
        path: the image file.
        image_size: `(height, width)`, as given to `load_dataset`.

    Returns:
        A float32 array of shape `(height, width, 3)`, values in [0, 255].

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {path}. Check the path.")
    return np.asarray(_decode_and_resize(str(path), tuple(image_size)))


def _pipeline(files, labels, num_classes, image_size, batch_size, label_mode, shuffle_seed,
              cache=False):
    import tensorflow as tf  # deferred (see _decode_and_resize)

    def load(path, label):
        image = _decode_and_resize(path, image_size)
        if label_mode == "categorical":
            label = tf.one_hot(label, num_classes)
        return image, label

    ds = tf.data.Dataset.from_tensor_slices(([str(p) for p in files], labels))
    if cache:  # decode once, keep the images in memory, then shuffle them every epoch
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
        if shuffle_seed is not None:
            ds = ds.shuffle(len(files), seed=shuffle_seed, reshuffle_each_iteration=True)
    else:  # shuffle the file names, decode every epoch
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
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    *,
    cache: bool = False,
) -> ImageData:
    """Checks an image folder and returns its train, validation and test pipelines.

    Args:
        root: the image folder (see `index_image_folder` for its two layouts).
        image_size: `(height, width)` every image is resized to (bilinear).
        batch_size: images per batch (default 32).
        seed: seeds the carving of missing splits and the training shuffle (default 0).
            The shuffle's order also depends on TensorFlow's global seed when the
            pipeline is made: call `config.set_seed` first for a run that repeats.
        label_mode: `"categorical"` (one-hot, for `categorical_crossentropy`; default) or
            `"int"` (for `sparse_categorical_crossentropy`).
        verbose: print the folder's report (images per class, sizes, formats; default True).
        skip_non_images: leave out files that are not images (listed in the report)
            instead of reporting them as problems (default False).
        min_side: the smallest image side accepted, in pixels (default 8).
        val_fraction: the share of each class carved out for validation when the folder
            has no validation folder (default 0.15).
        test_fraction: the share of each class carved out for test when the folder has
            no test folder (default 0.15).
        cache: decode and resize each image once and keep it in memory (`.cache()`),
            then shuffle the cached images every epoch (default False: decode every
            epoch). Augmentation goes after it (`tlhelpers.augment.augment_batches`).

    Returns:
        An `ImageData` with `train_ds`, `val_ds`, `test_ds` and `class_names`; each
        pipeline carries the class names too (`train_ds.class_names`), as Keras' own
        `image_dataset_from_directory` does, so `training.fit` can check the model's
        outputs against them.

    Raises:
        ImageFolderError: listing every problem of the folder; see `index_image_folder`.
        ValueError: for a bad `label_mode`, `image_size` or split fraction.
    """
    if label_mode not in ("categorical", "int"):
        raise ValueError(
            f"`label_mode` must be 'categorical' or 'int'. Received: `label_mode={label_mode!r}`."
        )
    if len(tuple(image_size)) != 2 or min(image_size) < 1:
        raise ValueError(
            f"`image_size` must be (height, width). Received: `image_size={image_size!r}`."
        )
    index = index_image_folder(root, seed=seed, val_fraction=val_fraction,
                               test_fraction=test_fraction, skip_non_images=skip_non_images,
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
            cache=cache,
        )
        for split in SPLITS
    }
    for ds in pipelines.values():  # as keras.utils.image_dataset_from_directory does
        ds.class_names = list(index.class_names)
    return ImageData(
        train_ds=pipelines["train"],
        val_ds=pipelines["val"],
        test_ds=pipelines["test"],
        class_names=index.class_names,
        index=index,
    )


def load_dataset(name_or_path: str | os.PathLike[str], image_size: tuple[int, int],
                 batch_size: int = 32, seed: int = 0, label_mode: str = "categorical",
                 verbose: bool = True, *, skip_non_images: bool = False, min_side: int = 8,
                 val_fraction: float = 0.15, test_fraction: float = 0.15,
                 cache: bool = False) -> ImageData:
    """Loads a named data set (see `DATASETS`) or an image folder of your own.

    Args:
        name_or_path: a key of `DATASETS` (e.g. `"fashion-mnist-tiny"`), or the path of
            an image folder (see `index_image_folder` for its two layouts).
        image_size: `(height, width)` the images are resized to.
        batch_size: images per batch (default 32).
        seed: seeds the carving of missing splits and the shuffle (default 0).
        label_mode: `"categorical"` (default) or `"int"`.
        verbose: print the folder's report (default True).
        skip_non_images: leave out files that are not images (listed in the report)
            instead of reporting them as problems (default False).
        min_side: the smallest image side accepted, in pixels (default 8).
        val_fraction: the share of each class carved out for validation when there is no
            validation folder (default 0.15).
        test_fraction: the share of each class carved out for test when there is no test
            folder (default 0.15).
        cache: decode each image once and keep it in memory (see `load_image_folder`).

    Returns:
        An `ImageData`.

    Raises:
        ImageFolderError: for a path that is not a usable image folder (or neither a
            known name nor an existing folder), listing every problem found.
        ValueError: for a bad `label_mode`, `image_size` or split fraction.
    """
    if isinstance(name_or_path, str) and name_or_path in DATASETS:
        root = dataset_path(name_or_path)
    else:
        root = Path(name_or_path).expanduser()
        if not root.exists():
            known = ", ".join(repr(key) for key in DATASETS)
            fix = "Check the name or the path."
            raise ImageFolderError(
                f"{str(name_or_path)!r} is neither a data set the book knows ({known}) nor "
                f"an existing folder (relative paths start at {Path.cwd()}). {fix}",
                [FolderProblem("missing_folder", "neither a known data set nor a folder",
                               (root,), ("",), fix)],
            )
    return load_image_folder(root, image_size, batch_size, seed, label_mode, verbose,
                             skip_non_images=skip_non_images, min_side=min_side,
                             val_fraction=val_fraction, test_fraction=test_fraction,
                             cache=cache)


def _read_idx(path: Path, offset: int) -> np.ndarray:
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
        tlhelpers.downloads.DatasetUnavailableError: Debian's files are absent and the
            download fails (offline); the message names the files, their URLs, the Keras
            cache folder they go to, and the ways out.
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
    import keras  # deferred, as TensorFlow is (see `_decode_and_resize`)

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as err:
        url = failed_url(err)
        if url is None:
            raise
        raise DatasetUnavailableError(
            f"Could not load Fashion-MNIST: Debian's files are not in {DEBIAN_FASHION_MNIST}, "
            f"and Keras could not download them ({err}).\n"
            f"  files: {', '.join(FASHION_MNIST_FILES)}\n"
            f"  URLs:  {KERAS_FASHION_MNIST_URL}<file> (this one failed: {url})\n"
            f"  Keras cache: {keras_cache_folder(KERAS_FASHION_MNIST_SUBDIR)}\n"
            "To fix it: install Debian's package (`make fashion-mnist`, or `apt-get install "
            "dataset-fashion-mnist` as root); or connect to the internet and run again; or "
            "download the four files on another machine and copy them into the Keras cache "
            "folder above."
        ) from err
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


def class_subset(images: np.ndarray, labels: np.ndarray, classes: Sequence[int], count: int,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draws `count` images of some classes at random and relabels them `0..len(classes)-1`.

    Splitting a data set's classes in two halves makes a source task and a target task
    (the experiments of Yosinski et al., 2014): for example the even and the odd labels of
    Fashion-MNIST. The draw keeps the images' order in the data set, and depends on `seed`
    only.

    Args:
        images: all images, first axis one per image.
        labels: their integer labels, shape `(len(images),)`.
        classes: the labels to keep, in the order that gives the new labels.
        count: how many images to draw (at most as many as there are of `classes`).
        seed: seeds the draw.

    Returns:
        `(images, labels)`: the drawn images, and their labels renumbered by position in
        `classes`.

    Raises:
        ValueError: `classes` is empty or repeats a label, a label is absent from `labels`,
            or `count` asks for more images than those classes have.
    """
    labels = np.asarray(labels)
    classes = [int(c) for c in classes]
    if len(images) != len(labels):
        raise ValueError(f"`images` and `labels` differ in length: {len(images)} != "
                         f"{len(labels)}.")
    missing = sorted(set(classes) - set(np.unique(labels).tolist()))
    if not classes or len(set(classes)) != len(classes) or missing:
        raise ValueError("`classes` must list distinct labels present in `labels`. Received: "
                         f"`classes={classes}`" + (f" ({missing} absent)." if missing else "."))
    pool = np.flatnonzero(np.isin(labels, classes))
    if not 0 < count <= len(pool):
        raise ValueError(f"`count` must be between 1 and {len(pool)} (the images of classes "
                         f"{classes}). Received: `count={count}`.")
    chosen = np.sort(np.random.default_rng(seed).permutation(pool)[:count])
    order = np.argsort(classes)
    new_labels = order[np.searchsorted(np.asarray(classes)[order], labels[chosen])]
    return images[chosen], new_labels.astype(np.int64)
