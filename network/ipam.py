"""Pod addresses on one node: the CNI ``host-local`` IPAM plugin for one range, kept in memory.

Upstream (containernetworking/plugins, ``plugins/ipam/host-local``) keeps one file per reserved address
under ``/var/lib/cni/networks/<network>/`` holding the container ID and interface name, plus a
``last_reserved_ip.<range>`` file. This class keeps the same facts in dictionaries. What is emulated:

* The range defaults of ``Range.Canonicalize``: the gateway is the subnet's first address (``.1``), the
  range runs from ``.1`` to the last address before the broadcast (IPv4) or the last address (IPv6), and
  the allocator skips the gateway, so the first pod of ``10.244.1.0/24`` gets ``10.244.1.2``. A subnet
  with fewer than two host bits is refused (``Network 10.244.1.0/31 too small to allocate from``).
  ``range_start``, ``range_end`` and ``gateway`` may be given as in the plugin's config (``rangeStart``,
  ``rangeEnd``, ``gateway``); as upstream they need only lie in the subnet, the end not before the start.
* Round-robin: allocation resumes after the last reserved address and wraps, so a just-released address
  is handed out again only after the rest of the range (a crash-looping pod does not get its old IP back).
  Releasing does not move the cursor, as upstream.
* Upstream's messages: ``no IP addresses available in range set: 10.244.1.1-10.244.1.254`` (the range is
  printed from its start, the gateway included), ``10.244.1.2 has been allocated to <id>, duplicate
  allocation is not allowed``, ``host-local: Failed to find address added by container <id>``, and the
  requested-address errors.
* ``release`` of an unknown container is a no-op, as the plugin's DEL.

Deviations: one range per allocator (a host-local range *set* of several ranges is several allocators to
the caller), no on-disk store, no ``resolvConf``, and the duplicate check also applies to a requested
address (upstream checks it only when it picks the address itself).
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class IPAMError(ValueError):
    """A bad range, or an allocation host-local refuses; the message is the plugin's."""


class NoAddressesAvailable(IPAMError):
    """Every address of the range is reserved."""


class DuplicateAllocation(IPAMError):
    """The container already holds an address on this interface in this range."""


class AddressNotFound(IPAMError):
    """The container holds no address on this interface (what ``check`` raises)."""


class Allocation(NamedTuple):
    """One reserved address: the pod IP, the subnet's gateway and the subnet's prefix length."""

    ip: str
    gateway: str
    prefix_length: int


def parse_subnet(text: str) -> _Network:
    """A CIDR such as ``10.244.1.0/24``; host bits are masked off, a bare address is refused."""
    try:
        if "/" not in text:
            raise ValueError(text)
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise IPAMError(f"invalid CIDR address: {text}") from None


def _parse_ip(text: str) -> _Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise IPAMError(f"invalid IP address: {text}") from None


