"""One test per messy-folder case: the error names the offending file and the fix, or the
conversion is reported; one folder with every kind of mess at once, reported in one error;
split folders recognised by name, and missing splits carved out of train. Plus a property
test: random corruption never escapes as anything but the validator's own clear error."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import write_png
from tlhelpers import data, folders, training
from tlhelpers.data import ImageFolderError


def check(root, pattern, **kwargs):
    with pytest.raises(ImageFolderError, match=f"(?s){pattern}") as info:
        data.index_image_folder(root, **kwargs)
    return str(info.value)


def test_missing_path(tmp_path):
    message = check(tmp_path / "nope", r"nope does not exist.*Check the path")
    assert str(tmp_path / "nope") in message


def test_a_file_instead_of_a_folder(tmp_path):
    write_png(tmp_path / "one.png")
    check(tmp_path / "one.png", r"Not a folder: .*one\.png.*one sub-folder per class")


def test_no_class_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    check(tmp_path / "empty",
          r"no class folders.*/empty\n.*Lay out the images as .*empty/<class>/<image>")


def test_images_at_the_top_instead_of_in_class_folders(make_folder):
    root = make_folder({"a": 3, "b": 3})
    write_png(root / "stray.png")
    check(root, r"Images at the top of a folder that should hold class folders.*stray\.png.*"
          r"Move each image into the folder of its class")


def test_empty_class_folder(make_folder):
    root = make_folder({"train/a": 2, "train/b": 0, "val/a": 1, "val/b": 1,
                        "test/a": 1, "test/b": 1})
    check(root, r"Class folders without a usable image.*train/b\n.*Add images of class 'b'")


def test_single_class(make_folder):
    check(make_folder({"only": 10}), r"single class folder \('only'\).*at least two")


def test_non_image_files_stop_by_default(make_folder):
    root = make_folder({"a": 5, "b": 5})
    (root / "a" / "notes.txt").write_text("hi")
    check(root, r"not images.*a/notes\.txt.*skip_non_images=True")


def test_non_image_files_skipped_only_when_asked_and_reported(make_folder):
    root = make_folder({"a": 10, "b": 10})
    (root / "a" / "notes.txt").write_text("hi")
    loaded = data.load_image_folder(root, (16, 16), skip_non_images=True, verbose=False)
    assert loaded.index.skipped == [root / "a" / "notes.txt"]
    assert "left out: 1 file(s): a/notes.txt" in loaded.index.report()
    assert sum(len(f) for f in loaded.index.files.values()) == 20


def test_files_beside_the_class_folders_are_reported(make_folder):
    root = make_folder({"a": 10, "b": 10})
    (root / "LICENSE.txt").write_text("CC-BY")
    index = data.index_image_folder(root)
    assert index.skipped == [root / "LICENSE.txt"]
    assert "left out: 1 file(s): LICENSE.txt" in index.report()


def test_corrupt_image(make_folder):
    root = make_folder({"a": 5, "b": 5})
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    check(root, r"cannot be decoded.*b/broken\.png.*Delete or replace")


def test_truncated_jpeg(make_folder):
    root = make_folder({"a": 5, "b": 5})
    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(root / "a" / "photo.jpg", quality=95)
    full = (root / "a" / "photo.jpg").read_bytes()
    (root / "a" / "photo.jpg").write_bytes(full[: len(full) // 2])
    check(root, r"cannot be decoded.*a/photo\.jpg.*truncated")


def test_unsupported_format_by_extension(make_folder):
    root = make_folder({"a": 5, "b": 5})
    Image.new("RGB", (16, 16)).save(root / "b" / "scan.tiff")
    check(root, r"format TensorFlow cannot decode.*b/scan\.tiff.*convert\('RGB'\)")


def test_unsupported_format_behind_an_image_name(make_folder):
    root = make_folder({"a": 5, "b": 5})
    Image.new("RGB", (16, 16)).save(root / "b" / "fake.png", format="TIFF")
    check(root, r"hold a format TensorFlow cannot decode.*b/fake\.png \(really TIFF\)")


def test_image_too_small(make_folder):
    root = make_folder({"a": 5, "b": 5})
    write_png(root / "a" / "dot.png", size=(4, 30))
    check(root, r"smaller than 8 pixels.*a/dot\.png \(4x30\).*smaller `min_side`")
    data.index_image_folder(root, min_side=4)


def test_splits_with_different_classes(make_folder):
    root = make_folder({"train/a": 2, "train/b": 2, "val/a": 1, "val/c": 1,
                        "test/a": 1, "test/b": 1})
    check(root, r"differ from those of the train split.*/val \(missing \['b'\], extra \['c'\]\)")


def test_too_few_images_to_split(make_folder):
    check(make_folder({"a": 1, "b": 10}),
          r"too few images to split.*/a \(1 image, none for val or test\).*train/")


def test_hidden_and_system_files_are_left_out_and_reported(make_folder):
    root = make_folder({"a": 10, "b": 10})
    (root / "a" / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "b" / "Thumbs.db").write_bytes(b"\x00")
    (root / ".hidden_class").mkdir()
    write_png(root / ".hidden_class" / "x.png")
    index = data.index_image_folder(root)
    assert index.class_names == ["a", "b"]
    assert {p.name for p in index.skipped} == {".DS_Store", "Thumbs.db", ".hidden_class"}
    assert "left out: 3 file(s)" in index.report()


def test_colour_modes_are_converted_to_rgb_and_reported(tmp_path):
    root = tmp_path / "modes"
    rng = np.random.default_rng(0)  # every image different: copies would stay in train

    def rgb():
        return rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)

    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        Image.fromarray(rgb()).convert("L").save(root / cls / "grey.png")
        Image.fromarray(rgb()).convert("RGBA").save(root / cls / "rgba.png")
        Image.fromarray(rgb()).convert("CMYK").save(root / cls / "cmyk.jpg")
        Image.fromarray(rgb()[..., 0].astype(np.uint16) * 257).save(root / cls / "deep.png")
        Image.fromarray(rgb()).convert("P").save(root / cls / "palette.gif")
        for i in range(5):
            Image.fromarray(rgb()).save(root / cls / f"rgb{i}.png")
    index = data.index_image_folder(root)
    report = index.report()
    assert index.modes["CMYK"] == 2 and index.modes["I;16"] == 2
    for text in ("greyscale images", "alpha channel is dropped", "CMYK JPEG",
                 "16-bit images: scaled to 8 bits", "palette images"):
        assert text in report
    loaded = data.load_image_folder(root, (20, 20), batch_size=64, verbose=False)
    images = np.concatenate([x.numpy() for x, _ in loaded.train_ds])
    assert images.shape[-1] == 3 and images.max() <= 255.0


def test_class_count_disagreeing_with_the_head(make_folder):
    import keras

    root = make_folder({"a": 10, "b": 10, "c": 10})
    loaded = data.load_image_folder(root, (8, 8), verbose=False)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")], name="ten")
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"'ten' predicts 10 classes, but the data has 3.*"
                                         r"num_classes=len\(class_names\)"):
        training.fit(model, loaded.train_ds, epochs=1)


def test_non_ascii_names(tmp_path):
    root = tmp_path / "bilder"
    for k, cls in enumerate(("café", "日本")):
        for i in range(10):
            write_png(root / cls / f"naïve-{i}.png", value=25 * i + k)
    loaded = data.load_image_folder(root, (16, 16), verbose=False)
    assert loaded.class_names == ["café", "日本"]
    assert sum(int(x.shape[0]) for x, _ in loaded.train_ds) == 12


def test_symbolic_links_are_followed(make_folder, tmp_path):
    root = make_folder({"a": 10})
    elsewhere = make_folder({"b": 10}, root_name="elsewhere")
    os.symlink(elsewhere / "b", root / "b")  # a linked class folder
    os.symlink(root / "a" / "0.png", root / "a" / "link.png")  # a linked file
    os.symlink(root / "a", root / "a" / "loop")  # a link back up: visited once
    index = data.index_image_folder(root)
    assert index.class_names == ["a", "b"]
    assert sum(index.counts(s)[0] for s in ("train", "val", "test")) == 11


def test_broken_symbolic_link(make_folder):
    root = make_folder({"a": 10, "b": 10})
    os.symlink(root / "nowhere.png", root / "a" / "gone.png")
    check(root, r"Broken symbolic links.*a/gone\.png.*Fix the links")


def test_one_error_lists_every_problem_of_a_messy_folder(make_folder):
    """Every case above at once (but a folder without class folders, which needs a split
    folder that is neither compared nor carved), found in one pass."""
    root = make_folder({"train/a": 1, "val/a": 1, "val/c": 0}, root_name="messy")
    (root / "LICENSE").write_text("CC-BY")  # beside the split folders: not a problem
    (root / "train" / "a" / ".DS_Store").write_bytes(b"\x00")  # hidden: not a problem
    a = root / "train" / "a"
    expected = {
        "images_at_top": [write_png(root / "train" / "stray.png")],
        "broken_link": [a / "gone.png"],
        "single_class": [a],
        "classes_differ": [root / "val"],
        "empty_class": [root / "val" / "c"],
        "not_an_image": [a / "notes.txt"],
        "unsupported_extension": [a / "scan.tiff"],
        "unsupported_content": [a / "fake.png"],
        "corrupt_image": [a / "broken.png", a / "photo.jpg"],
        "too_small": [write_png(a / "dot.png", size=(4, 30))],
        "empty_after_split": [a],
    }
    os.symlink(root / "nowhere.png", a / "gone.png")
    (a / "notes.txt").write_text("hi")
    Image.new("RGB", (16, 16)).save(a / "scan.tiff")
    Image.new("RGB", (16, 16)).save(a / "fake.png", format="TIFF")
    (a / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(a / "photo.jpg", quality=95)
    (a / "photo.jpg").write_bytes((a / "photo.jpg").read_bytes()[:2000])

    with pytest.raises(ImageFolderError) as info:
        data.index_image_folder(root)  # test: carved out of train/, gets none of 'a'
    err, message = info.value, str(info.value)
    assert isinstance(err, ValueError)
    assert [p.kind for p in err.problems] == [k for k in folders.PROBLEM_KINDS if k in expected]
    assert {p.kind: sorted(p.paths) for p in err.problems} == {
        kind: sorted(paths) for kind, paths in expected.items()}
    assert message.startswith(f"The image folder {root} has 12 problems of 11 kinds; nothing "
                              "was loaded. Fix them all, then load it again:")
    for i, problem in enumerate(err.problems, 1):
        assert f"\n\n{i}. {problem.summary}:\n" in message
        assert f"   Fix: {problem.fix}" in message
        for line in problem.lines():
            assert f"\n     {line}\n" in message
    for text in ("single class folder ('a')", "val (missing [], extra ['c'])", "(4x30)",
                 "fake.png (really TIFF)", "a (1 image, none for test)", "Delete or replace",
                 "skip_non_images=True", "Add images of class 'c'", "photo.jpg (OSError",
                 "broken.png (UnidentifiedImageError: cannot identify image file)"):
        assert text in message
    assert "LICENSE" not in message and ".DS_Store" not in message


def test_long_lists_are_cut_and_counted(make_folder):
    root = make_folder({"a": 10, "b": 10})
    for i in range(25):
        (root / "a" / f"note{i:02}.txt").write_text("hi")
    with pytest.raises(ImageFolderError, match=r"(?s)not images \(.*\):.*note19\.txt\n"
                                               r"     \.\.\. and 5 more\n") as info:
        data.index_image_folder(root)
    assert "note20.txt" not in str(info.value)
    [problem] = info.value.problems
    assert problem.kind == "not_an_image" and len(problem.paths) == 25  # all kept as data
def test_split_folders_are_recognised_by_any_of_their_names(make_folder):
    root = make_folder({"Training/a": 2, "Training/b": 2, "VALIDATION/a": 1, "VALIDATION/b": 1,
                        "testing/a": 1, "testing/b": 1})
    index = data.index_image_folder(root)
    assert index.class_names == ["a", "b"]
    assert [index.counts(s) for s in ("train", "val", "test")] == [[2, 2], [1, 1], [1, 1]]
    assert index.split_sources == {"train": "from Training/", "val": "from VALIDATION/",
                                   "test": "from testing/"}
    assert "\ntrain: from Training/\nval: from VALIDATION/\ntest: from testing/\n" in index.report()


def test_train_and_val_folders_alone_are_not_two_classes(make_folder):
    root = make_folder({"train/cat": 20, "train/dog": 20, "val/cat": 4, "val/dog": 4})
    index = data.index_image_folder(root)
    assert index.class_names == ["cat", "dog"]
    assert [index.counts(s) for s in ("train", "val", "test")] == [[17, 17], [4, 4], [3, 3]]
    assert all(p.parent.parent.name == "val" for p in index.files["val"])
    assert all(p.parent.parent.name == "train" for p in index.files["test"])
    assert not set(index.files["test"]) & set(index.files["train"])
    assert index.split_sources["val"] == "from val/"
    assert index.split_sources["test"] == "carved from train/ (15% of each class, seed 0)"
    report = index.report()
    assert "\ntrain: from train/, less the images carved out for test\n" in report
    assert "\ntest: carved from train/ (15% of each class, seed 0)\n" in report
    assert "val:" not in report  # taken as it is from val/
    assert data.index_image_folder(root).files == index.files  # seeded
    other = data.index_image_folder(root, seed=1, test_fraction=0.25)
    assert other.counts("test") == [5, 5] and other.files["test"] != index.files["test"]
    assert "test: carved from train/ (25% of each class, seed 1)" in other.report()


def test_a_train_folder_alone_is_carved_into_three_splits(make_folder):
    root = make_folder({"train/cat": 20, "train/dog": 20})
    index = data.index_image_folder(root)
    assert [index.counts(s) for s in ("train", "val", "test")] == [[14, 14], [3, 3], [3, 3]]
    assert index.split_sources["val"] == "carved from train/ (15% of each class, seed 0)"


def test_an_unsplit_folder_reports_where_its_splits_come_from(make_folder):
    index = data.index_image_folder(make_folder({"cat": 20, "dog": 20}), seed=2)
    assert index.split_sources == {
        "train": "from the class folders, less the images carved out for val and test",
        "val": "carved from the class folders (15% of each class, seed 2)",
        "test": "carved from the class folders (15% of each class, seed 2)"}


def test_split_folders_without_train(make_folder):
    root = make_folder({"val/a": 2, "val/b": 2, "Test/a": 2, "Test/b": 2})
    message = check(root, r"without a train/ \(or training/\) folder.*/Test \(the test split\)\n"
                          r".*/val \(the val split\)\n.*Fix: Add a train/ folder")
    assert "1 problem" not in message


def test_two_folders_for_one_split(make_folder):
    root = make_folder({"train/a": 5, "train/b": 5, "val/a": 2, "val/b": 2,
                        "validation/a": 2, "validation/b": 2})
    with pytest.raises(ImageFolderError, match=r"(?s)Two folders for one split.*/val \(the val "
                       r"split\)\n.*/validation \(the val split\)\n.*Keep one folder per split"
                       ) as info:
        data.index_image_folder(root)
    assert [p.kind for p in info.value.problems] == ["duplicate_split"]


def test_split_folders_beside_class_folders(make_folder):
    root = make_folder({"train/a": 5, "train/b": 5, "val/a": 2, "val/b": 2, "cats": 3,
                        "dogs": 3})
    with pytest.raises(ImageFolderError) as info:
        data.index_image_folder(root)
    [problem] = info.value.problems
    assert problem.kind == "split_beside_other_folders"
    assert dict(zip(problem.paths, problem.details, strict=True)) == {
        root / "cats": "not a split name", root / "dogs": "not a split name",
        root / "train": "the train split", root / "val": "the val split"}
    assert "either split folders or class folders, not both" in str(info.value)
    assert f"{root / 'cats'} (not a split name)" in str(info.value)


def test_images_beside_split_folders_are_a_problem(make_folder):
    root = make_folder({"train/a": 10, "train/b": 10})
    write_png(root / "lost.png")
    check(root, r"Images at the top.*lost\.png\n")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["truncate", "flip", "garbage",
                                                               "empty", "zero"]),
                          st.integers(0, 10_000)), min_size=1, max_size=4))
def test_random_corruption_raises_only_the_validators_error(tmp_path_factory, corruptions):
    root = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    paths = []
    for cls in ("a", "b"):
        for i in range(4):
            path = root / cls / f"{i}.{'png' if i % 2 else 'jpg'}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
            paths.append(path)
    for which, how, where in corruptions:
        path = paths[which]
        raw = bytearray(path.read_bytes())
        if not raw:  # emptied by an earlier corruption
            continue
        if how == "truncate":
            raw = raw[: where % max(1, len(raw))]
        elif how == "flip":
            raw[where % len(raw)] ^= 0xFF
        elif how == "garbage":
            raw = bytearray(np.random.default_rng(where).bytes(where % 500))
        elif how == "empty":
            raw = bytearray()
        else:
            raw[where % len(raw):] = bytes(len(raw) - where % len(raw))
        path.write_bytes(bytes(raw))
    try:
        index = data.index_image_folder(root, seed=0, val_fraction=0.25, test_fraction=0.25)
    except ImageFolderError as err:
        assert str(root) in str(err)
    else:
        assert index.num_classes == 2


def test_an_image_copied_into_another_split_is_reported_with_both_paths(make_folder):
    import shutil

    root = make_folder({"train/a": 6, "train/b": 6, "val/a": 2, "val/b": 2,
                        "test/a": 2, "test/b": 2})
    shutil.copy(root / "train" / "a" / "3.png", root / "test" / "a" / "renamed.png")
    shutil.copy(root / "train" / "b" / "0.png", root / "val" / "a" / "other_class.png")
    message = check(root, r"2 problems; nothing was loaded.*Identical images in two splits")
    assert (f"{root / 'val' / 'a' / 'other_class.png'} (same image as "
            f"{root / 'train' / 'b' / '0.png'})") in message
    assert (f"{root / 'test' / 'a' / 'renamed.png'} (same image as "
            f"{root / 'train' / 'a' / '3.png'})") in message
    assert "delete the copy in the later split" in message
    with pytest.raises(ImageFolderError) as info:
        data.index_image_folder(root)
    [problem] = info.value.problems
    assert problem.kind == "duplicate_across_splits" and len(problem.paths) == 2


def test_carving_never_puts_copies_of_an_image_into_two_splits(tmp_path):
    import hashlib

    root = tmp_path / "copies"
    for k, cls in enumerate(("a", "b")):
        for i in range(14):
            write_png(root / cls / f"{i}.png", value=10 * i + k)
        for i in range(6):  # six copies of one image per class
            write_png(root / cls / f"copy{i}.png", value=200 + k)
    moved_any = False
    for seed in range(4):
        index = data.index_image_folder(root, seed=seed)
        where = {}
        for split in ("train", "val", "test"):
            for path in index.files[split]:
                where.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), set()).add(split)
        assert all(len(splits) == 1 for splits in where.values()), seed
        assert sum(len(index.files[s]) for s in ("train", "val", "test")) == 40
        assert all(path.name.startswith("copy") for path in index.kept_in_train)
        assert set(index.kept_in_train) <= set(index.files["train"])
        if index.kept_in_train:
            moved_any = True
            assert "with an identical copy kept in train" in index.report()
    assert moved_any  # the carving alone would have split the copies for some seed


def test_the_report_summarises_many_image_sizes(tmp_path):
    from tlhelpers.folders import MAX_SIZES_LISTED

    for i, width in enumerate(range(20, 20 + MAX_SIZES_LISTED + 2)):
        for k, cls in enumerate(("a", "b")):  # markers: no two images alike
            write_png(tmp_path / "many" / cls / f"{i}.png", size=(width, 30 + i % 2),
                      marker=2 * i + k)
        write_png(tmp_path / "few" / ("a" if i % 2 else "b") / f"{i}.png", size=(40, 30),
                  marker=i)
    write_png(tmp_path / "few" / "a" / "wide.png", size=(60, 30))
    many = data.index_image_folder(tmp_path / "many", val_fraction=0.3, test_fraction=0.3)
    assert ("sizes (w x h): 8 different, 20 to 27 wide, 30 to 31 high; most common: 20x30: 2, "
            "21x31: 2, 22x30: 2\n") in many.report()
    few = data.index_image_folder(tmp_path / "few", val_fraction=0.3, test_fraction=0.3)
    assert "sizes (w x h): 40x30: 8, 60x30: 1\n" in few.report()


def test_the_folder_table_lines_up_names_in_any_script(make_folder):
    from tlhelpers.display import pad, text_width

    assert (text_width("日本語"), text_width("grass"), text_width("e\u0301")) == (6, 5, 1)
    assert pad("한국", 6) == "한국  " and pad("toolong", 3) == "toolong"
    root = make_folder({"草地 grass": 10, "자갈": 10, "brick": 10})
    table = data.index_image_folder(root).report().splitlines()[:5]  # header, 3, total
    # every count ends in the same column, as a terminal draws it
    assert len({text_width(line) for line in table}) == 1, table
