"""Makes the bundled tiny data set: a stratified subset of Fashion-MNIST as PNG files.

Writes `tlhelpers/datasets/fashion_mnist_tiny/{train,val,test}/<class>/<index>.png`
(28x28 greyscale) plus the data set's MIT licence. Train and validation images come
from Fashion-MNIST's training set, test images from its test set, so no image is in
two splits. Re-running it gives the same files.

Offline it reads Debian's `dataset-fashion-mnist` package
(`apt-get install dataset-fashion-mnist`); elsewhere `keras.datasets.fashion_mnist`.

    python scripts/make_tiny_dataset.py [--per-class 60 20 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tlhelpers.data import FASHION_MNIST_CLASSES as CLASS_NAMES
from tlhelpers.data import load_fashion_mnist

OUT = Path(__file__).resolve().parents[1] / "tlhelpers" / "datasets" / "fashion_mnist_tiny"
LICENSE = """\
The images in this folder are a subset of Fashion-MNIST
(https://github.com/zalandoresearch/fashion-mnist), made by
scripts/make_tiny_dataset.py of this repository.

The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify,
merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to the following
conditions:

The above copyright notice and this permission notice shall be included in all copies
or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT
HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR
THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def stratified(labels: np.ndarray, counts: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Picks disjoint index sets with `counts[i]` images of every class each."""
    picks: list[list[int]] = [[] for _ in counts]
    for label in range(len(CLASS_NAMES)):
        idx = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for i, count in enumerate(counts):
            picks[i].extend(idx[start:start + count])
            start += count
    return [np.sort(np.array(p)) for p in picks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, nargs=3, default=[60, 20, 40],
                        metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    rng = np.random.default_rng(args.seed)
    n_train, n_val, n_test = args.per_class
    train_idx, val_idx = stratified(y_train, [n_train, n_val], rng)
    (test_idx,) = stratified(y_test, [n_test], rng)
    shutil.rmtree(OUT, ignore_errors=True)
    for split, images, labels, idx in [
        ("train", x_train, y_train, train_idx),
        ("val", x_train, y_train, val_idx),
        ("test", x_test, y_test, test_idx),
    ]:
        for i in idx:
            folder = OUT / split / CLASS_NAMES[labels[i]]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(folder / f"{i:05d}.png", optimize=True)
    (OUT / "LICENSE").write_text(LICENSE)
    total = sum(1 for _ in OUT.rglob("*.png"))
    size = sum(p.stat().st_size for p in OUT.rglob("*.png"))
    print(f"Wrote {total} images ({size / 1e6:.2f} MB) to {OUT}")


if __name__ == "__main__":
    main()
