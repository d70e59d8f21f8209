"""Does `tl-train`'s default recipe earn its place? A benchmark that prints the figures.

For each folder, over seeds, the test accuracy of:

- chapter 1's plain head: the frozen MobileNet (alpha 0.25, ImageNet weights) at 96 x 96,
  `Flatten -> Dense(256, relu) -> softmax`, Adam at 1e-3 for 8 epochs, in plain Keras;
- the command with its defaults (`tlhelpers.train.train_on_folder`), on the same splits;
- the command with `Dropout(0.5)` in the head (`--dropout 0.5`), at chapter 1's image
  size (`--image-size 96`: chapter 1's head and size, with the command's early stopping
  and stage 2), and with both: what the default size adds, and what dropout would;
- and, on the imbalanced folder, the command with `class_weight="balanced"`; the
  balanced accuracy (the mean of the two classes' recalls) is printed beside the
  accuracy, which the large class dominates.

The folders, built here in a temporary folder (nothing is downloaded):

- `fashion-mnist-tiny`: the book's bundled images (10 classes of clothes, 28 x 28);
- `digits`: scikit-learn's bundled handwritten digits (1,797 images of 8 x 8, 10 classes)
  upscaled to 32 x 32 PNG, not split (the command carves validation and test);
- `imbalanced`: two classes of Fashion-MNIST that are easy to confuse, T-shirt/top and
  shirt, 14 times more images of one (1,400) than of the other (100), 28 x 28 PNG, not
  split (from all of Fashion-MNIST: Debian's package offline, else a download).

    python scripts/benchmark_train.py [--seeds 10] [--folders fashion-mnist-tiny digits]
        [--add ~/Pictures/birds] [--record results/benchmark_train.csv]

`--add` runs the same recipes on folders of your own too. Each run took 10 s to two
minutes on 2 CPU cores (the recorded table: 11 to 100 s). It prints one row per folder
and recipe (the mean test accuracy over the seeds, and each seed's), then the paired
comparison with the plain head, seed by seed (mean, standard error, 95% interval,
seeds better, equal and worse); `--record` appends every run to a CSV table. The one
chapter 4 shows is `results/benchmark_train.csv`: record runs of your own to another
file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

FOLDERS = ("fashion-mnist-tiny", "digits", "imbalanced")


def digits_folder(root: Path, counts: dict[int, int] | None = None, side: int = 32) -> Path:
    """scikit-learn's digits as a folder `<digit>/<index>.png`, upscaled (bilinear)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in sorted(counts or range(10)):
        chosen = np.flatnonzero(digits.target == label)
        if counts:
            chosen = chosen[:counts[label]]
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        for i, index in enumerate(chosen):
            pixels = (digits.images[index] / 16 * 255).astype(np.uint8)
            Image.fromarray(pixels).resize((side, side), Image.BILINEAR).save(
                root / str(label) / f"{i:04d}.png")
    return root


def imbalanced_folder(root: Path, counts: dict[str, int]) -> Path:
    """Fashion-MNIST images of some classes, `counts[name]` of each, as PNG files."""
    from tlhelpers.data import FASHION_MNIST_CLASSES, load_fashion_mnist

    (images, labels), _ = load_fashion_mnist()
    for name, count in counts.items():
        chosen = np.flatnonzero(labels == FASHION_MNIST_CLASSES.index(name))[:count]
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, index in enumerate(chosen):
            Image.fromarray(images[index]).save(root / name / f"{i:04d}.png")
    return root


def plain_head(folder: str, seed: int) -> dict:
    """Chapter 1's plain head on the frozen base, in plain Keras, on the loader's splits
    (the same ones the command makes, with the same seed)."""
    import keras

    from tlhelpers import config, data, models

    config.set_seed(seed)
    loaded = data.load_dataset(folder, (96, 96), 32, seed=seed, verbose=False, cache=True)
    base = models.freeze(models.build_base("mobilenet_025", (96, 96, 3)))
    model = models.assemble(base, models.build_head(loaded.num_classes), "tf")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(loaded.train_ds, validation_data=loaded.val_ds, epochs=8, verbose=0,
              shuffle=False)  # the pipeline shuffles itself, with its seed
    return _scores(model, loaded)


