"""Pretrained bases, classification heads, freezing, and the assembled model.

The model every chapter builds is

    raw pixels in [0, 255] -> Preprocess (the base's own input scaling)
        -> base_model(x, training=False)  # h = M(x)
        -> head                           # y = L(h)

What keeps the base's BatchNormalization layers in inference mode is `trainable =
False` on those layers, not the `training=False` of that call. In Keras 3 a functional
model called with `training=True` (as `fit` does) passes that value to the models
inside it, overriding the `training=False` recorded when it was built; a
BatchNormalization layer whose `trainable` is False runs in inference mode whatever it
is told (chapter 1 measures both; keras-team/keras#20285). So `freeze` freezes every
layer, `unfreeze_top` never unfreezes a BatchNormalization layer, and `snapshot_weights`
checks after training that what should not move did not move.

Used by every chapter that builds a model.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Callable, Sequence

import keras
import numpy as np

from tlhelpers.downloads import explain_download_failures, verify_cached_weights

__all__ = [
    "BASES",
    "BaseSpec",
    "Preprocess",
    "assemble",
    "build_base",
    "build_head",
    "count_params",
    "freeze",
    "layer_blocks",
    "snapshot_weights",
    "trainable_table",
    "unfreeze_blocks",
    "unfreeze_top",
    "WeightChange",
    "WeightSnapshot",
]


@dataclasses.dataclass(frozen=True)
class BaseSpec:
    """A pretrained base the book knows by name.

    Args:
        name: the key in `BASES`.
        title: how people call it.
        constructor: the `keras.applications` function.
        kwargs: extra keyword arguments for the constructor (e.g. `alpha`).
        preprocess_mode: the input scaling its ImageNet weights expect (`"tf"`: to
            [-1, 1]; `"caffe"`: RGB to BGR, minus the ImageNet mean).
        min_size: the smallest input side it accepts.
        weights_file: the name of its no-top ImageNet weights in `$KERAS_HOME/models`
            (at the default input size).
    """

    name: str
    title: str
    constructor: Callable[..., keras.Model]
    kwargs: dict
    preprocess_mode: str
    min_size: int
    weights_file: str


BASES: dict[str, BaseSpec] = {
    "mobilenet_025": BaseSpec(
        name="mobilenet_025",
        title="MobileNet (alpha=0.25)",
        constructor=keras.applications.MobileNet,
        kwargs={"alpha": 0.25},
        preprocess_mode="tf",
        min_size=32,
        weights_file="mobilenet_2_5_224_tf_no_top.h5",
    ),
    "vgg16": BaseSpec(
        name="vgg16",
        title="VGG16",
        constructor=keras.applications.VGG16,
        kwargs={},
        preprocess_mode="caffe",
        min_size=32,
        weights_file="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
}

_IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
# What keras.applications.MobileNet says when it loads the 224 x 224 weights at another
# size (a regular expression, as `warnings.filterwarnings` reads it).
_DEFAULT_SIZE_WARNING = r"`input_shape` is undefined or non-square, or `rows` is not in"


def Preprocess(mode: str, name: str = "preprocess") -> keras.layers.Layer:
    """The layer that scales raw RGB pixels in [0, 255] the way a base's ImageNet
    weights expect: standard Keras layers, so that a saved model loads with plain
    `keras.models.load_model` (no `tlhelpers` needed) and takes raw images.

    (A function, spelt like the layer it returns, as `keras.Input` is.)

    - `"tf"` (MobileNet): `x / 127.5 - 1`, to [-1, 1]: `keras.layers.Rescaling(1 / 127.5,
      offset=-1)`.
    - `"caffe"` (VGG16): RGB to BGR, minus the ImageNet channel means: a frozen
      `keras.layers.Dense(3)` applied to the colour axis, its kernel the matrix that swaps
      the first and third channels, its bias minus the means.

    The same arithmetic as `keras.applications.<model>.preprocess_input`, computed in
    float32 even under a mixed-precision policy.

    Args:
        mode: `"tf"` or `"caffe"` (`BASES[name].preprocess_mode`).
        name: the layer's name (default `"preprocess"`).

    Returns:
        A Keras layer.

    Raises:
        ValueError: for another mode.
    """
    if mode == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, dtype="float32", name=name)
    if mode == "caffe":
        swap = np.eye(3, dtype="float32")[::-1]  # column j takes input channel 2 - j
        return keras.layers.Dense(
            3, trainable=False, dtype="float32", name=name,
            kernel_initializer=keras.initializers.Constant(swap),
            bias_initializer=keras.initializers.Constant(
                -np.asarray(_IMAGENET_MEAN_BGR, dtype="float32")))
    raise ValueError(f"`mode` must be 'tf' or 'caffe'. Received: `mode={mode!r}`.")


def build_base(
    name: str,
    input_shape: tuple[int, int, int],
    weights: str | None = "imagenet",
) -> keras.Model:
    """Builds a convolutional base without its ImageNet classifier (`include_top=False`).

    This calls `keras.applications.<Model>(include_top=False, weights=weights, ...)`,
    exactly as in Colab; the weights come from the Keras cache or are downloaded.

    Keras warns each time MobileNet is built at a size it has no weights of its own for
    (any side but 128, 160, 192 or 224): it loads those made for 224 x 224, which is what
    the book wants, since convolution filters apply at any size (chapter 1 shows the
    warning once, where it calls `keras.applications.MobileNet` itself). Here that one
    warning is not repeated; any other warning shows as usual.

    Args:
        name: a key of `BASES` (`"mobilenet_025"` or `"vgg16"`).
        input_shape: `(height, width, 3)`; every side at least the base's minimum (32).
        weights: `"imagenet"` (default) or `None` for random weights.

    Returns:
        The base, a `keras.Model`, named after the architecture.

    Raises:
        ValueError: for an unknown name or an input smaller than the base accepts.
        tlhelpers.downloads.WeightsUnavailableError: when the weights are not cached and
            cannot be downloaded; the message names the file, URL, cache path and fix.
    """
    if name not in BASES:
        known = ", ".join(repr(key) for key in BASES)
        raise ValueError(f"Unknown base. Received: `name={name!r}`. Use one of {known}.")
    spec = BASES[name]
    if len(input_shape) != 3 or input_shape[2] != 3 or min(input_shape[:2]) < spec.min_size:
        raise ValueError(
            f"{spec.title} needs RGB inputs of at least {spec.min_size}x{spec.min_size}. "
            f"Received: `input_shape={input_shape!r}`. Resize the images (the profile's "
            "`image_size`) or convert them to RGB."
        )
    if weights == "imagenet":
        verify_cached_weights(spec.weights_file)
    with explain_download_failures(f"ImageNet weights of {spec.title}"), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEFAULT_SIZE_WARNING, category=UserWarning)
        return spec.constructor(
            include_top=False, weights=weights, input_shape=tuple(input_shape), **spec.kwargs
        )


def build_head(
    num_classes: int,
    hidden_units: int = 256,
    dropout: float = 0.0,
    pooling: str = "flatten",
    name: str = "head",
    activation: str | None = "softmax",
) -> keras.Sequential:
    """Builds a classification head `L`: pooling, one hidden layer, softmax.

    With the defaults this is the head of the article's nine steps (chapter 1):
    `Flatten -> Dense(256, relu) -> Dense(num_classes, softmax)`; its VGG16 case study
    (chapter 3) uses `hidden_units=1024`.

    Args:
        num_classes: output classes; derive it from the data (`len(class_names)`).
        hidden_units: units of the hidden `Dense` layer; 0 for none (a linear head).
        dropout: dropout rate before the output layer (default 0).
        pooling: `"flatten"` (default) or `"avg"` (`GlobalAveragePooling2D`).
        name: the head's name.
        activation: the output layer's activation: `"softmax"` (default: probabilities,
            for a loss with `from_logits=False`) or `None` (logits, for a loss with
            `from_logits=True`, as the keras.io guide's heads).

    Returns:
        An unbuilt `keras.Sequential`; it is built on its first call.

    Raises:
        ValueError: for fewer than two classes, an unknown pooling or activation.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            "A classifier needs at least two classes. Received: "
            f"`num_classes={num_classes!r}`. Use `len(class_names)` of the data."
        )
    pool_layers = {"flatten": keras.layers.Flatten, "avg": keras.layers.GlobalAveragePooling2D}
    if pooling not in pool_layers:
        raise ValueError(f"`pooling` must be 'flatten' or 'avg'. Received: `pooling={pooling!r}`.")
    if activation not in ("softmax", None):
        raise ValueError("`activation` must be 'softmax' (probabilities) or None (logits). "
                         f"Received: `activation={activation!r}`.")
    layers = [pool_layers[pooling]()]
    if hidden_units:
        layers.append(keras.layers.Dense(hidden_units, activation="relu"))
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    # float32 output even under a mixed-precision policy: a float16 softmax loses
    # small probabilities (Keras' mixed-precision guide)
    layers.append(keras.layers.Dense(num_classes, activation=activation, dtype="float32"))
    return keras.Sequential(layers, name=name)


