"""Profiles, seeding and cache locations.

A *profile* fixes everything a chapter needs to know about its size: which data set,
which pretrained base, the image size, the batch size and the number of epochs. Every
notebook starts with a `parameters` cell such as `PROFILE = "tiny"` and turns the name
into a frozen `Profile` with `get_profile`.

Used by every chapter.

Tests only: `stand_ins()` reads `$TLHELPERS_STAND_INS`, which lets the `full` profile's
code path run offline on stand-ins (a small archive in place of a downloaded data set,
random weights in place of ImageNet ones); see `StandIns`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import sys
from pathlib import Path

import numpy as np

__all__ = [
    "PROFILES",
    "STAND_INS_VARIABLE",
    "Profile",
    "StandIns",
    "StandInsError",
    "announce_stand_in",
    "cache_dir",
    "get_profile",
    "results_are_real",
    "set_mixed_precision",
    "set_seed",
    "stand_ins",
]


@dataclasses.dataclass(frozen=True)
class Profile:
    """The sizes of one run of a chapter.

    Args:
        name: the profile's name, `"tiny"` or `"full"`.
        dataset: the image data set, a key of `tlhelpers.data.DATASETS`.
        base: the pretrained base, a key of `tlhelpers.models.BASES`.
        image_size: `(height, width)` the images are resized to.
        batch_size: images per batch.
        epochs: epochs of head training.
        learning_rate: learning rate of head training.
        fine_tune_learning_rate: learning rate once top layers of the base are unfrozen.
        description: one line for people: where the profile is meant to run.
    """

    name: str
    dataset: str
    base: str
    image_size: tuple[int, int]
    batch_size: int
    epochs: int
    learning_rate: float
    fine_tune_learning_rate: float
    description: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The model's input shape, `(height, width, 3)`."""
        return (*self.image_size, 3)


PROFILES: dict[str, Profile] = {
    "tiny": Profile(
        name="tiny",
        dataset="fashion-mnist-tiny",
        base="mobilenet_025",
        image_size=(96, 96),
        batch_size=32,
        epochs=8,
        learning_rate=1e-3,
        fine_tune_learning_rate=1e-5,
        description=(
            "CI, laptops and the book build: the bundled Fashion-MNIST subset and "
            "MobileNet (alpha=0.25) with ImageNet weights; offline, seconds per epoch on a CPU."
        ),
    ),
    "full": Profile(
        name="full",
        dataset="flowers",
        base="vgg16",
        image_size=(224, 224),
        batch_size=32,
        epochs=10,
        learning_rate=1e-4,
        fine_tune_learning_rate=1e-5,
        description=(
            "A GPU with internet (Colab): TensorFlow's 3,670 flower photos and VGG16 with "
            "ImageNet weights, the article's model; minutes per epoch on a GPU."
        ),
    ),
}


def get_profile(name: str) -> Profile:
    """Returns the profile called `name`.

    Args:
        name: `"tiny"` (the default of every notebook: offline, CPU) or `"full"`
            (a GPU with internet).

    Returns:
        The frozen `Profile`.

    Raises:
        ValueError: if no profile has that name.
    """
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        known = ", ".join(repr(key) for key in PROFILES)
        raise ValueError(
            f"Unknown profile. Received: `PROFILE={name!r}`. Use one of {known}: "
            "'tiny' runs offline on a CPU, 'full' needs a GPU and internet."
        ) from None


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and the Keras backend, and asks TensorFlow for determinism.

    With the same seed, two runs on the same CPU give identical weights and metrics.
    (Another processor may still change the last digits of a float.)

    Args:
        seed: a non-negative integer.

    Raises:
        ValueError: if `seed` is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"The seed must be a non-negative integer. Received: `seed={seed!r}`.")
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(int(seed))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def cache_dir(*parts: str) -> Path:
    """Returns (and creates) a folder for downloads and cached features.

    The root is `$TLHELPERS_CACHE` if set, else `$KERAS_HOME/tlhelpers` if `KERAS_HOME`
    is set, else `~/.cache/tlhelpers`.

    Args:
        *parts: sub-folder names below the root.

    Returns:
        The folder's path.
    """
    if os.environ.get("TLHELPERS_CACHE"):
        root = Path(os.environ["TLHELPERS_CACHE"])
    elif os.environ.get("KERAS_HOME"):
        root = Path(os.environ["KERAS_HOME"]) / "tlhelpers"
    else:
        root = Path.home() / ".cache" / "tlhelpers"
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_mixed_precision(enabled: bool) -> str:
    """Turns on mixed precision (`mixed_float16`) where a GPU is visible, and says so.

    Under `mixed_float16` layers compute in float16 and keep their weights in float32:
    on a GPU with tensor cores (compute capability 7.0 or newer: V100, T4, A100, ...)
    that is faster and halves the memory of the activations. A CPU gains nothing from
    it (it is slower there), so without a visible GPU the policy is `float32`, whatever
    was asked. Call it before building
    the model: a layer takes the global policy when it is created. Keep the model's
    output in float32, as the Keras mixed-precision guide advises, by giving the last
    layer `dtype="float32"` (for example `keras.layers.Activation("softmax",
    dtype="float32")`).

    Args:
        enabled: `True` for `mixed_float16` when a GPU is visible; `False` for `float32`.

    Returns:
        The global policy's name afterwards: `"mixed_float16"`, or `"float32"`; when
        mixed precision was asked for without a GPU, with a short note of why:
        `"float32 (no GPU visible: mixed precision left off)"`.

    Raises:
        ValueError: if `enabled` is not a bool.
    """
    if not isinstance(enabled, bool | np.bool_):
        raise ValueError(f"`enabled` must be True or False. Received: `enabled={enabled!r}`.")
    import keras

    on = enabled and _gpu_visible()
    keras.mixed_precision.set_global_policy("mixed_float16" if on else "float32")
    name = keras.mixed_precision.global_policy().name
    return f"{name} (no GPU visible: mixed precision left off)" if enabled and not on else name


