"""Attributions of a table model's number (a class probability, a predicted value, an anomaly score) to the
table's columns, over the row's feature tokens (:mod:`torchworks.families.tabular.tokens`): Captum's KernelShap
(the default), LIME, gradient SHAP and integrated gradients, each feature token one player, features summed
into their columns; and how a person reads them: a waterfall chart per row, a shaded table, the mean
absolute attribution over many rows.

Attribution happens on the tokens, not on the encoded inputs: a category index cannot be interpolated
(gradient methods need a continuous input), and a feature's token swapped for the typical row's token is what
"the model did not see this feature" means for every table model. KernelShap and integrated gradients add up
to ``output - base_value`` (up to sampling noise and ``convergence_delta``), gradient SHAP does in
expectation, LIME only roughly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple

import numpy as np
import torch

from torchworks.attribution.explainer import Explanation, Presentation
from torchworks.attribution.gradients import fixed_randomness
from torchworks.attribution.values import positive_int, rounded
from torchworks.families.tabular.encoding import DAY, MISSING, PARTS, RESERVED, UNKNOWN


def feature_columns(encoding: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The table column of each numeric and of each categorical feature, in the model's input order."""
    return [f["column"] for f in encoding["numeric"]], [f["column"] for f in encoding["categorical"]]


DEFAULT_SAMPLES = 200


DEFAULT_STEPS = 50


PERTURBATIONS_PER_PASS = 50  # perturbed rows the sampling methods send through the model at once


WATERFALL_COLUMNS = 12


HTML_COLUMNS = 20


REFERENCE = "a typical row: every number at its training median, every category unknown"


Method = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor, dict[str, str]],
                  tuple[np.ndarray, dict[str, Any]]]


def token_mask(tokens: torch.Tensor) -> torch.Tensor:
    """Each token's numbers as one feature: ``mask[0, f, :] = f``."""
    features, width = tokens.shape[1], tokens.shape[2]
    return torch.arange(features, device=tokens.device).view(1, features, 1).expand(1, features, width)


def kernel_shap(explained, tokens: torch.Tensor, reference: torch.Tensor,
                 options: dict[str, str]) -> tuple[np.ndarray, dict[str, Any]]:
    from captum.attr import KernelShap

    samples = positive_int(options, "samples", DEFAULT_SAMPLES, largest=100_000)
    if tokens.shape[1] == 1:  # one player takes the whole difference (and Captum cannot sample coalitions of one)
        with torch.no_grad():
            return (explained(tokens) - explained(reference)).cpu().numpy(), {"samples": 0}
    with fixed_randomness():  # the same explanation every time
        values = KernelShap(explained).attribute(tokens, baselines=reference, feature_mask=token_mask(tokens),
                                                 n_samples=samples, perturbations_per_eval=PERTURBATIONS_PER_PASS)
    return values[0, :, 0].detach().cpu().numpy(), {"samples": samples}  # every number of a token holds its share


def lime(explained, tokens: torch.Tensor, reference: torch.Tensor,
          options: dict[str, str]) -> tuple[np.ndarray, dict[str, Any]]:
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr import Lime

    samples = positive_int(options, "samples", DEFAULT_SAMPLES, largest=100_000)
    # ridge as in the lime package: its shrinkage does not depend on the output's units, where Captum's
    # default lasso (alpha 0.01) would zero every share below 0.01 of a probability or of a price alike
    lime = Lime(explained, interpretable_model=SkLearnRidge(alpha=1.0))
    with fixed_randomness():
        values = lime.attribute(tokens, baselines=reference, feature_mask=token_mask(tokens), n_samples=samples,
                                perturbations_per_eval=PERTURBATIONS_PER_PASS)
    return values[0, :, 0].detach().cpu().numpy(), {"samples": samples}


def gradient_shap(explained, tokens: torch.Tensor, reference: torch.Tensor,
                   options: dict[str, str]) -> tuple[np.ndarray, dict[str, Any]]:
    from captum.attr import GradientShap

    samples = positive_int(options, "samples", DEFAULT_SAMPLES, largest=100_000)
    with fixed_randomness():
        values = GradientShap(explained).attribute(tokens, baselines=reference, n_samples=samples, stdevs=0.0)
    return values[0].sum(dim=-1).detach().cpu().numpy(), {"samples": samples}


