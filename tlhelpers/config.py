"""Profiles, seeding and cache locations.

A *profile* fixes everything a chapter needs to know about its size: which data set,
which pretrained base, the image size, the batch size and the number of epochs. Every
notebook starts with a `parameters` cell such as `PROFILE = "tiny"` and turns the name
into a frozen `Profile` with `get_profile`.

Used by every chapter. The bottom layer of the package: it imports no other module of
`tlhelpers`, and no Keras at import.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import numpy as np

__all__ = [
    "PROFILES",
    "Profile",
    "cache_dir",
    "get_profile",
    "set_mixed_precision",
    "set_seed",
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
    import keras  # deferred: the bottom layer imports no Keras, so every module can use it

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(int(seed))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # deferred: only with the TensorFlow backend

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
    import keras  # deferred: no Keras at import (see set_seed)

    on = enabled and _gpu_visible()
    keras.mixed_precision.set_global_policy("mixed_float16" if on else "float32")
    name = keras.mixed_precision.global_policy().name
    return f"{name} (no GPU visible: mixed precision left off)" if enabled and not on else name


def _gpu_visible() -> bool:
    """Whether the Keras backend sees at least one GPU."""
    import keras  # deferred: no Keras at import (see set_seed)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # deferred: each backend's own library, only when it runs

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax  # deferred: likewise

        return any(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch  # deferred: likewise

        return torch.cuda.is_available()
    return False
