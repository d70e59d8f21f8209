"""Test-only stand-ins for what the `full` profile downloads. The package knows nothing of
them: they are patched into a notebook's kernel by the test that runs it.

The `full` profile needs the internet (TensorFlow's flower photos, VGG16's ImageNet
weights) and a GPU. To check its code path offline on a CPU, `install` patches, in the
process it runs in:

- data sets: each named data set gets the SHA-256 of a stand-in archive that lies in the
  download cache (`$TLHELPERS_CACHE/downloads`) under the real file name, so that
  `tlhelpers.downloads.fetch` finds it, checks it and extracts it as it would the real
  download; `tlhelpers.data.dataset_path` prints a `STAND-IN:` line each time;
- weights: each named base is built with random weights where ImageNet weights are
  asked for, through `tlhelpers.models.build_base` and through `keras.applications`
  called directly in a cell (the article's `VGG16(weights="imagenet")`), with a
  `STAND-IN:` line each time;
- sizes: the `full` profile's image size becomes `image_size` (VGG16 at 224 x 224 is too
  slow for a CPU test), with a `STAND-IN:` line when a chapter reads the profile.

`kernel_setup(spec)` is the line of Python that a kernel runs at start-up to install them
(`tlhelpers.runner.execute_notebook(..., kernel_setup=...)`); it leaves no name in the
notebook's namespace. A run on stand-ins checks that the code runs, never what it learns:
the chapters are run with `CHECK_RESULTS=False`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def announce(what: str) -> None:
    """Prints the line that says a stand-in is used, to stderr (under the cell)."""
    print(f"STAND-IN: {what} (test only)", file=sys.stderr, flush=True)


def kernel_setup(spec: dict) -> str:
    """The start-up line that installs the stand-ins of `spec` in a notebook's kernel.

    Args:
        spec: the arguments of `install`, as a dict of Python literals.

    Returns:
        One line of Python, for `execute_notebook(..., kernel_setup=...)`.
    """
    return (f"__import__('sys').path.insert(0, {str(TESTS)!r}); "
            f"__import__('stand_ins').install(**{spec!r})")


def install(datasets: dict[str, str] | None = None, random_weights: tuple[str, ...] = (),
            image_size: tuple[int, int] | None = None, setattr=setattr,
            setitem=None) -> None:
    """Installs the stand-ins in this process.

    Args:
        datasets: data set name -> the SHA-256 of its stand-in archive, which must lie in
            the download cache under the real download's file name.
        random_weights: names of bases (keys of `tlhelpers.models.BASES`) built with
            random weights where ImageNet weights are asked for.
        image_size: the `full` profile's image size on stand-ins (default: unchanged).
        setattr: how attributes are replaced (a test passes `monkeypatch.setattr`, so
            that they are restored afterwards).
        setitem: how dict entries are replaced (default: plain assignment).
    """
    from tlhelpers import config, data, models  # models imports keras: its modules are loaded

    if setitem is None:
        def setitem(mapping, key, value):
            mapping[key] = value

    datasets = datasets or {}
    for name, sha256 in datasets.items():
        setitem(data.DATASETS, name, dataclasses.replace(data.DATASETS[name], sha256=sha256))
    if datasets:
        real_dataset_path = data.dataset_path

        @functools.wraps(real_dataset_path)
        def dataset_path(name):
            if name in datasets:
                archive = data.DATASETS[name].url.rsplit("/", 1)[-1]
                announce(f"data set {name!r} from a stand-in archive, not the real {archive}")
            return real_dataset_path(name)

        setattr(data, "dataset_path", dataset_path)

    for name in random_weights:
        spec = models.BASES[name]
        original = spec.constructor
        signature = inspect.signature(original)

        @functools.wraps(original)
        def random(*args, _original=original, _signature=signature, _title=spec.title,
                   **kwargs):
            bound = _signature.bind(*args, **kwargs)
            bound.apply_defaults()
            if bound.arguments.get("weights") == "imagenet":
                announce(f"{_title} with random weights, not its ImageNet weights")
                bound.arguments["weights"] = None
            return _original(*bound.args, **bound.kwargs)

        setitem(models.BASES, name, dataclasses.replace(spec, constructor=random))
        for module_name, module in list(sys.modules.items()):  # later imports see it too
            if module is None or not (module_name == "keras" or module_name.startswith("keras.")):
                continue
            for attribute, value in list(getattr(module, "__dict__", {}).items()):
                if value is original:
                    setattr(module, attribute, random)

    if image_size is not None:
        image_size = tuple(image_size)
        setitem(config.PROFILES, "full",
                dataclasses.replace(config.PROFILES["full"], image_size=image_size))
        real_get_profile = config.get_profile

        @functools.wraps(real_get_profile)
        def get_profile(name):
            profile = real_get_profile(name)
            if profile.name == "full":
                announce(f"the full profile at {image_size[0]} x {image_size[1]}, not "
                         "224 x 224")
            return profile

        setattr(config, "get_profile", get_profile)
