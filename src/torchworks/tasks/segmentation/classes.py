"""The class map of segmentation data: which mask value (or colour) is which class, and the coder that turns
stored masks into contiguous class indices.

``classes.yaml`` is a YAML mapping from class name to its mask value, or to ``{value: INT, colour: [R, G, B]}``
(the colour also as ``"#rrggbb"``); a YAML list of names gives each the value of its position. Classes are
ordered by value: that order is the output channel order of the network. Without a class map the classes
are inferred from the values the masks hold (:func:`infer_class_map`).
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from torchworks.errors import ConfigError, DataError, did_you_mean

Colour = tuple[int, int, int]
MAX_VALUE = 65535  # 16-bit masks (mode I;16) are the widest index masks read
MAX_INFERRED = 256  # more distinct values than this in masks without a class map: instance ids, not classes
ENTRY_KEYS = ("value", "colour", "color")
HEX_COLOUR = re.compile(r"#([0-9a-fA-F]{6})$")
UNKNOWN = -1  # in a coder's table: a value no class declares
SHOWN = 10  # undeclared values listed in a message (colours: 5)
GRAMMAR = "class name: mask value, or class name: {value: INT, colour: [R, G, B]}, or a list of names"
EXAMPLE = "background: {value: 0, colour: [0, 0, 0]} / road: {value: 1, colour: [128, 64, 128]}"


@dataclass(frozen=True)
class ClassMap:
    """Classes by output channel: their names, mask values and declared colours (None where none was given).

    Attributes:
        source: Where the map came from (a file, ``"inferred from the masks"``, ``"the model"``), for messages.
    """

    names: list[str]
    values: list[int]
    colours: list[Colour | None]
    source: str

    @property
    def has_colours(self) -> bool:
        return any(colour is not None for colour in self.colours)

    def __len__(self) -> int:
        return len(self.names)


def read_class_map(path: str | Path) -> ClassMap:
    """The class map in ``path`` (classes.yaml), ordered by value.

    Raises:
        ConfigError: Missing file, bad YAML, a duplicate class, value or colour, an unknown key, or a value
            that is not an integer in 0..65535 (naming the file and the class).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"class map '{file}' does not exist", expected=f"a YAML file: {GRAMMAR}",
                          got="no such file", hint="check classes=, or leave it out to infer classes from the masks")
    content = _load(file)
    if isinstance(content, list):
        entries = [(_name(name, file), index, None) for index, name in enumerate(content)]
    elif isinstance(content, dict) and content:
        entries = [_entry(_name(name, file), spec, position, file) for position, (name, spec)
                   in enumerate(content.items())]
    else:
        raise ConfigError(f"class map '{file}' holds no classes", expected=GRAMMAR,
                          got="an empty file" if content in (None, {}, []) else f"a YAML {type(content).__name__}",
                          hint=f"write one class a line, e.g. {EXAMPLE}")
    _refuse_duplicates(entries, file)
    entries.sort(key=lambda entry: entry[1])
    return ClassMap([name for name, _, _ in entries], [value for _, value, _ in entries],
                    [colour for _, _, colour in entries], str(file))


def _load(file: Path) -> Any:
    try:
        return yaml.load(file.read_text(encoding="utf-8-sig"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"class map '{file}'{where} is not valid YAML", expected=GRAMMAR,
                          got=str(getattr(error, "problem", error)), hint="fix the YAML at that line") from None
    except UnicodeDecodeError:
        raise ConfigError(f"class map '{file}' is not a text file", expected=GRAMMAR, got="binary data") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a class map must not lose a class that way."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"class '{key}' appears twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _name(name: object, file: Path) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"class map '{file}': class name {name!r} is not a name", expected=GRAMMAR,
                          got=f"a YAML {type(name).__name__}",
                          hint="write `name: value` (name first), and quote names YAML reads as numbers or yes/no")
    return name.strip()


