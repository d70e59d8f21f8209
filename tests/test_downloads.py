import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from tlhelpers import downloads


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TLHELPERS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _archive(tmp_path):
    path = tmp_path / "served" / "photos.tgz"
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        payload = b"hello"
        info = tarfile.TarInfo("photos/a/readme.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_checks_and_extracts(tmp_path, isolated_cache):
    path, digest = _archive(tmp_path)
    out = downloads.fetch(path.as_uri(), digest, extract=True)
    assert (out / "photos" / "a" / "readme.txt").read_bytes() == b"hello"
    assert downloads.fetch(path.as_uri(), digest, extract=True) == out  # cached


def test_fetch_refuses_a_wrong_checksum(tmp_path, isolated_cache):
    path, _ = _archive(tmp_path)
    with pytest.raises(downloads.DownloadError, match="does not match its SHA-256"):
        downloads.fetch(path.as_uri(), "0" * 64)


def test_fetch_refetches_a_corrupt_cached_copy(tmp_path, isolated_cache):
    path, digest = _archive(tmp_path)
    partial = isolated_cache / "downloads" / "photos.tgz"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"partial")
    out = downloads.fetch(path.as_uri(), digest)
    assert downloads.file_sha256(out) == digest


def test_fetch_offline_names_file_url_and_cache(tmp_path, isolated_cache):
    url = (tmp_path / "nowhere" / "data.tgz").as_uri()
    with pytest.raises(downloads.DownloadError) as info:
        downloads.fetch(url, "0" * 64)
    message = str(info.value)
    assert "data.tgz" in message and url in message
    assert str(isolated_cache / "downloads" / "data.tgz") in message


def test_seed_keras_cache_verifies_and_copies(tmp_path):
    src = tmp_path / "seed" / "models"
    src.mkdir(parents=True)
    (src / "other.h5").write_bytes(b"x")
    copied = downloads.seed_keras_cache(tmp_path / "seed", tmp_path / "home")
    assert [p.name for p in copied] == ["other.h5"]
    (src / "mobilenet_2_5_224_tf_no_top.h5").write_bytes(b"not the real weights")
    with pytest.raises(downloads.DownloadError, match="do not match their known checksum"):
        downloads.seed_keras_cache(tmp_path / "seed", tmp_path / "home")


def test_other_errors_pass_through():
    with pytest.raises(KeyError), downloads.explain_download_failures("x"):
        raise KeyError("unrelated")


def test_keras_cache_folder_is_where_keras_puts_files(tmp_path, monkeypatch):
    import keras.src.backend.config as keras_config

    home = tmp_path / "keras-home"
    home.mkdir()
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home))
    assert downloads.keras_cache_folder("datasets/x") == home / "datasets" / "x"
    # like keras.utils.get_file: an unwritable (here: absent) home falls back to /tmp/.keras
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "absent"))
    assert downloads.keras_cache_folder("datasets/x") == Path("/tmp/.keras/datasets/x")


def test_failed_url_reads_keras_bare_error():
    url = "https://example.org/a/b.gz"
    assert downloads.failed_url(Exception(f"URL fetch failure on {url}: None -- down")) == url
    assert downloads.failed_url(KeyError("other")) is None


def test_fetch_extracts_again_when_the_archive_changes(tmp_path, isolated_cache):
    path, digest = _archive(tmp_path)
    out = downloads.fetch(path.as_uri(), digest, extract=True)
    with tarfile.open(path, "w:gz") as tar:  # another archive under the same name
        info = tarfile.TarInfo("photos/b/other.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    new_digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert downloads.fetch(path.as_uri(), new_digest, extract=True) == out
    assert (out / "photos" / "b" / "other.txt").read_bytes() == b"hi"
    assert not (out / "photos" / "a").exists()


def test_an_interrupted_extraction_leaves_no_half_filled_folder(tmp_path, isolated_cache,
                                                                monkeypatch):
    path, digest = _archive(tmp_path)

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tarfile.TarFile, "extractall", broken)
    with pytest.raises(OSError, match="disk full"):
        downloads.fetch(path.as_uri(), digest, extract=True)
    folder = isolated_cache / "downloads"
    assert sorted(p.name for p in folder.iterdir()) == ["photos.tgz"]  # nothing half-made
    monkeypatch.undo()
    monkeypatch.setenv("TLHELPERS_CACHE", str(isolated_cache))
    out = downloads.fetch(path.as_uri(), digest, extract=True)
    assert (out / "photos" / "a" / "readme.txt").read_bytes() == b"hello"
    assert sorted(p.name for p in folder.iterdir()) == ["photos.tgz", "photos_extracted"]
