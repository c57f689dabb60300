"""A concurrent register history recorded against the replicated store under leader kills and partitions,
checked for linearizability (Wing & Gong with Lowe's memoisation, in ``chaos.linearizability``)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.runtime import errors as runtime_errors
from actors.runtime.local import LocalSystem
from actors.runtime.system import SystemConfig
from chaos import linearizability
from chaos.history import OpKind, Recorder
from consensus.client import NOT_COMMITTED
from consensus.mvcc import types
from consensus.raft import Diverged, ProposalFailed
from tests.consensus.test_member import NAMES, leader_of, spawn_store

KEYS = ["/registry/a", "/registry/b", "/registry/c"]


@pytest.fixture
async def system(tmp_path: Any) -> AsyncIterator[LocalSystem]:
    system = LocalSystem(SystemConfig(seed=9, call_timeout=300.0))
    async with system:
        await spawn_store(system, str(tmp_path))
        await leader_of(system)
        yield system


def definitely_not_applied(error: Exception) -> bool:
    if isinstance(error, ProposalFailed):
        return error.reason in NOT_COMMITTED
    if isinstance(error, runtime_errors.CallInterrupted):
        return False  # the member died holding it: it may still commit
    return isinstance(error, runtime_errors.UnknownActor | runtime_errors.ActorDead | Diverged)


async def client(system: LocalSystem, recorder: Recorder, number: int, stop_at: float) -> None:
    rng = random.Random(number)
    member = NAMES[number % 3]
    sequence = 0
    while time.monotonic() < stop_at:
        key = rng.choice(KEYS)
        roll = rng.random()
        ref = system.ref(member).options(timeout=30.0)
        if roll < 0.4:
            handle = recorder.invoke(client=number, kind=OpKind.READ, key=key, time=time.monotonic())
            try:
                got = await ref.call("range", types.RangeRequest(key=key.encode()))
                value = got.kvs[0].value.decode() if got.kvs else None
                recorder.complete(handle, time=time.monotonic(), output=value)
            except Exception:
                recorder.fail(handle, time=time.monotonic())  # a read that failed changed nothing
                await asyncio.sleep(0.02)
        else:
            sequence += 1
            value = f"{number}-{sequence}"
            if roll < 0.8:
                handle = recorder.invoke(
                    client=number, kind=OpKind.WRITE, key=key, value=value, time=time.monotonic()
                )
                request: Any = types.PutRequest(key=key.encode(), value=value.encode())
                method = "put"
            else:
                expected = f"{rng.randrange(number + 1)}-{rng.randrange(1, sequence + 1)}"
                handle = recorder.invoke(
                    client=number,
                    kind=OpKind.CAS,
                    key=key,
                    value=value,
                    expected=expected,
                    time=time.monotonic(),
                )
                compare = types.Compare(
                    key=key.encode(),
                    target=types.CompareTarget.VALUE,
                    result=types.CompareResult.EQUAL,
                    target_value=expected.encode(),
                )
                request = types.TxnRequest(
                    compare=(compare,), success=(types.PutRequest(key=key.encode(), value=value.encode()),)
                )
                method = "txn"
            try:
                reply = await ref.call(method, request)
                output = reply.succeeded if method == "txn" else None
                recorder.complete(handle, time=time.monotonic(), output=output)
            except Exception as error:
                if definitely_not_applied(error):
                    recorder.fail(handle, time=time.monotonic())
                else:
                    recorder.unknown(handle)
                await asyncio.sleep(0.02)
        if rng.random() < 0.05:
            member = rng.choice(NAMES)  # clients wander between members, as after a failover


async def test_the_store_stays_linearizable_through_leader_kills_and_partitions(system: LocalSystem) -> None:
    recorder = Recorder()
    stop_at = time.monotonic() + 6.0
    load = asyncio.gather(*(client(system, recorder, n, stop_at) for n in range(6)))

    await asyncio.sleep(1.0)
    first = await leader_of(system)
    await system.kill(first)  # the leader dies mid-load
    await asyncio.sleep(1.5)
    second = await leader_of(system, [n for n in NAMES if n != first])
    await system.restart(first)
    await asyncio.sleep(0.5)
    await system.partition([second], [n for n in NAMES if n != second])  # the new leader is cut off
    await asyncio.sleep(1.5)
    await system.heal()
    await load

    history = recorder.history()
    completed = [op for op in history if op.outcome == "ok" and op.kind != OpKind.READ]
    assert len(completed) > 50, "too little got through to say anything"
    result = linearizability.check(history)
    assert result.ok, result.explain()


def test_the_checker_would_catch_a_stale_read() -> None:
    """The same recording code, fed a history with a stale read, is refused: the test above can fail."""
    recorder = Recorder()
    write = recorder.invoke(client=1, kind=OpKind.WRITE, key="k", value="new", time=1.0)
    recorder.complete(write, time=2.0)
    read = recorder.invoke(client=2, kind=OpKind.READ, key="k", time=3.0)
    recorder.complete(read, time=4.0, output=None)
    assert not linearizability.check(recorder.history()).ok