def _scores(model, loaded) -> dict:
    from tlhelpers import evaluation, training

    _, y_true, _, probs = training.predict_classes(model, loaded.test_ds, return_probs=True)
    summary = evaluation.summarize(y_true, probs, loaded.class_names,
                                   loaded.index.labels["train"])
    return {"accuracy": summary.accuracy, "balanced": summary.balanced_accuracy}


def command(folder: str, seed: int, run_dir: Path, **settings) -> dict:
    """The command with its defaults (and `settings`)."""
    from tlhelpers import train

    result = train.train_on_folder(folder, run_dir, seed=seed, verbose=False, **settings)
    return {"accuracy": result.evaluation["accuracy"],
            "balanced": result.evaluation["balanced_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10,
                        help="seeds per recipe (default 10)")
    parser.add_argument("--folders", nargs="*", choices=FOLDERS, default=list(FOLDERS),
                        help="the folders built here (default: all three; none with "
                             "a bare --folders)")
    parser.add_argument("--add", nargs="+", default=[], metavar="PATH",
                        help="image folders of your own, compared the same way")
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES),
                        metavar="NAME", help="the recipes to run (default: all: "
                        + "; ".join(RECIPES) + ")")
    parser.add_argument("--record", metavar="CSV",
                        help="append one row per run to this table (chapter 4 shows "
                             "results/benchmark_train.csv)")
    args = parser.parse_args()
    for path in args.add:
        if not Path(path).expanduser().is_dir():
            parser.error(f"--add: {path!r} is not a folder. Give the path of an image "
                         "folder (one sub-folder per class).")
    if not args.folders and not args.add:
        parser.error("No folder to compare on: name some with --folders or --add.")
    # a folder's name labels its rows: two folders of one name would mix their runs
    named: dict[str, str] = {name: f"--folders {name}" for name in args.folders}
    added: dict[str, str] = {}  # name -> path
    for path in args.add:
        name = Path(path).expanduser().resolve().name
        if name in named:
            parser.error(f"--add: {path!r} has the name {name!r}, as {named[name]} has; "
                         "the table labels runs by folder name. Rename one, or add a "
                         "link of another name to it (ln -s).")
        named[name], added[name] = f"--add {path!r}", str(Path(path).expanduser())
    work = Path(tempfile.mkdtemp(prefix="benchmark-train-"))
    builders = {"fashion-mnist-tiny": lambda: "fashion-mnist-tiny",
                "digits": lambda: str(digits_folder(work / "digits")),
                "imbalanced": lambda: str(imbalanced_folder(
                    work / "imbalanced", {"tshirt_top": 1400, "shirt": 100}))}
    paths = {name: builders[name]() for name in args.folders}  # only the chosen ones
    paths.update(added)
    rows = []
    for name in paths:
        for recipe in recipes_for(name, args.recipes):
            run = RECIPES[recipe]
            scores = []
            for seed in range(args.seeds):
                started = time.perf_counter()
                run_dir = work / "runs" / f"{name}-{len(rows)}-{seed}"
                scores.append(run(paths[name], seed, run_dir))
                seconds = time.perf_counter() - started
                if args.record:
                    record(args.record, name, recipe, seed, scores[-1], seconds)
                print(f"  {name}, {recipe}, seed {seed}: accuracy "
                      f"{scores[-1]['accuracy']:.3f}, balanced {scores[-1]['balanced']:.3f} "
                      f"({seconds:.0f} s)", flush=True)
            rows.append((name, recipe, scores))
    print(f"\ntest accuracy, mean over {args.seeds} seed(s) [each seed]; balanced accuracy")
    width = max(len(f"{name}, {recipe}") for name, recipe, _ in rows)
    for name, recipe, scores in rows:
        accuracy = [s["accuracy"] for s in scores]
        balanced = [s["balanced"] for s in scores]
        print(f"{f'{name}, {recipe}':<{width}}  {np.mean(accuracy):.3f} "
              f"[{', '.join(f'{a:.3f}' for a in accuracy)}]  balanced {np.mean(balanced):.3f}")
    print("\npaired by seed (each recipe run with the same seeds), against chapter 1's plain head:")
    for name, recipe, scores in rows:
        baseline = next((s for n, r, s in rows if n == name and r == BASELINE), None)
        if recipe == BASELINE or baseline is None:
            continue
        key = PAIRED_ON.get(recipe, "accuracy")
        print(f"{f'{name}, {recipe}':<{width}}  {paired(scores, baseline, key)}")


