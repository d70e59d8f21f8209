"""One command from a folder of images to a fine-tuned model and a report.

    python -m tlhelpers.train DATA_DIR --out RUN_DIR [--base mobilenet|vgg16] [options]
    tl-train DATA_DIR --out RUN_DIR                      # the same, once installed

or, from a notebook, one call: `train_on_folder(DATA_DIR, RUN_DIR, base="mobilenet")`.

The case study's recipe (chapter 3), on your own images, built from the book's helpers:

1. check the folder (`tlhelpers.folders`): every problem in one report, before anything
   is trained; a folder without `train/`, `val/`, `test/` folders is split here,
   stratified by class and seeded, and the report says so;
2. stage 1: the article's head (`Flatten -> Dense(1024) -> softmax`) on the frozen
   pretrained base, the article's augmentation, Adam at 1e-4;
3. stage 2: the top block of the base unfrozen (BatchNormalization stays frozen), Adam
   at a tenth of that, the epochs numbered on from stage 1;
4. evaluate on the test split, which no step has looked at;
5. write `report.html`: the folder, the curves with the fine-tuning marker, the
   confusion matrix, precision and recall per class, the most confident mistakes,
   the time of each stage, the library versions.

Into RUN_DIR go `config.json` (the settings), `class_names.json`, `stage1.keras` (the
model after stage 1), `model.keras` (the final model), `history.json` and
`history.csv` (per epoch), `evaluation.json` and `report.html`. Each stage is saved as
it finishes: run the same command again after an interruption and it resumes after
the last finished stage. `python -m tlhelpers.predict RUN_DIR IMAGE...` classifies
image files with the saved model.

The defaults are the book's: MobileNet (alpha=0.25) runs as the `tiny` profile does
(96 x 96, 8 + 4 epochs, fine on a CPU); VGG16 as the `full` profile and the case study
do (224 x 224, 10 + 10 epochs, for a GPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlhelpers.config import PROFILES, set_seed
from tlhelpers.data import DATASETS, dataset_path, load_dataset
from tlhelpers.display import format_warning, progress_bar
from tlhelpers.downloads import DownloadError
from tlhelpers.folders import index_image_folder
from tlhelpers.rundir import (
    CLASS_NAMES_FILE,
    CONFIG_FILE,
    EVALUATION_FILE,
    HISTORY_CSV,
    HISTORY_FILE,
    MODEL_FILE,
    REPORT_FILE,
    RUN_FILES,
    STAGE1_MODEL,
)

__all__ = [
    "BASE_ALIASES",
    "RECIPE_DEFAULTS",
    "RUN_FILES",
    "RecipeDefaults",
    "RunDirError",
    "TrainConfig",
    "TrainResult",
    "main",
    "make_config",
    "train_on_folder",
]

# What --base accepts, and the key of `tlhelpers.models.BASES` each name stands for.
BASE_ALIASES = {"mobilenet": "mobilenet_025", "mobilenet_025": "mobilenet_025",
                "vgg16": "vgg16"}
LEARNING_RATE = 1e-4  # stage 1: the article's, as in the case study (chapter 3)
FINE_TUNE_FACTOR = 10  # stage 2 trains at a tenth of stage 1's learning rate
HIDDEN_UNITS = 1024  # the article's head: Flatten -> Dense(1024, relu) -> softmax


@dataclasses.dataclass(frozen=True)
class RecipeDefaults:
    """The book's defaults for one base.

    Args:
        profile: the profile (`tlhelpers.config.PROFILES`) whose image size and batch
            size are the defaults.
        stage1_epochs: epochs of stage 1, as in the case study's sizes for that profile.
        stage2_epochs: epochs of stage 2, likewise.
        fine_tune_blocks: the blocks stage 2 unfreezes: the base's top block.
    """

    profile: str
    stage1_epochs: int
    stage2_epochs: int
    fine_tune_blocks: tuple[str, ...]


RECIPE_DEFAULTS: dict[str, RecipeDefaults] = {
    "mobilenet_025": RecipeDefaults("tiny", 8, 4, ("block13",)),
    "vgg16": RecipeDefaults("full", 10, 10, ("block5",)),
}



class RunDirError(ValueError):
    """RUN_DIR cannot be used for this run; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a run trains; `config.json` in RUN_DIR holds it.

    A second run in the same RUN_DIR resumes only with the same settings.

    Args:
        data_dir: the image folder, as given (`~` expanded), or the name of a data set the
            book knows. A resume also checks that the folder holds the same files in the
            same splits as when stage 1 trained.
        base: the pretrained base, a key of `tlhelpers.models.BASES`.
        weights: `"imagenet"`, or `"none"` for random weights (no transfer).
        image_size: `(height, width)` every image is resized to.
        batch_size: images per batch.
        stage1_epochs: epochs of stage 1 (the head on the frozen base).
        stage2_epochs: epochs of stage 2 (fine-tuning); 0 skips it.
        learning_rate: Adam's learning rate in stage 1.
        fine_tune_learning_rate: Adam's learning rate in stage 2.
        fine_tune_blocks: the blocks of the base stage 2 unfreezes.
        hidden_units: units of the head's hidden layer.
        augment: whether the training images are augmented (the article's settings).
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
    stage1_epochs: int
    stage2_epochs: int
    learning_rate: float
    fine_tune_learning_rate: float
    fine_tune_blocks: tuple[str, ...]
    hidden_units: int
    augment: bool
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
    def from_json(cls, values: dict) -> TrainConfig:
        """Reads what `to_json` wrote.

        Raises:
            ValueError: if keys are missing or unknown.
        """
        names = [field.name for field in dataclasses.fields(cls)]
        if sorted(values) != sorted(names):
            raise ValueError(f"Expected the settings {names}. Received: {sorted(values)}.")
        return cls(**{key: tuple(value) if isinstance(value, list) else value
                      for key, value in values.items()})

    def differences(self, other: TrainConfig) -> list[str]:
        """The settings that differ, as `name: <self's value> -> <other's value>`."""
        return [f"{field.name}: {getattr(self, field.name)!r} -> {getattr(other, field.name)!r}"
                for field in dataclasses.fields(self)
                if getattr(self, field.name) != getattr(other, field.name)]


def _positive_int(name: str, value, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"`{name}` must be an integer of at least {low}. Received: "
                         f"`{name}={value!r}`.")
    return value


def make_config(data_dir: str | os.PathLike[str], base: str = "mobilenet", *,
                weights: str = "imagenet", image_size: int | Sequence[int] | None = None,
                batch_size: int | None = None, stage1_epochs: int | None = None,
                stage2_epochs: int | None = None, learning_rate: float | None = None,
                fine_tune_learning_rate: float | None = None,
                fine_tune_blocks: Sequence[str] | None = None,
                hidden_units: int = HIDDEN_UNITS, augment: bool = True, seed: int = 0,
                val_fraction: float = 0.15, test_fraction: float = 0.15,
                skip_non_images: bool = False, min_side: int = 8) -> TrainConfig:
    """Fills in the book's defaults for a base and checks every setting.

    Args:
        data_dir: the image folder (or the name of a data set the book knows, such as
            `"fashion-mnist-tiny"`).
        base: `"mobilenet"` (MobileNet alpha=0.25; default) or `"vgg16"`.
        weights: `"imagenet"` (default) or `"none"` (random weights: no transfer).
        image_size: the side, or `(height, width)`, images are resized to (default: the
            profile's: 96 for MobileNet, 224 for VGG16).
        batch_size: images per batch (default: the profile's, 32).
        stage1_epochs: epochs of stage 1 (default 8 for MobileNet, 10 for VGG16).
        stage2_epochs: epochs of stage 2, 0 to skip it (default 4 for MobileNet, 10 for
            VGG16).
        learning_rate: Adam's learning rate in stage 1 (default 1e-4, the article's).
        fine_tune_learning_rate: Adam's learning rate in stage 2 (default: a tenth of
            `learning_rate`).
        fine_tune_blocks: blocks stage 2 unfreezes (default: the top block, `block13`
            of MobileNet, `block5` of VGG16).
        hidden_units: units of the head's hidden layer (default 1024, the article's).
        augment: augment the training images with the article's settings (default True).
        seed: seeds the split, the shuffle, the augmentation and the weights (default 0).
        val_fraction: share of each class carved out for validation where there is no
            validation folder (default 0.15).
        test_fraction: the same for test (default 0.15).
        skip_non_images: leave out files that are not images instead of stopping
            (default False).
        min_side: the smallest image side accepted, in pixels (default 8).

    Returns:
        The `TrainConfig`.

    Raises:
        ValueError: naming the setting, what was received and what is accepted.
    """
    from tlhelpers.models import BASES  # deferred: --help stays instant

    if base not in BASE_ALIASES:
        raise ValueError(f"Unknown base. Received: `base={base!r}`. Use 'mobilenet' "
                         "(MobileNet alpha=0.25, fine on a CPU) or 'vgg16' (for a GPU).")
    key = BASE_ALIASES[base]
    defaults = RECIPE_DEFAULTS[key]
    profile = PROFILES[defaults.profile]
    if weights not in ("imagenet", "none"):
        raise ValueError("`weights` must be 'imagenet' or 'none'. Received: "
                         f"`weights={weights!r}`.")
    if image_size is None:
        image_size = profile.image_size
    elif isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    image_size = tuple(image_size)
    minimum = BASES[key].min_size
    if (len(image_size) != 2 or not all(isinstance(s, int) for s in image_size)
            or min(image_size) < minimum):
        raise ValueError(f"{BASES[key].title} needs images of at least {minimum} x {minimum} "
                         f"pixels. Received: `image_size={image_size!r}`.")
    learning_rate = LEARNING_RATE if learning_rate is None else float(learning_rate)
    if fine_tune_learning_rate is None:
        fine_tune_learning_rate = learning_rate / FINE_TUNE_FACTOR
    for name, rate in (("learning_rate", learning_rate),
                       ("fine_tune_learning_rate", fine_tune_learning_rate)):
        if not 0 < rate < 1:
            raise ValueError(f"`{name}` must be between 0 and 1. Received: `{name}={rate!r}`.")
    blocks = tuple(fine_tune_blocks) if fine_tune_blocks is not None else defaults.fine_tune_blocks
    if isinstance(fine_tune_blocks, str) or not blocks:
        raise ValueError("`fine_tune_blocks` must be a list of block names such as "
                         f"['block13']. Received: `fine_tune_blocks={fine_tune_blocks!r}`.")
    name = str(data_dir)
    folder = name if name in DATASETS else str(Path(name).expanduser())
    return TrainConfig(
        data_dir=folder, base=key, weights=weights, image_size=image_size,
        batch_size=_positive_int("batch_size", profile.batch_size if batch_size is None
                                 else batch_size),
        stage1_epochs=_positive_int("stage1_epochs", defaults.stage1_epochs
                                    if stage1_epochs is None else stage1_epochs),
        stage2_epochs=_positive_int("stage2_epochs", defaults.stage2_epochs
                                    if stage2_epochs is None else stage2_epochs, True),
        learning_rate=learning_rate, fine_tune_learning_rate=float(fine_tune_learning_rate),
        fine_tune_blocks=blocks, hidden_units=_positive_int("hidden_units", hidden_units, True),
        augment=bool(augment), seed=_positive_int("seed", seed, True),
        val_fraction=float(val_fraction), test_fraction=float(test_fraction),
        skip_non_images=bool(skip_non_images), min_side=_positive_int("min_side", min_side),
    )


@dataclasses.dataclass
class TrainResult:
    """What a run produced.

    Args:
        run_dir: the run's folder.
        config: its settings.
        class_names: label `i` is `class_names[i]`.
        stages: one dict per finished stage, as in `history.json` (`stage`, `epochs`,
            `learning_rate`, `seconds`, `epoch_seconds`, `history`, ...).
        resumed: the stages finished by an earlier run and loaded, not trained, here.
        index: the checked folder: its files and labels per split, classes, formats.
        evaluation: the test results, as in `evaluation.json` (`None` when the run
            stopped after stage 1).
        report: the report's path (`None` when the run stopped after stage 1).
    """

    run_dir: Path
    config: TrainConfig
    class_names: list[str]
    stages: list[dict]
    resumed: list[int]
    index: object
    evaluation: dict | None = None
    report: Path | None = None

    @property
    def history(self) -> dict[str, list[float]]:
        """The per-epoch metrics of every finished stage, one after the other."""
        from tlhelpers.training import merge_histories  # deferred: --help stays instant

        return merge_histories(*(stage["history"] for stage in self.stages))

    @property
    def model_path(self) -> Path | None:
        """The final model (`model.keras`), or `None` before stage 2 has finished."""
        path = self.run_dir / MODEL_FILE
        return path if path.is_file() else None

    @property
    def test_accuracy(self) -> float | None:
        """The final model's accuracy on the test split (`None` before it is evaluated)."""
        return None if self.evaluation is None else self.evaluation["test_accuracy"]


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, content) -> None:
    """Writes JSON atomically: a run interrupted while writing keeps the old file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    os.replace(partial, path)


def _save_model(model, path: Path) -> None:
    """Saves a model atomically, without its optimizer.

    A run never trains a saved model on with its optimizer's state (stage 2 compiles a
    new one), and Adam's two moment estimates per trainable weight would make the file
    three times as large; so an uncompiled model over the same layers is saved. Keras
    wants the `.keras` suffix on the partial file too.
    """
    import keras  # deferred: --help stays instant

    partial = path.with_name(f"{path.stem}.partial.keras")
    keras.Model(model.input, model.output, name=model.name).save(partial)
    os.replace(partial, path)


def _finished_stages(run_dir: Path) -> list[dict]:
    """The stages an earlier run finished in `run_dir`: in `history.json`, model saved."""
    history = run_dir / HISTORY_FILE
    if not history.is_file():
        return []
    stages = _read_json(history).get("stages", [])
    model_of = {1: STAGE1_MODEL, 2: MODEL_FILE}
    return [s for s in stages if (run_dir / model_of[s["stage"]]).is_file()]


def _prepare_run_dir(run_dir: Path, config: TrainConfig, restart: bool) -> list[dict]:
    """Checks that RUN_DIR can take this run; returns the stages to resume from.

    Raises:
        RunDirError: RUN_DIR is a file, holds something else than a run, or holds a run
            with other settings.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"RUN_DIR {run_dir} is a file, not a folder. Give the run a folder "
                          "of its own (it is created if needed).")
    if not run_dir.is_dir():
        return []
    entries = [p.name for p in run_dir.iterdir() if not p.name.startswith(".")]
    if entries and CONFIG_FILE not in entries:
        raise RunDirError(
            f"RUN_DIR {run_dir} is not empty and holds no earlier run (no {CONFIG_FILE}): "
            f"{', '.join(sorted(entries)[:5])}{' ...' if len(entries) > 5 else ''}. "
            "Choose a new or empty folder, so that nothing there is overwritten.")
    if restart or not entries:
        return []
    stages = _finished_stages(run_dir)
    if not stages:
        return []
    try:
        earlier = TrainConfig.from_json(_read_json(run_dir / CONFIG_FILE))
    except (ValueError, TypeError) as err:
        raise RunDirError(f"{run_dir / CONFIG_FILE} cannot be read ({err}). Start over with "
                          "--restart (restart=True), or choose a new RUN_DIR.") from None
    differences = earlier.differences(config)
    if differences:
        raise RunDirError(
            f"RUN_DIR {run_dir} holds a run with other settings (earlier -> now):\n  "
            + "\n  ".join(differences)
            + "\nRun with the earlier settings to resume it, choose a new RUN_DIR, or start "
            "this one over with --restart (restart=True), which deletes its models, history "
            "and report.")
    return stages