def freeze(model: keras.Model) -> keras.Model:
    """Freezes every weight of `model` (`model.trainable = False`) and returns it."""
    model.trainable = False
    return model


def unfreeze_top(base_model: keras.Model, num_layers: int, verbose: bool = False) -> list[str]:
    """Unfreezes the top `num_layers` layers of a base for fine-tuning.

    BatchNormalization layers stay frozen (`trainable = False`), which also keeps them in
    inference mode during `fit`: their moving statistics belong to the source data.
    Calling the base with `training=False`, as `assemble` does, would not be enough on
    its own in Keras 3: the `training=True` of `fit` reaches the inner layers
    (keras-team/keras#20285).

    Args:
        base_model: the pretrained base.
        num_layers: how many layers from the top to unfreeze (0 keeps everything frozen).
            To unfreeze whole blocks by name or number, use `unfreeze_blocks`.
        verbose: print `trainable_table(base_model)` afterwards (default False).

    Returns:
        The names of the layers that now have trainable weights.

    Raises:
        ValueError: if `num_layers` is negative or larger than the base.
    """
    if not 0 <= num_layers <= len(base_model.layers):
        raise ValueError(
            f"`num_layers` must be between 0 and {len(base_model.layers)} (the base's layers). "
            f"Received: `num_layers={num_layers}`."
        )
    split = len(base_model.layers) - num_layers
    names = _unfreeze(base_model, {layer.name for layer in base_model.layers[split:]})
    if verbose:
        print(trainable_table(base_model))
    return names


