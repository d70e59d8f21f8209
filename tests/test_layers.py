"""The package's modules form layers, and their imports point down, never in a circle.

Anyone can run this check: `pytest tests/test_layers.py`. It reads every module of
`tlhelpers` with `ast` (imports inside functions included, where circles used to hide)
and checks:

- every import of another `tlhelpers` module goes to a lower layer, or to the same
  layer without a circle (`LAYERS`, bottom first, as in the README);
- imports sit at the top of a module; one inside a function is a heavy import deferred
  on purpose for start-up time, with a comment on its line (or the line above) that
  says `deferred`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tlhelpers"

# Bottom first. A module may import modules of its own layer or below.
LAYERS: list[set[str]] = [
    {"config"},  # profiles, seeds, cache paths: no Keras at import
    {"display", "downloads"},
    {"folders", "data", "augment"},
    {"models", "training"},
    # the chapters' helpers, and what they compute about a trained model
    {"features", "experiments", "plots", "synthetic", "convnets", "evaluation",
     "calibration", "gradcam"},
    {"rundir", "recipe", "report", "train", "predict", "export", "runner"},  # the commands
]

# What may be imported inside a function: heavy libraries, and the package's modules
# that import them at their top, deferred so that a command's --help or a folder check
# starts at once, or because an optional extra provides them.
HEAVY = {"keras", "tensorflow", "jax", "torch", "sklearn", "matplotlib", "h5py", "IPython",
         "google", "nbclient", "nbformat", "papermill", "onnxruntime", "tf2onnx",
         "ai_edge_litert", "tflite_runtime", "scipy"}
HEAVY_MODULES = {"models", "training", "convnets", "plots", "features", "augment", "gradcam",
                 "export"}


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for path in sorted(PACKAGE.glob("*.py")) if path.stem != "__init__"}


def _imported(node: ast.AST) -> list[str]:
    """The top-level names an import statement brings in: `keras`, `tlhelpers.models`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if node.module == "tlhelpers":
            return [f"tlhelpers.{alias.name}" for alias in node.names]
        return [node.module]
    return []


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, tree in _modules().items():
        graph[name] = {target.split(".")[1] for node in ast.walk(tree)
                       for target in _imported(node)
                       if target.startswith("tlhelpers.") and target.count(".") >= 1}
    return graph


def _layer(name: str) -> int:
    for index, layer in enumerate(LAYERS):
        if name in layer:
            return index
    raise AssertionError(f"tlhelpers.{name} is in no layer: add it to LAYERS in "
                         f"{Path(__file__).name} (and to the README's layout)")


def test_every_module_has_a_layer():
    for name in _modules():
        _layer(name)


def test_imports_point_down_the_layers():
    upward = [f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
              for module, targets in _graph().items() for target in sorted(targets)
              if _layer(target) > _layer(module)]
    assert upward == []


def test_the_import_graph_has_no_circle():
    graph = _graph()
    state: dict[str, str] = {}
    circles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == [], " ; ".join(" -> ".join(c) for c in circles)


def test_imports_inside_functions_are_heavy_and_deferred_on_purpose():
    found = []
    for name, tree in _modules().items():
        lines = (PACKAGE / f"{name}.py").read_text(encoding="utf-8").splitlines()
        top = {id(node) for node in tree.body}
        top |= {id(node) for node in ast.walk(tree) if isinstance(node, ast.If)
                for node in node.body}  # `if TYPE_CHECKING:` and the like, at the top
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
                continue
            for target in _imported(node):
                heavy = (target.split(".")[0] in HEAVY
                         or (target.startswith("tlhelpers.")
                             and target.split(".")[1] in HEAVY_MODULES))
                said = any("deferred" in lines[i] for i in (node.lineno - 1, node.lineno - 2)
                           if 0 <= i < len(lines))
                if not (heavy and said):
                    found.append(f"tlhelpers/{name}.py:{node.lineno}: {lines[node.lineno - 1]}"
                                 + ("" if heavy else "  (light: import it at the top)"))
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("bottom", sorted(LAYERS[0]))
def test_the_bottom_layer_imports_no_keras_at_import(bottom):
    tree = _modules()[bottom]
    assert not [target for node in tree.body for target in _imported(node)
                if target.split(".")[0] in HEAVY]
