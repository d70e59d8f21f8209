import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tlhelpers import config, training


def _toy():
    config.set_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    ds = tf.data.Dataset.from_tensor_slices((x, keras.utils.to_categorical(y, 2))).batch(16)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model, ds, y


def test_fit_prints_one_rounded_line_per_epoch_without_timings(capsys):
    model, ds, _ = _toy()
    history = training.fit(model, ds, ds, epochs=3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch  1/3: ")
    assert all(re.fullmatch(r"epoch +\d/3: (\w+ \d+\.\d{3}  ){3}\w+ \d+\.\d{3}", ln)
               for ln in lines)
    assert "ms/step" not in "".join(lines)
    assert len(history.history["loss"]) == 3


def test_fit_every_prints_the_last_epoch(capsys):
    model, ds, _ = _toy()
    training.fit(model, ds, epochs=5, every=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["epoch  2/5", "epoch  4/5", "epoch  5/5"]


def test_evaluate_and_predict_classes_agree():
    model, ds, y = _toy()
    training.fit(model, ds, epochs=5, every=5)
    metrics = training.evaluate(model, ds)
    images, y_true, y_pred = training.predict_classes(model, ds)
    np.testing.assert_array_equal(y_true, y)
    assert images.shape == (64, 4)
    assert abs(np.mean(y_true == y_pred) - metrics["accuracy"]) < 1e-6
    _, y_true_10, _ = training.predict_classes(model, ds, max_images=10)
    *same, probs = training.predict_classes(model, ds, return_probs=True)
    assert all(np.array_equal(a, b) for a, b in zip(same, (images, y_true, y_pred), strict=True))
    assert probs.shape == (len(images), model.output_shape[-1])
    assert np.array_equal(probs.argmax(axis=1), y_pred)
    assert len(y_true_10) == 10


def test_epoch_timer_records_one_duration_per_epoch():
    import keras

    from tlhelpers.training import EpochTimer

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    timer = EpochTimer()
    model.fit(np.zeros((8, 2)), np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.seconds) == 3 and all(s > 0 for s in timer.seconds)


def test_fit_can_be_quiet(capsys):
    model, ds, _ = _toy()
    history = training.fit(model, ds, epochs=2, verbose=False)
    assert capsys.readouterr().out == ""
    assert len(history.history["loss"]) == 2


def test_fit_accepts_an_unbuilt_head(capsys):
    _, ds, _ = _toy()
    head = keras.Sequential([keras.layers.Dense(2, activation="softmax")])  # no Input
    head.compile("adam", "categorical_crossentropy")
    training.fit(head, ds, epochs=1, verbose=False)
    assert head.output_shape == (None, 2)


def _int_labels(labels, shape=(-1,)):
    x = np.zeros((len(labels), 4), "float32")
    y = np.asarray(labels, "int64").reshape(shape)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _classifier(units, name="head"):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="softmax")],
                             name=name)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_fit_stops_one_hot_labels_of_another_width():
    _, ds, _ = _toy()  # two classes, one-hot
    with pytest.raises(ValueError, match=r"'three' predicts 3 classes, but the data has 2\. "
                                         r"Build the head with `num_classes=len\(class_names\)`"):
        training.fit(_classifier(3, "three"), ds, epochs=1, verbose=False)


def test_the_classes_of_an_image_folder_are_checked(make_folder):
    from tlhelpers import data

    root = make_folder({"a": 10, "b": 10, "c": 10})
    loaded = data.load_image_folder(root, (8, 8), label_mode="int", verbose=False)
    assert loaded.train_ds.class_names == loaded.class_names == ["a", "b", "c"]
    assert training.data_classes(loaded.val_ds) == 3
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")], name="two")
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"'two' predicts 2 classes, but the data has 3 "
                                         r"\(a, b, c\)"):
        training.fit(model, loaded.train_ds, epochs=1)
    keras_ds = keras.utils.image_dataset_from_directory(root, image_size=(8, 8), verbose=False)
    assert training.data_classes(keras_ds) == 3  # Keras' own loader says it too


def test_integer_labels_without_class_names_are_left_to_keras_or_counted_when_given():
    unnamed = _int_labels([0, 1, 2, 3, 4])
    assert training.data_classes(unnamed) is None  # counting would read the whole pipeline
    training.fit(_classifier(5), unnamed, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="predicts 3 classes, but the data has 5"):
        training.fit(_classifier(3), unnamed, epochs=1, verbose=False, num_classes=5)
    binary = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    binary.compile("adam", "binary_crossentropy")  # one sigmoid unit: not a class count
    training.fit(binary, _int_labels([0, 1, 1, 0], (-1, 1)), epochs=1, verbose=False,
                 num_classes=2)


