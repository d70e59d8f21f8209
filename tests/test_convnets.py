import numpy as np
import pytest

from tlhelpers import config, convnets


def test_small_cnn_names_its_layers_in_order():
    model = convnets.build_small_cnn((12, 12, 1), 3, conv_filters=(4, 8), dense_units=(6,))
    names = [layer.name for layer in convnets.feature_layers(model)]
    assert names == ["layer1", "layer2", "layer3"]
    assert model.output_shape == (None, 3)
    assert model.get_layer("features").output.shape == (None, 6)
    with pytest.raises(ValueError, match="num_classes=1"):
        convnets.build_small_cnn((12, 12, 1), 1)


def test_copy_layers_copies_the_first_n_and_sets_trainable():
    config.set_seed(0)
    kwargs = dict(conv_filters=(4, 8), dense_units=(6,))
    source = convnets.build_small_cnn((12, 12, 1), 3, **kwargs)
    target = convnets.build_small_cnn((12, 12, 1), 3, **kwargs)
    convnets.copy_layers(source, target, 2, trainable=False)
    for name in ("layer1", "layer2"):
        np.testing.assert_array_equal(source.get_layer(name).get_weights()[0],
                                      target.get_layer(name).get_weights()[0])
        assert not target.get_layer(name).trainable
    assert not np.array_equal(source.get_layer("layer3").get_weights()[0],
                              target.get_layer("layer3").get_weights()[0])
    assert target.get_layer("layer3").trainable
    convnets.copy_layers(source, target, 1, trainable=True)
    assert target.get_layer("layer1").trainable


def test_copy_layers_checks_n_and_shapes():
    a = convnets.build_small_cnn((12, 12, 1), 3, conv_filters=(4,), dense_units=())
    b = convnets.build_small_cnn((12, 12, 1), 3, conv_filters=(5,), dense_units=())
    with pytest.raises(ValueError, match="n=2"):
        convnets.copy_layers(a, b, 2, trainable=False)
    with pytest.raises(ValueError, match="Build both networks with the same arguments"):
        convnets.copy_layers(a, b, 1, trainable=False)
