"""Raft log compaction: the log is cut at a snapshot, a restart starts from it, a follower too far behind is
sent it, and nothing a client saw is lost or repeated on the way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from actors.runtime.local import LocalSystem
from actors.runtime.system import SystemConfig
from consensus.member import MemberInfo, StoreMember
from consensus.mvcc import types
from consensus.ports import free_loopback_ports as free_ports
from consensus.raft import Diverged, RaftConfig, RaftMember
from tests.consensus.test_member import NAMES, leader_of, put, put_when_led

SNAPSHOT_COUNT = 20  # entries; each put sent alone is one entry


@pytest.fixture
async def system(tmp_path: Any) -> AsyncIterator[LocalSystem]:
    system = LocalSystem(SystemConfig(seed=5, time_scale=10.0, call_timeout=300.0))
    async with system:
        members = [
            MemberInfo(name=n, id=i + 1, peer_url=f"127.0.0.1:{p}")
            for i, (n, p) in enumerate(zip(NAMES, free_ports(3), strict=True))
        ]
        for member in members:
            raft = RaftConfig(
                peer_secret="secret", data_dir=f"{tmp_path}/{member.name}", snapshot_count=SNAPSHOT_COUNT
            )
            await system.spawn(member.name, StoreMember, kwargs={"members": members, "raft": raft})
        await leader_of(system)
        yield system


async def status(system: LocalSystem, name: str) -> dict[str, Any]:
    got: dict[str, Any] = await system.ref(name).call("status")
    return got


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def keys_on(system: LocalSystem, name: str) -> dict[bytes, bytes]:
    got = await system.ref(name).call(
        "range", types.RangeRequest(key=b"k/", range_end=b"k0"), serializable=True
    )
    return {kv.key: kv.value for kv in got.kvs}


async def write(system: LocalSystem, via: str, first: int, count: int) -> dict[bytes, bytes]:
    written = {}
    for i in range(first, first + count):
        key, value = b"k/%04d" % i, b"v%d" % i
        await put_when_led(system, via, put(key, value))
        written[key] = value
    return written


async def test_the_log_is_cut_at_a_snapshot_on_every_member_and_nothing_is_lost(system: LocalSystem) -> None:
    written = await write(system, "store-0", 0, 5 * SNAPSHOT_COUNT)

    async def compacted() -> bool:
        states = [await status(system, n) for n in NAMES]
        return all(s["snapshots"] >= 2 and s["log_entries"] <= SNAPSHOT_COUNT + 2 for s in states)

    await eventually(compacted, "every member snapshots and keeps a short log")

    async def holds_all() -> bool:
        return all([await keys_on(system, name) == written for name in NAMES])

    await eventually(holds_all, "every member holds every key")  # a follower applies a moment later


async def test_a_restarted_member_starts_from_its_snapshot_and_catches_up(system: LocalSystem) -> None:
    written = await write(system, "store-0", 0, 3 * SNAPSHOT_COUNT)
    await eventually(lambda: _has_snapshot(system, "store-2"), "store-2 writes a snapshot", within=10.0)
    snapshot_index = (await status(system, "store-2"))["snapshot_index"]
    await system.kill("store-2")
    await leader_of(system, ["store-0", "store-1"])  # store-2 may have led
    written |= await write(system, "store-0", 1000, 3)
    await system.restart("store-2")

    async def caught_up() -> bool:
        return await keys_on(system, "store-2") == written

    await eventually(caught_up, "the restarted member holds every key")
    after = await status(system, "store-2")
    assert after["snapshots_loaded"] >= 1 and after["snapshot_index"] >= snapshot_index  # not replayed from 1


async def test_a_follower_behind_the_leaders_log_is_sent_the_snapshot_and_its_watch_has_no_gap(
    system: LocalSystem,
) -> None:
    leader = await leader_of(system)
    follower = next(n for n in NAMES if n != leader)
    member = system.instance(follower)
    assert isinstance(member, StoreMember)
    first = await put_when_led(system, leader, put(b"k/start", b"0"))
    await eventually(lambda: _applied(system, follower, first.revision), "the follower applies the first put")
    seen: list[types.Event] = []
    member.subscribe(b"k/", b"k0", first.revision + 1, prev_kv=False, deliver=lambda _, e: seen.extend(e))

    behind = (await status(system, follower))["applied_index"]
    await system.pause(follower)  # cut off: the others commit and compact far past its log
    written = await write(system, leader, 0, 4 * SNAPSHOT_COUNT)
    await eventually(lambda: _has_snapshot(system, leader), "the leader compacts")
    assert (await status(system, leader))["snapshot_index"] > behind
    await system.resume(follower)

    async def caught_up() -> bool:
        return len(seen) == len(written)

    await eventually(caught_up, "the follower's watch sees every put")
    start = first.revision + 1
    assert [e.kv.mod_revision for e in seen] == list(range(start, start + len(written)))  # no gap, no repeat
    assert {e.kv.key: e.kv.value for e in seen} == written
    assert (await keys_on(system, follower)) == {b"k/start": b"0", **written}
    caught = await status(system, follower)
    assert caught["snapshots_loaded"] >= 1  # the leader's snapshot, not the entries one by one
    assert caught["log_entries"] <= 2 * SNAPSHOT_COUNT + 2


async def test_a_snapshot_file_that_cannot_be_read_stops_the_member_at_restart(
    system: LocalSystem, tmp_path: Any
) -> None:
    await write(system, "store-0", 0, 2 * SNAPSHOT_COUNT)
    await eventually(lambda: _has_snapshot(system, "store-2"), "store-2 writes a snapshot")
    await system.kill("store-2")
    await leader_of(system, ["store-0", "store-1"])  # store-2 may have led
    with open(f"{tmp_path}/store-2/raft.snapshot", "r+b") as file:
        file.write(b"garbage")
    await system.restart("store-2")

    async def stopped() -> bool:
        instance = system.instance("store-2")
        raft = getattr(instance, "_raft", None)
        return raft is not None and raft.diverged is not None

    await eventually(stopped, "the member refuses to go on from an empty state")
    with pytest.raises(Diverged, match="cannot load the snapshot"):
        await system.ref("store-2").call("put", put(b"k/x", b"x"))
    with pytest.raises(Diverged, match="cannot load the snapshot"):  # not an empty store's answer
        await keys_on(system, "store-2")
    # the other two still make a majority
    await put_when_led(system, "store-0", put(b"k/y", b"y"))


async def _has_snapshot(system: LocalSystem, name: str) -> bool:
    return bool((await status(system, name))["snapshots"] >= 1)


async def _applied(system: LocalSystem, name: str, revision: int) -> bool:
    got = await system.ref(name).call("range", types.RangeRequest(key=b"k/start"), serializable=True)
    return bool(got.kvs) and got.kvs[0].mod_revision == revision


class SlowLog:
    """A state machine whose snapshot takes ``delay`` seconds to build, as a big store's does."""

    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay
        self.commands: list[bytes] = []

    def apply(self, command: bytes) -> int:
        self.commands.append(command)
        return len(self.commands)

    def capture(self) -> Callable[[], bytes]:
        commands = list(self.commands)

        def build() -> bytes:
            time.sleep(self.delay)  # stands for building a large state (the member may stop meanwhile)
            return b"\n".join(commands)

        return build

    def restore(self, data: bytes) -> None:
        self.commands = data.split(b"\n") if data else []


