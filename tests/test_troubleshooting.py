"""The troubleshooting appendix lists every error the book's checks raise."""

import inspect
from pathlib import Path

from tlhelpers import config, downloads, export, folders, predict, report, rundir, runner, train

PAGE = (Path(__file__).resolve().parents[1] / "book" / "troubleshooting.md").read_text()


def test_every_kind_of_folder_problem_has_a_row():
    missing = [kind for kind in folders.PROBLEM_KINDS if f"| `{kind}` |" not in PAGE]
    assert not missing, f"add a row to book/troubleshooting.md for {missing}"


def test_every_error_class_of_tlhelpers_is_explained():
    classes = {name for module in (config, downloads, export, folders, predict, report,
                                  rundir, runner, train)
               for name, value in inspect.getmembers(module, inspect.isclass)
               if issubclass(value, Exception) and value.__module__.startswith("tlhelpers")}
    assert classes >= {"ImageFolderError", "WeightsUnavailableError", "DownloadError",
                       "RunDirError"}
    missing = sorted(name for name in classes if f"**`{name}`**" not in PAGE)
    assert not missing, f"explain {missing} in book/troubleshooting.md"
