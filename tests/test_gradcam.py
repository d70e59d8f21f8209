"""Grad-CAM on a transfer model with its base nested inside (where the usual recipe fails
with "Graph disconnected"), on a flat CNN, and the heat map's mass inside a box."""

import keras
import numpy as np
import pytest

from tlhelpers import config, gradcam, models


def _transfer_model():
    base = models.freeze(models.build_base("mobilenet_025", (32, 32, 3), weights=None))
    return models.assemble(base, models.build_head(3, hidden_units=8), "tf")


def test_the_usual_recipe_fails_on_a_nested_base_and_heatmaps_does_not():
    config.set_seed(0)
    model = _transfer_model()
    base = model.get_layer("mobilenet_0.25_32")
    with pytest.raises(ValueError, match="(?i)graph disconnected|not connected"):
        keras.Model(model.inputs, [base.get_layer("conv_pw_13_relu").output, model.output])
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    maps = gradcam.heatmaps(model, images)
    assert maps.shape == (4, 32, 32)
    assert maps.min() >= 0 and maps.max() <= 1
    assert all(m.max() in (0.0, 1.0) for m in maps)  # each scaled to its own peak
    again = gradcam.heatmaps(model, images, classes=[0, 1, 2, 0])
    assert again.shape == (4, 32, 32)


def test_a_flat_cnn_is_read_at_a_named_layer_and_finds_the_evidence():
    """A filter that sees only bright pixels and a class score that sums them: the heat
    map must be brightest where the bright square is."""
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones",
                            name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax",
                                 kernel_initializer=keras.initializers.Constant([[1.0, -1.0]]),
                                 bias_initializer="zeros")(x)
    model = keras.Model(inputs, outputs)
    image = np.zeros((1, 16, 16, 1), "float32")
    image[0, 2:6, 9:13] = 1.0
    maps = gradcam.heatmaps(model, image, classes=[0], layer="conv")
    share = gradcam.mass_inside(maps, np.array([[2, 9, 6, 13]]))[0]
    assert share == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no single nested base"):
        gradcam.heatmaps(model, image)


def test_mass_inside_a_box_against_a_uniform_map():
    maps = np.ones((2, 10, 10))
    maps[1] = 0
    shares = gradcam.mass_inside(maps, np.array([[0, 0, 5, 5], [0, 0, 5, 5]]))
    assert shares[0] == pytest.approx(0.25) and np.isnan(shares[1])


def test_the_score_is_the_logit_so_a_confident_prediction_still_has_a_map():
    """A softmax probability near 1 has a vanishing gradient; the logit's does not."""
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones",
                            name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(
        2, activation="softmax",
        kernel_initializer=keras.initializers.Constant([[500.0, -500.0]]))(x)
    model = keras.Model(inputs, outputs)
    image = np.zeros((1, 16, 16, 1), "float32")
    image[0, 2:6, 9:13] = 1.0
    assert float(model(image)[0, 0]) == 1.0  # certain, in float32
    maps = gradcam.heatmaps(model, image, classes=[0], layer="conv")
    assert gradcam.mass_inside(maps, np.array([[2, 9, 6, 13]]))[0] == pytest.approx(1.0)