def integrated_gradients(explained, tokens: torch.Tensor, reference: torch.Tensor,
                          options: dict[str, str]) -> tuple[np.ndarray, dict[str, Any]]:
    from captum.attr import IntegratedGradients

    steps = positive_int(options, "steps", DEFAULT_STEPS, largest=1000)
    values, delta = IntegratedGradients(explained).attribute(tokens, baselines=reference, n_steps=steps,
                                                             return_convergence_delta=True)
    return values[0].sum(dim=-1).detach().cpu().numpy(), {"steps": steps,
                                                          "convergence_delta": significant(float(delta[0]), 4)}


METHODS: dict[str, Method] = {"shap": kernel_shap, "gradient_shap": gradient_shap, "lime": lime,
                              "integrated_gradients": integrated_gradients}


def by_column(features: np.ndarray, encoding: dict[str, Any]) -> dict[str, float]:
    """Feature attributions summed per table column, columns in the order of their first feature."""
    numeric, categorical = feature_columns(encoding)
    totals: dict[str, float] = {}
    for column, share in zip(numeric + categorical, features.tolist()):
        totals[column] = totals.get(column, 0.0) + share
    return totals


def decoded_cells(encoding: dict[str, Any], numbers: list[float], indices: list[int]) -> dict[str, Any]:
    """Each column's cell as far as its encoding tells: a number (to float32 precision), a time, a category,
    a text's length; None for a missing cell. A column's first feature speaks for it."""
    missing = {feature["column"] for feature, number in zip(encoding["numeric"], numbers)
               if feature["source"].endswith(":missing") and number >= 0.5}
    cells: dict[str, Any] = {}
    for feature, number in zip(encoding["numeric"], numbers):
        column, source = feature["column"], feature["source"]
        if column not in cells and ":" not in source:
            value = number * feature["scale"] + feature["center"]
            value = math.expm1(min(value, 700.0)) if feature.get("log") else value  # a skewed column's log scale
            cells[column] = None if column in missing else _decoded_number(source, value)
    for feature, index in zip(encoding["categorical"], indices):
        if feature["column"] not in cells and feature["source"] not in PARTS:
            known = RESERVED <= index < RESERVED + len(feature["values"])
            cells[feature["column"]] = feature["values"][index - RESERVED] if known else \
                None if index == MISSING else "(unseen)" if index == UNKNOWN else f"(index {index})"
    return cells


def _decoded_number(source: str, value: float) -> Any:
    if source == "days":
        try:
            return datetime.fromtimestamp(round(value * DAY), tz=timezone.utc).isoformat(timespec="seconds")
        except (OverflowError, OSError, ValueError):  # far outside the calendar: say the number of days
            return f"{significant(value)} days since 1970"
    if source in ("characters", "words"):  # a text's length, kept as log1p(count)
        return f"{round(math.expm1(value))} {source}"
    return significant(value)


def shown_column(entry: dict[str, Any]) -> str:
    """A column and its cell, short enough for a chart's axis."""
    value = entry["value"]
    shown = "missing" if value is None else str(value)
    shown = shown if len(shown) <= 24 else shown[:23] + "…"
    return f"{entry['column'][:28]} = {shown}"


def significant(value: float, digits: int = 6) -> float:
    return rounded([value], digits)[0]


