"""Small, seeded experiments: label subsets, sweeps over seeds, and their summaries.

A single run of a small experiment says little: another seed can move a test accuracy
by several points. A sweep runs every combination of seeds, labels per class and
recipes, returns one tidy record per run, and `summarize` turns them into mean, spread
and range, so that "A beats B" can be checked as "their ranges do not overlap".

Used by the feature-extraction chapter (transfer vs training from scratch,
transferability by depth).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from tlhelpers.display import progress_bar

__all__ = [
    "Paired",
    "Summary",
    "clearly_better",
    "images_per_second",
    "learning_curve",
    "read_runs",
    "record_run",
    "labels_per_class_subset",
    "paired_difference",
    "run_sweep",
    "summarize",
]


def labels_per_class_subset(labels: np.ndarray, per_class: int | None, seed: int = 0
                            ) -> np.ndarray:
    """Picks `per_class` examples of every class at random: a scarce-label training set.

    Args:
        labels: integer labels of the pool to draw from.
        per_class: examples per class, or `None` for all of them.
        seed: seeds the draw (default 0); the same seed gives the same indices.

    Returns:
        Sorted indices into `labels`.

    Raises:
        ValueError: if a class has fewer than `per_class` examples, or `per_class < 1`.
    """
    labels = np.asarray(labels)
    if per_class is None:
        return np.arange(len(labels))
    if per_class < 1:
        raise ValueError(
            f"`per_class` must be at least 1 or None. Received: `per_class={per_class}`."
        )
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        pool = np.flatnonzero(labels == label)
        if len(pool) < per_class:
            raise ValueError(
                f"Class {label} has only {len(pool)} examples, fewer than "
                f"`per_class={per_class}`. Use a smaller `per_class` or a larger pool."
            )
        chosen.append(rng.choice(pool, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def run_sweep(run: Callable[..., float], seeds: Iterable[int], recipes: Sequence[str],
              labels_per_class: Sequence[int | None] = (None,),
              on_record: Callable[[dict], None] | None = None,
              progress: bool = True) -> list[dict]:
    """Runs `run(recipe=..., labels_per_class=..., seed=...)` for every combination.

    A progress bar (tqdm, on stderr) counts the runs; `TQDM_DISABLE=1` in the
    environment switches it off, as the book's stored outputs do.

    Args:
        run: a function returning one number (e.g. test accuracy); it seeds itself
            from its `seed` argument.
        seeds: the seeds, e.g. `range(3)`.
        recipes: names of the recipes compared (e.g. `["linear probe", "scratch"]`).
        labels_per_class: the label counts to sweep (default: one setting, `None`).
        on_record: called with each record as it arrives.
        progress: show the progress bar (default True).

    Returns:
        A list of records `{"recipe", "labels_per_class", "seed", "value"}`, one per run,
        in the order labels per class -> seed -> recipe.

    Raises:
        ValueError: if there are no seeds or no recipes.
    """
    seeds = list(seeds)
    if not seeds or not recipes:
        raise ValueError(
            f"A sweep needs at least one seed and one recipe. Received: `seeds={seeds}`, "
            f"`recipes={list(recipes)}`."
        )

    records = []
    runs = list(itertools.product(labels_per_class, seeds, recipes))
    for per_class, seed, recipe in progress_bar(runs, enabled=progress, desc="sweep",
                                                unit="run"):
        value = float(run(recipe=recipe, labels_per_class=per_class, seed=seed))
        record = {"recipe": recipe, "labels_per_class": per_class, "seed": seed, "value": value}
        records.append(record)
        if on_record is not None:
            on_record(record)
    return records


@dataclasses.dataclass(frozen=True)
class Summary:
    """Mean, standard deviation and range of one recipe at one label count.

    Args:
        recipe: the recipe's name.
        labels_per_class: the label count (`None` for all labels).
        mean: the mean over seeds.
        std: the standard deviation over seeds (population, `ddof=0`).
        low: the smallest value.
        high: the largest value.
        n: the number of seeds.
    """

    recipe: str
    labels_per_class: int | None
    mean: float
    std: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f}"


def summarize(records: Iterable[dict]) -> dict[tuple[str, int | None], Summary]:
    """Groups sweep records by (recipe, labels per class) and summarizes over seeds.

    Args:
        records: records from `run_sweep` (keys `recipe`, `labels_per_class`, `value`).

    Returns:
        `{(recipe, labels_per_class): Summary}`, in the order the groups first appear.

    Raises:
        ValueError: if a record lacks a key.
    """
    groups: dict[tuple[str, int | None], list[float]] = {}
    for record in records:
        try:
            key = (record["recipe"], record["labels_per_class"])
            groups.setdefault(key, []).append(float(record["value"]))
        except KeyError as err:
            raise ValueError(
                f"A record lacks the key {err}. Received: {record!r}; records come from "
                "`run_sweep` and have keys recipe, labels_per_class, seed, value."
            ) from None
    return {
        key: Summary(key[0], key[1], float(np.mean(v)), float(np.std(v)), float(np.min(v)),
                     float(np.max(v)), len(v))
        for key, v in groups.items()
    }


def clearly_better(a: Summary, b: Summary) -> bool:
    """True when `a` beats `b` beyond the noise of the seeds.

    Both must hold: the worst run of `a` is above the best run of `b` (the ranges do not
    overlap), and the bands mean ± std do not overlap either.

    Args:
        a: the summary that should be higher.
        b: the summary it is compared with.

    Returns:
        `a.low > b.high and a.mean - a.std > b.mean + b.std`.
    """
    return a.low > b.high and a.mean - a.std > b.mean + b.std


@dataclasses.dataclass(frozen=True)
class Paired:
    """A recipe minus a baseline, seed by seed (both run with the same seed).

    Args:
        mean: the mean difference.
        standard_error: its standard error (`nan` for a single seed).
        better: the seeds on which the recipe scored higher.
        equal: the seeds on which both scored the same.
        worse: the seeds on which the recipe scored lower.
    """

    mean: float
    standard_error: float
    better: int
    equal: int
    worse: int

    @property
    def n(self) -> int:
        """The number of seeds compared."""
        return self.better + self.equal + self.worse

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The confidence interval of the mean difference (Student's t, `n - 1` degrees
        of freedom): `mean ± t * standard_error`.

        Args:
            confidence: the interval's confidence level, in (0, 1).

        Returns:
            `(low, high)`; `(nan, nan)` for a single seed.

        Raises:
            ValueError: for a confidence level outside (0, 1).
        """
        if not 0 < confidence < 1:
            raise ValueError(
                f"`confidence` must lie in (0, 1). Received: confidence={confidence!r}")
        if self.n < 2:
            return float("nan"), float("nan")
        from scipy import stats  # deferred: scikit-learn's dependency, slow to import

        half = float(stats.t.ppf((1 + confidence) / 2, self.n - 1)) * self.standard_error
        return self.mean - half, self.mean + half

    def clear(self, confidence: float = 0.95) -> bool:
        """Whether the difference is clear: its confidence interval leaves out 0.

        Args:
            confidence: the interval's confidence level, in (0, 1).

        Returns:
            True when the whole interval lies above 0 or below 0; False for a single
            seed.
        """
        low, high = self.interval(confidence)
        return bool(low > 0 or high < 0)

    def __str__(self) -> str:
        low, high = self.interval()
        return (f"{self.mean:+.3f} (standard error {self.standard_error:.3f}, 95% interval "
                f"{low:+.3f} to {high:+.3f}); better on "
                f"{self.better}, equal on {self.equal}, worse on {self.worse} of "
                f"{self.n} seeds")


