"""The train command's recipe, in one place: `tl-train` runs this code, and chapter 3
imports it rather than keeping a copy.

Two stages, on a pretrained base:

1. the head on the frozen base: Adam at 1e-3, the keras.io transfer-learning guide's
   rate for a new head (TensorFlow's tutorial uses 1e-4, the article's); early stopping
   looks from epoch 8 on (the tiny profile's epoch count), then it goes on until the
   validation accuracy stops improving (the best epoch's weights restored), within an
   epoch budget;
2. the top block of the base unfrozen (BatchNormalization kept frozen, so it stays in
   inference mode), Adam at 1e-5, again until the validation accuracy stops improving.
   If no epoch of stage 2 betters the validation accuracy of stage 1, stage 1's model is
   kept, and the report says so: fine-tuning never makes the run worse on validation.

The defaults follow the book's measurements (chapter 4 shows the table of
`scripts/benchmark_train.py`, which compares them with chapter 1's plain head seed by
seed, and gives the reasons for each): MobileNet at 144 x 144 rather than 96 (on the
bundled images, where it was chosen, it beat the plain head clearly, on 9 seeds of 10,
where 96 made no clear difference; on the digits neither size did); chapter 1's head
without dropout (0.5 made no clear difference in ten seeds, at either size); Adam at
1e-3 and early stopping instead of the article's 1e-4 and fixed 8 + 4 epochs; no
augmentation by default, since chapter 3 measured that the article's lowered the
validation accuracy at these sizes, and flips are wrong for digits and text.
`augment="light"` (small shifts, zooms and rotations, no flip) or `"light+flip"` turn
it on; the report says which was used.

A run interrupted inside a stage resumes at the last finished epoch (Keras'
`BackupAndRestore`, given a folder by the caller).

Used by the train command (`tlhelpers.train`) and by chapter 3.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlhelpers.config import PROFILES, set_seed
from tlhelpers.data import DATASETS

# The settings (`Recipe`, `make_recipe`, the defaults) need no Keras, so that the train
# command's --help and argument errors come at once; the functions that build and train
# the model import Keras and the package's Keras modules when first called.

__all__ = [
    "AUGMENTATIONS",
    "BASE_ALIASES",
    "BASE_DEFAULTS",
    "BaseDefaults",
    "DROPOUT",
    "Recipe",
    "StageResult",
    "augmentation",
    "base_of",
    "build_model",
    "class_weights",
    "compile_for_stage",
    "make_recipe",
    "seeded",
    "stage1",
    "stage2",
]

# What --base accepts, and the key of `tlhelpers.models.BASES` each name stands for.
BASE_ALIASES = {"mobilenet": "mobilenet_025", "mobilenet_025": "mobilenet_025",
                "vgg16": "vgg16"}
@dataclasses.dataclass(frozen=True)
class BaseDefaults:
    """The command's defaults for one base.

    Args:
        profile: the profile whose batch size is the default.
        image_size: `(height, width)` the images are resized to.
        top_blocks: the blocks stage 2 unfreezes.
    """

    profile: str
    image_size: tuple[int, int]
    top_blocks: tuple[str, ...]


# MobileNet at 144, larger than the tiny profile's 96 (a 4 x 4 map instead of 3 x 3; in
# chapter 4's benchmark it beat chapter 1's head clearly on the bundled images, where 96
# did not, and neither size made a clear difference on the digits); Keras has no
# checkpoint of its own for either size, so the 224 x 224 weights are used. VGG16 at its
# ImageNet size.
BASE_DEFAULTS = {"mobilenet_025": BaseDefaults("tiny", (144, 144), ("block13",)),
                 "vgg16": BaseDefaults("full", (224, 224), ("block5",))}
HEAD_LEARNING_RATE = 1e-3  # the keras.io guide's rate for a new head
FINE_TUNE_LEARNING_RATE = 1e-5  # the same anchors' rate once the base is unfrozen
MAX_EPOCHS = 30  # stage 1's budget; early stopping ends it sooner
MIN_EPOCHS = 8  # stage 1 trains at least as long as chapter 1's plain head
FINE_TUNE_EPOCHS = 10  # stage 2's budget; 0 skips stage 2
PATIENCE = 3  # epochs without a better validation score before a stage stops
MONITOR = "val_accuracy"  # what early stopping follows (benchmark_train.py chose it)
HIDDEN_UNITS = 256  # chapter 1's head: Flatten -> Dense(256, relu) -> softmax
DROPOUT = 0.0  # before the output layer; 0.5 made no clear difference (chapter 4)
AUGMENTATIONS = ("none", "light", "light+flip", "article")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything that decides what a run trains; `config.json` in the run's folder
    holds it, and a run resumes only with the same recipe.

    Args:
        data_dir: the image folder, resolved (absolute, links followed), or the name of a
            data set the book knows.
        base: the pretrained base, a key of `tlhelpers.models.BASES`.
        weights: `"imagenet"`, or `"none"` for random weights (no transfer).
        image_size: `(height, width)` every image is resized to.
        batch_size: images per batch.
        hidden_units: units of the head's hidden layer (0: a linear head).
        dropout: dropout before the head's output layer.
        learning_rate: Adam's learning rate in stage 1 (the head).
        max_epochs: stage 1's epoch budget.
        min_epochs: stage 1's epochs before early stopping looks at the validation score
            (the best epoch is chosen among the later ones).
        fine_tune_learning_rate: Adam's learning rate in stage 2.
        fine_tune_epochs: stage 2's epoch budget (0 skips stage 2).
        fine_tune_blocks: the blocks of the base stage 2 unfreezes.
        patience: epochs without a better validation score before a stage stops.
        monitor: the validation score early stopping follows: `"val_loss"` (lower is
            better) or `"val_accuracy"` (higher is better).
        augment: `"none"`, `"light"`, `"light+flip"` or `"article"` (see `augmentation`).
        class_weight: `"none"`, or `"balanced"` (each class weighs as much in the loss,
            however many images it has).
        seed: seeds the split, the shuffling, the augmentation and the initial weights.
        val_fraction: the share of each class carved out for validation where the
            folder has no validation folder.
        test_fraction: the same for test.
        skip_non_images: leave out files that are not images instead of stopping.
        min_side: the smallest image side accepted, in pixels.
    """

    data_dir: str
    base: str
    weights: str
    image_size: tuple[int, int]
    batch_size: int
    hidden_units: int
    dropout: float
    learning_rate: float
    max_epochs: int
    min_epochs: int
    fine_tune_learning_rate: float
    fine_tune_epochs: int
    fine_tune_blocks: tuple[str, ...]
    patience: int
    monitor: str
    augment: str
    class_weight: str
    seed: int
    val_fraction: float
    test_fraction: float
    skip_non_images: bool
    min_side: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The model's input shape, `(height, width, 3)`."""
        return (*self.image_size, 3)

    def to_json(self) -> dict:
        """The settings as JSON values (tuples become lists)."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, values: dict) -> Recipe:
        """Reads what `to_json` wrote.

        Raises:
            ValueError: if keys are missing or unknown.
        """
        names = [field.name for field in dataclasses.fields(cls)]
        if sorted(values) != sorted(names):
            raise ValueError(f"Expected the settings {sorted(names)}. Received: "
                             f"{sorted(values)}.")
        return cls(**{key: tuple(value) if isinstance(value, list) else value
                      for key, value in values.items()})

    def differences(self, other: Recipe) -> list[str]:
        """The settings that differ, as `name: <self's value> -> <other's value>`."""
        return [f"{field.name}: {getattr(self, field.name)!r} -> {getattr(other, field.name)!r}"
                for field in dataclasses.fields(self)
                if getattr(self, field.name) != getattr(other, field.name)]


def _whole(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"`{name}` must be an integer of at least {low}. Received: "
                         f"`{name}={value!r}`.")
    return int(value)


def _rate(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"`{name}` must be a number between 0 and 1. Received: "
                         f"`{name}={value!r}`.")
    return float(value)


def _choice(name: str, value, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, choices))}. "
                         f"Received: `{name}={value!r}`.")
    return value


def make_recipe(data_dir, base: str = "mobilenet", *, weights: str = "imagenet",
                image_size: int | Sequence[int] | None = None, batch_size: int | None = None,
                hidden_units: int = HIDDEN_UNITS, dropout: float = DROPOUT,
                learning_rate: float = HEAD_LEARNING_RATE, max_epochs: int = MAX_EPOCHS,
                min_epochs: int = MIN_EPOCHS,
                fine_tune_learning_rate: float = FINE_TUNE_LEARNING_RATE,
                fine_tune_epochs: int = FINE_TUNE_EPOCHS,
                fine_tune_blocks: Sequence[str] | None = None, patience: int = PATIENCE,
                monitor: str = MONITOR,
                augment: str = "none", class_weight: str = "none", seed: int = 0,
                val_fraction: float = 0.15, test_fraction: float = 0.15,
                skip_non_images: bool = False, min_side: int = 8) -> Recipe:
    """The recipe for a folder and a base: the defaults, and checks of every setting.

    Args:
        data_dir: the image folder (resolved here: `./photos` and `photos` are the same
            setting), or the name of a data set the book knows (`"fashion-mnist-tiny"`).
        base: `"mobilenet"` (MobileNet alpha=0.25, fine on a CPU; default) or `"vgg16"`
            (the article's, for a GPU).
        weights: `"imagenet"` (default) or `"none"` (random weights: no transfer).
        image_size: a side or `(height, width)` (default: `BASE_DEFAULTS`, 144 for
            MobileNet, 224 for VGG16).
        batch_size: images per batch (default: the profile's, 32).
        hidden_units: units of the head's hidden layer, 0 for a linear head (default 256,
            chapter 1's head).
        dropout: dropout before the head's output layer (default 0, chapter 1's head;
            0.5 made no clear difference in chapter 4's benchmark).
        learning_rate: Adam's learning rate in stage 1 (default 1e-3).
        max_epochs: stage 1's epoch budget (default 30; early stopping ends it sooner).
        min_epochs: stage 1 trains at least this many epochs before early stopping looks
            at the validation score, and keeps the best of the later epochs (default 8,
            as long as chapter 1's plain head trains; at most `max_epochs`).
        fine_tune_learning_rate: Adam's learning rate in stage 2 (default 1e-5).
        fine_tune_epochs: stage 2's epoch budget, 0 to skip it (default 10).
        fine_tune_blocks: blocks stage 2 unfreezes (default: the top block, `block13`
            of MobileNet, `block5` of VGG16).
        patience: epochs without a better validation score before a stage stops
            (default 3).
        monitor: `"val_loss"` or `"val_accuracy"`, what early stopping follows (default
            `MONITOR`).
        augment: `"none"` (default), `"light"`, `"light+flip"` or `"article"`.
        class_weight: `"none"` (default) or `"balanced"`.
        seed: seeds the split, the shuffle, the augmentation and the weights (default 0).
        val_fraction: share of each class carved out for validation where there is no
            validation folder (default 0.15).
        test_fraction: the same for test (default 0.15).
        skip_non_images: leave out files that are not images instead of stopping
            (default False).
        min_side: the smallest image side accepted, in pixels (default 8).

    Returns:
        The `Recipe`.

    Raises:
        ValueError: naming the setting, what was received and what is accepted.
    """
    from tlhelpers.models import BASES  # deferred: see the note on imports above

    if base not in BASE_ALIASES:
        raise ValueError(f"Unknown base. Received: `base={base!r}`. Use 'mobilenet' "
                         "(MobileNet alpha=0.25, fine on a CPU) or 'vgg16' (for a GPU).")
    key = BASE_ALIASES[base]
    defaults = BASE_DEFAULTS[key]
    profile, top_block = PROFILES[defaults.profile], defaults.top_blocks
    _choice("weights", weights, ("imagenet", "none"))
    if image_size is None:
        image_size = defaults.image_size
    elif isinstance(image_size, int | np.integer) and not isinstance(image_size, bool):
        image_size = (int(image_size), int(image_size))
    image_size = tuple(image_size)
    minimum = BASES[key].min_size
    if (len(image_size) != 2 or not all(isinstance(s, int | np.integer) for s in image_size)
            or min(image_size) < minimum):
        raise ValueError(f"{BASES[key].title} needs images of at least {minimum} x {minimum} "
                         f"pixels. Received: `image_size={image_size!r}`.")
    blocks = tuple(fine_tune_blocks) if fine_tune_blocks is not None else top_block
    if isinstance(fine_tune_blocks, str) or not blocks:
        raise ValueError("`fine_tune_blocks` must be a list of block names such as "
                         f"['block13']. Received: `fine_tune_blocks={fine_tune_blocks!r}`.")
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        _rate(name, fraction)
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: `dropout={dropout!r}`.")
    name = str(data_dir)
    folder = name if name in DATASETS else str(Path(name).expanduser().resolve())
    return Recipe(
        data_dir=folder, base=key, weights=weights,
        image_size=tuple(int(s) for s in image_size),
        batch_size=_whole("batch_size", profile.batch_size if batch_size is None
                          else batch_size, 1),
        hidden_units=_whole("hidden_units", hidden_units, 0), dropout=float(dropout),
        learning_rate=_rate("learning_rate", learning_rate),
        max_epochs=_whole("max_epochs", max_epochs, 1),
        min_epochs=min(_whole("min_epochs", min_epochs, 1), int(max_epochs)),
        fine_tune_learning_rate=_rate("fine_tune_learning_rate", fine_tune_learning_rate),
        fine_tune_epochs=_whole("fine_tune_epochs", fine_tune_epochs, 0),
        fine_tune_blocks=blocks, patience=_whole("patience", patience, 1),
        monitor=_choice("monitor", monitor, ("val_loss", "val_accuracy")),
        augment=_choice("augment", augment, AUGMENTATIONS),
        class_weight=_choice("class_weight", class_weight, ("none", "balanced")),
        seed=_whole("seed", seed, 0), val_fraction=float(val_fraction),
        test_fraction=float(test_fraction), skip_non_images=bool(skip_non_images),
        min_side=_whole("min_side", min_side, 1),
    )


def augmentation(kind: str, seed: int = 0):
    """The recipe's augmentation layers, applied to training batches only.

    - `"none"`: none (`None`).
    - `"light"`: shifts of up to 10 % of each side, zooms of up to 10 % and rotations of
      up to 18°: nothing that changes what a digit, a letter or a garment is.
    - `"light+flip"`: the same, and a horizontal flip half of the time (photos of
      objects that look alike mirrored; wrong for digits and text).
    - `"article"`: the article's `ImageDataGenerator` settings
      (`tlhelpers.augment.article_augmentation`).

    Args:
        kind: one of `AUGMENTATIONS`.
        seed: seeds the layers.

    Returns:
        A `keras.Sequential` (call it with `training=True`), or `None`.

    Raises:
        ValueError: for another kind.
    """
    import keras  # deferred: see the note on imports above

    from tlhelpers.augment import article_augmentation  # deferred: likewise

    _choice("augment", kind, AUGMENTATIONS)
    if kind == "none":
        return None
    if kind == "article":
        return article_augmentation(seed)
    layers = [keras.layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed),
              keras.layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 1),
              keras.layers.RandomRotation(0.05, fill_mode="nearest", seed=seed + 2)]
    if kind == "light+flip":
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 3))
    return keras.Sequential(layers, name="augmentation")


def build_model(recipe: Recipe, num_classes: int):
    """Stage 1's model: raw pixels, the base's own scaling, the frozen base, the head.

    Args:
        recipe: the recipe.
        num_classes: the data's number of classes.

    Returns:
        `(model, base_model)`, the model compiled for stage 1.

    Raises:
        ValueError: when the base has none of the recipe's `fine_tune_blocks` (checked
            now, before any training).
    """
    from tlhelpers.models import (  # deferred: see the note on imports above
        BASES,
        assemble,
        build_base,
        build_head,
        freeze,
        layer_blocks,
    )

    base_model = freeze(build_base(recipe.base, recipe.input_shape,
                                   weights="imagenet" if recipe.weights == "imagenet"
                                   else None))
    known = list(dict.fromkeys(b for b in layer_blocks(base_model).values() if b is not None))
    unknown = [b for b in recipe.fine_tune_blocks if b not in known]
    if unknown:
        raise ValueError(f"{base_model.name!r} has no block {unknown}. Received: "
                         f"`fine_tune_blocks={list(recipe.fine_tune_blocks)}`; its blocks are "
                         f"{known}.")
    head = build_head(num_classes, hidden_units=recipe.hidden_units, dropout=recipe.dropout)
    model = assemble(base_model, head, BASES[recipe.base].preprocess_mode, name="tl_train")
    compile_for_stage(model, recipe.learning_rate)
    return model, base_model


def compile_for_stage(model, learning_rate: float) -> None:
    """Compiles a model of `build_model` as both stages do: Adam at `learning_rate`,
    categorical cross-entropy (softmax outputs, one-hot labels), accuracy."""
    import keras  # deferred: see the note on imports above

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])


def base_of(model):
    """The pretrained base inside a model of `build_model` (also once saved and loaded).

    Raises:
        ValueError: when the model holds no single nested base.
    """
    import keras  # deferred: see the note on imports above

    bases = [layer for layer in model.layers
             if isinstance(layer, keras.Model) and layer.name != "head"]
    if len(bases) != 1:
        raise ValueError(f"Expected one pretrained base inside {model.name!r}. Received "
                         f"the nested models {[b.name for b in bases]}.")
    return bases[0]


def class_weights(labels: Sequence[int], num_classes: int, kind: str) -> dict[int, float] | None:
    """The loss weight of each class: `"balanced"` weighs class `c` by
    `n / (num_classes * n_c)` (scikit-learn's rule), so that every class counts as much
    in the loss whatever its number of images; `"none"` gives `None` (all equal).

    Args:
        labels: the training labels (integers).
        num_classes: the number of classes.
        kind: `"none"` or `"balanced"`.

    Returns:
        `{class: weight}` for `fit(class_weight=...)`, or `None`.
    """
    if _choice("class_weight", kind, ("none", "balanced")) == "none":
        return None
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=num_classes)
    total = counts.sum()
    return {c: float(total / (num_classes * n)) if n else 0.0 for c, n in enumerate(counts)}


@dataclasses.dataclass
class StageResult:
    """What one stage did.

    Args:
        stage: 1 or 2.
        what: what trained, in words.
        learning_rate: Adam's learning rate.
        epochs_run: the epochs trained (early stopping may end a stage before its budget).
        best_epoch: the epoch (from 1, counted over both stages) whose weights the model
            has at the end.
        history: `{metric: [value per epoch]}` of the epochs trained.
        seconds: the stage's duration; `epoch_seconds`: each epoch's.
        kept: False when stage 2 did not better stage 1's best validation score and stage
            1's weights were put back.
        notes: anything the report should say about the stage.
    """

    stage: int
    what: str
    learning_rate: float
    epochs_run: int
    best_epoch: int
    history: dict[str, list[float]]
    seconds: float
    epoch_seconds: list[float]
    kept: bool = True
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict:
        """As stored in `history.json`."""
        return dataclasses.asdict(self)

    def best(self, monitor: str) -> float:
        """The stage's best validation score: the lowest loss, or the highest accuracy."""
        values = self.history[monitor]
        return float(min(values) if monitor.endswith("loss") else max(values))

    def kept_score(self, monitor: str) -> float:
        """Stage 1's validation score at the epoch whose weights it kept (`best_epoch`).

        Early stopping chooses only among the epochs from `min_epochs` on, so an earlier
        epoch may have scored better (`best`) without its weights being kept; stage 2 is
        compared with this score.

        Raises:
            ValueError: for stage 2, whose history does not start at epoch 1.
        """
        if self.stage != 1:
            raise ValueError(f"`kept_score` is stage 1's. Received: stage {self.stage}; "
                             "use `best` for stage 2.")
        return float(self.history[monitor][self.best_epoch - 1])


def _fit_stage(model, train_ds, val_ds, recipe: Recipe, max_epochs: int, initial_epoch: int,
               class_weight, backup_dir, callbacks, verbose: bool, min_epochs: int = 1):
    import keras  # deferred: see the note on imports above

    from tlhelpers.training import EpochLine, EpochTimer, check_classes  # deferred: likewise

    check_classes(model, val_ds)
    timer = EpochTimer()
    stopper = keras.callbacks.EarlyStopping(
        monitor=recipe.monitor, patience=recipe.patience, restore_best_weights=True,
        start_from_epoch=initial_epoch + min_epochs - 1)  # chosen among the later epochs
    own = [timer, stopper]
    if backup_dir is not None:  # resumes an interrupted stage at its last finished epoch
        own.append(keras.callbacks.BackupAndRestore(str(backup_dir)))
    if verbose:
        own.append(EpochLine())
    started = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=initial_epoch + max_epochs,
                        initial_epoch=initial_epoch, verbose=0, class_weight=class_weight,
                        shuffle=False,  # the pipeline shuffles itself, with its seed
                        callbacks=[*own, *(callbacks or [])])
    logs = {k: [float(v) for v in values] for k, values in history.history.items()
            if k != "learning_rate"}
    # after a resume (BackupAndRestore) this call ran only the stage's later epochs, and
    # early stopping restored the best of those: count from the first one run here
    first = history.epoch[0] - initial_epoch if history.epoch else 0
    scores = np.asarray(logs[recipe.monitor])
    eligible = [i for i in range(len(scores)) if first + i >= min_epochs - 1]
    eligible = eligible or list(range(len(scores)))
    sign = -1 if recipe.monitor.endswith("loss") else 1
    best = first + max(eligible, key=lambda i: (sign * scores[i], -i))
    return logs, best, time.perf_counter() - started, timer.seconds


def stage1(model, train_ds, val_ds, recipe: Recipe, *,
           class_weight: dict | None = None, backup_dir=None, callbacks=None,
           verbose: bool = True) -> StageResult:
    """Stage 1: the head on the frozen base, until the validation score stops improving.

    The plain Keras it runs: `model.fit(train_ds, validation_data=val_ds,
    epochs=recipe.max_epochs, class_weight=..., callbacks=[EarlyStopping(
    monitor=recipe.monitor, patience=recipe.patience, restore_best_weights=True,
    start_from_epoch=recipe.min_epochs - 1)])`, on the model of `build_model` (compiled
    with Adam at `recipe.learning_rate`): at least `min_epochs` epochs, then on while the
    validation score improves, the best of the epochs from `min_epochs` on kept.

    Args:
        model: the model of `build_model`.
        train_ds: training batches (augmented, if the recipe augments).
        val_ds: validation batches.
        recipe: the recipe.
        class_weight: from `class_weights` (default None).
        backup_dir: a folder for `BackupAndRestore` (default None: no resume within the
            stage).
        callbacks: more Keras callbacks.
        verbose: print one line per epoch (default True).

    Returns:
        The `StageResult`; the model holds the best epoch's weights.
    """
    logs, best, seconds, epoch_seconds = _fit_stage(
        model, train_ds, val_ds, recipe, recipe.max_epochs, 0, class_weight, backup_dir,
        callbacks, verbose, min_epochs=recipe.min_epochs)
    return StageResult(1, "the head on the frozen base", recipe.learning_rate,
                       len(logs["loss"]), best + 1, logs, round(seconds, 2),
                       [round(s, 2) for s in epoch_seconds])


def stage2(model, train_ds, val_ds, recipe: Recipe, after: StageResult, *,
           class_weight: dict | None = None, backup_dir=None, callbacks=None,
           verbose: bool = True) -> StageResult:
    """Stage 2: the top blocks unfrozen (BatchNormalization kept frozen), recompiled at the
    lower rate, trained until the validation score stops improving; stage 1's weights are
    put back if no epoch bettered its best validation score (`recipe.monitor`).

    The plain Keras it runs: for each layer of the base, `layer.trainable = (layer in
    the top block and not isinstance(layer, keras.layers.BatchNormalization))` (after
    `base_model.trainable = True`), then `model.compile(Adam(recipe.fine_tune_learning_rate),
    ...)`, then `model.fit(..., initial_epoch=after.epochs_run)` with early stopping.
    It also checks that every frozen weight and every BatchNormalization statistic of
    the base stayed as it was.

    Args:
        model: the model after stage 1.
        train_ds: training batches.
        val_ds: validation batches.
        recipe: the recipe.
        after: stage 1's result.
        class_weight: from `class_weights` (default None).
        backup_dir: a folder for `BackupAndRestore` (default None).
        callbacks: more Keras callbacks.
        verbose: print one line per epoch (default True).

    Returns:
        The `StageResult`, with `kept=False` when stage 1's weights were put back.

    Raises:
        AssertionError: when a frozen weight of the base moved (naming it).
    """
    import keras  # deferred: see the note on imports above

    from tlhelpers.models import (  # deferred: likewise
        snapshot_weights,
        trainable_table,
        unfreeze_blocks,
    )

    base_model = base_of(model)
    before_stage = [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]
    frozen = snapshot_weights(base_model)
    unfrozen = unfreeze_blocks(base_model, list(recipe.fine_tune_blocks))
    compile_for_stage(model, recipe.fine_tune_learning_rate)
    logs, best, seconds, epoch_seconds = _fit_stage(
        model, train_ds, val_ds, recipe, recipe.fine_tune_epochs, after.epochs_run,
        class_weight, backup_dir, callbacks, verbose)
    compared = frozen.assert_unchanged(base_model, kinds=("moving statistic", "non-trainable"))
    result = StageResult(2, f"{', '.join(recipe.fine_tune_blocks)} of the base and the head",
                         recipe.fine_tune_learning_rate, len(logs["loss"]),
                         after.epochs_run + best + 1, logs, round(seconds, 2),
                         [round(s, 2) for s in epoch_seconds])
    result.notes.append(f"unfrozen: {', '.join(unfrozen)}; BatchNormalization layers stayed "
                        f"frozen; {compared} frozen weight arrays compared after the stage: "
                        "none moved")
    result.notes.append(trainable_table(base_model))
    now = result.best(recipe.monitor)
    before = after.kept_score(recipe.monitor)
    better = now < before if recipe.monitor.endswith("loss") else now > before
    if not (math.isfinite(now) and better):
        for variable, value in zip(model.weights, before_stage, strict=True):
            variable.assign(value)
        result.kept = False
        result.best_epoch = after.best_epoch
        result.notes.append(
            f"no epoch of stage 2 bettered stage 1's kept {recipe.monitor} ({before:.4f}; "
            f"stage 2's best: {now:.4f}): stage 1's model is kept")
    return result


def seeded(recipe: Recipe, stage: int) -> None:
    """Seeds a stage: stage 1 with the recipe's seed, stage 2 with the next."""
    set_seed(recipe.seed + stage - 1)
