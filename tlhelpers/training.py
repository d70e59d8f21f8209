"""Training and evaluation wrappers whose printed output is short and reproducible.

Keras' own progress bars print timings (`12ms/step`) that change from run to run; the
notebooks store their outputs, so training here reports one line per epoch, metrics
rounded, no timings.

Used by every chapter that trains a model.
"""

from __future__ import annotations

import json
import time

import keras
import numpy as np

from tlhelpers.models import unfreeze_blocks

__all__ = [
    "EpochLine",
    "EpochTimer",
    "LearningRateRangeTest",
    "StepTrainer",
    "accuracy",
    "check_classes",
    "data_classes",
    "distribution_strategy",
    "evaluate",
    "fine_tune",
    "fit",
    "lr_range_test",
    "merge_histories",
    "predict_classes",
    "to_numpy",
    "train_steps",
]


def to_numpy(x) -> np.ndarray:
    """A tensor of any backend (on the CPU or a GPU), or an array, as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


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
        every: int = 1, callbacks: list | None = None, verbose: bool = True,
        initial_epoch: int = 0, num_classes: int | None = None) -> keras.callbacks.History:
    """Trains a compiled model, printing one rounded line per epoch.

    Before training it checks that the model has one output per class of the data (see
    `check_classes`), so that a head built for another data set stops here, with both
    numbers, rather than deep inside the first batch.

    Args:
        model: a compiled model.
        train_ds: training batches.
        val_ds: validation batches, or `None`.
        epochs: number of epochs (default 1).
        digits: decimals of the printed metrics (default 3).
        every: print every `every`-th epoch and the last (default 1).
        callbacks: more Keras callbacks.
        verbose: print the epoch lines (default True).
        initial_epoch: the epoch to start at, as in Keras: `epochs` is then the epoch to
            stop at, counted from the first stage (default 0).
        num_classes: the data's number of classes, when `train_ds` does not say it
            (default None: read from the data, see `check_classes`).

    Returns:
        The `History`, as from `model.fit`.

    Raises:
        ValueError: before training, if the model's outputs and the data's classes differ
            in number.
    """
    check_classes(model, train_ds, num_classes)
    return model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        initial_epoch=initial_epoch,
        verbose=0,
        shuffle=False,  # the tf.data pipeline shuffles itself, with its own seed
        callbacks=[*([EpochLine(digits, every)] if verbose else []), *(callbacks or [])],
    )


def data_classes(ds) -> int | None:
    """How many classes a pipeline's labels stand for, where the pipeline says it.

    The pipelines of `tlhelpers.data` and `keras.utils.image_dataset_from_directory` carry
    their `class_names`; one-hot labels say it by their width. Integer labels without
    class names do not say it (counting them would mean reading the whole pipeline).

    Args:
        ds: a `tf.data` pipeline of `(inputs, labels)`, or anything else.

    Returns:
        The number of classes, or `None` where the pipeline does not say.
    """
    names = getattr(ds, "class_names", None)
    if names is not None:
        return len(names)
    spec = getattr(ds, "element_spec", None)
    if not isinstance(spec, tuple) or len(spec) < 2:
        return None
    shape, dtype = getattr(spec[1], "shape", None), getattr(spec[1], "dtype", None)
    if shape is None or dtype is None or shape.rank != 2 or dtype.is_integer:
        return None  # integer labels, or labels of unknown or other rank
    width = shape[-1]
    return int(width) if width is not None and width > 1 else None


def check_classes(model: keras.Model, ds, num_classes: int | None = None) -> None:
    """Stops when a classifier's outputs and the data's classes differ in number.

    Args:
        model: the classifier (one output unit per class; a model of one sigmoid unit is
            not checked).
        ds: the training data; its number of classes is read with `data_classes`.
        num_classes: the data's number of classes, if the data does not say it.

    Raises:
        ValueError: naming both numbers, and the fix.
    """
    classes = num_classes if num_classes is not None else data_classes(ds)
    try:
        units = model.output_shape[-1]
    except (AttributeError, ValueError):
        return  # not built yet: it gets its shape from the first batch, Keras checks then
    if classes is None or not isinstance(units, int) or units < 2 or units == classes:
        return
    names = getattr(ds, "class_names", None)
    listed = f" ({', '.join(names)})" if names is not None and len(names) <= 20 else ""
    raise ValueError(
        f"The model {model.name!r} predicts {units} classes, but the data has {classes}"
        f"{listed}. Build the head with `num_classes=len(class_names)`."
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


def predict_classes(model: keras.Model, ds, max_images: int | None = None,
                    return_probs: bool = False) -> tuple[np.ndarray, ...]:
    """Runs a classifier over a data set and returns images, true and predicted labels.

    Args:
        model: a classifier with one output unit per class.
        ds: batches of `(images, labels)`; labels are integers or one-hot.
        max_images: stop after this many images (default: all).
        return_probs: also return the predicted probabilities, from the same pass
            (default False).

    Returns:
        `(images, y_true, y_pred)`: the images as a NumPy array, and integer labels;
        with `return_probs=True`, `(images, y_true, y_pred, probs)`.
    """
    images, y_true, probs = [], [], []
    seen = 0
    for batch_images, batch_labels in ds:
        labels = to_numpy(batch_labels)
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
        images.append(to_numpy(batch_images))
        y_true.append(labels)
        probs.append(to_numpy(model.predict_on_batch(batch_images)))
        seen += len(labels)
        if max_images is not None and seen >= max_images:
            break
    stop = max_images if max_images is not None else seen
    probs = np.concatenate(probs)[:stop]
    result = (np.concatenate(images)[:stop], np.concatenate(y_true)[:stop], probs.argmax(axis=1))
    return (*result, probs) if return_probs else result


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray,
             batch_size: int = 500) -> float:
    """The share of images a classifier gets right, calling it directly in inference mode.

    Faster than `model.evaluate` for many small models in a loop (no compiled loss or
    metrics, no `predict` machinery): the model is called batch by batch with
    `training=False`.

    Args:
        model: a classifier with one output unit per class.
        images: the images (or features), as an array.
        labels: integer labels, or one-hot rows.
        batch_size: images per call (default 500).

    Returns:
        The accuracy, between 0 and 1.

    Raises:
        ValueError: if images and labels differ in length, or there are none.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    if len(images) != len(labels) or not len(labels):
        raise ValueError(
            f"Received {len(images)} images and {len(labels)} labels; pass one label per "
            "image, and at least one image."
        )
    predicted = np.concatenate([
        to_numpy(model(images[start:start + batch_size], training=False)).argmax(axis=-1)
        for start in range(0, len(images), batch_size)
    ])
    return float(np.mean(predicted == labels))


