from pathlib import Path

import numpy as np
import pytest

from tlhelpers import data
from tlhelpers.downloads import DownloadError


def test_bundled_tiny_set_is_stratified_and_licensed():
    root = data.dataset_path("fashion-mnist-tiny")
    assert (root / "LICENSE").read_text().count("Zalando SE") == 1
    index = data.index_image_folder(root)
    assert index.num_classes == 10
    assert index.counts("train") == [60] * 10
    assert index.counts("val") == [20] * 10
    assert index.counts("test") == [40] * 10
    assert index.sizes == {(28, 28): 1200} and index.modes == {"L": 1200}
    # train and val come from Fashion-MNIST's training set: no image in both
    train_ids = {p.name for p in index.files["train"]}
    assert len(train_ids) == 600 and not train_ids & {p.name for p in index.files["val"]}


def test_pipelines_yield_rgb_batches_and_shuffle_repeatably():
    a = data.load_dataset("fashion-mnist-tiny", (48, 48), batch_size=16, seed=1, verbose=False)
    images, labels = next(iter(a.train_ds))
    assert images.shape == (16, 48, 48, 3) and images.dtype.name == "float32"
    assert labels.shape == (16, 10)
    assert 0.0 <= float(np.min(images)) and float(np.max(images)) <= 255.0
    # a greyscale image becomes three equal channels
    np.testing.assert_allclose(images[..., 0], images[..., 2])
    b = data.load_dataset("fashion-mnist-tiny", (48, 48), batch_size=16, seed=1, verbose=False)
    np.testing.assert_array_equal(labels, next(iter(b.train_ds))[1])
    first_epoch = np.concatenate([y.numpy().argmax(1) for _, y in a.train_ds])
    second_epoch = np.concatenate([y.numpy().argmax(1) for _, y in a.train_ds])
    assert not np.array_equal(first_epoch, second_epoch)  # reshuffled each epoch
    test_labels = np.concatenate([y.numpy().argmax(1) for _, y in a.test_ds])
    np.testing.assert_array_equal(test_labels, a.index.labels["test"])  # fixed order


def test_int_labels_and_report(capsys):
    d = data.load_dataset("fashion-mnist-tiny", (32, 32), label_mode="int")
    _, labels = next(iter(d.val_ds))
    assert labels.shape == (32,)
    out = capsys.readouterr().out
    assert "tshirt_top" in out and "total          600     200     400" in out
    assert "1200 greyscale images: the grey value is copied to R, G and B." in out


def test_unsplit_folder_is_split_stratified_and_seeded(make_folder):
    root = make_folder({"cat": 20, "dog": 20})
    index = data.index_image_folder(root, seed=0)
    assert index.counts("train") == [14, 14]
    assert index.counts("val") == [3, 3] and index.counts("test") == [3, 3]
    again = data.index_image_folder(root, seed=0)
    assert again.files == index.files
    all_files = sum((index.files[s] for s in ("train", "val", "test")), [])
    assert len(set(all_files)) == 40  # nothing lost, nothing twice


def test_unknown_dataset_and_bad_arguments(make_folder, tmp_path):
    with pytest.raises(ValueError, match="Unknown data set.*'flowers'"):
        data.dataset_path("imagenet")
    with pytest.raises(data.ImageFolderError, match="'flower' is neither a data set.*'flowers'"):
        data.load_dataset("flower", (32, 32))
    own = data.load_dataset(make_folder({"x": 10, "y": 10}), (16, 16), verbose=False)
    assert own.class_names == ["x", "y"]
    root = make_folder({"a": 10, "b": 10})
    with pytest.raises(ValueError, match="label_mode='binary'"):
        data.load_image_folder(root, (32, 32), label_mode="binary")
    with pytest.raises(ValueError, match=r"image_size=\(32,\)"):
        data.load_image_folder(root, (32,))


def test_fashion_mnist_arrays_from_debian_files():
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    assert x_train.shape == (60_000, 28, 28) and x_test.shape == (10_000, 28, 28)
    assert x_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_fashion_mnist_missing_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-labels-idx1-ubyte\.gz.*make fashion-mnist"):
        data.load_fashion_mnist(tmp_path)


