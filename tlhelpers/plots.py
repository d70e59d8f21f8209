"""Figures: training curves, image grids with predictions, flow diagrams, filters and feature maps.

Every function draws into a new figure and returns it, so a notebook cell can show it
and a test can inspect it. Colours are for every reader: lines and points take
Matplotlib's colour-blind-safe `petroff10` cycle (`PALETTE`), maps `viridis`, and a right
or wrong prediction is told by a mark (✓, ✗) as well as by its colour.

Used by every chapter that trains a model (curves, grids), by the nine-step chapter
(the flow diagram), by the concepts chapter (filters, feature maps) and by the FAQ
experiments (curves of several recipes over seeds).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = [
    "plot_confident_mistakes",
    "plot_confusion_matrix",
    "plot_embeddings",
    "plot_feature_maps",
    "plot_filters",
    "plot_flow",
    "plot_history",
    "plot_histories_over_seeds",
    "plot_image_grid",
    "plot_gradcam",
    "plot_learning_curve",
    "plot_lr_range_test",
    "plot_reliability",
    "plot_sweep",
    "plot_transfer_by_depth",
    "PALETTE",
]

# Matplotlib's colour-blind-safe cycle of ten colours (Petroff, 2021), as its style has it.
PALETTE: tuple[str, ...] = tuple(plt.style.library["petroff10"]["axes.prop_cycle"]
                                 .by_key()["color"])
RIGHT, WRONG = PALETTE[0], PALETTE[2]  # blue and red: apart for every kind of colour vision
RIGHT_MARK, WRONG_MARK = "✓", "✗"


def _styled(plot: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draws with the colour-blind-safe style, whatever the caller's defaults."""

    @functools.wraps(plot)
    def styled(*args, **kwargs):
        # names are data: a class called "$5-$10" is text, not mathematics
        with plt.style.context("petroff10"), plt.rc_context({"image.cmap": "viridis",
                                                              "text.parse_math": False}):
            figure = plot(*args, **kwargs)
            # Pyplot picks its backend at the first figure; in a notebook that switches
            # interactive mode on, which is what shows each new figure under its cell.
            # Leaving the contexts restores every rcParam, interactive mode included, and
            # no later figure would show: keep it as drawing left it.
            interactive = plt.isinteractive()
        plt.interactive(interactive)
        return figure

    return styled


