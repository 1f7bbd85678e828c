"""The report page: cells formatted by their column, media embedded safely, wide comparisons turned."""

from __future__ import annotations

import base64
import re

import pytest

from torchworks.report.html import MAX_MEDIA_BYTES, Media, format_value, render_report


@pytest.mark.parametrize(("column", "value", "shown"), [
    ("b1_p50_ms", 1040.4908, "1,040 ms"),
    ("batch 1 p50 ms", 3.4217, "3.42 ms"),
    ("batch 32 p99 ms", 12.345, "12.3 ms"),
    ("b1_speedup", 2.59, "2.59x"),
    ("batch 32 vs eager", 0.5, "0.50x"),
    ("size MB", 44.71, "44.7 MB"),
    ("size_mb", 0.31, "0.31 MB"),
    ("samples/s (batch 32)", 12345.6, "12,346"),
    ("throughput", 56.78, "56.8"),
    ("train_seconds", 128.3, "128 s"),
    ("accuracy", 0.762081, "0.7621"),
    ("accuracy", 1.0, "1.000"),
    ("mase", 1.13512, "1.135"),
    ("rmse", 123.456, "123.5"),
    ("rmse", 12345.678, "12,345.7"),
    ("ece", 0.000123456, "0.000123"),
    ("support", 27, "27"),
    ("test_samples", 1269.0, "1,269"),
    ("lexicon_words", 10, "10"),
    ("auroc", None, ""),
    ("auroc", float("nan"), "n/a"),
    ("beats_baseline", True, "yes"),
    ("status", "passed", "passed"),
])
def test_values_are_formatted_for_their_column(column, value, shown):
    assert format_value(column, value) == shown


def _page(**changes) -> str:
    arguments = {"title": "task: run", "subtitle": "data=x", "comparison": [], "plots": {}, "tables": {},
                 "facts": {}, "config": {}}
    return render_report(**{**arguments, **changes})


def test_cells_are_escaped_and_media_is_embedded_as_a_data_uri():
    wav = b"RIFF....WAVEfmt "
    page = _page(tables={"clips": [{"audio": Media("audio/wav", wav, "a'<b>.wav"), "text": "<script>x</script>"}]})
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    player = re.search(r"<audio controls preload='metadata' title='([^']*)' src='data:audio/wav;base64,([^']*)'>", page)
    assert player and base64.b64decode(player.group(2)) == wav
    assert player.group(1) == "a&#x27;&lt;b&gt;.wav"


def test_media_of_other_types_is_refused_and_large_media_is_named_not_embedded():
    with pytest.raises(ValueError, match="cannot embed"):
        Media("text/html", b"<p>")
    page = _page(tables={"clips": [{"audio": Media("audio/wav", b"0" * (MAX_MEDIA_BYTES + 1), "long.wav")}]})
    assert "long.wav (too large to embed)" in page and "base64" not in page


def test_a_wide_comparison_is_turned_to_a_row_per_metric_and_numbers_align_right():
    metrics = {f"metric_{i}": i / 10 for i in range(9)}
    page = _page(comparison=[{"model": "torchworks", **metrics}, {"model": "naive", "metric_0": 0.5}])
    assert "<th>metric</th><th>torchworks</th><th>naive</th>" in page
    assert "<tr><th>metric_8</th><td class='num'>0.8000</td><td></td></tr>" in page
    narrow = _page(comparison=[{"model": "torchworks", "accuracy": 0.9}])
    assert "<th>model</th><th>accuracy</th>" in narrow
    assert "<div class='scroll'><table>" in narrow
