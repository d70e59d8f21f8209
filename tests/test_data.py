import numpy as np
import pytest

from tests.conftest import write_png
from tlhelpers import data
from tlhelpers.data import ImageFolderError


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
    assert "1200 images not in RGB are converted to RGB" in out


def test_unsplit_folder_is_split_stratified_and_seeded(make_folder):
    root = make_folder({"cat": 20, "dog": 20})
    index = data.index_image_folder(root, seed=0)
    assert index.counts("train") == [14, 14]
    assert index.counts("val") == [3, 3] and index.counts("test") == [3, 3]
    again = data.index_image_folder(root, seed=0)
    assert again.files == index.files
    all_files = sum((index.files[s] for s in ("train", "val", "test")), [])
    assert len(set(all_files)) == 40  # nothing lost, nothing twice


def test_missing_folder(tmp_path):
    with pytest.raises(ImageFolderError, match=r"does not exist.*Check the path"):
        data.index_image_folder(tmp_path / "nope")


def test_empty_class_folder_is_named(make_folder):
    root = make_folder({"train/a": 2, "train/b": 0, "val/a": 1, "val/b": 1,
                        "test/a": 1, "test/b": 1})
    with pytest.raises(ImageFolderError, match=r"class folder .*train/b is empty"):
        data.index_image_folder(root)


def test_non_image_files_are_listed(make_folder):
    root = make_folder({"a": 5, "b": 5})
    (root / "a" / "notes.txt").write_text("hi")
    with pytest.raises(ImageFolderError, match=r"(?s)not images.*notes\.txt.*Move or delete"):
        data.index_image_folder(root)


def test_corrupt_image_is_named(make_folder):
    root = make_folder({"a": 5, "b": 5})
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(ImageFolderError, match=r"(?s)cannot be decoded.*broken\.png"):
        data.index_image_folder(root)


def test_single_class(make_folder):
    root = make_folder({"only": 10})
    with pytest.raises(ImageFolderError, match="single class folder.*at least two"):
        data.index_image_folder(root)


def test_splits_with_different_classes(make_folder):
    root = make_folder({"train/a": 2, "train/b": 2, "val/a": 1, "val/c": 1,
                        "test/a": 1, "test/b": 1})
    with pytest.raises(ImageFolderError, match=r"missing \['b'\], extra \['c'\]"):
        data.index_image_folder(root)


def test_images_outside_class_folders(make_folder, tmp_path):
    root = make_folder({"a": 3, "b": 3})
    write_png(root / "stray.png")
    with pytest.raises(ImageFolderError, match=r"images at its top.*stray\.png"):
        data.index_image_folder(root)


def test_too_few_images_to_split(make_folder):
    root = make_folder({"a": 1, "b": 10})
    with pytest.raises(ImageFolderError, match=r"val split has no image of \['a'\]"):
        data.index_image_folder(root)


def test_hidden_files_are_ignored(make_folder):
    root = make_folder({"a": 10, "b": 10})
    (root / "a" / ".DS_Store").write_bytes(b"\x00\x01")
    assert data.index_image_folder(root).num_classes == 2


def test_unknown_dataset_and_bad_arguments(make_folder):
    with pytest.raises(ValueError, match="Unknown data set.*'flowers'"):
        data.dataset_path("imagenet")
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
