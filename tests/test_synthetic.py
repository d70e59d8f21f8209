import numpy as np
import pytest

from tlhelpers import synthetic


def test_textures_are_seeded_uint8_with_contrast():
    a = synthetic.make_textures(5, size=20, seed=3)
    assert a.shape == (5, 20, 20) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, synthetic.make_textures(5, size=20, seed=3))
    assert not np.array_equal(a, synthetic.make_textures(5, size=20, seed=4))
    assert all(t.max() - t.min() >= 30 for t in a)
    with pytest.raises(ValueError, match="num_textures=0"):
        synthetic.make_textures(0)


def test_clutter_pastes_the_item_somewhere():
    items = np.zeros((3, 28, 28), dtype=np.uint8)
    items[:, 8:20, 8:20] = 255
    textures = np.full((2, 40, 40), 10, dtype=np.uint8)
    out = synthetic.clutter_images(items, canvas_size=36, item_size=(14, 28),
                                   textures=textures, seed=0)
    assert out.shape == (3, 36, 36) and out.dtype == np.uint8
    for image in out:
        assert image.max() > 200 and np.median(image) == 10
    np.testing.assert_array_equal(
        out, synthetic.clutter_images(items, 36, (14, 28), textures, seed=0))


def test_clutter_checks_its_arguments():
    with pytest.raises(ValueError, match="shape \\(2, 4, 4, 3\\)"):
        synthetic.clutter_images(np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="item_size=\\(30, 60\\)"):
        synthetic.clutter_images(np.zeros((2, 4, 4), np.uint8), 56, (30, 60))
    with pytest.raises(ValueError, match="smaller than the canvas"):
        synthetic.clutter_images(np.zeros((2, 4, 4), np.uint8), 56,
                                 textures=np.zeros((1, 30, 30), np.uint8))


def test_clutter_images_can_say_where_each_item_is():
    items = np.zeros((3, 28, 28), np.uint8)
    items[:, 4:24, 4:24] = 255  # a bright square item
    plain = synthetic.clutter_images(items, seed=4)
    images, boxes = synthetic.clutter_images(items, seed=4, return_boxes=True)
    np.testing.assert_array_equal(images, plain)  # the same images either way
    for image, (top, left, bottom, right) in zip(images, boxes, strict=True):
        assert 22 <= bottom - top == right - left <= 40
        assert 0 <= top and bottom <= 56 and 0 <= left and right <= 56
        inside = image[top:bottom, left:right].astype(float)
        # the item's bright square fills the middle of its box
        mid = inside[(bottom - top) // 2 - 2:(bottom - top) // 2 + 2,
                     (right - left) // 2 - 2:(right - left) // 2 + 2]
        assert mid.min() >= 250
