"""The work queue as client-go's: deduplicated keys, one worker per key, re-queue on done, delayed and
rate-limited adds on a manual clock, shutdown that drains."""

from __future__ import annotations

import asyncio

import pytest

from actors.controllers import workqueue
from actors.runtime.clock import ManualClock, settle


def a_queue(clock: ManualClock | None = None) -> workqueue.WorkQueue:
    return workqueue.WorkQueue(name="test", clock=clock or ManualClock())


async def drain(queue: workqueue.WorkQueue) -> list[str]:
    """Every queued key, each marked done."""
    keys = []
    while len(queue):
        key = await queue.get()
        queue.done(key)
        keys.append(key)
    return keys


async def test_a_key_added_twice_while_waiting_is_queued_once_in_first_added_order() -> None:
    queue = a_queue()
    for key in ("ns/a", "ns/b", "ns/a", "ns/c", "ns/b"):
        queue.add(key)
    assert len(queue) == 3
    assert await drain(queue) == ["ns/a", "ns/b", "ns/c"]
    assert queue.stats()["workqueue_adds_total"] == 3  # the deduplicated adds are not counted


async def test_a_key_being_processed_is_not_handed_to_a_second_worker_and_is_requeued_on_done() -> None:
    queue = a_queue()
    queue.add("ns/a")
    first = await queue.get()
    queue.add("ns/a")  # changed while a worker holds it
    queue.add("ns/a")
    assert len(queue) == 0  # not handed out again meanwhile
    second_worker = asyncio.ensure_future(queue.get())
    await settle()
    assert not second_worker.done()
    queue.done(first)
    await settle()
    assert second_worker.done() and second_worker.result() == "ns/a"  # once, for both adds
    queue.done("ns/a")
    assert len(queue) == 0


async def test_done_without_a_new_add_does_not_requeue() -> None:
    queue = a_queue()
    queue.add("a")
    queue.done(await queue.get())
    assert len(queue) == 0


async def test_get_waits_for_a_key_and_each_key_wakes_one_worker() -> None:
    queue = a_queue()
    workers = [asyncio.ensure_future(queue.get()) for _ in range(3)]
    await settle()
    assert not any(w.done() for w in workers)
    queue.add("a")
    queue.add("b")
    await settle()
    assert sorted(w.result() for w in workers if w.done()) == ["a", "b"]
    workers[2].cancel()


async def test_a_cancelled_get_loses_no_key() -> None:
    queue = a_queue()
    waiting = asyncio.ensure_future(queue.get())
    other = asyncio.ensure_future(queue.get())
    await settle()
    queue.add("a")  # wakes the first waiter ...
    waiting.cancel()  # ... which goes away before taking it
    await settle()
    assert other.done() and other.result() == "a"


async def test_add_after_adds_when_the_delay_has_passed_on_the_clock() -> None:
    clock = ManualClock()
    queue = a_queue(clock)
    queue.add_after("a", 10.0)
    queue.add_after("a", 30.0)  # later: the earlier deadline stands
    queue.add_after("b", 20.0)
    queue.add_after("b", 5.0)  # earlier: replaces
    await clock.advance(4.9)
    assert len(queue) == 0
    await clock.advance(0.1)
    assert await drain(queue) == ["b"]
    await clock.advance(5.0)
    assert await drain(queue) == ["a"]
    await clock.advance(100.0)
    assert len(queue) == 0  # each waiting key was added once


async def test_add_after_with_no_delay_adds_at_once() -> None:
    queue = a_queue()
    queue.add_after("a", 0.0)
    assert len(queue) == 1


async def test_rate_limited_adds_back_off_exponentially_per_key_and_forget_resets() -> None:
    clock = ManualClock()
    queue = a_queue(clock)
    delays = []
    for _ in range(4):
        start = clock.now()
        queue.add_rate_limited("a")
        while not len(queue):
            deadline = clock.next_deadline()
            assert deadline is not None
            await clock.advance(deadline - clock.now())
        delays.append(round(clock.now() - start, 6))
        queue.done(await queue.get())
    assert delays == [0.005, 0.01, 0.02, 0.04]
    assert queue.num_requeues("a") == 4
    assert queue.num_requeues("b") == 0
    queue.forget("a")
    assert queue.num_requeues("a") == 0
    assert queue.stats()["workqueue_retries_total"] == 4


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.005), (1, 0.01), (10, 5.12), (17, 655.36), (18, 1000.0), (5000, 1000.0)],
    ids=["first", "second", "eleventh", "below-cap", "capped", "huge"],
)
def test_the_per_item_back_off_doubles_from_5ms_to_at_most_1000s(failures: int, delay: float) -> None:
    limiter = workqueue.ItemExponentialFailureRateLimiter()
    for _ in range(failures):
        limiter.when("a")
    assert limiter.when("a") == pytest.approx(delay)


async def test_the_overall_bucket_lets_100_retries_through_then_10_per_second() -> None:
    clock = ManualClock()
    limiter = workqueue.default_controller_rate_limiter(clock)
    delays = [limiter.when(f"key-{i}") for i in range(102)]  # distinct keys: no per-key back-off
    assert delays[:100] == [0.005] * 100
    assert delays[100:] == [pytest.approx(0.1), pytest.approx(0.2)]
    await clock.advance(10.0)  # the bucket refills at 10 per second
    assert limiter.when("key-x") == 0.005


async def test_shut_down_wakes_waiting_workers_drains_what_is_queued_and_ignores_new_adds() -> None:
    clock = ManualClock()
    queue = a_queue(clock)
    idle = asyncio.ensure_future(queue.get())
    await settle()
    queue.shut_down()
    await settle()
    assert isinstance(idle.exception(), workqueue.ShutDown)

    queue = a_queue(clock)
    queue.add("a")
    queue.add_after("b", 1.0)
    queue.shut_down()
    queue.add("c")
    queue.add_rate_limited("d")
    assert await queue.get() == "a"  # what was queued still comes out
    with pytest.raises(workqueue.ShutDown):
        await queue.get()
    await clock.advance(10.0)
    assert len(queue) == 0 and queue.shutting_down  # the waiting key's timer was cancelled


async def test_metrics_follow_client_go() -> None:
    clock = ManualClock()
    queue = a_queue(clock)
    queue.add("a")
    queue.add("b")
    await clock.advance(2.0)
    key = await queue.get()
    await clock.advance(3.0)
    stats = queue.stats()
    assert stats["workqueue_depth"] == 1
    assert stats["workqueue_queue_duration_seconds_count"] == 1
    assert stats["workqueue_queue_duration_seconds_sum"] == pytest.approx(2.0)
    assert stats["workqueue_longest_running_processor_seconds"] == pytest.approx(3.0)
    queue.done(key)
    stats = queue.stats()
    assert stats["workqueue_work_duration_seconds_sum"] == pytest.approx(3.0)
    assert stats["workqueue_unfinished_work_seconds"] == 0.0
    assert stats["processing"] == 0
