"""ClusterIP and NodePort allocation for Services, as upstream's ``ipallocator`` and ``portallocator``.

Both allocators are the same shape over a range of offsets (upstream's ``AllocationBitmap`` with the
``randomScanStrategyWithOffset``):

- ``allocate(value)`` reserves a value the user asked for (a *static* allocation); it fails with
  ``NotInRange`` or ``AlreadyAllocated``, worded as upstream
  (``provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12``).
- ``allocate_next()`` picks a free value at random (a *dynamic* allocation) from the seeded
  ``random.Random`` it was given. The range is split as upstream splits it: the lowest
  ``min(max(16, size/step), cap)`` offsets (step 16 and cap 256 for IPs, step 32 and cap 128 for ports)
  are handed out dynamically only once the upper part is full, so values people pick by hand (the
  ``kubernetes`` and DNS service IPs, low node ports) rarely collide with random ones. A full range raises
  ``RangeFull`` (``range is full``).
- ``release(value)`` returns a value; releasing a free or out-of-range value does nothing.
- ``rebuild(services)`` forgets everything and re-reserves what existing Service objects hold, as the
  repair controllers do, returning one ``RepairEvent`` (upstream's reason and message) per conflict.

The IP range excludes the network and broadcast addresses. The first usable address (10.96.0.1 by
default) belongs to the ``kubernetes`` Service: ``allocate_next`` never returns it, ``allocate`` grants
it once like any other address. Pure: no I/O, no clock, no global random state; not thread-safe (the
apiserver's actor owns one of each).

Left out: IPv6 and dual-stack (one IPv4 range; IPv6 addresses in Services are skipped by ``rebuild``),
the ``ServiceCIDR``/``IPAddress`` objects of the newer allocator, and persisting the bitmap as a
``RangeAllocation`` (``rebuild`` from the Services replaces it).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = "30000-32767"


class AllocationError(Exception):
    """A value could not be allocated; the message is upstream's."""


class AlreadyAllocated(AllocationError):
    pass


class NotInRange(AllocationError):
    pass


class RangeFull(AllocationError):
    def __init__(self) -> None:
        super().__init__("range is full")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RepairEvent:
    """A warning Event the repair controller records on a Service (``reason``, ``message``)."""

    namespace: str
    name: str
    reason: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AllocatorStats:
    """Upstream's gauges and counters (``kube_apiserver_clusterip_allocator_*``), by scope."""

    size: int
    used: int
    free: int
    allocations: Mapping[str, int]  # "static" / "dynamic" -> successful allocations
    errors: Mapping[str, int]  # "static" / "dynamic" -> failed allocations


class _Bitmap:
    """Offsets 0..size-1; a set of used offsets and upstream's two-band random scan."""

    def __init__(self, *, size: int, static_band: int, rng: random.Random, reserved: frozenset[int]):
        self.size = size
        self._band = static_band
        self._rng = rng
        self._reserved = reserved  # never handed out by next(), still grantable by take()
        self.used: set[int] = set()
        self.allocations = {"static": 0, "dynamic": 0}
        self.errors = {"static": 0, "dynamic": 0}

    def take(self, offset: int) -> bool:
        if offset in self.used:
            self.errors["static"] += 1
            return False
        self.used.add(offset)
        self.allocations["static"] += 1
        return True

    def next(self) -> int:
        held = len(self.used) + sum(1 for offset in self._reserved if offset not in self.used)
        if held < self.size:
            upper = self.size - self._band
            for start, length in ((self._band, upper), (0, self._band)):
                if length <= 0:
                    continue
                first = self._rng.randrange(length)
                for step in range(length):
                    offset = start + (first + step) % length
                    if offset not in self.used and offset not in self._reserved:
                        self.used.add(offset)
                        self.allocations["dynamic"] += 1
                        return offset
        self.errors["dynamic"] += 1
        raise RangeFull

    def stats(self) -> AllocatorStats:
        return AllocatorStats(
            size=self.size,
            used=len(self.used),
            free=self.size - len(self.used),
            allocations=dict(self.allocations),
            errors=dict(self.errors),
        )