def _data_root(data_dir: str | os.PathLike[str]) -> Path:
    """The image folder, as given (messages then show the path the user typed)."""
    if str(data_dir) in DATASETS:
        return dataset_path(str(data_dir))
    return Path(data_dir).expanduser()


def _fingerprint(index) -> str:
    """A hash of which file is in which split with which label: what stage 1 trained on."""
    content = {split: [[str(path.relative_to(index.root)), int(label)]
                       for path, label in zip(index.files[split], index.labels[split],
                                              strict=True)]
               for split in index.files}
    content["class_names"] = index.class_names
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _batch_progress():
    """A Keras callback that shows a progress bar over each epoch's batches (stderr),
    closed before the epoch's line is printed; `TQDM_DISABLE=1` hides it."""
    import keras  # deferred: --help stays instant

    class BatchProgress(keras.callbacks.Callback):
        bar = None

        def on_epoch_begin(self, epoch, logs=None):
            self.bar = progress_bar(total=self.params.get("steps"), desc=f"epoch {epoch + 1}",
                                    unit="batch", leave=False)

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update()
            if batch + 1 == self.params.get("steps"):
                self.bar.close()

        def on_test_begin(self, logs=None):
            if self.bar is not None:
                self.bar.close()

    return BatchProgress()


def _build_model(config: TrainConfig, num_classes: int):
    """Stage 1's model: the frozen base, the article's head, compiled as in chapter 3."""

    import keras  # deferred: --help stays instant

    from tlhelpers import models  # deferred: --help stays instant

    with warnings.catch_warnings():  # MobileNet below 128 px: the 224 x 224 weights are used
        warnings.filterwarnings("ignore", message=".*input_shape. is undefined or non-square")
        base_model = models.freeze(models.build_base(
            config.base, config.input_shape,
            weights="imagenet" if config.weights == "imagenet" else None))
    head = models.build_head(num_classes, hidden_units=config.hidden_units)
    model = models.assemble(base_model, head, models.BASES[config.base].preprocess_mode,
                            name="tl_train")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model, base_model


