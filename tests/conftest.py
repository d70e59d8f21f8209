"""Shared fixtures. Tests run offline; ImageNet weights come from the project's Keras
cache, which `make keras-cache` fills from ../shared/keras-cache."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tlhelpers.downloads import keras_home  # noqa: E402


@pytest.fixture(scope="session")
def imagenet_cache() -> Path:
    """The MobileNet 0.25 ImageNet weights in the Keras cache; fails clearly if absent."""
    path = keras_home() / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: run `make keras-cache` (it copies the pre-seeded weights "
            "from ../shared/keras-cache), or run the tests with `make test`."
        )
    return path


def write_png(path: Path, value: int = 128, size: tuple[int, int] = (32, 32),
              mode: str = "RGB") -> Path:
    """Writes a small solid image (creating folders) and returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    array = np.full((size[1], size[0], channels), value, dtype=np.uint8).squeeze()
    Image.fromarray(array, mode=None).convert(mode).save(path)
    return path


@pytest.fixture
def make_folder(tmp_path):
    """Builds an image folder: `make_folder({"train/a": 3, ...})` -> root path."""

    def build(layout: dict[str, int], root_name: str = "images") -> Path:
        root = tmp_path / root_name
        for i, (folder, count) in enumerate(layout.items()):
            (root / folder).mkdir(parents=True, exist_ok=True)
            for j in range(count):
                write_png(root / folder / f"{j}.png", value=(40 * i + 7 * j) % 256)
        return root

    return build
