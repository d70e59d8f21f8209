"""One command from a folder of images to a fine-tuned model and a report.

    python -m tlhelpers.train DATA_DIR --out RUN_DIR [--base mobilenet|vgg16] [options]
    tl-train DATA_DIR --out RUN_DIR                      # the same, once installed

or, from a notebook, one call: `train_on_folder(DATA_DIR, RUN_DIR, base="mobilenet")`.

1. It checks the folder (`tlhelpers.folders`): every problem in one report, before
   anything is trained; a folder without `train/`, `val/`, `test/` folders is split here,
   stratified by class and seeded, and the report says so.
2. It trains the recipe of `tlhelpers.recipe` (chapter 3 runs the same code): the head
   on the frozen base until the validation accuracy stops improving, then the top block
   of the base (BatchNormalization kept frozen), kept only if it betters the validation
   accuracy.
3. It evaluates on the test split, which no step has used, and writes `report.html`: what
   the accuracy means (the largest class's baseline, balanced accuracy, imbalance), the
   most confused classes, the images with the highest loss, Grad-CAM heat maps of
   mistakes, labels worth checking, calibration, a "none of these" threshold, and
   whether more images would help; and `MODEL_CARD.md`.

The run's folder is safe for the files around it (`tlhelpers.rundir`): a folder that is
not empty and not an earlier run's is refused, and the command never writes over nor
deletes a file it did not write. Every finished stage is saved, and a stage interrupted
midway resumes at its last finished epoch: run the same command again. `model.keras`
loads with plain Keras, without tlhelpers; `tl-predict` classifies images with it and
`tl-export` exports it (TensorFlow SavedModel, ONNX, LiteRT).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shlex
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlhelpers import calibration, evaluation, experiments
from tlhelpers import recipe as recipes
from tlhelpers.data import DATASETS, dataset_path, load_dataset
from tlhelpers.display import format_warning, quiet_tensorflow
from tlhelpers.downloads import DownloadError
from tlhelpers.folders import index_image_folder
from tlhelpers.report import RunFindings, library_versions, model_card, run_report
from tlhelpers.rundir import (
    CLASS_NAMES_FILE,
    CONFIG_FILE,
    EVALUATION_FILE,
    HISTORY_FILE,
    MODEL_CARD,
    MODEL_FILE,
    REPORT_FILE,
    STAGE1_MODEL,
    RunDirError,
    RunFolder,
    resolved,
)

__all__ = ["REJECT_KNOWN", "RunDirError", "TrainResult", "main", "train_on_folder"]

# The share of validation images (all of known classes) the "none of these" threshold
# rejects: the price paid for catching images of classes the model never saw.
REJECT_KNOWN = 0.05
# How many mistakes get a Grad-CAM heat map in the report, and how many images a grid.
GRADCAM_IMAGES = 6
GRID_IMAGES = 12


@dataclasses.dataclass
class TrainResult:
    """What a run produced.

    Args:
        run_dir: the run's folder.
        recipe: its settings (`tlhelpers.recipe.Recipe`).
        class_names: label `i` is `class_names[i]`.
        stages: the finished stages (`recipe.StageResult`).
        resumed: the stages finished by an earlier run and loaded, not trained, here.
        index: the checked folder: its files and labels per split, classes, formats.
        evaluation: the test results, as in `evaluation.json` (`None` when the run
            stopped after stage 1).
        report: the report's path (`None` when the run stopped after stage 1, or the
            report could not be written).
    """

    run_dir: Path
    recipe: object
    class_names: list[str]
    stages: list
    resumed: list[int]
    index: object
    evaluation: dict | None = None
    report: Path | None = None

    @property
    def model_path(self) -> Path | None:
        """The final model (`model.keras`), or `None` before it exists."""
        path = self.run_dir / MODEL_FILE
        return path if path.is_file() else None

    @property
    def test_accuracy(self) -> float | None:
        """The final model's accuracy on the test split (`None` before it is evaluated)."""
        return None if self.evaluation is None else self.evaluation["accuracy"]