def test_downloaded_dataset_is_fetched_checked_extracted_and_split(tmp_path, monkeypatch):
    """The `full` profile's path, offline: a flower-photos-like archive served from disk."""
    import dataclasses
    import hashlib
    import tarfile

    from tests.conftest import write_png

    photos = tmp_path / "src" / "flower_photos"
    for k, kind in enumerate(("daisy", "roses")):
        for i in range(10):
            write_png(photos / kind / f"{i}.png", value=20 * i + k)
    (photos / "LICENSE.txt").write_text("photos: CC-BY")
    archive = tmp_path / "flower_photos.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(photos, arcname="flower_photos")
    spec = dataclasses.replace(data.DATASETS["flowers"], url=archive.as_uri(),
                               sha256=hashlib.sha256(archive.read_bytes()).hexdigest())
    monkeypatch.setitem(data.DATASETS, "flowers", spec)
    monkeypatch.setenv("TLHELPERS_CACHE", str(tmp_path / "cache"))
    loaded = data.load_dataset("flowers", (32, 32), batch_size=4, verbose=False)
    assert loaded.class_names == ["daisy", "roses"]
    assert [loaded.index.counts(s) for s in ("train", "val", "test")] == [[6, 6], [2, 2], [2, 2]]
    assert [p.name for p in loaded.index.skipped] == ["LICENSE.txt"]
    assert str(tmp_path / "cache" / "downloads") in str(loaded.index.root)


def test_bundled_tiny_set_uses_its_three_split_folders_as_they_are(capsys):
    index = data.index_image_folder(data.dataset_path("fashion-mnist-tiny"))
    assert index.split_sources == {"train": "from train/", "val": "from val/",
                                   "test": "from test/"}
    assert "from" not in index.report() and "carved" not in index.report()


def test_load_dataset_takes_the_options_its_errors_recommend(make_folder):
    from tests.conftest import write_png

    root = make_folder({"a": 10, "b": 10})
    (root / "a" / "notes.txt").write_text("hi")
    write_png(root / "b" / "dot.png", size=(4, 4))
    with pytest.raises(data.ImageFolderError,
                       match="(?s)skip_non_images=True.*smaller `min_side`") as info:
        data.load_dataset(root, (16, 16), verbose=False)
    assert [p.kind for p in info.value.problems] == ["not_an_image", "too_small"]
    loaded = data.load_dataset(root, (16, 16), verbose=False, skip_non_images=True, min_side=4,
                               val_fraction=0.2, test_fraction=0.1)
    assert loaded.index.skipped == [root / "a" / "notes.txt"]
    assert [loaded.index.counts(s) for s in ("train", "val", "test")] == [
        [7, 8], [2, 2], [1, 1]]
    assert sum(int(x.shape[0]) for x, _ in loaded.test_ds) == 2


def test_fashion_mnist_offline_says_where_keras_keeps_it(tmp_path, monkeypatch):
    """Debian's files absent and no internet (simulated): a data set error, not a weights
    error, naming the folder Keras really downloads Fashion-MNIST into."""
    import urllib.error

    import keras.src.backend.config as keras_config
    import keras.src.utils.file_utils as keras_file_utils

    from tlhelpers import downloads

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    (tmp_path / "keras-home").mkdir()  # as Keras makes its home when imported
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras-home"))
    monkeypatch.setattr(keras_file_utils, "urlretrieve", offline)
    with pytest.raises(downloads.DatasetUnavailableError) as info:
        data.load_fashion_mnist()
    err, message = info.value, str(info.value)
    assert isinstance(err, downloads.DownloadError)
    assert not isinstance(err, downloads.WeightsUnavailableError)
    assert "weights" not in message.lower()
    assert f"not in {tmp_path / 'absent'}" in message
    url = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/train-labels-idx1-ubyte.gz"
    assert f"URL fetch failure on {url}" in message and "offline (test)" in message
    cache = tmp_path / "keras-home" / "datasets" / "fashion-mnist"
    assert f"Keras cache: {cache}\n" in message
    assert cache.is_dir()  # Keras made this very folder for the download that failed
    for fix in ("make fashion-mnist", "apt-get install dataset-fashion-mnist", "internet"):
        assert fix in message
    assert all(name in message for name in data.FASHION_MNIST_FILES)


def test_fashion_mnist_other_keras_errors_pass_through(tmp_path, monkeypatch):
    import keras

    def broken():
        raise OSError("Not a gzipped file")

    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", broken)
    with pytest.raises(OSError, match="Not a gzipped file"):
        data.load_fashion_mnist()


