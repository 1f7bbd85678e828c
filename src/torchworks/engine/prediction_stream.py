"""Predictions streamed to a file: for a task that reads large inputs a batch at a time
(``Task.prediction_stream``), each batch is predicted and its rows appended to the output at once, so a
table of millions of rows is scored in the memory of one batch. The output is written under a temporary
name beside it and renamed when the last batch is in: a failure (a bad cell in row 3,000,123) leaves
nothing at the output and nothing of the user's replaced."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STREAMED_SUFFIXES = (".parquet", ".csv")


@dataclass
class StreamedPredictions:
    """What a streamed prediction wrote."""

    output: Path
    rows: int
    seconds: float

    def summary(self) -> str:
        rate = f", {self.rows / self.seconds:,.0f} rows per second" if self.seconds > 0 else ""
        return f"predicted {self.rows:,} rows in {self.seconds:.1f} s{rate}"


def stream_predictions(task: Any, model: Any, state: dict[str, Any], inputs: list[Any], output: Path,
                       batch_size: int, *, progress: bool = True) -> StreamedPredictions | None:
    """Predict ``inputs`` into ``output`` (.parquet or .csv) batch by batch, or return None when the task does
    not stream these inputs (or the output is another format): predict then goes through records.

    Raises:
        DataError: A bad input, found when its batch is read (nothing is left at ``output``).
    """
    if output.suffix.lower() not in STREAMED_SUFFIXES:
        return None
    stream = task.prediction_stream(inputs, state, batch_size)
    if stream is None:
        return None
    from torchworks.engine.outputs import run_model
    from torchworks.progress import RowCounter

    runner = task.prediction_runner(model, state)
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    started = time.perf_counter()
    writer = _TableWriter(partial, parquet=output.suffix.lower() == ".parquet")
    try:
        with RowCounter("scoring", stream.rows, enabled=progress) as counter:
            for batch_inputs, context in stream.batches:
                table = _as_arrow(task.prediction_table(run_model(runner, batch_inputs), context, state))
                writer.write(table)
                counter.advance(table.num_rows)
        if not writer.written:
            from torchworks.errors import DataError

            raise DataError("nothing to predict", expected="at least one row", got="inputs without rows",
                            hint="check the input files")
        writer.close()
        os.replace(partial, output)
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    return StreamedPredictions(output, counter.rows, time.perf_counter() - started)


def _as_arrow(table: Any) -> Any:
    import pyarrow as pa

    return table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)


class _TableWriter:
    """Appends Arrow tables to one Parquet or CSV file (its schema set by the first)."""

    def __init__(self, path: Path, parquet: bool):
        self.path, self.parquet, self._writer, self._schema = path, parquet, None, None

    @property
    def written(self) -> bool:
        return self._writer is not None

    def write(self, table: Any) -> None:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, table.schema) if self.parquet \
                else pacsv.CSVWriter(self.path, table.schema)
        self._writer.write_table(table.cast(self._schema))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            with open(self.path, "rb") as handle:
                os.fsync(handle.fileno())