def test_accuracy_and_to_numpy():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.layers[0].set_weights([np.array([[1.0, -1.0], [0.0, 0.0]]), np.zeros(2)])
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0], [-3.0, 0.0]], dtype="float32")
    assert training.accuracy(model, x, np.array([0, 1, 0, 1]), batch_size=3) == 1.0
    assert training.accuracy(model, x, keras.utils.to_categorical([0, 0, 0, 0], 2)) == 0.5
    with pytest.raises(ValueError, match="4 images and 3 labels"):
        training.accuracy(model, x, np.array([0, 1, 0]))
    assert isinstance(training.to_numpy(tf.constant([1, 2])), np.ndarray)


def test_train_steps_counts_steps_not_epochs():
    config.set_seed(0)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    y = np.array([0, 1, 0, 1, 0])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    training.train_steps(model, x, y, steps=7, seed=0, batch_size=4)
    assert int(model.optimizer.iterations) == 7  # 28 images drawn from 5
    with pytest.raises(ValueError, match="steps=0"):
        training.train_steps(model, x, y, steps=0, seed=0)


def test_fine_tune_unfreezes_blocks_continues_the_epochs_and_merges(capsys):
    from tlhelpers import models

    config.set_seed(0)  # VGG16: no BatchNormalization to keep random weights from training
    base = models.freeze(models.build_base("vgg16", (32, 32, 3), weights=None))
    model = models.assemble(base, models.build_head(2, hidden_units=0, pooling="avg"), "caffe")
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, keras.utils.to_categorical(np.arange(8) % 2,
                                                                           2))).batch(4)
    first = training.fit(model, ds, ds, epochs=2, verbose=False)
    before = models.snapshot_weights(base)
    second = training.fine_tune(model, base, ["block5"], ds, ds, epochs=2, initial_epoch=2)
    assert capsys.readouterr().out.splitlines()[0].startswith("epoch  3/4:")
    assert second.epoch == [2, 3]
    moved = {c.layer for c in before.changes(base) if c.changed}
    assert moved == {"block5_conv1", "block5_conv2", "block5_conv3"}
    merged = training.merge_histories(first, second)
    assert len(merged["val_accuracy"]) == 4 and merged["loss"][:2] == first.history["loss"]
    with pytest.raises(ValueError, match="different metrics"):
        training.merge_histories({"loss": [1.0]}, {"acc": [0.5]})


_TWO_CPU_REPLICAS = """
import json

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]  # before TensorFlow initialises
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import numpy as np

from tlhelpers import config, training

config.set_seed(0)
default = training.distribution_strategy()  # no GPU here: the default strategy
strategy = training.distribution_strategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.02),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int64")
history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=4,
                    verbose=0)
print(json.dumps({
    "cpus": len(tf.config.list_logical_devices("CPU")),
    "default": [type(default).__name__, default.num_replicas_in_sync,
                default is tf.distribute.get_strategy()],
    "mirrored": [type(strategy).__name__, strategy.num_replicas_in_sync,
                 sorted(strategy.extended.worker_devices)],
    "variable": type(model.weights[0].value).__name__,
    "loss": history.history["loss"],
    "accuracy": history.history["accuracy"],
}))
"""


@pytest.mark.slow
def test_distribution_strategy_trains_on_two_logical_cpus():
    """Data parallelism where no second GPU exists: the CPU split in two logical devices,
    in a subprocess, since devices are configured before TensorFlow initialises."""
    import json
    import os
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _TWO_CPU_REPLICAS], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["cpus"] == 2
    assert out["default"] == ["_DefaultDistributionStrategy", 1, True]
    assert out["mirrored"] == ["MirroredStrategy", 2, [
        "/job:localhost/replica:0/task:0/device:CPU:0",
        "/job:localhost/replica:0/task:0/device:CPU:1"]]
    assert out["variable"] == "MirroredVariable"  # one copy of each weight per device
    loss = out["loss"]
    assert loss[-1] < 0.8 * loss[0], loss
    assert all(a > b for a, b in zip(loss, loss[1:], strict=False)), loss
    assert out["accuracy"][-1] > 0.8, out["accuracy"]


@pytest.mark.parametrize("devices", ["/cpu:0", [], ["/cpu:0", 1]])
def test_distribution_strategy_names_bad_devices(devices):
    with pytest.raises(ValueError, match=re.escape(f"Received: `devices={devices!r}`")):
        training.distribution_strategy(devices)


def test_distribution_strategy_without_several_gpus_is_the_default():
    if len(tf.config.list_logical_devices("GPU")) > 1:
        pytest.skip("several GPUs here: see the two-CPU test for the mirrored case")
    assert training.distribution_strategy() is tf.distribute.get_strategy()


def _regression_toy():
    config.set_seed(0)
    x = np.random.default_rng(1).normal(size=(1024, 8)).astype("float32")
    y = (x @ np.arange(1, 9, dtype="float32") / 8)[:, None]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model, ds


