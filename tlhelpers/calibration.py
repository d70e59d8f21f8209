"""How far a classifier's probabilities can be trusted, and when to answer "none of these".

- A reliability diagram sorts the test images into bins by the model's confidence (its
  top probability) and compares, bin by bin, that confidence with the accuracy: a
  calibrated model that says 0.8 is right 8 times in 10. The expected calibration error
  (ECE) is the gap, averaged over the bins, weighted by their images.
- A softmax classifier always picks one of its classes, even for an image of a class it
  never saw. A rejection threshold on the top probability, chosen on the validation
  split (it rejects a chosen small share of known images there), lets it say "none of
  these" instead; how many images of unseen classes that catches has to be measured
  (the diagnostics chapter does, on classes held out from training).

Used by the train command's report, `tlhelpers.predict` (the stored threshold) and the
diagnostics chapter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = [
    "Reliability",
    "rejection_rates",
    "rejection_threshold",
    "reliability",
]


@dataclasses.dataclass(frozen=True)
class Reliability:
    """A reliability diagram's numbers.

    Args:
        edges: the bin edges of the top probability, from 0 to 1.
        confidence: the mean top probability of the images in each bin (NaN if empty).
        accuracy: the accuracy of the images in each bin (NaN if empty).
        counts: the images in each bin.
        ece: the expected calibration error: `sum(counts * |accuracy - confidence|) / n`.
        mean_confidence: the mean top probability over all images.
        accuracy_overall: the accuracy over all images.
    """

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray
    ece: float
    mean_confidence: float
    accuracy_overall: float

    @property
    def overconfident(self) -> bool:
        """Whether the model's mean confidence exceeds its accuracy."""
        return self.mean_confidence > self.accuracy_overall


def reliability(y_true: Sequence[int], probs: np.ndarray, bins: int = 10) -> Reliability:
    """The reliability diagram and expected calibration error of predictions.

    Args:
        y_true: the labels (integers).
        probs: the predicted probabilities, `(n, num_classes)`.
        bins: equal-width bins of the top probability (default 10).

    Returns:
        A `Reliability`.

    Raises:
        ValueError: if there are no images, or labels and probabilities differ in length.
    """
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    if not len(y_true) or len(probs) != len(y_true):
        raise ValueError(f"Received {len(y_true)} labels and {len(probs)} rows of "
                         "probabilities; pass one row per label, at least one.")
    top = probs.max(axis=1)
    right = (probs.argmax(axis=1) == y_true).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(top, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        confidence = np.bincount(which, weights=top, minlength=bins) / counts
        accuracy = np.bincount(which, weights=right, minlength=bins) / counts
    gaps = np.where(counts > 0, np.abs(accuracy - confidence), 0.0)
    return Reliability(edges, confidence, accuracy, counts,
                       ece=float(np.sum(counts * gaps) / len(y_true)),
                       mean_confidence=float(top.mean()), accuracy_overall=float(right.mean()))


def rejection_threshold(probs: np.ndarray, reject_known: float = 0.05) -> float:
    """A threshold on the top probability under which a prediction becomes "none of the
    classes": the `reject_known` quantile of the top probabilities of known images
    (those of the validation split), so that it rejects about that share of them.

    Args:
        probs: the predicted probabilities of the validation images.
        reject_known: the share of known images to reject (default 0.05).

    Returns:
        The threshold.

    Raises:
        ValueError: if `reject_known` is not in [0, 1) or there are no images.
    """
    if not 0 <= reject_known < 1:
        raise ValueError(f"`reject_known` must be in [0, 1). Received: "
                         f"`reject_known={reject_known!r}`.")
    top = np.asarray(probs).max(axis=1)
    if not len(top):
        raise ValueError("Received no validation images to choose the threshold on.")
    return float(np.quantile(top, reject_known, method="lower")) if reject_known else 0.0


def rejection_rates(known_probs: np.ndarray, unknown_probs: np.ndarray,
                    threshold: float) -> tuple[float, float]:
    """How a threshold sorts known from unknown images.

    Args:
        known_probs: probabilities for images of the classes the model knows.
        unknown_probs: probabilities for images of classes it was never trained on.
        threshold: predictions whose top probability is below it are rejected.

    Returns:
        `(share of known images rejected, share of unknown images rejected)`.
    """
    known = np.asarray(known_probs).max(axis=1)
    unknown = np.asarray(unknown_probs).max(axis=1)
    return float(np.mean(known < threshold)), float(np.mean(unknown < threshold))
