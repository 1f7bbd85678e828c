"""Volumes segmented slice by slice: NIfTI scans (``.nii``, ``.nii.gz``, read with nibabel, the optional
``volumes`` extra: ``pip install 'torchworks[volumes]'``) and NumPy stacks (``.npy``, nothing extra).

Axes. A NIfTI volume is sliced along its stored third (last spatial) axis: slice ``k`` is
``data[:, :, k]``, the axial slice of the usual RAS- or LPS-ordered scan, given to the model as an image
whose rows are the first voxel axis and whose columns are the second, as stored (no turning to a display
convention: a model trained on PNGs saved as ``Image.fromarray(data[:, :, k])`` sees what it learnt
from). A 4-D file with one volume (``X x Y x Z x 1``) is that volume; a series of volumes is refused. A
``.npy`` stack is ``[slices, H, W]`` (grey) or ``[slices, H, W, 3]`` (colour); slice ``k`` is
``stack[k]``.

Opening (when the inputs are listed) reads the header, checks shape and type, and reads the few slices
that fix the intensity bounds (:mod:`~torchworks.tasks.segmentation.volume_intensity`), the last one
among them, so a truncated file is named before anything is predicted. Each volume becomes one
:class:`VolumeSlice` item per slice; the pixels are read when the predictor asks for them, one slice at a
time (nibabel's array proxy, ``np.load(mmap_mode="r")``), so a volume is never held whole as floats. A
compressed NIfTI is kept open while its slices are read in order: gzip can only be read forwards, and
opening it again for each slice would decompress it from the start every time.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from torchworks.errors import DataError
from torchworks.tasks.segmentation.volume_intensity import intensity_bounds, slice_bytes

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".npy")  # the ends of a volume's file name, lower case
LISTED_SUFFIXES = frozenset({".nii", ".gz", ".npy"})  # what Path.suffix gives for them (.nii.gz ends in .gz)
INSTALL = "pip install 'torchworks[volumes]'"
_EXPECTED = {"nifti": "a NIfTI volume nibabel can read", "npy": "a .npy array saved by numpy.save"}


def volume_suffix(name: str) -> str | None:
    """The volume suffix ``name`` ends with (``.nii.gz``, ``.nii``, ``.npy``), or None."""
    lower = name.lower()
    return next((suffix for suffix in VOLUME_SUFFIXES if lower.endswith(suffix)), None)


def volume_stem(name: str) -> str:
    """A volume's file name without its suffix: ``scan`` for ``dir/scan.nii.gz``."""
    base = Path(name).name
    suffix = volume_suffix(base)
    return base[:-len(suffix)] if suffix else Path(base).stem


@dataclass(eq=False)
class Volume:
    """One volume: its name in records, its file and format (``nifti`` or ``npy``), its stored shape and
    voxel type, the size and number of its slices, the intensity bounds mapped to 0 and 1, and from a
    NIfTI header the voxel spacing and the orientation of its axes (``RAS``)."""

    name: str
    path: Path
    format: str
    shape: tuple[int, ...]
    dtype: str
    slices: int
    height: int
    width: int
    low: float
    high: float
    spacing: list[float] | None = None
    orientation: str | None = None


@dataclass(frozen=True)
class VolumeSlice:
    """One slice to segment: the volume's name, the volume, the slice's index and size."""

    name: str
    volume: Volume = field(compare=False, repr=False)
    index: int
    height: int
    width: int

    def __str__(self) -> str:
        return self.name


def slices_of(volume: Volume) -> list[VolumeSlice]:
    """One item per slice of ``volume``, in order."""
    return [VolumeSlice(volume.name, volume, index, volume.height, volume.width) for index in range(volume.slices)]


def open_volume(path: Path, name: str) -> Volume:
    """Check and describe the volume at ``path``; its sampled slices read for the intensity bounds.

    Raises:
        DataError: Not readable as its suffix says, an unsupported shape or type, voxels that are not
            finite, or a NIfTI file without nibabel installed (saying how to install it).
    """
    with _StoredVolume.open(path, name) as stored:
        low, high = intensity_bounds(stored.read, stored.slices, name)
        return Volume(name, path, stored.format, stored.shape, stored.dtype, stored.slices, stored.height,
                      stored.width, low, high, **stored.geometry)


class SliceReader:
    """Reads the slices a prediction dataset asks for, keeping the current volume open. When a slice of a
    volume cannot be read, the same error is raised for its every later slice: the volume gets one error
    row, not one per slice."""

    def __init__(self) -> None:
        self.volume: Volume | None = None
        self.stored: _StoredVolume | None = None
        self.failure: DataError | None = None

    def pixels(self, item: VolumeSlice, max_pixels: int) -> np.ndarray:
        """Slice ``item`` as ``uint8 [H, W, 3]``, as the model sees an image.

        Raises:
            DataError: The slices are over ``max_pixels``, or the slice (or an earlier one) cannot be read.
        """
        volume = item.volume
        if volume is not self.volume:
            self.close()
            self.volume = volume
        if self.failure is None:
            try:
                return self._read(item, max_pixels)
            except DataError as error:
                self.failure = error
        raise self.failure

    def _read(self, item: VolumeSlice, max_pixels: int) -> np.ndarray:
        volume = item.volume
        if volume.height * volume.width > max_pixels:
            raise DataError(f"the slices of volume '{volume.name}' are too large", expected=f"at most max_pixels="
                            f"{max_pixels:,} pixels, or tile= to predict them in windows",
                            got=f"{volume.width}x{volume.height}", hint="predict with tile=512, or raise max_pixels=")
        if self.stored is None:
            self.stored = _StoredVolume.open(volume.path, volume.name)
            if self.stored.shape != volume.shape:
                raise DataError(f"volume '{volume.name}' changed while it was predicted", expected=f"shape "
                                f"{_shape(volume.shape)}", got=f"shape {_shape(self.stored.shape)}")
        return slice_bytes(self.stored.read(item.index), volume.low, volume.high, volume.name, item.index)

    def close(self) -> None:
        """Let go of the open volume."""
        if self.stored is not None:
            self.stored.close()
        self.volume = self.stored = self.failure = None


