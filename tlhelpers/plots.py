"""Figures: training curves, image grids with predictions, and flow diagrams.

Every function draws into a new figure and returns it, so a notebook cell can show it
and a test can inspect it.

Used by every chapter that trains a model (curves, grids) and by the nine-step chapter
(the flow diagram).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["plot_flow", "plot_history", "plot_image_grid"]

RIGHT, WRONG = "#1a7f37", "#cf222e"


def plot_history(history, metrics: Sequence[str] = ("loss", "accuracy"),
                 title: str | None = None) -> Figure:
    """Plots training and validation curves, one panel per metric.

    Args:
        history: a `keras.callbacks.History` or its `.history` dict.
        metrics: the metrics to plot (default loss and accuracy); `val_<metric>` is
            drawn too when present.
        title: a title above the panels.

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
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_image_grid(images: np.ndarray, class_names: Sequence[str],
                    y_true: Sequence[int] | None = None, y_pred: Sequence[int] | None = None,
                    columns: int = 6, max_images: int = 18) -> Figure:
    """Shows images in a grid, titled with predicted and true labels.

    A title is green where the prediction is right and red where it is wrong.

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
    fig, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.1 * rows), squeeze=False)
    scale = 255.0 if images.max(initial=0) > 1.0 else 1.0
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(np.clip(images[i] / scale, 0, 1))
        if y_pred is not None and y_true is not None:
            ok = y_pred[i] == y_true[i]
            ax.set_title(f"{class_names[y_pred[i]]}\n(true: {class_names[y_true[i]]})",
                         fontsize=8, color=RIGHT if ok else WRONG)
        elif y_true is not None:
            ax.set_title(class_names[y_true[i]], fontsize=8)
        elif y_pred is not None:
            ax.set_title(class_names[y_pred[i]], fontsize=8)
    fig.tight_layout()
    return fig


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
