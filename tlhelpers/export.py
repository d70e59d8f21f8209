"""Export a run's model out of Python and Keras, and check that the export agrees.

    python -m tlhelpers.export RUN_DIR --format onnx          # also saved_model, litert
    tl-export RUN_DIR --format litert                          # the same, once installed

Keras 3's `model.export` writes a model in formats that run without Keras; the
command writes three of them (Keras also writes OpenVINO):

| format | file in the run's folder | runs in |
|---|---|---|
| `saved_model` | `saved_model/` | TensorFlow, TensorFlow Serving |
| `onnx` | `model.onnx` | ONNX Runtime (servers, browsers, C++, C#, Java, ...) |
| `litert` | `model.tflite` | LiteRT (formerly TensorFlow Lite): phones, microcontrollers |

Each takes raw RGB pixels in [0, 255], `float32`, of shape `(batch, height, width, 3)`
at the run's image size, and gives the class probabilities (output `i` is class `i` of
`class_names.json`). After writing a file the command runs it in its own runtime on a
few images and compares the probabilities with Keras' (`check`): an export that does not
agree is an error, not a file. ONNX and LiteRT need the package's `export` extra
(`pip install 'tlhelpers[export]'`: tf2onnx, onnx, onnxruntime, ai-edge-litert).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlhelpers.data import DATASETS, dataset_path, load_image
from tlhelpers.display import quiet_tensorflow
from tlhelpers.folders import index_image_folder
from tlhelpers.rundir import CONFIG_FILE, MODEL_FILE, RunDirError, RunFolder

__all__ = ["FORMATS", "Check", "check", "export_model", "main", "run_export"]

# format -> (Keras' name for it, the file or folder it becomes, what it needs installed)
FORMATS = {
    "saved_model": ("tf_saved_model", "saved_model", ()),
    "onnx": ("onnx", "model.onnx", ("tf2onnx", "onnx", "onnxruntime")),
    "litert": ("litert", "model.tflite", ("ai_edge_litert",)),
}
# The largest difference of a probability allowed between Keras and an export: float32
# arithmetic in another order (and another runtime's kernels) moves the last digits.
TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class Check:
    """How an exported model agrees with Keras on some images.

    Args:
        images: how many images were compared.
        max_difference: the largest absolute difference of a probability.
        same_class: the share of images given the same top class.
    """

    images: int
    max_difference: float
    same_class: float

    @property
    def agrees(self) -> bool:
        """Within `TOLERANCE`, and the same top class for every image."""
        return self.max_difference <= TOLERANCE and self.same_class == 1.0


def _need(fmt: str) -> None:
    missing = [name for name in FORMATS[fmt][2] if importlib.util.find_spec(name) is None]
    if missing:
        raise ModuleNotFoundError(
            f"Exporting to {fmt} needs {', '.join(missing)} (the package's `export` extra). "
            "Install it: `pip install 'tlhelpers[export]'` (in this repository: "
            "`pip install -e '.[export]'`).")


def run_export(path: str | os.PathLike[str], fmt: str, images: np.ndarray) -> np.ndarray:
    """Runs an exported model in its own runtime: TensorFlow (SavedModel), ONNX Runtime
    (ONNX) or LiteRT's interpreter (LiteRT); no Keras involved.

    Args:
        path: the exported file or folder.
        fmt: `"saved_model"`, `"onnx"` or `"litert"`.
        images: `float32` images `(n, height, width, 3)`, pixels in [0, 255].

    Returns:
        The probabilities, `(n, classes)`.
    """
    _need(fmt)
    images = np.ascontiguousarray(images, dtype=np.float32)
    if fmt == "saved_model":
        import tensorflow as tf  # deferred: each runtime only when its format is asked for

        loaded = tf.saved_model.load(str(path))  # kept: its variables live as long as it
        return np.asarray(loaded.serve(images))
    if fmt == "onnx":
        import onnxruntime  # deferred: likewise

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return np.concatenate([session.run(None, {name: images[i:i + 1]})[0]
                               for i in range(len(images))])
    from ai_edge_litert.interpreter import Interpreter  # deferred: likewise

    interpreter = Interpreter(model_path=str(path))
    (given,), (taken,) = interpreter.get_input_details(), interpreter.get_output_details()
    outputs = []
    for image in images:  # the model was converted for a batch of one
        interpreter.resize_tensor_input(given["index"], [1, *image.shape])
        interpreter.allocate_tensors()
        interpreter.set_tensor(given["index"], image[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(taken["index"]))
    return np.concatenate(outputs)


def check(path: str | os.PathLike[str], fmt: str, model, images: np.ndarray) -> Check:
    """Compares an exported model with the Keras model on the same images.

    Args:
        path: the exported file or folder.
        fmt: its format.
        model: the Keras model it was exported from.
        images: images to compare on, pixels in [0, 255].

    Returns:
        A `Check`.
    """
    expected = np.asarray(model.predict(np.asarray(images, np.float32), verbose=0))
    got = run_export(path, fmt, images)
    return Check(len(images), float(np.max(np.abs(got - expected))),
                 float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1))))


def export_model(model, fmt: str, target: str | os.PathLike[str]) -> Path:
    """Exports a Keras model with `model.export`, atomically: into a temporary place
    beside `target`, then renamed.

    Args:
        model: the Keras model.
        fmt: `"saved_model"`, `"onnx"` or `"litert"`.
        target: the file (`.onnx`, `.tflite`) or folder (SavedModel) to write.

    Returns:
        `target`.

    Raises:
        ValueError: for another format.
        ModuleNotFoundError: when the format's packages are missing (naming the extra).
    """
    if fmt not in FORMATS:
        raise ValueError(f"`fmt` must be one of {', '.join(map(repr, FORMATS))}. Received: "
                         f"`fmt={fmt!r}`.")
    _need(fmt)
    # a loaded model has not been called yet; Keras' ONNX export wants it called once
    model(np.zeros((1, *model.input_shape[1:]), dtype="float32"), training=False)
    target = Path(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staged = staging / target.name
        model.export(str(staged), format=FORMATS[fmt][0], verbose=False)
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _sample_images(run_dir: Path, image_size: tuple[int, int],
                   count: int) -> tuple[np.ndarray, str]:
    """Images to check an export on, and what they are: test images of the run, spread
    over its classes, if its image folder can still be read; else random pixels, and
    the description says why (the check is then of the arithmetic only).

    Args:
        run_dir: the folder of a finished run.
        image_size: `(height, width)` of the model's input.
        count: how many images.

    Returns:
        `(images, description)`: a float32 array `(n, height, width, 3)` and a phrase
        for the command's summary line.
    """
    config = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    data_dir = config["data_dir"]
    try:
        root = dataset_path(data_dir) if data_dir in DATASETS else Path(data_dir)
        files = index_image_folder(
            root, seed=config["seed"], val_fraction=config["val_fraction"],
            test_fraction=config["test_fraction"], skip_non_images=config["skip_non_images"],
            min_side=config["min_side"]).files["test"]
        if not files:
            raise ValueError("its test split is empty")
        # spread over the split, whose files are sorted by class: classes other than
        # the first are checked too
        spread = np.unique(np.linspace(0, len(files) - 1, count).round().astype(int))
        files = [files[i] for i in spread]
        images = np.stack([load_image(path, image_size) for path in files])
        return images, f"{len(files)} test images of {data_dir}, spread over its classes"
    except (OSError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        pixels = np.random.default_rng(0).uniform(0, 255, (count, *image_size, 3))
        return pixels.astype("float32"), (
            f"{count} images of random pixels, not of the run's test split: its image "
            f"folder {data_dir} could not be read ({reason}); the check compares the "
            "arithmetic only. Put the folder back where the run found it to check on "
            "real images")


def main(argv: Sequence[str] | None = None) -> int:
    """The command `python -m tlhelpers.export` (and `tl-export`); `--help` explains it.

    Args:
        argv: the arguments (default: the command line's).

    Returns:
        The exit status: 0 when the export was written and agrees with Keras, 1 otherwise
        (the message says why).
    """
    parser = argparse.ArgumentParser(
        prog="tl-export" if Path(sys.argv[0]).name == "tl-export"
        else "python -m tlhelpers.export",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="the folder of a finished run of tl-train")
    parser.add_argument("--format", choices=list(FORMATS), required=True,
                        help="saved_model (TensorFlow), onnx (ONNX Runtime) or litert "
                             "(LiteRT, phones)")
    parser.add_argument("--check-images", type=int, default=16, metavar="N",
                        help="how many of the run's test images the export is checked on "
                             "against Keras (default: 16)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported
    run_dir = Path(args.run_dir).expanduser()
    try:
        if not (run_dir / MODEL_FILE).is_file():
            raise FileNotFoundError(f"{run_dir} holds no {MODEL_FILE}: give the folder of a "
                                    "finished run of tl-train.")
        _need(args.format)
        import keras  # deferred: --help and argument errors stay instant

        folder = RunFolder.open(run_dir)
        model = keras.models.load_model(run_dir / MODEL_FILE, compile=False, safe_mode=True)
        name = FORMATS[args.format][1]
        target = folder.folder(name) if args.format == "saved_model" else folder / name
        if args.format != "saved_model":
            folder.write_bytes(name, b"")  # claims the name: never over someone's file
        size = tuple(json.loads((run_dir / CONFIG_FILE).read_text())["image_size"])
        try:
            with quiet_tensorflow():
                export_model(model, args.format, target)
                images, images_are = _sample_images(run_dir, size, args.check_images)
                result = check(target, args.format, model, images)
        except BaseException:
            if folder.owns(name):  # no empty or half-written export left behind
                folder.remove(name)
            raise
    except (FileNotFoundError, ModuleNotFoundError, RunDirError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Wrote {target}: on {result.images} images it gives the same class as Keras for "
          f"{result.same_class:.0%} of them, probabilities within {result.max_difference:.1e}."
          f" The images: {images_are}.")
    if not result.agrees:
        folder.remove(name)  # an export that does not agree is an error, not a file
        print(f"error: the export does not agree with Keras (allowed: {TOLERANCE:g} and the "
              "same class for every image); it was removed. Please report this.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