@dataclass
class _StoredVolume:
    """An open volume file: ``read(k)`` gives slice ``k`` as stored (``[H, W]`` or ``[H, W, 3]``); a read
    that fails raises DataError naming the file."""

    name: str
    format: str
    shape: tuple[int, ...]
    dtype: str
    slices: int
    height: int
    width: int
    reader: Callable[[int], np.ndarray]  # holds the open file (nibabel's proxy, numpy's memory map)
    geometry: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, name: str) -> _StoredVolume:
        suffix = volume_suffix(path.name)
        if suffix is None:
            raise DataError(f"cannot predict from '{name}'", expected="an image, a NIfTI volume (.nii, .nii.gz) or "
                            "a .npy stack", got=f"a {''.join(path.suffixes[-2:]) or 'nameless'} file")
        if not path.is_file():
            raise DataError(f"volume '{name}' does not exist", expected="the volume file named", got="no such file")
        return _open_npy(path, name) if suffix == ".npy" else _open_nifti(path, name)

    def read(self, index: int) -> np.ndarray:
        try:
            return np.asarray(self.reader(index))
        except (OSError, EOFError, ValueError, zlib.error) as error:  # a short file, a corrupt gzip stream
            raise DataError(f"cannot read slice {index} of volume '{self.name}'", expected=_EXPECTED[self.format],
                            got=_complaint(error), hint="fix or remove that file") from None

    def close(self) -> None:
        self.reader = _closed  # the proxy or map let go: nibabel closes a kept-open file with its proxy

    def __enter__(self) -> _StoredVolume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _closed(index: int) -> np.ndarray:
    raise RuntimeError("volume closed")


def _open_npy(path: Path, name: str) -> _StoredVolume:
    """A ``.npy`` stack, its header checked before its data is mapped (never unpickled)."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = header(handle)
    except (OSError, ValueError, EOFError, SyntaxError) as error:
        raise DataError(f"cannot read volume '{name}'", expected=_EXPECTED["npy"], got=_complaint(error),
                        hint="fix or remove that file") from None
    _check_type(dtype, name)
    grey = len(shape) == 3
    if not (grey or (len(shape) == 4 and shape[3] == 3)):
        hint = ("a 2-D array is one image: save it as a PNG, or as a stack of one (array[None])" if len(shape) == 2
                else "save the stack as [slices, height, width]")
        raise DataError(f"volume '{name}' is no stack of slices", expected="a [slices, H, W] or [slices, H, W, 3] "
                        "array", got=f"shape {_shape(shape)}", hint=hint)
    _check_not_empty(shape, name)
    try:
        stack = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"cannot read volume '{name}'", expected=_EXPECTED["npy"], got=_complaint(error),
                        hint="fix or remove that file") from None
    return _StoredVolume(name, "npy", tuple(shape), str(dtype), shape[0], shape[1], shape[2],
                         reader=lambda k: stack[k])


def _open_nifti(path: Path, name: str) -> _StoredVolume:
    """A NIfTI-1 or -2 volume, its header read; its voxels stay on disk behind nibabel's array proxy."""
    try:
        import nibabel
    except ImportError:
        raise DataError(f"cannot read NIfTI volume '{name}' without nibabel", expected=f"nibabel installed ({INSTALL})",
                        got="no module named nibabel", hint=INSTALL) from None
    try:
        image = nibabel.load(path, keep_file_open=True)
    except (nibabel.filebasedimages.ImageFileError, OSError, EOFError, ValueError) as error:
        raise DataError(f"cannot read volume '{name}'", expected=_EXPECTED["nifti"], got=_complaint(error),
                        hint="fix or remove that file") from None
    shape = tuple(int(n) for n in image.shape)
    _check_type(image.get_data_dtype(), name)
    if len(shape) < 3 or any(n != 1 for n in shape[3:]):
        if len(shape) >= 4:
            got = f"{int(np.prod(shape[3:]))} volumes ({_shape(shape)})"
            hint = "split the series into 3-D files (nibabel.four_to_three) and predict each"
        else:
            got, hint = f"shape {_shape(shape)}", "save a 2-D image as a PNG"
        raise DataError(f"NIfTI file '{name}' is no single 3-D volume", expected="one X x Y x Z volume", got=got,
                        hint=hint)
    _check_not_empty(shape, name)
    proxy = image.dataobj
    rest = (0,) * (len(shape) - 3)
    codes = nibabel.aff2axcodes(image.affine)
    geometry = {"spacing": [round(float(v), 6) for v in image.header.get_zooms()[:3]],
                "orientation": "".join(codes) if None not in codes else None}
    return _StoredVolume(name, "nifti", shape, str(image.get_data_dtype()), shape[2], shape[0], shape[1],
                         reader=lambda k: proxy[(slice(None), slice(None), k, *rest)], geometry=geometry)


def _check_type(dtype: np.dtype, name: str) -> None:
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise DataError(f"volume '{name}' holds no intensities", expected="numbers (integers or floats)",
                        got=f"{dtype} values", hint="save the voxels as a numeric array (colour as a last axis of 3)")


def _check_not_empty(shape: tuple[int, ...], name: str) -> None:
    if 0 in shape:
        raise DataError(f"volume '{name}' is empty", expected="at least one slice of at least one pixel",
                        got=f"shape {_shape(shape)}")


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(str(n) for n in shape)


def _complaint(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:160]
