"""Shared fixtures. Tests run offline; ImageNet weights come from the project's Keras
cache, which `make keras-cache` fills from ../shared/keras-cache."""

from __future__ import annotations

import dataclasses
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
class StandInFiles:
    """The stand-ins a test turned on: the file `$TLHELPERS_STAND_INS` names, the stand-in
    archive's SHA-256, and the download cache root (`$TLHELPERS_CACHE`)."""

    path: Path
    sha256: str
    cache: Path

    def write(self, content) -> Path:
        """Rewrites the stand-ins file: a dict as JSON, a string as it is."""
        import json

        self.path.write_text(content if isinstance(content, str) else json.dumps(content))
        return self.path


@pytest.fixture
def stand_ins(tmp_path, monkeypatch, flowers_stand_in_archive) -> StandInFiles:
    """Turns the test-only stand-ins on: the flower photos from the stand-in archive, put
    in a fresh download cache (`$TLHELPERS_CACHE`), and VGG16 with random weights."""
    import shutil

    archive, sha256 = flowers_stand_in_archive
    files = StandInFiles(tmp_path / "stand-ins.json", sha256, tmp_path / "stand-in-cache")
    (files.cache / "downloads").mkdir(parents=True)
    shutil.copyfile(archive, files.cache / "downloads" / "flower_photos.tgz")
    files.write({"datasets": {"flowers": {"sha256": sha256}}, "random_weights": ["vgg16"]})
    monkeypatch.setenv("TLHELPERS_CACHE", str(files.cache))
    monkeypatch.setenv("TLHELPERS_STAND_INS", str(files.path))
    return files


# Scheduling: `make nbval` runs two xdist workers with `--dist loadfile
# --no-loadscope-reorder`, so each file (each notebook) is a unit of work handed out in
# collection order. The run takes as long as its longest worker; starting the longest
# units first keeps one long notebook from starting last. The long units go first,
# longest first: each notebook by the run time it stored (the "ran in N s" of its last
# cell), and the test files named here by a rough estimate in seconds; then the rest, in
# the order collected. Only the order changes, never what runs.
SLOW_TEST_FILES = {"test_full_profile.py": 300.0}  # VGG16 at 224 x 224 on stand-ins


def _stored_seconds(path: Path) -> float:
    """The run time a notebook's last cell printed when its outputs were stored."""
    import json
    import re

    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return 0.0
    text = "".join("".join(o.get("text", "")) for o in cells[-1].get("outputs", [])) \
        if cells else ""
    found = re.search(r"ran in (\d+) s", text)
    return float(found.group(1)) if found else 0.0


def pytest_collection_modifyitems(session, config, items):
    seconds: dict[Path, float] = {}

    def rank(indexed: tuple[int, pytest.Item]) -> tuple[int, float, int]:
        index, item = indexed
        path = Path(item.path)
        if path.suffix == ".ipynb":
            if path not in seconds:
                seconds[path] = _stored_seconds(path)
            return (0, -seconds[path], index)
        if path.name in SLOW_TEST_FILES:
            return (0, -SLOW_TEST_FILES[path.name], index)
        return (1, 0.0, index)

    items[:] = [item for _, item in sorted(enumerate(items), key=rank)]
