import numpy as np
import pytest

from tlhelpers import plots


def test_history_plot_has_train_and_validation_curves():
    logs = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8],
            "val_accuracy": [0.4, 0.7]}
    fig = plots.plot_history(logs, title="t")
    assert len(fig.axes) == 2
    assert [line.get_label() for line in fig.axes[0].lines] == ["train", "validation"]
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_ydata(), [0.5, 0.8])


def test_history_plot_names_missing_metrics():
    with pytest.raises(ValueError, match=r"\['auc'\].*Received keys: \['loss'\]"):
        plots.plot_history({"loss": [1.0]}, metrics=("loss", "auc"))


def test_image_grid_colours_right_and_wrong():
    images = np.zeros((4, 8, 8, 3))
    fig = plots.plot_image_grid(images, ["a", "b"], y_true=[0, 1, 0, 1], y_pred=[0, 0, 0, 1],
                                columns=2)
    titles = [ax.title for ax in fig.axes[:4]]
    assert titles[0].get_text() == "a\n(true: a)"
    assert titles[1].get_text() == "a\n(true: b)"
    assert titles[0].get_color() == plots.RIGHT and titles[1].get_color() == plots.WRONG


def test_image_grid_checks_label_lengths():
    with pytest.raises(ValueError, match="`y_pred` has 1 labels for 3 images"):
        plots.plot_image_grid(np.zeros((3, 4, 4, 3)), ["a"], y_true=[0, 0, 0], y_pred=[0])


def test_flow_draws_one_box_per_step():
    fig = plots.plot_flow(["one", "two", "three", "four"], columns=3)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1. one", "2. two", "3. three", "4. four"]
    with pytest.raises(ValueError, match="steps=\\[\\]"):
        plots.plot_flow([])
