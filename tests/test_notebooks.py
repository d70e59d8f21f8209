"""A chapter run as a reader runs it on a folder of their own that is broken: it stops at
the first cell that touches the data, with the clear error.

(Chapter 1 on a reader's own folder that works runs in `tests/test_full_profile.py`;
that a chapter prints the same twice on one machine is the determinism check that the
repository's `conftest.py` adds to one notebook's nbval run.)"""

import json
from pathlib import Path

import pytest

from tlhelpers import runner

pytestmark = pytest.mark.chapters

NINE_STEPS = Path(__file__).resolve().parents[1] / "notebooks" / "01_nine_steps.ipynb"


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
