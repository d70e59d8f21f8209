"""The toolchain is pinned: constraints.txt holds an exact version of every package
`make setup` installs, within pyproject.toml's ranges, and environment.yml (conda, Binder)
pins the same dependencies to the same versions."""

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return [Requirement(r) for r in requirements]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            assert _name(name) not in pins, f"constraints.txt pins {name} twice"
            pins[_name(name)] = version
    return pins


def _environment_pins() -> tuple[dict[str, str], list[str], list]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip_sections) == 1
    pins, others = {}, []
    for entry in pip_sections[0]:
        if entry.startswith("-"):
            others.append(entry)
            continue
        requirement = Requirement(entry)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"environment.yml: {entry!r} is not pinned with =="
        pins[_name(requirement.name)] = spec.version
    return pins, others, [d for d in env["dependencies"] if isinstance(d, str)]


def test_every_dependency_is_pinned_within_its_range():
    pins = _constraints()
    for requirement in _pyproject_requirements():
        name = _name(requirement.name)
        assert name in pins, f"{requirement.name} (pyproject.toml) is not pinned in constraints.txt"
        assert Version(pins[name]) in requirement.specifier, (
            f"constraints.txt pins {requirement.name}=={pins[name]}, outside pyproject.toml's "
            f"{requirement}; run `make lock`")


def test_environment_yml_pins_the_same_versions():
    pins = _constraints()
    env_pins, others, conda = _environment_pins()
    assert set(env_pins) == {_name(r.name) for r in _pyproject_requirements()}
    for name, version in env_pins.items():
        assert pins[name] == version, (
            f"environment.yml pins {name}=={version}, constraints.txt {pins[name]}")
    assert others == ["-e ."], "environment.yml must install the package itself, once"
    assert "python=3.11" in conda  # the Python that constraints.txt was resolved for


def test_the_installed_environment_is_the_pinned_one():
    """`make setup` installed exactly what constraints.txt says (no stale venv)."""
    stale = []
    for name, version in _constraints().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a package of another platform or Python
        if Version(installed) != Version(version):
            stale.append(f"{name} {installed} (pinned: {version})")
    assert not stale, f"Installed versions differ from constraints.txt: {stale}; run `make setup`"
    assert sys.version_info[:2] >= (3, 11)


def test_book_toolchain_is_jupyter_book_v1():
    jb = next(r for r in _pyproject_requirements() if r.name == "jupyter-book")
    assert "1.0.4" in jb.specifier and "2.0" not in jb.specifier
    assert Version(_constraints()["jupyter-book"]).major == 1


# Imported by tlhelpers without being a dependency of its own, and why.
NOT_DEPENDENCIES = {
    "jax": "imported only when Keras runs on the JAX backend",
    "torch": "imported only when Keras runs on the PyTorch backend",
    "IPython": "imported only inside a running IPython (a notebook), which provides it",
}


def test_every_library_the_package_imports_is_a_declared_dependency():
    """A module of tlhelpers that imports a library must not rely on another package
    having installed it: the library's distribution is a dependency of the package (or
    of one of its extras)."""
    import ast

    imported = set()
    for path in (ROOT / "tlhelpers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"tlhelpers"}
    declared = {_name(r.name) for r in _pyproject_requirements()}
    providers = metadata.packages_distributions()
    undeclared = {name: providers.get(name) for name in sorted(third_party)
                  if name not in NOT_DEPENDENCIES
                  and not {_name(d) for d in providers.get(name, [])} & declared}
    assert undeclared == {}, "declare these in pyproject.toml (and pin them)"