def _base_of(model):
    """The pretrained base inside a model built by `_build_model` (saved and loaded)."""
    import keras  # deferred: --help stays instant

    (base_model,) = [layer for layer in model.layers
                     if isinstance(layer, keras.Model) and layer.name != "head"]
    return base_model


def _check_blocks(base_model, blocks: Sequence[str]) -> None:
    from tlhelpers.models import layer_blocks  # deferred: --help stays instant

    known = list(dict.fromkeys(b for b in layer_blocks(base_model).values() if b is not None))
    unknown = [b for b in blocks if b not in known]
    if unknown:
        raise ValueError(f"{base_model.name!r} has no block {unknown}. Received: "
                         f"`fine_tune_blocks={list(blocks)}`; its blocks are {known}.")


def _printer(verbose: bool):
    """`print`, or a function that prints nothing."""
    return print if verbose else (lambda *args, **kwargs: None)


def _epochs(count: int) -> str:
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def _stage_record(stage: int, what: str, epochs: int, learning_rate: float, seconds: float,
                  timer, history) -> dict:
    return {"stage": stage, "what": what, "epochs": epochs, "learning_rate": learning_rate,
            "seconds": round(seconds, 2),
            "epoch_seconds": [round(s, 2) for s in timer.seconds],
            "history": {k: [float(v) for v in values] for k, values in history.history.items()
                        if k != "learning_rate"}}


