import keras
import numpy as np
import pytest

from tlhelpers import downloads, models


@pytest.fixture(scope="module")
def mobilenet(imagenet_cache):
    # Keras has MobileNet weights for 128-224 px only and uses the 224 ones (it warns;
    # build_base does not repeat that warning, see the test below).
    return models.build_base("mobilenet_025", (96, 96, 3))


def test_imagenet_mobilenet_loads_from_the_cache(mobilenet):
    assert mobilenet.count_params() == 218_544
    assert mobilenet.output_shape == (None, 3, 3, 256)
    random = models.build_base("mobilenet_025", (96, 96, 3), weights=None)
    kernel = mobilenet.get_layer("conv1").get_weights()[0]
    assert not np.allclose(kernel, random.get_layer("conv1").get_weights()[0])


def test_vgg16_structure_without_weights():
    base = models.build_base("vgg16", (224, 224, 3), weights=None)
    assert base.count_params() == 14_714_688
    assert base.output_shape == (None, 7, 7, 512)


@pytest.mark.parametrize("mode", ["tf", "caffe"])
def test_preprocess_matches_keras_applications(mode):
    from keras.applications import imagenet_utils

    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = imagenet_utils.preprocess_input(x.copy(), mode=mode)
    np.testing.assert_allclose(models.Preprocess(mode)(x), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["tf", "caffe"])
