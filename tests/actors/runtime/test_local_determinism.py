"""On the local backend with a manual clock, a run replays event for event; supervision follows the clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.runtime import errors
from actors.runtime.actor import Actor, ActorState
from actors.runtime.faults import FaultEvent, FaultKind
from actors.runtime.local import LocalSystem
from actors.runtime.system import SystemConfig
from tests.actors.runtime.sample_actors import Echo, Ticker


class CrashLoop(Actor):
    """A main loop that crashes at once, every incarnation."""

    async def run(self) -> None:
        raise RuntimeError("exit code 1")


async def experiment(seed: int) -> list[Any]:
    """A small fault experiment: draws, lossy calls and a kill on manual time; returns what it saw."""
    system = LocalSystem(SystemConfig(seed=seed, manual_clock=True, call_timeout=1.0))
    trace: list[Any] = []
    async with system:
        a = await system.spawn("a", Echo)
        await system.spawn("b", Echo)
        await system.drop(["a"], ["b"], probability=0.5)
        for i in range(20):
            trace.append(await a.call("draw"))
            call = asyncio.ensure_future(a.call("forward", "b", i, timeout=0.5))
            await system.clock.advance(0.6)  # manual time: a lost message times out only as time passes
            try:
                trace.append(await call)
            except errors.CallTimeout:
                trace.append("lost")
        await system.kill("b")
        await system.clock.advance(1.0)
        trace.extend((e.time, e.kind, e.targets) for e in await system.events())
    return trace


async def test_the_same_seed_replays_the_same_run() -> None:
    first, second = await experiment(seed=42), await experiment(seed=42)
    assert first == second
    assert "lost" in first and any(isinstance(x, int) for x in first)


async def test_another_seed_gives_another_run() -> None:
    assert await experiment(seed=1) != await experiment(seed=2)


async def test_a_main_loop_ticks_on_the_cluster_clock_and_stops_while_paused() -> None:
    system = LocalSystem(SystemConfig(manual_clock=True))
    async with system:
        ref = await system.spawn("ticker", Ticker, kwargs={"period": 10.0})
        await system.clock.advance(35.0)
        assert await ref.call("get_ticks") == 3
        await system.pause("ticker")
        await system.clock.advance(100.0)
        ticker = system.instance("ticker")
        assert isinstance(ticker, Ticker) and ticker.ticks == 3
        await system.resume("ticker")
        await system.clock.advance(10.0)
        assert ticker.ticks >= 4


async def test_a_crash_loop_backs_off_doubling_on_the_cluster_clock() -> None:
    system = LocalSystem(SystemConfig(manual_clock=True))
    async with system:
        start = system.clock.now()
        await system.spawn("loop", CrashLoop)
        await system.clock.advance(2.0)
        crashes = [round(e.time - start, 3) for e in await system.events() if e.kind is FaultKind.CRASHED]
        # first restart at once, then 0.1 s doubling: crashes at 0, 0, 0.1, 0.3, 0.7, 1.5
        assert crashes == [0.0, 0.0, 0.1, 0.3, 0.7, 1.5]
        [info] = await system.actors()
        assert info.state is ActorState.BACKOFF and info.restarts == 5


async def test_a_failed_start_is_reported_to_the_spawner() -> None:
    class Broken(Actor):
        async def on_start(self) -> None:
            raise OSError("port in use")

    system = LocalSystem()
    async with system:
        with pytest.raises(errors.ActorCrashed, match="OSError: port in use"):
            await system.spawn("broken", Broken)
        with pytest.raises(errors.ActorDead, match="failed to start"):
            await system.ref("broken").call("anything")


async def test_recorded_faults_replay_at_the_same_offsets() -> None:
    recorded = LocalSystem(SystemConfig(manual_clock=True))
    async with recorded:
        await recorded.spawn("a", Echo)
        await recorded.clock.advance(5.0)
        await recorded.pause("a")
        await recorded.clock.advance(3.0)
        await recorded.resume("a")
        rule = await recorded.partition(["a"], ["b"])
        await recorded.heal(rule)
        log = [FaultEvent.from_dict(e.to_dict()) for e in await recorded.events()]

    replayed = LocalSystem(SystemConfig(manual_clock=True))
    async with replayed:
        await replayed.spawn("a", Echo)
        begin = replayed.clock.now()
        replayed.replay(log)
        await replayed.clock.advance(2.0)
        assert [i.state for i in await replayed.actors()] == [ActorState.PAUSED]
        await replayed.clock.advance(10.0)
        again = await replayed.events()
    assert [(e.kind, e.targets) for e in again] == [(e.kind, e.targets) for e in log]
    assert [round(e.time - begin, 6) for e in again] == [round(e.time - log[0].time, 6) for e in log]
    assert replayed.rules == []


async def test_a_killed_actor_mid_call_answers_actor_dead() -> None:
    system = LocalSystem(SystemConfig(manual_clock=True, call_timeout=100.0))
    async with system:
        ref = await system.spawn("echo", Echo)
        pending = asyncio.ensure_future(ref.call("hang"))
        await system.clock.advance(1.0)
        await system.kill("echo")
        with pytest.raises(errors.CallInterrupted, match="died while handling the call: killed"):
            await pending


class Threaded(Echo):
    """Stands for an actor with resources outside the loop (a Raft thread, sockets): it logs its hooks."""

    log: list[str] = []

    def on_pause(self) -> None:
        Threaded.log.append("pause")

    def on_resume(self) -> None:
        Threaded.log.append("resume")

    def on_kill(self) -> None:
        Threaded.log.append("kill")

    async def on_stop(self) -> None:
        Threaded.log.append("stop")


async def test_lifecycle_hooks_tell_an_actor_to_freeze_or_drop_its_own_resources() -> None:
    Threaded.log.clear()
    system = LocalSystem(SystemConfig(manual_clock=True))
    async with system:
        ref = await system.spawn("t", Threaded)
        await system.pause("t")
        await system.resume("t")
        await system.kill("t")
        await system.kill("t")  # a dead actor has nothing left to drop
        await system.restart("t")
        with pytest.raises(errors.ActorCrashed):
            await ref.call("fail", "boom")  # a crash ends the incarnation like a kill
        await system.clock.advance(1.0)
        await system.stop("t")
    assert Threaded.log == ["pause", "resume", "kill", "kill", "stop"]
