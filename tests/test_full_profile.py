"""The `full` profile's code path, run offline on a CPU with test-only stand-ins.

The `full` profile (VGG16 with ImageNet weights, TensorFlow's flower photos at 224 x 224)
needs a GPU and the internet. Here each chapter with profiles runs with `PROFILE =
"full"` in a kernel that the `stand_ins` fixture patches (`tests/stand_ins.py`; the
package itself has no stand-ins): a small archive shaped like `flower_photos.tgz`
(`tests/conftest.py`), VGG16 with random weights, and the profile at 64 x 64 instead of
224 x 224, at small sizes and one epoch. That checks the code path (five classes instead
of ten, JPEGs of several sizes, the LICENSE.txt beside the class folders, VGG16's blocks),
never the results: random weights learn nothing in one step, so the chapters run with
`CHECK_RESULTS=False`, and every chapter must reach its last cell.

Chapter 1 runs on a folder of the reader's own (`DATA_DIR`: JPEGs of several sizes, not
split) instead of the flowers, so that its own-folder path is covered too.

Add a chapter by adding a `StandInRun` to `RUNS`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import stand_ins as stand_ins_module
from tlhelpers import runner

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@dataclasses.dataclass(frozen=True)
class StandInRun:
    """How one chapter runs on stand-ins.

    Args:
        parameters: injected after the chapter's `parameters` cell, on top of
            `PROFILE="full"` and `CHECK_RESULTS=False`: the chapter's own knobs at their
            smallest.
        own_folder: run on a folder of the reader's own (`DATA_DIR`) instead of the
            profile's data set.
        small_profile: the profile's image size is the stand-ins' 64 x 64 (default);
            False for a chapter that sets a small size itself and checks the profile's.
    """

    parameters: dict
    own_folder: bool = False
    small_profile: bool = True


RUNS: dict[str, StandInRun] = {
    "01_nine_steps.ipynb": StandInRun(parameters={"EPOCHS": 1}, own_folder=True),
    "02_feature_extraction.ipynb": StandInRun(
        parameters={
            "NUM_SEEDS": 1,
            # the smallest sizes that still run every section: a pool of 20 target images
            # (at least one of each class) to draw 1 labelled image per class from, 5 test
            # images (the ImageNet extractor runs VGG16 at 224 x 224 on the pool and the
            # test images), one step or epoch of each training
            "SIZES_OVERRIDE": {
                "embed_images": 30, "source_images": 50, "source_epochs": 1,
                "pool_images": 20, "test_images": 5, "labels_per_class": (1,),
                "scratch_steps": 1, "fine_tune_steps": 1, "depth_images": 50,
                "depth_test_images": 5, "depth_steps": 1, "depth_seeds": 1,
            },
        },
    ),
    "03_vgg16_case_study.ipynb": StandInRun(
        parameters={
            "NUM_SEEDS": 1,
            "SIZES_OVERRIDE": {"stage1_epochs": 1, "stage2_epochs": 1, "head_epochs": 1,
                               "benchmark_batches": 1, "range_test_steps": 4},
        },
    ),
    "04_your_own_images.ipynb": StandInRun(
        parameters={
            # the command's full-profile path (VGG16, block5, the unsplit flowers carved into
            # splits here) at one epoch per stage, at 64 x 64 as the other chapters
            "SIZES_OVERRIDE": {"max_epochs": 1, "min_epochs": 1, "fine_tune_epochs": 1,
                               "image_size": 64},
        },
        small_profile=False,  # it compares the command's defaults with the profiles
    ),
}


def _own_folder(root: Path) -> Path:
    """A small image folder of a reader's own: 3 classes of 12 JPEGs of several sizes,
    each class its own colour under noise, no split folders (the loader carves them)."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(("red", "green", "blue")):
        (root / name).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 90, (40 + 8 * (i % 3), 48, 3))
            pixels[..., label] += 150
            Image.fromarray(pixels.astype("uint8")).save(root / name / f"photo {i}.jpg")
    return root


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _stand_in_lines(cells: list[dict]) -> list[str]:
    return [line for cell in cells for output in cell.get("outputs", [])
            if output.get("name") == "stderr"
            for line in "".join(output["text"]).splitlines() if line.startswith("STAND-IN:")]


@pytest.mark.chapters
@pytest.mark.parametrize("name", list(RUNS), ids=[n.removesuffix(".ipynb") for n in RUNS])
def test_full_profile_runs_on_stand_ins(name, stand_ins, tmp_path, monkeypatch):
    run = RUNS[name]
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))  # no cached weights
    parameters = {"PROFILE": "full", "CHECK_RESULTS": False, **run.parameters}
    if run.own_folder:
        parameters["DATA_DIR"] = str(_own_folder(tmp_path / "my photos"))
    spec = dict(stand_ins.spec)
    if not run.small_profile:
        del spec["image_size"]
    output = tmp_path / name
    runner.execute_notebook(NOTEBOOKS / name, output, parameters=parameters, timeout=600,
                            kernel_setup=stand_ins_module.kernel_setup(spec))
    lines = _stand_in_lines(_cells(output))
    # a page built on stand-ins says so, where the profile, data set and base were loaded
    small = "STAND-IN: the full profile at 64 x 64, not 224 x 224 (test only)"
    assert (small in lines) == run.small_profile, lines
    assert "STAND-IN: VGG16 with random weights, not its ImageNet weights (test only)" in lines
    flowers = ("STAND-IN: data set 'flowers' from a stand-in archive, not the real "
               "flower_photos.tgz (test only)")
    assert (flowers in lines) == (not run.own_folder), lines
    if run.own_folder:
        assert "Image folder: my photos, 3 classes" in json.dumps(_cells(output))


def test_no_stored_notebook_shows_a_stand_in():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        assert _stand_in_lines(_cells(path)) == [], path.name


def _text(cells: list[dict]) -> str:
    """Everything a reader sees of a notebook: every cell's source and printed output."""
    parts = []
    for cell in cells:
        parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts += ["".join(v) for k, v in output.get("data", {}).items()
                      if k.startswith("text/")]
    return "\n".join(parts)


def test_every_chapter_with_profiles_has_a_stand_in_run():
    """Every chapter with profiles runs on stand-ins, and declares `CHECK_RESULTS`, the
    parameter that switches off its claims about results; a chapter without profiles is
    exempt.

    A chapter whose `parameters` cell assigns no `PROFILE` (the concepts chapter, say) is
    the same on every machine: it loads at most the small MobileNet's ImageNet weights,
    offline on a CPU, so it has no `full` code path for stand-ins to check; `pytest
    --nbval` runs it whole. Such a chapter must then not speak of a full profile either.
    """
    chapters = sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb")
                      if not p.name.endswith(".failed.ipynb"))
    with_profiles = [p.name for p in chapters if "PROFILE" in runner.notebook_parameters(p)]
    assert sorted(RUNS) == with_profiles, "add the new chapter to RUNS"
    for path in chapters:
        if path.name in with_profiles:
            assert "CHECK_RESULTS" in runner.notebook_parameters(path), path.name
        else:
            assert "full profile" not in _text(_cells(path)).lower(), path.name
