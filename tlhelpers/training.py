"""Training and evaluation wrappers whose printed output is short and reproducible.

Keras' own progress bars print timings (`12ms/step`) that change from run to run; the
notebooks store their outputs, so training here reports one line per epoch, metrics
rounded, no timings.

Used by every chapter that trains a model.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = [
    "EpochLine",
    "EpochTimer",
    "evaluate",
    "fit",
    "predict_classes",
]


class EpochLine(keras.callbacks.Callback):
    """Prints one line per epoch: the metrics rounded to `digits`, no timings.

    Args:
        digits: decimals of each metric (default 3).
        every: print every `every`-th epoch, and the last (default 1).
    """

    def __init__(self, digits: int = 3, every: int = 1):
        super().__init__()
        self.digits = digits
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        total = self.params.get("epochs", epoch + 1)
        if (epoch + 1) % self.every and epoch + 1 != total:
            return
        parts = [f"{key} {value:.{self.digits}f}" for key, value in (logs or {}).items()
                 if key != "learning_rate"]
        print(f"epoch {epoch + 1:>2}/{total}: " + "  ".join(parts))


def fit(model: keras.Model, train_ds, val_ds=None, epochs: int = 1, digits: int = 3,
        every: int = 1, callbacks: list | None = None, verbose: bool = True
        ) -> keras.callbacks.History:
    """Trains a compiled model, printing one rounded line per epoch.

    Args:
        model: a compiled model.
        train_ds: training batches.
        val_ds: validation batches, or `None`.
        epochs: number of epochs (default 1).
        digits: decimals of the printed metrics (default 3).
        every: print every `every`-th epoch and the last (default 1).
        callbacks: more Keras callbacks.
        verbose: print the epoch lines (default True).

    Returns:
        The `History`, as from `model.fit`.

    Raises:
        ValueError: if the labels' number of classes differs from the model's outputs.
    """
    _check_label_width(model, train_ds)
    return model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        verbose=0,
        shuffle=False,  # the tf.data pipeline shuffles itself, with its own seed
        callbacks=[*([EpochLine(digits, every)] if verbose else []), *(callbacks or [])],
    )


def _check_label_width(model: keras.Model, ds) -> None:
    """Stops before training when one-hot labels and the model's outputs disagree."""
    spec = getattr(ds, "element_spec", None)
    if not isinstance(spec, tuple) or len(spec) < 2 or spec[1].shape.rank != 2:
        return  # integer labels, or not a tf.data pipeline: Keras checks at the first batch
    try:
        units = model.output_shape[-1]
    except (AttributeError, ValueError):
        return  # not built yet: it gets its shape from the first batch, Keras checks then
    classes = spec[1].shape[-1]
    if classes is not None and units is not None and classes != units:
        raise ValueError(
            f"The model {model.name!r} predicts {units} classes, but the data has "
            f"{classes} (one-hot labels of width {classes}). Build the head with "
            "`num_classes=len(class_names)`."
        )


def evaluate(model: keras.Model, ds) -> dict[str, float]:
    """Evaluates a compiled model on a data set, silently.

    Args:
        model: a compiled model.
        ds: batches of `(images, labels)`.

    Returns:
        The metrics by name, e.g. `{"loss": ..., "accuracy": ...}`.
    """
    return {k: float(v) for k, v in model.evaluate(ds, verbose=0, return_dict=True).items()}


def predict_classes(model: keras.Model, ds, max_images: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs a classifier over a data set and returns images, true and predicted labels.

    Args:
        model: a classifier with one output unit per class.
        ds: batches of `(images, labels)`; labels are integers or one-hot.
        max_images: stop after this many images (default: all).

    Returns:
        `(images, y_true, y_pred)`: the images as a NumPy array, and integer labels.
    """
    images, y_true, y_pred = [], [], []
    seen = 0
    for batch_images, batch_labels in ds:
        probs = model.predict_on_batch(batch_images)
        labels = np.asarray(batch_labels)
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
        images.append(np.asarray(batch_images))
        y_true.append(labels)
        y_pred.append(np.asarray(probs).argmax(axis=1))
        seen += len(labels)
        if max_images is not None and seen >= max_images:
            break
    stop = max_images if max_images is not None else seen
    return (np.concatenate(images)[:stop], np.concatenate(y_true)[:stop],
            np.concatenate(y_pred)[:stop])


class EpochTimer(keras.callbacks.Callback):
    """Records how many seconds each epoch of `fit` takes (in `seconds`), printing nothing.

    Timings vary from run to run and machine to machine: show them in a notebook cell
    whose output is not compared, and assert only what must hold.
    """

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        import time

        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        import time

        self.seconds.append(time.perf_counter() - self._start)