def paired_difference(scores: Mapping[int, float], baseline: Mapping[int, float],
                      ) -> Paired:
    """Compares two recipes on the seeds both ran: a paired comparison.

    Both recipes ran with each seed. Where the seed draws the split (a folder split
    by the command), both saw the same split, and the difference seed by seed leaves
    out how lucky the split was; where the split is fixed, a seed changes only the
    initial weights and the order of the batches, and pairing leaves the arithmetic
    valid, if not less noisy. The standard error measures the training's randomness,
    not the test split's: the claims hold for the test images used.

    Args:
        scores: the recipe's score by seed, `{seed: score}`.
        baseline: the baseline's score by seed.

    Returns:
        A `Paired` over the seeds in both.

    Raises:
        ValueError: if no seed is in both.
    """
    seeds = sorted(scores.keys() & baseline.keys())
    if not seeds:
        raise ValueError(
            f"The two recipes share no seed. Received seeds {sorted(scores)} and "
            f"{sorted(baseline)}; run both on the same seeds.")
    diff = np.array([float(scores[s]) - float(baseline[s]) for s in seeds])
    # scores are rounded (to 4 digits in the CSV), so treat round-off as a tie
    diff = np.round(diff, 9)
    error = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return Paired(float(diff.mean()), error, int((diff > 0).sum()), int((diff == 0).sum()),
                  int((diff < 0).sum()))


