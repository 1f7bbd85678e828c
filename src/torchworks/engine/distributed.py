"""Predictions over a dataset partitioned across a Dask cluster: every worker loads the bundle once and scores
its partitions through the task's own streaming path (``Task.prediction_stream`` and ``prediction_table``),
so the rows come out exactly as a single-process ``predict --output`` writes them, as one Parquet part per
partition, in order.

Why Dask: it reads Parquet datasets (local, S3, HDFS) in partitions natively, runs the same Python on a
laptop's local cluster and on a real one (``dask scheduler`` plus ``dask worker`` on each machine, or
Kubernetes, YARN and SLURM through dask-kubernetes, dask-yarn and dask-jobqueue) with nothing to change but
the scheduler's address, and needs no JVM (Spark) or separate object store (Ray) beside PyTorch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchworks.errors import ConfigError

LOCAL = "local:"
_LOADED: dict[str, Any] = {}  # per worker process: run folder -> its predictor, loaded once


@dataclass
class DistributedPredictions:
    """What a distributed prediction wrote: a folder of Parquet parts, one per partition, in order."""

    output: Path
    rows: int
    partitions: int
    seconds: float
    scheduler: str

    def summary(self) -> str:
        rate = f", {self.rows / self.seconds:,.0f} rows per second" if self.seconds > 0 else ""
        return (f"predicted {self.rows:,} rows in {self.partitions} partitions in {self.seconds:.1f} s{rate} "
                f"on {self.scheduler}")


def predict_on_cluster(run: str | Path, data: str, output: Path, cluster: str, options: dict[str, Any] | None = None,
                       batch_size: int | None = None) -> DistributedPredictions:
    """Score the Parquet dataset ``data`` (a file, a folder of parts or a glob, any fsspec URL) on ``cluster``
    (``local:N`` for N local worker processes, or a scheduler address such as ``tcp://10.0.0.5:8786``) into the
    new folder ``output``.

    Raises:
        ConfigError: Dask is not installed, the cluster is not a local size or an address, or the task does not
            stream predictions.
        OutputError: ``output`` exists.
    """
    client, owned = _client(cluster)
    try:
        return _predict(client, str(run), data, output, options or {}, batch_size, cluster)
    finally:
        if owned:
            client.close()
            client.cluster.close()


def _client(cluster: str) -> tuple[Any, bool]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("cluster= needs Dask", expected="dask[distributed] installed", got="no dask",
                          hint='pip install "torchworks[distributed]"') from None
    if cluster.startswith(LOCAL):
        workers = cluster[len(LOCAL):]
        if not workers.isdigit() or not 1 <= int(workers) <= 256:
            raise ConfigError(f"cluster={cluster} is not a local cluster size", expected="local:N, N from 1 to 256",
                              got=cluster, hint="cluster=local:2, or a scheduler address tcp://HOST:8786")
        local = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(local), True
    if "://" not in cluster:
        raise ConfigError(f"cluster={cluster} is neither local:N nor a scheduler address", expected="local:N or "
                          "tcp://HOST:PORT", got=cluster, hint="for example cluster=tcp://10.0.0.5:8786")
    return Client(cluster), False


def _predict(client: Any, run: str, data: str, output: Path, options: dict[str, Any], batch_size: int | None,
             cluster: str) -> DistributedPredictions:
    import dask.dataframe as dd
    from dask import delayed

    from torchworks.errors import OutputError

    if output.exists():
        raise OutputError(f"'{output}' already exists", expected="a new folder for the Parquet parts",
                          got="an existing path", hint="choose another --output")
    started = time.perf_counter()
    frame = dd.read_parquet(data)
    lengths = frame.map_partitions(len).compute()
    offsets = [0]
    for length in list(lengths)[:-1]:
        offsets.append(offsets[-1] + int(length))
    parts = [delayed(score_partition)(part, run, data, offset, options, batch_size)
             for part, offset in zip(frame.to_delayed(), offsets)]
    first = client.compute(parts[0]).result()  # the output's columns and types, from real rows
    scored = dd.from_delayed(parts, meta=first.iloc[:0])
    scored.to_parquet(str(output), write_index=False, compute=True)
    return DistributedPredictions(output, int(sum(lengths)), len(parts), time.perf_counter() - started, cluster)


def score_partition(rows: Any, run: str, source: str, offset: int, options: dict[str, Any],
                    batch_size: int | None) -> Any:
    """One partition's predictions (a pandas DataFrame) in this worker, as ``predict --output`` writes them:
    ``input`` is the dataset's name and ``row`` counts from the dataset's first row."""
    import pyarrow as pa

    from torchworks.engine.outputs import run_model
    from torchworks.engine.predict import Predictor, prediction_state

    predictor = _LOADED.get(run)
    if predictor is None:
        predictor = _LOADED[run] = Predictor(run)
    task = predictor.task
    state = prediction_state(task, predictor.bundle, options)
    stream = task.prediction_stream([rows.reset_index(drop=True)], state, batch_size or predictor.config.batch_size)
    if stream is None:
        raise ConfigError(f"{task.name} models do not stream predictions", expected="a task that predicts table "
                          "files in batches (its prediction_stream)", got=task.name, hint="predict without cluster=")
    runner = task.prediction_runner(predictor.model, state)
    tables = [task.prediction_table(run_model(runner, inputs), context, state) for inputs, context in stream.batches]
    table = pa.concat_tables(tables).to_pandas()
    table["input"] = source
    table["row"] = table["row"] + offset
    return table
