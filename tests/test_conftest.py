"""The repository's conftest.py: `pytest --nbval` as typed, and the determinism check it
adds to one notebook. Run in an inner pytest session (pytester), on small notebooks."""

from pathlib import Path

import nbformat
import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).resolve().parents[1] / "conftest.py").read_text()


def _notebook(path: Path, sources: list[str]) -> None:
    """Writes a notebook and stores its outputs, as `make notebooks` would."""
    from tlhelpers import runner

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for cell in nb.cells:
        cell.metadata["tags"] = ["nbval-ignore-output"]
    nbformat.write(nb, path)
    runner.execute_notebook(path, path)


@pytest.mark.parametrize("printed, outcome", [
    ("print(sum(range(10)))", {"passed": 3}),
    ("import random\nprint(random.random())", {"passed": 2, "failed": 1}),
])
def test_the_determinism_check_compares_a_second_run(pytester, printed, outcome):
    pytester.makeconftest(CONFTEST.replace('DETERMINISM_NOTEBOOK = "06_lora.ipynb"',
                                           'DETERMINISM_NOTEBOOK = "chapter.ipynb"'))
    _notebook(pytester.path / "chapter.ipynb", ["x = 1", printed])
    result = pytester.runpytest_subprocess("--nbval", "chapter.ipynb", "-p", "no:cacheprovider")
    result.assert_outcomes(**outcome)
    if "failed" in outcome:
        result.stdout.fnmatch_lines(["*chapter.ipynb, Cell 1: a second run on this machine "
                                     "printed something else*"])


def test_durations_are_recorded_per_file(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    result = pytester.runpytest_subprocess("--record-durations", "durations.json",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    import json

    recorded = json.loads((pytester.path / "durations.json").read_text())
    assert list(recorded) == ["test_a.py"] and recorded["test_a.py"] >= 0


def test_the_longest_files_run_first_by_their_measured_durations(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a="def test_a():\n    pass\n", test_b="def test_b():\n    pass\n",
                        test_c="def test_c():\n    pass\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "durations.json").write_text('{"test_b.py": 9, "test_c.py": 4}')
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    ran = [line.split("::")[0] for line in result.stdout.lines if " PASSED" in line]
    assert ran == ["test_b.py", "test_c.py", "test_a.py"]
