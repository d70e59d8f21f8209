"""Shared fixtures. Tests run offline; ImageNet weights come from the project's Keras
cache, which `make keras-cache` fills from ../shared/keras-cache."""

from __future__ import annotations

import dataclasses
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tests import stand_ins as stand_ins_module  # noqa: E402
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
              mode: str = "RGB", marker: int | None = None) -> Path:
    """Writes a small solid image (creating folders) and returns its path.

    `marker` (0 to 65535) is written into the top-left pixel, to make an image differ
    from every other solid image of the same value (the folder checks treat identical
    images in two splits as a leak).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    array = np.full((size[1], size[0], channels), value, dtype=np.uint8)
    if marker is not None:
        array[0, 0, :2] = marker % 256, marker // 256 % 256
    array = array.squeeze()
    Image.fromarray(array, mode=None).convert(mode).save(path)
    return path


@pytest.fixture
def make_folder(tmp_path):
    """Builds an image folder: `make_folder({"train/a": 3, ...})` -> root path."""

    written = [0]  # every image of every folder built here differs from the others

    def build(layout: dict[str, int], root_name: str = "images") -> Path:
        root = tmp_path / root_name
        for i, (folder, count) in enumerate(layout.items()):
            (root / folder).mkdir(parents=True, exist_ok=True)
            for j in range(count):
                write_png(root / folder / f"{j}.png", value=(40 * i + 7 * j) % 256,
                          marker=written[0])
                written[0] += 1
        return root

    return build


FLOWER_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
# Sizes (width x height) the stand-in photos cycle through: landscape, portrait, square,
# odd; the pipelines resize them all to the profile's image size.
FLOWER_SIZES = ((240, 180), (180, 240), (320, 214), (200, 200))


def write_flowers_stand_in(path: Path, per_class: int = 8, seed: int = 0) -> str:
    """Writes a stand-in for TensorFlow's `flower_photos.tgz`, laid out as the real one.

    `flower_photos/LICENSE.txt` and `flower_photos/<class>/*.jpg` for the five classes,
    `per_class` small JPEGs each (cycling through `FLOWER_SIZES`): a green, noisy
    background with a disc of the class's own colour, so the classes differ. The archive
    is the same, byte for byte, for the same arguments.

    Returns:
        The archive's SHA-256.
    """
    import gzip
    import hashlib
    import io
    import tarfile

    colours = ((235, 235, 245), (245, 205, 40), (205, 30, 55), (250, 165, 20), (200, 60, 165))
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as tar:
        def add(name: str, payload: bytes) -> None:
            info = tarfile.TarInfo(f"flower_photos/{name}")
            info.size, info.mode = len(payload), 0o644
            tar.addfile(info, io.BytesIO(payload))

        add("LICENSE.txt", b"Stand-in for the flower photos' LICENSE.txt: synthetic images "
                           b"written by tests/conftest.py, no licence needed.\n")
        for label, name in enumerate(FLOWER_CLASSES):
            for i in range(per_class):
                width, height = FLOWER_SIZES[(label + i) % len(FLOWER_SIZES)]
                pixels = rng.normal((40, 110, 40), 25, (height, width, 3))
                rows, cols = np.mgrid[:height, :width]
                centre = rng.uniform(0.3, 0.7, 2) * (height, width)
                radius = rng.uniform(0.2, 0.35) * min(height, width)
                disc = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < radius ** 2
                pixels[disc] = rng.normal(colours[label], 20, (int(disc.sum()), 3))
                jpeg = io.BytesIO()
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                    jpeg, "JPEG", quality=85)
                add(f"{name}/{i:03d}.jpg", jpeg.getvalue())
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def flowers_stand_in_archive(tmp_path_factory) -> tuple[Path, str]:
    """A stand-in `flower_photos.tgz` (8 JPEGs per class) and its SHA-256, made once."""
    path = tmp_path_factory.mktemp("stand-in") / "flower_photos.tgz"
    return path, write_flowers_stand_in(path)


@dataclasses.dataclass
class StandInRun:
    """The stand-ins a test turned on (see `tests/stand_ins.py`): the stand-in archive's
    SHA-256, the download cache it lies in (`$TLHELPERS_CACHE`), and the arguments of
    `stand_ins.install`."""

    sha256: str
    cache: Path
    spec: dict

    @property
    def kernel_setup(self) -> str:
        """The start-up line that installs these stand-ins in a notebook's kernel."""
        return stand_ins_module.kernel_setup(self.spec)


@pytest.fixture
def stand_ins(tmp_path, monkeypatch, flowers_stand_in_archive) -> StandInRun:
    """The flower photos from the stand-in archive, put in a fresh download cache
    (`$TLHELPERS_CACHE`, which kernels inherit), VGG16 with random weights, and the full
    profile at 64 x 64; installed in a kernel by `kernel_setup`, in this process by
    `stand_ins.install(**spec)`."""
    archive, sha256 = flowers_stand_in_archive
    cache = tmp_path / "stand-in-cache"
    (cache / "downloads").mkdir(parents=True)
    shutil.copyfile(archive, cache / "downloads" / "flower_photos.tgz")
    monkeypatch.setenv("TLHELPERS_CACHE", str(cache))
    return StandInRun(sha256, cache, {"datasets": {"flowers": sha256},
                                      "random_weights": ("vgg16",), "image_size": (64, 64)})
