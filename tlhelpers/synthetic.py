"""Harder images made from easy ones: items pasted at random places on textured clutter.

Fashion-MNIST's items sit centred on a clean black background, so a small network
trained from scratch needs few labels to tell them apart, and pretrained features have
little to add. Pasting each item, rescaled, at a random place on a random texture makes
the task hard in a way that a network can learn once and reuse: finding the object in
the clutter. The textures are drawn procedurally with NumPy (gratings, checkerboards,
smooth noise, strokes), so nothing is downloaded.

Used by the feature-extraction chapter (transfer vs training from scratch).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["clutter_images", "make_textures"]


def _smooth_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    noise = rng.normal(size=(size, size))
    cutoff = rng.uniform(0.04, 0.25)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    spectrum = np.fft.fft2(noise) * np.exp(-(fx**2 + fy**2) / (2 * cutoff**2))
    return np.real(np.fft.ifft2(spectrum))


def _grating(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(3, 14)
    phase = rng.uniform(0, 2 * np.pi)
    return np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period + phase)


def _checkerboard(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    cell = int(rng.integers(3, 12))
    return (((x + int(rng.integers(cell))) // cell + (y // cell)) % 2).astype(np.float64)


def _strokes(rng: np.random.Generator, size: int) -> np.ndarray:
    canvas = np.zeros((size, size))
    for _ in range(int(rng.integers(6, 20))):
        x0, y0 = rng.uniform(0, size, 2)
        angle = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(4, size / 2)
        t = np.linspace(0, length, int(length * 2) + 2)
        xs = np.clip((x0 + t * np.cos(angle)).astype(int), 0, size - 1)
        ys = np.clip((y0 + t * np.sin(angle)).astype(int), 0, size - 1)
        canvas[ys, xs] = rng.uniform(0.3, 1.0)
        canvas[np.clip(ys + 1, 0, size - 1), xs] = canvas[ys, xs]
    return canvas


_KINDS = (_smooth_noise, _grating, _checkerboard, _strokes)


def make_textures(num_textures: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Draws greyscale textures: mixes of gratings, checkerboards, smooth noise, strokes.

    Args:
        num_textures: how many textures.
        size: their side in pixels (default 64).
        seed: seeds the drawing (default 0); the same seed gives the same textures.

    Returns:
        A `uint8` array of shape `(num_textures, size, size)`, values in [0, 255].

    Raises:
        ValueError: if `num_textures` or `size` is not positive.
    """
    if num_textures < 1 or size < 1:
        raise ValueError(
            "`num_textures` and `size` must be positive. Received: "
            f"`num_textures={num_textures}`, `size={size}`."
        )
    rng = np.random.default_rng(seed)
    out = np.empty((num_textures, size, size), dtype=np.uint8)
    for i in range(num_textures):
        picks = rng.choice(len(_KINDS), size=2, replace=False)
        texture = sum(rng.uniform(0.4, 1.0) * _normalise(_KINDS[k](rng, size)) for k in picks)
        low = rng.uniform(0, 140)
        high = low + rng.uniform(50, 115)
        out[i] = np.clip(low + _normalise(texture) * (high - low), 0, 255).astype(np.uint8)
    return out


def _normalise(array: np.ndarray) -> np.ndarray:
    span = array.max() - array.min()
    return (array - array.min()) / span if span > 0 else np.zeros_like(array)


def _resize(image: np.ndarray, side: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR))


def clutter_images(
    images: np.ndarray,
    canvas_size: int = 56,
    item_size: tuple[int, int] = (22, 40),
    textures: np.ndarray | None = None,
    seed: int = 0,
    return_boxes: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Pastes each image, rescaled, at a random place on a random crop of a texture.

    An item's pixels cover the background in proportion to their brightness (dark
    pixels of the item let the texture show through a little), so the item's outline
    stays visible but the network must find it.

    Args:
        images: greyscale items, `uint8`, shape `(n, h, w)` (e.g. Fashion-MNIST's 28x28).
        canvas_size: the side of the output images in pixels (default 56).
        item_size: `(smallest, largest)` side of a rescaled item (default (22, 40)).
        textures: backgrounds, `uint8`, `(m, s, s)` with `s >= canvas_size`; default
            `make_textures(64, canvas_size + 8, seed)`.
        seed: seeds the sizes, places, textures and crops (default 0).
        return_boxes: also return where each item was pasted (default False); the
            images are the same either way.

    Returns:
        A `uint8` array of shape `(n, canvas_size, canvas_size)`; with `return_boxes`,
        also an `int` array `(n, 4)` of boxes `(top, left, bottom, right)` in pixels,
        bottom and right excluded: where the object is, for checking where a model looks.

    Raises:
        ValueError: for images that are not `(n, h, w)`, an item size that does not fit
            the canvas, or textures smaller than the canvas.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(
            f"`images` must be greyscale, shape (n, h, w). Received shape {images.shape}; "
            "for RGB images pass `images.mean(axis=-1).astype('uint8')`."
        )
    low, high = item_size
    if not 1 <= low <= high <= canvas_size:
        raise ValueError(
            f"`item_size` must satisfy 1 <= smallest <= largest <= canvas_size={canvas_size}. "
            f"Received: `item_size={item_size!r}`."
        )
    if textures is None:
        textures = make_textures(64, canvas_size + 8, seed)
    if min(textures.shape[1:]) < canvas_size:
        raise ValueError(
            f"Textures of shape {textures.shape[1:]} are smaller than the canvas "
            f"({canvas_size}); make them with `make_textures(..., size={canvas_size})` or more."
        )
    rng = np.random.default_rng(seed)
    out = np.empty((len(images), canvas_size, canvas_size), dtype=np.uint8)
    boxes = np.empty((len(images), 4), dtype=int)
    tex_h, tex_w = textures.shape[1:]
    for i, image in enumerate(images):
        texture = textures[rng.integers(len(textures))]
        ty, tx = rng.integers(0, tex_h - canvas_size + 1), rng.integers(0, tex_w - canvas_size + 1)
        canvas = texture[ty:ty + canvas_size, tx:tx + canvas_size].astype(np.float32)
        side = int(rng.integers(low, high + 1))
        item = _resize(image, side).astype(np.float32)
        y, x = rng.integers(0, canvas_size - side + 1, 2)
        alpha = np.clip(item / 64.0, 0.0, 1.0)
        patch = canvas[y:y + side, x:x + side]
        canvas[y:y + side, x:x + side] = alpha * item + (1 - alpha) * patch
        out[i] = np.clip(canvas, 0, 255).astype(np.uint8)
        boxes[i] = (y, x, y + side, x + side)
    return (out, boxes) if return_boxes else out