def _write_history(run_dir: Path, fingerprint: str, stages: list[dict]) -> None:
    _write_json(run_dir / HISTORY_FILE, {"data_fingerprint": fingerprint, "stages": stages})
    metrics = sorted(stages[0]["history"])
    lines = [",".join(["epoch", "stage", *metrics, "seconds"])]
    epoch = 0
    for stage in stages:
        for i, seconds in enumerate(stage["epoch_seconds"]):
            epoch += 1
            values = [f"{stage['history'][m][i]:.6g}" for m in metrics]
            lines.append(",".join([str(epoch), str(stage["stage"]), *values, f"{seconds:.2f}"]))
    (run_dir / HISTORY_CSV).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _evaluate(model, test_ds, class_names: list[str]) -> tuple[dict, object, object]:
    """The final model on the test split: accuracy, per-class precision and recall, the
    confusion matrix; also the test images and probabilities, for the report's figures."""
    # deferred: --help stays instant
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from tlhelpers import training  # deferred: --help stays instant

    images, y_true, y_pred, probs = training.predict_classes(model, test_ds, return_probs=True)
    labels = list(range(len(class_names)))
    precision, recall, _, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    evaluation = {
        "test_images": len(y_true),
        "test_accuracy": float(np.mean(y_pred == y_true)),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]),
                             "support": int(support[i])}
                      for i, name in enumerate(class_names)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    return evaluation, images, (y_true, probs)


def _stage1(cfg: TrainConfig, num_classes: int, train_ds, val_ds, verbose: bool):
    """Stage 1: the article's head trained on the frozen base; returns the model and the
    stage's record (for `history.json`)."""
    from tlhelpers import training  # deferred: --help stays instant

    say = _printer(verbose)
    model, base_model = _build_model(cfg, num_classes)
    _check_blocks(base_model, cfg.fine_tune_blocks)  # before training, not after it
    say(f"Stage 1 of {2 if cfg.stage2_epochs else 1}: the head on the frozen base, "
        f"{_epochs(cfg.stage1_epochs)}, Adam at {cfg.learning_rate:g}")
    timer, started = training.EpochTimer(), time.perf_counter()
    history = training.fit(model, train_ds, val_ds, epochs=cfg.stage1_epochs,
                           verbose=verbose, callbacks=[timer, _batch_progress()])
    return model, _stage_record(1, "the head on the frozen base", cfg.stage1_epochs,
                                cfg.learning_rate, time.perf_counter() - started, timer,
                                history)


def _stage2(cfg: TrainConfig, model, train_ds, val_ds, verbose: bool) -> dict:
    """Stage 2: the top blocks unfrozen (BatchNormalization kept frozen), recompiled at the
    lower learning rate, trained on; checks that every frozen weight stayed as it was.
    Returns the stage's record (for `history.json`)."""
    from tlhelpers import models, training  # deferred: --help stays instant

    say = _printer(verbose)
    base_model = _base_of(model)
    before = models.snapshot_weights(base_model)
    say(f"Stage 2 of 2: fine-tuning {', '.join(cfg.fine_tune_blocks)} of the base "
        f"(BatchNormalization stays frozen), {_epochs(cfg.stage2_epochs)}, Adam at "
        f"{cfg.fine_tune_learning_rate:g}")
    timer, started = training.EpochTimer(), time.perf_counter()
    history = training.fine_tune(
        model, base_model, list(cfg.fine_tune_blocks), train_ds, val_ds,
        epochs=cfg.stage2_epochs, initial_epoch=cfg.stage1_epochs,
        learning_rate=cfg.fine_tune_learning_rate, verbose=verbose,
        callbacks=[timer, _batch_progress()])
    record = _stage_record(2, "the top of the base and the head", cfg.stage2_epochs,
                           cfg.fine_tune_learning_rate, time.perf_counter() - started, timer,
                           history)
    record["unfrozen"] = sorted({c.layer for c in before.changes(base_model)
                                 if c.kind == "trainable"})
    record["trainable_table"] = models.trainable_table(base_model)
    record["frozen_arrays_unchanged"] = before.assert_unchanged(
        base_model, kinds=("moving statistic", "non-trainable"))
    return record