def _unfreeze(base_model: keras.Model, names: set[str]) -> list[str]:
    """Makes the named layers trainable, every other layer and every BatchNormalization
    layer frozen; returns the names of the layers that now have trainable weights."""
    base_model.trainable = True  # first: in Keras 3 this also sets every inner layer
    for layer in base_model.layers:
        layer.trainable = (layer.name in names
                           and not isinstance(layer, keras.layers.BatchNormalization))
    return [layer.name for layer in base_model.layers if layer.trainable and layer.weights]


# The block a layer of a keras.applications base belongs to, by the layer's name:
# VGG16's `block5_conv1`, ... -> "block5"; MobileNet's depthwise-separable block n
# (`conv_pad_n`, `conv_dw_n`, `conv_dw_n_bn`, `conv_pw_n`, ...) -> "block<n>"; its first
# convolution (`conv1`, `conv1_bn`, `conv1_relu`) -> "stem".
_BLOCK_PATTERNS = (
    (re.compile(r"^(block\d+)_"), r"\1"),
    (re.compile(r"^conv_(?:pad|dw|pw)_(\d+)(?:_|$)"), r"block\1"),
    (re.compile(r"^conv1(?:_|$)"), "stem"),
)


def layer_blocks(base_model: keras.Model) -> dict[str, str | None]:
    """The block each layer of a base belongs to, by the layer's name.

    VGG16's blocks are named by Keras (`block1` ... `block5`). MobileNet's are numbered
    depthwise-separable blocks: block n is `conv_dw_n` and `conv_pw_n` with their
    BatchNormalization, ReLU and padding layers (`block1` ... `block13`); its first
    convolution is `stem`. Layers of no block (the input) map to `None`.

    Args:
        base_model: a base from `build_base` (or `keras.applications`).

    Returns:
        `{layer name: block name or None}`, in the base's layer order.
    """
    blocks: dict[str, str | None] = {}
    for layer in base_model.layers:
        blocks[layer.name] = None
        for pattern, replacement in _BLOCK_PATTERNS:
            match = pattern.match(layer.name)
            if match:
                blocks[layer.name] = match.expand(replacement)
                break
    return blocks


def unfreeze_blocks(base_model: keras.Model, blocks: Sequence[str | int],
                    verbose: bool = False) -> list[str]:
    """Unfreezes whole blocks of a base for fine-tuning, BatchNormalization excepted.

    Every other layer is frozen. BatchNormalization layers stay frozen (`trainable =
    False`), which keeps them in inference mode during `fit`: in Keras 3 the base's
    `training=False` alone would not (keras-team/keras#20285).

    Args:
        base_model: the pretrained base.
        blocks: block names, e.g. `["block5"]` for VGG16's last block or `["block13"]`
            for MobileNet's (see `layer_blocks`), or block numbers (`[12, 13]` is
            `["block12", "block13"]`).
        verbose: print `trainable_table(base_model)` afterwards (default False).

    Returns:
        The names of the layers that now have trainable weights.

    Raises:
        ValueError: for a block the base does not have; the message lists its blocks.
    """
    received = list(blocks)
    blocks = [f"block{b}" if isinstance(b, int) and not isinstance(b, bool) else b
              for b in received]
    by_layer = layer_blocks(base_model)
    known = list(dict.fromkeys(b for b in by_layer.values() if b is not None))
    unknown = [b for b in blocks if b not in known]
    if unknown:
        raise ValueError(
            f"{base_model.name!r} has no block {unknown}. Received: `blocks={received}`; "
            f"its blocks are {known}."
        )
    names = _unfreeze(base_model, {name for name, block in by_layer.items() if block in blocks})
    if verbose:
        print(trainable_table(base_model))
    return names


