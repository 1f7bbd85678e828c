"""A self-contained HTML report: every plot embedded as base64, no external assets, opens offline.

Table cells are escaped text, formatted by :func:`format_value` from the column's name (milliseconds,
speed-ups, sizes, counts, metrics), or :class:`Media` (a clip or picture embedded as a data URI).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2430;padding:0 1rem}h1{margin-bottom:.2rem}.sub{color:#5b6575;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0 1.4rem}td,th{border:1px solid #d6dbe3;padding:.3rem .6rem;
text-align:left;font-variant-numeric:tabular-nums}th{background:#f2f4f8}.best{font-weight:700;color:#0a6b2d}
figure{margin:1rem 0}img{max-width:100%;border:1px solid #e3e7ee}pre{background:#f6f8fa;padding:.8rem;
overflow:auto;font-size:.85rem}section{margin-bottom:1.6rem}
.headline{padding:.8rem 1rem;border-radius:6px;border-left:6px solid;margin:1rem 0 1.4rem;font-size:1.05rem}
.headline.good{background:#e8f6ec;border-color:#1f8a4c;color:#0d4a27}
.headline.warn{background:#fff4e0;border-color:#d98a00;color:#5c3a00}
.headline.info{background:#eef2f7;border-color:#7a869a;color:#2b3442}
.scroll{overflow-x:auto;max-width:100%}td{max-width:36rem;overflow-wrap:break-word;vertical-align:top}
td.num{text-align:right;white-space:nowrap}audio{height:2rem;width:14rem}
td.right{color:#1f7a34;font-weight:600}td.wrong{color:#b3261e;font-weight:600}
"""

# media types a report may embed; anything else is refused rather than written into the page
_MEDIA_TYPES = {"audio/wav", "audio/ogg", "audio/flac", "audio/mpeg", "image/png", "image/jpeg"}
MAX_MEDIA_BYTES = 2 * 2**20

# a comparison wider than this many metrics is drawn turned: one row per metric, one column per model
_WIDE = 7


@dataclass(frozen=True)
class Media:
    """A table cell that plays or shows embedded bytes: a short WAV clip, a thumbnail.

    Attributes:
        mime: ``audio/wav``, ``audio/ogg``, ``audio/flac``, ``audio/mpeg``, ``image/png`` or ``image/jpeg``.
        data: The file's bytes (at most ``MAX_MEDIA_BYTES``; larger ones are named, not embedded).
        label: Shown as the tooltip and as the text of a cell too large to embed.
    """

    mime: str
    data: bytes
    label: str = ""

    def __post_init__(self) -> None:
        if self.mime not in _MEDIA_TYPES:
            raise ValueError(f"cannot embed media of type {self.mime!r}; one of {sorted(_MEDIA_TYPES)}")

    def to_html(self) -> str:
        label = html.escape(self.label, quote=True)
        if len(self.data) > MAX_MEDIA_BYTES:
            return f"{label} (too large to embed)"
        source = f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"
        if self.mime.startswith("audio/"):
            return f"<audio controls preload='metadata' title='{label}' src='{source}'></audio>"
        return f"<img alt='{label}' title='{label}' src='{source}'>"


@dataclass(frozen=True)
class Link:
    """A table cell that links to a relative path next to the page (a run's report, say)."""

    text: str
    href: str

    def to_html(self) -> str:
        if ":" in self.href.split("/")[0] or self.href.startswith(("/", "\\")):
            return html.escape(self.text)  # only relative paths: no scheme, no absolute path
        return f"<a href='{html.escape(self.href, quote=True)}'>{html.escape(self.text)}</a>"


def render_report(
    title: str,
    subtitle: str,
    comparison: list[dict[str, Any]],
    plots: dict[str, Path],
    tables: dict[str, list[dict[str, Any]]],
    facts: dict[str, Any],
    config: dict[str, Any],
    headline: dict[str, str] | None = None,
) -> str:
    """Build the report page.

    Args:
        title: Page heading (task and run name).
        subtitle: One line under it (data, model, when).
        comparison: Rows of model-versus-baseline metrics, first column the model name.
        plots: Caption -> PNG file, embedded inline.
        tables: Heading -> rows, for per-class metrics and the like.
        facts: Data summary (counts, skipped files) as key/value pairs.
        config: The resolved config, shown verbatim.
        headline: The run's verdict, a banner under the title: ``{"tone": "good"|"warn"|"info",
            "text": ...}`` (green when the model beats its baselines, amber when a baseline is better).
    """
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(subtitle)}</p>",
    ]
    if headline:
        tone = headline.get("tone") if headline.get("tone") in ("good", "warn", "info") else "info"
        parts.append(f"<p class='headline {tone}' role='status'>{html.escape(headline.get('text', ''))}</p>")
    if comparison:
        parts += ["<section><h2>Model against baselines (test split)</h2>", _comparison_table(comparison), "</section>"]
    for caption, path in plots.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(
            f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    for heading, rows in tables.items():
        if rows:
            parts += [f"<section><h2>{html.escape(heading)}</h2>", _table(rows), "</section>"]
    if facts:
        parts += ["<section><h2>Data</h2>", _table([{"fact": k, "value": v} for k, v in facts.items()]), "</section>"]
    parts += [
        "<section><h2>Resolved config</h2><pre>",
        html.escape(json.dumps(config, indent=2, default=str)),
        "</pre></section></body></html>",
    ]
    return "".join(parts)


def render_page(title: str, subtitle: str, sections: list[dict[str, Any]]) -> str:
    """A self-contained page of tables and figures (the runs overview, say).

    Args:
        title: Page heading.
        subtitle: One line under it.
        sections: Each with ``heading``, optional ``note`` (a line of text under it), ``rows`` (a
            table, cells as in :func:`render_report`, :class:`Link` too), ``highlight`` (row
            positions drawn as the best) and ``images`` (caption -> PNG bytes).
    """
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}{_PAGE_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(subtitle)}</p>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section['heading'])}</h2>")
        if section.get("note"):
            parts.append(f"<p class='sub'>{html.escape(section['note'])}</p>")
        for caption, png in (section.get("images") or {}).items():
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        if section.get("rows"):
            parts.append(_table(section["rows"], highlight=section.get("highlight", ())))
        parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)


