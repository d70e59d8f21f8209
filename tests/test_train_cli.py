"""The commands `tl-train` and `tl-predict` (`python -m tlhelpers.train`, `.predict`),
tried as a new user would: a run stopped after stage 1 and resumed; a stage interrupted
midway and resumed at its epoch; a folder of someone's files as RUN_DIR; class names in
many scripts and with characters that break HTML, Matplotlib and shells; an imbalanced
folder; bad input.

The commands run in this process through their `main([...])` (`--help` runs as a real
subprocess), on folders made here from the bundled images, at 32 x 32 with a couple of
epochs: the point is what the commands do, not how well the model learns.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import pytest

import tlhelpers
from tlhelpers import predict, train

# End to end: every test here trains (make check, the contributors' fast tier, leaves
# these out; make test runs them).
pytestmark = pytest.mark.commands

BUNDLED = Path(tlhelpers.__file__).parent / "datasets" / "fashion_mnist_tiny" / "train"
CLASSES = ("bag", "sandal", "trouser")
SMALL = ["--image-size", "32", "--batch-size", "8", "--max-epochs", "2",
         "--fine-tune-epochs", "1", "--patience", "1"]
# Folder names a file system allows that break naive HTML, Matplotlib ("$" starts
# mathematics), shells and fonts without CJK letters.
HOSTILE = ("<em>bold & co", "it's \"quoted\"", "$5-$10", "`tick`", "日本語", "한국어",
           "café")


def _run(main, argv: list[str]) -> tuple[int, str, str]:
    """Runs a command's `main` here; returns its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _folder(root: Path, names, counts=None, sources=CLASSES) -> Path:
    """An unsplit folder `<class>/<image>` of bundled images, class i from `sources[i]`."""
    for i, name in enumerate(names):
        (root / name).mkdir(parents=True)
        count = counts[i] if counts else 10
        source = BUNDLED / sources[i % len(sources)]
        for path in sorted(source.glob("*.png"))[:count]:
            shutil.copyfile(path, root / name / path.name)
    return root


@pytest.fixture(scope="module")
def clothes(tmp_path_factory) -> Path:
    """An unsplit folder, `<class>/<image>`: 10 bundled images of each of 3 classes."""
    return _folder(tmp_path_factory.mktemp("cli") / "clothes", CLASSES)


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
    assert "Stage 1: the head on the frozen base, Adam at 0.001, up to 2 epochs" in out
    assert "epoch  1/2:" in out
    assert "Stopped after stage 1" in out
    assert resumed_run["after_first"] == ["class_names.json", "config.json", "history.json",
                                          "stage1.keras", "tl-run.json"]


def test_a_second_run_resumes_after_the_finished_stage(resumed_run):
    status, out, err = resumed_run["second"]
    run_dir = resumed_run["run_dir"]
    assert status == 0, err
    assert "Stage 1 finished in an earlier run" in out
    assert "Stage 1: the head" not in out  # not trained again
    assert "Stage 2: fine-tuning block13" in out
    assert _sha256(run_dir / "stage1.keras") == resumed_run["stage1"]
    history = json.loads((run_dir / "history.json").read_text())
    assert history["stages"][0] == resumed_run["history1"]["stages"][0]
    assert [s["stage"] for s in history["stages"]] == [1, 2]
    assert "unfrozen: conv_dw_13, conv_pw_13" in history["stages"][1]["notes"][0]
    assert json.loads((run_dir / "class_names.json").read_text()) == list(CLASSES)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["base"] == "mobilenet_025" and config["image_size"] == [32, 32]
    marker = json.loads((run_dir / "tl-run.json").read_text())
    assert sorted(marker["written"]) == sorted(p.name for p in run_dir.iterdir()
                                               if p.name != "tl-run.json")
    with zipfile.ZipFile(run_dir / "model.keras") as saved:  # saved without its optimizer
        assert not json.loads(saved.read("config.json")).get("compile_config")
    assert f"Report: {run_dir / 'report.html'}" in out
    card = (run_dir / "MODEL_CARD.md").read_text()
    assert card.startswith("# Model card: clothes")
    # the default head, as built, and as the card and the report describe it
    assert config["dropout"] == 0
    assert "Flatten -> Dense(256, relu) -> Dense(3, softmax)" in card
    assert "Head: Flatten -&gt; Dense(256, relu) -&gt; Dense(3, softmax)" \
        in (run_dir / "report.html").read_text(encoding="utf-8")


