"""The command lines `python -m tlhelpers.train` and `python -m tlhelpers.predict`: a run
stopped after stage 1 and resumed, predict, and bad input.

The commands run in this process through their `main([...])` (one `--help` runs as a
real subprocess), on a folder made here that no other test uses: three classes of the
bundled images, ten each, without split folders, at 32 x 32 with one epoch per stage.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tlhelpers
from tlhelpers import predict, train

BUNDLED = Path(tlhelpers.__file__).parent / "datasets" / "fashion_mnist_tiny" / "train"
CLASSES = ("bag", "sandal", "trouser")
SMALL = ["--image-size", "32", "--batch-size", "8", "--stage1-epochs", "1",
         "--stage2-epochs", "1"]
CHAPTER_3 = Path(__file__).resolve().parents[1] / "notebooks" / "03_vgg16_case_study.ipynb"


def _run(main, argv: list[str]) -> tuple[int, str, str]:
    """Runs a command's `main` here; returns its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clothes(tmp_path_factory) -> Path:
    """An unsplit folder, `<class>/<image>`: 10 bundled images of each of 3 classes."""
    root = tmp_path_factory.mktemp("cli") / "clothes"
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for source in sorted((BUNDLED / name).glob("*.png"))[:10]:
            shutil.copyfile(source, root / name / source.name)
    return root