def _printer(verbose: bool):
    """`print`, or a function that prints nothing."""
    return print if verbose else (lambda *args, **kwargs: None)


def _epochs(count: int) -> str:
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def _fingerprint(index) -> str:
    """A hash of which file is in which split with which label: what stage 1 trained on."""
    content = {split: [[str(path.relative_to(index.root)), int(label)]
                       for path, label in zip(index.files[split], index.labels[split],
                                              strict=True)]
               for split in index.files}
    content["class_names"] = index.class_names
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _epoch_log(folder: RunFolder, stage: int):
    """A Keras callback that records each finished epoch's metrics in the run's folder
    (`stage<N>-epochs.json`), so that a stage resumed after an interruption still has the
    history of every epoch."""
    import keras  # deferred: --help stays instant

    name = f"stage{stage}-epochs.json"

    class EpochLog(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = {int(k): v for k, v in folder.read_json(name).items()} \
                if folder.owns(name) and (folder / name).is_file() else {}

        def on_epoch_end(self, epoch, logs=None):
            self.epochs[epoch] = {k: float(v) for k, v in (logs or {}).items()
                                  if k != "learning_rate"}
            folder.write_json(name, {str(k): v for k, v in sorted(self.epochs.items())})

        def history(self, first: int) -> dict[str, list[float]]:
            epochs = [self.epochs[e] for e in sorted(self.epochs) if e >= first]
            return {key: [e[key] for e in epochs] for key in epochs[0]} if epochs else {}

    return name, EpochLog()


def _resumed_epoch(backup: Path) -> int | None:
    """The epoch an interrupted stage had finished, from Keras' `BackupAndRestore` files."""
    metadata = backup / "training_metadata.json"
    try:
        return int(json.loads(metadata.read_text())["epoch"]) or None  # epochs finished
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _run_stage(stage: int, folder: RunFolder, say, train, **kwargs):
    """Runs `recipe.stage1` or `stage2` with a backup folder (resume within the stage) and
    the per-epoch log; returns the stage's result with the history of every epoch."""
    backup = folder.folder(f"backup-stage{stage}")
    finished = _resumed_epoch(backup)
    if finished:
        say(f"Stage {stage} was interrupted in an earlier run after epoch {finished}: "
            "resuming from there.")
    log_name, log = _epoch_log(folder, stage)
    result = train(backup_dir=backup, callbacks=[log, *kwargs.pop("callbacks", [])], **kwargs)
    first = 0 if stage == 1 else kwargs["after"].epochs_run
    full = log.history(first)
    if full and len(full.get("loss", [])) > len(result.history.get("loss", [])):
        result.history = full
        result.epochs_run = len(full["loss"])
    folder.remove(f"backup-stage{stage}")
    folder.remove(log_name)
    return result


def train_on_folder(data_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str],
                    base: str = "mobilenet", *, stop_after: int | None = None,
                    restart: bool = False, cache: bool = True, verbose: bool = True,
                    callbacks: Sequence | None = None, **settings) -> TrainResult:
    """Trains the recipe of `tlhelpers.recipe` on an image folder, with a report.

    Args:
        data_dir: the image folder: `<class>/<image>` (split here), or
            `train/<class>/<image>` with `val/` and `test/` where you have them; or the
            name of a data set the book knows (`"fashion-mnist-tiny"`).
        run_dir: the run's folder: new, empty, or one of an earlier run (to resume it).
        base: `"mobilenet"` (default) or `"vgg16"`.
        stop_after: `1` stops after stage 1 (resume later by calling again without it);
            `None` (default) runs both stages.
        restart: delete the files an earlier run wrote in `run_dir` (and nothing else) and
            start over (default False: resume it, if its settings are these).
        cache: keep the decoded images in memory (default True; False decodes them every
            epoch, for folders larger than memory).
        verbose: print the folder's report and one line per epoch (default True).
        callbacks: more Keras callbacks, for both stages (default none).
        **settings: the recipe's settings, see `tlhelpers.recipe.make_recipe`
            (`image_size`, `max_epochs`, `augment`, `class_weight`, `seed`, ...).

    Returns:
        A `TrainResult`.

    Raises:
        tlhelpers.folders.ImageFolderError: listing every problem of the folder.
        RunDirError: `run_dir` holds someone's files, a run with other settings, or one of
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

    rec = recipes.make_recipe(data_dir, base, **settings)
    say = _printer(verbose)
    # read through the path as given (the recipe keeps it resolved): messages and the
    # run's file lists name the folder as the user named it
    root = (dataset_path(rec.data_dir) if rec.data_dir in DATASETS
            else Path(data_dir).expanduser())
    if resolved(run_dir).is_relative_to(resolved(root)):
        raise RunDirError(f"RUN_DIR {run_dir} is inside the image folder {root}: its files "
                          "would be read as images next time. Put the run elsewhere.")
    folder = RunFolder.open(run_dir)
    done: list = []
    if folder.is_run():
        try:
            earlier = recipes.Recipe.from_json(folder.read_json(CONFIG_FILE))
        except (ValueError, TypeError) as err:
            if not restart:
                raise RunDirError(
                    f"{folder / CONFIG_FILE} holds other settings than this version of the "
                    f"command writes ({err}). Start over with --restart (it deletes only the "
                    "files the earlier run wrote), or choose a new RUN_DIR.") from None
            earlier = None
        if restart:
            removed = folder.clear()
            say(f"--restart: deleted the earlier run's files in {folder.path}: "
                f"{', '.join(removed) or 'none'} (and nothing else).")
        elif earlier is not None and earlier.differences(rec):
            raise RunDirError(
                f"RUN_DIR {folder.path} holds a run with other settings (earlier -> now):\n  "
                + "\n  ".join(earlier.differences(rec))
                + "\nRun with the earlier settings to resume it, choose a new RUN_DIR, or "
                "start this one over with --restart, which deletes the files the earlier run "
                "wrote (and nothing else).")
        elif folder.owns(HISTORY_FILE) and (folder / HISTORY_FILE).is_file():
            done = [recipes.StageResult(**s) for s in folder.read_json(HISTORY_FILE)["stages"]]

    say(f"Checking the image folder {root} ...")
    # seeded first: a tf.data shuffle's order depends on TensorFlow's global seed at the
    # time the pipeline is made, not only on its own seed
    recipes.seeded(rec, 1)
    image_data = load_dataset(root, rec.image_size, rec.batch_size, seed=rec.seed,
                              verbose=verbose, skip_non_images=rec.skip_non_images,
                              min_side=rec.min_side, val_fraction=rec.val_fraction,
                              test_fraction=rec.test_fraction, cache=cache)
    index, class_names = image_data.index, image_data.class_names
    carved = [s for s, source in index.split_sources.items() if source.startswith("carved")]
    split_note = ""
    if carved:
        split_note = (f"No {' or '.join(f'{s}/' for s in carved)} folder: split here, "
                      f"stratified by class, seed {rec.seed}.")
        say(split_note)
    fingerprint = _fingerprint(index)
    if done and folder.read_json(HISTORY_FILE).get("data_fingerprint") != fingerprint:
        raise RunDirError(
            f"The image folder {root} has changed since stage 1 of the run in {folder.path} "
            "(other files or classes): resuming would evaluate on images stage 1 may have "
            "trained on. Start over with --restart, or choose a new RUN_DIR.")
    folder.write_json(CONFIG_FILE, rec.to_json())
    folder.write_json(CLASS_NAMES_FILE, class_names)

    from tlhelpers import augment  # deferred: --help stays instant

    train_ds = image_data.train_ds
    layers = recipes.augmentation(rec.augment, rec.seed)
    if layers is not None:
        train_ds = augment.augment_batches(train_ds, layers)
    weights = recipes.class_weights(index.labels["train"], len(class_names), rec.class_weight)
    say(f"Base: {_base_title(rec)}, "
        + ("ImageNet weights" if rec.weights == "imagenet" else "random weights (no transfer)")
        + f"; images {rec.image_size[0]} x {rec.image_size[1]}, batches of {rec.batch_size}, "
        f"augmentation {rec.augment}, class weights {rec.class_weight}.")

    def save_history(stages):
        folder.write_json(HISTORY_FILE, {"data_fingerprint": fingerprint,
                                         "stages": [s.to_json() for s in stages]})

    stages = [s for s in done if s.stage == 1]
    resumed = [1] if stages else []
    common = dict(class_weight=weights, verbose=verbose, callbacks=list(callbacks or []))
    if stages:
        model = keras.models.load_model(folder / STAGE1_MODEL, compile=False, safe_mode=True)
        say(f"Stage 1 finished in an earlier run ({_epochs(stages[0].epochs_run)}): loaded "
            f"{folder / STAGE1_MODEL}.")
    else:
        recipes.seeded(rec, 1)
        model, _ = recipes.build_model(rec, len(class_names))
        say(f"Stage 1: the head on the frozen base, Adam at {rec.learning_rate:g}, up to "
            f"{_epochs(rec.max_epochs)} (until the {rec.monitor.replace('val_', 'validation ')} "
            "stops improving)")
        stages.append(_run_stage(1, folder, say, lambda **kw: recipes.stage1(
            model, train_ds, image_data.val_ds, rec, **kw), **common))
        folder.save_model(STAGE1_MODEL, model)
        save_history(stages)
        say(f"Stage 1 done: {_epochs(stages[0].epochs_run)}, best epoch "
            f"{stages[0].best_epoch}; saved {folder / STAGE1_MODEL}")
    result = TrainResult(folder.path, rec, class_names, stages, resumed, index)
    if stop_after == 1:
        say("Stopped after stage 1, as asked. Run the same command without --stop-after "
            "to go on from there.")
        return result

    earlier = [s for s in done if s.stage == 2]
    if earlier and folder.owns(MODEL_FILE) and (folder / MODEL_FILE).is_file():
        stages.append(earlier[0])
        resumed.append(2)
        model = keras.models.load_model(folder / MODEL_FILE, compile=False, safe_mode=True)
        say(f"Stage 2 finished in an earlier run: loaded {folder / MODEL_FILE}.")
    elif rec.fine_tune_epochs:
        recipes.seeded(rec, 2)
        recipes.compile_for_stage(model, rec.fine_tune_learning_rate)  # a loaded model
        say(f"Stage 2: fine-tuning {', '.join(rec.fine_tune_blocks)} of the base "
            f"(BatchNormalization stays frozen), Adam at {rec.fine_tune_learning_rate:g}, up "
            f"to {_epochs(rec.fine_tune_epochs)}")
        stage = _run_stage(2, folder, say, lambda **kw: recipes.stage2(
            model, train_ds, image_data.val_ds, rec, **kw), after=stages[0], **common)
        stages.append(stage)
        folder.save_model(MODEL_FILE, model)
        save_history(stages)
        say(f"Stage 2 done: {_epochs(stage.epochs_run)}; "
            + ("kept" if stage.kept else "it did not better the validation score, so stage 1's "
                                         "model is kept")
            + f"; saved {folder / MODEL_FILE}")
    else:
        folder.save_model(MODEL_FILE, model)

    say(f"Evaluating on the test split ({len(index.files['test'])} images) ...")
    with quiet_tensorflow():
        findings = _analyze(model, image_data, rec, result, split_note, verbose)
    result.evaluation = _evaluation_json(findings)
    folder.write_json(EVALUATION_FILE, result.evaluation)
    summary = findings.summary
    say(f"Test accuracy: {summary.accuracy:.3f} on {len(findings.y_true)} images; balanced "
        f"accuracy {summary.balanced_accuracy:.3f}; the largest class alone: "
        f"{summary.majority_baseline:.3f}")
    for warning in summary.warnings():
        say(f"warning: {warning}")
    try:
        result.report = folder.write_text(REPORT_FILE, run_report(findings).to_html())
        folder.write_text(MODEL_CARD, model_card(findings))
    except Exception as err:  # the model and results are saved: say how to redo the rest
        raise ReportError(
            f"The run's model and results are saved in {folder.path}, but the report could "
            f"not be written: {type(err).__name__}: {err}. Run the same command again: it "
            "loads the finished stages and only evaluates and writes the report.") from err
    say(f"Report: {result.report}")
    # quoted as a shell needs it: a folder "run $HOME" must not expand when pasted
    say(f"Classify images with it: tl-predict {shlex.quote(str(folder.path))} IMAGE...  "
        "(python -m "
        "tlhelpers.predict)")
    return result


class ReportError(RuntimeError):
    """The report could not be written; the trained model and the results are saved."""


def _files() -> list[list[str]]:
    return [
        ["tl-run.json", "the marker: what this command wrote here (--restart deletes these "
                        "and nothing else)"],
        [CONFIG_FILE, "the settings (a second run resumes only with the same ones)"],
        [CLASS_NAMES_FILE, "the class names: output i of the model is class i"],
        [STAGE1_MODEL, "the model after stage 1 (where an interrupted run resumes)"],
        [MODEL_FILE, "the final model (standard Keras layers: loads without tlhelpers)"],
        [HISTORY_FILE, "loss and accuracy per epoch, times, per stage"],
        [EVALUATION_FILE, "the test results; the rejection threshold predict uses"],
        [REPORT_FILE, "this page"],
        [MODEL_CARD, "a short model card: data, classes, recipe, results, limits"]]


def _analyze(model, image_data, rec, result: TrainResult, split_note: str,
             verbose: bool = True):
    """Everything the report shows: test results, mistakes, calibration, the threshold, a
    learning curve."""
    import keras  # deferred: --help stays instant
    import tensorflow as tf  # deferred: likewise

    from tlhelpers import features, gradcam, training  # deferred: likewise

    index, names = image_data.index, image_data.class_names
    test_images, y_true, _, probs = training.predict_classes(model, image_data.test_ds,
                                                             return_probs=True)
    _, y_val, _, val_probs = training.predict_classes(model, image_data.val_ds,
                                                      return_probs=True)
    train_images, y_train, _, train_probs = training.predict_classes(
        model, image_data.train_ds, return_probs=True)
    # the training pipeline reshuffles on every pass: put its images in an order of their
    # own (label, then content), so that the seeded draws below give the same report on
    # every evaluation of the same model
    digests = [hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
               for image in train_images]
    order = sorted(range(len(y_train)), key=lambda i: (int(y_train[i]), digests[i]))
    train_images, y_train, train_probs = (train_images[order], y_train[order],
                                          train_probs[order])
    summary = evaluation.summarize(y_true, probs, names, index.labels["train"])
    wrong = np.flatnonzero(probs.argmax(axis=1) != y_true)
    explained = wrong[np.argsort(-probs[wrong].max(axis=1), kind="stable")][:GRADCAM_IMAGES]
    maps = (gradcam.heatmaps(model, test_images[explained]) if len(explained)
            else np.zeros((0,) + test_images.shape[1:3]))
    contradicted = evaluation.contradicted_labels(y_train, train_probs, top=GRID_IMAGES)
    threshold = calibration.rejection_threshold(val_probs, REJECT_KNOWN)
    # the shares it rejects, measured: both splits hold images of known classes only
    rejected_val, rejected_test = calibration.rejection_rates(val_probs, probs, threshold)
    pooled = keras.Sequential([model.get_layer("preprocess"), recipes.base_of(model),
                               keras.layers.GlobalAveragePooling2D()])
    h_train, _ = features.extract_features(pooled, train_images, progress=verbose,
                                           desc="features")
    h_test, _ = features.extract_features(pooled, test_images, progress=verbose,
                                          desc="features")
    curve = experiments.learning_curve(h_train, y_train, h_test, y_true,
                                       num_classes=len(names))

    return RunFindings(
        # the folder as the user named it, not its resolved path on this machine
        title=index.root.name, recipe={**rec.to_json(), "data_dir": str(index.root)},
        base_title=_base_title(rec), class_names=names, folder_report=index.report(),
        split_note=split_note, stages=result.stages, resumed=result.resumed,
        summary=summary, confused=evaluation.confused_pairs(summary.confusion, names),
        test_images=test_images, y_true=y_true, probs=probs,
        top_losses=evaluation.top_losses(y_true, probs, GRID_IMAGES),
        gradcam_indices=explained, gradcam_maps=maps,
        feature_grid=tuple(recipes.base_of(model).output.shape[1:3]),
        contradicted_images=train_images[contradicted],
        contradicted_labels=y_train[contradicted],
        contradicted_probs=train_probs[contradicted],
        reliability=calibration.reliability(y_true, probs), threshold=threshold,
        reject_known=rejected_val, rejected_test=rejected_test,
        learning_curve=curve, versions=library_versions(),
        machine={"machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} "
                            "CPU cores",
                 "GPUs": str(len(tf.config.list_physical_devices("GPU")) or "none")},
        files=_files(), run_dir=str(result.run_dir))


def _base_title(rec) -> str:
    from tlhelpers.models import BASES  # deferred: --help stays instant

    return BASES[rec.base].title


def _evaluation_json(f) -> dict:
    """`evaluation.json`: the summary, the threshold, calibration, the learning curve."""
    return {**f.summary.to_json(), "test_images": len(f.y_true),
            "rejection_threshold": f.threshold, "reject_known": f.reject_known,
            "rejected_test": f.rejected_test, "ece": f.reliability.ece,
            "learning_curve": {str(n): {"mean": s.mean, "low": s.low, "high": s.high}
                               for n, s in f.learning_curve.items()}}


# --- The command line ------------------------------------------------------------------

# The helpers' error messages name their Python arguments; the command's options instead.
_OPTIONS_IN_MESSAGES = (("pass `skip_non_images=True`", "pass --skip-non-images"),
                        ("pass a smaller `min_side`", "pass a smaller --min-side"),
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
    r = recipes
    parser = argparse.ArgumentParser(
        prog=_program_name(), description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  tl-train ~/photos/shoes --out runs/shoes\n"
               "  tl-train ~/photos/shoes --out runs/shoes-vgg --base vgg16\n"
               "  tl-train ~/photos/shoes --out runs/quick --image-size 64 --max-epochs 3 "
               "--fine-tune-epochs 1")
    parser.add_argument("data_dir", metavar="DATA_DIR",
                        help="the image folder: one sub-folder per class (<class>/<image>), "
                             "split here into train, validation and test; or already split, "
                             "train/<class>/<image> with val/ and test/ where you have them")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", type=Path,
                        help="the run's folder (created if needed): a new or empty one, or "
                             "that of an earlier run to resume it; a folder holding other "
                             "files is refused")
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
                             "at least 32 (default: 144 for mobilenet, 224 for vgg16)")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help="images per batch (default: 32)")
    parser.add_argument("--max-epochs", type=int, default=r.MAX_EPOCHS, metavar="N",
                        help="stage 1's budget: at most N epochs of the head on the frozen "
                             "base; it stops sooner once the validation accuracy stops "
                             "improving "
                             f"(default: {r.MAX_EPOCHS})")
    parser.add_argument("--min-epochs", type=int, default=r.MIN_EPOCHS, metavar="N",
                        help="stage 1 trains at least N epochs before early stopping looks "
                             "at the validation accuracy, then keeps the best of the later "
                             f"epochs (default: {r.MIN_EPOCHS}, as long as chapter 1's "
                             "plain head trains)")
    parser.add_argument("--fine-tune-epochs", type=int, default=r.FINE_TUNE_EPOCHS,
                        metavar="N",
                        help="stage 2's budget: at most N epochs fine-tuning the base's top "
                             "block with the head; 0 skips stage 2 "
                             f"(default: {r.FINE_TUNE_EPOCHS})")
    parser.add_argument("--patience", type=int, default=r.PATIENCE, metavar="N",
                        help="epochs without a better validation accuracy before a stage stops "
                             f"(its best epoch's weights are kept) (default: {r.PATIENCE})")
    parser.add_argument("--learning-rate", type=float, default=r.HEAD_LEARNING_RATE,
                        metavar="LR",
                        help="Adam's learning rate in stage 1 (default: "
                             f"{r.HEAD_LEARNING_RATE:g})")
    parser.add_argument("--fine-tune-learning-rate", type=float,
                        default=r.FINE_TUNE_LEARNING_RATE, metavar="LR",
                        help="Adam's learning rate in stage 2 (default: "
                             f"{r.FINE_TUNE_LEARNING_RATE:g})")
    parser.add_argument("--fine-tune-blocks", metavar="BLOCKS",
                        help="the blocks of the base that stage 2 unfreezes, comma-separated; "
                             "BatchNormalization layers stay frozen (default: the top block, "
                             "block13 for mobilenet, block5 for vgg16)")
    parser.add_argument("--hidden-units", type=int, default=r.HIDDEN_UNITS, metavar="N",
                        help="units of the head's hidden layer, 0 for none (default: "
                             f"{r.HIDDEN_UNITS}: Flatten, Dense({r.HIDDEN_UNITS}), softmax)")
    parser.add_argument("--dropout", type=float, default=r.DROPOUT, metavar="RATE",
                        help="dropout before the head's output layer, in [0, 1) "
                             f"(default: {r.DROPOUT:g}, chapter 1's head; 0.5 made no clear "
                             "difference in the book's benchmark, though without it the "
                             "head can fit its training images almost perfectly)")
    parser.add_argument("--augment", choices=list(r.AUGMENTATIONS), default="none",
                        help="augmentation of the training images: none; light (shifts, zooms "
                             "and rotations of up to 10%%, 10%% and 18 degrees: safe for "
                             "digits and text); light+flip (also mirrored: photos of objects "
                             "only); article (the article's settings) (default: none, which "
                             "the book measured to do better at small sizes)")
    parser.add_argument("--class-weight", choices=["none", "balanced"], default="none",
                        help="balanced: each class weighs as much in the loss however many "
                             "images it has (for imbalanced folders) (default: none)")
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
                        help="delete the files an earlier run wrote in RUN_DIR (and nothing "
                             "else) and start over (default: resume it, which needs the same "
                             "settings)")
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
        interrupted (finished epochs and stages are kept).
    """
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported
    warnings.formatwarning = format_warning
    blocks = None if args.fine_tune_blocks is None else [
        b.strip() for b in args.fine_tune_blocks.split(",") if b.strip()]
    settings = {key: value for key, value in {
        "image_size": args.image_size, "batch_size": args.batch_size,
        "fine_tune_blocks": blocks}.items() if value is not None}
    try:
        train_on_folder(args.data_dir, args.out, args.base, stop_after=args.stop_after,
                        restart=args.restart, cache=args.cache, weights=args.weights,
                        max_epochs=args.max_epochs, min_epochs=args.min_epochs,
                        fine_tune_epochs=args.fine_tune_epochs,
                        patience=args.patience, learning_rate=args.learning_rate,
                        fine_tune_learning_rate=args.fine_tune_learning_rate,
                        hidden_units=args.hidden_units, dropout=args.dropout,
                        augment=args.augment,
                        class_weight=args.class_weight, seed=args.seed,
                        val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                        skip_non_images=args.skip_non_images, min_side=args.min_side,
                        **settings)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Finished epochs and stages are saved in {args.out}; run the "
              "same command again to resume.", file=sys.stderr)
        return 130
    except (ValueError, DownloadError, OSError, ReportError) as err:
        message = str(err)  # ImageFolderError and RunDirError are ValueErrors
        for python, option in _OPTIONS_IN_MESSAGES:
            message = message.replace(python, option)
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
