"""What an accuracy means: baselines, balanced accuracy, imbalance; confused pairs, top
losses, contradicted labels; calibration and the rejection threshold."""

import numpy as np
import pytest

from tlhelpers import calibration, evaluation


def _probs(labels, k, right=0.9):
    probs = np.full((len(labels), k), (1 - right) / (k - 1))
    probs[np.arange(len(labels)), labels] = right
    return probs


def test_a_model_that_predicts_the_large_class_is_seen_through():
    """14 times more images of one class: always predicting it scores 0.93, which the
    summary says is no better than the baseline; balanced accuracy is 0.5."""
    train = [0] * 140 + [1] * 10
    y_true = np.array([0] * 28 + [1] * 2)
    probs = _probs(np.zeros(30, dtype=int), 2)
    summary = evaluation.summarize(y_true, probs, ["common", "rare"], train)
    assert summary.accuracy == pytest.approx(28 / 30)
    assert summary.majority_class == "common"
    assert summary.majority_baseline == pytest.approx(28 / 30)
    assert summary.balanced_accuracy == pytest.approx(0.5)
    assert summary.imbalance == 14 and summary.imbalanced
    assert summary.never_predicted == ["rare"]
    warnings = " ".join(summary.warnings())
    assert "imbalanced" in warnings and "no better than always predicting 'common'" in warnings
    assert "'rare'" in warnings
    assert summary.per_class["rare"]["recall"] == 0.0


def test_a_good_model_on_balanced_classes_gets_no_warning():
    y = np.arange(30) % 3
    summary = evaluation.summarize(y, _probs(y, 3), ["a", "b", "c"], y)
    assert summary.accuracy == summary.balanced_accuracy == 1.0
    assert summary.warnings() == []
    with pytest.raises(ValueError, match=r"shape \(30, 3\)"):
        evaluation.summarize(y, _probs(y, 3)[:, :2], ["a", "b", "c"], y)


def test_confused_pairs_top_losses_and_contradicted_labels():
    confusion = [[5, 3, 0], [1, 6, 0], [0, 4, 2]]
    assert evaluation.confused_pairs(confusion, ["a", "b", "c"], top=2) == [
        ("c", "b", 4, 4 / 6), ("a", "b", 3, 3 / 8)]
    y = np.array([0, 1, 2, 0])
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.05, 0.94, 0.01],
                      [0.2, 0.7, 0.1]])
    assert evaluation.top_losses(y, probs, 2).tolist() == [2, 3]
    assert evaluation.contradicted_labels(y, probs, confidence=0.9).tolist() == [2]


def test_reliability_and_ece_of_an_overconfident_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    right = rng.random(1000) < 0.7  # right 70 % of the time, always 0.95 sure
    predicted = np.where(right, y, 1 - y)
    probs = _probs(predicted, 2, right=0.95)
    rel = calibration.reliability(y, probs, bins=10)
    assert rel.counts.sum() == 1000 and rel.counts[-1] == 1000
    assert rel.ece == pytest.approx(0.95 - right.mean())
    assert rel.overconfident
    calibrated = calibration.reliability(y, _probs(y, 2, right=1.0))
    assert calibrated.ece == 0.0 and not calibrated.overconfident
    with pytest.raises(ValueError, match="one row per label"):
        calibration.reliability([], np.zeros((0, 2)))


def test_the_rejection_threshold_rejects_the_share_asked_of_known_images():
    rng = np.random.default_rng(1)
    known = rng.dirichlet([20, 1, 1], 400)  # confident
    unknown = rng.dirichlet([1, 1, 1], 400)  # unsure
    threshold = calibration.rejection_threshold(known, 0.05)
    known_rejected, unknown_rejected = calibration.rejection_rates(known, unknown, threshold)
    assert known_rejected <= 0.05 and known_rejected > 0.03
    assert unknown_rejected > 0.5
    assert calibration.rejection_threshold(known, 0.0) == 0.0
    with pytest.raises(ValueError, match="reject_known"):
        calibration.rejection_threshold(known, 1.0)


def test_the_report_names_the_head_the_recipe_built():
    from tlhelpers import models, recipe, report

    default = recipe.make_recipe("fashion-mnist-tiny").to_json()
    assert report.head_text(default, 10) == "Flatten -> Dense(256, relu) -> Dense(10, softmax)"
    dropout = recipe.make_recipe("fashion-mnist-tiny", dropout=0.5).to_json()
    assert report.head_text(dropout, 10) == ("Flatten -> Dense(256, relu) -> Dropout(0.5) "
                                             "-> Dense(10, softmax)")
    plain = recipe.make_recipe("fashion-mnist-tiny", hidden_units=0).to_json()
    assert report.head_text(plain, 2) == "Flatten -> Dense(2, softmax)"
    # the words follow the layers models.build_head makes from the same settings
    for settings, classes in ((default, 10), (dropout, 10), (plain, 2)):
        head = models.build_head(classes, settings["hidden_units"], settings["dropout"])
        words = [w.split("(")[0] for w in report.head_text(settings, classes).split(" -> ")]
        assert words == [type(layer).__name__ for layer in head.layers]