def _static_band(size: int, *, step: int, cap: int) -> int:
    """Upstream's ``calculateRangeOffset``: ``min(max(16, size/step), cap)``, 0 for ranges of 16 or less."""
    if size <= 16:
        return 0
    return min(max(16, size // step), cap)


class ClusterIPAllocator:
    """ClusterIPs out of the service CIDR (IPv4)."""

    def __init__(self, *, rng: random.Random, cidr: str = DEFAULT_SERVICE_CIDR) -> None:
        network = ipaddress.ip_network(cidr, strict=False)
        if not isinstance(network, ipaddress.IPv4Network):
            raise ValueError(f"only IPv4 service CIDRs are supported, got {cidr}")
        self.cidr = network
        self._base = int(network.network_address) + 1  # offset 0 is the first usable address
        size = max(0, network.num_addresses - 2)
        self._bitmap = _Bitmap(
            size=size,
            static_band=_static_band(network.num_addresses, step=16, cap=256),
            rng=rng,
            reserved=frozenset({0} if size else ()),
        )

    @property
    def kubernetes_service_ip(self) -> str:
        """The first usable address, the ClusterIP of ``default/kubernetes``."""
        return str(ipaddress.IPv4Address(self._base))

    def allocate(self, ip: str) -> None:
        """Reserve ``ip``; ``NotInRange`` (also for text that is no IPv4 address) or ``AlreadyAllocated``."""
        offset = self._offset(ip)
        if offset is None:
            self._bitmap.errors["static"] += 1
            raise NotInRange(f"provided IP is not in the valid range. The range of valid IPs is {self.cidr}")
        if not self._bitmap.take(offset):
            raise AlreadyAllocated("provided IP is already allocated")

    def allocate_next(self) -> str:
        """A random free address, upper band first; ``RangeFull`` when none is left."""
        return str(ipaddress.IPv4Address(self._base + self._bitmap.next()))

    def release(self, ip: str) -> None:
        offset = self._offset(ip)
        if offset is not None:
            self._bitmap.used.discard(offset)

    def has(self, ip: str) -> bool:
        offset = self._offset(ip)
        return offset is not None and offset in self._bitmap.used

    def __iter__(self) -> Iterator[str]:
        """Allocated addresses in ascending order."""
        return (str(ipaddress.IPv4Address(self._base + o)) for o in sorted(self._bitmap.used))

    def stats(self) -> AllocatorStats:
        return self._bitmap.stats()

    def rebuild(self, services: Iterable[Mapping[str, Any]]) -> list[RepairEvent]:
        """Forget every allocation and reserve the ClusterIPs of ``services`` (the repair controller)."""
        self._bitmap.used.clear()
        events = []
        for service in services:
            spec = service.get("spec") or {}
            ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
            for ip in ips:
                if ip in ("", "None"):
                    continue
                try:
                    address = ipaddress.ip_address(ip)
                except ValueError:
                    events.append(_event(service, "ClusterIPNotValid", f"Cluster IP {ip} is not a valid IP"))
                    continue
                if address.version != 4:
                    continue
                try:
                    self.allocate(ip)
                except AlreadyAllocated:
                    message = f"Cluster IP {ip} was assigned to multiple services"
                    events.append(_event(service, "ClusterIPAlreadyAllocated", message))
                except NotInRange:
                    message = f"Cluster IP {ip} is not within the service CIDR {self.cidr}"
                    events.append(_event(service, "ClusterIPOutOfRange", message))
        return events

    def _offset(self, ip: str) -> int | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if address.version != 4 or address not in self.cidr:
            return None
        offset = int(address) - self._base
        return offset if 0 <= offset < self._bitmap.size else None


class NodePortAllocator:
    """Node ports out of ``--service-node-port-range`` (``30000-32767``)."""

    def __init__(self, *, rng: random.Random, port_range: str = DEFAULT_NODE_PORT_RANGE) -> None:
        self.base, self.last = _parse_port_range(port_range)
        self.port_range = f"{self.base}-{self.last}"
        size = self.last - self.base + 1
        self._bitmap = _Bitmap(
            size=size, static_band=_static_band(size, step=32, cap=128), rng=rng, reserved=frozenset()
        )

    def allocate(self, port: int) -> None:
        """Reserve ``port``; ``NotInRange`` or ``AlreadyAllocated``."""
        if not self.base <= port <= self.last:
            self._bitmap.errors["static"] += 1
            raise NotInRange(
                f"provided port is not in the valid range. The range of valid ports is {self.port_range}"
            )
        if not self._bitmap.take(port - self.base):
            raise AlreadyAllocated("provided port is already allocated")

    def allocate_next(self) -> int:
        """A random free port, upper band first; ``RangeFull`` when none is left."""
        return self.base + self._bitmap.next()

    def release(self, port: int) -> None:
        self._bitmap.used.discard(port - self.base)

    def has(self, port: int) -> bool:
        return (port - self.base) in self._bitmap.used

    def __iter__(self) -> Iterator[int]:
        """Allocated ports in ascending order."""
        return (self.base + offset for offset in sorted(self._bitmap.used))

    def stats(self) -> AllocatorStats:
        return self._bitmap.stats()

    def rebuild(self, services: Iterable[Mapping[str, Any]]) -> list[RepairEvent]:
        """Forget every allocation and reserve each Service's nodePorts and healthCheckNodePort.

        One port used by two ports of the same Service (TCP and UDP) is that Service's, not a conflict.
        """
        self._bitmap.used.clear()
        events = []
        for service in services:
            spec = service.get("spec") or {}
            ports = [p.get("nodePort") for p in spec.get("ports") or ()] + [spec.get("healthCheckNodePort")]
            for port in dict.fromkeys(p for p in ports if isinstance(p, int) and p):
                try:
                    self.allocate(port)
                except AlreadyAllocated:
                    message = f"Port {port} was assigned to multiple services"
                    events.append(_event(service, "PortAlreadyAllocated", message))
                except NotInRange:
                    message = f"Port {port} is not within the port range {self.port_range}"
                    events.append(_event(service, "PortOutOfRange", message))
        return events


def _parse_port_range(text: str) -> tuple[int, int]:
    """``30000-32767``, ``30000+2768`` (base and size) or one port, as ``net.ParsePortRange``."""
    try:
        if "+" in text:
            base, size = (int(part) for part in text.split("+", 1))
            low, high = base, base + size - 1
        elif "-" in text:
            low, high = (int(part) for part in text.split("-", 1))
        else:
            low = high = int(text)
    except ValueError:
        raise ValueError(f"unable to parse port range: {text}") from None
    if not 0 <= low <= high <= 65535:
        raise ValueError(f"unable to parse port range: {text}")
    return low, high


def _event(service: Mapping[str, Any], reason: str, problem: str) -> RepairEvent:
    metadata = service.get("metadata") or {}
    return RepairEvent(
        namespace=metadata.get("namespace") or "",
        name=metadata.get("name") or "",
        reason=reason,
        message=f"{problem}; please recreate service",
    )
