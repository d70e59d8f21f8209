"""What a test accuracy means, and where a classifier fails.

An accuracy alone can mislead: on a folder where one class has 14 times the images of
another, predicting the large class every time scores 0.93. So beside the accuracy:

- the majority-class baseline (that score) and the balanced accuracy (the mean of the
  per-class recalls, which that trick does not fool);
- the imbalance of the training split, and a warning when it is large;
- the pairs of classes most often confused;
- the images with the highest loss (the most confidently wrong);
- training images whose label the model contradicts with high confidence: labels worth
  checking by eye.

Used by the train command's report and by the diagnostics chapter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = [
    "IMBALANCE_WARNING",
    "Summary",
    "confused_pairs",
    "contradicted_labels",
    "summarize",
    "top_losses",
]

# A training split whose largest class has this many times the images of its smallest
# gets a warning: the accuracy then says little, the balanced accuracy more.
IMBALANCE_WARNING = 3.0


@dataclasses.dataclass(frozen=True)
class Summary:
    """The test results of a classifier, with what makes them mean something.

    Args:
        accuracy: the share of test images classified right.
        balanced_accuracy: the mean over classes of each class's recall.
        majority_class: the class with the most training images.
        majority_baseline: the accuracy of always predicting it, on the test split.
        chance: 1 / the number of classes.
        imbalance: the largest class's training images over the smallest's.
        per_class: `{class: {"precision", "recall", "support"}}` on the test split.
        confusion: the confusion matrix, a row per true class.
        never_predicted: classes the model predicted for no test image.
    """

    accuracy: float
    balanced_accuracy: float
    majority_class: str
    majority_baseline: float
    chance: float
    imbalance: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    never_predicted: list[str]

    @property
    def imbalanced(self) -> bool:
        """Whether the training split's imbalance reaches `IMBALANCE_WARNING`."""
        return self.imbalance >= IMBALANCE_WARNING

    def warnings(self) -> list[str]:
        """What a reader of the accuracy must know: imbalance, a model no better than
        predicting the largest class, classes never predicted."""
        found = []
        if self.imbalanced:
            found.append(
                f"The classes are imbalanced: the largest has {self.imbalance:.1f} times the "
                "training images of the smallest. The accuracy counts every image, so the "
                "large classes dominate it; read the balanced accuracy and the recall of "
                "each class, and consider --class-weight balanced.")
        if self.accuracy <= self.majority_baseline + 1e-9:
            found.append(
                f"The accuracy ({self.accuracy:.3f}) is no better than always predicting "
                f"'{self.majority_class}' ({self.majority_baseline:.3f}).")
        if self.never_predicted:
            found.append("Never predicted for any test image: "
                         + ", ".join(repr(c) for c in self.never_predicted) + ".")
        return found

    def to_json(self) -> dict:
        """As stored in `evaluation.json`."""
        return {**dataclasses.asdict(self), "warnings": self.warnings()}


def summarize(y_true: Sequence[int], probs: np.ndarray, class_names: Sequence[str],
              train_labels: Sequence[int]) -> Summary:
    """The test results, with the baselines and per-class numbers that give them meaning.

    Args:
        y_true: the test images' labels (integers).
        probs: the predicted probabilities, `(n, num_classes)`.
        class_names: label `i` is `class_names[i]`.
        train_labels: the training split's labels (for the majority class and the
            imbalance).

    Returns:
        A `Summary`.

    Raises:
        ValueError: if the labels and probabilities differ in length or width.
    """
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs)
    k = len(class_names)
    if probs.ndim != 2 or len(probs) != len(y_true) or probs.shape[1] != k:
        raise ValueError(f"Expected probabilities of shape ({len(y_true)}, {k}). Received: "
                         f"{probs.shape}.")
    y_pred = probs.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (y_true, y_pred), 1)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    recall = np.divide(np.diag(confusion), support, out=np.zeros(k), where=support > 0)
    precision = np.divide(np.diag(confusion), predicted, out=np.zeros(k), where=predicted > 0)
    train_counts = np.bincount(np.asarray(train_labels, dtype=int), minlength=k)
    majority = int(train_counts.argmax())
    present = train_counts[train_counts > 0]
    return Summary(
        accuracy=float(np.mean(y_pred == y_true)),
        balanced_accuracy=float(recall[support > 0].mean()),
        majority_class=class_names[majority],
        majority_baseline=float(np.mean(y_true == majority)),
        chance=1 / k,
        imbalance=float(present.max() / present.min()),
        per_class={name: {"precision": float(precision[i]), "recall": float(recall[i]),
                          "support": int(support[i])} for i, name in enumerate(class_names)},
        confusion=confusion.tolist(),
        never_predicted=[class_names[i] for i in range(k)
                         if predicted[i] == 0 and support[i] > 0],
    )


def confused_pairs(confusion: Sequence[Sequence[int]], class_names: Sequence[str],
                   top: int = 5) -> list[tuple[str, str, int, float]]:
    """The most frequent mistakes: which true class was taken for which other.

    Args:
        confusion: a confusion matrix, a row per true class.
        class_names: label `i` is `class_names[i]`.
        top: how many pairs (default 5).

    Returns:
        `(true class, predicted class, images, share of the true class)`, most frequent
        first; pairs with no image are left out.
    """
    confusion = np.asarray(confusion)
    off = [(int(confusion[i, j]), i, j) for i in range(len(confusion))
           for j in range(len(confusion)) if i != j and confusion[i, j] > 0]
    off.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [(class_names[i], class_names[j], n, n / max(int(confusion[i].sum()), 1))
            for n, i, j in off[:top]]


def _losses(y_true: np.ndarray, probs: np.ndarray) -> np.ndarray:
    picked = probs[np.arange(len(y_true)), y_true]
    return -np.log(np.clip(picked, 1e-12, 1.0))


def top_losses(y_true: Sequence[int], probs: np.ndarray, top: int = 12) -> np.ndarray:
    """The images the model was most wrong about: the highest cross-entropy loss (the
    lowest probability given to the true class), highest first.

    Args:
        y_true: the labels (integers).
        probs: the predicted probabilities.
        top: how many (default 12).

    Returns:
        Their indices.
    """
    y_true = np.asarray(y_true, dtype=int)
    losses = _losses(y_true, np.asarray(probs))
    return np.argsort(-losses, kind="stable")[:top]


def contradicted_labels(y_true: Sequence[int], probs: np.ndarray, confidence: float = 0.9,
                        top: int = 12) -> np.ndarray:
    """Images whose label the model contradicts with high confidence: on the training
    split, where the model fitted the labels, these are often labelling mistakes or odd
    images worth a look.

    Args:
        y_true: the labels (integers).
        probs: the predicted probabilities.
        confidence: the least probability of the predicted (other) class (default 0.9).
        top: at most this many (default 12).

    Returns:
        Their indices, most confident contradiction first.
    """
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs)
    y_pred = probs.argmax(axis=1)
    sure = probs.max(axis=1)
    chosen = np.flatnonzero((y_pred != y_true) & (sure >= confidence))
    return chosen[np.argsort(-sure[chosen], kind="stable")][:top]
