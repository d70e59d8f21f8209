"""Whole chapters, run as a reader runs them: twice for determinism, and once against a
deliberately broken image folder."""

import json
from pathlib import Path

import pytest

from tlhelpers import runner

NINE_STEPS = Path(__file__).resolve().parents[1] / "notebooks" / "01_nine_steps.ipynb"


def _text_outputs(path: Path) -> list[str]:
    """Every printed line, result and error message of a notebook, in order, but for the
    closing line that says how long the chapter ran."""
    cells = json.loads(path.read_text())["cells"]
    out = []
    for cell in cells:
        if "display.run_summary" in "".join(cell["source"]):
            continue
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                out.append("".join(output["text"]))
            elif output["output_type"] == "error":
                out.append(f"{output['ename']}: {output['evalue']}")
            elif "text/plain" in output.get("data", {}):
                out.append("".join(output["data"]["text/plain"]))
    return out


def test_two_cpu_runs_of_a_chapter_give_identical_metrics(tmp_path, imagenet_cache):
    first, second = tmp_path / "first.ipynb", tmp_path / "second.ipynb"
    runner.execute_notebook(NINE_STEPS, first, parameters={"EPOCHS": 3})
    runner.execute_notebook(NINE_STEPS, second, parameters={"EPOCHS": 3})
    outputs = _text_outputs(first)
    assert any("test accuracy:" in text for text in outputs)
    assert any("epoch  3/3:" in text for text in outputs)
    assert outputs == _text_outputs(second)


def test_a_broken_data_folder_stops_the_first_cell_that_touches_the_data(
        tmp_path, make_folder, imagenet_cache):
    broken = make_folder({"train/boot": 3, "train/shirt": 3, "val/boot": 1, "val/shirt": 1,
                          "test/boot": 1, "test/shirt": 1}, root_name="broken")
    (broken / "train" / "shirt" / "1.png").write_bytes(b"not a png at all")
    with pytest.raises(runner.NotebookFailed) as info:
        runner.execute_notebook(NINE_STEPS, tmp_path / "out.ipynb",
                                parameters={"DATA_DIR": str(broken)})
    message = str(info.value)
    assert "ImageFolderError" in message
    assert str(broken / "train" / "shirt" / "1.png") in message
    assert "Delete or replace them" in message
    failed = json.loads((tmp_path / "out.failed.ipynb").read_text())["cells"]
    errors = [i for i, c in enumerate(failed)
              if any(o["output_type"] == "error" for o in c.get("outputs", []))
              and "raises-exception" not in c["metadata"].get("tags", [])]
    first_data_cell = next(i for i, c in enumerate(failed) if c["cell_type"] == "code"
                           and "data.load_dataset" in "".join(c["source"]))
    assert errors == [first_data_cell]
    assert not (tmp_path / "out.ipynb").exists()
