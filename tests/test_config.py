import dataclasses
import os

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


def test_stand_ins_are_off_unless_the_variable_names_a_file(monkeypatch):
    monkeypatch.delenv("TLHELPERS_STAND_INS", raising=False)
    assert config.stand_ins() is None
    monkeypatch.setenv("TLHELPERS_STAND_INS", "  ")
    assert config.stand_ins() is None


def test_stand_ins_are_read_when_asked_not_at_import(stand_ins, monkeypatch):
    found = config.stand_ins()
    assert found == config.StandIns(path=stand_ins.path,
                                    datasets={"flowers": stand_ins.sha256},
                                    random_weights=("vgg16",))
    stand_ins.write({"random_weights": ["mobilenet_025", "vgg16"]})  # read again each call
    assert config.stand_ins().datasets == {}
    assert config.stand_ins().random_weights == ("mobilenet_025", "vgg16")
    stand_ins.write({"datasets": {"flowers": {"sha256": "AB" * 32}}})
    assert config.stand_ins().datasets == {"flowers": "ab" * 32}
    monkeypatch.delenv("TLHELPERS_STAND_INS")
    assert config.stand_ins() is None


def test_importing_tlhelpers_reads_no_stand_ins_file(tmp_path):
    """A broken stand-ins file stops only the code that consults it, never an import."""
    import subprocess
    import sys

    code = ("import tlhelpers.config, tlhelpers.data, tlhelpers.downloads, tlhelpers.models\n"
            "import tlhelpers.runner, tlhelpers.training\n"
            "try:\n    tlhelpers.config.stand_ins()\n"
            "except tlhelpers.config.StandInsError as err:\n    print('raised:', err)\n")
    env = {**os.environ, "TLHELPERS_STAND_INS": str(tmp_path / "missing.json")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=True)
    assert result.stdout.startswith(f"raised: Stand-ins file {tmp_path / 'missing.json'}")


@pytest.mark.parametrize("content, problem", [
    (None, "no such file"),
    ("{'datasets': {}}", "not valid JSON (Expecting property name enclosed in double quotes: "
                         "line 1 column 2"),
    ('["vgg16"]', "the top level must be an object. Received: list"),
    ('{"random_weight": ["vgg16"]}', "unknown keys ['random_weight']"),
    ('{"datasets": ["flowers"]}', "`datasets` must map names to"),
    ('{"datasets": {"roses": {"sha256": "' + "0" * 64 + '"}}}',
     "`datasets` names 'roses'; the data sets that are downloaded are ['flowers']"),
    ('{"datasets": {"fashion-mnist-tiny": {"sha256": "' + "0" * 64 + '"}}}',
     "`datasets` names 'fashion-mnist-tiny'"),
    ('{"datasets": {"flowers": "' + "0" * 64 + '"}}', "`datasets['flowers']` must be"),
    ('{"datasets": {"flowers": {"sha256": "abc"}}}', "Received: {'sha256': 'abc'}"),
    ('{"datasets": {"flowers": {"sha256": "' + "0" * 64 + '", "url": "x"}}}',
     "`datasets['flowers']` must be"),
    ('{"random_weights": "vgg16"}', "`random_weights` must be a list of base names"),
    ('{"random_weights": ["VGG16"]}',
     "`random_weights` names ['VGG16']; the bases are ['mobilenet_025', 'vgg16']"),
])
def test_a_malformed_stand_ins_file_is_named_with_what_is_wrong(
        tmp_path, monkeypatch, content, problem):
    path = tmp_path / "stand-ins.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("TLHELPERS_STAND_INS", str(path))
    with pytest.raises(config.StandInsError) as info:
        config.stand_ins()
    message = str(info.value)
    assert message.startswith(f"Stand-ins file {path} (TLHELPERS_STAND_INS): ")
    assert problem in message
    assert message.endswith("or unset TLHELPERS_STAND_INS to use the real downloads and weights.")
    assert isinstance(info.value, ValueError)


def test_announce_stand_in_prints_one_line_to_stderr(stand_ins, capsys):
    config.announce_stand_in("VGG16 with random weights", config.stand_ins())
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"STAND-IN: VGG16 with random weights (test only: "
                            f"TLHELPERS_STAND_INS={stand_ins.path})\n")


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


def test_results_are_real_except_in_a_stand_in_run(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("TLHELPERS_STAND_INS", raising=False)
    assert config.results_are_real()
    path = tmp_path / "stand-ins.json"
    path.write_text('{"random_weights": ["vgg16"]}')
    monkeypatch.setenv("TLHELPERS_STAND_INS", str(path))
    assert not config.results_are_real()
    assert capsys.readouterr().err.startswith(
        "STAND-IN: claims about the results of training are not checked (test only: ")
