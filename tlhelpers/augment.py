"""The article's image augmentation, rebuilt from Keras 3 preprocessing layers.

The article augments its training images with the legacy `ImageDataGenerator`:

    ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                       shear_range=0.2, zoom_range=0.2, horizontal_flip=True,
                       fill_mode="nearest")

Keras 3 has a preprocessing layer for each of these transformations. Two of the
settings do not mean what they seem to:

- `zoom_range=0.2` zooms width and height independently, each by a factor in [0.8, 1.2]
  (so `RandomZoom` gets a `width_factor` of its own);
- `shear_range=0.2` is an angle in DEGREES: the shear moves a pixel at most
  sin(0.2°) = 0.35 % of the image's height sideways (`shear_shift`), under one pixel at
  224 x 224. `RandomShear` (in Keras since 3.8) takes that fraction.

Used by the case-study chapter (stage 1 and 2 training) and by `tlhelpers.train`.
"""

from __future__ import annotations

import math

import keras

__all__ = [
    "ARTICLE_SETTINGS",
    "article_augmentation",
    "augment_batches",
    "shear_shift",
]

ARTICLE_SETTINGS: dict = {
    "rotation_range": 40,
    "width_shift_range": 0.2,
    "height_shift_range": 0.2,
    "shear_range": 0.2,
    "zoom_range": 0.2,
    "horizontal_flip": True,
    "fill_mode": "nearest",
}


def shear_shift(shear_degrees: float) -> float:
    """How far `ImageDataGenerator`'s shear moves a pixel, as a fraction of the image.

    Its shear matrix is `[[1, -sin(s), 0], [0, cos(s), 0]]` with `s` in degrees: a pixel
    moves sideways by `sin(s)` times its distance from the top edge.

    Args:
        shear_degrees: the `shear_range` given to `ImageDataGenerator`.

    Returns:
        `sin(shear_degrees)`, the largest sideways move per unit of image height.
    """
    return math.sin(math.radians(shear_degrees))


def article_augmentation(seed: int = 0, name: str = "augmentation"):
    """The article's `ImageDataGenerator` settings as a `keras.Sequential` of layers.

    Rotation by up to 40° either way, a shift of up to 20 % of the width and of the
    height, a shear of up to 0.2° (see `shear_shift`), a zoom of each axis by a factor in
    [0.8, 1.2], and a horizontal flip half of the time; points outside the image take
    the nearest edge pixel, interpolation is bilinear (as `ImageDataGenerator`'s first-
    order spline). Each layer is seeded from `seed`, so a run repeats.

    Args:
        seed: seeds the random transformations (default 0).
        name: the model's name (default `"augmentation"`).

    Returns:
        A `keras.Sequential`; call it with `training=True` to transform a batch (with
        `training=False` it passes images through unchanged).
    """
    settings = ARTICLE_SETTINGS
    zoom = settings["zoom_range"]
    fill = settings["fill_mode"]
    return keras.Sequential([
        keras.layers.RandomRotation(settings["rotation_range"] / 360, fill_mode=fill,
                                    seed=seed),
        keras.layers.RandomTranslation(settings["height_shift_range"],
                                       settings["width_shift_range"], fill_mode=fill,
                                       seed=seed + 1),
        keras.layers.RandomShear(x_factor=shear_shift(settings["shear_range"]), y_factor=0.0,
                                 fill_mode=fill, seed=seed + 2),
        keras.layers.RandomZoom((-zoom, zoom), (-zoom, zoom), fill_mode=fill, seed=seed + 3),
        keras.layers.RandomFlip("horizontal", seed=seed + 4),
    ], name=name)


def augment_batches(ds, augmentation):
    """Applies augmentation layers to the images of a `tf.data` pipeline of batches.

    Put it after any `.cache()`, so that every epoch draws new transformations of the
    cached images. The work is split in two maps. The first draws each batch's random
    transformations (a few numbers per image, cheap), one batch at a time: the layers'
    seeded random state then advances in the same order in every run. The second
    resamples the images (the costly part) for several batches at once, on several
    cores (`num_parallel_calls=tf.data.AUTOTUNE`), keeping their order. So a seeded run
    repeats exactly, and the images are bit for bit those of calling
    `augmentation(images, training=True)` on one batch after the other. `prefetch` then
    prepares batches while the model trains on the current one.

    Layers without Keras' `get_random_transformation` and `transform_images` (not
    image preprocessing layers) are applied the plain way, one batch at a time.

    Args:
        ds: batches of `(images, labels)`, images as floats in [0, 255].
        augmentation: e.g. `article_augmentation(seed)`: a `keras.Sequential` of Keras
            image preprocessing layers, or one such layer.

    Returns:
        The pipeline with the images transformed, labels unchanged.
    """
    import tensorflow as tf  # deferred: tf.data only here; Keras may run on another backend

    layers = list(getattr(augmentation, "layers", [augmentation]))
    splittable = layers and all(hasattr(layer, "get_random_transformation")
                                and hasattr(layer, "transform_images") for layer in layers)
    if not splittable:
        def transform(images, labels):
            return augmentation(images, training=True), labels

        return ds.map(transform, num_parallel_calls=None).prefetch(tf.data.AUTOTUNE)

    def draw(images, labels):
        transformations = tuple(
            tf.nest.map_structure(tf.convert_to_tensor,
                                  layer.get_random_transformation(images, training=True))
            for layer in layers)
        return images, labels, transformations

    def resample(images, labels, transformations):
        for layer, transformation in zip(layers, transformations, strict=True):
            images = layer.transform_images(images, transformation, training=True)
        return images, labels

    return (ds.map(draw, num_parallel_calls=None)
            .map(resample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))