def images_per_second(batches, num_batches: int, warmup: int = 1) -> float:
    """How many images per second an input pipeline delivers.

    Draws `warmup` batches first (start-up, file caches), then times `num_batches`.
    Timings vary with the machine and what else runs: show them, assert nothing about
    them.

    Args:
        batches: an iterable of `(images, labels)` batches (a `tf.data.Dataset`, a Keras
            `ImageDataGenerator` iterator, ...); it is iterated once.
        num_batches: how many batches to time.
        warmup: batches drawn before the clock starts (default 1).

    Returns:
        Images per second over the timed batches.

    Raises:
        ValueError: if the pipeline runs out before `warmup + num_batches` batches.
    """
    iterator = iter(batches)
    try:
        for _ in range(warmup):
            next(iterator)
        start, images = time.perf_counter(), 0
        for _ in range(num_batches):
            images += len(next(iterator)[0])
    except StopIteration:
        raise ValueError(
            f"The pipeline ran out of batches. Received `num_batches={num_batches}`, "
            f"`warmup={warmup}`; ask for fewer, or repeat the pipeline."
        ) from None
    return images / (time.perf_counter() - start)


def record_run(path, row: dict) -> None:
    """Appends one run's results to a CSV table (created with a header if absent).

    Args:
        path: the CSV file.
        row: column -> value; the columns must match the table's header.

    Raises:
        ValueError: if the columns differ from those of the existing table.
    """
    path = Path(path)
    exists = path.is_file() and path.stat().st_size > 0
    if exists:
        with path.open(newline="") as handle:
            header = next(csv.reader(handle))
        if header != list(row):
            raise ValueError(
                f"{path} has the columns {header}. Received a row with {list(row)}."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if not exists:
            writer.writeheader()
        writer.writerow(row)


def read_runs(path) -> list[dict]:
    """The rows of a CSV table written by `record_run` (none if the file is absent).

    Args:
        path: the CSV file.

    Returns:
        One dict per recorded run, in the order recorded.
    """
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def learning_curve(h_train: np.ndarray, y_train: np.ndarray, h_test: np.ndarray,
                   y_test: np.ndarray, fractions: Sequence[float] = (0.25, 0.5, 1.0),
                   seeds: Iterable[int] = range(3), num_classes: int | None = None,
                   ) -> dict[int, Summary]:
    """Would more images help? Test accuracy of a linear head on cached features, trained
    on growing shares of the training split, over seeds.

    Each share is drawn at random, class by class (stratified), from the training split;
    a linear softmax head (`features.linear_probe`) is fitted on its features and scored
    on the test features. If the accuracy still rises at the full split, more images of
    the same kind would likely help; if it is flat, they would likely help little (for
    this frozen base: fine-tuning can change that).

    Args:
        h_train: training features (any shape per image; flattened by the probe).
        y_train: their integer labels.
        h_test: test features.
        y_test: their integer labels.
        fractions: shares of the training split (default 0.25, 0.5, 1).
        seeds: seeds of the draws (default 0, 1, 2).
        num_classes: the number of classes (default: from the labels).

    Returns:
        `{training images: Summary of the test accuracy over seeds}`.

    Raises:
        ValueError: for a share outside (0, 1], or one that leaves a class without images.
    """
    from tlhelpers.features import linear_probe  # deferred: scikit-learn is slow to import

    y_train, y_test = np.asarray(y_train, dtype=int), np.asarray(y_test, dtype=int)
    classes = num_classes or int(max(y_train.max(), y_test.max())) + 1
    records = []
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f"Each share must be in (0, 1]. Received: `fractions="
                             f"{list(fractions)}`.")
        for seed in seeds:
            rng = np.random.default_rng(seed)
            chosen = []
            for label in np.unique(y_train):
                pool = np.flatnonzero(y_train == label)
                chosen.append(rng.permutation(pool)[:max(1, round(fraction * len(pool)))])
            chosen = np.sort(np.concatenate(chosen))
            head = linear_probe(h_train[chosen], y_train[chosen], num_classes=classes)
            predicted = np.asarray(head(h_test, training=False)).argmax(axis=-1)
            records.append({"recipe": "linear head", "labels_per_class": len(chosen),
                            "seed": seed, "value": float(np.mean(predicted == y_test))})
    return {n: summary for (_, n), summary in summarize(records).items()}