def test_lr_range_test_sweeps_geometrically_stops_when_the_loss_explodes_and_restores():
    model, ds = _regression_toy()
    before = [w.numpy().copy() for w in model.weights]
    test = training.lr_range_test(model, ds, start=1e-5, stop=1e3, steps=60)
    rates = np.array(test.learning_rates)
    np.testing.assert_allclose(rates[1:] / rates[:-1], (1e3 / 1e-5) ** (1 / 59), rtol=1e-6)
    assert len(rates) < 60  # stopped early: at 1e3 the loss explodes
    assert test.losses[-1] > 4 * min(test.losses)
    lowest = test.learning_rates[int(np.argmin(test.losses))]
    assert 1e-5 < test.suggestion() <= lowest  # on the falling stretch, not past the minimum
    for w, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)  # the model is as it was
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert int(model.optimizer.iterations.numpy()) == 0
    history = model.fit(ds, epochs=3, verbose=0)  # and trains as a fresh one
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_lr_range_test_suggests_a_rate_that_trains_better_than_a_tiny_one():
    model, ds = _regression_toy()
    suggested = training.lr_range_test(model, ds, start=1e-6, stop=10.0, steps=80).suggestion()

    def loss_after(rate):
        net, _ = _regression_toy()
        net.compile(optimizer=keras.optimizers.Adam(rate), loss="mse")
        return net.fit(ds, epochs=2, verbose=0).history["loss"][-1]

    assert loss_after(suggested) < loss_after(1e-6)


def test_lr_range_test_suggestion_leaves_out_the_noise_of_the_first_batches():
    test = training.LearningRateRangeTest(start=1e-6, stop=1.0, steps=40)
    test.learning_rates = [test._rate(step) for step in range(30)]
    # a batch-to-batch drop at the first rates (noise: nothing is learnt yet), a flat
    # stretch, the real fall around 1e-3, the minimum, then the rise
    test.losses = ([5.0, 3.0, 4.0, 4.1] + [4.0] * 12 + [3.9, 3.7, 3.3, 2.8, 2.2, 1.8]
                   + [1.6, 1.5, 1.45, 1.4, 1.6, 2.5, 4.0, 7.0])
    suggested = test.suggestion()
    assert suggested == test.learning_rates[19]  # the steepest fall of the real one
    assert 1e-4 < suggested < test.learning_rates[int(np.argmin(test.losses))]
    few = training.LearningRateRangeTest(start=1e-3, stop=1.0, steps=40)
    few.learning_rates, few.losses = [1e-3, 1e-2, 1e-1], [2.0, 1.0, 3.0]
    assert few.suggestion() == 1e-3  # too few batches to leave the first out


def test_lr_range_test_wants_a_plain_learning_rate():
    model, ds = _regression_toy()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.9)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    with pytest.raises(ValueError, match="a schedule does not allow"):
        training.lr_range_test(model, ds, steps=10)
    with pytest.raises(ValueError, match="Need 0 < start < stop"):
        training.LearningRateRangeTest(start=1.0, stop=0.1)
    with pytest.raises(ValueError, match="needs at least 3"):
        training.LearningRateRangeTest().suggestion()


def _small_net(seed: int, frozen: int = 0) -> keras.Model:
    from tlhelpers import convnets

    config.set_seed(seed)
    network = convnets.build_small_cnn((8, 8, 1), 3, conv_filters=(4, 4), pool_every=1,
                                       dense_units=(), global_pool=True)
    for layer in convnets.feature_layers(network)[:frozen]:
        layer.trainable = False
    return network


def test_step_trainer_trains_as_compiling_the_network_would():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 8, 8, 1)).astype("uint8")
    labels = rng.integers(0, 3, 40)
    trainer = training.StepTrainer(3e-3)
    for seed, frozen in ((0, 0), (1, 0), (2, 1), (3, 1)):
        expected = _small_net(seed, frozen)
        expected.compile(optimizer=keras.optimizers.Adam(3e-3),
                         loss="sparse_categorical_crossentropy")
        training.train_steps(expected, images, labels, 6, seed, batch_size=8)
        network = _small_net(seed, frozen)
        frozen_before = [w.copy() for w in network.get_weights()[:2]]
        assert trainer.train_steps(network, images, labels, 6, seed, batch_size=8) is network
        for got, want in zip(network.get_weights(), expected.get_weights(), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        if frozen:  # layer1's kernel and bias did not move
            for got, before in zip(network.get_weights()[:2], frozen_before, strict=True):
                np.testing.assert_array_equal(got, before)
    # one twin per kind: all layers free, and layer1 frozen; the second seed of each reused it
    assert trainer.num_compiled == 2


def test_step_trainer_needs_a_positive_learning_rate():
    with pytest.raises(ValueError, match="learning_rate=0"):
        training.StepTrainer(0)
