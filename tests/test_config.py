import dataclasses

import numpy as np
import pytest

from tlhelpers import config


def test_profiles_are_frozen_and_complete():
    tiny = config.get_profile("tiny")
    assert tiny.base == "mobilenet_025" and tiny.dataset == "fashion-mnist-tiny"
    assert tiny.input_shape == (96, 96, 3)
    full = config.get_profile("full")
    assert full.base == "vgg16" and full.input_shape == (224, 224, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny.epochs = 99


def test_unknown_profile_names_the_choices():
    with pytest.raises(ValueError, match=r"PROFILE='huge'.*'tiny', 'full'"):
        config.get_profile("huge")


def test_set_seed_repeats_random_draws():
    import keras

    config.set_seed(3)
    first = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    config.set_seed(3)
    second = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_set_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        config.set_seed(seed)


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TLHELPERS_CACHE", str(tmp_path / "c"))
    assert config.cache_dir("features") == tmp_path / "c" / "features"
    assert (tmp_path / "c" / "features").is_dir()
    monkeypatch.delenv("TLHELPERS_CACHE")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "k"))
    assert config.cache_dir() == tmp_path / "k" / "tlhelpers"
