"""What a user hands to predict and explain, before the task reads it: a name for each input, and
a check that a file named as an input is of a kind the task reads (``Task.input_kinds``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torchworks.errors import DataError


def check_input_kinds(task: Any, items: list[Any]) -> None:
    """Raise the :func:`wrong_kind` error of the first input of a kind ``task`` does not read."""
    for item in items:
        problem = wrong_kind(task, item)
        if problem is not None:
            raise problem


def wrong_kind(task: Any, item: Any) -> DataError | None:
    """The error for an input that names an existing file (or folder) of a kind ``task`` does not
    read (``task.input_kinds``), or None. Texts, in-memory items and names of nothing are the
    task's to read."""
    kinds = getattr(task, "input_kinds", None)
    if kinds is None or not (type(item) is str or isinstance(item, Path)):
        return None
    path = Path(item).expanduser()
    try:
        is_file, is_dir = path.is_file(), path.is_dir()
    except (OSError, ValueError):  # a text too long or too odd to be a file name
        return None
    if is_file:
        if has_suffix(path, kinds.files):
            return None
        got = describe_file(path)
    elif is_dir:
        if kinds.folder_files:
            found: dict[str, int] = {}
            for inner in path.rglob("*"):
                if inner.is_file() and not inner.name.startswith("."):
                    if has_suffix(inner, kinds.folder_files):
                        return None
                    found[inner.suffix.lower() or "no extension"] = found.get(inner.suffix.lower() or "no extension",
                                                                             0) + 1
            held = ", ".join(f"{n} {s}" for s, n in sorted(found.items(), key=lambda kv: -kv[1])[:3])
            got = f"a folder with no file of those kinds ({'it holds ' + held if held else 'it is empty'})"
        else:
            got = "a folder"
    else:
        return None
    return DataError(f"cannot predict from '{item}'",
                     expected=f"what a {task.name} model takes: {kinds.description or ', '.join(kinds.files) + ' files'}",
                     got=got)


def has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    """Whether ``path``'s name ends in one of ``suffixes`` (any case), double ones such as ``.nii.gz`` too."""
    return path.name.lower().endswith(tuple(suffix.lower() for suffix in suffixes))


def describe_file(path: Path) -> str:
    """``a .png image``, ``a .wav audio file``, ``a .csv file``: what a file is, by its name."""
    import mimetypes

    suffix = path.suffix.lower()
    if not suffix:
        return "a file without an extension"
    kind = (mimetypes.guess_type(path.name)[0] or "").split("/")[0]
    return {"image": f"a {suffix} image", "audio": f"a {suffix} audio file",
            "video": f"a {suffix} video"}.get(kind, f"a {suffix} file")


def input_name(item: Any) -> str:
    """An input (or a task's id of one) as a person recognises it in an error row."""
    if isinstance(item, (str, Path)):
        return str(item)
    if isinstance(item, dict):
        return str(item.get("input", item.get("source", item)))
    name = getattr(item, "name", None)
    if isinstance(name, str):
        return name
    shape = getattr(item, "shape", None)
    if shape is not None and not callable(shape):
        return f"<{type(item).__name__} {'x'.join(str(n) for n in shape)}>"
    if isinstance(item, (list, tuple)):
        text = str(item)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"<{type(item).__name__}>"