@_styled
def plot_history(history, metrics: Sequence[str] = ("loss", "accuracy"),
                 title: str | None = None, stage_starts: Sequence[int] = (),
                 stage_label: str = "fine-tuning starts") -> Figure:
    """Plots training and validation curves, one panel per metric.

    Args:
        history: a `keras.callbacks.History` or its `.history` dict (for several
            stages, `training.merge_histories`).
        metrics: the metrics to plot (default loss and accuracy); `val_<metric>` is
            drawn too when present.
        title: a title above the panels.
        stage_starts: epochs (counted from 0, like Keras' `initial_epoch`) at which a
            later stage began; each gets a dashed vertical line.
        stage_label: the legend entry of those lines.

    Returns:
        The figure.

    Raises:
        ValueError: if a metric is not in the history; the message lists those that are.
    """
    logs = getattr(history, "history", history)
    missing = [m for m in metrics if m not in logs]
    if missing:
        raise ValueError(
            f"Metric(s) {missing} are not in the history. Received keys: {sorted(logs)}."
        )
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        epochs = np.arange(1, len(logs[metric]) + 1)
        ax.plot(epochs, logs[metric], "o-", label="train")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "s--", label="validation")
        for i, start in enumerate(stage_starts):
            ax.axvline(start + 0.5, color="0.35", linestyle=":",
                       label=stage_label if i == 0 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@_styled
def plot_histories_over_seeds(histories: dict[str, Sequence[dict]],
                              metrics: Sequence[str] = ("accuracy", "loss"),
                              title: str | None = None, stage_start: int | None = None,
                              val_label: str = "held out",
                              stage_label: str = "fine-tuning starts") -> Figure:
    """Training curves of several recipes, each run with several seeds: one panel per
    metric, the mean over seeds as a line, the range over seeds as a band.

    Training curves are solid, `val_<metric>` curves dashed, in the recipe's colour.

    Args:
        histories: `{recipe: [history of each seed]}`, each history a
            `keras.callbacks.History` or a dict `{metric: [value per epoch]}`; the seeds
            of one recipe must have run the same number of epochs.
        metrics: the metrics to plot (default accuracy and loss).
        title: a title above the panels.
        stage_start: the epoch (counted from 0) at which a later stage began, marked by
            a dotted vertical line; `None` for none.
        val_label: how the legend names the `val_` curves (default "held out").
        stage_label: the legend entry of the stage line.

    Returns:
        The figure.

    Raises:
        ValueError: if `histories` is empty, a recipe has no run, a metric is missing,
            or the seeds of a recipe ran different numbers of epochs.
    """
    if not histories or not all(len(runs) for runs in histories.values()):
        raise ValueError("`histories` needs at least one recipe with one run. Received: "
                         f"{ {k: len(v) for k, v in histories.items()} }.")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.3 * len(metrics), 3.4), squeeze=False)
    for i, (recipe, runs) in enumerate(histories.items()):
        logs = [getattr(run, "history", run) for run in runs]
        for ax, metric in zip(axes[0], metrics, strict=True):
            for key, style, suffix in ((metric, "-", "train"),
                                       (f"val_{metric}", "--", val_label)):
                if key not in logs[0]:
                    if key == metric:
                        raise ValueError(f"Metric {metric!r} is not in the history of "
                                         f"{recipe!r}. Received keys: {sorted(logs[0])}.")
                    continue
                lengths = {len(log[key]) for log in logs}
                if len(lengths) != 1:
                    raise ValueError(f"The seeds of {recipe!r} ran different numbers of "
                                     f"epochs: {sorted(lengths)}. Received {len(logs)} runs.")
                values = np.array([log[key] for log in logs], dtype=float)
                epochs = np.arange(1, values.shape[1] + 1)
                ax.plot(epochs, values.mean(axis=0), style, color=PALETTE[i % len(PALETTE)],
                        label=f"{recipe}, {suffix}")
                ax.fill_between(epochs, values.min(axis=0), values.max(axis=0),
                                color=PALETTE[i % len(PALETTE)], alpha=0.15)
    for j, (ax, metric) in enumerate(zip(axes[0], metrics, strict=True)):
        if stage_start is not None:
            ax.axvline(stage_start + 0.5, color="0.35", linestyle=":",
                       label=stage_label if j == 0 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 3), fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title)
    rows = -(-len(names) // 3)
    fig.tight_layout(rect=(0, 0.05 * rows + 0.02, 1, 1))
    return fig


@_styled
def plot_confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int],
                          class_names: Sequence[str], title: str | None = None) -> Figure:
    """Draws the confusion matrix with scikit-learn's `ConfusionMatrixDisplay`.

    Rows are the true classes, columns the predicted ones; each cell counts images.

    Args:
        y_true: true labels (integers).
        y_pred: predicted labels (integers).
        class_names: label `i` is `class_names[i]`.
        title: a title above the matrix.

    Returns:
        The figure.
    """
    from sklearn.metrics import ConfusionMatrixDisplay  # deferred: slow to import

    size = 1.6 + 0.55 * len(class_names)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=list(range(len(class_names))), display_labels=class_names,
        ax=ax, colorbar=False, xticks_rotation=45)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


@_styled
def plot_confident_mistakes(images: np.ndarray, y_true: Sequence[int], probs: np.ndarray,
                            class_names: Sequence[str], max_images: int = 12,
                            columns: int = 6) -> Figure:
    """Shows the wrong predictions the model was surest of, most confident first.

    Args:
        images: the images, `(n, h, w, 3)`, pixels in [0, 255] (or [0, 1]).
        y_true: their true labels (integers).
        probs: the predicted probabilities, `(n, num_classes)`.
        class_names: label `i` is `class_names[i]`.
        max_images: at most this many mistakes (default 12).
        columns: images per row (default 6).

    Returns:
        The figure (an empty one titled "no mistakes" when every prediction is right).
    """
    probs = np.asarray(probs)
    y_true = np.asarray(y_true)
    y_pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    order = wrong[np.argsort(-probs[wrong, y_pred[wrong]], kind="stable")][:max_images]
    if not len(order):
        fig, ax = plt.subplots(figsize=(3, 1))
        ax.axis("off")
        ax.set_title("no mistakes")
        return fig
    fig = plot_image_grid(np.asarray(images)[order], class_names, y_true[order], y_pred[order],
                          columns=columns, max_images=max_images)
    for ax, i in zip(fig.axes, order, strict=False):
        ax.set_title(f"{WRONG_MARK} {class_names[y_pred[i]]} {probs[i, y_pred[i]]:.2f}\n"
                     f"(true: {class_names[y_true[i]]})", fontsize=8, color=WRONG)
    return fig