def _entry(name: str, spec: object, position: int, file: Path) -> tuple[str, int, Colour | None]:
    if not isinstance(spec, dict):
        return name, _value(spec, name, file), None
    unknown = [str(key) for key in spec if key not in ENTRY_KEYS]
    if unknown:
        raise ConfigError(f"class map '{file}': class '{name}' has an unknown key '{unknown[0]}'",
                          expected="the keys value and colour", got=", ".join(unknown),
                          hint=did_you_mean(unknown[0], ("value", "colour")))
    raw_colour = spec.get("colour", spec.get("color"))
    colour = _colour(raw_colour, name, file) if raw_colour is not None else None
    if "value" not in spec and colour is None:
        raise ConfigError(f"class map '{file}': class '{name}' gives neither a value nor a colour",
                          expected="{value: INT} or {value: INT, colour: [R, G, B]}", got=str(spec))
    # a colour-only entry takes its position as value: colour masks need no values
    return name, _value(spec["value"], name, file) if "value" in spec else position, colour


def _value(value: object, name: str, file: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
        raise ConfigError(f"class map '{file}': class '{name}' has a value that is not a mask value",
                          expected=f"an integer 0..{MAX_VALUE}", got=repr(value),
                          hint="write the pixel value the masks hold for that class, e.g. `road: 1`")
    return value


def _colour(colour: object, name: str, file: Path) -> Colour:
    if isinstance(colour, str) and HEX_COLOUR.match(colour.strip()):
        code = int(colour.strip()[1:], 16)
        return code >> 16, (code >> 8) & 255, code & 255
    if (isinstance(colour, list) and len(colour) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in colour)):
        return int(colour[0]), int(colour[1]), int(colour[2])
    raise ConfigError(f"class map '{file}': class '{name}' has a colour that is not RGB", expected="[R, G, B] with "
                      "integers 0..255, or \"#rrggbb\"", got=repr(colour))


def _refuse_duplicates(entries: list[tuple[str, int, Colour | None]], file: Path) -> None:
    for index, (name, value, colour) in enumerate(entries):
        for other, other_value, other_colour in entries[:index]:
            if other == name:
                raise ConfigError(f"class map '{file}': class '{name}' appears twice", expected="unique class "
                                  "names", got=f"'{name}' twice")
            if other_value == value:
                raise ConfigError(f"class map '{file}': classes '{other}' and '{name}' have the same value",
                                  expected="a different mask value per class", got=f"{value} twice")
            if colour is not None and other_colour == colour:
                raise ConfigError(f"class map '{file}': classes '{other}' and '{name}' have the same colour",
                                  expected="a different colour per class", got=f"RGB {colour} twice")


def infer_class_map(values: Iterable[int], *, raw_ignore: int | None, binary_allowed: bool = True) -> ClassMap:
    """The classes of masks that came without a class map, from the values they hold.

    Masks of only 0 and 255 (``binary_allowed``: not palette masks, where 255 marks borders) are
    ``background`` and ``foreground``. Otherwise each value is a class ``class_<v>`` (``background``
    for 0), except ``raw_ignore``, which is ignored.

    Raises:
        DataError: Fewer than two classes, or so many values that the masks look like instance ids.
    """
    found = sorted(set(int(value) for value in values))
    if binary_allowed and 255 in found and set(found) <= {0, 255}:
        return ClassMap(["background", "foreground"], [0, 255], [None, None], "inferred from the masks (binary)")
    kept = [value for value in found if value != raw_ignore]
    if len(kept) > MAX_INFERRED:
        raise DataError(f"the masks hold {len(kept)} distinct values", expected=f"at most {MAX_INFERRED} classes "
                        "without a class map", got=f"values {_listed(kept)}", hint="these look like instance ids; "
                        "write classes.yaml naming the class of each value, or convert the masks to class indices")
    if len(kept) < 2:
        raise DataError("the masks hold fewer than two classes", expected="at least two mask values (one may be "
                        "background)", got=f"values {_listed(found) or 'none'}"
                        + (f" (ignore_index={raw_ignore} is ignored)" if raw_ignore in found else ""),
                        hint="check that masks/ holds the masks, or declare the classes in classes.yaml")
    names = ["background" if value == 0 else f"class_{value}" for value in kept]
    return ClassMap(names, kept, [None] * len(kept), "inferred from the masks")


def class_map_of_state(state: dict[str, Any]) -> ClassMap:
    """The class map a trained model was trained with (every class has a colour there)."""
    return ClassMap(list(state["labels"]), [int(v) for v in state["values"]],
                    [tuple(int(c) for c in colour) for colour in state["colours"]], "the model")


