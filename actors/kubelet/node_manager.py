"""``NodeManager``: Node objects in, kubelets out, as KWOK does it.

Creating a Node (``kubectl apply -f nodes.yaml``) starts an emulated kubelet, ``kubelet/<name>``, that
takes that Node over with the capacity, labels and taints the object declares (defaults where it declares
none: 4 cpu, 16Gi, 110 pods). A Node without ``spec.podCIDR`` gets the next free /24 of the cluster's pod
network first, as kube-controller-manager's node IPAM does, and one without an ``InternalIP`` the next free
address of the node network. Deleting a Node stops its kubelet, whoever started it.

It runs beside the actors, in the process that owns the actor system (as ``kubemu fault``'s desk does), and
looks at the Node list every ``period`` wall seconds; the list is served from the apiserver's watch cache.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

from actors.apiserver import status
from actors.kubelet.kubelet import Kubelet
from actors.kubelet.node import NodeConfig
from actors.runtime import errors as runtime_errors
from actors.runtime.actor import ActorState
from actors.runtime.system import ActorSystem
from network.cidr import CIDRAllocatorError, RangeAllocator

log = logging.getLogger("kubemu.node_manager")

NODE_NETWORK = ipaddress.ip_network("172.18.0.0/16")
"""The emulated nodes' addresses (data only: nothing binds them); the first node is .2, as kind's."""

_WELL_KNOWN = frozenset(
    {
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "kubernetes.io/arch",
        "kubernetes.io/hostname",
        "kubernetes.io/os",
    }
)


class NodeManager:
    """See the module docstring. ``cidrs`` is shared with whoever else hands out podCIDRs."""

    def __init__(
        self,
        system: ActorSystem,
        *,
        apiserver: str = "apiserver-0",
        cidrs: RangeAllocator | None = None,
        period: float = 1.0,
        kubelet: dict[str, Any] | None = None,
    ) -> None:
        """``kubelet``: keyword arguments for every kubelet it starts (image pulls, bad images)."""
        self.system = system
        self.apiserver = system.ref(apiserver)
        self.cidrs = cidrs or RangeAllocator()
        self.period = period
        self.kubelet_kwargs = dict(kubelet or {})
        self.kubelets: set[str] = set()  # node names with a kubelet we know of

    def adopt(self, node_name: str) -> None:
        """A kubelet started elsewhere (``kubemu up --nodes``): stopped like the others when its Node goes."""
        self.kubelets.add(node_name)

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except (runtime_errors.ActorError, status.ApiError) as error:
                log.info("node manager: postponed: %s", error)
            await asyncio.sleep(self.period)

    async def sync(self) -> None:
        """One look at the Node list: start kubelets for new Nodes, stop those whose Node is gone."""
        listed = await self.apiserver.call("list_objects", "nodes", None, resource_version="0")
        nodes = {n["metadata"]["name"]: n for n in listed["items"]}
        for name, node in nodes.items():
            cidr = (node.get("spec") or {}).get("podCIDR")
            if cidr and self.cidrs.get(name) is None:
                try:
                    self.cidrs.occupy(name, cidr)
                except CIDRAllocatorError as error:
                    log.warning("node manager: node %s: %s", name, error)
        used = {_internal_ip(n) for n in nodes.values()}
        for name, node in nodes.items():
            if name in self.kubelets or node["metadata"].get("deletionTimestamp"):
                continue
            await self._start(node, used)
        for name in sorted(self.kubelets - set(nodes)):
            await self._stop(name)

    async def _start(self, node: dict[str, Any], used: set[str]) -> None:
        name = node["metadata"]["name"]
        spec = node.get("spec") or {}
        cidr = spec.get("podCIDR") or ""
        if not cidr:
            try:
                cidr = self.cidrs.allocate(name)
            except CIDRAllocatorError as error:
                log.warning("node manager: no podCIDR for node %s: %s", name, error)
            else:
                patch = {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}
                await self.apiserver.call("patch", "nodes", None, name, "application/merge-patch+json", patch)
        address = _internal_ip(node)
        if not address:
            address = next(
                str(ip) for ip in NODE_NETWORK.hosts() if ip.packed[-1] >= 2 and str(ip) not in used
            )
            used.add(address)
        resources = {
            **((node.get("status") or {}).get("capacity") or {}),
            **((node.get("status") or {}).get("allocatable") or {}),
        }
        labels = {k: v for k, v in (node["metadata"].get("labels") or {}).items() if k not in _WELL_KNOWN}
        config = NodeConfig(
            name=name,
            cpu=str(resources.get("cpu", "4")),
            memory=str(resources.get("memory", "16Gi")),
            pods=int(resources.get("pods", 110)),
            labels=tuple(sorted(labels.items())),
            taints=tuple(tuple(sorted(t.items())) for t in spec.get("taints") or [] if isinstance(t, dict)),
            internal_ip=address,
            pod_cidr=cidr,
        )
        actor = f"kubelet/{name}"
        infos = {info.name: info for info in await self.system.actors()}
        if actor in infos and infos[actor].state not in (ActorState.DEAD, ActorState.STOPPED):
            self.kubelets.add(name)
            return
        await self.system.spawn(actor, Kubelet, kwargs={**self.kubelet_kwargs, "node": config})
        self.kubelets.add(name)
        log.info("node manager: started %s for node %s", actor, name)

    async def _stop(self, name: str) -> None:
        self.kubelets.discard(name)
        self.cidrs.release(name)
        try:
            await self.system.stop(f"kubelet/{name}")
        except runtime_errors.ActorError as error:
            log.info("node manager: kubelet/%s: %s", name, error)
        log.info("node manager: node %s deleted; its kubelet stopped", name)


def _internal_ip(node: dict[str, Any]) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if isinstance(address, dict) and address.get("type") == "InternalIP":
            return str(address.get("address") or "")
    return ""