@pytest.fixture(scope="module")
def resumed_run(clothes, tmp_path_factory, imagenet_cache) -> dict:
    """A run stopped after stage 1 (`--stop-after 1`), then the same command again."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    argv = [str(clothes), "--out", str(run_dir), *SMALL]
    first = _run(train.main, [*argv, "--stop-after", "1"])
    after_first = sorted(p.name for p in run_dir.iterdir())
    stage1 = _sha256(run_dir / "stage1.keras")
    history1 = json.loads((run_dir / "history.json").read_text())
    second = _run(train.main, argv)
    return {"run_dir": run_dir, "first": first, "after_first": after_first,
            "stage1": stage1, "history1": history1, "second": second}


def test_a_run_stopped_after_stage_1_keeps_that_stage(resumed_run):
    status, out, err = resumed_run["first"]
    assert status == 0, err
    assert "No val/ or test/ folder: split here, stratified by class, seed 0" in out
    assert "Stage 1 of 2: the head on the frozen base, 1 epoch" in out
    assert "epoch  1/1:" in out
    assert "Stopped after stage 1" in out
    assert resumed_run["after_first"] == ["class_names.json", "config.json", "history.csv",
                                          "history.json", "stage1.keras"]


def test_a_second_run_resumes_after_the_finished_stage(resumed_run):
    status, out, err = resumed_run["second"]
    run_dir = resumed_run["run_dir"]
    assert status == 0, err
    assert "Stage 1 finished in an earlier run (1 epoch" in out
    assert "Stage 1 of" not in out  # not trained again
    assert "Stage 2 of 2: fine-tuning block13" in out
    assert "epoch  2/2:" in out  # stage 2's epochs are numbered on from stage 1's
    assert _sha256(run_dir / "stage1.keras") == resumed_run["stage1"]
    history = json.loads((run_dir / "history.json").read_text())
    assert history["stages"][0] == resumed_run["history1"]["stages"][0]
    assert [s["stage"] for s in history["stages"]] == [1, 2]
    assert history["stages"][1]["unfrozen"] == ["conv_dw_13", "conv_pw_13"]
    rows = (run_dir / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,stage,accuracy,loss,val_accuracy,val_loss,seconds"
    assert [row.split(",")[:2] for row in rows[1:]] == [["1", "1"], ["2", "2"]]
    assert json.loads((run_dir / "class_names.json").read_text()) == list(CLASSES)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["base"] == "mobilenet_025" and config["image_size"] == [32, 32]
    for name in train.RUN_FILES:
        assert (run_dir / name).is_file(), name
    with zipfile.ZipFile(run_dir / "model.keras") as saved:  # saved without its optimizer
        assert not json.loads(saved.read("config.json")).get("compile_config")
    assert f"Report: {run_dir / 'report.html'}" in out


def test_the_evaluation_counts_every_test_image(resumed_run):
    run_dir = resumed_run["run_dir"]
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    matrix = evaluation["confusion_matrix"]
    assert evaluation["test_images"] == sum(map(sum, matrix)) == 3 * 2  # 15% of 10 per class
    correct = sum(matrix[i][i] for i in range(len(CLASSES)))
    assert evaluation["test_accuracy"] == pytest.approx(correct / evaluation["test_images"])
    assert list(evaluation["per_class"]) == list(CLASSES)
    assert f"Test accuracy: {evaluation['test_accuracy']:.3f}" in resumed_run["second"][1]


def test_the_report_is_one_self_contained_page(resumed_run):
    page = (resumed_run["run_dir"] / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    evaluation = json.loads((resumed_run["run_dir"] / "evaluation.json").read_text())
    mistakes = evaluation["test_accuracy"] < 1
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 2 + mistakes  # curves, confusion matrix, confident mistakes if any
    assert ("The most confident mistakes" in page) == mistakes
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(href|src)="(https?:|file:|/)', page)  # nothing from elsewhere
    for heading in ("The image folder", "Training", "The test split", "Use the model",
                    "Settings", "Libraries and machine"):
        assert f"<h2>{heading}</h2>" in page
    assert "carved out of the class folders here" in page
    assert "the head on the frozen base" in page and "the top of the base and the head" in page
    assert "Stage(s) 1 finished in an earlier run" in page
    for name in CLASSES:
        assert f"<td>{name}</td>" in page
    assert "<td>TensorFlow</td>" in page and "<td>Keras</td>" in page


def test_predict_prints_the_top_classes_of_each_file(resumed_run, clothes):
    run_dir = resumed_run["run_dir"]
    files = [sorted((clothes / name).glob("*.png"))[0] for name in ("bag", "trouser")]
    status, out, err = _run(predict.main, [str(run_dir), *map(str, files), "--top", "2"])
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    expected = predict.predict_files(run_dir, files, top=2)
    for line, path, prediction in zip(lines, files, expected, strict=True):
        assert line == prediction.line() and line.startswith(f"{path}: ")
        (first, p1), (second, p2) = prediction.top
        assert {first, second} <= set(CLASSES) and first != second
        assert 1 >= p1 >= p2 >= 0


def test_predict_names_each_file_it_cannot_read_and_classifies_the_others(
        resumed_run, clothes, tmp_path):
    good = sorted((clothes / "sandal").glob("*.png"))[0]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    status, out, err = _run(predict.main, [str(resumed_run["run_dir"]), str(good), str(broken),
                                           str(tmp_path / "missing.jpg"), str(tmp_path)])
    assert status == 1
    assert out.startswith(f"{good}: ")
    assert f"error: {broken}: cannot be read as an image: Unknown image file format" in err
    assert f"error: {tmp_path / 'missing.jpg'}: no such file" in err
    assert f"error: {tmp_path}: a folder; pass image files" in err
    assert "Traceback" not in err


def test_predict_on_an_unfinished_run_says_how_to_finish_it(tmp_path):
    (tmp_path / "stage1.keras").write_bytes(b"")
    status, out, err = _run(predict.main, [str(tmp_path), "x.png"])
    assert status == 1 and out == ""
    assert "has not finished: it holds stage1.keras but no model.keras" in err
    status, _, err = _run(predict.main, [str(tmp_path / "nowhere"), "x.png"])
    assert status == 1 and f"No run folder at {tmp_path / 'nowhere'}" in err


def test_a_messy_folder_stops_before_training_with_every_problem(tmp_path, clothes):
    messy = tmp_path / "messy"
    shutil.copytree(clothes, messy)
    (messy / "bag" / "notes.txt").write_text("not an image")
    (messy / "sandal" / "00001.png").write_bytes(b"\x89PNG truncated")
    (messy / "empty_class").mkdir()
    shutil.copyfile(next((clothes / "bag").glob("*.png")), messy / "stray.png")
    run_dir = tmp_path / "run"
    status, out, err = _run(train.main, [str(messy), "--out", str(run_dir), *SMALL])
    assert status == 1
    assert "Traceback" not in err and "Stage 1" not in out
    assert err.startswith(f"error: The image folder {messy} has 4 problems of 4 kinds")
    for line in (str(messy / "stray.png"), str(messy / "empty_class"),
                 str(messy / "bag" / "notes.txt"), str(messy / "sandal" / "00001.png"),
                 "pass --skip-non-images"):
        assert line in err
    assert not run_dir.exists()


def test_bad_input_is_one_clear_line_without_a_traceback(tmp_path, clothes, resumed_run):
    run_dir = resumed_run["run_dir"]
    before = {p.name: _sha256(p) for p in run_dir.iterdir()}
    not_a_run = tmp_path / "notes"
    not_a_run.mkdir()
    (not_a_run / "todo.txt").write_text("keep me")
    cases = {
        "does not exist. Check the path": [str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")],
        "is inside the image folder": [str(clothes), "--out", str(clothes / "run")],
        "is not empty and holds no earlier run": [str(clothes), "--out", str(not_a_run)],
        "needs images of at least 32 x 32 pixels": [str(clothes), "--out", str(tmp_path / "r"),
                                                   "--image-size", "16"],
        "holds a run with other settings (earlier -> now):\n  stage2_epochs: 1 -> 2":
            [str(clothes), "--out", str(run_dir), *SMALL[:-1], "2"],
    }
    for expected, argv in cases.items():
        status, out, err = _run(train.main, argv)
        assert status == 1, (expected, out, err)
        assert err.startswith("error: ") and expected in err, (expected, err)
        assert "Traceback" not in err and "Stage 1" not in out
    assert "--restart" in err and "restart=True" not in err
    assert {p.name: _sha256(p) for p in run_dir.iterdir()} == before
    assert (not_a_run / "todo.txt").read_text() == "keep me"
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(io.StringIO()):
        train.main([str(clothes), "--out", str(tmp_path / "r"), "--image-size", "big"])
    assert exit_info.value.code == 2


def test_weights_that_cannot_be_had_are_a_clear_error(tmp_path, clothes, monkeypatch):
    """Keras' download failure, as `build_base` turns it into an error with its fix."""
    from tlhelpers import models
    from tlhelpers.downloads import explain_download_failures

    url = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/m.h5"

    def unavailable(*args, **kwargs):
        with explain_download_failures("ImageNet weights of MobileNet (alpha=0.25)"):
            raise Exception(f"URL fetch failure on {url}: None -- Name or service not known")

    monkeypatch.setattr(models, "build_base", unavailable)
    status, out, err = _run(train.main, [str(clothes), "--out", str(tmp_path / "r"), *SMALL])
    assert status == 1
    assert err.startswith("error: Could not load the ImageNet weights of MobileNet (alpha=0.25)")
    assert f"URL:   {url}" in err and "Traceback" not in err
    assert "run the command again" in err and "Or use the offline base: --base mobilenet" in err
    assert "cell" not in err and "PROFILE" not in err
    assert not (tmp_path / "r" / "stage1.keras").exists()


