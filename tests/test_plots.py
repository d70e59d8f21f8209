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


def test_image_grid_marks_right_and_wrong_by_sign_and_colour():
    images = np.zeros((4, 8, 8, 3))
    fig = plots.plot_image_grid(images, ["a", "b"], y_true=[0, 1, 0, 1], y_pred=[0, 0, 0, 1],
                                columns=2)
    titles = [ax.title for ax in fig.axes[:4]]
    assert titles[0].get_text() == "✓ a\n(true: a)"  # not by colour alone
    assert titles[1].get_text() == "✗ a\n(true: b)"
    assert titles[0].get_color() == plots.RIGHT and titles[1].get_color() == plots.WRONG


def test_colours_are_the_colour_blind_safe_cycle_whatever_the_caller_set():
    import matplotlib.pyplot as plt

    with plt.rc_context({"axes.prop_cycle": plt.cycler(color=["#00ff00", "#ff0000"])}):
        fig = plots.plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]},
                                 metrics=("loss",))
    assert [line.get_color() for line in fig.axes[0].lines[:2]] == list(plots.PALETTE[:2])
    assert plots.RIGHT in plots.PALETTE and plots.WRONG in plots.PALETTE
    assert plt.rcParams["axes.prop_cycle"].by_key()["color"][0] != "#00ff00"  # restored


def test_a_figure_that_switches_interactive_mode_on_leaves_it_on():
    """In a notebook, pyplot picks its backend at the first figure, inside the style's
    context, and that switches interactive mode on: the mode that shows each new figure
    under its cell. Leaving the context must not switch it off again, or no later
    figure of the chapter would show."""
    import matplotlib.pyplot as plt

    def first_figure():  # what the inline backend's activation does
        plt.interactive(True)
        return plt.figure()

    was = plt.isinteractive()
    plt.interactive(False)
    try:
        fig = plots._styled(first_figure)()
        assert plt.isinteractive()
        plt.close(fig)
        plt.interactive(False)
        plt.close(plots._styled(plt.figure)())
        assert not plt.isinteractive()  # a script that is not interactive stays so
    finally:
        plt.interactive(was)


def test_image_grid_checks_label_lengths():
    with pytest.raises(ValueError, match="`y_pred` has 1 labels for 3 images"):
        plots.plot_image_grid(np.zeros((3, 4, 4, 3)), ["a"], y_true=[0, 0, 0], y_pred=[0])


def test_flow_draws_one_box_per_step():
    fig = plots.plot_flow(["one", "two", "three", "four"], columns=3)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1. one", "2. two", "3. three", "4. four"]
    with pytest.raises(ValueError, match="steps=\\[\\]"):
        plots.plot_flow([])


def test_embeddings_plot_one_panel_per_embedding_and_checks_shapes():
    points = np.random.default_rng(0).normal(size=(6, 2))
    labels = [0, 1, 2, 0, 1, 2]
    fig = plots.plot_embeddings({"PCA": points, "t-SNE": points}, labels, ["a", "b", "c"],
                                title="t")
    assert [ax.get_title() for ax in fig.axes] == ["PCA", "t-SNE"]
    assert len(fig.axes[0].collections) == 3
    with pytest.raises(ValueError, match="shape \\(6, 3\\)"):
        plots.plot_embeddings({"bad": np.zeros((6, 3))}, labels, ["a", "b", "c"])


def test_sweep_plot_draws_one_line_per_recipe():
    from tlhelpers.experiments import Summary

    summaries = {(r, n): Summary(r, n, m, 0.01, m - 0.02, m + 0.02, 3)
                 for r, base in (("transfer", 0.6), ("scratch", 0.4))
                 for n, m in ((5, base), (20, base + 0.1))}
    fig = plots.plot_sweep(summaries, chance=0.2)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["transfer", "scratch", "chance"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.6, 0.7])
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        plots.plot_sweep({})


def test_transfer_by_depth_plot_has_baseline_and_treatments():
    results = {"BnB": {1: [0.8, 0.82], 2: [0.79, 0.8]}, "AnB+": {1: [0.83], 2: [0.84]}}
    fig = plots.plot_transfer_by_depth(results, baseline=[0.8, 0.81])
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["baseB", "BnB", "AnB+"]
    assert fig.axes[0].lines[1].get_linestyle() == "--"
    assert fig.axes[0].lines[2].get_linestyle() == "-"
    with pytest.raises(ValueError, match="must not be empty"):
        plots.plot_transfer_by_depth({}, baseline=[0.5])