def waterfall_figure(base_value: float, output: float, contributions: list[tuple[str, float]], title: str,
                     unit: str, limit: int = WATERFALL_COLUMNS):
    """A waterfall chart, as SHAP draws it: from the typical row's output at the bottom, one bar per column
    (the ``limit`` largest by size, the rest together in one bar) up to the row's output at the top.

    Args:
        base_value: The output for the reference (typical) row.
        output: The output for the row.
        contributions: ``(label, attribution)`` per column, largest first.
        title: The chart's title.
        unit: What the outputs are (``probability of yes``, a target column).

    Returns:
        A matplotlib figure. Green bars push the output up, red ones down; whatever the attributions leave
        unexplained (sampling noise, LIME's fit) is one grey bar, so the chart always ends at ``output``.
    """
    from torchworks.attribution.figures import OPPOSES, SUPPORTS
    from torchworks.report.plots import plt

    bars = list(contributions[:limit])
    rest = contributions[limit:]
    if rest:
        bars.append((f"{len(rest)} other columns", sum(share for _, share in rest)))
    left_over = output - base_value - sum(share for _, share in bars)
    colours = [tuple(c / 255 for c in (SUPPORTS if share >= 0 else OPPOSES)) for _, share in bars]
    if abs(left_over) > 1e-3 * max(abs(output - base_value), abs(base_value), 1e-12):
        bars.append(("(not attributed)", left_over))
        colours.append((0.6, 0.6, 0.6))
    bars, colours = bars[::-1], colours[::-1]  # drawn from the bottom up: the smallest first, the largest last
    starts = base_value + np.concatenate([[0.0], np.cumsum([share for _, share in bars])[:-1]])
    figure, ax = plt.subplots(figsize=(7.6, 0.38 * len(bars) + 1.8))
    positions = np.arange(len(bars))
    ax.barh(positions, [share for _, share in bars], left=starts, color=colours, height=0.7)
    spread = max(abs(share) for _, share in bars) if bars else 0.0
    for position, start, (_, share) in zip(positions, starts, bars):
        ax.text(start + share + (0.01 * spread if share >= 0 else -0.01 * spread), position, f"{share:+.3g}",
                va="center", ha="left" if share >= 0 else "right", fontsize=8)
    ax.set_yticks(positions, [label for label, _ in bars], fontsize=8)
    for value, style, name in ((base_value, ":", "typical row"), (output, "--", "this row")):
        ax.axvline(value, color="#555555", linestyle=style, linewidth=1)
        ax.annotate(name, (value, 1.0), xycoords=("data", "axes fraction"), fontsize=7, color="#555555",
                    ha="center", va="bottom")
    ends = np.concatenate([starts, starts + [share for _, share in bars], [base_value, output]])
    low, high = float(ends.min()), float(ends.max())
    pad = 0.18 * (high - low) or 0.1 * max(abs(high), 1e-6)  # room for the numbers beside the bars
    ax.set_xlim(low - pad, high + pad)  # explicit: bars pin the autoscaled limits to their edges
    ax.set_title(f"{title}\n{unit}: {output:.4g} for this row, {base_value:.4g} for a typical row", fontsize=9,
                 pad=14)
    ax.set_xlabel(unit)
    figure.tight_layout()
    return figure


def columns_html(columns: list[dict[str, Any]], unit: str, limit: int = HTML_COLUMNS) -> str:
    """The columns as a table, each attribution shaded by its sign and size (the largest first)."""
    from html import escape

    from torchworks.attribution.figures import signed_colour

    scale = max((abs(entry["attribution"]) for entry in columns), default=0.0)
    body = "".join(f"<tr><td>{escape(entry['column'])}</td>"
                   f"<td>{escape('missing' if entry['value'] is None else str(entry['value']))}</td>"
                   f"<td style='background:{signed_colour(entry['attribution'], scale)}'>"
                   f"{entry['attribution']:+.4g}</td></tr>" for entry in columns[:limit])
    more = f"<p class='sub'>and {len(columns) - limit} more columns</p>" if len(columns) > limit else ""
    return (f"<p class='sub'>share of each column in the {escape(unit)}: green raises it, red lowers it</p>"
            f"<div class='scroll'><table><thead><tr><th>column</th><th>value</th><th>attribution</th></tr></thead>"
            f"<tbody>{body}</tbody></table></div>{more}")


def global_importance(explanations: list[Explanation]) -> list[dict[str, Any]]:
    """Mean absolute attribution per column across explained rows, most important first.

    Args:
        explanations: Explanations made by :func:`explain_table_rows` (rows of one model, one target).

    Returns:
        ``[{"column", "importance", "rows"}]``: ``rows`` is how many explanations had the column.
    """
    totals: dict[str, list[float]] = {}
    for explanation in explanations:
        for entry in explanation.record["attributions"]["columns"]:
            totals.setdefault(entry["column"], []).append(abs(float(entry["attribution"])))
    found = [{"column": column, "importance": significant(float(np.mean(values))), "rows": len(values)}
             for column, values in totals.items()]
    return sorted(found, key=lambda entry: -entry["importance"])


OVERVIEW_COLUMNS = 20  # bars in an overview chart


