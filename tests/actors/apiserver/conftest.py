"""A running control plane for apiserver tests: one store member and ``apiserver-0`` in this process.

``cluster`` (plain HTTP, no authentication) is what most tests use; ``secure_cluster`` serves HTTPS with
the cluster CA, client certificates and RBAC, with ``pki`` holding the admin certificate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from actors.apiserver.server import ApiServer
from actors.runtime.local import LocalSystem
from actors.runtime.ref import ActorRef
from actors.runtime.system import SystemConfig
from consensus import pki
from consensus.client import wait_for_leader
from consensus.member import MemberInfo, StoreMember
from consensus.ports import free_loopback_ports
from consensus.raft import RaftConfig


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    """What ``check`` returns once it is truthy, polling every 20 ms; fails after ``timeout`` wall seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@dataclasses.dataclass
class Cluster:
    system: LocalSystem
    apiserver: ActorRef
    url: str
    pki: pki.PkiPaths | None = None


async def start_cluster(
    tmp: pathlib.Path, *, secure: bool = False, time_scale: float = 1.0, **apiserver: Any
) -> tuple[LocalSystem, Cluster]:
    system = LocalSystem(SystemConfig(seed=7, call_timeout=60.0, time_scale=time_scale))
    await system.start()
    (peer,) = free_loopback_ports(1)
    members = [MemberInfo(name="store-0", id=1, peer_url=f"127.0.0.1:{peer}")]
    raft = RaftConfig(data_dir=str(tmp / "store-0"))
    await system.spawn("store-0", StoreMember, kwargs={"members": members, "raft": raft})
    await wait_for_leader(system.ref, ["store-0"])
    paths = pki.write_pki(tmp / "pki", members=1) if secure else None
    kwargs: dict[str, Any] = {"store_members": ["store-0"], "port": 0, **apiserver}
    if paths is not None:
        kwargs["pki_dir"] = str(paths.directory)
    ref = await system.spawn("apiserver-0", ApiServer, kwargs=kwargs)
    port = (await ref.call("info"))["port"]
    scheme = "https" if secure else "http"
    return system, Cluster(system=system, apiserver=ref, url=f"{scheme}://127.0.0.1:{port}", pki=paths)


async def restart_apiserver(cluster: Cluster) -> None:
    """Restart ``apiserver-0`` (its watches go with it) and wait until it serves again."""
    await cluster.system.restart("apiserver-0")

    async def serving() -> bool:
        return bool((await cluster.apiserver.call("info"))["ready"])

    await eventually(serving)


@pytest.fixture
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path)
    try:
        yield running
    finally:
        await system.shutdown()


@pytest.fixture
async def secure_cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, secure=True)
    try:
        yield running
    finally:
        await system.shutdown()