def _gpu_visible() -> bool:
    """Whether the Keras backend sees at least one GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


# --- Stand-ins, for tests only ---------------------------------------------------------

STAND_INS_VARIABLE = "TLHELPERS_STAND_INS"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class StandInsError(ValueError):
    """The stand-ins file named by `$TLHELPERS_STAND_INS` is missing or malformed."""


@dataclasses.dataclass(frozen=True)
class StandIns:
    """Test-only stand-ins for what the `full` profile downloads, read from a JSON file.

    The file named by `$TLHELPERS_STAND_INS` reads, for example:

        {"datasets": {"flowers": {"sha256": "<SHA-256 of the stand-in archive>"}},
         "random_weights": ["vgg16"]}

    - `datasets`: each data set named here is served from the download cache
      (`cache_dir("downloads")`, under the file name the real download has) if the
      archive there has the stand-in's SHA-256; nothing is downloaded, and a missing or
      different archive is an error. (`tlhelpers.data.dataset_path`.)
    - `random_weights`: each base named here is built with random weights where
      ImageNet weights are asked for (`tlhelpers.models.build_base`, and
      `keras.applications` called directly in a notebook run by `tlhelpers.runner`).

    Every use prints a line starting `STAND-IN:` to stderr, so a notebook run on
    stand-ins shows it on the page. Without the variable nothing changes.

    Args:
        path: the file the stand-ins were read from.
        datasets: data set name -> the SHA-256 of its stand-in archive.
        random_weights: names of bases (keys of `tlhelpers.models.BASES`).
    """

    path: Path
    datasets: dict[str, str]
    random_weights: tuple[str, ...]


def stand_ins() -> StandIns | None:
    """Reads the test-only stand-ins named by `$TLHELPERS_STAND_INS` (see `StandIns`).

    The file is read on every call, never at import.

    Returns:
        The `StandIns`, or `None` when the variable is unset or empty (every real run).

    Raises:
        StandInsError: naming the file, when it is missing, is not JSON, has keys other
            than `datasets` and `random_weights`, or names an unknown data set or base,
            a data set without a download, or a checksum that is not a SHA-256.
    """
    value = os.environ.get(STAND_INS_VARIABLE, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    fix = f"Fix the file, or unset {STAND_INS_VARIABLE} to use the real downloads and weights."

    def fail(problem: str) -> StandInsError:
        return StandInsError(f"Stand-ins file {path} ({STAND_INS_VARIABLE}): {problem}. {fix}")

    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail("no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise fail(f"cannot be read ({err})") from None
    except json.JSONDecodeError as err:
        raise fail(f"not valid JSON ({err})") from None
    if not isinstance(content, dict):
        raise fail(f"the top level must be an object. Received: {type(content).__name__}")
    extra = sorted(set(content) - {"datasets", "random_weights"})
    if extra:
        raise fail(f"unknown keys {extra}; the keys are 'datasets' and 'random_weights'")

    from tlhelpers.data import DATASETS

    datasets = content.get("datasets", {})
    if not isinstance(datasets, dict):
        raise fail(f"`datasets` must map names to {{\"sha256\": ...}}. Received: {datasets!r}")
    checksums = {}
    for name, entry in datasets.items():
        if name not in DATASETS or DATASETS[name].url is None:
            known = [key for key, spec in DATASETS.items() if spec.url is not None]
            raise fail(f"`datasets` names {name!r}; the data sets that are downloaded are "
                       f"{known}")
        sha256 = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()) or set(
                entry) != {"sha256"}:
            raise fail(f"`datasets[{name!r}]` must be {{\"sha256\": \"<64 hex digits>\"}}. "
                       f"Received: {entry!r}")
        checksums[name] = sha256.lower()
    bases = content.get("random_weights", [])
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise fail(f"`random_weights` must be a list of base names. Received: {bases!r}")
    if bases:
        from tlhelpers.models import BASES

        unknown = [b for b in bases if b not in BASES]
        if unknown:
            raise fail(f"`random_weights` names {unknown}; the bases are {list(BASES)}")
    return StandIns(path=path, datasets=checksums, random_weights=tuple(bases))


def announce_stand_in(what: str, stand_in: StandIns) -> None:
    """Prints the one line that says a stand-in is used: `STAND-IN: <what> (test only ...)`.

    It goes to stderr; in a notebook it shows under the cell that used the stand-in.

    Args:
        what: what stands in for what, e.g. `"data set 'flowers' from a stand-in archive"`.
        stand_in: the stand-ins in use (their file is named).
    """
    print(f"STAND-IN: {what} (test only: {STAND_INS_VARIABLE}={stand_in.path})",
          file=sys.stderr, flush=True)


def results_are_real() -> bool:
    """Whether a chapter's claims about the results of training can be checked.

    True in every real run. False only in the test suite's stand-in runs (random
    weights, a handful of images, one epoch; see `stand_ins`), which check that the
    `full` profile's code runs, not what it learns: there a chapter skips its asserts
    about results, and this function says so on stderr, under the cell.

    Returns:
        `stand_ins() is None`.
    """
    stand_in = stand_ins()
    if stand_in is None:
        return True
    announce_stand_in("claims about the results of training are not checked", stand_in)
    return False