@_styled
def plot_image_grid(images: np.ndarray, class_names: Sequence[str],
                    y_true: Sequence[int] | None = None, y_pred: Sequence[int] | None = None,
                    columns: int = 6, max_images: int = 18) -> Figure:
    """Shows images in a grid, titled with predicted and true labels.

    A title is marked ✓ (blue) where the prediction is right and ✗ (red) where it is
    wrong.

    Args:
        images: RGB images, pixel values in [0, 255] (or [0, 1]), shape `(n, h, w, 3)`.
        class_names: label `i` is `class_names[i]`.
        y_true: true labels (integers), or `None`.
        y_pred: predicted labels (integers), or `None`.
        columns: images per row (default 6).
        max_images: at most this many images (default 18).

    Returns:
        The figure.

    Raises:
        ValueError: if the label arrays do not match the images in length.
    """
    images = np.asarray(images)
    n = min(len(images), max_images)
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels is not None and len(labels) < n:
            raise ValueError(
                f"`{name}` has {len(labels)} labels for {n} images; pass one per image."
            )
    rows = max(1, -(-n // columns))
    two_lines = y_pred is not None and y_true is not None  # room for two-line titles
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(1.9 * columns, (2.4 if two_lines else 2.1) * rows))
    scale = 255.0 if images.max(initial=0) > 1.0 else 1.0
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(np.clip(images[i] / scale, 0, 1))
        if y_pred is not None and y_true is not None:
            ok = y_pred[i] == y_true[i]
            ax.set_title(f"{RIGHT_MARK if ok else WRONG_MARK} {class_names[y_pred[i]]}\n"
                         f"(true: {class_names[y_true[i]]})",
                         fontsize=8, color=RIGHT if ok else WRONG)
        elif y_true is not None:
            ax.set_title(class_names[y_true[i]], fontsize=8)
        elif y_pred is not None:
            ax.set_title(class_names[y_pred[i]], fontsize=8)
    fig.tight_layout()
    return fig


@_styled
def plot_flow(steps: Sequence[str], columns: int = 3, title: str | None = None) -> Figure:
    """Draws numbered steps as boxes joined by arrows, row by row (a flow chart).

    Args:
        steps: the steps' labels, in order.
        columns: boxes per row (default 3); rows snake left-right, right-left.
        title: a title above the chart.

    Returns:
        The figure.

    Raises:
        ValueError: if `steps` is empty.
    """
    if not steps:
        raise ValueError("`steps` is empty. Received: `steps=[]`; pass at least one label.")
    rows = -(-len(steps) // columns)
    box_w, box_h, gap_x, gap_y = 2.6, 0.9, 0.8, 0.7
    fig, ax = plt.subplots(figsize=(columns * 2.6, rows * 1.35))
    centres = []
    for i, label in enumerate(steps):
        row, col = divmod(i, columns)
        if row % 2:
            col = columns - 1 - col
        x = col * (box_w + gap_x)
        y = -row * (box_h + gap_y)
        centres.append((x + box_w / 2, y + box_h / 2))
        ax.add_patch(FancyBboxPatch((x, y), box_w, box_h, boxstyle="round,pad=0.05",
                                    facecolor="#ddf4ff", edgecolor="#0969da"))
        ax.text(x + box_w / 2, y + box_h / 2, f"{i + 1}. {label}", ha="center",
                va="center", fontsize=9, wrap=True)
    for (x0, y0), (x1, y1) in zip(centres, centres[1:], strict=False):
        if y0 == y1:
            start = (x0 + np.sign(x1 - x0) * box_w / 2, y0)
            end = (x1 - np.sign(x1 - x0) * box_w / 2, y1)
        else:
            start, end = (x0, y0 - box_h / 2 - 0.05), (x1, y1 + box_h / 2 + 0.05)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                     color="#57606a"))
    ax.set_xlim(-0.2, columns * (box_w + gap_x) - gap_x + 0.2)
    ax.set_ylim(-(rows - 1) * (box_h + gap_y) - 0.2, box_h + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


@_styled
def plot_embeddings(embeddings: dict[str, np.ndarray], labels: Sequence[int],
                    class_names: Sequence[str], title: str | None = None,
                    point_size: float = 9.0) -> Figure:
    """Scatters 2-D embeddings of features side by side, one colour per class.

    Args:
        embeddings: `{panel title: points of shape (n, 2)}`, e.g. PCA and t-SNE of
            pretrained and of random-weight features.
        labels: the class of each point (integers), the same for every panel.
        class_names: label `i` is `class_names[i]`; shown in one legend.
        title: a title above the panels.
        point_size: marker area (default 9).

    Returns:
        The figure.

    Raises:
        ValueError: if a panel's points are not `(n, 2)` with one label per point.
    """
    labels = np.asarray(labels)
    for name, points in embeddings.items():
        if np.shape(points) != (len(labels), 2):
            raise ValueError(
                f"Panel {name!r} has points of shape {np.shape(points)}; expected "
                f"({len(labels)}, 2), one 2-D point per label."
            )
    columns = min(len(embeddings), 2) if len(embeddings) == 4 else len(embeddings)
    rows = -(-len(embeddings) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.8 * columns, 3.4 * rows),
                             squeeze=False)
    colours = (PALETTE if len(class_names) <= len(PALETTE)
               else plt.get_cmap("viridis")(np.linspace(0, 1, len(class_names))))
    for ax, (name, points) in zip(axes.flat, embeddings.items(), strict=False):
        points = np.asarray(points)
        for label, class_name in enumerate(class_names):
            mask = labels == label
            ax.scatter(points[mask, 0], points[mask, 1], s=point_size, color=colours[label],
                       label=class_name, alpha=0.8, linewidths=0)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(embeddings):]:
        ax.axis("off")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="center right", fontsize=8, markerscale=2, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.82, 1))
    return fig


