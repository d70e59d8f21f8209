"""Every row of the book's preprocessing reference (`book/preprocessing.md`), checked
against Keras itself: the networks are built without weights, and a probe image goes
through each family's `preprocess_input`."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from tlhelpers import models

PAGE = Path(__file__).resolve().parents[1] / "book" / "preprocessing.md"
COLUMNS = ("keras.applications", "size", "preprocess_input", "range seen", "colours", "built in")
# black, white, pure red, pure green, pure blue: RGB pixels in 0..255
PROBE = np.array([[[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]]],
                 dtype="float32")


def _number(text: str) -> float:
    return float(text.replace("−", "-"))


def table_rows() -> list[dict[str, str]]:
    """The rows of the page's table, as `{column: cell}`, markup removed."""
    lines = [line for line in PAGE.read_text(encoding="utf-8").splitlines()
             if line.startswith("|")]
    header = [cell.strip().strip("`") for cell in lines[0].strip("|").split("|")]
    assert tuple(header) == COLUMNS, header
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        row = dict(zip(COLUMNS, cells, strict=True))
        row["base"] = row["keras.applications"].strip("`").split(".")[1]
        rows.append(row)
    return rows


ROWS = table_rows()


def test_the_table_covers_the_bases_the_issue_names():
    assert [row["base"] for row in ROWS] == [
        "VGG16", "ResNet50", "MobileNet", "MobileNetV2", "EfficientNetB0", "ConvNeXtTiny"]


@pytest.fixture(scope="module")
def built() -> dict[str, keras.Model]:
    """Each row's network with its classifier and no weights (a few seconds in all)."""
    result = {}
    for row in ROWS:
        module_name, constructor = row["keras.applications"].strip("`").split(".")
        result[row["base"]] = getattr(keras.applications, constructor)(weights=None)
        keras.backend.clear_session(free_memory=False)
    return result


def _family(row: dict[str, str]):
    module_name, constructor = row["keras.applications"].strip("`").split(".")
    module = getattr(keras.applications, module_name)
    assert getattr(module, constructor) is getattr(keras.applications, constructor)
    return module


@pytest.mark.parametrize("row", ROWS, ids=[row["base"] for row in ROWS])
def test_row_matches_keras(row, built):
    module = _family(row)
    model = built[row["base"]]
    # size: the model with its classifier takes exactly this square input
    side = int(row["size"])
    assert model.input_shape[1:] == (side, side, 3)
    # the values the network sees, for pixels in 0..255
    out = keras.ops.convert_to_numpy(module.preprocess_input(PROBE.copy()))
    low, high = (_number(v) for v in row["range seen"].split(" to "))
    np.testing.assert_allclose([out.min(), out.max()], [low, high], atol=0.006)
    # colour order: pure red moves channel 0 of RGB, channel 2 of BGR
    red_moves = np.flatnonzero(np.abs(out[0, 0, 2] - out[0, 0, 0]) > 1e-6).tolist()
    assert red_moves == {"RGB": [0], "BGR": [2]}[row["colours"]], red_moves
    # built in: preprocess_input is the identity and the model rescales on its own
    first_layers = {type(layer).__name__ for layer in model.layers[:6]}
    built_in = {"yes": True, "no": False}[row["built in"]]
    assert np.array_equal(out, PROBE) == built_in == (row["preprocess_input"] == "none")
    assert bool(first_layers & {"Rescaling", "Normalization"}) == built_in, first_layers
    # the mode named for the caffe and tf families is the one tlhelpers applies
    mode = re.match(r'"(\w+)"', row["preprocess_input"])
    if mode:
        ours = keras.ops.convert_to_numpy(models.Preprocess(mode[1])(PROBE.copy()))
        np.testing.assert_allclose(ours, out, atol=1e-4)


def test_the_bases_of_the_book_use_the_mode_of_their_row():
    by_title = {row["base"]: row for row in ROWS}
    for name in ("vgg16", "mobilenet_025"):
        spec = models.BASES[name]
        row = by_title[{"vgg16": "VGG16", "mobilenet_025": "MobileNet"}[name]]
        assert row["preprocess_input"].startswith(f'"{spec.preprocess_mode}"'), (name, row)