def importance_overview(explanations: list[Explanation], state: dict[str, Any]) -> Explanation:
    """What the explained rows say together: each column's mean absolute share across them (its global
    importance by the explanation method: mean |SHAP| for ``shap``) beside the permutation importance on the
    validation rows that training stored (``state["importance"]``, when it did), as bar charts."""
    from torchworks.attribution.figures import figure_png
    from torchworks.report.plots import bar_chart

    ranked = global_importance(explanations)
    record = explanations[0].record
    method, unit = record.get("method", "attribution"), record["attributions"].get("unit", "output")
    figures = {"mean absolute attribution": figure_png(bar_chart(
        {entry["column"]: entry["importance"] for entry in ranked[:OVERVIEW_COLUMNS]},
        f"Mean |{method}| over {len(explanations)} rows", f"mean absolute share of the {unit}", limit=None))}
    permutation = state.get("importance") or []
    if permutation:
        figures["permutation importance"] = figure_png(bar_chart(
            {entry["column"]: float(entry["importance"]) for entry in permutation[:OVERVIEW_COLUMNS]},
            "Permutation importance (validation, at training)", "drop in score when the column is shuffled",
            limit=None))
    leading = ", ".join(entry["column"] for entry in ranked[:3])
    summary = f"Across the {len(explanations)} explained rows, {leading} weighed most ({method})"
    return Explanation(record={"input": f"{len(explanations)} rows", "method": method, "unit": unit,
                               "global_importance": ranked, "permutation_importance": permutation,
                               "summary": summary}, figures=figures, summary=summary)


class RowAttributions(NamedTuple):
    """One row's attribution per feature (in the model's input order), its output and the reference's."""

    features: np.ndarray
    output: float
    base_value: float


def attribute_tokens(method: Method, model: Any, row: Any, explained: Callable[[torch.Tensor], torch.Tensor],
                     options: dict[str, str]) -> tuple[RowAttributions, dict[str, Any]]:
    """One row's attributions by ``method``: its tokens against the typical row's, ``explained`` taking tokens
    ``[n, features, width]`` to the number explained per row (a probability, a value, an anomaly score)."""
    from torchworks.families.tabular.tokens import reference_inputs

    numeric, categorical = row.inputs["numeric"], row.inputs["categorical"]
    tokens = model.tokens(numeric, categorical).detach()
    typical = reference_inputs(numeric.shape[1], categorical.shape[1], rows=1)
    reference = model.tokens(typical[0].to(numeric.device), typical[1].to(categorical.device)).detach()
    per_feature, details = method(explained, tokens, reference, options)
    with torch.no_grad():
        output, base_value = float(explained(tokens)[0]), float(explained(reference)[0])
    return RowAttributions(per_feature, output, base_value), {"reference": REFERENCE, **details}


def column_presentation(row: Any, record: dict[str, Any], attributions: RowAttributions, details: dict[str, Any],
                        encoding: dict[str, Any], unit: str, said: str, base_name: str = "a typical row"
                        ) -> Presentation:
    """The record's attributions per column, the waterfall chart, a shaded table and a one-line summary.

    Args:
        unit: What the explained number is (``probability of yes``, a target column, ``anomaly score``).
        said: The prediction in words (``predicted yes (0.912)``).
        base_name: What the base value is the number of.
    """
    from torchworks.attribution.figures import figure_png

    shares = by_column(attributions.features, encoding)
    cells = row_cells(row, encoding)
    columns = sorted(({"column": column, "value": cells.get(column), "attribution": rounded([share])[0]}
                      for column, share in shares.items()), key=lambda entry: -abs(entry["attribution"]))
    unexplained = attributions.output - attributions.base_value - sum(shares.values())
    title = f"{record['input']}: {record['target']} ({record['method']})"
    waterfall = waterfall_figure(attributions.base_value, attributions.output,
                                 [(shown_column(entry), float(shares[entry["column"]])) for entry in columns],
                                 title, unit)
    strongest = ", ".join(f"{entry['column']} {entry['attribution']:+.3g}" for entry in columns[:3])
    summary = f"{said}; {unit} {attributions.output:.4g} against {attributions.base_value:.4g} for {base_name}: " \
              f"{strongest or 'no columns'}"
    facts = {"output": significant(attributions.output), "base_value": significant(attributions.base_value),
             "unit": unit, **details, "unexplained": significant(unexplained, 4), "columns": columns}
    return Presentation(facts, {"waterfall": figure_png(waterfall)}, html=columns_html(columns, unit),
                        summary=summary)


def row_cells(row: Any, encoding: dict[str, Any]) -> dict[str, Any]:
    """What each column held: the identifier's ``cells`` where it has them, else decoded from the encoded row."""
    given = getattr(row.identifier, "cells", None)
    decoded = decoded_cells(encoding, row.inputs["numeric"][0].tolist(), row.inputs["categorical"][0].tolist())
    return {**decoded, **given} if isinstance(given, Mapping) else decoded
