"""A volume's intensities as the 8-bit images the model was trained on.

A segmentation model learns from 8-bit images scaled to [0, 1]. A volume's voxels may be anything:
uint8, MR intensities in arbitrary units, CT Hounsfield units from -1024 to 3000. Each volume is
therefore scaled once, with bounds fixed when it is opened, not per slice (so a slice of air and a slice
through the liver keep their relation):

- ``uint8`` voxels keep their value: the bounds are 0 and 255, as for a PNG.
- Any other type (signed or wider integers, floats, NIfTI data with a scale factor) is mapped from the
  robust bounds ``[low, high]`` to [0, 1]: the :data:`LOW_PERCENTILE` and :data:`HIGH_PERCENTILE`
  percentiles of a sample of the volume's voxels (every voxel of up to :data:`SAMPLE_SLICES` evenly
  spaced slices, thinned to about :data:`SAMPLE_VOXELS` in all), clipped outside. A few bright outliers
  (metal, contrast) thus do not squash the rest.

Each slice then becomes ``round(255 * scaled)``, one byte a voxel, grey spread to three channels: exactly
what decoding a PNG of that slice gives, so a volume's slice and the same slice saved as an 8-bit PNG
are predicted alike. Voxels that are not finite (NaN, Inf) are refused, not guessed.

Not built yet: a fixed window for CT (``window=-160,240`` for soft tissue) in place of the percentiles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from torchworks.errors import DataError

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5
SAMPLE_SLICES = 32  # slices read for the bounds, evenly spaced, the first and last among them
SAMPLE_VOXELS = 262_144  # voxels kept of them, about


def sampled_slices(slices: int) -> list[int]:
    """The slices read for the bounds: evenly spaced from the first to the last (reading the last also
    proves that a compressed file is whole)."""
    return sorted({int(k) for k in np.linspace(0, slices - 1, min(slices, SAMPLE_SLICES)).round()})


def intensity_bounds(read: Callable[[int], np.ndarray], slices: int, name: str) -> tuple[float, float]:
    """``(low, high)``: the voxel values that become 0 and 1, from the sampled slices ``read(k)`` returns.

    Raises:
        DataError: Voxels that are not finite in the sample.
    """
    chosen = sampled_slices(slices)
    per_slice = max(1, SAMPLE_VOXELS // len(chosen))
    sample, dtype = [], None
    for index in chosen:
        values = np.asarray(read(index)).ravel()
        dtype = values.dtype
        sample.append(values[::max(1, values.size // per_slice)].astype(np.float64))
    if dtype == np.uint8:
        return 0.0, 255.0
    voxels = np.concatenate(sample)
    if not np.isfinite(voxels).all():
        raise _not_finite(name, f"{int((~np.isfinite(voxels)).sum()):,} of {voxels.size:,} sampled voxels")
    low, high = np.percentile(voxels, [LOW_PERCENTILE, HIGH_PERCENTILE])
    return float(low), float(high)


def slice_bytes(values: np.ndarray, low: float, high: float, name: str, index: int) -> np.ndarray:
    """One slice (``[H, W]`` grey or ``[H, W, 3]`` colour) as ``uint8 [H, W, 3]``, scaled from
    ``[low, high]`` to 0-255 (clipped outside; a constant volume becomes 0).

    Raises:
        DataError: Voxels that are not finite.
    """
    values = np.asarray(values)
    if values.dtype == np.uint8 and (low, high) == (0.0, 255.0):
        scaled = np.array(values)  # a copy: a memory-mapped stack's slice is read-only
    else:
        values = values.astype(np.float64)
        if not np.isfinite(values).all():
            raise _not_finite(name, f"{int((~np.isfinite(values)).sum()):,} in slice {index}")
        span = high - low if high > low else 1.0
        scaled = np.rint(np.clip((values - low) / span, 0.0, 1.0) * 255.0).astype(np.uint8)
    if scaled.ndim == 2:
        scaled = np.repeat(scaled[:, :, None], 3, axis=2)
    return np.ascontiguousarray(scaled)


def _not_finite(name: str, got: str) -> DataError:
    return DataError(f"volume '{name}' holds voxels that are not numbers", expected="finite intensities",
                     got=f"NaN or Inf: {got}", hint="replace them first, e.g. with numpy.nan_to_num")
