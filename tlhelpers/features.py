"""Feature extraction `h = M(x)`, cached on disk, and heads `y = L(h)` trained on it.

When the base `M` is frozen, `h = M(x)` never changes from one epoch to the next: it can
be computed once for a whole split, saved, and every epoch of head training then costs
only the small head `L`. The cache file is named by a hash of what determines the file's
contents: the model (its name and the bytes of its weights), the data (as the caller
identifies it, e.g. `files_digest` of its files), the preprocessing, the image size and
the format of the labels stored beside `h`. Change any of them and the key changes.

What caching rules out: fresh random augmentation every epoch (each cached `h` belongs
to one fixed version of each image).

Used by the feature-extraction chapter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import keras
import numpy as np
from threadpoolctl import threadpool_limits

from tlhelpers.config import cache_dir
from tlhelpers.display import progress_bar
from tlhelpers.models import Preprocess
from tlhelpers.training import fit, to_numpy

__all__ = [
    "FeatureSet",
    "array_digest",
    "cached_features",
    "embed_2d",
    "extract_features",
    "extractor_of",
    "feature_extractor",
    "feature_key",
    "files_digest",
    "imagenet_extractor",
    "label_format",
    "linear_probe",
    "train_head_on_features",
    "weights_digest",
]


@dataclasses.dataclass(frozen=True)
class FeatureSet:
    """Features of one split, with their labels and where they are cached.

    Args:
        features: `h = M(x)`, one row (or feature map) per image.
        labels: the images' labels, as the data gave them (integers or one-hot).
        key: the cache key (a hex digest).
        path: the `.npz` file that holds them.
        from_cache: True when they were read from `path`, False when computed now.
    """

    features: np.ndarray
    labels: np.ndarray
    key: str
    path: Path
    from_cache: bool


def array_digest(*arrays: np.ndarray) -> str:
    """A SHA-256 hex digest of arrays' shapes, dtypes and bytes.

    Args:
        *arrays: NumPy arrays (or anything `np.asarray` accepts).

    Returns:
        64 hex characters; equal arrays give equal digests.
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(np.asarray(array))
        digest.update(f"{array.shape}|{array.dtype}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def weights_digest(model) -> str:
    """A SHA-256 hex digest of every weight of a Keras model (trainable or not).

    Args:
        model: a built `keras.Model` or layer.

    Returns:
        64 hex characters; it changes whenever any weight changes.
    """
    return array_digest(*(np.asarray(w) for w in model.get_weights()))


def feature_key(model_name: str, weights: str, data: str, preprocessing: str,
                image_size: tuple[int, ...], labels: str = "none") -> str:
    """The cache key of `h = M(x)` and its labels: a hash of what determines them.

    Args:
        model_name: the base's name (e.g. `"mobilenet_0.25_96"`).
        weights: a digest of its weights (`weights_digest(model)`).
        data: a digest or name of the data (e.g. `array_digest(x)` or a file list hash).
        preprocessing: how pixels are scaled before the base (e.g. `"tf"`).
        image_size: the input size, `(height, width)`.
        labels: the format of the labels stored with `h` (`label_format`; default
            `"none"`).

    Returns:
        24 hex characters.
    """
    text = "|".join([model_name, weights, data, preprocessing, "x".join(map(str, image_size)),
                     labels])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def label_format(data) -> str:
    """How a split's labels are written, for the cache key: one-hot of some width, integers
    of some type, or none.

    Args:
        data: what `extract_features` accepts: a `tf.data.Dataset` of `(images, labels)`
            batches, an array of images (no labels), or a tuple `(images, labels)`.

    Returns:
        E.g. `"one-hot float32 x10"`, `"int int64"` or `"none"`.
    """
    if isinstance(data, np.ndarray):
        return "none"
    if isinstance(data, tuple) and len(data) == 2:
        labels = np.asarray(data[1])
        shape, dtype = labels.shape[1:], labels.dtype.name
    else:
        spec = getattr(data, "element_spec", None)
        if not isinstance(spec, tuple) or len(spec) < 2:
            return "none"
        shape, dtype = tuple(spec[1].shape[1:]), spec[1].dtype.name
    if len(shape) == 1 and shape[0] != 1:
        return f"one-hot {dtype} x{shape[0]}"
    return f"int {dtype}"


def feature_extractor(base_model, preprocess_mode: str, name: str = "M"):
    """Wraps a base as `M`: raw pixels in [0, 255] -> preprocessing -> base(training=False).

    The same graph as the first half of `tlhelpers.models.assemble`, so a head trained on
    its outputs can be put back on the base unchanged.

    Args:
        base_model: the convolutional base.
        preprocess_mode: its input scaling (`"tf"` or `"caffe"`, see `models.BASES`).
        name: the model's name (default `"M"`).

    Returns:
        A `keras.Model` from images to features.
    """
    inputs = keras.Input(shape=base_model.input_shape[1:], name="image")
    x = Preprocess(preprocess_mode, name="preprocess")(inputs)
    return keras.Model(inputs, base_model(x, training=False), name=name)


def extractor_of(network, layer_name: str = "features", name: str | None = None):
    """The network up to one of its layers: `M` for a network trained on a source task.

    For a network of `tlhelpers.convnets.build_small_cnn`, the default layer `features`
    is the output of its last hidden layer.

    Args:
        network: a built functional or `Sequential` model.
        layer_name: the layer whose output is `h` (default `"features"`).
        name: the extractor's name (default: `"M_<network name>"`).

    Returns:
        A `keras.Model` from the network's input to that layer's output. It shares the
        network's layers: freeze the network (`trainable = False`) to keep it fixed.

    Raises:
        ValueError: if the network has no layer of that name.
    """
    names = [layer.name for layer in network.layers]
    if layer_name not in names:
        raise ValueError(
            f"The network {network.name!r} has no layer {layer_name!r}. Received: "
            f"`layer_name={layer_name!r}`; its layers are {names}."
        )
    return keras.Model(network.inputs[0], network.get_layer(layer_name).output,
                       name=name or f"M_{network.name}")


def imagenet_extractor(base_model, preprocess_mode: str, input_shape: tuple[int, int, int],
                       name: str = "M_imagenet"):
    """`M` for images that are not the base's size or colour: resize, grey to RGB, pool.

    Raw pixels in [0, 255] of any size, greyscale or RGB -> resized (bilinear) to the
    base's input size -> grey copied to R, G and B -> the base's preprocessing -> the
    frozen base (`feature_extractor`) -> averaged over positions. `h` is one vector of
    the base's channel count per image.

    Args:
        base_model: an ImageNet base with a fixed input size (`models.build_base`).
        preprocess_mode: its input scaling (`"tf"` or `"caffe"`, see `models.BASES`).
        input_shape: the images' shape, `(height, width, 1)` or `(height, width, 3)`.
        name: the extractor's name (default `"M_imagenet"`).

    Returns:
        A `keras.Model` from images of `input_shape` to pooled features.

    Raises:
        ValueError: for images with other than 1 or 3 channels.
    """
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError(
            "Images must be (height, width, 1) or (height, width, 3). Received: "
            f"`input_shape={tuple(input_shape)!r}`."
        )
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Resizing(*base_model.input_shape[1:3], interpolation="bilinear")(inputs)
    if input_shape[-1] == 1:
        x = keras.layers.Concatenate()([x, x, x])
    h = feature_extractor(base_model, preprocess_mode)(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(h), name=name)


def _batches(data, batch_size: int) -> Iterable[tuple[np.ndarray, np.ndarray | None]]:
    if isinstance(data, np.ndarray):
        for start in range(0, len(data), batch_size):
            yield data[start:start + batch_size], None
        return
    if isinstance(data, tuple) and len(data) == 2:
        images, labels = data
        for start in range(0, len(images), batch_size):
            yield images[start:start + batch_size], labels[start:start + batch_size]
        return
    for batch in data:
        if isinstance(batch, tuple | list):
            yield to_numpy(batch[0]), to_numpy(batch[1]) if len(batch) > 1 else None
        else:
            yield to_numpy(batch), None


def _num_batches(data, batch_size: int) -> int | None:
    if isinstance(data, np.ndarray):
        return -(-len(data) // batch_size)
    if isinstance(data, tuple) and len(data) == 2:
        return -(-len(data[0]) // batch_size)
    try:
        return len(data)
    except TypeError:
        return None


def extract_features(model, data, batch_size: int = 64, progress: bool = True,
                     desc: str = "h = M(x)") -> tuple[np.ndarray, np.ndarray | None]:
    """Computes `h = M(x)` for a whole split, batch by batch, with a progress bar.

    Args:
        model: the frozen feature extractor `M` (e.g. from `feature_extractor`).
        data: a `tf.data.Dataset` of `(images, labels)` batches, an array of images, or
            a tuple `(images, labels)` of arrays.
        batch_size: images per call when `data` holds arrays (default 64).
        progress: show a `tqdm` progress bar on stderr (default True).
        desc: the progress bar's label.

    Returns:
        `(features, labels)`: the stacked features, and the labels (`None` when `data`
        has none).

    Raises:
        ValueError: if `data` yields no images.
    """
    features, labels = [], []
    bar = progress_bar(enabled=progress, total=_num_batches(data, batch_size), desc=desc,
                       unit="batch")
    for images, batch_labels in _batches(data, batch_size):
        features.append(to_numpy(model(images, training=False)))
        if batch_labels is not None:
            labels.append(to_numpy(batch_labels))
        bar.update()
    bar.close()
    if not features:
        raise ValueError(
            "The data yielded no images. Received an empty split; check the data set and "
            "its batch size."
        )
    return np.concatenate(features), (np.concatenate(labels) if labels else None)


def cached_features(model, data, data_id: str, preprocessing: str,
                    folder: str | os.PathLike[str] | None = None, batch_size: int = 64,
                    progress: bool = True, model_name: str | None = None,
                    labels: str | None = None) -> FeatureSet:
    """Returns `h = M(x)` for a split, from the disk cache if present, else computed and saved.

    Args:
        model: the frozen feature extractor `M`.
        data: the split (see `extract_features`); its images are only read on a cache
            miss (its label format is part of the key). May be `None` when the
            features are known to be cached and `labels` is given.
        data_id: what identifies the data, e.g. `array_digest(images)` or
            `"fashion-mnist-tiny/test"` plus `files_digest` of its files.
        preprocessing: how the pixels are scaled inside `M` (part of the key).
        folder: the cache folder (default `tlhelpers.config.cache_dir("features")`).
        batch_size: images per call when `data` holds arrays (default 64).
        progress: show a progress bar while extracting (default True).
        model_name: the name in the key (default `model.name`).
        labels: the labels' format (`label_format`); default: read from `data`.

    Returns:
        A `FeatureSet`; `from_cache` says whether the file was read.

    Raises:
        ValueError: with `data=None`, on a cache miss or without `labels`.
    """
    if data is None and labels is None:
        raise ValueError(
            "Received `data=None` and `labels=None`: pass the split (it is only read on a "
            "cache miss), or the format of its labels (`features.label_format(split)`)."
        )
    image_size = tuple(model.input_shape[1:3])
    key = feature_key(model_name or model.name, weights_digest(model), data_id, preprocessing,
                      image_size, labels or label_format(data))
    folder = Path(folder) if folder is not None else cache_dir("features")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            labels = stored["labels"] if stored["has_labels"] else None
            return FeatureSet(stored["features"], labels, key, path, from_cache=True)
    if data is None:
        raise ValueError(
            f"No cached features for key {key} in {folder}, and no data to compute them "
            "from. Received: `data=None`; pass the split's images (or `tf.data` batches)."
        )
    features, labels = extract_features(model, data, batch_size, progress)
    # Written under a name of its own, then renamed: a half-written file never looks like
    # a cache hit, and two processes caching the same key do not write into one file.
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{key}.", suffix=".npz",
                                     delete=False) as staged:
        np.savez(staged, features=features, has_labels=labels is not None,
                 labels=labels if labels is not None else np.zeros(0))
    os.replace(staged.name, path)
    return FeatureSet(features, labels, key, path, from_cache=False)


def train_head_on_features(head, features: np.ndarray, labels: np.ndarray,
                           val: tuple[np.ndarray, np.ndarray] | None = None,
                           epochs: int = 10, batch_size: int = 32,
                           learning_rate: float = 1e-3, seed: int = 0,
                           loss: str | None = None, digits: int = 3, every: int = 1,
                           verbose: bool = True):
    """Compiles and trains a head `L` on cached features `h` (the base is not involved).

    Args:
        head: the head, e.g. `models.build_head(num_classes)`.
        features: training features `h`.
        labels: their labels, integers or one-hot.
        val: `(features, labels)` for validation, or `None`.
        epochs: epochs (default 10).
        batch_size: examples per step (default 32).
        learning_rate: Adam's learning rate (default 1e-3).
        seed: seeds the shuffling (default 0); the caller seeds the head's weights.
        loss: the loss; default: categorical cross-entropy for one-hot labels, sparse
            categorical cross-entropy for integers.
        digits: decimals of the printed metrics (default 3).
        every: print every `every`-th epoch and the last (default 1).
        verbose: print one line per epoch (default True).

    Returns:
        The `keras.callbacks.History`.

    Raises:
        ValueError: if features and labels differ in length.
    """
    import tensorflow as tf  # deferred: tf.data only here; Keras may run on another backend

    if len(features) != len(labels):
        raise ValueError(
            f"Received {len(features)} feature rows but {len(labels)} labels; pass one "
            "label per row."
        )
    labels = np.asarray(labels)
    if loss is None:
        loss = "categorical_crossentropy" if labels.ndim == 2 else "sparse_categorical_crossentropy"
    head.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss,
                 metrics=["accuracy"])
    train_ds = (tf.data.Dataset.from_tensor_slices((features, labels))
                .shuffle(len(features), seed=seed, reshuffle_each_iteration=True)
                .batch(batch_size))
    val_ds = tf.data.Dataset.from_tensor_slices(val).batch(256) if val is not None else None
    return fit(head, train_ds, val_ds, epochs=epochs, digits=digits, every=every,
               verbose=verbose)


def embed_2d(features: np.ndarray, method: str = "pca", seed: int = 0,
             perplexity: float = 30.0) -> np.ndarray:
    """Projects features to two dimensions with scikit-learn, to plot them.

    Feature maps are flattened first. t-SNE starts from the PCA projection (scikit-learn's
    `init="pca"`) and is seeded, so it repeats on one machine.

    Args:
        features: `h`, shape `(n, ...)`.
        method: `"pca"` (default; linear, keeps large distances) or `"tsne"` (non-linear,
            keeps neighbourhoods).
        seed: seeds t-SNE (default 0).
        perplexity: t-SNE's perplexity (default 30); must be below `n`.

    Returns:
        An array of shape `(n, 2)`.

    Raises:
        ValueError: for an unknown method.
    """
    flat = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if method == "pca":
        from sklearn.decomposition import PCA  # deferred: scikit-learn is slow to import

        return PCA(n_components=2, random_state=seed).fit_transform(flat)
    if method == "tsne":
        from sklearn.manifold import TSNE  # deferred: likewise

        return TSNE(n_components=2, init="pca", random_state=seed, learning_rate="auto",
                    perplexity=min(perplexity, (len(flat) - 1) / 3)).fit_transform(flat)
    raise ValueError(f"`method` must be 'pca' or 'tsne'. Received: `method={method!r}`.")


def linear_probe(features: np.ndarray, labels: np.ndarray, num_classes: int | None = None,
                 l2: float = 1.0, name: str = "linear_head"):
    """Fits a linear softmax head `y = softmax(W h + b)` on cached features, and returns it
    as a Keras model.

    The weights come from scikit-learn's multinomial `LogisticRegression` (L-BFGS,
    deterministic): the minimum of the cross-entropy plus an L2 penalty on `W`, which a
    Keras `Dense` softmax layer trained with the same penalty would approach, without
    the per-epoch overhead. Feature maps are flattened.

    Args:
        features: training features `h`, shape `(n, ...)`.
        labels: integer labels (or one-hot, turned into integers).
        num_classes: output classes (default: `labels.max() + 1`).
        l2: strength of the L2 penalty (scikit-learn's `C = 1 / l2`; default 1.0).
        name: the head's name.

    Returns:
        A `keras.Sequential` (`Flatten -> Dense(num_classes, softmax)`) holding `W`, `b`.

    Raises:
        ValueError: if features and labels differ in length, or a class has no example.
    """
    from sklearn.linear_model import LogisticRegression  # deferred: slow to import

    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    if len(features) != len(labels):
        raise ValueError(
            f"Received {len(features)} feature rows but {len(labels)} labels; pass one "
            "label per row."
        )
    num_classes = int(num_classes or labels.max() + 1)
    missing = sorted(set(range(num_classes)) - set(labels.tolist()))
    if missing:
        raise ValueError(
            f"Classes {missing} have no training example. Received labels "
            f"{sorted(set(labels.tolist()))}; give every class at least one example."
        )
    flat = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    # One BLAS thread: these fits are small, and on a busy machine the default threads
    # contend for the cores (one fit took 24 s instead of 0.9 s on two loaded cores).
    with threadpool_limits(limits=1):
        fitted = LogisticRegression(C=1.0 / l2, max_iter=5000).fit(flat, labels)
    coef, intercept = fitted.coef_, fitted.intercept_
    if num_classes == 2:  # scikit-learn keeps one row for two classes: w for class 1
        coef = np.concatenate([-coef / 2, coef / 2])
        intercept = np.concatenate([-intercept / 2, intercept / 2])
    head = keras.Sequential([
        keras.Input(np.shape(features)[1:]),
        keras.layers.Flatten(),
        keras.layers.Dense(num_classes, activation="softmax", name="classifier"),
    ], name=name)
    head.get_layer("classifier").set_weights([coef.T.astype("float32"),
                                              intercept.astype("float32")])
    return head


def files_digest(paths) -> str:
    """A SHA-256 hex digest of files' class folders, names and bytes, in the order given.

    Use it as the `data_id` of `cached_features` for an image folder: any renamed,
    added, removed, edited or re-labelled (moved to another class folder) image changes
    it.

    Args:
        paths: file paths, each inside its class folder.

    Returns:
        64 hex characters.
    """
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(f"{path.parent.name}/{path.name}|{path.stat().st_size}|".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
