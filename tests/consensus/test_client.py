"""The internal store client: leader changes are hidden where that is safe, surfaced where it is not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.runtime.errors import CallInterrupted
from actors.runtime.local import LocalSystem
from actors.runtime.system import SystemConfig
from consensus.client import StoreClient, StoreUnavailable
from consensus.member import RequestTimedOut
from consensus.mvcc import errors, types
from consensus.raft import ProposalFailed
from tests.consensus.test_member import NAMES, leader_of, spawn_store


@pytest.fixture
async def system(tmp_path: Any) -> AsyncIterator[LocalSystem]:
    system = LocalSystem(SystemConfig(seed=3, time_scale=1.0, call_timeout=300.0))
    async with system:
        await spawn_store(system, str(tmp_path))
        await leader_of(system)
        yield system


async def named_leader(system: LocalSystem, member: str, leader: str, within: float = 10.0) -> None:
    """Wait until ``member`` names ``leader``: a member learns who leads from the leader's first append
    entries, which can come a moment after the leader names itself."""
    deadline = time.monotonic() + within
    while (await system.ref(member).call("status")).get("leader") != leader:
        assert time.monotonic() < deadline, f"{member} never named {leader}"
        await asyncio.sleep(0.02)


def client_for(system: LocalSystem, **extra: Any) -> StoreClient:
    return StoreClient(ref=system.ref, members=NAMES, clock=system.clock, **extra)


async def test_reads_and_writes_go_through_and_refusals_are_answers(system: LocalSystem) -> None:
    client = client_for(system)
    written = await client.put(types.PutRequest(key=b"a", value=b"1"))
    got = await client.range(types.RangeRequest(key=b"a"))
    assert got.kvs[0].value == b"1" and got.revision == written.revision
    with pytest.raises(errors.LeaseNotFound):
        await client.put(types.PutRequest(key=b"a", value=b"2", lease=99))
    assert client.stats.retries == 0


async def test_a_dead_member_is_skipped_and_the_client_moves_on(system: LocalSystem) -> None:
    leader = await leader_of(system)
    followers = [n for n in NAMES if n != leader]
    client = StoreClient(ref=system.ref, members=[*followers, leader], clock=system.clock)
    await system.kill(followers[0])
    await client.put(types.PutRequest(key=b"b", value=b"1"))
    got = await client.range(types.RangeRequest(key=b"b"))
    assert got.kvs[0].value == b"1"
    assert client.stats.switches >= 1


async def test_the_client_follows_the_leader_its_member_names(system: LocalSystem) -> None:
    leader = await leader_of(system)
    followers = [n for n in NAMES if n != leader]
    await named_leader(system, followers[0], leader)
    client = StoreClient(ref=system.ref, members=[*followers, leader], clock=system.clock)
    assert client.current_member == followers[0]
    assert await client.follow_leader() == leader
    assert client.current_member == leader
    await client.put(types.PutRequest(key=b"c", value=b"1"))
    assert client.stats.switches == 0
    await system.kill(followers[0])
    client = StoreClient(ref=system.ref, members=[*followers, leader], clock=system.clock)
    assert await client.follow_leader() is None  # the member it would ask is dead: it stays put
    assert client.current_member == followers[0]


async def test_writes_through_a_leader_kill_are_applied_once_or_reported_unknown(system: LocalSystem) -> None:
    client = client_for(system)
    leader = await leader_of(system)
    acknowledged, unknown = [], []

    async def writer(i: int) -> None:
        for j in range(30):
            key = b"k-%d-%d" % (i, j)
            try:
                await client.put(types.PutRequest(key=key, value=b"v"))
                acknowledged.append(key)
            except (RequestTimedOut, ProposalFailed, StoreUnavailable, CallInterrupted):
                unknown.append(key)

    load = asyncio.gather(*(writer(i) for i in range(6)))
    await asyncio.sleep(0.2)
    await system.kill(leader)
    await load
    got = await client.range(types.RangeRequest(key=b"k-", range_end=b"k."))
    stored = {kv.key for kv in got.kvs}
    assert set(acknowledged) <= stored
    assert stored <= set(acknowledged) | set(unknown)
    assert all(kv.version == 1 for kv in got.kvs)  # nothing applied twice


async def test_with_no_member_left_the_client_gives_up_at_its_deadline(system: LocalSystem) -> None:
    client = client_for(system, deadline=0.5)
    for name in NAMES:
        await system.kill(name)
    with pytest.raises(StoreUnavailable, match=r"no store member answered range within 0\.5s"):
        await client.range(types.RangeRequest(key=b"a"))
