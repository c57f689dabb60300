"""Scale: many logical actors on one host (slow; runs in ``make bench``)."""

from __future__ import annotations

import asyncio
import resource

import pytest

from actors.runtime.local import LocalSystem
from actors.runtime.system import SystemConfig
from tests.actors.runtime.sample_actors import Echo, Ticker

pytestmark = pytest.mark.slow


async def test_ten_thousand_actors_answer_on_one_host() -> None:
    system = LocalSystem(SystemConfig(manual_clock=True))
    async with system:
        refs = [await system.spawn(f"kubelet/node-{i}", Echo) for i in range(10_000)]
        replies = await asyncio.gather(*(ref.call("echo", i) for i, ref in enumerate(refs)))
        assert replies == list(range(10_000))


async def test_ten_thousand_tickers_tick_together_on_manual_time() -> None:
    system = LocalSystem(SystemConfig(manual_clock=True))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with system:
        for i in range(10_000):
            await system.spawn(f"kubelet/node-{i}", Ticker, kwargs={"period": 10.0})
        await system.clock.advance(60.0)
        ticks = [a.ticks for a in (system.instance(f"kubelet/node-{i}") for i in range(10_000))]  # type: ignore[union-attr]
        assert ticks == [6] * 10_000
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib / 10_000 < 50  # KiB per idle actor, far under a kubemark hollow node
