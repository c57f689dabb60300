"""The store's part of ``kubemu demo``: a 3-member replicated store loses its leader and keeps working.

Three ``StoreMember`` actors elect a leader over loopback; a client writes 100 keys; the leader is killed;
the demo measures how long the survivors take to elect another, writes 100 more keys through the same
client (which moves to a live member by itself), reads all 200 back linearizably, restarts the old leader
and waits for it to catch up from the log. Every step is printed with its time; the checks say whether a
new leader came within 2 s, no acknowledged write was lost, and the restarted member caught up.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import Callable

from actors.runtime.system import ActorSystem
from chaos.runtime_demo import Check
from consensus.client import StoreClient, wait_for_leader
from consensus.member import MemberInfo, StoreMember
from consensus.mvcc import types
from consensus.ports import free_loopback_ports
from consensus.raft import RaftConfig

NAMES = ("store-0", "store-1", "store-2")


async def run(system: ActorSystem, *, say: Callable[[str], None] = print) -> list[Check]:
    wall = time.monotonic()

    def stamp(text: str) -> None:
        say(f"[{time.monotonic() - wall:5.2f}s wall] {text}")

    with tempfile.TemporaryDirectory(prefix="kubemu-demo-store-") as data:
        first = await start_store(system, data)
        stamp(f"3 store members on loopback; {first} leads")

        client = StoreClient(ref=system.ref, members=list(NAMES), clock=system.clock, deadline=30.0)
        began = time.monotonic()
        for i in range(100):
            await client.put(types.PutRequest(key=b"/registry/demo/%03d" % i, value=b"v%d" % i))
        stamp(f"wrote 100 keys in {time.monotonic() - began:.2f}s")

        await system.kill(first)
        killed = time.monotonic()
        survivors = [n for n in NAMES if n != first]
        second = await wait_for_leader(system.ref, survivors)
        elected = time.monotonic() - killed
        stamp(f"killed the leader {first}; {second} leads after {elected:.2f}s")

        unknown = 0
        for i in range(100, 200):
            try:
                await client.put(types.PutRequest(key=b"/registry/demo/%03d" % i, value=b"v%d" % i))
            except Exception:  # an outcome the client could not know (the member died holding it)
                unknown += 1
        got = await client.range(types.RangeRequest(key=b"/registry/demo/", range_end=b"/registry/demo0"))
        stamp(f"wrote 100 more through the same client; a linearizable read finds {len(got.kvs)} keys")

        await system.restart(first)
        caught_up = await _caught_up(system, first, len(got.kvs))
        stamp(f"restarted {first}: {'caught up from the log' if caught_up else 'did NOT catch up'}")
        for name in NAMES:
            await system.stop(name)

    return [
        Check(what="a new store leader within 2 s", passed=elapsed_ok(elected)),
        Check(what="no acknowledged write lost", passed=len(got.kvs) >= 200 - unknown),
        Check(what="the restarted member caught up", passed=caught_up),
    ]


async def start_store(system: ActorSystem, data: str) -> str:
    """Spawn ``store-0..2`` on loopback (spread over hosts on Ray) with data under ``data``; the leader."""
    members = [
        MemberInfo(name=name, id=i + 1, peer_url=f"127.0.0.1:{port}")
        for i, (name, port) in enumerate(zip(NAMES, free_loopback_ports(3), strict=True))
    ]
    secret = secrets.token_hex(16)
    for i, member in enumerate(members):
        raft = RaftConfig(peer_secret=secret, data_dir=f"{data}/{member.name}")
        await system.spawn(
            member.name, StoreMember, kwargs={"members": members, "raft": raft}, host=_host(system, i)
        )
    return await wait_for_leader(system.ref, NAMES)


def elapsed_ok(seconds: float) -> bool:
    return seconds < 2.0


async def _caught_up(system: ActorSystem, name: str, keys: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    request = types.RangeRequest(key=b"/registry/demo/", range_end=b"/registry/demo0", count_only=True)
    while time.monotonic() < deadline:
        got = await system.ref(name).call("range", request, serializable=True)
        if got.count >= keys:
            return True
        await asyncio.sleep(0.05)
    return False


def _host(system: ActorSystem, index: int) -> str | None:
    return None if system.backend == "local" else f"host-{index % 2}"
