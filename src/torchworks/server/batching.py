"""Dynamic batching: requests for one model wait in a bounded queue and run through it together.

A worker thread takes the oldest request, then keeps taking more until ``max_batch`` inputs are
gathered or ``max_wait_ms`` has passed, runs them as one batch off the event loop, and hands each
request its slice of the outputs. A full queue is refused at once (503 with ``Retry-After``) rather
than growing, and requests still being decoded on their way to it count as taking their place; a
request past its deadline is answered 504 and its inputs are dropped if they have not started.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torchworks.batches import take_rows
from torchworks.errors import RequestError


@dataclass
class _Job:
    samples: list[Any]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    abandoned: bool = False
    enqueued: float = field(default_factory=time.perf_counter)


class Batcher:
    """Runs ``run_batch(samples) -> outputs`` (outputs indexable along the first axis, one row per
    sample) over batches gathered from concurrent requests.

    Args:
        run_batch: The model call; runs in the worker thread.
        max_batch: The most samples per call (a larger request runs alone, in slices of this size).
        max_wait_ms: How long the first request of a batch waits for company.
        queue_size: Requests allowed to wait; one more is refused with 503.
        on_batch: Called with each batch's size (for metrics).
        concatenate: Joins the outputs of slices of one batch.
        size_of: A sample's length (tokens, frames), or None when samples all have one size. Samples
            of a batch then run in groups of similar length, so that short texts are not padded to
            the longest: on a CPU, padding costs as much as real tokens.
        incoming: How many requests are on their way to the queue (being decoded). A batch waits for
            company only when there is some to wait for: a lone request runs at once.
    """

    def __init__(self, run_batch: Callable[[list[Any]], Any], *, max_batch: int, max_wait_ms: float,
                 queue_size: int, concatenate: Callable[[list[Any]], Any],
                 on_batch: Callable[[int], None] = lambda size: None, name: str = "model",
                 size_of: Callable[[Any], int] | None = None, incoming: Callable[[], int] = lambda: 1):
        self.run_batch = run_batch
        self.incoming = incoming
        self.size_of = size_of
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.concatenate = concatenate
        self.on_batch = on_batch
        self.name = name
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._work, name=f"batcher-{name}", daemon=True)
        self._busy = 0

    @property
    def depth(self) -> int:
        """Requests waiting or running."""
        return self._queue.qsize() + self._busy

    def start(self) -> None:
        """Start the worker (once; later calls do nothing)."""
        if self._thread.ident is None:
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then end the worker."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    async def submit(self, samples: list[Any], timeout: float) -> Any:
        """The outputs for ``samples``, computed in some batch within ``timeout`` seconds.

        Raises:
            RequestError: 503 when the queue is full, 504 past the deadline.
        """
        loop = asyncio.get_running_loop()
        job = _Job(samples, loop.create_future(), loop)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise self._busy_error() from None
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError) as stop:
            job.abandoned = True  # the worker skips it if it has not started
            if isinstance(stop, asyncio.CancelledError):
                raise
            raise RequestError(f"model '{self.name}' did not answer in time", status=504, code="timeout",
                               expected=f"an answer within {timeout:g} s", got="no answer yet",
                               hint="send fewer inputs per request, or raise --timeout-s") from None

    def refuse_when_full(self, on_their_way: int) -> None:
        """Refuse a new request (503) when the requests waiting and those ``on_their_way`` to the queue
        (being decoded) already fill it: a saturated server sheds load before spending work on it."""
        if self._queue.qsize() + on_their_way >= self._queue.maxsize:
            raise self._busy_error()

    def _busy_error(self) -> RequestError:
        return RequestError(f"model '{self.name}' is busy", status=503, code="overloaded",
                            expected="a free place in its queue",
                            got=f"{self._queue.maxsize} requests already waiting",
                            hint="retry after a second, or start the server with a larger --queue-size",
                            headers={"Retry-After": "1"})

    # ------------------------------------------------------------- worker
    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, stop = self._gather(first)
            self._run([job for job in jobs if not job.abandoned])
            if stop:
                return

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """``first`` and whatever else arrives before the batch is full or the wait is over."""
        jobs, size = [first], len(first.samples)
        deadline = time.perf_counter() + self.max_wait
        while size < self.max_batch:
            remaining = deadline - time.perf_counter()
            if self._queue.empty() and not self.incoming():
                remaining = 0  # nobody else is coming: waiting would only add latency
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            size += len(job.samples)
        return jobs, False

    def _groups(self, samples: list[Any]) -> tuple[list[int] | None, list[list[int]]]:
        """Indices of ``samples`` in model calls of at most ``max_batch``; with ``size_of``, sorted by
        length and cut where the next sample is half as long again as the group's first. Returns the
        order used (None when unchanged) and the groups."""
        indices = list(range(len(samples)))
        sizes = [self.size_of(sample) for sample in samples] if self.size_of else None
        if not sizes or len(set(sizes)) == 1:
            return None, [indices[i:i + self.max_batch] for i in range(0, len(indices), self.max_batch)]
        order = sorted(indices, key=sizes.__getitem__)
        groups: list[list[int]] = [[]]
        for index in order:
            group = groups[-1]
            if group and (len(group) >= self.max_batch or sizes[index] > 1.5 * max(1, sizes[group[0]])):
                groups.append([])
            groups[-1].append(index)
        return order, groups

    def _run(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        self._busy = len(jobs)
        samples = [sample for job in jobs for sample in job.samples]
        try:
            order, groups = self._groups(samples)
            pieces = []
            for group in groups:
                self.on_batch(len(group))
                pieces.append(self.run_batch([samples[i] for i in group]))
            outputs = pieces[0] if len(pieces) == 1 else self.concatenate(pieces)
            if order is not None:
                outputs = take_rows(outputs, _inverse(order))
        except BaseException as error:  # noqa: BLE001  (every waiting request must hear about it)
            for job in jobs:
                job.loop.call_soon_threadsafe(_settle, job, None, error)
            return
        finally:
            self._busy = 0
        start = 0
        for job in jobs:
            part = take_rows(outputs, slice(start, start + len(job.samples)))
            start += len(job.samples)
            job.loop.call_soon_threadsafe(_settle, job, part, None)


def _inverse(order: list[int]) -> list[int]:
    inverse = [0] * len(order)
    for position, index in enumerate(order):
        inverse[index] = position
    return inverse


def _settle(job: _Job, result: Any, error: BaseException | None) -> None:
    if job.abandoned or job.future.done():  # nobody waits for it any more
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)
