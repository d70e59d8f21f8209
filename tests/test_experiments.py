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


def test_paired_difference_counts_seeds_and_ignores_unshared_ones():
    recipe = {0: 0.81, 1: 0.80, 2: 0.7925, 3: 0.70}
    baseline = {0: 0.79, 1: 0.80, 2: 0.8025, 9: 0.99}  # seeds 3 and 9 are not shared
    paired = experiments.paired_difference(recipe, baseline)
    assert (paired.better, paired.equal, paired.worse, paired.n) == (1, 1, 1, 3)
    assert paired.mean == pytest.approx((0.02 + 0 - 0.01) / 3)
    assert paired.standard_error == pytest.approx(np.std([0.02, 0, -0.01], ddof=1) / np.sqrt(3))
    assert str(paired).startswith("+0.003 (standard error 0.009, 95% interval -0.035 to "
                                  "+0.041); better on 1, equal on 1")
    # one floating-point step apart (as 0.1 + 0.7 and 0.8 are): still a tie
    tie = experiments.paired_difference({0: 0.8}, {0: 0.8000000000000001})
    assert tie.equal == 1 and np.isnan(tie.standard_error)
    assert np.isnan(tie.interval()[0]) and not tie.clear()
    with pytest.raises(ValueError, match="share no seed"):
        experiments.paired_difference({0: 0.5}, {1: 0.5})


def test_a_paired_difference_is_clear_when_its_t_interval_leaves_out_zero():
    # differences 1, 2, 3: mean 2, standard error 1/sqrt(3); t(0.975, 2 d.f.) = 4.3027
    wide = experiments.paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0, 1: 0, 2: 0})
    half = 4.3027 / np.sqrt(3)
    assert wide.interval() == pytest.approx((2 - half, 2 + half), abs=1e-4)
    assert not wide.clear()  # 2 - 2.484 < 0 < 2 + 2.484
    assert wide.clear(confidence=0.8)  # t(0.9, 2 d.f.) = 1.886: 2 - 1.089 > 0
    narrow = experiments.paired_difference({s: -1.0 - s / 10 for s in range(5)},
                                           {s: 0.0 for s in range(5)})
    assert narrow.interval()[1] < 0 and narrow.clear()
    with pytest.raises(ValueError, match="Received: confidence=95"):
        narrow.interval(95)


def test_images_per_second_counts_images_and_runs_out_clearly():
    batches = [(np.zeros((4, 2)), np.zeros(4))] * 5
    assert experiments.images_per_second(batches, num_batches=3) > 0
    with pytest.raises(ValueError, match="ran out of batches"):
        experiments.images_per_second(batches, num_batches=9)