def train_steps(model: keras.Model, images: np.ndarray, labels: np.ndarray, steps: int,
                seed: int, batch_size: int = 32) -> keras.callbacks.History:
    """Trains a compiled model for a fixed number of steps, however few the images.

    With few labelled images an "epoch" is a handful of steps, so budgets are counted in
    steps: the images are reshuffled (seeded) and repeated as often as needed, and
    `steps` batches of `batch_size` are drawn. Nothing is printed.

    Args:
        model: a compiled model.
        images: the training images (or features).
        labels: their labels, in the format the model's loss expects.
        steps: how many batches to train on.
        seed: seeds the shuffling.
        batch_size: images per step (default 32).

    Returns:
        The `History` of the one long epoch.

    Raises:
        ValueError: if `steps` is not positive, or images and labels differ in length.
    """
    import tensorflow as tf  # deferred: TensorFlow's own API; Keras may run on another backend

    if steps < 1 or len(images) != len(labels) or not len(images):
        raise ValueError(
            f"Received `steps={steps}`, {len(images)} images and {len(labels)} labels; "
            "pass at least one step and one label per image."
        )
    batches = (tf.data.Dataset.from_tensor_slices((images, labels))
               .shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
               .batch(batch_size).take(steps))
    return model.fit(batches, epochs=1, verbose=0, shuffle=False)


def fine_tune(model: keras.Model, base_model: keras.Model, blocks, train_ds, val_ds=None,
              epochs: int = 5, initial_epoch: int = 0, learning_rate: float = 1e-5,
              loss: str = "categorical_crossentropy", verbose: bool = True,
              callbacks: list | None = None) -> keras.callbacks.History:
    """Stage 2 of the two-stage recipe: unfreeze the top blocks, recompile, train on.

    The plain Keras it wraps: `models.unfreeze_blocks(base_model, blocks)` (every
    BatchNormalization layer stays frozen), then `model.compile(...)` with Adam at a low
    learning rate (recompiling is what makes the new `trainable` flags count; the
    weights are kept), then `fit(..., initial_epoch=...)`, so that the epochs continue
    stage 1's numbering.

    Args:
        model: the model trained in stage 1 (base frozen, head trained).
        base_model: its pretrained base.
        blocks: the blocks to unfreeze, e.g. `["block5"]` (see `models.layer_blocks`).
        train_ds: training batches.
        val_ds: validation batches, or `None`.
        epochs: how many epochs stage 2 adds (default 5).
        initial_epoch: the epochs stage 1 ran (default 0).
        learning_rate: Adam's learning rate, 10x or more below stage 1's (default 1e-5).
        loss: a loss that matches the output activation (default categorical
            cross-entropy, for a softmax output and one-hot labels).
        verbose: print one line per epoch (default True).
        callbacks: more Keras callbacks.

    Returns:
        The `History` of stage 2 (its epochs numbered after stage 1's).
    """
    unfreeze_blocks(base_model, blocks)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss,
                  metrics=["accuracy"])
    return fit(model, train_ds, val_ds, epochs=initial_epoch + epochs,
               initial_epoch=initial_epoch, verbose=verbose, callbacks=callbacks)


