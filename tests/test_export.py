"""tl-export: each format is written through `model.export`, run in its own runtime
(TensorFlow for SavedModel, ONNX Runtime, LiteRT's interpreter), and agrees with Keras on
the run's test split within `export.TOLERANCE`."""

import json
import shutil

import numpy as np
import pytest

import tlhelpers
from tlhelpers import data, export, models
from tlhelpers.rundir import CONFIG_FILE, MODEL_FILE, RunFolder

pytestmark = pytest.mark.commands  # exports and runs three runtimes (not in make check)

BUNDLED = tlhelpers.__path__[0] + "/datasets/fashion_mnist_tiny"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished run's folder, as tl-train leaves it, of a small model on three classes
    of the bundled images (its test split: 120 images)."""
    root = tmp_path_factory.mktemp("images")
    for split in ("train", "val", "test"):
        for name in ("bag", "sandal", "trouser"):
            shutil.copytree(f"{BUNDLED}/{split}/{name}", root / split / name)
    base = models.freeze(models.build_base("mobilenet_025", (32, 32, 3), weights=None))
    model = models.assemble(base, models.build_head(3, hidden_units=8), "tf")
    folder = RunFolder.open(tmp_path_factory.mktemp("runs") / "run")
    folder.write_json(CONFIG_FILE, {"data_dir": str(root), "image_size": [32, 32], "seed": 0,
                                    "val_fraction": 0.15, "test_fraction": 0.15,
                                    "skip_non_images": False, "min_side": 8})
    folder.save_model(MODEL_FILE, model)
    return folder.path, root


@pytest.mark.parametrize("fmt", list(export.FORMATS))
def test_each_format_runs_in_its_own_runtime_and_agrees_with_keras(fmt, run_dir, capsys):
    import keras

    path, root = run_dir
    assert export.main([str(path), "--format", fmt, "--check-images", "4"]) == 0
    target = path / export.FORMATS[fmt][1]
    printed = capsys.readouterr().out
    assert printed.startswith(f"Wrote {target}: on 4 images it gives the same class as Keras "
                              "for 100% of them")
    model = keras.models.load_model(path / MODEL_FILE)
    test = data.load_dataset(root, (32, 32), verbose=False).index.files["test"]
    images = np.stack([data.load_image(p, (32, 32)) for p in test])
    result = export.check(target, fmt, model, images)  # the whole test split
    assert result.images == 120 and result.agrees, result
    assert json.loads((path / "tl-run.json").read_text())["written"].count(target.name) == 1


def test_a_missing_run_or_runtime_is_a_clear_error(tmp_path, capsys, monkeypatch):
    assert export.main([str(tmp_path), "--format", "onnx"]) == 1
    assert "holds no model.keras" in capsys.readouterr().err
    real = export.importlib.util.find_spec
    monkeypatch.setattr(export.importlib.util, "find_spec",
                        lambda name: None if name == "onnxruntime" else real(name))
    with pytest.raises(ModuleNotFoundError, match=r"needs onnxruntime \(the package's `export` "
                                                  r"extra\)"):
        export.export_model(None, "onnx", tmp_path / "m.onnx")


def test_an_export_that_does_not_agree_is_removed(run_dir, capsys, monkeypatch):
    path, _ = run_dir
    monkeypatch.setattr(export, "check", lambda *args: export.Check(4, 0.5, 0.75))
    assert export.main([str(path), "--format", "saved_model", "--check-images", "4"]) == 1
    assert "does not agree with Keras" in capsys.readouterr().err
    assert not (path / "saved_model").exists()
    assert "saved_model" not in json.loads((path / "tl-run.json").read_text())["written"]


def test_the_summary_says_which_images_the_export_was_checked_on(run_dir, tmp_path):
    path, root = run_dir
    images, described = export._sample_images(path, (32, 32), 4)
    assert images.shape == (4, 32, 32, 3)
    assert described == f"4 test images of {root}, spread over its classes"
    moved = tmp_path / "run"
    shutil.copytree(path, moved)
    config = json.loads((moved / CONFIG_FILE).read_text())
    (moved / CONFIG_FILE).write_text(json.dumps({**config, "data_dir": str(tmp_path / "gone")}))
    images, described = export._sample_images(moved, (32, 32), 4)
    assert images.shape == (4, 32, 32, 3)
    assert described.startswith("4 images of random pixels, not of the run's test split: "
                                f"its image folder {tmp_path / 'gone'} could not be read ("), \
        described
    assert "Put the folder back" in described