def train_on_folder(data_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str],
                    base: str = "mobilenet", *, stop_after: int | None = None,
                    restart: bool = False, cache: bool = True, verbose: bool = True,
                    **settings) -> TrainResult:
    """Trains the case study's two-stage recipe on an image folder, with a report.

    Checks the folder (stopping before any training with one report of every problem),
    splits it if it has no split folders, trains stage 1 (the head on the frozen base)
    and stage 2 (the top block fine-tuned), evaluates on the test split and writes
    `report.html`, saving every finished stage in `run_dir`. Run again with the same
    `run_dir` and settings, it resumes after the last finished stage (its stage 2
    then sees other shuffles and augmentations than an uninterrupted run would).

    Args:
        data_dir: the image folder: `<class>/<image>` (split here), or
            `train/<class>/<image>` with `val/` and `test/` where you have them; or the
            name of a data set the book knows (`"fashion-mnist-tiny"`).
        run_dir: the run's folder: new, empty, or one of an earlier run to resume.
        base: `"mobilenet"` (default) or `"vgg16"`.
        stop_after: `1` stops after stage 1 (resume later by calling again without it);
            `None` (default) runs both stages.
        restart: delete an earlier run's files in `run_dir` and start over (default
            False: resume it, if its settings are these).
        cache: keep the decoded images in memory (default True; False decodes them every
            epoch, for folders larger than memory).
        verbose: print the folder's report and one line per epoch (default True).
        **settings: the recipe's settings, see `make_config` (`image_size`,
            `stage1_epochs`, `stage2_epochs`, `batch_size`, `seed`, `weights`, ...).

    Returns:
        A `TrainResult`.

    Raises:
        tlhelpers.folders.ImageFolderError: listing every problem of the folder.
        RunDirError: `run_dir` holds something else, or a run with other settings or of
            a folder that has changed since.
        ValueError: a setting out of range.
        tlhelpers.downloads.WeightsUnavailableError: ImageNet weights neither cached nor
            downloadable.
    """
    if stop_after not in (None, 1):
        raise ValueError(f"`stop_after` must be 1 or None. Received: `stop_after={stop_after!r}`.")
    if str(data_dir) not in DATASETS and not Path(data_dir).expanduser().is_dir():
        index_image_folder(data_dir)  # a wrong path: its error now, before TensorFlow
    import keras  # deferred: --help stays instant

    from tlhelpers import augment, models  # deferred: --help stays instant

    cfg = make_config(data_dir, base, **settings)
    run_dir = Path(run_dir).expanduser()
    say = _printer(verbose)
    done = _prepare_run_dir(run_dir, cfg, restart)
    root = _data_root(data_dir)
    if run_dir.resolve().is_relative_to(root.resolve()):
        raise RunDirError(f"RUN_DIR {run_dir} is inside the image folder {root}: its files "
                          "would be read as images next time. Put the run elsewhere.")

    say(f"Checking the image folder {root} ...")
    image_data = load_dataset(root, cfg.image_size, cfg.batch_size, seed=cfg.seed,
                                   verbose=verbose, skip_non_images=cfg.skip_non_images,
                                   min_side=cfg.min_side,
                                   val_fraction=cfg.val_fraction,
                                   test_fraction=cfg.test_fraction, cache=cache)
    index, class_names = image_data.index, image_data.class_names
    carved = [s for s, source in index.split_sources.items() if source.startswith("carved")]
    if carved:
        say(f"No {' or '.join(f'{s}/' for s in carved)} folder: split here, stratified by "
            f"class, seed {cfg.seed} (see the report above).")
    fingerprint = _fingerprint(index)
    if done and _read_json(run_dir / HISTORY_FILE).get("data_fingerprint") != fingerprint:
        raise RunDirError(
            f"The image folder {root} has changed since stage 1 of the run in {run_dir} (other "
            "files or classes): resuming would evaluate on images stage 1 may have trained "
            "on. Start over with --restart (restart=True), or choose a new RUN_DIR.")
    if restart and run_dir.is_dir():
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
        say(f"--restart: deleted the earlier run's files in {run_dir}.")
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / CONFIG_FILE, cfg.to_json())
    _write_json(run_dir / CLASS_NAMES_FILE, class_names)

    spec = models.BASES[cfg.base]
    train_ds = image_data.train_ds
    if cfg.augment:
        train_ds = augment.augment_batches(train_ds, augment.article_augmentation(cfg.seed))
    weights = "ImageNet weights" if cfg.weights == "imagenet" else "random weights (no transfer)"
    say(f"Base: {spec.title}, {weights}; images {cfg.image_size[0]} x {cfg.image_size[1]}, "
        f"batches of {cfg.batch_size}, augmentation {'on' if cfg.augment else 'off'}.")
    stages = [s for s in done if s["stage"] == 1]
    resumed = [1] if stages else []
    set_seed(cfg.seed)
    if stages:
        model = keras.models.load_model(run_dir / STAGE1_MODEL, compile=False)
        _check_blocks(_base_of(model), cfg.fine_tune_blocks)
        say(f"Stage 1 finished in an earlier run ({_epochs(stages[0]['epochs'])}, "
            f"{stages[0]['seconds']:.0f} s): resuming from {run_dir / STAGE1_MODEL}.")
    else:
        model, record = _stage1(cfg, len(class_names), train_ds, image_data.val_ds, verbose)
        stages.append(record)
        _save_model(model, run_dir / STAGE1_MODEL)
        if not cfg.stage2_epochs:
            _save_model(model, run_dir / MODEL_FILE)
        _write_history(run_dir, fingerprint, stages)
        say(f"Stage 1 done in {record['seconds']:.0f} s; saved {run_dir / STAGE1_MODEL}")
    result = TrainResult(run_dir, cfg, class_names, stages, resumed, index)
    if stop_after == 1:
        say("Stopped after stage 1, as asked. Run the same command without --stop-after "
            "to go on from there.")
        return result

    earlier = [s for s in done if s["stage"] == 2]
    if cfg.stage2_epochs and earlier:
        stages.append(earlier[0])
        resumed.append(2)
        model = keras.models.load_model(run_dir / MODEL_FILE, compile=False)
        say(f"Stage 2 finished in an earlier run ({_epochs(earlier[0]['epochs'])}): "
            f"loaded {run_dir / MODEL_FILE}.")
    elif cfg.stage2_epochs:
        set_seed(cfg.seed + 1)
        record = _stage2(cfg, model, train_ds, image_data.val_ds, verbose)
        stages.append(record)
        _save_model(model, run_dir / MODEL_FILE)
        _write_history(run_dir, fingerprint, stages)
        say(f"Stage 2 done in {record['seconds']:.0f} s; the frozen weights did not move "
            f"({record['frozen_arrays_unchanged']} arrays compared); saved "
            f"{run_dir / MODEL_FILE}")

    say(f"Evaluating on the test split ({len(index.files['test'])} images) ...")
    evaluation, images, (y_true, probs) = _evaluate(model, image_data.test_ds, class_names)
    _write_json(run_dir / EVALUATION_FILE, evaluation)
    result.evaluation = evaluation
    say(f"Test accuracy: {evaluation['test_accuracy']:.3f} on {evaluation['test_images']} "
        f"images (chance: {1 / len(class_names):.3f})")
    result.report = _write_report(result, images, y_true, probs)
    say(f"Report: {result.report}")
    say(f"Classify images with it: python -m tlhelpers.predict {run_dir} IMAGE...")
    return result


