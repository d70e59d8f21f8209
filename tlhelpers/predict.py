"""Classify image files with a model trained by `tlhelpers.train`.

    python -m tlhelpers.predict RUN_DIR IMAGE [IMAGE ...] [--top K]
    tl-predict RUN_DIR IMAGE...                          # the same, once installed

prints one line per image, its most likely classes with their probabilities:

    photos/new/boot.jpg: ankle_boot 0.93, sneaker 0.05, sandal 0.01

or, when even the most likely class is less probable than the run's rejection
threshold (chosen on its validation split, see the run's report), that the image is
probably none of the classes the model knows:

    photos/new/cat.jpg: none of the classes (top: sandal, 0.31)

The run's folder gives the model (`model.keras`), the class names, the image size and
the threshold.
Each file is read as the training pipelines read images (`tlhelpers.data.load_image`:
TensorFlow's decoder, a bilinear resize), so the model sees what it was trained on. A
file that cannot be read is reported, and the others are still classified.

From Python: `predict_files(RUN_DIR, [IMAGE, ...])`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlhelpers.data import load_image
from tlhelpers.folders import IMAGE_EXTENSIONS
from tlhelpers.rundir import (
    CLASS_NAMES_FILE,
    CONFIG_FILE,
    EVALUATION_FILE,
    MODEL_FILE,
    STAGE1_MODEL,
)

__all__ = ["Prediction", "Run", "load_run", "main", "predict_files"]


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The most likely classes of one image file.

    Args:
        path: the file.
        top: `(class name, probability)` pairs, most likely first.
        threshold: the run's rejection threshold (0: none).
    """

    path: Path
    top: list[tuple[str, float]]
    threshold: float = 0.0

    @property
    def rejected(self) -> bool:
        """Whether even the most likely class is below the threshold: "none of these"."""
        return self.top[0][1] < self.threshold

    def line(self) -> str:
        """`path: class p, class p, ...` (probabilities at two decimals), or
        `path: none of the classes (top: class, p)` below the threshold; where two
        decimals would show `p` as high as the threshold (1.00 below 0.999998, say),
        with the decimals that tell them apart, and the threshold."""
        if self.rejected:
            name, p = self.top[0]
            digits = next((d for d in range(2, 9)
                           if float(f"{p:.{d}f}") < float(f"{self.threshold:.{d}f}")), 9)
            if digits == 2:
                return f"{self.path}: none of the classes (top: {name}, {p:.2f})"
            return (f"{self.path}: none of the classes (top: {name}, {p:.{digits}f}, "
                    f"below the threshold {self.threshold:.{digits}f})")
        return f"{self.path}: " + ", ".join(f"{name} {p:.2f}" for name, p in self.top)


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run, as `predict` uses it.

    Args:
        model: the final model.
        class_names: output `i` is `class_names[i]`.
        image_size: `(height, width)` the images are resized to.
        threshold: the rejection threshold (0 where the run stored none).
    """

    model: object
    class_names: list[str]
    image_size: tuple[int, int]
    threshold: float


def load_run(run_dir: str | os.PathLike[str]) -> Run:
    """Loads the final model of a run, its class names, image size and threshold.

    The model is loaded with plain Keras in safe mode (a model file holding Python code
    is refused); it needs nothing of tlhelpers.

    Args:
        run_dir: the folder `tlhelpers.train` wrote.

    Returns:
        A `Run`.

    Raises:
        FileNotFoundError: when the folder is not a finished run; the message says what
            is missing and what to do.
    """
    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise FileNotFoundError(f"No run folder at {run_dir}. Give the RUN_DIR that "
                                "`python -m tlhelpers.train DATA_DIR --out RUN_DIR` wrote.")
    if not (run_dir / MODEL_FILE).is_file():
        if (run_dir / STAGE1_MODEL).is_file():
            raise FileNotFoundError(
                f"The run in {run_dir} has not finished: it holds {STAGE1_MODEL} but no "
                f"{MODEL_FILE}. Run the train command again with the same options to finish "
                "it (it resumes after stage 1).")
        raise FileNotFoundError(f"{run_dir} holds no {MODEL_FILE}: it is not the folder of a "
                                "finished run of `python -m tlhelpers.train`.")
    import keras  # deferred: --help and argument errors stay instant

    config = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    class_names = json.loads((run_dir / CLASS_NAMES_FILE).read_text(encoding="utf-8"))
    evaluation = run_dir / EVALUATION_FILE
    threshold = (json.loads(evaluation.read_text(encoding="utf-8"))
                 .get("rejection_threshold", 0.0) if evaluation.is_file() else 0.0)
    # safe_mode: a .keras file that holds Python code (a Lambda layer) is refused
    model = keras.models.load_model(run_dir / MODEL_FILE, compile=False, safe_mode=True)
    return Run(model, class_names, tuple(config["image_size"]), float(threshold))


def _read_images(paths: Sequence[str | os.PathLike[str]], image_size: tuple[int, int]
                 ) -> tuple[list[tuple[Path, object]], list[str]]:
    """Reads each file as the training pipelines do; returns the images read, by path,
    and one message per file that could not be read."""
    import tensorflow as tf  # deferred: --help and argument errors stay instant

    images, problems = [], []
    for path in map(Path, paths):
        if path.is_dir():
            problems.append(f"{path}: a folder; pass image files (e.g. {path}/*.jpg)")
            continue
        try:
            images.append((path, load_image(path, image_size)))
        except FileNotFoundError:
            problems.append(f"{path}: no such file")
        except (tf.errors.OpError, ValueError) as err:
            # TensorFlow's message, less its op and device names
            complaint = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", str(getattr(err, "message", err)))
            complaint = " ".join(complaint.split()) or type(err).__name__
            problems.append(f"{path}: cannot be read as an image: {complaint} (readable: "
                            f"{', '.join(IMAGE_EXTENSIONS)})")
    return images, problems


def _top(model, images, class_names: list[str], top: int) -> list[list[tuple[str, float]]]:
    probs = np.asarray(model.predict(np.stack(images), batch_size=32, verbose=0))
    return [[(class_names[i], float(p[i])) for i in np.argsort(-p, kind="stable")[:top]]
            for p in probs]


def predict_files(run_dir: str | os.PathLike[str], paths: Sequence[str | os.PathLike[str]],
                  top: int = 3) -> list[Prediction]:
    """Classifies image files with the final model of a run.

    Args:
        run_dir: the folder `tlhelpers.train` wrote.
        paths: image files.
        top: how many classes to return per file, most likely first (default 3).

    Returns:
        One `Prediction` per file, in order.

    Raises:
        FileNotFoundError: when `run_dir` is not a finished run.
        ValueError: when a file cannot be read as an image (every such file is named),
            or `top` is not positive.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"`top` must be a positive integer. Received: `top={top!r}`.")
    run = load_run(run_dir)
    images, problems = _read_images(paths, run.image_size)
    if problems:
        raise ValueError("These files cannot be classified:\n  " + "\n  ".join(problems))
    if not images:
        return []
    tops = _top(run.model, [image for _, image in images], run.class_names, top)
    return [Prediction(path, best, run.threshold)
            for (path, _), best in zip(images, tops, strict=True)]


