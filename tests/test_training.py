import re

import keras
import numpy as np
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