def _write_report(result: TrainResult, images, y_true, probs) -> Path:
    """Writes `report.html` into the run's folder: a self-contained page (`tlhelpers.report`)."""


    from tlhelpers import models, plots  # deferred: --help stays instant
    from tlhelpers.report import Report, library_versions  # deferred: --help stays instant

    cfg, class_names, stages, index = (result.config, result.class_names, result.stages,
                                       result.index)
    evaluation, run_dir = result.evaluation, result.run_dir
    num_classes, spec = len(class_names), models.BASES[cfg.base]
    weights = "its ImageNet weights" if cfg.weights == "imagenet" else "random weights"
    accuracy = evaluation["test_accuracy"]
    report = Report(f"Training report: {index.root.name}")
    trained = "two stages" if len(stages) == 2 else "one stage (no fine-tuning)"
    report.text(
        f"{spec.title} with {weights}, trained in {trained} on {len(index.files['train'])} "
        f"images of {num_classes} classes. Test accuracy: {accuracy:.3f} on "
        f"{evaluation['test_images']} images that no step of the training used (chance: "
        f"{1 / num_classes:.3f}).")
    report.text(f"Written {datetime.datetime.now():%Y-%m-%d %H:%M} by `python -m "
                f"tlhelpers.train`, into `{run_dir}`.", note=True)

    report.heading("The image folder")
    carved = [s for s, source in index.split_sources.items() if source.startswith("carved")]
    split_note = (" The folder has no " + " or ".join(f"`{s}/`" for s in carved) + " folder: "
                  "those images were carved out of the class folders here, stratified by "
                  f"class, with seed {cfg.seed} (the lines under the table say how many)."
                  if carved else "")
    report.text(f"`{index.root}`, checked in full before training: every image decoded, none "
                "with a problem. Images per class and split, then their sizes and formats."
                + split_note)
    report.preformatted(index.report())

    report.heading("Training")
    starts = [cfg.stage1_epochs] if len(stages) == 2 else []
    report.figure(plots.plot_history(result.history, stage_starts=starts),
                  alt="loss and accuracy per epoch, training and validation",
                  caption="Per epoch: training images (augmented, as trained on) and the "
                  "validation split." + (" The dotted line marks where fine-tuning began."
                                         if starts else ""))
    rows = []
    for stage in stages:
        seconds = stage["epoch_seconds"]
        rows.append([stage["stage"], stage["what"], stage["epochs"],
                     f"{stage['learning_rate']:g}", f"{stage['seconds']:.1f} s",
                     f"{np.mean(seconds):.1f} s" if seconds else "-",
                     f"{stage['history']['val_accuracy'][-1]:.3f}"])
    report.table(["stage", "what trains", "epochs", "learning rate (Adam)", "time",
                  "per epoch", "validation accuracy at the end"], rows,
                 numeric=[0, 2, 3, 4, 5, 6])
    if result.resumed:
        report.text("Stage(s) " + ", ".join(str(s) for s in result.resumed) + " finished in "
                    "an earlier run of the same settings and were resumed, not trained again; "
                    "their times are those of that run.", note=True)
    if len(stages) == 2 and "trainable_table" in stages[1]:
        report.text(f"Stage 2 unfroze {', '.join(cfg.fine_tune_blocks)} "
                    f"({', '.join(stages[1]['unfrozen'])}); BatchNormalization layers stayed "
                    f"frozen. After it, {stages[1]['frozen_arrays_unchanged']} frozen weight "
                    "arrays (BatchNormalization statistics included) were compared with their "
                    "values before it: none moved. Weights of the base per block:")
        report.preformatted(stages[1]["trainable_table"])

    report.heading("The test split")
    report.text(f"Accuracy {accuracy:.3f} on {evaluation['test_images']} images. Precision: "
                "of the images predicted as a class, the share that are that class. Recall: "
                "of the images of a class, the share found.")
    per_class = evaluation["per_class"]
    report.table(["class", "precision", "recall", "test images"],
                 [[name, f"{v['precision']:.3f}", f"{v['recall']:.3f}", v["support"]]
                  for name, v in per_class.items()], numeric=[1, 2, 3])
    y_pred = probs.argmax(axis=1)
    report.figure(plots.plot_confusion_matrix(y_true, y_pred, class_names),
                  alt="confusion matrix of the test split",
                  caption="Confusion matrix: each row a true class, each column a predicted "
                  "one; everything off the diagonal is a mistake.")
    mistakes = int(np.sum(y_pred != y_true))
    if mistakes:
        grid = plots.plot_confident_mistakes(images, y_true, probs, class_names, max_images=12)
        grid.tight_layout()  # again: its titles have two lines
        report.figure(grid, alt="the test images the model got wrong with the highest "
                      "confidence", caption=f"The most confident mistakes ({min(mistakes, 12)} "
                      f"of {mistakes}): predicted class and its probability, the true class in "
                      "brackets.")
    else:
        report.text("No test image was misclassified.")

    report.heading("Use the model")
    report.text("Classify image files (the top classes of each, with probabilities):")
    report.preformatted(f"python -m tlhelpers.predict {run_dir} IMAGE...")
    report.text("Or in Python (importing tlhelpers registers the layer that scales the "
                "pixels); the model takes raw RGB pixels in [0, 255] at "
                f"{cfg.image_size[0]} x {cfg.image_size[1]}:")
    report.preformatted(
        "import keras, numpy as np\nimport tlhelpers.models  # registers Preprocess\n"
        "from tlhelpers import data\n\n"
        f"model = keras.models.load_model({str(run_dir / MODEL_FILE)!r})\n"
        f"image = data.load_image('photo.jpg', {tuple(cfg.image_size)!r})\n"
        "probs = model.predict(image[None], verbose=0)[0]")
    report.table(["file in the run's folder", "what it holds"], [
        [CONFIG_FILE, "the settings below (a second run resumes only with the same ones)"],
        [CLASS_NAMES_FILE, "the class names: output i of the model is class i"],
        [STAGE1_MODEL, "the model after stage 1 (where an interrupted run resumes)"],
        [MODEL_FILE, "the final model"],
        [f"{HISTORY_FILE}, {HISTORY_CSV}", "loss and accuracy per epoch, times per stage"],
        [EVALUATION_FILE, "the test results: accuracy, per class, confusion matrix"],
        [REPORT_FILE, "this page"]])

    report.heading("Settings")
    report.text("Named as the arguments of `train_on_folder`; on the command line, "
                "`--image-size` sets `image_size`, `--no-augment` sets `augment` to False, and "
                "so on.", note=True)
    report.table(["setting", "value"], [[key, value if not isinstance(value, list)
                                         else ", ".join(str(v) for v in value)]
                                        for key, value in cfg.to_json().items()])

    report.heading("Libraries and machine")
    versions = library_versions()
    report.table(["", "version"], [*versions.items(), *_machine().items()])
    return report.write(run_dir / REPORT_FILE)


