"""The runtime as a user of it sees it, on both backends: calls, errors, supervision and faults."""

from __future__ import annotations

import asyncio
import time

import pytest

from actors.runtime import errors
from actors.runtime.actor import ActorState
from actors.runtime.faults import FaultKind
from actors.runtime.system import ActorSystem
from tests.actors.runtime.conftest import two_hosts
from tests.actors.runtime.sample_actors import Echo, Fragile, Picky


async def state_of(system: ActorSystem, name: str) -> ActorState:
    return {info.name: info.state for info in await system.actors()}[name]


async def test_call_returns_the_reply_with_args_and_kwargs(system: ActorSystem) -> None:
    ref = await system.spawn("echo", Echo, kwargs={"greeting": "hi"})
    assert await ref.call("echo", {"a": [1, 2]}) == {"a": [1, 2]}
    assert await ref.call("greet", who="kubemu") == "hi, kubemu"


async def test_actor_to_actor_call_crosses_hosts(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    a = await system.spawn("a", Echo, host=a_host)
    await system.spawn("b", Echo, host=b_host)
    assert await a.call("forward", "b", (1, "two")) == (1, "two")
    assert await system.ref("b").call("count") == 1


async def test_unknown_actor_fails_fast_with_a_typed_error(system: ActorSystem) -> None:
    began = time.monotonic()
    with pytest.raises(errors.UnknownActor, match='actor "nobody" not found'):
        await system.ref("nobody").call("echo", 1)
    assert time.monotonic() - began < 2.0


@pytest.mark.parametrize("method", ["missing", "_private", "on_start", "run"], ids=str)
async def test_only_public_handlers_are_callable(system: ActorSystem, method: str) -> None:
    ref = await system.spawn("echo", Echo)
    with pytest.raises(errors.UnknownMethod, match=f'has no method "{method}"'):
        await ref.call(method)


async def test_a_live_name_cannot_be_spawned_twice(system: ActorSystem) -> None:
    await system.spawn("echo", Echo)
    with pytest.raises(errors.ActorExists):
        await system.spawn("echo", Echo)


async def test_a_crash_is_reported_and_the_actor_restarted_fresh(system: ActorSystem) -> None:
    ref = await system.spawn("echo", Echo)
    await ref.call("echo", 1)
    with pytest.raises(errors.ActorCrashed, match="RuntimeError: boom"):
        await ref.call("fail", "boom")
    assert await ref.call("count") == 0  # a fresh instance: state lives in the store, not the actor
    [info] = [i for i in await system.actors() if i.name == "echo"]
    assert info.restarts == 1
    crashed = [e for e in await system.events() if e.kind is FaultKind.CRASHED]
    assert [e.targets for e in crashed] == [("echo",)]


async def test_expected_errors_are_answers_not_crashes(system: ActorSystem) -> None:
    ref = await system.spawn("picky", Picky)
    await ref.call("echo", 1)
    with pytest.raises(KeyError):
        await ref.call("refuse", "no such key")
    assert await ref.call("count") == 1


async def test_restart_policy_never_leaves_a_crashed_actor_dead(system: ActorSystem) -> None:
    ref = await system.spawn("fragile", Fragile)
    with pytest.raises(errors.ActorCrashed):
        await ref.call("fail", "boom")
    with pytest.raises(errors.ActorDead, match="crashed in fail"):
        await ref.call("echo", 1)
    assert await state_of(system, "fragile") is ActorState.DEAD


async def test_kill_fails_calls_fast_and_restart_brings_a_fresh_actor(system: ActorSystem) -> None:
    ref = await system.spawn("echo", Echo)
    await ref.call("echo", 1)
    await system.kill("echo")
    began = time.monotonic()
    with pytest.raises(errors.ActorDead, match="killed"):
        await ref.call("echo", 2)
    assert time.monotonic() - began < 2.0
    await system.restart("echo")
    assert await ref.call("count") == 0
    kinds = [e.kind for e in await system.events()]
    assert FaultKind.KILL in kinds and FaultKind.RESTART in kinds and FaultKind.DIED in kinds


async def test_a_paused_actor_queues_messages_until_resumed(system: ActorSystem) -> None:

    ref = await system.spawn("echo", Echo)
    await system.pause("echo")
    assert await state_of(system, "echo") is ActorState.PAUSED
    pending = [asyncio.ensure_future(ref.call("echo", i)) for i in range(3)]
    await asyncio.sleep(0.3)
    assert not any(p.done() for p in pending)
    await system.resume("echo")
    assert await asyncio.gather(*pending) == [0, 1, 2]
    assert await ref.call("count") == 3


async def test_a_call_past_its_deadline_raises_call_timeout(system: ActorSystem) -> None:
    ref = await system.spawn("echo", Echo)
    began = time.monotonic()
    with pytest.raises(errors.CallTimeout, match=r"echo.hang got no reply within 0.5s"):
        await ref.options(timeout=0.5).call("hang")
    assert 0.4 < time.monotonic() - began < 3.0
    assert await ref.call("echo", 1) == 1  # the actor itself is fine


async def test_a_partition_times_out_calls_across_it_and_heals(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    a = await system.spawn("a", Echo, host=a_host)
    await system.spawn("b", Echo, host=b_host)
    rule = await system.partition(["a"], ["b"])
    with pytest.raises(errors.CallTimeout):
        await a.call("forward", "b", 1, timeout=0.5)
    with pytest.raises(errors.CallTimeout):
        await system.ref("b").call("forward", "a", 1, timeout=0.5)
    assert await system.ref("b").call("count") == 0  # nothing crossed
    await system.heal(rule)
    assert await a.call("forward", "b", 2) == 2


async def test_a_one_way_partition_loses_requests_one_way_and_replies_the_other(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    a = await system.spawn("a", Echo, host=a_host)
    b = await system.spawn("b", Echo, host=b_host)
    await system.partition(["a"], ["b"], one_way=True)
    with pytest.raises(errors.CallTimeout):
        await a.call("forward", "b", 1, timeout=0.5)
    with pytest.raises(errors.CallTimeout):  # b -> a arrives; a's reply to b is lost
        await b.call("forward", "a", 2, timeout=0.5)
    assert await a.call("count") == 1
    assert await b.call("count") == 0


async def test_partition_patterns_name_sets_of_actors(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    for i in range(3):
        await system.spawn(f"kubelet/node-{i}", Echo, host=b_host)
    await system.spawn("apiserver", Echo, host=a_host)
    await system.partition(["apiserver"], ["kubelet/*"])
    for i in range(3):
        with pytest.raises(errors.CallTimeout):
            await system.ref("apiserver").call("forward", f"kubelet/node-{i}", i, timeout=0.3)
    await system.heal()
    assert await system.ref("apiserver").call("forward", "kubelet/node-0", 0) == 0


async def test_delay_holds_messages_for_at_least_the_delay(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    a = await system.spawn("a", Echo, host=a_host)
    await system.spawn("b", Echo, host=b_host)
    await system.delay(["a"], ["b"], delay=0.3)
    began = time.monotonic()
    assert await a.call("forward", "b", 1) == 1
    assert time.monotonic() - began >= 0.3


async def test_drop_with_probability_loses_some_messages(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    a = await system.spawn("a", Echo, host=a_host)
    await system.spawn("b", Echo, host=b_host)
    await system.drop(["a"], ["b"], probability=0.5)
    outcomes = []
    for i in range(40):
        try:
            outcomes.append(await a.call("forward", "b", i, timeout=0.2))
        except errors.CallTimeout:
            outcomes.append(None)
    lost = outcomes.count(None)
    assert 5 < lost < 35  # about half, from the seeded generator


async def test_stop_runs_on_stop_and_later_calls_fail(system: ActorSystem) -> None:
    ref = await system.spawn("echo", Echo)
    await system.stop("echo")
    with pytest.raises(errors.ActorDead, match="stopped"):
        await ref.call("echo", 1)
    assert await state_of(system, "echo") is ActorState.STOPPED


async def test_every_injected_fault_is_recorded_with_time_kind_and_targets(system: ActorSystem) -> None:
    await system.spawn("a", Echo)
    rule = await system.partition(["a"], ["b"])
    await system.pause("a")
    await system.resume("a")
    await system.heal(rule)
    events = [e for e in await system.events()]
    assert [e.kind for e in events] == [
        FaultKind.PARTITION,
        FaultKind.PAUSE,
        FaultKind.RESUME,
        FaultKind.HEAL,
    ]
    assert events[0].targets == ("a", "b") and events[0].params["rule"] == rule
    assert all(e.time > 0 for e in events)
    assert str(events[0]).endswith(f"partition a <-> b (rule {rule})")
    assert str(events[-1]).endswith(f"heal rule {rule}")


async def test_a_scheduled_fault_happens_on_the_cluster_clock_and_heals(system: ActorSystem) -> None:

    from actors.runtime.faults import FaultEvent

    a_host, b_host = two_hosts(system)
    a = await system.spawn("a", Echo, host=a_host)
    await system.spawn("b", Echo, host=b_host)
    now = system.clock.now()
    cut = {"sources": ["a"], "destinations": ["b"]}
    system.schedule(now + 0.5, FaultEvent(time=0, kind=FaultKind.PARTITION, targets=("a", "b"), params=cut))
    assert await a.call("forward", "b", "before") == "before"
    await asyncio.sleep(0.8)
    with pytest.raises(errors.CallTimeout):
        await a.call("forward", "b", "during", timeout=0.3)
    [rule] = system.rules
    system.schedule(system.clock.now() + 0.2, FaultEvent(time=0, kind=FaultKind.HEAL, targets=(), params={}))
    await asyncio.sleep(0.5)
    assert await a.call("forward", "b", "after") == "after"
    kinds = [e.kind for e in await system.events()]
    assert kinds == [FaultKind.PARTITION, FaultKind.HEAL]
    assert rule.sources == ("a",)


async def test_a_handler_that_waits_mid_call_still_answers_across_hosts(system: ActorSystem) -> None:
    a_host, b_host = two_hosts(system)
    a = await system.spawn("a", Echo, host=a_host)
    await system.spawn("b", Echo, host=b_host)
    await system.spawn("c", Echo, host=a_host)
    await system.delay(["b"], ["c"], delay=0.05)  # b's handler must wait for c: it cannot answer at once

    async def relay(i: int) -> object:
        return await a.call("relay", "b", "c", i)

    assert await asyncio.gather(*(relay(i) for i in range(20))) == list(range(20))
    assert await system.ref("c").call("count") == 20
