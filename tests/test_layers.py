"""The layers point one way: cli -> server -> registry -> engine -> tasks -> families -> shared pieces.

Every ``import`` in every module under ``src/torchworks`` counts, at module top or inside a function,
absolute or relative. A module may import its own layer or any layer below it, never one above; a
task package never imports another task package (what two tasks share moves down); and no two modules
import each other, directly or through others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torchworks

SOURCE = Path(torchworks.__file__).parent

# from the top down; the package itself (``import torchworks``: the Python API) sits above the CLI
LAYERS = ("api", "cli", "server", "registry", "engine", "tasks", "families", "shared")
LAYER_OF_PACKAGE = {"__main__": "api", "cli": "cli", "server": "server", "registry": "registry", "engine": "engine",
                    "tasks": "tasks", "families": "families"}  # every other sub-package or module is a shared piece


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``root`` (the folder of ``package``)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imported_modules(name: str, path: Path, known: set[str]) -> list[str]:
    """Every module ``name`` imports (module top and function bodies), with relative imports resolved and
    ``from package import module`` counted as an import of the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append(candidate if candidate in known else base)
    return found


def layer_of(module: str, package: str) -> str | None:
    """The layer of a module of ``package`` (None for modules of other distributions)."""
    parts = module.split(".")
    if parts[0] != package:
        return None
    if len(parts) == 1:
        return "api"
    return LAYER_OF_PACKAGE.get(parts[1], "shared")


def task_of(module: str, package: str, task_packages: set[str]) -> str | None:
    """The task package a module belongs to (``torchworks.tasks.forecasting``), or None."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[:2] == [package, "tasks"] and parts[2] in task_packages:
        return parts[2]
    return None


def layer_violations(root: Path, package: str = "torchworks") -> list[str]:
    """Every upward import and every import of one task package by another, under ``root`` (the folder
    of ``package``), as ``module -> imported (layer a imports layer b)``."""
    modules = module_names(root, package)
    tasks_root = root / "tasks"
    task_packages = {p.name for p in tasks_root.iterdir() if (p / "__init__.py").is_file()} if tasks_root.is_dir() \
        else set()
    violations = []
    for name, path in modules.items():
        mine = layer_of(name, package)
        my_task = task_of(name, package, task_packages)
        for imported in sorted(set(imported_modules(name, path, set(modules)))):
            theirs = layer_of(imported, package)
            if theirs is None:
                continue
            if LAYERS.index(theirs) < LAYERS.index(mine):
                violations.append(f"{name} -> {imported} ({mine} imports {theirs})")
                continue
            their_task = task_of(imported, package, task_packages)
            if my_task and their_task and their_task != my_task:
                violations.append(f"{name} -> {imported} (task {my_task} imports task {their_task})")
    return violations


def import_cycles(root: Path, package: str = "torchworks") -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (each group sorted)."""
    modules = module_names(root, package)
    graph = {name: sorted({m for m in imported_modules(name, path, set(modules)) if m in modules and m != name})
             for name, path in modules.items()}
    reaches = {}
    for start in graph:  # depth-first reachability; a few hundred modules
        seen, stack = set(), list(graph[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(graph[node])
        reaches[start] = seen
    groups = {tuple(sorted(n for n in graph if n in reaches[start] and start in reaches[n])) for start in graph}
    return sorted(list(group) for group in groups if group)


def test_the_layers_point_one_way() -> None:
    violations = layer_violations(SOURCE)
    assert not violations, "upward or cross-task imports:\n" + "\n".join(violations)


def test_no_two_modules_import_each_other() -> None:
    """Within a layer too, arrows run one way (``predict`` may use ``explain``, not the reverse as well)."""
    assert import_cycles(SOURCE) == []


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_planted_upward_import_is_reported(tmp_path) -> None:
    root = _write(tmp_path / "torchworks", {
        "__init__.py": "",
        "errors.py": "",
        "server/__init__.py": "",
        "server/app.py": "from torchworks.engine import x\nfrom ..errors import ConfigError\n",
        "engine/__init__.py": "",
        "engine/x.py": "import torchworks.errors\n\ndef later():\n    from torchworks.server import app\n",
    })
    assert layer_violations(root) == ["torchworks.engine.x -> torchworks.server.app (engine imports server)"]


def test_relative_function_local_and_cross_task_imports_are_reported(tmp_path) -> None:
    root = _write(tmp_path / "torchworks", {
        "__init__.py": "",
        "datasets/__init__.py": "def load():\n    from ..tasks.speech import audio\n",
        "tasks/__init__.py": "",
        "tasks/protocol.py": "",
        "tasks/speech/__init__.py": "from . import audio\n",
        "tasks/speech/audio.py": "from torchworks.tasks import protocol\n",
        "tasks/text/__init__.py": "",
        "tasks/text/samples.py": "from torchworks.tasks.speech.audio import read\nfrom .. import protocol\n",
        "tasks/text/task.py": "from torchworks.families import classification\n",
        "families/__init__.py": "",
        "families/classification.py": "from ..tasks.speech import audio\n",
    })
    assert layer_violations(root) == [
        "torchworks.datasets -> torchworks.tasks.speech.audio (shared imports tasks)",
        "torchworks.families.classification -> torchworks.tasks.speech.audio (families imports tasks)",
        "torchworks.tasks.text.samples -> torchworks.tasks.speech.audio (task text imports task speech)",
    ]


def test_a_planted_cycle_is_reported(tmp_path) -> None:
    root = _write(tmp_path / "torchworks", {
        "__init__.py": "",
        "engine/__init__.py": "",
        "engine/predict.py": "def explain():\n    from torchworks.engine import explain\n",
        "engine/explain.py": "from torchworks.engine.predict import load_model\n",
        "engine/loading.py": "",
    })
    assert import_cycles(root) == [["torchworks.engine.explain", "torchworks.engine.predict"]]