def _machine() -> dict[str, str]:

    import tensorflow as tf  # deferred: --help stays instant

    gpus = tf.config.list_physical_devices("GPU")
    return {"machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores",
            "GPUs": str(len(gpus)) if gpus else "none"}


# --- The command line ------------------------------------------------------------------

# The helpers' error messages name their Python arguments; the command's options instead.
_OPTIONS_IN_MESSAGES = (("pass `skip_non_images=True`", "pass --skip-non-images"),
                        ("pass a smaller `min_side`", "pass a smaller --min-side"),
                        ("--restart (restart=True)", "--restart"),
                        ("run the cell again", "run the command again"),
                        ("Or use the offline profile: set PROFILE = 'tiny' in the notebook's "
                         "parameters cell", "Or use the offline base: --base mobilenet"))


def _image_size(text: str) -> tuple[int, int]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2 or min(size) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a side such as 96, or HEIGHTxWIDTH such as 96x128; received {text!r}")
    return size


def _parser() -> argparse.ArgumentParser:
    mobilenet, vgg16 = RECIPE_DEFAULTS["mobilenet_025"], RECIPE_DEFAULTS["vgg16"]

    tiny, full = PROFILES[mobilenet.profile], PROFILES[vgg16.profile]
    parser = argparse.ArgumentParser(
        prog=_program_name(), description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  python -m tlhelpers.train ~/photos/shoes --out runs/shoes\n"
               "  python -m tlhelpers.train ~/photos/shoes --out runs/shoes-vgg --base vgg16\n"
               "  python -m tlhelpers.train ~/photos/shoes --out runs/quick --image-size 64 "
               "--stage1-epochs 2 --stage2-epochs 1")
    parser.add_argument("data_dir", metavar="DATA_DIR",
                        help="the image folder: one sub-folder per class (<class>/<image>), "
                             "split here into train, validation and test; or already split, "
                             "train/<class>/<image> with val/ and test/ where you have them")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", type=Path,
                        help="the run's folder (created if needed): a new or empty one, or "
                             "that of an earlier run to resume it")
    parser.add_argument("--base", choices=["mobilenet", "vgg16"], default="mobilenet",
                        help="the pretrained base: mobilenet = MobileNet (alpha=0.25), small, "
                             "fine on a CPU; vgg16 = VGG16, the article's, for a GPU "
                             "(default: mobilenet)")
    parser.add_argument("--weights", choices=["imagenet", "none"], default="imagenet",
                        help="the base's starting weights: imagenet (downloaded once into "
                             "the Keras cache) or none (random: no transfer, for comparison) "
                             "(default: imagenet)")
    parser.add_argument("--image-size", type=_image_size, metavar="SIZE",
                        help="the size every image is resized to, a side (96) or HEIGHTxWIDTH; "
                             f"at least 32 (default: {tiny.image_size[0]} for mobilenet, "
                             f"{full.image_size[0]} for vgg16)")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help=f"images per batch (default: {tiny.batch_size})")
    parser.add_argument("--stage1-epochs", type=int, metavar="N",
                        help="epochs of stage 1, the head trained on the frozen base "
                             f"(default: {mobilenet.stage1_epochs} for mobilenet, "
                             f"{vgg16.stage1_epochs} for vgg16)")
    parser.add_argument("--stage2-epochs", type=int, metavar="N",
                        help="epochs of stage 2, fine-tuning the base's top block with the "
                             f"head; 0 skips it (default: {mobilenet.stage2_epochs} for "
                             f"mobilenet, {vgg16.stage2_epochs} for vgg16)")
    parser.add_argument("--learning-rate", type=float, metavar="LR",
                        help=f"Adam's learning rate in stage 1 (default: {LEARNING_RATE:g}, "
                             "the article's)")
    parser.add_argument("--fine-tune-learning-rate", type=float, metavar="LR",
                        help="Adam's learning rate in stage 2 (default: a tenth of "
                             f"--learning-rate, {LEARNING_RATE / FINE_TUNE_FACTOR:g})")
    parser.add_argument("--fine-tune-blocks", metavar="BLOCKS",
                        help="the blocks of the base that stage 2 unfreezes, comma-separated; "
                             "BatchNormalization layers stay frozen (default: the top block, "
                             f"{','.join(mobilenet.fine_tune_blocks)} for mobilenet, "
                             f"{','.join(vgg16.fine_tune_blocks)} for vgg16)")
    parser.add_argument("--hidden-units", type=int, default=HIDDEN_UNITS, metavar="N",
                        help="units of the head's hidden layer, 0 for none (default: "
                             f"{HIDDEN_UNITS}, the article's head: Flatten, Dense, softmax)")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="train on the images as they are (default: augmented with the "
                             "article's settings: rotation, shift, shear, zoom, flip)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the split, the shuffling, the augmentation and the new "
                             "weights; the same seed repeats a run on the same machine "
                             "(default: 0)")
    parser.add_argument("--val-fraction", type=float, default=0.15, metavar="F",
                        help="the share of each class held out for validation when the folder "
                             "has no val/ folder (default: 0.15)")
    parser.add_argument("--test-fraction", type=float, default=0.15, metavar="F",
                        help="the share of each class held out for the final test when the "
                             "folder has no test/ folder (default: 0.15)")
    parser.add_argument("--skip-non-images", action="store_true",
                        help="leave out files that are not images (listed in the report) "
                             "instead of stopping (default: stop and list them)")
    parser.add_argument("--min-side", type=int, default=8, metavar="PX",
                        help="the smallest image side accepted, in pixels; smaller images "
                             "are listed as problems (default: 8)")
    parser.add_argument("--no-cache", dest="cache", action="store_false",
                        help="decode the images again every epoch instead of keeping them in "
                             "memory, for folders larger than memory (default: keep them)")
    parser.add_argument("--stop-after", type=int, choices=[1], metavar="1",
                        help="stop after stage 1; run the same command without it to resume "
                             "from there (default: run both stages)")
    parser.add_argument("--restart", action="store_true",
                        help="delete the files of an earlier run in RUN_DIR and start over "
                             "(default: resume it, which needs the same settings)")
    return parser


