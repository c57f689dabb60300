"""Tells to synchronous handlers (plain ``def``): in order, never inside the sender, through faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from actors.runtime.actor import ActorState
from actors.runtime.system import ActorSystem
from tests.actors.runtime.conftest import two_hosts
from tests.actors.runtime.sample_actors import Sink


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_tells_to_a_synchronous_handler_arrive_in_order(system: ActorSystem) -> None:
    """Between two actors, as on Ray the driver's own tells are not ordered (Ray runs them concurrently)."""
    a_host, b_host = two_hosts(system)
    await system.spawn("sender", Sink, host=a_host)
    sink = await system.spawn("sink", Sink, host=b_host)
    await system.ref("sender").call("blast", ["sink"], 100)

    async def all_there() -> bool:
        return len(await sink.call("got")) == 100

    await eventually(all_there)
    assert await sink.call("got") == list(range(100))


async def test_a_call_to_a_synchronous_handler_answers_its_return_value(system: ActorSystem) -> None:
    sink = await system.spawn("sink", Sink)
    sink.tell("note", "x")

    async def one() -> bool:
        return await sink.call("total") == 1

    await eventually(one)


async def test_a_synchronous_handler_never_runs_inside_its_sender(system: ActorSystem) -> None:
    """An actor telling itself (or a neighbour) in a loop sees the notes only after the loop: no re-entry."""
    a_host, b_host = two_hosts(system)
    await system.spawn("a", Sink, host=a_host)
    await system.spawn("b", Sink, host=b_host)
    await system.ref("a").call("blast", ["a", "b"], 50)

    async def delivered() -> bool:
        return await system.ref("a").call("total") == 50 and await system.ref("b").call("total") == 50

    await eventually(delivered)
    assert not await system.ref("a").call("saw_busy")
    assert await system.ref("b").call("got") == list(range(50))


async def test_ten_thousand_actors_each_get_a_tell(system: ActorSystem) -> None:
    if system.backend != "local":
        return  # 10,000 spawns across Ray hosts is the scale suite's business
    for i in range(10_000):
        await system.spawn(f"sink-{i}", Sink)
    await system.spawn("sender", Sink)
    await system.ref("sender").call("blast", [f"sink-{i}" for i in range(10_000)], 1)

    async def everyone() -> bool:
        return all([await system.ref(f"sink-{i}").call("total") == 1 for i in range(0, 10_000, 997)])

    await eventually(everyone)


async def test_a_synchronous_handler_that_raises_crashes_its_actor_which_restarts(
    system: ActorSystem,
) -> None:
    sink = await system.spawn("sink", Sink)
    sink.tell("note", 1)

    async def noted() -> bool:
        return await sink.call("total") == 1

    await eventually(noted)  # the driver's own tells are not ordered on Ray
    sink.tell("explode", "boom")

    async def restarted() -> bool:
        infos = {info.name: info for info in await system.actors()}
        return infos["sink"].restarts == 1 and infos["sink"].state is ActorState.RUNNING

    await eventually(restarted)
    assert await sink.call("got") == []  # a fresh instance


async def test_a_paused_target_holds_synchronous_tells_until_resumed(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    await system.spawn("sender", Sink, host=a_host)
    sink = await system.spawn("sink", Sink, host=b_host)
    await system.pause("sink")
    await system.ref("sender").call("blast", ["sink"], 5)
    await asyncio.sleep(0.2)
    await system.resume("sink")

    async def five() -> bool:
        return len(await sink.call("got")) == 5

    await eventually(five)
    assert await sink.call("got") == [0, 1, 2, 3, 4]


async def test_a_partition_drops_synchronous_tells_and_healing_lets_them_through(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    await system.spawn("a", Sink, host=a_host)
    b = await system.spawn("b", Sink, host=b_host)
    rule = await system.partition(["a"], ["b"])
    await system.ref("a").call("blast", ["b"], 3)
    await asyncio.sleep(0.2)
    assert await b.call("total") == 0
    await system.heal(rule)
    await system.ref("a").call("blast", ["b"], 2)

    async def two() -> bool:
        return await b.call("total") == 2

    await eventually(two)
    assert await b.call("got") == [0, 1]
