"""What a finished run prints: its test metrics, each baseline's, and the verdict between them."""

from __future__ import annotations


def print_metrics(metrics: dict) -> None:
    from torchworks.console import say
    from torchworks.engine.outputs import speed_line

    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    say("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in scalars.items()))
    for name, values in (metrics.get("baselines") or {}).items():
        shared = {k: values[k] for k in scalars if isinstance(values.get(k), float)}
        say(f"baseline {name}: " + "  ".join(f"{k}={v:.4f}" for k, v in shared.items()))
    speed = speed_line(metrics.get("speed") or {})
    if speed:
        say(f"[dim]{speed}[/dim]")
    print_verdict(metrics)


def print_verdict(metrics: dict) -> None:
    """The run's verdict against its best baseline: the line just before the one naming the result."""
    from rich.markup import escape

    from torchworks.console import say
    from torchworks.engine.verdict import verdict_line

    verdict = verdict_line(metrics)
    if verdict is not None:
        line, tone = verdict
        colour = {"good": "green", "warn": "yellow"}.get(tone)
        say(f"[{colour}]{escape(line)}[/{colour}]" if colour else escape(line))
