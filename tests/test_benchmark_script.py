"""scripts/benchmark_train.py: its paired comparison, its table and its folder checks
(the runs themselves train for minutes; they are not repeated here)."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark_train.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_counts_seeds_won_tied_and_lost(bench):
    scores = [{"accuracy": a} for a in (0.80, 0.75, 0.70, 0.90)]
    baseline = [{"accuracy": a} for a in (0.70, 0.75, 0.80, 0.80)]
    line = bench.paired(scores, baseline)
    # differences +0.10, 0, -0.10, +0.10: mean +0.025, sample sd 0.0957 -> se 0.0479;
    # t(0.975, 3 d.f.) = 3.182 -> +0.025 -/+ 0.152
    assert line == ("accuracy +0.025 (standard error 0.048, 95% interval -0.127 to "
                    "+0.177); better on 2, equal on 1, worse on 1 of 4 seeds")


def test_paired_refuses_scores_of_other_seeds(bench):
    with pytest.raises(ValueError):
        bench.paired([{"accuracy": 0.8}], [{"accuracy": 0.7}, {"accuracy": 0.6}])


def test_record_appends_rows_with_the_machine(bench, tmp_path):
    table = tmp_path / "runs.csv"
    bench.record(str(table), "digits", bench.BASELINE, 0,
                 {"accuracy": 0.96875, "balanced": 0.9}, 12.4)
    bench.record(str(table), "digits", "tl-train, defaults", 0,
                 {"accuracy": 0.97, "balanced": 0.91}, 30.0)
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["recipe"] for r in rows] == [bench.BASELINE, "tl-train, defaults"]
    assert rows[0]["test_accuracy"] == "0.9688" and rows[0]["seconds"] == "12"
    assert {"cpu_cores", "keras", "tensorflow", "date"} <= set(rows[0])


def test_digits_folder_has_every_class(bench, tmp_path):
    root = bench.digits_folder(tmp_path / "digits", counts={3: 2, 7: 1}, side=16)
    assert sorted(p.name for p in root.iterdir()) == ["3", "7"]
    assert len(list((root / "3").glob("*.png"))) == 2


def test_a_wrong_folder_is_named_before_anything_trains(tmp_path):
    missing = tmp_path / "no such folder"
    done = subprocess.run([sys.executable, str(SCRIPT), "--folders", "--add", str(missing)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "is not a folder" in done.stderr and "no such folder" in done.stderr
    # two folders of one name would mix their rows in the table: refused, both named
    for sub in ("a/birds", "b/birds", "digits"):
        (tmp_path / sub).mkdir(parents=True)
    for argv in (["--folders", "--add", str(tmp_path / "a/birds"), str(tmp_path / "b/birds")],
                 ["--folders", "digits", "--add", str(tmp_path / "digits")]):
        done = subprocess.run([sys.executable, str(SCRIPT), *argv],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "Rename one" in done.stderr, done.stderr
        assert "has the name" in done.stderr


def test_the_class_weight_recipe_runs_on_the_imbalanced_folder_only(bench):
    everything = list(bench.RECIPES)
    weighted = "tl-train, --class-weight balanced"
    assert weighted in bench.recipes_for("imbalanced", everything)
    assert bench.recipes_for("digits", everything) == [r for r in everything if r != weighted]
    assert bench.recipes_for("birds", [weighted, bench.BASELINE]) == [bench.BASELINE]