def test_a_saved_model_loads_and_predicts_without_tlhelpers(mode, tmp_path):
    """The preprocessing is made of standard Keras layers: plain Keras, in safe mode, in
    a Python where `tlhelpers` cannot be imported, loads the model and predicts the
    same."""
    import subprocess
    import sys

    base = models.build_base("vgg16" if mode == "caffe" else "mobilenet_025",
                             (32, 32, 3), weights=None)
    model = models.assemble(base, models.build_head(3, hidden_units=8), mode)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", model.predict(x, verbose=0))
    model.save(tmp_path / "model.keras")
    code = (
        "import sys\nsys.modules['tlhelpers'] = None  # as if it were not installed\n"
        "import keras, numpy as np\n"
        f"folder = {str(tmp_path)!r}\n"
        "model = keras.models.load_model(folder + '/model.keras', safe_mode=True)\n"
        "got = model.predict(np.load(folder + '/x.npy'), verbose=0)\n"
        "np.testing.assert_allclose(got, np.load(folder + '/expected.npy'), atol=1e-6)\n"
        "print('loaded without tlhelpers')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.stdout == "loaded without tlhelpers\n", result.stderr[-2000:]


def test_preprocess_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode='torch'"):
        models.Preprocess("torch")


def test_build_base_rejects_bad_input():
    with pytest.raises(ValueError, match=r"at least 32x32.*input_shape=\(16, 16, 3\)"):
        models.build_base("mobilenet_025", (16, 16, 3), weights=None)
    with pytest.raises(ValueError, match="Unknown base.*'vgg16'"):
        models.build_base("resnet9000", (96, 96, 3))


def test_head_shapes_and_errors():
    head = models.build_head(5)
    head.build((None, 3, 3, 256))
    assert head.output_shape == (None, 5)
    assert [type(layer).__name__ for layer in head.layers] == ["Flatten", "Dense", "Dense"]
    linear = models.build_head(3, hidden_units=0, pooling="avg")
    linear.build((None, 3, 3, 8))
    assert linear.count_params() == 8 * 3 + 3
    with pytest.raises(ValueError, match="num_classes=1"):
        models.build_head(1)
    with pytest.raises(ValueError, match="pooling='max'"):
        models.build_head(3, pooling="max")


def test_assemble_freeze_and_count(mobilenet):
    base = models.freeze(mobilenet)
    head = models.build_head(10)
    model = models.assemble(base, head, "tf")
    counts = models.count_params(model)
    assert counts["non_trainable"] == 218_544
    assert counts["trainable"] == head.count_params() == 3 * 3 * 256 * 256 + 256 + 2570
    assert model.output_shape == (None, 10)


def test_unfreeze_top_keeps_batchnorm_frozen():
    base = models.build_base("mobilenet_025", (64, 64, 3), weights=None)
    models.freeze(base)
    names = models.unfreeze_top(base, 6)
    top = base.layers[-6:]
    assert all(not layer.trainable for layer in base.layers[:-6])
    for layer in top:
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        assert layer.trainable is (not is_bn)
    assert names and all("bn" not in name for name in names)
    with pytest.raises(ValueError, match="num_layers=999"):
        models.unfreeze_top(base, 999)


def test_saved_model_round_trip(tmp_path):
    base = models.build_base("mobilenet_025", (40, 40, 3), weights=None)
    model = models.assemble(models.freeze(base), models.build_head(2, hidden_units=4), "caffe")
    x = np.random.default_rng(1).uniform(0, 255, (3, 40, 40, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


def test_unavailable_weights_give_a_clear_error(monkeypatch, tmp_path):
    url = ("https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
           "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")

    def offline(**kwargs):
        print(f"Downloading data from {url}")
        raise Exception(f"URL fetch failure on {url}: None -- [Errno -2] Name or service "
                        "not known")

    spec = models.BASES["vgg16"]
    monkeypatch.setitem(models.BASES, "vgg16",
                        models.BaseSpec(**{**spec.__dict__, "constructor": offline}))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(downloads.WeightsUnavailableError) as info:
        models.build_base("vgg16", (224, 224, 3))
    message = str(info.value)
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert url in message
    assert str(tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5") \
        in message
    assert "PROFILE = 'tiny'" in message


def test_corrupt_cached_weights_are_moved_aside(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cached = tmp_path / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    cached.parent.mkdir()
    cached.write_bytes(b"truncated")
    moved = downloads.verify_cached_weights(cached.name)
    assert moved == cached.with_name(cached.name + ".corrupt") and moved.is_file()
    assert not cached.exists()
    assert downloads.verify_cached_weights(cached.name) is None  # absent: nothing to do


def test_readable_weights_with_another_checksum_are_kept(monkeypatch, tmp_path):
    import h5py

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cached = tmp_path / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    cached.parent.mkdir()
    with h5py.File(cached, "w") as handle:
        handle["conv1/kernel"] = np.zeros((3, 3, 3, 8), dtype="float32")
    assert downloads.verify_cached_weights(cached.name) is None
    assert cached.is_file()


def test_the_seeded_weights_pass_the_check(imagenet_cache):
    assert downloads.verify_cached_weights(imagenet_cache.name) is None
    assert downloads.file_sha256(imagenet_cache) == downloads.KNOWN_WEIGHTS[imagenet_cache.name]


def _bn_model(unfreeze_bn: bool):
    # ImageNet weights: with random ones, frozen BatchNormalization saturates every ReLU6
    # and no gradient reaches the base.
    base = models.build_base("mobilenet_025", (96, 96, 3))
    models.freeze(base)
    models.unfreeze_top(base, len(base.layers))
    if unfreeze_bn:
        for layer in base.layers:
            layer.trainable = True
    model = models.assemble(base, models.build_head(2, hidden_units=0), "tf")
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return base, model


def _two_images():
    x = np.random.default_rng(0).uniform(0, 255, (4, 96, 96, 3)).astype("float32")
    return x, keras.utils.to_categorical([0, 1, 0, 1], 2)


@pytest.mark.slow
def test_training_false_alone_does_not_keep_batchnorm_in_inference_mode(imagenet_cache):
    """What the book teaches (keras-team/keras#20285): in this Keras, `fit` reaches the
    BatchNormalization layers of a base called with training=False once they are
    trainable; only trainable=False keeps them fixed. If Keras changes this, the text
    of chapter 1 and of tlhelpers.models must change too."""
    base, model = _bn_model(unfreeze_bn=True)
    snapshot = models.snapshot_weights(base)
    model.fit(*_two_images(), epochs=1, verbose=0)
    drifted = [c for c in snapshot.changes(base) if c.kind == "moving statistic" and c.changed]
    assert len(drifted) == 2 * 27  # the moving mean and variance of every BN layer
    bn_rows = [line for line in snapshot.report(base, changed_only=True).splitlines()
               if line.startswith("conv1_bn ")]
    assert len(bn_rows) == 1 and "moving statistic" in bn_rows[0] and " 4 of 4 " in bn_rows[0]
    with pytest.raises(AssertionError, match=r"conv1_bn/moving_mean \(moving statistic\)"):
        snapshot.assert_unchanged(base, kinds=("moving statistic",))


def test_snapshot_sees_nothing_move_in_frozen_batchnorm_and_what_trains_elsewhere(
        imagenet_cache):
    base, model = _bn_model(unfreeze_bn=False)
    snapshot = models.snapshot_weights(base)
    model.fit(*_two_images(), epochs=1, verbose=0)
    changes = snapshot.changes(base)
    assert len(changes) == len(base.weights) == len(snapshot)
    assert snapshot.assert_unchanged(base, kinds=("moving statistic", "non-trainable")) == 27 * 4
    assert all(c.changed for c in changes if c.kind == "trainable")
    report = snapshot.report(base).splitlines()
    assert report[-1] == "27 of 54 layers with weights moved"
    row = {line.split()[0]: line for line in report[1:-1]}
    assert len(row) == 54 and "unchanged (bit-identical)" in row["conv1_bn"]
    assert "trainable, moving statistic" in row["conv1_bn"] and " 0 of 4 " in row["conv1_bn"]
    assert " 1 of 1 " in row["conv1"] and "unchanged" not in row["conv1"]
    changed = snapshot.report(base, changed_only=True).splitlines()
    assert len(changed) == 1 + 27 + 1 and all("unchanged" not in line for line in changed)
    moved = "27 of 135 weight arrays of 'mobilenet_0.25_224' moved"
    with pytest.raises(AssertionError, match=moved):
        snapshot.assert_unchanged(base)
    with pytest.raises(ValueError, match="does not have the weights of the snapshot"):
        snapshot.changes(model.get_layer("head"))


def test_layer_blocks_and_unfreeze_blocks_keep_batchnorm_frozen(capsys):
    mobilenet = models.build_base("mobilenet_025", (32, 32, 3), weights=None)
    blocks = models.layer_blocks(mobilenet)
    assert blocks["conv1"] == blocks["conv1_bn"] == "stem"
    assert blocks["conv_dw_13"] == blocks["conv_pw_13_bn"] == "block13"
    assert blocks["conv_pad_12"] == "block12" and blocks[mobilenet.layers[0].name] is None
    names = models.unfreeze_blocks(mobilenet, ["block13"])
    assert names == ["conv_dw_13", "conv_pw_13"]
    assert all(not layer.trainable for layer in mobilenet.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    assert len(mobilenet.trainable_weights) == 2
    table = models.trainable_table(mobilenet)
    assert "block13" in table and table.splitlines()[-1].split()[:2] == ["total", "67,840"]
    with pytest.raises(ValueError, match=r"no block \['block14'\].*its blocks are \['stem', "):
        models.unfreeze_blocks(mobilenet, ["block14"])
    assert models.unfreeze_blocks(mobilenet, [12, "block13"]) == [
        "conv_dw_12", "conv_pw_12", "conv_dw_13", "conv_pw_13"]
    with pytest.raises(ValueError, match=r"no block \['block14'\]. Received: `blocks=\[14\]`"):
        models.unfreeze_blocks(mobilenet, [14])
    vgg = models.build_base("vgg16", (32, 32, 3), weights=None)
    capsys.readouterr()
    assert models.unfreeze_blocks(vgg, ["block5"], verbose=True) == [
        "block5_conv1", "block5_conv2", "block5_conv3"]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:3] == ["block", "trainable", "frozen"]
    assert printed[-1].split()[:2] == ["total", "7,079,424"]
    assert models.count_params(vgg)["trainable"] == 3 * (3 * 3 * 512 * 512 + 512)


def test_stand_in_bases_get_random_weights_however_they_are_built(stand_ins, tmp_path):
    """The test harness: `build_base` and the article's direct `VGG16(weights="imagenet")`
    (imported after the harness is installed, as in a notebook) both build random weights,
    offline, and say so; other bases are left alone."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERAS_HOME": str(tmp_path / "empty-keras-home")}
    result = subprocess.run([sys.executable, "-c", stand_ins.kernel_setup + _DIRECT_CALLS],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "same: True\nmobilenet untouched: True\n"
    line = "STAND-IN: VGG16 with random weights, not its ImageNet weights (test only)\n"
    assert line * 3 + "built: 14714688 14714688 14714688\n" in result.stderr
    assert not (tmp_path / "empty-keras-home" / "models").exists()  # nothing downloaded


_DIRECT_CALLS = """
import sys
import keras
from tensorflow.keras.applications import VGG16  # imported after the replacement
from keras.applications.vgg16 import VGG16 as VGG16_too
from keras.src.applications import mobilenet
from tlhelpers import models

print("same:", VGG16 is keras.applications.VGG16 is VGG16_too)
print("mobilenet untouched:", keras.applications.MobileNet is mobilenet.MobileNet
      and models.BASES["mobilenet_025"].constructor is mobilenet.MobileNet)
base = VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
also = VGG16(False, "imagenet", None, (32, 32, 3))  # weights given by position
built = models.build_base("vgg16", (32, 32, 3))
print("built:", base.count_params(), also.count_params(), built.count_params(),
      file=sys.stderr)
"""


def test_a_logits_head_ends_without_softmax_and_matches_a_from_logits_loss():
    head = models.build_head(3, hidden_units=0, activation=None)
    head.build((None, 4))
    assert head.layers[-1].activation.__name__ == "linear"
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    logits = head(x).numpy()
    probs = keras.ops.softmax(logits).numpy()
    labels = np.array([0, 1, 2, 0, 1])
    from_logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    from_probs = keras.losses.SparseCategoricalCrossentropy()(labels, probs)
    np.testing.assert_allclose(float(from_logits), float(from_probs), rtol=1e-5)
    with pytest.raises(ValueError, match="`activation` must be 'softmax'"):
        models.build_head(3, activation="sigmoid")


def test_build_base_does_not_repeat_keras_default_size_warning(imagenet_cache):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models.build_base("mobilenet_025", (96, 96, 3))
    assert not [w for w in caught if "input_shape` is undefined" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:  # Keras itself still says it
        warnings.simplefilter("always")
        keras.applications.MobileNet(alpha=0.25, include_top=False, weights="imagenet",
                                     input_shape=(96, 96, 3))
    assert [w for w in caught if "input_shape` is undefined" in str(w.message)]
