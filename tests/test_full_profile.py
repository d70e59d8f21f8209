"""The `full` profile's code path, run offline on a CPU with test-only stand-ins.

The `full` profile (VGG16 with ImageNet weights, TensorFlow's flower photos at 224 x 224)
needs a GPU and the internet. Here each chapter runs with `PROFILE = "full"` against
stand-ins (`tlhelpers.config.StandIns`, turned on by the `stand_ins` fixture): a small
archive shaped like `flower_photos.tgz` (`tests/conftest.py`) and VGG16 with random
weights, at small sizes and one epoch. That checks the code path (shapes, five classes
instead of ten, JPEGs of several sizes, the LICENSE.txt beside the class folders, the
224 x 224 pipeline), never the results: random weights learn nothing in one step.

So a claim a chapter asserts about the *outcome* of training with ImageNet weights may
fail on stand-ins. Such a chapter is marked `xfail(strict=True)` with the asserts and the
reason; the test still fails if the chapter stops anywhere else, or if it runs to its
end (then remove the mark). Whether to scope those asserts is the chapter's call.

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
    "01_nine_steps.ipynb": StandInRun(
        parameters={"PROFILE": "full", "EPOCHS": 1},
        stops_at=(
            'assert final["accuracy"] > final["val_accuracy"]',
            'assert test_metrics["accuracy"] > 3 * chance',
            "assert log10_p < -9",
        ),
        why=(
            "steps 7 and 8 assert outcomes of training on ImageNet features: training "
            "accuracy above validation accuracy, test accuracy above 3 x chance, a p-value "
            "below 1e-9. On stand-ins (random VGG16 weights; one epoch, one step at the "
            "full profile's learning rate 1e-4) the head learns nothing, and 5 test images "
            "cannot give p < 1e-9 (all right by chance: 0.2^5 = 3e-4)."
        ),
    ),
    "02_feature_extraction.ipynb": StandInRun(
        parameters={
            "PROFILE": "full",
            "NUM_SEEDS": 1,
            # small, for when the run gets past section 3: 130 pool images give each
            # target class the 20 labelled images the sweep draws; section 6's ImageNet
            # probe sends the 130 + 50 target images through VGG16 at 224 x 224
            "SIZES_OVERRIDE": {
                "source_images": 500, "source_epochs": 1, "pool_images": 130,
                "test_images": 50, "labels_per_class": (5, 20), "depth_images": 300,
                "depth_test_images": 300, "depth_epochs": 1, "depth_seeds": 1,
                "embed_images": 50,
            },
        },
        stops_at=(
            "assert test_accuracy > 3 / num_classes",
            "return float(cross_val_score(KNeighborsClassifier(5), flat, labels, cv=5).mean())",
        ),
        why=(
            "section 3 asserts that the head trained on cached features beats 3 x chance, "
            "an outcome of ImageNet features; on stand-ins (random VGG16 weights, 10 epochs "
            "of one step) it does not. Past it, section 5's 5-fold stratified kNN needs 5 "
            "test images per class (the stand-in has 1: scikit-learn raises ValueError), and "
            "its `knn_imagenet > knn_random + 0.05` would compare two random networks."
        ),
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
    _check_stand_ins_are_shown(_stand_in_lines(_cells(output)))


def _check_stand_ins_are_shown(lines: list[str]) -> None:
    """A page built on stand-ins says so, where the data set and the base were loaded."""
    assert any(line.startswith("STAND-IN: data set 'flowers' from a stand-in archive")
               for line in lines), lines
    assert any(line.startswith("STAND-IN: VGG16 with random weights") for line in lines), lines
    assert all("(test only: TLHELPERS_STAND_INS=" in line for line in lines), lines


def test_no_stored_notebook_shows_a_stand_in():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        assert _stand_in_lines(_cells(path)) == [], path.name


def test_every_chapter_has_a_stand_in_run():
    chapters = sorted(p.name for p in NOTEBOOKS.glob("[0-9]*.ipynb")
                      if not p.name.endswith(".failed.ipynb"))
    assert sorted(RUNS) == chapters, "add the new chapter to RUNS"