def test_the_evaluation_says_what_the_accuracy_means(resumed_run):
    run_dir = resumed_run["run_dir"]
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    matrix = evaluation["confusion"]
    assert evaluation["test_images"] == sum(map(sum, matrix)) == 3 * 2  # 15% of 10 per class
    correct = sum(matrix[i][i] for i in range(len(CLASSES)))
    assert evaluation["accuracy"] == pytest.approx(correct / evaluation["test_images"])
    assert evaluation["majority_baseline"] == pytest.approx(1 / 3)
    assert 0 <= evaluation["balanced_accuracy"] <= 1 and evaluation["imbalance"] == 1
    assert list(evaluation["per_class"]) == list(CLASSES)
    assert 0 <= evaluation["rejection_threshold"] <= 1 and 0 <= evaluation["reject_known"] <= 0.05
    assert f"Test accuracy: {evaluation['accuracy']:.3f}" in resumed_run["second"][1]


def test_the_report_is_one_self_contained_page(resumed_run):
    page = (resumed_run["run_dir"] / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert page.count("<svg") >= 5  # curves, confusion, losses, reliability, curve...
    assert not re.search(r'(href|src)="(https?:|file:|/)', page)  # nothing from elsewhere
    for heading in ("The image folder", "Training", "The test split", "Where the model fails",
                    "Can its probabilities be trusted?", "Would more images help?",
                    "Use the model", "Settings", "Libraries and machine"):
        assert f"<h2>{html.escape(heading)}</h2>" in page
    assert "balanced accuracy" in page and "Always predicting the largest class" in page
    assert "Stage(s) 1 finished in an earlier run" in page
    for name in CLASSES:
        assert f"<td>{name}</td>" in page
    assert "<td>TensorFlow</td>" in page and "<td>Keras</td>" in page
    assert 'role="img" aria-label="' in page  # figures have their alt text


def test_the_model_loads_without_tlhelpers_in_safe_mode(resumed_run):
    code = ("import sys\nsys.modules['tlhelpers'] = None\nimport keras\n"
            f"model = keras.models.load_model({str(resumed_run['run_dir'] / 'model.keras')!r}, "
            "safe_mode=True)\nprint(model.output_shape)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.stdout.strip() == "(None, 3)", result.stderr[-2000:]


def test_predict_prints_the_top_classes_or_none_of_the_classes(resumed_run, clothes):
    run_dir = resumed_run["run_dir"]
    files = [sorted((clothes / name).glob("*.png"))[0] for name in ("bag", "trouser")]
    status, out, err = _run(predict.main, [str(run_dir), *map(str, files), "--top", "2"])
    assert status == 0, err
    lines = out.splitlines()
    expected = predict.predict_files(run_dir, files, top=2)
    for line, path, prediction in zip(lines, files, expected, strict=True):
        assert line == prediction.line() and line.startswith(f"{path}: ")
        (first, p1), (second, p2) = prediction.top
        assert {first, second} <= set(CLASSES) and first != second and 1 >= p1 >= p2 >= 0
    rejecting = predict.Prediction(files[0], [("bag", 0.31), ("sandal", 0.3)], threshold=0.5)
    assert rejecting.line() == f"{files[0]}: none of the classes (top: bag, 0.31)"
    # never "(top: bag, 1.00)" under a threshold that two decimals also show as 1.00
    close = predict.Prediction(files[0], [("bag", 0.9999961)], threshold=0.9999983)
    assert close.line() == (f"{files[0]}: none of the classes (top: bag, 0.999996, "
                            "below the threshold 0.999998)")


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


def test_a_folder_of_someone_s_files_is_never_touched(tmp_path, clothes, imagenet_cache):
    """`--out` pointing at a folder of someone's files, even files named as a run's."""
    theirs = tmp_path / "thesis"
    theirs.mkdir()
    (theirs / "config.json").write_text('{"their": "settings"}')
    (theirs / "model.keras").write_bytes(b"their model")
    before = {p.name: _sha256(p) for p in theirs.iterdir()}
    for extra in ([], ["--restart"]):
        status, out, err = _run(train.main, [str(clothes), "--out", str(theirs), *SMALL,
                                             *extra])
        assert status == 1 and "Stage 1" not in out
        assert "is not empty and is not the folder of an earlier run" in err
        assert {p.name: _sha256(p) for p in theirs.iterdir()} == before


def test_restart_deletes_only_what_the_run_wrote(tmp_path, clothes, imagenet_cache):
    run_dir = tmp_path / "run"
    argv = [str(clothes), "--out", str(run_dir), *SMALL, "--stop-after", "1"]
    assert _run(train.main, argv)[0] == 0
    (run_dir / "my notes.txt").write_text("keep me")
    status, out, err = _run(train.main, [*argv, "--restart"])
    assert status == 0, err
    assert "--restart: deleted the earlier run's files" in out and "my notes.txt" not in out
    assert (run_dir / "my notes.txt").read_text() == "keep me"


def test_an_interrupted_stage_resumes_at_its_last_finished_epoch(tmp_path, clothes,
                                                                 imagenet_cache):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    run_dir = tmp_path / "run"
    settings = dict(image_size=32, batch_size=8, max_epochs=4, patience=4,
                    fine_tune_epochs=0, verbose=False)
    with pytest.raises(KeyboardInterrupt):
        train.train_on_folder(clothes, run_dir, callbacks=[Interrupt()], **settings)
    assert not (run_dir / "stage1.keras").exists()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = train.train_on_folder(clothes, run_dir, **{**settings, "verbose": True})
    assert "Stage 1 was interrupted in an earlier run after epoch 2: resuming from there" \
        in out.getvalue()
    assert "epoch  3/4:" in out.getvalue() and "epoch  1/4:" not in out.getvalue()
    assert len(result.stages[0].history["loss"]) == 4  # every epoch's metrics, both runs'
    assert not (run_dir / "backup-stage1").exists()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, imagenet_cache) -> dict:
    root = _folder(tmp_path_factory.mktemp("names") / "名前 & <folder>", HOSTILE,
                   sources=("bag", "sandal", "trouser", "coat", "dress", "shirt", "sneaker"))
    run_dir = tmp_path_factory.mktemp("names") / "run $HOME"
    status, out, err = _run(train.main, [str(root), "--out", str(run_dir), *SMALL])
    return {"root": root, "run_dir": run_dir, "status": status, "out": out, "err": err}


def test_names_in_any_script_work_end_to_end(hostile_run):
    run_dir, root = hostile_run["run_dir"], hostile_run["root"]
    assert hostile_run["status"] == 0, hostile_run["err"]
    names = sorted(HOSTILE)
    assert json.loads((run_dir / "class_names.json").read_text(encoding="utf-8")) == names
    for name in names:
        assert name in hostile_run["out"]  # the folder report, in the console
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<em>bold" not in page  # escaped, never markup
    # the commands to paste name the folder quoted, so that "$HOME" does not expand
    quoted = shlex.quote(str(run_dir))
    assert quoted.startswith("'") and f"tl-predict {quoted} IMAGE" in hostile_run["out"]
    assert html.escape(f"tl-predict {quoted} IMAGE") in page
    assert html.escape(f"tl-export {quoted} --format onnx") in page
    for name in names:
        assert f"<td>{html.escape(name)}</td>" in page
    svg_text = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", page))
    for name in ("日本語", "한국어", "$5-$10"):  # figures: letters as text, "$" not as maths
        assert name in html.unescape(svg_text)
    image = sorted((root / "日本語").glob("*.png"))[0]
    status, out, err = _run(predict.main, [str(run_dir), str(image), "--top", "7"])
    assert status == 0 and out.startswith(f"{image}: ")
    assert sum(name in out for name in names) == 7


def test_an_imbalanced_folder_gets_a_warning_and_balanced_weights_run(tmp_path,
                                                                      imagenet_cache):
    root = _folder(tmp_path / "imbalanced", ("common", "rare"), counts=(56, 8),
                   sources=("bag", "sandal"))
    run_dir = tmp_path / "run"
    status, out, err = _run(train.main, [str(root), "--out", str(run_dir), *SMALL,
                                         "--class-weight", "balanced"])
    assert status == 0, err
    assert "warning: The classes are imbalanced: the largest has" in out
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "The classes are imbalanced" in page and "Class weights: balanced" in page
    assert json.loads((run_dir / "config.json").read_text())["class_weight"] == "balanced"


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


def test_bad_input_is_one_clear_line_without_a_traceback(tmp_path, clothes, resumed_run):
    run_dir = resumed_run["run_dir"]
    before = {p.name: _sha256(p) for p in run_dir.iterdir()}
    cases = {
        "does not exist. Check the path": [str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")],
        "is inside the image folder": [str(clothes), "--out", str(clothes / "run")],
        "needs images of at least 32 x 32 pixels": [str(clothes), "--out", str(tmp_path / "r"),
                                                   "--image-size", "16"],
        "holds a run with other settings (earlier -> now):\n  fine_tune_epochs: 1 -> 2":
            [str(clothes), "--out", str(run_dir), *SMALL[:-3], "2", *SMALL[-2:]],
    }
    for expected, argv in cases.items():
        status, out, err = _run(train.main, argv)
        assert status == 1, (expected, out, err)
        assert err.startswith("error: ") and expected in err, (expected, err)
        assert "Traceback" not in err and "Stage 1" not in out
    assert "--restart" in err and "restart=True" not in err
    assert {p.name: _sha256(p) for p in run_dir.iterdir()} == before
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(io.StringIO()):
        train.main([str(clothes), "--out", str(tmp_path / "r"), "--image-size", "big"])
    assert exit_info.value.code == 2


def test_the_same_folder_spelt_two_ways_is_the_same_setting(tmp_path, clothes, monkeypatch):
    from tlhelpers import recipe

    monkeypatch.chdir(clothes.parent)
    spelt = [recipe.make_recipe(path) for path in (f"./{clothes.name}", clothes.name,
                                                   str(clothes))]
    assert len({r.data_dir for r in spelt}) == 1 and spelt[0].data_dir == str(clothes)


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