def test_history_with_a_stage_marker_confusion_matrix_and_mistakes():
    history = {"loss": [1.0, 0.5, 0.4, 0.3], "val_loss": [1.1, 0.7, 0.6, 0.6],
               "accuracy": [0.5, 0.7, 0.8, 0.9], "val_accuracy": [0.4, 0.6, 0.7, 0.7]}
    fig = plots.plot_history(history, stage_starts=[2])
    lines = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == ":"]
    assert len(lines) == 1 and lines[0].get_xdata()[0] == 2.5
    fig = plots.plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"])
    assert [t.get_text() for t in fig.axes[0].texts][:3] == ["1", "0", "0"]
    images = np.zeros((4, 8, 8, 3))
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    fig = plots.plot_confident_mistakes(images, [1, 1, 1, 0], probs, ["x", "y"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["✗ x 0.90\n(true: y)", "✗ y 0.70\n(true: x)", "✗ x 0.60\n(true: y)"]
    assert plots.plot_confident_mistakes(images[:1], [0], probs[:1], ["x", "y"]).axes[0] \
        .get_title() == "no mistakes"


def test_filters_plot_one_tile_per_filter_and_one_scale_per_panel():
    kernel = np.zeros((3, 3, 3, 10))
    kernel[..., 1] = 2.0  # the panel's largest weight: full brightness
    kernel[..., 2] = -1.0
    fig = plots.plot_filters({"a": kernel, "grey": np.ones((5, 5, 1, 3))}, columns=8)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 13
    assert [ax.get_title() for ax in fig.axes if ax.images][:3] == ["0", "1", "2"]
    np.testing.assert_allclose(images[0].get_array(), 0.5)  # all zeros: flat grey
    np.testing.assert_allclose(images[1].get_array(), 1.0)
    np.testing.assert_allclose(images[2].get_array(), 0.25)
    assert [sub._suptitle.get_text() for sub in fig.subfigs] == ["a", "grey"]
    with pytest.raises(ValueError, match=r"shape \(3, 3, 2, 4\)"):
        plots.plot_filters({"bad": np.zeros((3, 3, 2, 4))})
    with pytest.raises(ValueError, match="empty"):
        plots.plot_filters({})


def test_feature_maps_plot_shows_the_most_active_channels_per_depth():
    shallow = np.zeros((1, 8, 8, 4))
    shallow[..., 2] = 3.0
    shallow[..., 0] = 1.0
    deep = np.arange(2 * 2 * 16, dtype=float).reshape(2, 2, 16)
    fig = plots.plot_feature_maps({"shallow": shallow, "deep": deep}, channels=3,
                                  image=np.full((16, 16, 3), 255.0))
    axes = np.array(fig.axes).reshape(2, 4)
    assert [ax.get_title() for ax in axes[0]] == ["input", "#2", "#0", "#1"]
    assert [ax.get_title() for ax in axes[1]] == ["input", "#15", "#14", "#13"]
    assert axes[1, 0].get_ylabel() == "deep\n2 x 2 x 16"
    assert {ax.images[0].get_clim() for ax in axes[0, 1:]} == {(0.0, 3.0)}  # one per row
    with pytest.raises(ValueError, match=r"shape \(8, 8\)"):
        plots.plot_feature_maps({"flat": np.zeros((8, 8))})
    with pytest.raises(ValueError, match="empty"):
        plots.plot_feature_maps({})


def test_histories_over_seeds_draw_mean_and_band_per_recipe_and_check_lengths():
    run = {"accuracy": [0.5, 0.9], "val_accuracy": [0.4, 0.6], "loss": [1.0, 0.2],
           "val_loss": [1.2, 1.0]}
    other = {key: [v + 0.1 for v in values] for key, values in run.items()}
    fig = plots.plot_histories_over_seeds({"a": [run, other], "b": [run]}, stage_start=1)
    assert len(fig.axes) == 2
    lines = [line for line in fig.axes[0].lines if line.get_label().startswith("a")]
    assert [line.get_label() for line in lines] == ["a, train", "a, held out"]
    np.testing.assert_allclose(lines[0].get_ydata(), [0.55, 0.95])
    assert len(fig.axes[0].collections) == 4  # one band per recipe and curve
    with pytest.raises(ValueError, match="different numbers of epochs"):
        plots.plot_histories_over_seeds({"a": [run, {k: v[:1] for k, v in run.items()}]})
    with pytest.raises(ValueError, match="'auc'"):
        plots.plot_histories_over_seeds({"a": [run]}, metrics=("auc",))


def test_lr_range_test_plot_marks_the_suggestion_and_the_minimum():
    from tlhelpers.training import LearningRateRangeTest

    test = LearningRateRangeTest(start=1e-4, stop=1.0, steps=5)
    test.learning_rates = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    test.losses = [2.0, 1.9, 1.0, 0.8, 5.0]
    test.raw_losses = [2.0, 1.8, 0.4, 0.7, 9.0]
    fig = plots.plot_lr_range_test(test, title="range test")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["loss of each batch", "smoothed loss"]
    assert f"steepest fall: {test.suggestion():.1e}" in labels
    assert "lowest loss: 1.0e-01" in labels
    fig.canvas.draw()  # tick labels are made at drawing time
    ticks = [label.get_text() for label in ax.get_xticklabels() if label.get_text()]
    assert ticks and all("$" not in tick for tick in ticks), ticks  # no raw mathtext
    assert "1e-02" in ticks