def test_load_image_reads_a_file_exactly_as_the_pipeline_does(tmp_path):
    from PIL import Image

    from tlhelpers import data

    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        for name in ("cat", "dog"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                pixels = rng.integers(0, 256, (13, 17), dtype=np.uint8)
                Image.fromarray(pixels, "L").save(folder / f"{i}.png")
    loaded = data.load_dataset(tmp_path, (20, 24), batch_size=4, verbose=False)
    batch = next(iter(loaded.test_ds))[0].numpy()
    first = loaded.index.files["test"][0]
    np.testing.assert_array_equal(data.load_image(first, (20, 24)), batch[0])
    with pytest.raises(FileNotFoundError, match="No image file at"):
        data.load_image(tmp_path / "missing.png", (20, 24))


def test_a_cached_pipeline_gives_the_same_images_and_reshuffles_every_epoch():
    from tlhelpers import data

    plain = data.load_dataset("fashion-mnist-tiny", (32, 32), batch_size=600, verbose=False)
    cached = data.load_dataset("fashion-mnist-tiny", (32, 32), batch_size=600, verbose=False,
                               cache=True)
    first, second = (next(iter(cached.train_ds)) for _ in range(2))
    assert not np.array_equal(first[1].numpy(), second[1].numpy())  # another order
    reference = next(iter(plain.train_ds))[0].numpy()
    for batch in (first, second):
        images = batch[0].numpy()
        assert sorted(map(bytes, images.reshape(600, -1).astype(np.uint8))) == \
            sorted(map(bytes, reference.reshape(600, -1).astype(np.uint8)))
    np.testing.assert_array_equal(next(iter(cached.test_ds))[0].numpy(),
                                  next(iter(plain.test_ds))[0].numpy())


def _no_downloads(monkeypatch):
    """Records every call of `keras.utils.get_file` that would go to the network."""
    import keras

    calls = []
    real_get_file = keras.utils.get_file

    def get_file(fname, origin, file_hash=None, cache_subdir="datasets", **kwargs):
        calls.append((fname, file_hash))
        target = Path(cache_subdir) / fname
        if not target.is_file():
            raise Exception(f"URL fetch failure on {origin}: None -- offline in this test")
        return real_get_file(fname, origin, file_hash=file_hash, cache_subdir=cache_subdir,
                             **kwargs)

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    return calls


def _install(stand_ins, monkeypatch):
    from tests import stand_ins as harness

    harness.install(**stand_ins.spec, setattr=monkeypatch.setattr,
                    setitem=monkeypatch.setitem)


def test_stand_in_flowers_come_from_the_cache_checked_and_say_so(stand_ins, monkeypatch,
                                                                 capsys):
    """The test harness's stand-in archive goes through the real download code: found in
    the cache under the real file name, checked against its own SHA-256, extracted."""
    calls = _no_downloads(monkeypatch)
    _install(stand_ins, monkeypatch)
    folder = data.dataset_path("flowers")
    assert folder == stand_ins.cache / "downloads" / "flower_photos_extracted" / "flower_photos"
    assert calls == [("flower_photos.tgz", stand_ins.sha256)]
    assert capsys.readouterr().err == (
        "STAND-IN: data set 'flowers' from a stand-in archive, not the real flower_photos.tgz "
        "(test only)\n")
    loaded = data.load_dataset("flowers", (224, 224), batch_size=32, verbose=False)
    assert loaded.class_names == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    assert [loaded.index.counts(s) for s in ("train", "val", "test")] == [
        [6] * 5, [1] * 5, [1] * 5]
    assert [p.name for p in loaded.index.skipped] == ["LICENSE.txt"]
    images, labels = next(iter(loaded.train_ds))
    assert images.shape == (30, 224, 224, 3) and labels.shape == (30, 5)


def test_a_cached_archive_with_another_checksum_is_fetched_again(stand_ins, monkeypatch):
    """Without the harness, the real checksum is asked for: the stand-in archive in the
    cache does not match it, so Keras goes to the network (which fails offline here)."""
    calls = _no_downloads(monkeypatch)
    (stand_ins.cache / "downloads" / "flower_photos.tgz").unlink()
    with pytest.raises(DownloadError, match="Could not download flower_photos.tgz"):
        data.dataset_path("flowers")
    assert calls == [("flower_photos.tgz", data.DATASETS["flowers"].sha256)]


def test_class_subset_draws_relabels_and_repeats():
    labels = np.repeat(np.arange(4), 10)
    images = np.arange(40)[:, None] * np.ones((1, 3))
    x, y = data.class_subset(images, labels, [3, 1], 12, seed=5)
    assert len(x) == 12 and sorted(set(y.tolist())) == [0, 1]
    # relabelled by position in `classes`: 3 -> 0, 1 -> 1; the images keep their order
    np.testing.assert_array_equal(np.where(y == 0, 3, 1), labels[x[:, 0].astype(int)])
    assert np.all(np.diff(x[:, 0]) > 0)
    x2, y2 = data.class_subset(images, labels, [3, 1], 12, seed=5)
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(x, data.class_subset(images, labels, [3, 1], 12, seed=6)[0])
    for classes, count, message in (([1, 1], 3, "distinct"), ([7], 3, r"\[7\] absent"),
                                    ([0], 11, "between 1 and 10"), ([], 1, "distinct")):
        with pytest.raises(ValueError, match=message):
            data.class_subset(images, labels, classes, count)
