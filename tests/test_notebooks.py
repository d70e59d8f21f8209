"""Whole chapters, run as a reader runs them: twice on a folder of the reader's own, from
the command line, for determinism; and once against a deliberately broken image folder."""

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
        streamed = "".join("".join(output["text"]) for output in cell.get("outputs", [])
                           if output["output_type"] == "stream")
        if streamed:  # as one text: how a kernel chunks its printed lines varies by run
            out.append(streamed)
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                continue
            elif output["output_type"] == "error":
                out.append(f"{output['ename']}: {output['evalue']}")
            elif "text/plain" in output.get("data", {}):
                out.append("".join(output["data"]["text/plain"]))
    return out


def _own_folder(root: Path) -> Path:
    """A small image folder of a reader's own: 3 classes of 16 RGB images, each class its
    own colour under noise, no split folders (the loader carves them)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("red", "green", "blue")):
        (root / name).mkdir(parents=True)
        for i in range(16):
            pixels = rng.integers(0, 90, (40, 48, 3))
            pixels[..., label] += 150
            Image.fromarray(pixels.astype("uint8")).save(root / name / f"photo {i}.jpg")
    return root


def test_a_chapter_runs_from_the_command_line_on_an_own_folder_twice_identically(
        tmp_path, imagenet_cache, capsys):
    """`python -m tlhelpers.runner -p DATA_DIR=... --output-dir ...` on a folder that is
    not the bundled one: the chapter runs to its end on it, and two runs on one CPU give
    the same text, metrics included."""
    folder = _own_folder(tmp_path / "my photos")
    outputs = []
    for run in ("first", "second"):
        argv = ["-p", f"DATA_DIR={folder}", "-p", "EPOCHS=3", "--output-dir",
                str(tmp_path / run), str(NINE_STEPS)]
        assert runner._main(argv) == 0
        outputs.append(_text_outputs(tmp_path / run / NINE_STEPS.name))
    printed = capsys.readouterr().out
    assert f"DATA_DIR='{folder}'" in printed and "ok" in printed
    text = "\n".join(outputs[0])
    assert "Image folder: my photos, 3 classes" in text
    assert "test accuracy:" in text and "epoch  3/3:" in text
    assert outputs[0] == outputs[1]


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