@_styled
def plot_sweep(summaries, xlabel: str = "labels per class", ylabel: str = "test accuracy",
               title: str | None = None, chance: float | None = None) -> Figure:
    """Plots mean ± std over seeds against the swept setting, one line per recipe.

    Args:
        summaries: `{(recipe, setting): Summary}` from `tlhelpers.experiments.summarize`
            (or any objects with `mean`, `std`, `low` and `high`).
        xlabel: the x axis label (default "labels per class"); the axis is logarithmic
            when every setting is a positive number.
        ylabel: the y axis label (default "test accuracy").
        title: a title above the axes.
        chance: draw a dotted line at this accuracy (e.g. 1 / num_classes), or `None`.

    Returns:
        The figure.

    Raises:
        ValueError: if `summaries` is empty.
    """
    if not summaries:
        raise ValueError("`summaries` is empty. Received: {}; pass `summarize(records)`.")
    recipes = list(dict.fromkeys(recipe for recipe, _ in summaries))
    settings = list(dict.fromkeys(setting for _, setting in summaries))
    numeric = all(isinstance(s, int | float) and s > 0 for s in settings)
    positions = {s: (s if numeric else i) for i, s in enumerate(settings)}
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    markers = "os^Dv<>p"
    for i, recipe in enumerate(recipes):
        points = [(positions[s], summaries[(recipe, s)]) for s in settings
                  if (recipe, s) in summaries]
        xs = np.array([p for p, _ in points], dtype=float)
        means = np.array([m.mean for _, m in points])
        stds = np.array([m.std for _, m in points])
        lows = np.array([m.low for _, m in points])
        highs = np.array([m.high for _, m in points])
        line, = ax.plot(xs, means, marker=markers[i % len(markers)], label=recipe)
        ax.fill_between(xs, means - stds, means + stds, color=line.get_color(), alpha=0.2)
        ax.vlines(xs, lows, highs, color=line.get_color(), alpha=0.6, linewidth=1)
    if numeric:
        ax.set_xscale("log")
    ax.set_xticks([positions[s] for s in settings])
    ax.set_xticklabels(["all" if s is None else str(s) for s in settings])
    ax.minorticks_off()
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