_PAGE_STYLE = "tr.best td{background:#e9f7ee;font-weight:600}tr.best td:first-child{border-left:4px solid #2e8b3e}"


def _table(rows: list[dict[str, Any]], highlight: Any = ()) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(("<tr class='best'>" if position in highlight else "<tr>")
                   + "".join(_cell(c, row.get(c, "")) for c in columns) + "</tr>" for position, row in enumerate(rows))
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _comparison_table(rows: list[dict[str, Any]]) -> str:
    """Model and baselines side by side; turned (a row per metric) when there are many metrics, so
    the table fits the page however many the task reports."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    if len(columns) - 1 <= _WIDE:
        return _table(rows)
    first = columns[0]
    turned = [{"metric": column, **{str(row.get(first, "")): row.get(column, "") for row in rows}}
              for column in columns[1:]]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in turned[0])
    body = "".join("<tr><th>" + html.escape(row["metric"]) + "</th>"
                   + "".join(_cell(row["metric"], value) for key, value in row.items() if key != "metric")
                   + "</tr>" for row in turned)
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _cell(column: str, value: Any) -> str:
    if isinstance(value, (Media, Link)):
        return f"<td>{value.to_html()}</td>"
    if column == "result" and value in ("right", "wrong"):  # a sampled answer: green or red, as in the figures
        return f"<td class='{value}'>{value}</td>"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f"<td class='num'>{html.escape(format_value(column, value))}</td>" if numeric else \
        f"<td>{html.escape(format_value(column, value))}</td>"


def format_value(column: str, value: Any) -> str:
    """``value`` as a person reads it in a column called ``column``.

    The column's name says the unit: ``..._ms`` / ``... ms`` milliseconds (``1,040 ms``, ``3.42 ms``),
    ``speedup`` / ``vs eager`` ratios (``2.59x``), ``..._mb`` / ``MB`` sizes, ``..._s`` / ``seconds``,
    ``samples/s`` / ``throughput`` rates, and counts (``support``, ``test_samples``, ``clips``...) as
    integers with thousands separators. Any other number is a metric: four decimals below 1, four
    significant digits above (``0.7621``, ``1.135``, ``12.35``). Blank for None; JSON for lists and dicts.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    unit = _unit(column)
    if unit == "x":
        return f"{value:.2f}x"
    if unit in ("ms", "s"):
        return f"{_magnitude(value)} {unit}"
    if unit == "MB":
        return f"{value:,.1f} MB" if abs(value) >= 10 else f"{value:.2f} MB"
    if unit == "rate":
        return _magnitude(value)
    if isinstance(value, int) or (unit == "count" and float(value).is_integer()):
        return f"{int(value):,}"
    return _metric(float(value))


_UNITS = (
    ("x", re.compile(r"speed-?up|\bvs\b")),
    ("ms", re.compile(r"(^|[ _(])ms\)?$|_ms_|\bms\b")),
    ("MB", re.compile(r"(^|[ _(])mb\)?$|\bmb\b")),
    ("rate", re.compile(r"/s\b|per.second|throughput")),
    ("s", re.compile(r"(^|[ _(])s\)?$|seconds")),
    ("count", re.compile(r"support|samples|count|clips|words|images|rows|files|epochs|steps|texts|series|"
                         r"^n$|^n_|_n$|errors$|batch")),
)


def _unit(column: str) -> str | None:
    name = str(column).strip().lower()
    return next((unit for unit, pattern in _UNITS if pattern.search(name)), None)


def _magnitude(value: float) -> str:
    """Times and rates: whole numbers from 100 up (``1,040``), one decimal from 10, else two."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _metric(value: float) -> str:
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.1f}"
    if size >= 1:  # four significant digits, zeros kept so a column lines up: 1.000, 12.35, 123.5
        return f"{value:.{3 - int(math.log10(size))}f}"
    return f"{value:.4f}" if size >= 0.001 else f"{value:.3g}"


_TOKEN_STYLE = ".tokens{line-height:2;font-size:1.05rem}.tok{padding:.1rem .15rem;border-radius:3px}"


def render_explanations(title: str, subtitle: str, sections: list[dict[str, Any]]) -> str:
    """A self-contained page of explanations, one section per input.

    Args:
        title: Page heading (task and run).
        subtitle: One line under it (method, when).
        sections: Each with ``heading``, ``facts`` (key/value pairs shown as a table), ``images``
            (caption -> PNG bytes, embedded inline) and ``html`` (a trusted fragment, or None).
    """
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}{_TOKEN_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(subtitle)}</p>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section['heading'])}</h2>")
        facts = section.get("facts") or {}
        if facts:
            parts.append(_table([{"": key, "value": value} for key, value in facts.items()]))
        if section.get("html"):
            parts.append(section["html"])
        for caption, png in (section.get("images") or {}).items():
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)
