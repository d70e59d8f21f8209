"""Feature extraction `h = M(x)`, cached on disk, and heads `y = L(h)` trained on it.

When the base `M` is frozen, `h = M(x)` never changes from one epoch to the next: it can
be computed once for a whole split, saved, and every epoch of head training then costs
only the small head `L`. The cache file is named by a hash of everything that changes
`h`: the model (its name and the bytes of its weights), the data, the preprocessing and
the image size. Change any of them and the key changes, so a stale file is never read.

What caching rules out: fresh random augmentation every epoch (each cached `h` belongs
to one fixed version of each image).

Used by the feature-extraction chapter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = [
    "FeatureSet",
    "array_digest",
    "cached_features",
    "embed_2d",
    "extract_features",
    "feature_extractor",
    "feature_key",
    "files_digest",
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
                image_size: tuple[int, ...]) -> str:
    """The cache key of `h = M(x)`: a hash of what determines it.

    Args:
        model_name: the base's name (e.g. `"mobilenet_0.25_96"`).
        weights: a digest of its weights (`weights_digest(model)`).
        data: a digest or name of the data (e.g. `array_digest(x)` or a file list hash).
        preprocessing: how pixels are scaled before the base (e.g. `"tf"`).
        image_size: the input size, `(height, width)`.

    Returns:
        24 hex characters.
    """
    text = "|".join([model_name, weights, data, preprocessing, "x".join(map(str, image_size))])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


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
    import keras

    from tlhelpers.models import Preprocess

    inputs = keras.Input(shape=base_model.input_shape[1:], name="image")
    x = Preprocess(preprocess_mode, name="preprocess")(inputs)
    return keras.Model(inputs, base_model(x, training=False), name=name)


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
            yield np.asarray(batch[0]), np.asarray(batch[1]) if len(batch) > 1 else None
        else:
            yield np.asarray(batch), None


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
    from tqdm import tqdm

    features, labels = [], []
    # mininterval: a stored notebook keeps every redraw of the bar; few redraws, short output
    bar = tqdm(total=_num_batches(data, batch_size), desc=desc, unit="batch",
               disable=not progress, file=sys.stderr, mininterval=1.0)
    for images, batch_labels in _batches(data, batch_size):
        features.append(np.asarray(model(images, training=False)))
        if batch_labels is not None:
            labels.append(np.asarray(batch_labels))
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
                    progress: bool = True, model_name: str | None = None) -> FeatureSet:
    """Returns `h = M(x)` for a split, from the disk cache if present, else computed and saved.

    Args:
        model: the frozen feature extractor `M`.
        data: the split (see `extract_features`); it is only read on a cache miss, and
            may be `None` when the features are known to be cached.
        data_id: what identifies the data, e.g. `array_digest(images)` or
            `"fashion-mnist-tiny/test"` plus a hash of its files.
        preprocessing: how the pixels are scaled inside `M` (part of the key).
        folder: the cache folder (default `tlhelpers.config.cache_dir("features")`).
        batch_size: images per call when `data` holds arrays (default 64).
        progress: show a progress bar while extracting (default True).
        model_name: the name in the key (default `model.name`).

    Returns:
        A `FeatureSet`; `from_cache` says whether the file was read.

    Raises:
        ValueError: on a cache miss with `data=None`.
    """
    from tlhelpers.config import cache_dir

    image_size = tuple(model.input_shape[1:3])
    key = feature_key(model_name or model.name, weights_digest(model), data_id, preprocessing,
                      image_size)
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
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=features, has_labels=labels is not None,
             labels=labels if labels is not None else np.zeros(0))
    os.replace(tmp, path)  # a half-written file never looks like a cache hit
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
    import keras
    import tensorflow as tf

    from tlhelpers.training import fit

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
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(flat)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, init="pca", random_state=seed, learning_rate="auto",
                    perplexity=min(perplexity, (len(flat) - 1) / 3)).fit_transform(flat)
    raise ValueError(f"`method` must be 'pca' or 'tsne'. Received: `method={method!r}`.")


def linear_probe(features: np.ndarray, labels: np.ndarray, num_classes: int | None = None,
                 l2: float = 1.0, name: str = "linear_head"):
    """Fits a linear softmax head `y = softmax(W h + b)` on cached features, and returns it
    as a Keras model.

    The weights come from scikit-learn's multinomial `LogisticRegression` (L-BFGS,
    deterministic, a fraction of a second on a few thousand rows), so the result is the
    same `L` that gradient descent in Keras would approach, without its per-epoch
    overhead. Feature maps are flattened.

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
    import keras
    from sklearn.linear_model import LogisticRegression

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
    """A SHA-256 hex digest of files' names and bytes, in the order given.

    Use it as the `data_id` of `cached_features` for an image folder: any renamed,
    added, removed or edited image changes it.

    Args:
        paths: file paths.

    Returns:
        64 hex characters.
    """
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(f"{path.name}|{path.stat().st_size}|".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