def _program_name() -> str:
    """`tl-train` when run by that name (installed), else `python -m tlhelpers.train`."""
    return "tl-train" if Path(sys.argv[0]).name == "tl-train" else "python -m tlhelpers.train"


def main(argv: Sequence[str] | None = None) -> int:
    """The command `python -m tlhelpers.train` (and `tl-train`); `--help` explains it.

    Args:
        argv: the arguments (default: the command line's).

    Returns:
        The exit status: 0 when the run finished (or stopped where asked), 1 on a problem
        with the input (the message says which and how to fix it; no traceback), 130 when
        interrupted (finished stages are kept).
    """
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

    warnings.formatwarning = format_warning
    blocks = None if args.fine_tune_blocks is None else [
        b.strip() for b in args.fine_tune_blocks.split(",") if b.strip()]
    settings = {key: value for key, value in {
        "image_size": args.image_size, "batch_size": args.batch_size,
        "stage1_epochs": args.stage1_epochs, "stage2_epochs": args.stage2_epochs,
        "learning_rate": args.learning_rate,
        "fine_tune_learning_rate": args.fine_tune_learning_rate,
        "fine_tune_blocks": blocks}.items() if value is not None}
    try:
        train_on_folder(args.data_dir, args.out, args.base, stop_after=args.stop_after,
                        restart=args.restart, cache=args.cache, weights=args.weights,
                        hidden_units=args.hidden_units, augment=args.augment, seed=args.seed,
                        val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                        skip_non_images=args.skip_non_images, min_side=args.min_side,
                        **settings)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Finished stages are saved in {args.out}; run the same command "
              "again to resume after the last one.", file=sys.stderr)
        return 130
    except (ValueError, DownloadError, OSError) as err:  # ImageFolderError is a ValueError
        message = str(err)
        for python, option in _OPTIONS_IN_MESSAGES:
            message = message.replace(python, option)
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
