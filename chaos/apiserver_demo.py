"""The apiserver's part of ``kubemu demo``: the front door keeps serving while the store loses its leader.

A 3-member store and ``apiserver-0`` start; the demo reads the namespaces over HTTP as kubectl would, creates
50 ConfigMaps through the internal client, kills the store's leader, creates 50 more (a write caught in the
election is retried by the demo, as a controller retries), and checks that a cache-served list
(``resourceVersion=0``) and a consistent list both find all 100: the apiserver followed the new leader and
re-established its store watches by itself.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from actors.apiserver.server import ApiServer
from actors.runtime.system import ActorSystem
from chaos import store_demo
from chaos.runtime_demo import Check
from consensus.client import wait_for_leader
from consensus.ports import free_loopback_ports

NAMES = store_demo.NAMES


async def run(system: ActorSystem, *, say: Callable[[str], None] = print) -> list[Check]:
    wall = time.monotonic()

    def stamp(text: str) -> None:
        say(f"[{time.monotonic() - wall:5.2f}s wall] {text}")

    with tempfile.TemporaryDirectory(prefix="kubemu-demo-apiserver-") as data:
        await store_demo.start_store(system, data)
        (port,) = free_loopback_ports(1)
        api = await system.spawn(
            "apiserver-0", ApiServer, kwargs={"store_members": list(NAMES), "port": port}
        )
        url = f"http://127.0.0.1:{port}"
        namespaces = await asyncio.to_thread(_get, f"{url}/api/v1/namespaces")
        names = [n["metadata"]["name"] for n in namespaces["items"]]
        stamp(f"apiserver-0 serves {url}; GET /api/v1/namespaces: {', '.join(names)}")

        await api.call("create", "namespaces", None, {"metadata": {"name": "demo"}})
        for i in range(50):
            await api.call(
                "create", "configmaps", "demo", {"metadata": {"name": f"cm-{i:03d}"}, "data": {"i": str(i)}}
            )
        stamp("created 50 ConfigMaps through the internal client")

        leader = await wait_for_leader(system.ref, NAMES)
        await system.kill(leader)
        killed = time.monotonic()
        retried = 0
        for i in range(50, 100):
            retried += await _create_retrying(api, i)
        took = time.monotonic() - killed
        stamp(f"killed the store leader {leader}; created 50 more in {took:.2f}s ({retried} retried)")

        deadline = time.monotonic() + 10
        cached: list[Any] = []
        while time.monotonic() < deadline:
            cached = (await api.call("list_objects", "configmaps", "demo", resource_version="0"))["items"]
            if len(cached) >= 100:
                break
            await asyncio.sleep(0.1)
        consistent = (await api.call("list_objects", "configmaps", "demo"))["items"]
        stamp(f"lists: {len(consistent)} from the store, {len(cached)} from the watch cache")
        await system.stop("apiserver-0")
        for name in NAMES:
            if name != leader:
                await system.stop(name)
    return [
        Check(what="the apiserver answered kubectl's GET", passed="default" in names),
        Check(what="creates resumed after the leader died", passed=len(consistent) == 100),
        Check(what="the watch cache followed the new leader", passed=len(cached) == 100),
    ]


async def _create_retrying(api: Any, i: int, attempts: int = 50) -> int:
    """Create ConfigMap ``i``; a write caught in the election is tried again. Returns 1 if it was."""
    obj = {"metadata": {"name": f"cm-{i:03d}"}, "data": {"i": str(i)}}
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            await api.call("create", "configmaps", "demo", obj)
            return 1 if attempt else 0
        except Exception as error:
            if getattr(error, "reason", "") == "AlreadyExists":  # the first try had committed after all
                return 1
            last = error
            await asyncio.sleep(0.1)
    raise RuntimeError(f"cm-{i:03d} could not be created: {last!r}")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