class HostLocal:
    """host-local's allocator and store for one range of one node."""

    __slots__ = ("_by_key", "_end", "_gateway", "_last", "_owners", "_start", "_subnet")

    def __init__(
        self,
        subnet: str,
        *,
        range_start: str | None = None,
        range_end: str | None = None,
        gateway: str | None = None,
    ) -> None:
        network = parse_subnet(subnet)
        if network.prefixlen > network.max_prefixlen - 2:
            raise IPAMError(f"Network {network} too small to allocate from")
        self._subnet: _Network = network
        first = int(network.network_address)
        last = int(network.broadcast_address) - (1 if network.version == 4 else 0)
        self._gateway = first + 1 if gateway is None else int(self._in_subnet(gateway, "gateway "))
        self._start = first + 1 if range_start is None else int(self._in_subnet(range_start))
        self._end = last
        if range_end is not None:
            end = self._in_subnet(range_end)
            if int(end) < self._start:
                start = self._str(self._start)
                raise IPAMError(f"{end} is in network {network} but before start {start}")
            self._end = int(end)
        self._owners: dict[int, tuple[str, str]] = {}
        self._by_key: dict[tuple[str, str], int] = {}
        self._last: int | None = None

    @property
    def subnet(self) -> str:
        return str(self._subnet)

    @property
    def gateway(self) -> str:
        return self._str(self._gateway)

    @property
    def prefix_length(self) -> int:
        return self._subnet.prefixlen

    @property
    def range_set(self) -> str:
        """The range as upstream prints it: ``10.244.1.1-10.244.1.254``."""
        return f"{self._str(self._start)}-{self._str(self._end)}"

    @property
    def capacity(self) -> int:
        """How many pods the range can address (the gateway excluded)."""
        size = self._end - self._start + 1
        return size - (1 if self._start <= self._gateway <= self._end else 0)

    @property
    def last_reserved(self) -> str | None:
        """Where the next allocation resumes from (``last_reserved_ip.0``)."""
        return None if self._last is None else self._str(self._last)

    def __len__(self) -> int:
        return len(self._owners)

    def allocate(
        self, container_id: str, ifname: str = "eth0", *, requested: str | None = None
    ) -> Allocation:
        """Reserve an address for the container's interface: ``requested`` if given, else the next free."""
        key = (container_id, ifname)
        held = self._by_key.get(key)
        if held is not None:
            raise DuplicateAllocation(
                f"{self._str(held)} has been allocated to {container_id}, duplicate allocation is not allowed"
            )
        if requested is not None:
            ip = self._requested(requested)
        else:
            found = self._next_free()
            if found is None:
                raise NoAddressesAvailable(f"no IP addresses available in range set: {self.range_set}")
            ip = found
        self._owners[ip] = key
        self._by_key[key] = ip
        self._last = ip
        return Allocation(self._str(ip), self.gateway, self._subnet.prefixlen)

    def release(self, container_id: str, ifname: str = "eth0") -> str | None:
        """Free the container's address and return it; ``None`` (and no error) when it holds none."""
        ip = self._by_key.pop((container_id, ifname), None)
        if ip is None:
            return None
        del self._owners[ip]
        return self._str(ip)

    def check(self, container_id: str, ifname: str = "eth0") -> str:
        """The address the container's interface holds; ``AddressNotFound`` when it holds none."""
        ip = self._by_key.get((container_id, ifname))
        if ip is None:
            raise AddressNotFound(f"host-local: Failed to find address added by container {container_id}")
        return self._str(ip)

    def reserved(self) -> list[tuple[str, str]]:
        """Every reserved ``(ip, container_id)``, in address order."""
        return [(self._str(ip), self._owners[ip][0]) for ip in sorted(self._owners)]

    def _next_free(self) -> int | None:
        start, size = self._start, self._end - self._start + 1
        offset = 0
        if self._last is not None and start <= self._last <= self._end:
            offset = self._last - start + 1
        for step in range(size):
            ip = start + (offset + step) % size
            if ip != self._gateway and ip not in self._owners:
                return ip
        return None

    def _requested(self, text: str) -> int:
        address = _parse_ip(text)
        ip = int(address)
        if address.version != self._subnet.version or not self._start <= ip <= self._end:
            raise IPAMError(f"{address} not in range set {self.range_set}")
        if ip == self._gateway:
            raise IPAMError(f"requested ip {address} is subnet's gateway")
        if ip in self._owners:
            raise IPAMError(f"requested IP address {address} is not available in range set {self.range_set}")
        return ip

    def _in_subnet(self, text: str, what: str = "") -> _Address:
        address = _parse_ip(text)
        if address.version != self._subnet.version:
            raise IPAMError(f"IP {address} is not the same protocol as subnet {self._subnet}")
        if address not in self._subnet:
            raise IPAMError(f"{what}{address} not in network {self._subnet}")
        return address

    def _str(self, ip: int) -> str:
        return str(ipaddress.IPv4Address(ip) if self._subnet.version == 4 else ipaddress.IPv6Address(ip))
