"""The recipe of tl-train: what a stage reports of itself."""

import pytest

from tlhelpers.recipe import StageResult


def test_stage_1_is_scored_at_the_epoch_it_kept_not_at_its_best():
    # epoch 1 scored best but came before min_epochs; early stopping kept epoch 3
    stage1 = StageResult(1, "the head", 1e-3, epochs_run=4, best_epoch=3,
                         history={"val_accuracy": [0.9, 0.5, 0.6, 0.55],
                                  "val_loss": [0.3, 0.9, 0.8, 0.85]},
                         seconds=1.0, epoch_seconds=[0.25] * 4)
    assert stage1.kept_score("val_accuracy") == 0.6
    assert stage1.best("val_accuracy") == 0.9 and stage1.best("val_loss") == 0.3
    assert stage1.kept_score("val_loss") == 0.8
    stage2 = StageResult(2, "block13", 1e-5, epochs_run=1, best_epoch=5,
                         history={"val_accuracy": [0.7]}, seconds=1.0, epoch_seconds=[1.0])
    with pytest.raises(ValueError, match="Received: stage 2"):
        stage2.kept_score("val_accuracy")


def test_the_defaults_are_the_ones_chapter_4_measured(tmp_path):
    from tlhelpers.recipe import make_recipe

    rec = make_recipe(tmp_path)
    assert (rec.image_size, rec.dropout, rec.hidden_units) == ((144, 144), 0.0, 256)
    assert make_recipe(tmp_path, "vgg16").image_size == (224, 224)
    assert make_recipe(tmp_path, dropout=0.5, image_size=96).image_size == (96, 96)


def test_the_command_line_passes_dropout_and_image_size_on(monkeypatch):
    from tlhelpers import train

    seen = {}
    monkeypatch.setattr(train, "train_on_folder", lambda *args, **kwargs: seen.update(kwargs))
    assert train.main(["photos", "--out", "run", "--dropout", "0.5",
                       "--image-size", "96"]) == 0
    assert (seen["dropout"], seen["image_size"]) == (0.5, (96, 96))
    seen.clear()
    assert train.main(["photos", "--out", "run"]) == 0
    assert seen["dropout"] == 0 and "image_size" not in seen  # the recipe's default
