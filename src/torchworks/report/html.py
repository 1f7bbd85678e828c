"""A self-contained HTML report: every plot embedded as base64, no external assets, opens offline."""

from __future__ import annotations

import base64
import html
import json
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
"""


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
        parts += ["<section><h2>Model against baselines (test split)</h2>", _table(comparison), "</section>"]
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


def _table(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c, '')))}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


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
