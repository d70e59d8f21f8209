import math

import numpy as np
import pytest
import tensorflow as tf

from tlhelpers import augment, config


def test_the_article_settings_become_seeded_layers():
    layers = augment.article_augmentation(seed=3).layers
    names = [type(layer).__name__ for layer in layers]
    assert names == ["RandomRotation", "RandomTranslation", "RandomShear", "RandomZoom",
                     "RandomFlip"]
    rotation, translation, shear, zoom, flip = layers
    assert rotation.factor == (-40 / 360, 40 / 360)
    assert translation.height_factor == 0.2 and translation.width_factor == 0.2
    assert shear.x_factor == pytest.approx((-math.sin(math.radians(0.2)),
                                            math.sin(math.radians(0.2))))
    assert zoom.height_factor == (-0.2, 0.2) and zoom.width_factor == (-0.2, 0.2)
    assert flip.mode == "horizontal"
    assert {layer.fill_mode for layer in (rotation, translation, shear, zoom)} == {"nearest"}


def test_shear_range_is_in_degrees():
    assert augment.shear_shift(0.2) == pytest.approx(0.00349, abs=1e-5)
    assert augment.shear_shift(0.2) * 224 < 1  # under one pixel at 224 x 224
    assert augment.shear_shift(90) == pytest.approx(1.0)


def _batches():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (8, 24, 24, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((images, np.arange(8))).batch(4)


def test_augment_batches_changes_images_keeps_labels_and_repeats_with_a_seed():
    def run():
        config.set_seed(0)
        ds = augment.augment_batches(_batches(), augment.article_augmentation(seed=1))
        return [(x.numpy(), y.numpy()) for x, y in ds]

    first, second = run(), run()
    originals = [x.numpy() for x, _ in _batches()]
    for (x, y), (x2, y2), original in zip(first, second, originals, strict=True):
        assert x.shape == original.shape and not np.allclose(x, original)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert [y.tolist() for _, y in first] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_augmentation_is_off_outside_training():
    images = next(iter(_batches()))[0]
    out = augment.article_augmentation()(images, training=False)
    np.testing.assert_array_equal(out, images)