def _program_name() -> str:
    """`tl-predict` when run by that name (installed), else `python -m tlhelpers.predict`."""
    return "tl-predict" if Path(sys.argv[0]).name == "tl-predict" else "python -m tlhelpers.predict"


def main(argv: Sequence[str] | None = None) -> int:
    """The command `python -m tlhelpers.predict` (and `tl-predict`); `--help` explains it.

    Args:
        argv: the arguments (default: the command line's).

    Returns:
        The exit status: 0 when every file was classified, 1 when the run folder is not
        usable or a file could not be read (the others are still classified).
    """
    parser = argparse.ArgumentParser(
        prog=_program_name(), description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="the folder of a finished run of `python -m tlhelpers.train`")
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="image files to classify (PNG, JPEG, BMP, GIF, WEBP)")
    parser.add_argument("--top", type=int, default=3, metavar="K",
                        help="how many classes to print per image, most likely first "
                             "(default: 3)")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error(f"--top must be at least 1; received {args.top}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported
    try:
        run = load_run(args.run_dir)
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    images, problems = _read_images(args.images, run.image_size)
    if images:
        tops = _top(run.model, [image for _, image in images], run.class_names,
                    min(args.top, len(run.class_names)))
        for (path, _), best in zip(images, tops, strict=True):
            print(Prediction(path, best, run.threshold).line())
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