def trainable_table(model: keras.Model) -> str:
    """A compact table of what will train: per block of a base (or per layer of a
    model), the trainable and frozen weight counts, and frozen BatchNormalization layers.

    Args:
        model: a base from `build_base`, or any model (then one row per layer with
            weights).

    Returns:
        The table, one row per block (or layer), and a total.
    """
    blocks = layer_blocks(model)
    rows: dict[str, list[int]] = {}
    for layer in _leaf_layers(model):
        if not layer.weights:
            continue
        key = blocks.get(layer.name) or layer.name
        row = rows.setdefault(key, [0, 0, 0])
        row[0] += sum(math.prod(w.shape) for w in layer.trainable_weights)
        row[1] += sum(math.prod(w.shape) for w in layer.non_trainable_weights)
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable:
            row[2] += 1
    width = max([len(k) for k in rows] + [len("total")])
    lines = [f"{'block':<{width}}  {'trainable':>10}  {'frozen':>10}  frozen BN layers"]
    for key, (trainable, frozen, bn) in rows.items():
        lines.append(f"{key:<{width}}  {trainable:>10,}  {frozen:>10,}  {bn:>3}")
    totals = [sum(r[i] for r in rows.values()) for i in range(3)]
    lines.append(f"{'total':<{width}}  {totals[0]:>10,}  {totals[1]:>10,}  {totals[2]:>3}")
    return "\n".join(lines)


def assemble(
    base_model: keras.Model,
    head: keras.Model,
    preprocess_mode: str,
    name: str = "transfer_model",
) -> keras.Model:
    """Joins preprocessing, the base (called with `training=False`) and the head.

    Args:
        base_model: the pretrained base, `M`.
        head: the new head, `L`.
        preprocess_mode: the base's input scaling (`BASES[name].preprocess_mode`).
        name: the model's name.

    Returns:
        A functional `keras.Model` that takes raw RGB pixels in [0, 255].
    """
    inputs = keras.Input(shape=base_model.input_shape[1:], name="image")
    x = Preprocess(preprocess_mode)(inputs)
    features = base_model(x, training=False)
    outputs = head(features)
    return keras.Model(inputs, outputs, name=name)


def count_params(model: keras.Model) -> dict[str, int]:
    """Counts a model's weights.

    Args:
        model: a built model.

    Returns:
        `{"total": ..., "trainable": ..., "non_trainable": ...}`.
    """
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return {
        "total": trainable + non_trainable,
        "trainable": trainable,
        "non_trainable": non_trainable,
    }


@dataclasses.dataclass(frozen=True)
class WeightChange:
    """How far one weight array of a layer moved between a snapshot and now.

    Args:
        layer: the layer's name.
        weight: the weight's path in the model (e.g. `"conv1_bn/moving_mean"`).
        kind: `"trainable"`, `"moving statistic"` (BatchNormalization's moving mean and
            variance) or `"non-trainable"` (a frozen weight).
        max_abs_change: the largest absolute difference, elementwise.
    """

    layer: str
    weight: str
    kind: str
    max_abs_change: float

    @property
    def changed(self) -> bool:
        """True when any element differs (bit for bit)."""
        return self.max_abs_change > 0 or math.isnan(self.max_abs_change)