def merge_histories(*histories) -> dict[str, list[float]]:
    """Joins the histories of consecutive stages into one, epoch after epoch.

    Args:
        *histories: `keras.callbacks.History` objects (or their `.history` dicts), in
            order.

    Returns:
        `{metric: values}` over all stages; `plots.plot_history` draws it, with
        `stage_starts` marking where each later stage began.

    Raises:
        ValueError: if the stages recorded different metrics.
    """
    logs = [getattr(h, "history", h) for h in histories]
    keys = [sorted(k for k in log if k != "learning_rate") for log in logs]
    if any(k != keys[0] for k in keys):
        raise ValueError(f"The stages recorded different metrics. Received: {keys}.")
    return {key: [float(v) for log in logs for v in log[key]] for key in keys[0]}


class LearningRateRangeTest(keras.callbacks.Callback):
    """The learning-rate range test (Smith, 2017; fastai's `lr_find`) as a Keras callback.

    From `start` to `stop`, the learning rate grows by the same factor after every
    batch, over `steps` batches, while the callback records the training loss. The loss
    first barely moves (the rate is too small to learn), then falls (it learns), then
    rises and explodes (too large). Training stops early once the smoothed loss exceeds
    `diverge` times its lowest value (checked from the tenth of `steps` on, as the first
    batches' losses are noisy). A good rate lies on the falling stretch, below the
    minimum: `suggestion()` gives the rate where the smoothed loss falls fastest (from
    the same tenth of `steps` on: at the first rates nothing is learnt yet, and a fall
    there is the noise of one batch against the next).

    Use it through `lr_range_test`, which keeps the model's weights as they were; used as a
    plain callback, it leaves the model trained at every rate it tried.

    Args:
        start: the first learning rate (default 1e-7).
        stop: the last learning rate (default 10).
        steps: the batches from `start` to `stop` (default 100).
        smoothing: the weight of the past in the loss's exponential moving average
            (default 0.9; 0 records the raw loss).
        diverge: stop when the smoothed loss exceeds this multiple of its lowest value
            (default 4).

    Attributes:
        learning_rates: the rate of each batch trained.
        losses: the smoothed loss after each of those batches (bias-corrected).
        raw_losses: the loss of each batch.
    """

    def __init__(self, start: float = 1e-7, stop: float = 10.0, steps: int = 100,
                 smoothing: float = 0.9, diverge: float = 4.0):
        super().__init__()
        if not 0 < start < stop or steps < 2 or not 0 <= smoothing < 1 or diverge <= 1:
            raise ValueError(
                "Need 0 < start < stop, steps >= 2, 0 <= smoothing < 1 and diverge > 1. "
                f"Received: start={start}, stop={stop}, steps={steps}, "
                f"smoothing={smoothing}, diverge={diverge}."
            )
        self.start, self.stop, self.steps = float(start), float(stop), int(steps)
        self.smoothing, self.diverge = float(smoothing), float(diverge)
        self._settled = max(3, self.steps // 10)  # the first batches' losses are noisy
        self.learning_rates: list[float] = []
        self.losses: list[float] = []
        self.raw_losses: list[float] = []
        self._average = self._epoch_mean = 0.0

    def _rate(self, step: int) -> float:
        return self.start * (self.stop / self.start) ** (step / (self.steps - 1))

    def on_train_begin(self, logs=None):
        self.learning_rates, self.losses, self.raw_losses = [], [], []
        self._average = self._epoch_mean = 0.0
        _set_learning_rate(self.model.optimizer, self._rate(0))

    def on_train_batch_end(self, batch, logs=None):
        step = len(self.learning_rates)
        # Keras reports the mean loss of the epoch so far; this batch's own loss is the
        # difference (exact for batches of one size; `lr_range_test` runs one batch per
        # epoch, where the mean is the batch's loss).
        mean = float((logs or {})["loss"])
        loss = mean if batch == 0 else (batch + 1) * mean - batch * self._epoch_mean
        self._epoch_mean = mean
        self.learning_rates.append(self._rate(step))
        self.raw_losses.append(loss)
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        smoothed = self._average / (1 - self.smoothing ** (step + 1))
        self.losses.append(smoothed)
        exploded = step >= self._settled and smoothed > self.diverge * min(self.losses)
        if not np.isfinite(smoothed) or exploded or step + 1 >= self.steps:
            self.model.stop_training = True
            return
        self.model.optimizer.learning_rate = self._rate(step + 1)

    def suggestion(self) -> float:
        """The learning rate where the smoothed loss fell fastest, per unit of log(rate),
        before its minimum.

        The first tenth of `steps` (at least 3 batches) is left out where the minimum
        comes later: at those rates the model learns nothing yet, and a fall of the loss
        there is the noise of one batch against the next, not learning (fastai v1's
        `Recorder.plot(suggestion=True)` leaves out its first 10 batches too).

        Returns:
            A learning rate.

        Raises:
            ValueError: when fewer than 3 batches were recorded.
        """
        if len(self.losses) < 3:
            raise ValueError(
                f"The range test recorded {len(self.losses)} batches; it needs at least 3. "
                "Run it longer (more `steps`, or data of more batches)."
            )
        losses = np.asarray(self.losses)
        lowest = int(np.nanargmin(losses))
        first = min(self._settled, max(lowest - 2, 0))  # at least 3 points to compare
        end = max(lowest, first + 2) + 1
        slopes = np.gradient(losses[first:end], np.log(self.learning_rates[first:end]))
        return float(self.learning_rates[first + int(np.nanargmin(slopes))])


def _set_learning_rate(optimizer, rate: float) -> None:
    try:
        optimizer.learning_rate = rate
    except TypeError:  # Keras' answer for an optimizer built with a schedule
        raise ValueError(
            "The range test sets the optimizer's learning rate batch by batch, which a "
            "schedule does not allow. Compile the model with a number, e.g. "
            "`keras.optimizers.Adam(1e-3)`."
        ) from None


def lr_range_test(model: keras.Model, train_ds, start: float = 1e-7, stop: float = 10.0,
                  steps: int = 100, **kwargs) -> LearningRateRangeTest:
    """Runs the learning-rate range test on a compiled model, then puts it back as it was.

    The model trains for at most `steps` batches (the data is repeated if it has fewer),
    each at a larger learning rate (`LearningRateRangeTest`); afterwards its weights and
    its optimizer's variables are what they were before, so it can then be trained at
    the rate the test suggests.

    Args:
        model: a compiled model; its optimizer's learning rate must be a number.
        train_ds: training batches (a `tf.data` pipeline).
        start: the first learning rate (default 1e-7).
        stop: the last learning rate (default 10).
        steps: at most this many batches (default 100).
        **kwargs: `smoothing`, `diverge` (see `LearningRateRangeTest`).

    Returns:
        The callback, with `learning_rates`, `losses` and `suggestion()`;
        `plots.plot_lr_range_test` draws it.
    """
    test = LearningRateRangeTest(start, stop, steps, **kwargs)
    weights = [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]
    optimizer = model.optimizer
    before = {id(v): np.array(keras.ops.convert_to_numpy(v)) for v in optimizer.variables}
    rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    _set_learning_rate(optimizer, rate)  # a schedule stops here, before any training
    try:  # one batch per epoch: Keras then reports each batch's own loss
        model.fit(train_ds.repeat(), steps_per_epoch=1, epochs=steps, verbose=0,
                  shuffle=False, callbacks=[test])
    finally:
        for variable, value in zip(model.weights, weights, strict=True):
            variable.assign(value)
        for variable in optimizer.variables:  # created during the test: a fresh state
            variable.assign(before.get(id(variable), np.zeros(variable.shape,
                                                              variable.dtype)))
        optimizer.learning_rate = rate
    return test


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
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def distribution_strategy(devices: list[str] | None = None):
    """Returns how to spread training over the machine's accelerators (TensorFlow backend).

    With more than one GPU visible this is `tf.distribute.MirroredStrategy()`, which
    trains one copy of the model per GPU on its share of every batch and adds up their
    gradients (data parallelism); otherwise TensorFlow's default strategy, which runs
    everything as usual. Build and compile the model inside the strategy's scope, then
    fit as usual:

    ```python
    strategy = training.distribution_strategy()
    with strategy.scope():
        model = models.assemble(base_model, head, mode)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
    batch_size = cfg.batch_size * strategy.num_replicas_in_sync  # the same per GPU
    ```

    A batch of a `tf.data` pipeline is split between the copies, so a batch size of
    `cfg.batch_size * strategy.num_replicas_in_sync` keeps each GPU's share as it was
    (raise the learning rate with it, or leave the batch as it is).

    Args:
        devices: the devices to mirror the model on, e.g. `["/gpu:0", "/gpu:1"]`, or
            `["/cpu:0", "/cpu:1"]` on a CPU split into two logical devices (the tests do
            that). Default `None`: every visible GPU when there are two or more.

    Returns:
        A `tf.distribute.Strategy`; its `num_replicas_in_sync` says over how many devices.

    Raises:
        ValueError: if `devices` is not a non-empty list of device names, or the Keras
            backend is not TensorFlow (`tf.distribute` is TensorFlow's; Keras 3's own
            `keras.distribution` serves JAX).
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"`distribution_strategy` needs the TensorFlow backend. Received: backend "
            f"{backend!r}. Set KERAS_BACKEND=tensorflow, or use `keras.distribution` with JAX."
        )
    import tensorflow as tf  # deferred: TensorFlow's own API; Keras may run on another backend

    if devices is not None:
        if (isinstance(devices, str) or not isinstance(devices, list | tuple) or not devices
                or not all(isinstance(d, str) for d in devices)):
            raise ValueError(
                "`devices` must be a non-empty list of device names such as "
                f"['/gpu:0', '/gpu:1']. Received: `devices={devices!r}`."
            )
        return tf.distribute.MirroredStrategy(list(devices))
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


class StepTrainer:
    """Trains many small networks with `train_steps`, tracing each kind's step only once.

    The first `fit` of a compiled Keras model traces its training step into a TensorFlow
    graph. For a small CNN on a CPU that costs about a third of a second, more than
    training it for a hundred small steps, so an experiment that trains dozens of fresh
    networks (one per seed, label count and recipe) spends most of its time tracing.
    A `StepTrainer` keeps one compiled twin (`keras.models.clone_model`) per kind of
    network: the same layers, configurations and frozen layers. `train_steps(network,
    ...)` copies the network's weights into its twin, puts the twin's optimizer back in
    its freshly built state (step 0, no moments), trains the twin with `train_steps`
    and copies the weights back. The result is what compiling `network` itself with
    `Adam(learning_rate)` and `loss` and calling `train_steps` would give, up to float
    rounding.

    Args:
        learning_rate: Adam's learning rate.
        loss: the loss (default sparse categorical cross-entropy, for integer labels).

    Raises:
        ValueError: for a learning rate that is not positive.
    """

    def __init__(self, learning_rate: float, loss: str = "sparse_categorical_crossentropy"):
        if not learning_rate > 0:
            raise ValueError(
                f"`learning_rate` must be positive. Received: `learning_rate={learning_rate}`."
            )
        self.learning_rate = float(learning_rate)
        self.loss = loss
        self._twins: dict[str, tuple[keras.Model, list[np.ndarray]]] = {}

    @property
    def num_compiled(self) -> int:
        """How many twins were compiled (one per kind of network trained so far)."""
        return len(self._twins)

    def train_steps(self, network: keras.Model, images: np.ndarray, labels: np.ndarray,
                    steps: int, seed: int, batch_size: int = 32) -> keras.Model:
        """Trains `network` in place as `train_steps` would after compiling it.

        Args:
            network: a built network; its frozen layers (`trainable = False`) stay frozen.
            images: the training images (or features).
            labels: their labels, in the format `loss` expects.
            steps: how many batches to train on.
            seed: seeds the shuffling.
            batch_size: images per step (default 32).

        Returns:
            `network`, with its trained weights.

        Raises:
            ValueError: as `train_steps` does.
        """
        key = _kind_of(network)
        if key not in self._twins:
            twin = keras.models.clone_model(network)
            twin.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss=self.loss)
            # Adam's slots are created now rather than inside the traced step, which
            # would otherwise be traced twice.
            twin.optimizer.build(twin.trainable_variables)
            start = [to_numpy(v) for v in twin.optimizer.variables]
            self._twins[key] = (twin, start)
        twin, start = self._twins[key]
        twin.set_weights(network.get_weights())
        for variable, value in zip(twin.optimizer.variables, start, strict=True):
            variable.assign(value)
        train_steps(twin, images, labels, steps, seed, batch_size)
        network.set_weights(twin.get_weights())
        return network


def _kind_of(network: keras.Model) -> str:
    """What a twin must share with `network`: input shape, layer configs (names aside)."""
    layers = [{key: value for key, value in layer.get_config().items() if key != "name"}
              | {"class": type(layer).__name__, "trainable": layer.trainable}
              for layer in network.layers]
    return json.dumps([str(network.input_shape), layers], sort_keys=True, default=str)
