"""The cluster clock: manual time for tests, scaled wall time for runs."""

from __future__ import annotations

import asyncio
import time

import pytest

from actors.runtime.clock import ManualClock, WallClock


async def test_manual_clock_fires_timers_in_deadline_order_ties_in_order_set() -> None:
    clock = ManualClock()
    fired: list[str] = []
    clock.call_later(2.0, lambda: fired.append("b"))
    clock.call_later(1.0, lambda: fired.append("a"))
    clock.call_later(2.0, lambda: fired.append("c"))
    await clock.advance(1.5)
    assert fired == ["a"]
    await clock.advance(0.5)
    assert fired == ["a", "b", "c"]


async def test_manual_clock_wakes_sleepers_only_when_advanced() -> None:
    clock = ManualClock()
    start = clock.now()
    woke: list[float] = []

    async def sleeper(delay: float) -> None:
        await clock.sleep(delay)
        woke.append(clock.now() - start)

    tasks = [asyncio.ensure_future(sleeper(d)) for d in (3.0, 1.0, 2.0)]
    await asyncio.sleep(0.05)
    assert woke == []
    await clock.advance(10.0)
    assert woke == [1.0, 2.0, 3.0]
    await asyncio.gather(*tasks)


async def test_a_cancelled_timer_never_fires() -> None:
    clock = ManualClock()
    fired: list[int] = []
    timer = clock.call_later(1.0, lambda: fired.append(1))
    timer.cancel()
    await clock.advance(5.0)
    assert fired == [] and clock.pending == 0


async def test_timeout_on_manual_time() -> None:
    clock = ManualClock()
    waiter = asyncio.ensure_future(clock.timeout(5.0, clock.sleep(60.0)))
    await clock.advance(4.9)
    assert not waiter.done()
    await clock.advance(0.2)
    with pytest.raises(TimeoutError, match="timed out after 5s"):
        await waiter


async def test_a_clock_never_goes_back() -> None:
    with pytest.raises(ValueError):
        await ManualClock().advance(-1)


async def test_wall_clock_runs_time_scale_times_faster() -> None:
    clock = WallClock(time_scale=60.0)
    before_cluster, before_wall = clock.now(), time.monotonic()
    await clock.sleep(6.0)  # a tenth of a wall second
    wall = time.monotonic() - before_wall
    assert 0.09 <= wall < 1.0
    assert clock.now() - before_cluster == pytest.approx(wall * 60.0, rel=0.05)


def test_wall_clocks_sharing_an_epoch_agree() -> None:
    first = WallClock(time_scale=10.0, epoch=time.time() - 5)
    second = WallClock(time_scale=10.0, epoch=first.epoch)
    assert abs(first.now() - second.now()) < 0.05


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="time_scale must be positive"):
        WallClock(time_scale=0)


async def test_run_until_idle_jumps_from_timer_to_timer_and_sleep_until_waits_for_an_instant() -> None:
    clock = ManualClock()
    start = clock.now()
    woke: list[float] = []

    async def sleeper() -> None:
        await clock.sleep_until(start + 90.0)
        woke.append(clock.now() - start)

    task = asyncio.ensure_future(sleeper())
    clock.call_later(30.0, lambda: woke.append(clock.now() - start))
    await asyncio.sleep(0)
    await clock.run_until_idle()
    assert woke == [30.0, 90.0] and clock.pending == 0
    await task
