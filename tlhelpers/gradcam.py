"""Grad-CAM heat maps: where in an image a classifier looked for the class it gave.

Grad-CAM (Selvaraju et al., 2017) weighs each channel of a convolutional feature map by
the gradient of the class score with respect to it (averaged over positions), adds the
weighted channels up, keeps the positive part and scales it to [0, 1]: bright where
evidence for the class was found.

The usual recipe builds `keras.Model(model.inputs, [model.get_layer(name).output,
model.output])`. On a transfer model whose base is a model nested inside it (the book's
`models.assemble`, the keras.io guide's `base_model(x, training=False)`), asking for a
layer inside the base fails ("... is not connected to `inputs`" in Keras 3, "Graph
disconnected" in Keras 2): the base's inner layers belong to the base's own graph, not
to the outer model's. `heatmaps` instead runs the outer model's layers one after the
other and watches the base's output, which is its last feature map. A model without a
nested base (a small CNN) is read at a layer given by name.

Needs the TensorFlow backend (it takes gradients with `tf.GradientTape`).

Used by the train command's report (heat maps of the mistakes) and by the diagnostics
chapter, which checks on images where the object's place is known that the heat map
does point at it.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["heatmaps", "mass_inside"]


def _nested_base(model: keras.Model):
    bases = [layer for layer in model.layers
             if isinstance(layer, keras.Model) and len(layer.output.shape) == 4]
    return bases[0] if len(bases) == 1 else None


def _layers(model: keras.Model) -> list:
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _softmax_dense(layer) -> bool:
    return (isinstance(layer, keras.layers.Dense)
            and getattr(layer.activation, "__name__", "") == "softmax")


def _scores(last, x):
    """The class scores and probabilities of the last layer: for a softmax `Dense`, its
    logits (the paper's pre-softmax scores: a softmax probability near 1 has a vanishing
    gradient) and their softmax; for anything else, its outputs as both."""
    if _softmax_dense(last):
        logits = keras.ops.matmul(x, last.kernel) + last.bias
        return logits, keras.ops.softmax(logits)
    out = last(x, training=False)
    return out, out


def heatmaps(model: keras.Model, images: np.ndarray, classes=None,
             layer: str | None = None) -> np.ndarray:
    """Grad-CAM heat maps of a batch of images.

    The score of a class is its logit, the input of the final softmax, as in the paper
    (when the model ends with a `Dense` layer with a softmax; otherwise its output).

    Args:
        model: a classifier: either a chain of layers with one nested base (a model of
            `models.assemble` or `recipe.build_model`; the base's output is used), or a
            flat model with a convolutional layer named by `layer`.
        images: the model's inputs, `(n, height, width, channels)`.
        classes: the class to explain for each image (integers, length n), or `None` for
            the class the model predicts.
        layer: for a flat model, the name of the layer whose output is explained
            (default None: the nested base).

    Returns:
        An array `(n, height, width)` in [0, 1], the heat maps resized (bilinear) to the
        images' size; a map without positive evidence is all zeros.

    Raises:
        ValueError: when the model has no single nested base and no `layer` is given, or
            its layers do not form a chain (checked: run one after the other, they must
            give the model's own outputs).
    """
    import tensorflow as tf  # deferred: only this module's gradients need TensorFlow itself

    images = np.asarray(images, dtype="float32")
    if layer is not None:
        last = model.layers[-1]
        reader = keras.Model(model.inputs, [model.get_layer(layer).output,
                                            last.input if _softmax_dense(last)
                                            else model.output])

        def forward(x):
            features, before = reader(x, training=False)
            return (features, *_scores(last, before)) if _softmax_dense(last) \
                else (features, before, before)
    else:
        base = _nested_base(model)
        if base is None:
            raise ValueError(
                f"{model.name!r} has no single nested base (a model inside it with a 4-D "
                "output). Pass `layer=` the name of the convolutional layer to explain.")
        layers = _layers(model)
        split = layers.index(base)
        after = []
        for each in layers[split + 1:]:  # a head that is a Sequential, opened up
            after += each.layers if isinstance(each, keras.Sequential) else [each]

        def forward(x):
            for each in layers[:split]:
                x = each(x, training=False)
            features = base(x, training=False)
            out = features
            for each in after[:-1]:
                out = each(out, training=False)
            return (features, *_scores(after[-1], out))

    x = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        features, scores, probs = forward(x)
        tape.watch(features)
        # the gradient reaches `features` through the layers after it only
        chosen = (tf.argmax(probs, axis=-1) if classes is None
                  else tf.convert_to_tensor(np.asarray(classes), dtype=tf.int64))
        score = tf.gather(scores, chosen, axis=1, batch_dims=1)
    if not np.allclose(np.asarray(probs), np.asarray(model(x, training=False)), atol=1e-5):
        raise ValueError(
            f"Grad-CAM here runs the layers of {model.name!r} one after the other, but they "
            "do not form a chain (their outputs differ from the model's). Pass `layer=` "
            "the name of a convolutional layer of a flat model instead.")
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    maps = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[..., None]
    maps = tf.image.resize(maps, images.shape[1:3], method="bilinear")[..., 0].numpy()
    peaks = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0)


def mass_inside(maps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The share of each heat map's total that lies inside a box.

    Args:
        maps: heat maps `(n, height, width)`, non-negative.
        boxes: `(n, 4)` boxes `(top, left, bottom, right)` in pixels, bottom and right
            excluded.

    Returns:
        `(n,)` shares in [0, 1] (NaN for a map that is all zeros). A map spread evenly
        would put `box area / image area` inside.
    """
    maps = np.asarray(maps, dtype=np.float64)
    shares = np.full(len(maps), np.nan)
    for i, (top, left, bottom, right) in enumerate(np.asarray(boxes, dtype=int)):
        total = maps[i].sum()
        if total > 0:
            shares[i] = maps[i, top:bottom, left:right].sum() / total
    return shares