def test_help_explains_every_option_and_its_default():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "tlhelpers.train", "--help"],
                            capture_output=True, text=True, timeout=60, check=True)
    text = " ".join(result.stdout.split())
    for action in train._parser()._actions:
        for option in action.option_strings:
            assert option in text, option
        if action.option_strings and action.dest not in ("help", "out"):
            assert "default:" in " ".join(action.help.split()), action.dest
    assert "tensorflow" not in result.stderr  # -X importtime lists every module imported
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stdout(out):
        predict.main(["--help"])
    assert exit_info.value.code == 0 and "--top K" in out.getvalue()


def test_the_defaults_are_those_of_the_case_study():
    """The recipe's defaults per base are chapter 3's sizes per profile and top blocks."""
    source = "".join("".join(cell["source"]) for cell in
                     json.loads(CHAPTER_3.read_text())["cells"] if cell["cell_type"] == "code")
    top_block = ast.literal_eval(re.search(r"TOP_BLOCK = (\{[^}]*\})", source).group(1))
    for key, defaults in train.RECIPE_DEFAULTS.items():
        match = re.search(rf'"{defaults.profile}": dict\(stage1_epochs=(\d+), '
                          r"stage2_epochs=(\d+)", source)
        assert (defaults.stage1_epochs, defaults.stage2_epochs) == tuple(map(int, match.groups()))
        assert defaults.fine_tune_blocks == (top_block[key],)
    assert "STAGE1_LR = 1e-4" in source and train.LEARNING_RATE == 1e-4
    assert "build_head(num_classes, hidden_units=1024)" in source
    assert train.HIDDEN_UNITS == 1024