def filled_colours(class_map: ClassMap, palette: Sequence[Colour] | None = None) -> list[list[int]]:
    """An RGB colour per class: the declared one, else the mask palette's entry for the class's value (palette
    PNGs), else the next of :func:`distinct_colours`, so that no two classes share a colour."""
    taken = {colour for colour in class_map.colours if colour is not None}
    chosen: list[Colour | None] = list(class_map.colours)
    for index, value in enumerate(class_map.values):
        if chosen[index] is None and palette is not None and value < len(palette) and palette[value] not in taken:
            chosen[index] = tuple(palette[value])
            taken.add(chosen[index])
    spare = iter(distinct_colours(len(chosen) + len(taken), taken))
    return [list(colour) if colour is not None else list(next(spare)) for colour in chosen]


def distinct_colours(count: int, taken: Iterable[Colour] = ()) -> list[Colour]:
    """``count`` colours that are easy to tell apart, none of them in ``taken``: black first (background),
    then hues a golden-ratio step apart, in alternating brightness and saturation."""
    excluded = set(taken)
    colours: list[Colour] = []
    if (0, 0, 0) not in excluded:
        colours.append((0, 0, 0))
    step = 0
    while len(colours) < count:
        hue = (step * 0.618033988749895) % 1.0
        saturation = (0.9, 0.6)[(step // 7) % 2]
        brightness = (0.95, 0.7, 0.5)[(step // 3) % 3]
        colour = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, saturation, brightness))
        if colour not in excluded and colour not in colours:
            colours.append(colour)  # type: ignore[arg-type]
        step += 1
    return colours[:count]


def colour_code(rgb: np.ndarray) -> np.ndarray:
    """RGB pixels ``[..., 3]`` as one int32 each (``r << 16 | g << 8 | b``), so colours compare as numbers."""
    rgb = np.asarray(rgb, dtype=np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _rgb(code: int) -> Colour:
    return (code >> 16) & 255, (code >> 8) & 255, code & 255


def _listed(values: Sequence[int], limit: int = SHOWN) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" ... ({len(values)} in all)" if len(values) > limit else "")


class MaskCoder:
    """Stored mask values (or colours) to contiguous class indices ``0..C-1``, with ``ignore_index`` for
    pixels that count for nothing.

    Args:
        class_map: The classes, by output channel.
        colour: Whether masks store colours (RGB, compared as :func:`colour_code`) rather than values.
        raw_ignore: The stored value of ignored pixels; a class declaring that value wins, and then none is
            ignored. Not used for colour masks.
        ignore_index: The value ignored pixels get in the coded mask (never a class index).
    """

    def __init__(self, class_map: ClassMap, *, colour: bool, raw_ignore: int | None, ignore_index: int):
        if ignore_index < len(class_map):
            raise ValueError(f"ignore_index {ignore_index} is a class index (there are {len(class_map)} classes)")
        self.names = list(class_map.names)
        self.colour = colour
        self.ignore_index = ignore_index
        self.source = class_map.source
        self._tables: dict[int, np.ndarray] = {}  # value -> class index for 8- and 16-bit masks, made on first use
        self._hash: tuple[int, np.ndarray, np.ndarray] | None = None
        if colour:
            self.keys = np.array([colour_code(np.array(c)) for c in class_map.colours if c is not None], np.int64)
            self.indices = np.array([i for i, c in enumerate(class_map.colours) if c is not None], np.int64)
            self.raw_ignore = None
        else:
            self.keys = np.asarray(class_map.values, dtype=np.int64)
            self.indices = np.arange(len(class_map), dtype=np.int64)
            self.raw_ignore = raw_ignore if raw_ignore is not None and raw_ignore not in class_map.values else None

    def lookup(self, raw_values: np.ndarray) -> np.ndarray:
        """The class index of each distinct stored value; ``ignore_index`` or :data:`UNKNOWN` for the rest."""
        raw_values = np.asarray(raw_values, dtype=np.int64)
        result = np.full(raw_values.shape, UNKNOWN, dtype=np.int64)
        if len(self.keys):
            order = np.argsort(self.keys)
            keys = self.keys[order]
            where = np.clip(np.searchsorted(keys, raw_values), 0, len(keys) - 1)
            result = np.where(keys[where] == raw_values, self.indices[order][where], UNKNOWN)
        if self.raw_ignore is not None:
            result = np.where(raw_values == self.raw_ignore, self.ignore_index, result)
        return result

    def class_pixels(self, raw_values: np.ndarray, counts: np.ndarray, name: str) -> tuple[np.ndarray, int]:
        """Pixels per class (length C) and ignored pixels of one mask, from its distinct stored values and
        their counts.

        Raises:
            DataError: The mask holds values (colours) no class declares, naming ``name`` and listing them.
        """
        classes = self.lookup(raw_values)
        unknown = classes == UNKNOWN
        if unknown.any():
            self.refuse(np.asarray(raw_values)[unknown], name)
        counts = np.asarray(counts, dtype=np.int64)
        known = classes != self.ignore_index
        per_class = np.bincount(classes[known], weights=counts[known], minlength=len(self.names))
        return per_class.astype(np.int64), int(counts[~known].sum())

    def encode(self, raw: np.ndarray, name: str) -> np.ndarray:
        """The mask ``raw`` (stored values, or colour codes) as int64 class indices and ``ignore_index``."""
        if raw.dtype in (np.uint8, np.uint16):  # a table indexed by the value: no sort, the common case
            coded = self._table(256 if raw.dtype == np.uint8 else 65536)[raw]
            if (coded == UNKNOWN).any():
                self.refuse(np.unique(raw[coded == UNKNOWN]), name)
            return coded
        # colour codes and 32-bit values: a hash table without collisions among the declared keys, checked
        # key by key (sorting the pixels with np.unique took ten times as long)
        modulus, keys, classes = self._hashed()
        raw = np.asarray(raw, dtype=np.int64)
        slots = raw % modulus
        unknown = keys[slots] != raw
        if unknown.any():
            self.refuse(np.unique(raw[unknown]), name)
        return classes[slots]

    def _table(self, size: int) -> np.ndarray:
        if size not in self._tables:
            self._tables[size] = self.lookup(np.arange(size))
        return self._tables[size]

    def _hashed(self) -> tuple[int, np.ndarray, np.ndarray]:
        if self._hash is None:
            known = dict(zip(self.keys.tolist(), self.indices.tolist()))
            if self.raw_ignore is not None:
                known[self.raw_ignore] = self.ignore_index
            modulus = next(m for m in range(max(len(known), 1), 64 * len(known) + 4096)
                           if len({key % m for key in known}) == len(known))
            keys = np.full(modulus, -1, dtype=np.int64)  # -1: an empty slot (stored values are never negative)
            classes = np.full(modulus, UNKNOWN, dtype=np.int64)
            for key, index in known.items():
                keys[key % modulus], classes[key % modulus] = key, index
            self._hash = (modulus, keys, classes)
        return self._hash

    def refuse(self, undeclared: np.ndarray, name: str) -> None:
        """Raise the DataError for stored values or colours that no class declares."""
        values = sorted(int(v) for v in undeclared)
        lossy = Path(name).suffix.lower() in (".jpg", ".jpeg")
        if self.colour:
            shown = ", ".join(str(_rgb(v)) for v in values[:5]) + (f" ... ({len(values)} in all)" if len(values) > 5
                                                                    else "")
            declared = ", ".join(f"{n} {_rgb(int(k))}" for n, k in zip(np.array(self.names)[self.indices],
                                                                       self.keys))
            raise DataError(f"mask '{name}' holds colours not in the class map", expected=f"the colours of "
                            f"{self.source}: {declared}", got=f"colours {shown} not declared",
                            hint=_hint(lossy, "add a class with each such colour to classes.yaml"))
        declared_values = ", ".join(str(int(v)) for v in sorted(self.keys))
        raise DataError(f"mask '{name}' holds values not in the class map", expected=f"the values of {self.source}",
                        got=f"values {_listed(values)} not declared; declared {declared_values}",
                        hint=_hint(lossy, "declare them in classes.yaml (name: value), or set ignore_index= to "
                                   "the value of pixels to ignore"))


def _hint(lossy: bool, otherwise: str) -> str:
    return "save masks as PNG: JPEG compression changes pixel values at every edge" if lossy else otherwise
