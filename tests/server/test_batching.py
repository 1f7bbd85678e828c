"""The batcher: requests share model calls, a full queue is refused at once, deadlines hold."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import torch

from torchworks.batches import join_batches
from torchworks.errors import RequestError
from torchworks.server.batching import Batcher


class Recorder:
    """A fake model: doubles its inputs, sleeps, and remembers each call's batch size."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.sizes: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, samples):
        with self.lock:
            self.sizes.append(len(samples))
        time.sleep(self.delay)
        return torch.tensor(samples, dtype=torch.float32)[:, None] * 2


def _batcher(model, **settings) -> Batcher:
    batcher = Batcher(model, **{"max_batch": 8, "max_wait_ms": 20, "queue_size": 64,
                                "concatenate": join_batches, **settings})
    batcher.start()
    return batcher


def test_concurrent_requests_share_batches_and_get_their_own_rows():
    model = Recorder(delay=0.01)
    batcher = _batcher(model)

    async def main():
        return await asyncio.gather(*(batcher.submit([i, 100 + i], timeout=5) for i in range(12)))

    results = asyncio.run(main())
    batcher.stop()
    for i, rows in enumerate(results):
        assert rows[:, 0].tolist() == [2 * i, 2 * (100 + i)]
    assert max(model.sizes) == 8 and sum(model.sizes) == 24
    assert len(model.sizes) < 12  # fewer calls than requests


def test_a_request_larger_than_max_batch_runs_in_slices():
    model = Recorder()
    batcher = _batcher(model, max_batch=4)
    rows = asyncio.run(batcher.submit(list(range(10)), timeout=5))
    batcher.stop()
    assert rows[:, 0].tolist() == [2 * i for i in range(10)] and model.sizes == [4, 4, 2]


def test_full_queue_is_refused_at_once_with_retry_after():
    model = Recorder(delay=0.2)
    batcher = _batcher(model, queue_size=2, max_batch=1, max_wait_ms=0)

    async def main():
        tasks = [asyncio.create_task(batcher.submit([i], timeout=10)) for i in range(8)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    started = time.perf_counter()
    results = asyncio.run(main())
    batcher.stop()
    refused = [r for r in results if isinstance(r, RequestError)]
    assert refused and all(r.status == 503 and r.headers["Retry-After"] == "1" for r in refused)
    assert 5 <= len(refused) <= 6 and time.perf_counter() - started < 5  # 2 wait, at most 1 more started


def test_requests_on_their_way_count_against_the_queue_before_any_work_is_spent_on_a_new_one():
    batcher = Batcher(Recorder(), max_batch=1, max_wait_ms=0, queue_size=3, concatenate=join_batches)
    batcher.refuse_when_full(on_their_way=2)  # one place left: admitted
    with pytest.raises(RequestError) as refused:
        batcher.refuse_when_full(on_their_way=3)
    assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "1"

    async def enqueue_one():
        waiting = asyncio.ensure_future(batcher.submit([1], timeout=5))
        await asyncio.sleep(0.01)  # no worker started: the request stays in the queue
        waiting.cancel()

    asyncio.run(enqueue_one())
    with pytest.raises(RequestError):
        batcher.refuse_when_full(on_their_way=2)  # 1 waiting + 2 decoding fill 3 places


def test_deadline_gives_504_drops_unstarted_work_and_the_queue_empties():
    model = Recorder(delay=0.3)
    batcher = _batcher(model, max_batch=1, max_wait_ms=0)

    async def main():
        slow = [asyncio.create_task(batcher.submit([i], timeout=0.1)) for i in range(4)]
        outcome = await asyncio.gather(*slow, return_exceptions=True)
        await asyncio.sleep(0.5)
        return outcome, await batcher.submit([7], timeout=5)

    outcome, later = asyncio.run(main())
    batcher.stop()
    assert all(isinstance(r, RequestError) and r.status == 504 for r in outcome)
    assert model.sizes.count(1) <= 3  # abandoned requests that had not started never ran
    assert later[:, 0].tolist() == [14.0] and batcher.depth == 0


def test_model_errors_reach_every_request_of_the_batch_and_the_worker_survives():
    calls = {"n": 0}

    def flaky(samples):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return torch.zeros(len(samples), 1)

    batcher = _batcher(flaky, max_wait_ms=50)

    async def main():
        first = await asyncio.gather(*(batcher.submit([i], timeout=5) for i in range(3)), return_exceptions=True)
        return first, await batcher.submit([1], timeout=5)

    first, second = asyncio.run(main())
    batcher.stop()
    assert all(isinstance(r, RuntimeError) for r in first)
    assert second.shape == (1, 1)


@pytest.mark.parametrize("wait_ms", [0, 5])
def test_a_lone_request_is_not_held_longer_than_max_wait(wait_ms):
    batcher = _batcher(Recorder(), max_wait_ms=wait_ms)
    started = time.perf_counter()
    asyncio.run(batcher.submit([1], timeout=5))
    batcher.stop()
    assert time.perf_counter() - started < 1.0


def test_samples_of_different_lengths_run_in_length_groups_and_come_back_in_order():
    calls = []

    def model(samples):
        calls.append(sorted(len(s) for s in samples))
        return torch.tensor([[float(len(s))] for s in samples])

    batcher = _batcher(model, max_batch=8, size_of=len)
    lengths = [40, 10, 41, 12, 90, 11, 39, 100]
    rows = asyncio.run(batcher.submit([[0] * n for n in lengths], timeout=5))
    batcher.stop()
    assert rows[:, 0].tolist() == lengths  # each request's rows in its own order
    assert calls == [[10, 11, 12], [39, 40, 41], [90, 100]]  # never a 10-token text padded to 100


def test_a_batch_waits_for_company_only_when_some_is_coming():
    coming = {"n": 0}
    batcher = _batcher(Recorder(), max_wait_ms=300, incoming=lambda: coming["n"])
    started = time.perf_counter()
    asyncio.run(batcher.submit([1], timeout=5))
    alone = time.perf_counter() - started
    coming["n"] = 1  # another request is being decoded: worth waiting for
    started = time.perf_counter()
    asyncio.run(batcher.submit([1], timeout=5))
    batcher.stop()
    assert alone < 0.15 < time.perf_counter() - started