@_styled
def plot_transfer_by_depth(results: dict[str, dict[int, Sequence[float]]],
                           baseline: Sequence[float], title: str | None = None,
                           ylabel: str = "test accuracy on B") -> Figure:
    """Accuracy against the number of copied layers, as in Yosinski et al. (2014), fig. 2.

    Every run is a dot; a line joins the means. Treatments whose name ends in "+"
    (fine-tuned) are drawn with filled markers and solid lines, the others (copied
    layers frozen) with open markers and dashed lines.

    Args:
        results: `{treatment: {n copied layers: [accuracy of each seed]}}`, e.g.
            `{"BnB": {1: [...], 2: [...]}, "AnB+": {...}}`.
        baseline: accuracies of the network trained on B alone (`baseB`), one per seed;
            drawn at n = 0 and as a horizontal band.
        title: a title above the axes.
        ylabel: the y axis label.

    Returns:
        The figure.

    Raises:
        ValueError: if `results` or `baseline` is empty.
    """
    if not results or len(baseline) == 0:
        raise ValueError("`results` and `baseline` must not be empty; pass at least one run.")
    colours = {"BnB": PALETTE[0], "BnB+": PALETTE[9], "AnB": PALETTE[2], "AnB+": PALETTE[1]}
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    base = np.asarray(baseline, dtype=float)
    ax.axhspan(base.mean() - base.std(), base.mean() + base.std(), color="black", alpha=0.08)
    ax.axhline(base.mean(), color="black", linewidth=1, label="baseB")
    ax.scatter(np.zeros_like(base), base, color="black", s=14, zorder=3)
    ns_all: set[int] = {0}
    for i, (name, by_n) in enumerate(results.items()):
        colour = colours.get(name, PALETTE[i % len(PALETTE)])
        fine_tuned = name.endswith("+")
        ns = sorted(by_n)
        ns_all.update(ns)
        offset = (i - (len(results) - 1) / 2) * 0.06
        for n in ns:
            values = np.asarray(by_n[n], dtype=float)
            ax.scatter(np.full_like(values, n + offset), values, s=14, zorder=3,
                       facecolors=colour if fine_tuned else "none", edgecolors=colour)
        means = [float(np.mean(by_n[n])) for n in ns]
        ax.plot(np.asarray(ns) + offset, means, "-" if fine_tuned else "--", color=colour,
                marker="o" if fine_tuned else "s",
                markerfacecolor=colour if fine_tuned else "white", label=name)
    ax.set_xticks(sorted(ns_all))
    ax.set_xlabel("layers copied from the pretrained network (n)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=5, loc="lower left")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


@_styled
def plot_filters(kernels: dict[str, np.ndarray], columns: int = 8,
                 title: str | None = None) -> Figure:
    """Draws convolution filters as small images, one panel per set of filters.

    Meant for a first layer, whose filters look at the pixels: a filter over RGB is shown
    as a tiny colour image, a filter over one channel as a grey one, each titled with its
    index. One scale per panel: a weight of zero is mid-grey and the panel's largest
    |weight| is full brightness (or black), so a filter whose weights are all zero shows
    as flat grey, and a weak one looks faint next to the strong ones.

    Args:
        kernels: `{panel title: kernel}`, each kernel of shape `(height, width,
            channels, filters)` with 1 or 3 channels, as `Conv2D.get_weights()[0]`
            returns it.
        columns: tiles per row (default 8).
        title: a title above the panels.

    Returns:
        The figure.

    Raises:
        ValueError: if `kernels` is empty, or a kernel is not 4-D with 1 or 3 channels.
    """
    if not kernels:
        raise ValueError("`kernels` is empty. Received: {}; pass {title: kernel}.")
    for name, kernel in kernels.items():
        if np.ndim(kernel) != 4 or np.shape(kernel)[2] not in (1, 3):
            raise ValueError(
                f"Panel {name!r} has a kernel of shape {np.shape(kernel)}; expected "
                "(height, width, 1 or 3, filters), a first layer's `get_weights()[0]`."
            )
    rows = [-(-np.shape(kernel)[3] // columns) for kernel in kernels.values()]
    fig = plt.figure(figsize=(0.85 * columns, sum(0.95 * r + 0.45 for r in rows)
                              + (0.3 if title else 0)), layout="constrained")
    panels = fig.subfigures(len(kernels), 1, height_ratios=[0.95 * r + 0.45 for r in rows],
                            squeeze=False)[:, 0]
    for panel, (name, kernel), n_rows in zip(panels, kernels.items(), rows, strict=True):
        kernel = np.asarray(kernel, dtype=float)
        scale = float(np.abs(kernel).max()) or 1.0
        axes = panel.subplots(n_rows, columns, squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i >= kernel.shape[3]:
                continue
            tile = np.clip(0.5 + 0.5 * kernel[..., i] / scale, 0, 1)
            if tile.shape[-1] == 1:
                ax.imshow(tile[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(tile, interpolation="nearest")
            ax.set_title(str(i), fontsize=8)
        panel.suptitle(name, fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


@_styled
def plot_feature_maps(maps: dict[str, np.ndarray], channels: int = 8,
                      image: np.ndarray | None = None, title: str | None = None) -> Figure:
    """Shows one image's feature maps at several depths of a network, one row per depth.

    Each row shows the `channels` channels with the highest mean activation for this
    image (ties in channel order), each titled with its index. The maps of a row share
    one colour scale (viridis, from the lowest value shown in the row, dark, to the
    highest, yellow), so a weak map looks dark and a constant one flat, instead of its
    smallest differences being stretched over the whole scale. The row's label gives
    the map's shape, height x width x channels.

    Args:
        maps: `{row title: feature map}`, each of shape `(height, width, channels)`, or
            `(1, height, width, channels)` (a batch of one), e.g. the outputs of
            `keras.Model(base.input, [layer.output, ...])`.
        channels: maps per row (default 8); fewer where a depth has fewer channels.
        image: the input image, `(height, width, 3)` with pixels in [0, 255] (or [0, 1]),
            drawn at the start of every row; `None` leaves it out.
        title: a title above the rows.

    Returns:
        The figure.

    Raises:
        ValueError: if `maps` is empty or a map is not `(height, width, channels)`.
    """
    if not maps:
        raise ValueError("`maps` is empty. Received: {}; pass {row title: feature map}.")
    arrays = {}
    for name, fmap in maps.items():
        fmap = np.asarray(fmap, dtype=float)
        if fmap.ndim == 4 and fmap.shape[0] == 1:
            fmap = fmap[0]
        if fmap.ndim != 3:
            raise ValueError(
                f"Row {name!r} has a map of shape {np.shape(maps[name])}; expected "
                "(height, width, channels) or (1, height, width, channels)."
            )
        arrays[name] = fmap
    offset = 0 if image is None else 1
    columns = offset + channels
    fig, axes = plt.subplots(len(arrays), columns, squeeze=False,
                             figsize=(1.05 * columns + 0.3, 1.3 * len(arrays)
                                      + (0.3 if title else 0)))
    for row, (name, fmap) in zip(axes, arrays.items(), strict=True):
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        if image is not None:
            pixels = np.asarray(image, dtype=float)
            row[0].imshow(np.clip(pixels / (255.0 if pixels.max(initial=0) > 1 else 1.0), 0, 1))
            row[0].set_title("input", fontsize=9)
        order = np.argsort(-fmap.mean(axis=(0, 1)), kind="stable")[:channels]
        low, high = float(fmap[..., order].min()), float(fmap[..., order].max())
        for ax, channel in zip(row[offset:], order, strict=False):
            ax.imshow(fmap[..., channel], cmap="viridis", vmin=low, vmax=high,
                      interpolation="nearest")
            ax.set_title(f"#{channel}", fontsize=9)
        height, width, depth = fmap.shape
        row[0].set_ylabel(f"{name}\n{height} x {width} x {depth}", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@_styled
def plot_lr_range_test(test, title: str | None = None) -> Figure:
    """Draws a learning-rate range test: the loss against the learning rate (log scale).

    Args:
        test: the result of `tlhelpers.training.lr_range_test` (a
            `LearningRateRangeTest`), with its `learning_rates`, `losses` (smoothed) and
            `raw_losses`.
        title: a title above the plot.

    Returns:
        The figure: the raw loss of each batch (faint), the smoothed loss, and two marks:
        the suggested rate (the loss falls fastest there) and the rate of the lowest
        smoothed loss.
    """
    rates = np.asarray(test.learning_rates)
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.plot(rates, test.raw_losses, color=PALETTE[3], alpha=0.6, linewidth=1,
            label="loss of each batch")
    ax.plot(rates, test.losses, color=PALETTE[0], linewidth=2, label="smoothed loss")
    suggested = test.suggestion()
    lowest = rates[int(np.nanargmin(test.losses))]
    ax.axvline(suggested, color=PALETTE[1], linestyle="--",
               label=f"steepest fall: {suggested:.1e}")
    ax.axvline(lowest, color=PALETTE[2], linestyle=":", label=f"lowest loss: {lowest:.1e}")
    ax.set_xscale("log")
    # plain labels (1e-04): the default's mathtext would show as typed, `$\mathdefault{...}`,
    # since the style reads every text as plain text
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:.0e}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    top = max(test.losses[:max(3, len(test.losses) // 10)])
    low = min(min(test.losses), float(np.nanmin(test.raw_losses)))  # both lines in view
    ax.set_ylim(low * 0.9 if low > 0 else None, top * 1.6)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


@_styled
def plot_reliability(reliability, title: str | None = None) -> Figure:
    """A reliability diagram: accuracy against confidence, bin by bin.

    Args:
        reliability: a `tlhelpers.calibration.Reliability`.
        title: a title above the plot.

    Returns:
        The figure: one bar per bin of the top probability, as high as the accuracy of
        its images, with the diagonal a calibrated model would follow, and the share of
        images in each bin below it.
    """
    edges = np.asarray(reliability.edges)
    centres = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    filled = np.asarray(reliability.counts) > 0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(4.8, 4.6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    top.bar(centres[filled], np.asarray(reliability.accuracy)[filled], width=width * 0.9,
            color=PALETTE[0], label="accuracy in the bin")
    top.plot([0, 1], [0, 1], color=PALETTE[2], linestyle="--", label="calibrated")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.legend(fontsize=8, loc="upper left")
    top.grid(alpha=0.3)
    top.set_title(title or f"expected calibration error {reliability.ece:.3f}")
    shares = np.asarray(reliability.counts) / max(int(np.sum(reliability.counts)), 1)
    bottom.bar(centres, shares, width=width * 0.9, color=PALETTE[3])
    bottom.set_xlabel("confidence (top probability)")
    bottom.set_ylabel("share")
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    return fig


@_styled
def plot_gradcam(images: np.ndarray, maps: np.ndarray, titles: Sequence[str],
                 columns: int = 6, alpha: float = 0.45) -> Figure:
    """Grad-CAM heat maps over their images.

    Args:
        images: the images, pixels in [0, 255] (or [0, 1]).
        maps: heat maps in [0, 1], one per image, of the images' height and width
            (`tlhelpers.gradcam.heatmaps`).
        titles: one title per image.
        columns: images per row (default 6).
        alpha: how opaque the heat map is over the image (default 0.45).

    Returns:
        The figure: each image in grey with its heat map (viridis: bright where the
        evidence for the class was) on top.
    """
    images = np.asarray(images, dtype=float)
    n = len(images)
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.1 * rows),
                             squeeze=False)
    scale = 255.0 if images.max(initial=0) > 1.0 else 1.0
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        grey = np.clip(images[i] / scale, 0, 1).mean(axis=-1)
        ax.imshow(grey, cmap="gray", vmin=0, vmax=1)
        ax.imshow(maps[i], cmap="viridis", alpha=alpha, vmin=0, vmax=1)
        ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


@_styled
def plot_learning_curve(curve: dict, xlabel: str = "training images",
                        ylabel: str = "test accuracy", title: str | None = None) -> Figure:
    """Accuracy against the number of training images, mean over seeds and their range.

    Args:
        curve: `{number of training images: experiments.Summary}`.
        xlabel: the x axis' label.
        ylabel: the y axis' label.
        title: a title above the plot.

    Returns:
        The figure.
    """
    sizes = sorted(curve)
    means = np.array([curve[n].mean for n in sizes])
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.plot(sizes, means, "o-", color=PALETTE[0], label="mean over seeds")
    ax.fill_between(sizes, [curve[n].low for n in sizes], [curve[n].high for n in sizes],
                    color=PALETTE[0], alpha=0.2, label="range over seeds")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
