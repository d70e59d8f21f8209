import dataclasses

import numpy as np
import pytest

from tlhelpers import config


@pytest.mark.parametrize("name", list(config.PROFILES))
def test_every_profile_names_data_and_a_base_the_package_has_at_a_size_it_accepts(name):
    from tlhelpers import data, models

    profile = config.get_profile(name)
    assert profile.name == name
    assert profile.dataset in data.DATASETS and profile.base in models.BASES
    assert profile.input_shape == (*profile.image_size, 3)
    assert min(profile.image_size) >= models.BASES[profile.base].min_size
    # fine-tuning trains slower than the head (chapter 3's two stages)
    assert 0 < profile.fine_tune_learning_rate < profile.learning_rate
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.epochs = 99


def test_the_offline_profile_needs_no_download():
    from tlhelpers import data, models

    tiny = config.get_profile("tiny")
    assert data.DATASETS[tiny.dataset].url is None  # bundled with the package
    assert models.BASES[tiny.base].weights_file == "mobilenet_2_5_224_tf_no_top.h5"


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


@pytest.fixture
def float32_policy():
    import keras

    keras.mixed_precision.set_global_policy("float32")
    yield keras
    keras.mixed_precision.set_global_policy("float32")


def test_mixed_precision_stays_off_without_a_gpu(float32_policy, monkeypatch):
    keras = float32_policy
    monkeypatch.setattr(config, "_gpu_visible", lambda: False)
    keras.mixed_precision.set_global_policy("mixed_float16")  # set by hand earlier, say
    assert config.set_mixed_precision(True) == (
        "float32 (no GPU visible: mixed precision left off)")
    assert keras.mixed_precision.global_policy().name == "float32"
    assert config.set_mixed_precision(False) == "float32"
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    assert (layer.compute_dtype, layer.variable_dtype) == ("float32", "float32")


def test_mixed_precision_on_where_a_gpu_is_visible(float32_policy, monkeypatch):
    keras = float32_policy
    monkeypatch.setattr(config, "_gpu_visible", lambda: True)
    assert config.set_mixed_precision(True) == "mixed_float16"
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    assert (layer.compute_dtype, layer.variable_dtype) == ("float16", "float32")
    assert config.set_mixed_precision(False) == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_mixed_precision_sees_this_machine(float32_policy):
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    assert config.set_mixed_precision(True) == (
        "mixed_float16" if gpus else "float32 (no GPU visible: mixed precision left off)")


@pytest.mark.parametrize("enabled", ["yes", 1, None])
def test_mixed_precision_wants_a_bool(enabled):
    with pytest.raises(ValueError, match=f"Received: `enabled={enabled!r}`"):
        config.set_mixed_precision(enabled)
