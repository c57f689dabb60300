"""Start a whole emulated cluster on an actor system: the one start-up ``kubemu up`` and the demo share.

``start`` spawns, in order: the store members (``store-0..M-1``, a Raft group on loopback), ``apiserver-0``,
the node lifecycle controller, ``scheduler``, ``kube-controller-manager`` (every controller of
``actors.controllers.registry``), ``metrics-server``, then a kubelet per configured node, and waits until
every Node is registered. It returns a ``ControlPlane`` that also runs the KWOK-style ``NodeManager`` (a
Node created later gets a kubelet) until ``stop()``.

Progress goes to ``say`` one line per step, as kind prints its steps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from typing import Any

from actors.addons.metrics_server import MetricsServer
from actors.apiserver.server import ApiServer
from actors.controllers.manager import ControllerManager
from actors.controllers.node_lifecycle import NodeLifecycleController
from actors.kubelet.kubelet import Kubelet
from actors.kubelet.node import NodeConfig
from actors.kubelet.node_manager import NodeManager
from actors.runtime.system import ActorSystem
from actors.scheduler.scheduler import spawn_scheduler
from consensus.client import wait_for_leader
from consensus.member import MemberInfo, StoreMember
from consensus.ports import free_loopback_ports
from consensus.raft import RaftConfig
from network.cidr import RangeAllocator


@dataclasses.dataclass(kw_only=True)
class ControlPlane:
    system: ActorSystem
    members: list[str]
    api_port: int
    node_manager: NodeManager
    _task: asyncio.Future[Any] | None = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def start(
    system: ActorSystem,
    *,
    data_dir: str,
    store_members: int = 3,
    api_port: int = 0,
    nodes: list[NodeConfig] = (),  # type: ignore[assignment]
    cidrs: RangeAllocator | None = None,
    peer_secret: str | None = None,
    store_client_port: int | None = None,
    pki_dir: str | None = None,
    apiserver: dict[str, Any] | None = None,
    controllers: list[str] | None = None,
    image_pull_seconds: float = 0.5,
    bad_images: tuple[str, ...] = (),
    scheduler_shards: int = 1,
    say: Callable[[str], None] = print,
) -> ControlPlane:
    """See the module docstring. ``apiserver`` adds keyword arguments for ``ApiServer`` (security);
    ``store_client_port`` opens each member's etcd-style client port (``pki_dir`` for its TLS)."""
    kubelet: dict[str, Any] = {"image_pull_seconds": image_pull_seconds, "bad_images": tuple(bad_images)}
    peers = free_loopback_ports(store_members)
    members = [
        MemberInfo(name=f"store-{i}", id=i + 1, peer_url=f"127.0.0.1:{port}") for i, port in enumerate(peers)
    ]
    for i, member in enumerate(members):
        raft = RaftConfig(peer_secret=peer_secret, data_dir=os.path.join(data_dir, member.name))
        kwargs: dict[str, Any] = {"members": members, "raft": raft}
        if store_client_port is not None:
            kwargs["client_port"] = store_client_port + i
            kwargs["pki_dir"] = pki_dir
        await system.spawn(member.name, StoreMember, kwargs=kwargs)
    names = [m.name for m in members]
    leader = await wait_for_leader(system.ref, names)
    say(f" ✓ store: {store_members} members, leader {leader}")
    home, others = control_hosts(system)
    api = await system.spawn(
        "apiserver-0",
        ApiServer,
        kwargs={"store_members": names, "port": api_port, **(apiserver or {})},
        host=home,
    )
    port = int((await api.call("info"))["port"])
    await system.spawn("node-lifecycle-controller", NodeLifecycleController)
    await spawn_scheduler(system, "scheduler", shards=scheduler_shards, host=home, shard_hosts=others)
    await system.spawn(
        "kube-controller-manager", ControllerManager, kwargs={"controllers": controllers or ["*"]}
    )
    await system.spawn("metrics-server", MetricsServer)
    say(" ✓ control plane: apiserver, scheduler, kube-controller-manager, node lifecycle, metrics-server")
    for config in nodes:
        await system.spawn(
            f"kubelet/{config.name}",
            Kubelet,
            kwargs={**kubelet, "node": config},
        )
    if nodes:
        await _registered(system, nodes, say)
    manager = NodeManager(system, cidrs=cidrs, kubelet=kubelet)
    for config in nodes:
        manager.adopt(config.name)
    plane = ControlPlane(system=system, members=names, api_port=port, node_manager=manager)
    plane._task = asyncio.ensure_future(manager.run())
    return plane


def control_hosts(system: ActorSystem) -> tuple[str | None, list[str | None]]:
    """Where the apiserver and the scheduler go, and where the scheduler's shards go. On Ray: the apiserver
    and the scheduler together on the first host (bindings are then local calls), the shards on the other
    hosts in turn (shard i on host i+1, so K shards on more than K hosts never share one), wrapping round to
    the first host only when there are more shards than other hosts. Locally: placement's choice."""
    hosts: list[str | None] = list(getattr(system, "host_ids", None) or [])
    if len(hosts) < 2:
        return None, []
    return hosts[0], [*hosts[1:], hosts[0]]


async def _registered(system: ActorSystem, nodes: list[NodeConfig], say: Callable[[str], None]) -> None:
    """Wait until every kubelet has registered its Node, with a progress line."""
    shown = -1
    while True:
        registered = sum(
            [bool((await system.ref(f"kubelet/{c.name}").call("stats"))["registered"]) for c in nodes]
        )
        if registered != shown:
            say(f" ✓ nodes: {registered}/{len(nodes)} registered")
            shown = registered
        if registered == len(nodes):
            return
        await asyncio.sleep(0.2)