BASELINE = "chapter 1's plain head"
# recipe -> run(folder, seed, run_dir)
RECIPES = {
    BASELINE: lambda folder, seed, _: plain_head(folder, seed),
    "tl-train, defaults": lambda folder, seed, run: command(folder, seed, run),
    "tl-train, --dropout 0.5": lambda folder, seed, run: command(
        folder, seed, run, dropout=0.5),
    "tl-train, --image-size 96": lambda folder, seed, run: command(
        folder, seed, run, image_size=96),
    "tl-train, --image-size 96 --dropout 0.5": lambda folder, seed, run: command(
        folder, seed, run, image_size=96, dropout=0.5),
    "tl-train, --class-weight balanced": lambda folder, seed, run: command(
        folder, seed, run, class_weight="balanced"),
}
# recipes that run on some folders only (the others run on every folder)
ONLY_ON = {"tl-train, --class-weight balanced": ("imbalanced",)}
# the score a recipe is paired with the plain head on (the others: "accuracy"); class
# weights aim at the balanced accuracy, which the large class does not dominate
PAIRED_ON = {"tl-train, --class-weight balanced": "balanced"}


def recipes_for(folder: str, wanted: list[str]) -> list[str]:
    """The recipes of `wanted` (in `RECIPES`' order) that run on `folder` (`ONLY_ON`)."""
    return [recipe for recipe in RECIPES
            if recipe in wanted and folder in ONLY_ON.get(recipe, (folder,))]


def record(path: str, folder: str, recipe: str, seed: int, scores: dict,
           seconds: float) -> None:
    """Appends one run to a CSV table (`tlhelpers.experiments.record_run`), with the
    versions and the machine it ran on."""
    import platform
    from datetime import date

    import keras
    import tensorflow as tf

    from tlhelpers import experiments

    experiments.record_run(Path(path), {
        "folder": folder, "recipe": recipe, "seed": seed,
        "test_accuracy": f"{scores['accuracy']:.4f}",
        "balanced_accuracy": f"{scores['balanced']:.4f}", "seconds": round(seconds),
        "cpu_cores": os.cpu_count(), "machine": platform.machine(),
        "keras": keras.__version__, "tensorflow": tf.__version__,
        "date": date.today().isoformat()})


def paired(scores: list[dict], baseline: list[dict], key: str = "accuracy") -> str:
    """The paired comparison of two recipes' scores, seed by seed
    (`tlhelpers.experiments.paired_difference`).

    Args:
        scores: one recipe's scores, a dict per seed.
        baseline: the baseline's scores on the same seeds.
        key: the score compared (`"accuracy"` or `"balanced"`).

    Returns:
        One line of text.
    """
    from tlhelpers import experiments

    if len(scores) != len(baseline):
        raise ValueError(f"Received {len(scores)} scores and {len(baseline)} baseline "
                         "scores; compare runs over the same seeds.")
    comparison = experiments.paired_difference(
        {seed: s[key] for seed, s in enumerate(scores)},
        {seed: b[key] for seed, b in enumerate(baseline)})
    return f"{key} {comparison}"

if __name__ == "__main__":
    main()
