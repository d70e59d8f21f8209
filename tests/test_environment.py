"""environment.yml (conda, Binder) and pyproject.toml must list the same dependencies."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _normalise(requirements):
    return {(Requirement(r).name.lower().replace("_", "-"), str(Requirement(r).specifier))
            for r in requirements}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    from_pyproject = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        from_pyproject += extra
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip_sections) == 1
    from_env = [r for r in pip_sections[0] if not r.startswith("-e")]
    assert "-e ." in pip_sections[0], "environment.yml must install the package itself"
    assert _normalise(from_env) == _normalise(from_pyproject)
    assert len(from_env) == len(set(from_env))


def test_book_toolchain_is_jupyter_book_v1():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    book = [Requirement(r) for r in project["optional-dependencies"]["book"]]
    jb = next(r for r in book if r.name == "jupyter-book")
    assert "1.0.4" in jb.specifier and "2.0" not in jb.specifier
