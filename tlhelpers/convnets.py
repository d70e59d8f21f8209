"""Small VGG-style convolutional networks, and copying their first layers into another.

A pretrained ImageNet base is one way to get features; a small network trained on a
related task is another, cheap enough to train on a CPU in seconds. These helpers build
such networks with named, numbered layers (`layer1`, `layer2`, ...: every layer that has
weights, in order) and copy the first `n` of them from one network to another, frozen
or free to fine-tune: the operation behind the experiments of Yosinski et al. (2014),
"How transferable are features in deep neural networks?".

Used by the feature-extraction chapter (transfer vs scratch, transferability by depth).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

__all__ = ["build_small_cnn", "copy_layers", "feature_layers"]


def build_small_cnn(
    input_shape: tuple[int, int, int],
    num_classes: int,
    conv_filters: Sequence[int] = (16, 16, 32, 32),
    pool_every: int = 2,
    dense_units: Sequence[int] = (64,),
    global_pool: bool = False,
    name: str = "small_cnn",
) -> keras.Sequential:
    """Builds a VGG-style CNN: 3x3 convolutions, max-pooling, dense layers, softmax.

    Inputs are raw pixels in [0, 255] (a `Rescaling` layer divides by 255). The layers
    with weights are named `layer1`, `layer2`, ... in order, the output layer `classifier`;
    the output of the last hidden layer is called `features`.

    Args:
        input_shape: `(height, width, channels)`.
        num_classes: output classes (at least 2).
        conv_filters: filters of each convolution (default `(16, 16, 32, 32)`).
        pool_every: a 2x2 max-pooling after every `pool_every` convolutions (default 2).
        dense_units: units of each hidden dense layer (default `(64,)`; may be empty).
        global_pool: average over positions (`GlobalAveragePooling2D`) instead of
            flattening after the convolutions (default False).
        name: the model's name.

    Returns:
        A built `keras.Sequential`.

    Raises:
        ValueError: for fewer than two classes or no convolution.
    """
    if num_classes < 2 or not conv_filters:
        raise ValueError(
            "A small CNN needs at least two classes and one convolution. Received: "
            f"`num_classes={num_classes}`, `conv_filters={tuple(conv_filters)}`."
        )
    layers: list[keras.layers.Layer] = [keras.Input(input_shape), keras.layers.Rescaling(1 / 255)]
    index = 0
    for i, filters in enumerate(conv_filters):
        index += 1
        layers.append(keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                          name=f"layer{index}"))
        if (i + 1) % pool_every == 0:
            layers.append(keras.layers.MaxPooling2D(name=f"pool{index}"))
    layers.append(keras.layers.GlobalAveragePooling2D() if global_pool else keras.layers.Flatten())
    for units in dense_units:
        index += 1
        layers.append(keras.layers.Dense(units, activation="relu", name=f"layer{index}"))
    layers.append(keras.layers.Identity(name="features"))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name="classifier"))
    return keras.Sequential(layers, name=name)


def feature_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers `layer1`, `layer2`, ... of a `build_small_cnn` network, in order.

    Args:
        model: a network from `build_small_cnn`.

    Returns:
        Its hidden layers that have weights (the classifier excluded).
    """
    return [layer for layer in model.layers if layer.name.startswith("layer") and layer.weights]


def copy_layers(source: keras.Model, target: keras.Model, n: int, trainable: bool) -> keras.Model:
    """Copies the weights of the first `n` hidden layers of `source` into `target`.

    The other layers of `target` keep their own (fresh) weights. The copied layers are
    frozen (`trainable=False`: Yosinski et al.'s AnB, BnB) or left free to be
    fine-tuned (`trainable=True`: AnB+, BnB+). Compile `target` afterwards.

    Args:
        source: the trained network (same architecture as `target`).
        target: the network to train on the new task.
        n: how many layers to copy, from the input up (0 copies nothing).
        trainable: whether the copied layers keep learning.

    Returns:
        `target`, changed in place.

    Raises:
        ValueError: if `n` is out of range or the two networks' layers differ in shape.
    """
    source_layers, target_layers = feature_layers(source), feature_layers(target)
    if not 0 <= n <= min(len(source_layers), len(target_layers)):
        raise ValueError(
            f"`n` must be between 0 and {min(len(source_layers), len(target_layers))} (the "
            f"hidden layers with weights). Received: `n={n}`."
        )
    for src, dst in zip(source_layers[:n], target_layers[:n], strict=True):
        weights = src.get_weights()
        shapes = [w.shape for w in weights]
        expected = [tuple(w.shape) for w in dst.weights]
        if [tuple(s) for s in shapes] != expected:
            raise ValueError(
                f"Layer {src.name!r} has weights of shapes {shapes}, but {dst.name!r} of the "
                f"target has {expected}. Build both networks with the same arguments."
            )
        dst.set_weights(weights)
        dst.trainable = trainable
    return target
