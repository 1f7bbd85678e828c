"""The docs keep up with the registry: every task has its page and its README row, whose check
marks are exactly the modes the task has (derived from its capabilities)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from torchworks.tasks import list_tasks

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = [cls for cls in list_tasks() if cls.__module__.startswith("torchworks.tasks.")]


def _readme_table() -> tuple[list[str], dict[str, list[str]]]:
    lines = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("| ")]
    header = [re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", cell).strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        name = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", cells[0])
        rows[name] = [mode for mode, cell in zip(header[1:], cells[1:]) if cell == "✓"]
    return header, rows


@pytest.mark.parametrize("task", BUILTIN, ids=lambda cls: cls.name)
def test_each_task_has_a_page_and_a_readme_row_matching_its_modes(task):
    assert (ROOT / "docs" / "tasks" / f"{task.name}.md").is_file()
    header, rows = _readme_table()
    assert task.name in rows, f"add a README task x mode row for {task.name}"
    assert sorted(rows[task.name]) == sorted(task.modes), (task.name, rows[task.name], task.modes)
    assert set(task.modes) <= set(header[1:]), "every mode has a README column"


def test_every_mode_column_has_a_page_and_every_link_resolves():
    header, _ = _readme_table()
    for mode in header[1:]:
        assert (ROOT / "docs" / "modes" / f"{mode}.md").is_file(), mode
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to missing {target}"