def solo(port: int, config: RaftConfig, delay: float) -> tuple[RaftMember, SlowLog]:
    """A group of one member (it leads alone) over a ``SlowLog``."""
    machine = SlowLog(delay)
    member = RaftMember(
        name="store-0", peer_address=f"127.0.0.1:{port}", peers={}, machine=machine, config=config
    )
    return member, machine


async def leading(member: RaftMember) -> RaftMember:
    while not member.is_leader:
        await asyncio.sleep(0.01)
    return member


async def write_around_a_snapshot(member: RaftMember) -> None:
    """Writes c0..c11: enough for a snapshot (count 5) to start, then four more while it is written."""
    for i in range(8):
        await member.propose(b"c%d" % i)
    while not member.snapshots.writing:
        await asyncio.sleep(0.005)
    for i in range(8, 12):  # acknowledged after the capture
        await member.propose(b"c%d" % i)


async def holds_every_write(member: RaftMember, machine: SlowLog) -> None:
    """The restarted member applies c0..c11 again, each once, in order; then it is stopped."""
    try:
        deadline = time.monotonic() + 10
        while machine.commands[-1:] != [b"c11"]:
            assert time.monotonic() < deadline, f"acknowledged writes lost: {machine.commands}"
            await asyncio.sleep(0.05)
        assert [c for c in machine.commands if c.startswith(b"c")] == [b"c%d" % i for i in range(12)]
    finally:
        member.destroy()


async def test_a_member_stopped_while_its_snapshot_is_written_keeps_every_acknowledged_write(
    tmp_path: Any,
) -> None:
    [port] = free_ports(1)
    config = RaftConfig(peer_secret="s", data_dir=str(tmp_path), snapshot_count=5)
    member, _ = solo(port, config, delay=1.0)
    await write_around_a_snapshot(await leading(member))
    snapshots = member.snapshots
    # as on SIGTERM, while the snapshot is still being written. Two things keep the writes: the file takes
    # its place only on Raft's thread, and a load trims a journal that begins before the snapshot; with
    # both taken out, 3 of the 12 writes came back
    member.destroy()
    while snapshots.writing:  # the writer finishes after the member stopped
        await asyncio.sleep(0.02)
    await holds_every_write(*solo(port, config, delay=1.0))


async def test_a_log_of_few_large_entries_is_cut_by_its_size(tmp_path: Any) -> None:
    [port] = free_ports(1)
    config = RaftConfig(
        peer_secret="s", data_dir=str(tmp_path), snapshot_count=1_000_000, snapshot_bytes=256 * 1024
    )
    member, _ = solo(port, config, delay=0.0)
    try:
        await leading(member)
        for i in range(12):  # 12 entries of 64 KiB: far under the count, three times the size
            await member.propose(b"%02d" % i + b"x" * 64 * 1024)
        deadline = time.monotonic() + 10
        while member.status()["snapshots"] < 2:
            assert time.monotonic() < deadline, member.status()
            await asyncio.sleep(0.02)
        assert member.status()["log_entries"] < 12
    finally:
        member.destroy()


async def test_a_stop_between_the_snapshot_and_the_journal_trim_loses_nothing(tmp_path: Any) -> None:
    [port] = free_ports(1)
    config = RaftConfig(peer_secret="s", data_dir=str(tmp_path), snapshot_count=5)
    member, _ = solo(port, config, delay=0.5)
    await write_around_a_snapshot(await leading(member))
    # the journal as a stop right after the snapshot took its place would leave it: not trimmed yet
    untrimmed = {name: (tmp_path / name).read_bytes() for name in ("raft.journal", "raft.journal.meta")}
    while member.status()["snapshots"] < 1:
        await asyncio.sleep(0.01)
    member.destroy()
    for name, data in untrimmed.items():
        (tmp_path / name).write_bytes(data)
    await holds_every_write(*solo(port, config, delay=0.5))
