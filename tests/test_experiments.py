import numpy as np
import pytest

from tlhelpers import experiments


def test_labels_per_class_subset_is_balanced_seeded_and_sorted():
    labels = np.repeat(np.arange(3), 10)
    idx = experiments.labels_per_class_subset(labels, 4, seed=1)
    assert np.bincount(labels[idx]).tolist() == [4, 4, 4]
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, experiments.labels_per_class_subset(labels, 4, seed=1))
    assert not np.array_equal(idx, experiments.labels_per_class_subset(labels, 4, seed=2))
    assert len(experiments.labels_per_class_subset(labels, None)) == 30


def test_labels_per_class_subset_explains_too_few():
    with pytest.raises(ValueError, match="Class 1 has only 2 examples.*per_class=3"):
        experiments.labels_per_class_subset(np.array([0, 0, 0, 1, 1]), 3)
    with pytest.raises(ValueError, match="per_class=0"):
        experiments.labels_per_class_subset(np.array([0, 1]), 0)


def test_run_sweep_covers_every_combination_in_order():
    seen = []
    records = experiments.run_sweep(
        lambda recipe, labels_per_class, seed: len(recipe) + labels_per_class + seed / 10,
        seeds=range(2), recipes=["a", "bb"], labels_per_class=[5, 10], on_record=seen.append)
    assert len(records) == 8 and seen == records
    assert records[0] == {"recipe": "a", "labels_per_class": 5, "seed": 0, "value": 6.0}
    assert [r["recipe"] for r in records[:4]] == ["a", "bb", "a", "bb"]
    with pytest.raises(ValueError, match="seeds=\\[\\]"):
        experiments.run_sweep(lambda **_: 0.0, seeds=[], recipes=["a"])


def test_summarize_and_clearly_better():
    records = [{"recipe": r, "labels_per_class": 5, "seed": s, "value": v}
               for r, values in {"t": [0.6, 0.62, 0.64], "s": [0.4, 0.5, 0.45]}.items()
               for s, v in enumerate(values)]
    summary = experiments.summarize(records)
    t, s = summary[("t", 5)], summary[("s", 5)]
    assert t.n == 3 and t.low == 0.6 and t.high == 0.64
    assert t.mean == pytest.approx(0.62) and t.std == pytest.approx(np.std([0.6, 0.62, 0.64]))
    assert str(t) == "0.620 ± 0.016"
    assert experiments.clearly_better(t, s) and not experiments.clearly_better(s, t)
    close = experiments.Summary("c", 5, 0.47, 0.05, 0.41, 0.52, 3)
    assert not experiments.clearly_better(close, s)
    with pytest.raises(ValueError, match="lacks the key 'value'"):
        experiments.summarize([{"recipe": "a", "labels_per_class": 1}])


def test_record_and_read_runs(tmp_path):
    path = tmp_path / "results" / "runs.csv"
    assert experiments.read_runs(path) == []
    experiments.record_run(path, {"date": "2026-11-28", "accuracy": 0.9})
    experiments.record_run(path, {"date": "2026-11-29", "accuracy": 0.95})
    assert experiments.read_runs(path) == [{"date": "2026-11-28", "accuracy": "0.9"},
                                           {"date": "2026-11-29", "accuracy": "0.95"}]
    with pytest.raises(ValueError, match="has the columns"):
        experiments.record_run(path, {"date": "x"})


def test_images_per_second_counts_images_and_runs_out_clearly():
    batches = [(np.zeros((4, 2)), np.zeros(4))] * 5
    assert experiments.images_per_second(batches, num_batches=3) > 0
    with pytest.raises(ValueError, match="ran out of batches"):
        experiments.images_per_second(batches, num_batches=9)
