"""Find labelled images: an image-folder tree (optionally pre-split) or a CSV of ``path,label``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torchworks.datasets import get_sample
from torchworks.errors import DataError
from torchworks.tasks.image_classification.decoding import is_image_file

SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
SOURCE_HINT = "an image folder (one sub-folder per class, or train/ val/ test/ each with class folders), a CSV with path,label columns, or a sample name"


@dataclass(frozen=True)
class LabelledFile:
    """One image, its class, its split if the source fixes one, and where it was listed."""

    path: Path
    label: str
    split: str | None
    origin: str


def find_labelled_files(data: str) -> tuple[list[LabelledFile], Path]:
    """All labelled images named by ``data``; returns them and the resolved source path."""
    sample = get_sample(data)
    source = sample.path() if sample is not None else Path(data).expanduser()
    if not source.exists():
        raise DataError(
            f"data '{data}' does not exist",
            expected=SOURCE_HINT,
            got="no such file or folder",
            hint="check the path; `torchworks data list` shows the bundled samples",
        )
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise DataError(f"data '{source}' is a file but not a CSV", expected=SOURCE_HINT, got=source.suffix or "a file")
        return _from_csv(source), source
    return _from_folder(source), source


def _from_folder(root: Path) -> list[LabelledFile]:
    subdirs = _visible_dirs(root)
    names = {d.name.lower() for d in subdirs}
    if names and names <= set(SPLIT_NAMES) and "train" in names:
        files = []
        for split_dir in subdirs:
            files += _class_tree(split_dir, SPLIT_NAMES[split_dir.name.lower()])
        return files
    return _class_tree(root, None)


def _class_tree(root: Path, split: str | None) -> list[LabelledFile]:
    class_dirs = _visible_dirs(root)
    if not class_dirs:
        loose = [p for p in root.iterdir() if p.is_file() and is_image_file(p)] if root.is_dir() else []
        raise DataError(
            f"folder '{root}' has no class folders",
            expected="one sub-folder per class, each holding that class's images",
            got=f"{len(loose)} loose images and no sub-folders" if loose else "an empty folder",
            hint="arrange images as ROOT/<class>/<image>.png",
        )
    files = []
    for class_dir in class_dirs:
        images = sorted(p for p in class_dir.rglob("*") if p.is_file() and is_image_file(p) and not _hidden(p, class_dir))
        if not images:
            raise DataError(
                f"class folder '{class_dir}' has no images",
                expected="PNG, JPEG, BMP, GIF, TIFF or WebP files",
                got="an empty folder",
                hint="remove the folder or add its images",
            )
        files += [LabelledFile(p, class_dir.name, split, str(p)) for p in images]
    return files


def _from_csv(path: Path) -> list[LabelledFile]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read CSV '{path}'", expected="a CSV with path,label columns", got=str(exc).splitlines()[0]) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("path", "label") if c not in frame.columns]
    if missing:
        raise DataError(
            f"CSV '{path}' lacks the column(s) {', '.join(missing)}",
            expected="columns path,label (and optionally split)",
            got="columns " + ", ".join(frame.columns) if len(frame.columns) else "no columns",
            hint="rename the columns in the header row to path and label",
        )
    if frame.empty:
        raise DataError(f"CSV '{path}' has no rows", expected="one row per image", got="a header only")
    files = []
    for row_number, row in enumerate(frame.itertuples(index=False), start=2):
        where = f"{path} row {row_number}"
        image_path, label = str(row.path).strip(), str(row.label).strip()
        if not image_path or not label:
            raise DataError(f"{where} has an empty path or label", expected="a path and a label", got=repr((image_path, label)))
        split = str(getattr(row, "split", "") or "").strip().lower() or None
        if split is not None and split not in SPLIT_NAMES:
            raise DataError(f"{where} has an unknown split", expected="train, val or test", got=repr(split))
        full = Path(image_path).expanduser()
        full = full if full.is_absolute() else path.parent / full
        files.append(LabelledFile(full, label, SPLIT_NAMES.get(split or "", None), where))
    return files


def _visible_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)
