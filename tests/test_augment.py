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


def test_augment_batches_equals_the_layers_called_batch_by_batch():
    # The random draws stay in order, the resampling runs in parallel: the images are
    # bit for bit those of calling the layers on one batch after the other.
    def pipeline(seed):
        config.set_seed(0)
        ds = augment.augment_batches(_batches(), augment.article_augmentation(seed=seed))
        return [x.numpy() for _ in range(2) for x, _ in ds]  # two epochs

    def one_batch_after_the_other(seed):
        config.set_seed(0)
        layers = augment.article_augmentation(seed=seed)
        return [layers(x, training=True).numpy() for _ in range(2) for x, _ in _batches()]

    parallel, plain = pipeline(1), one_batch_after_the_other(1)
    assert len(parallel) == len(plain) == 4
    for x, x2 in zip(parallel, plain, strict=True):
        np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(parallel[0], parallel[2])  # a new draw every epoch
    assert not np.array_equal(pipeline(2)[0], parallel[0])  # another seed, other draws


def test_augment_batches_applies_other_layers_the_plain_way():
    import keras

    ds = augment.augment_batches(_batches(), keras.layers.Rescaling(0.5))
    for (x, y), (original, labels) in zip(ds, _batches(), strict=True):
        np.testing.assert_allclose(x, original.numpy() * 0.5)
        np.testing.assert_array_equal(y, labels)