def _leaf_layers(model: keras.Model):
    """The layers of a model that are not models themselves, nested models opened up."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _weights_by_layer(model: keras.Model):
    """Every weight of a model with its layer, nested models included, in a fixed order."""
    seen = set()
    for layer in _leaf_layers(model):
        for weight in layer.weights:
            if id(weight) in seen:
                continue
            seen.add(id(weight))
            yield layer, weight


def _kind(layer, weight) -> str:
    if isinstance(layer, keras.layers.BatchNormalization) and weight.name.startswith("moving_"):
        return "moving statistic"
    return "trainable" if weight.trainable and layer.trainable else "non-trainable"


class WeightSnapshot:
    """The values of every weight of a model at one moment, BatchNormalization's moving
    mean and variance included; compare them with the model's values later.

    The freeze check: take one before `fit`, then ask what changed. Comparing weight
    VALUES catches what checking `trainable_weights` cannot: BatchNormalization
    statistics that drift although no weight is trainable, or a layer that was
    unfrozen by mistake.

    Args:
        model: the model (or base) to snapshot.
    """

    def __init__(self, model: keras.Model):
        self.model_name = model.name
        self._values = [(layer.name, weight.path, keras.ops.convert_to_numpy(weight).copy())
                        for layer, weight in _weights_by_layer(model)]

    def __len__(self) -> int:
        return len(self._values)

    def changes(self, model: keras.Model) -> list[WeightChange]:
        """Compares the snapshot with the model's weights now, array by array.

        Args:
            model: the same model (or one with the same weights, in the same order).

        Returns:
            One `WeightChange` per weight array, in the model's order.

        Raises:
            ValueError: if the model's weights are not those of the snapshot.
        """
        now = list(_weights_by_layer(model))
        paths = [path for _, path, _ in self._values]
        if [weight.path for _, weight in now] != paths:
            raise ValueError(
                f"The model {model.name!r} does not have the weights of the snapshot of "
                f"{self.model_name!r} ({len(now)} arrays now, {len(paths)} then). Take the "
                "snapshot of the model you then train."
            )
        result = []
        for (layer, weight), (_, path, before) in zip(now, self._values, strict=True):
            after = keras.ops.convert_to_numpy(weight)
            delta = float(np.max(np.abs(after.astype(np.float64) - before))) if before.size else 0.0
            result.append(WeightChange(layer.name, path, _kind(layer, weight), delta))
        return result

    def report(self, model: keras.Model, changed_only: bool = False) -> str:
        """What moved since the snapshot, layer by layer, as a table.

        Args:
            model: the model the snapshot was taken of.
            changed_only: list only the layers with a weight that moved (default False:
                every layer with weights).

        Returns:
            One row per layer: its kinds of weight (`trainable`, `moving statistic`,
            `non-trainable`), how many of its arrays moved, and the largest change; then
            a total line.
        """
        rows: dict[str, list[WeightChange]] = {}
        for change in self.changes(model):
            rows.setdefault(change.layer, []).append(change)
        width = max([len(name) for name in rows] + [len("layer")])
        lines = [f"{'layer':<{width}}  {'weights':<34}  {'moved':>8}  largest change"]
        moved_layers = 0
        for name, changes in rows.items():
            moved = [c for c in changes if c.changed]
            moved_layers += bool(moved)
            if changed_only and not moved:
                continue
            kinds = ", ".join(dict.fromkeys(c.kind for c in changes))
            largest = max(c.max_abs_change for c in changes)
            status = f"{largest:.3g}" if moved else "unchanged (bit-identical)"
            lines.append(f"{name:<{width}}  {kinds:<34}  {len(moved):>3} of {len(changes):<2}  "
                         f"{status}")
        lines.append(f"{moved_layers} of {len(rows)} layers with weights moved")
        return "\n".join(lines)

    def assert_unchanged(self, model: keras.Model, kinds: tuple[str, ...] = (
            "trainable", "moving statistic", "non-trainable")) -> int:
        """Asserts that no weight of the given kinds moved since the snapshot.

        Args:
            model: the model the snapshot was taken of.
            kinds: which kinds of weight must be bit-identical (default: all of them).

        Returns:
            How many arrays were compared.

        Raises:
            AssertionError: naming every array that moved, and by how much.
        """
        checked = [c for c in self.changes(model) if c.kind in kinds]
        moved = [c for c in checked if c.changed]
        if moved:
            listing = "\n  ".join(f"{c.weight} ({c.kind}): moved by up to {c.max_abs_change:.3g}"
                                  for c in moved[:20])
            more = f"\n  ... and {len(moved) - 20} more" if len(moved) > 20 else ""
            raise AssertionError(
                f"{len(moved)} of {len(checked)} weight arrays of {model.name!r} moved "
                f"although they should not have:\n  {listing}{more}"
            )
        return len(checked)


def snapshot_weights(model: keras.Model) -> WeightSnapshot:
    """Takes a `WeightSnapshot` of a model: call it before `fit`, compare after.

    Args:
        model: the model, or just its base.

    Returns:
        The snapshot; `snapshot.assert_unchanged(model)` checks that nothing moved,
        `snapshot.changes(model)` says what did, `snapshot.report(model)` shows it layer
        by layer.
    """
    return WeightSnapshot(model)
