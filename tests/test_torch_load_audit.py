"""M1 audit: every ``torch.load`` in torchworks passes ``weights_only=True``; nothing unpickles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import torchworks

SOURCE = Path(torchworks.__file__).parent
UNPICKLERS = {("pickle", "load"), ("pickle", "loads"), ("dill", "load"), ("dill", "loads"),
              ("joblib", "load"), ("cloudpickle", "load"), ("cloudpickle", "loads"), ("pd", "read_pickle"),
              ("pandas", "read_pickle")}


def _sources() -> list[Path]:
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 10, f"found too few sources under {SOURCE}"
    return files


def _calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    torch_load_names = {"torch.load"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "torch":
            torch_load_names |= {alias.asname or alias.name for alias in node.names if alias.name == "load"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func), torch_load_names


def _weights_only_true(call: ast.Call) -> bool:
    return any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in call.keywords)


def test_every_torch_load_passes_weights_only_true():
    found = []
    for path in _sources():
        for call, name, torch_load_names in _calls(path):
            if name in torch_load_names:
                found.append(path)
                where = f"{path.relative_to(SOURCE)}:{call.lineno}"
                assert _weights_only_true(call), f"{where}: torch.load without weights_only=True"
                assert not any(k.arg is None for k in call.keywords), f"{where}: **kwargs could override weights_only"
    assert found, "the audit found no torch.load at all: is it looking in the right place?"


def test_weights_only_is_never_false_anywhere():
    for path in _sources():
        for call, _, _ in _calls(path):
            for keyword in call.keywords:
                if keyword.arg == "weights_only":
                    assert not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False), (
                        f"{path.relative_to(SOURCE)}:{call.lineno}: weights_only=False"
                    )


def test_nothing_calls_an_unpickler():
    for path in _sources():
        for call, name, _ in _calls(path):
            parts = tuple(name.rsplit(".", 1))
            assert parts not in UNPICKLERS, f"{path.relative_to(SOURCE)}:{call.lineno}: {name}()"


@pytest.mark.parametrize("snippet", ["torch.load(f)", "torch.load(f, weights_only=False)", "load(f, **opts)"])
def test_the_audit_catches_unsafe_calls(snippet):
    """Control: the checker flags what it is meant to flag."""
    tree = ast.parse(f"from torch import load\n{snippet}\n")
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call))
    assert not _weights_only_true(call) or any(k.arg is None for k in call.keywords)
