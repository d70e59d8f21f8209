"""The run folder: a marker, no foreign file ever written over or deleted, atomic writes."""

import json
import os

import pytest

from tlhelpers.report import Report
from tlhelpers.rundir import MARKER, RunDirError, RunFolder, new_file_mode, resolved


def test_a_new_or_empty_folder_is_marked_and_written_atomically(tmp_path):
    folder = RunFolder.open(tmp_path / "runs" / "a")
    # nothing is created before the first file: a run that stops early leaves no folder
    assert not (tmp_path / "runs").exists()
    folder.write_json("config.json", {"name": "日本 $5"})
    assert json.loads((folder / "config.json").read_text(encoding="utf-8")) == {"name": "日本 $5"}
    assert folder.owns("config.json")
    assert (folder / MARKER).is_file()
    assert sorted(p.name for p in folder.path.iterdir()) == ["config.json", MARKER]  # no temp
    reopened = RunFolder.open(tmp_path / "runs" / "a")
    assert reopened.owns("config.json") and reopened.is_run()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_text("")  # the system's files do not make a folder someone's
    assert RunFolder.open(empty).written == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_get_the_permissions_of_any_new_file_not_tempfile_s_private_ones(
        tmp_path, umask):
    old = os.umask(umask)
    try:
        folder = RunFolder.open(tmp_path / "run")
        folder.write_json("config.json", {})
        Report("a report").write(folder / "report.html")
        expected = 0o644 if umask == 0o022 else 0o600
        assert new_file_mode() == expected
        for name in ("config.json", MARKER, "report.html"):
            assert (folder / name).stat().st_mode & 0o777 == expected, name
    finally:
        os.umask(old)


def test_a_folder_of_someone_s_files_is_refused_and_left_as_it_is(tmp_path):
    theirs = tmp_path / "thesis"
    theirs.mkdir()
    (theirs / "config.json").write_text("their own settings")
    (theirs / "model.keras").write_bytes(b"their model")
    before = {p.name: p.read_bytes() for p in theirs.iterdir()}
    with pytest.raises(RunDirError, match=r"is not empty and is not the folder of an earlier "
                                          r"run \(it has no tl-run.json\): it holds config.json, "
                                          r"model.keras\. Nothing was written there"):
        RunFolder.open(theirs)
    assert {p.name: p.read_bytes() for p in theirs.iterdir()} == before
    with pytest.raises(RunDirError, match="is a file, not a folder"):
        RunFolder.open(theirs / "config.json")


def test_a_run_never_writes_over_nor_deletes_a_file_it_did_not_write(tmp_path):
    folder = RunFolder.open(tmp_path / "run")
    folder.write_text("report.html", "ours")
    (folder / "notes.txt").write_text("the user's notes")  # added later by the user
    (folder / "model.keras").write_text("the user's own model")
    with pytest.raises(RunDirError, match="model.keras exists and was not written by this run"):
        folder.write_bytes("model.keras", b"ours")
    assert (folder / "model.keras").read_text() == "the user's own model"
    assert folder.clear() == ["report.html"]
    assert sorted(p.name for p in folder.path.iterdir()) == sorted([MARKER, "model.keras",
                                                                    "notes.txt"])


def test_only_plain_names_inside_the_folder(tmp_path):
    folder = RunFolder.open(tmp_path / "run")
    for name in ("../escape.txt", "sub/file.txt", MARKER, ""):
        with pytest.raises(ValueError, match="directly in its folder"):
            folder.write_text(name, "x")


def test_a_marker_that_cannot_be_read_is_named(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / MARKER).write_text("{broken")
    with pytest.raises(RunDirError, match="cannot be read .* Choose a new RUN_DIR"):
        RunFolder.open(tmp_path / "run")


def test_paths_compare_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    os.symlink(tmp_path / "photos", tmp_path / "link")
    assert resolved("./photos") == resolved("photos") == resolved(tmp_path / "photos") \
        == resolved("link")
