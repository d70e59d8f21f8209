"""The `full` profile's code path, run offline on a CPU with test-only stand-ins.

The `full` profile (VGG16 with ImageNet weights, TensorFlow's flower photos at 224 x 224)
needs a GPU and the internet. Here each chapter runs with `PROFILE = "full"` against
stand-ins (`tlhelpers.config.StandIns`, turned on by the `stand_ins` fixture): a small
archive shaped like `flower_photos.tgz` (`tests/conftest.py`) and VGG16 with random
weights, at small sizes and one epoch. That checks the code path (shapes, five classes
instead of ten, JPEGs of several sizes, the LICENSE.txt beside the class folders, the
224 x 224 pipeline), never the results: random weights learn nothing in one step.

So a chapter's claims about the *outcome* of training cannot hold on stand-ins: each
chapter checks them only when `tlhelpers.config.results_are_real()`, which is False in a
stand-in run only (and says so under the cell). Every chapter must reach its last cell.
A chapter that cannot yet may list where it stops (`stops_at`): it is then a strict
xfail that names the asserts and why.

Add a chapter by adding a `StandInRun` to `RUNS`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tlhelpers import runner

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@dataclasses.dataclass(frozen=True)
class StandInRun:
    """How one chapter runs on stand-ins.

    Args:
        parameters: injected after the chapter's `parameters` cell; always
            `PROFILE="full"`, and the chapter's own knobs at their smallest.
        stops_at: the lines (asserts, mostly) where the chapter is known to stop on
            stand-ins; it must stop at one of them. Which one can depend on the machine:
            an untrained head's accuracy on a handful of images is a coin toss. Empty
            when the chapter runs to its end.
        why: why it stops there.
    """

    parameters: dict
    stops_at: tuple[str, ...] = ()
    why: str = ""


RUNS: dict[str, StandInRun] = {
    "01_nine_steps.ipynb": StandInRun(parameters={"PROFILE": "full", "EPOCHS": 1}),
    "02_feature_extraction.ipynb": StandInRun(
        parameters={
            "PROFILE": "full",
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
            "PROFILE": "full",
            "NUM_SEEDS": 1,
            "SIZES_OVERRIDE": {"stage1_epochs": 1, "stage2_epochs": 1, "head_epochs": 1,
                               "benchmark_batches": 1},
        },
    ),
    "04_your_own_images.ipynb": StandInRun(
        parameters={
            "PROFILE": "full",
            # the command's full-profile path (VGG16, block5, the unsplit flowers carved into
            # splits here) at one epoch per stage; 64 x 64, as chapter 3 runs 224 x 224 already
            "SIZES_OVERRIDE": {"stage1_epochs": 1, "stage2_epochs": 1, "image_size": 64},
        },
    ),
}


def _cases() -> list:
    return [pytest.param(name, run, id=name.removesuffix(".ipynb"), marks=[
        pytest.mark.xfail(strict=True, raises=runner.NotebookFailed,
                          reason=f"stops on stand-ins: {run.why}"),
    ] if run.stops_at else []) for name, run in RUNS.items()]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _stand_in_lines(cells: list[dict]) -> list[str]:
    return [line for cell in cells for output in cell.get("outputs", [])
            if output.get("name") == "stderr"
            for line in "".join(output["text"]).splitlines() if line.startswith("STAND-IN:")]


def _first_failure(cells: list[dict]) -> str:
    """The source and the error shown by the first cell that failed unintendedly."""
    for cell in cells:
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if errors and "raises-exception" not in cell["metadata"].get("tags", []):
            return "".join(cell["source"]) + "\n" + "\n".join(errors[0]["traceback"])
    return ""


@pytest.mark.parametrize("name, run", _cases())
def test_full_profile_runs_on_stand_ins(name, run, stand_ins, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))  # no cached weights
    # The code path is the point here, not the numerics: TensorFlow's faster default
    # kernels (oneDNN, as `make nbval` uses) make VGG16 at 224 x 224 affordable.
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    output = tmp_path / name
    try:
        runner.execute_notebook(NOTEBOOKS / name, output, parameters=run.parameters,
                                timeout=600)
    except runner.NotebookFailed as err:
        cells = _cells(output.with_name(f"{output.stem}.failed.ipynb"))
        failure = _first_failure(cells)
        if not any(f"\n    {line}\n" in failure for line in run.stops_at):
            raise AssertionError(
                f"{name} stopped elsewhere than where it is known to stop on stand-ins "
                f"({run.stops_at}):\n{err}\n{failure}") from err
        _check_stand_ins_are_shown(_stand_in_lines(cells))
        raise
    cells = _cells(output)
    _check_stand_ins_are_shown(_stand_in_lines(cells))
    assert any(line.startswith("STAND-IN: claims about the results of training are not "
                               "checked") for line in _stand_in_lines(cells))


def _check_stand_ins_are_shown(lines: list[str]) -> None:
    """A page built on stand-ins says so, where the data set and the base were loaded."""
    assert any(line.startswith("STAND-IN: data set 'flowers' from a stand-in archive")
               for line in lines), lines
    assert any(line.startswith("STAND-IN: VGG16 with random weights") for line in lines), lines
    assert all("(test only: TLHELPERS_STAND_INS=" in line for line in lines), lines


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


def test_every_chapter_has_a_stand_in_run():
    """Every chapter with profiles runs on stand-ins; a chapter without them is exempt.

    A chapter whose `parameters` cell assigns no `PROFILE` (the concepts chapter) is the
    same on every machine: it loads only the small MobileNet's ImageNet weights, offline
    on a CPU, so it has no `full` code path for stand-ins to check; `pytest --nbval`
    runs it whole. Such a chapter must then not speak of a full profile either.
    """
    chapters = sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb")
                      if not p.name.endswith(".failed.ipynb"))
    with_profiles = [p.name for p in chapters if "PROFILE" in runner.notebook_parameters(p)]
    assert sorted(RUNS) == with_profiles, "add the new chapter to RUNS"
    for path in chapters:
        if path.name not in with_profiles:
            assert "full profile" not in _text(_cells(path)).lower(), path.name
