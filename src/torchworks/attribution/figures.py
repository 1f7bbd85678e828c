"""Pictures of attributions, shared by every task: a heat map over an image, a saliency map over a
matrix with its profile, importance bars, and tokens highlighted in HTML.

One colour language throughout: green supports the explained answer, red speaks against it; a map
without sign (Grad-CAM, saliency) runs from transparent to hot.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence

import numpy as np

from torchworks.report.plots import close, plt  # the Agg backend is chosen there, before pyplot loads

SUPPORTS = (26, 152, 80)  # green
OPPOSES = (215, 48, 39)  # red


def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    finally:
        close(figure)
    return buffer.getvalue()


def overlay_figure(picture: np.ndarray, heat: np.ndarray, title: str, signed: bool, *,
                   extent: tuple[float, float] | None = None, boxes: Sequence[tuple[Sequence[float], str]] = ()):
    """The picture (H x W grey or H x W x 3, values in [0, 1]) beside the same picture with ``heat``
    (H x W) blended over it, and a colour bar for the heat.

    Args:
        extent: ``(width, height)`` of the picture in the units of ``boxes`` and the axes (the stored
            image's pixels, when the picture and heat are a resized copy); default: their own pixels.
        boxes: ``(xyxy, caption)`` rectangles outlined on both panels (a detection being explained).
    """
    figure, axes = plt.subplots(1, 2, figsize=(7.6, 3.9))
    grey = picture.ndim == 2
    corners = None if extent is None else (0.0, float(extent[0]), float(extent[1]), 0.0)
    for ax in axes:
        ax.imshow(picture, cmap="gray" if grey else None, vmin=0, vmax=1, extent=corners)
        ax.axis("off")
    largest = float(np.abs(heat).max()) or 1.0
    strength = np.clip(np.abs(heat) / largest, 0, 1)
    if signed:
        shown = axes[1].imshow(heat, cmap="RdYlGn", vmin=-largest, vmax=largest, alpha=0.85 * strength,
                               extent=corners)
    else:
        shown = axes[1].imshow(heat, cmap="jet", vmin=0, vmax=largest, alpha=0.05 + 0.65 * strength, extent=corners)
    for ax in axes:
        for xyxy, caption in boxes:
            _outline(ax, xyxy, caption)
    axes[0].set_title("input", fontsize=9)
    axes[1].set_title("attribution", fontsize=9)
    figure.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    figure.suptitle(title, fontsize=10)
    return figure


def _outline(ax, xyxy: Sequence[float], caption: str) -> None:
    """A box drawn white over black (visible on any picture and heat colour), and its caption."""
    from matplotlib.patches import Rectangle

    left, top, right, bottom = (float(v) for v in xyxy)
    for colour, width in (("black", 2.6), ("white", 1.2)):
        ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, edgecolor=colour,
                               linewidth=width))
    if caption:  # above the box, or just inside it when the box touches the picture's top
        inside = top < 0.08 * abs(ax.get_ylim()[0] - ax.get_ylim()[1])
        ax.text(left, top, caption, fontsize=7, color="white", va="top" if inside else "bottom", ha="left",
                clip_on=True, bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "linewidth": 0})


def map_with_profile(background: np.ndarray, saliency: np.ndarray, profile: np.ndarray, seconds_per_column: float,
                     title: str, ylabel: str):
    """A matrix (rows x columns, such as mel bands x frames) with ``saliency`` of the same shape laid
    over it, and below it ``profile`` (one value per column) against time in seconds."""
    columns = background.shape[1]
    extent = (0.0, columns * seconds_per_column, 0.0, float(background.shape[0]))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8.0, 4.6), sharex=True,
                                         gridspec_kw={"height_ratios": (3, 1)})
    top.imshow(background, origin="lower", aspect="auto", cmap="gray_r", extent=extent)
    largest = float(saliency.max()) or 1.0
    top.imshow(saliency, origin="lower", aspect="auto", cmap="jet", vmin=0, vmax=largest, extent=extent,
               alpha=np.clip(saliency / largest, 0, 1) * 0.8)
    top.set(ylabel=ylabel, title=title)
    times = (np.arange(columns) + 0.5) * seconds_per_column
    bottom.fill_between(times, profile, color="#c44e52", alpha=0.6, linewidth=0)
    bottom.plot(times, profile, color="#c44e52", linewidth=1)
    bottom.set(xlabel="seconds", ylabel="share", xlim=(0, columns * seconds_per_column))
    bottom.set_ylim(bottom=0)
    figure.tight_layout()
    return figure


def importance_bars(by_position: dict[str, float], by_feature: dict[str, float], title: str, unit: str):
    """Two panels of bars: importance per position (lags, oldest first) and per feature."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10.0, max(3.2, 0.3 * len(by_feature) + 1.6)),
                                         gridspec_kw={"width_ratios": (2.2, 1)})
    positions = list(by_position)
    left.bar(range(len(positions)), list(by_position.values()), color="#4c72b0")
    step = max(1, len(positions) // 12)
    ticks = list(range(len(positions) - 1, -1, -step))[::-1]  # always label the latest position
    left.set_xticks(ticks, [positions[i] for i in ticks], rotation=45, ha="right", fontsize=8)
    left.set(title="by lag", ylabel=unit)
    features = list(by_feature)
    right.barh(range(len(features)), list(by_feature.values()), color="#55a868")
    right.set_yticks(range(len(features)), features)
    right.invert_yaxis()
    right.set(title="by feature", xlabel=unit)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def signed_colour(score: float, scale: float) -> str:
    """A CSS background for ``score``: green when positive, red when negative, stronger when larger."""
    strength = min(1.0, abs(score) / scale) if scale > 0 else 0.0
    red, green, blue = SUPPORTS if score >= 0 else OPPOSES
    return f"rgba({red},{green},{blue},{0.08 + 0.72 * strength:.2f})"


def highlighted_html(segments: list[tuple[str, float | None]]) -> str:
    """Text pieces in order, each with a score (highlighted, the score on hover) or None (plain)."""
    scores = [abs(score) for _, score in segments if score is not None]
    scale = max(scores) if scores else 0.0
    parts = []
    for text, score in segments:
        if score is None:
            parts.append(html.escape(text))
        else:
            parts.append(f"<span class='tok' style='background:{signed_colour(score, scale)}' "
                         f"title='{score:+.4g}'>{html.escape(text)}</span>")
    return "<p class='tokens'>" + "".join(parts) + "</p>"
