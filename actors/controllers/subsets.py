"""An Endpoints object's ``subsets``: upstream's ``RepackSubsets`` and ``truncateEndpoints``, pure, and kept
in step with a Service's pods.

What each pod brings is a ``PodEndpoint`` (its address, whether it counts as ready, the Service ports it
has; ``endpoints.pod_endpoint`` makes it). ``repack`` packs them: one subset per distinct set of
addresses, its ports together, not-ready winning when a pod is both, addresses sorted by IP and pod uid,
ports and subsets in a fixed order. ``truncate`` keeps at most ``MAX_CAPACITY`` addresses, ready ones first.
``equal`` compares stored subsets with desired ones as the Endpoints controller does (empty lists absent, a
``targetRef.resourceVersion`` not counting) without copying them.

``Packing`` is ``repack`` then ``truncate`` kept in step with a ``selection.Selection``'s changes, for the
usual Service (no two pods with one address, all with the same ports): a change costs a bisect and the
subsets cost what they hold, not what was selected. Whatever packs them, the subsets are the same.

The subsets these functions return hold the endpoints' own address dicts (which a ``Selection`` keeps from
one sync to the next): ``own`` copies them before they are written.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from actors.controllers.framework import Obj
from kube import meta

MAX_CAPACITY = 1000  # maxCapacity: addresses one Endpoints holds


AddressKey = tuple[str, str]  # (ip, pod uid): how RepackSubsets orders and tells addresses apart
PortKey = tuple[str, int, str, str]  # (name, port, protocol, appProtocol)


def address_key(address: Mapping[str, Any]) -> AddressKey:
    """How ``RepackSubsets`` orders addresses and tells them apart: IP, then the pod's uid."""
    return address.get("ip") or "", ((address.get("targetRef") or {}).get("uid")) or ""


def port_key(port: Mapping[str, Any]) -> PortKey:
    """An EndpointPort as a key (every field of it: ``_port`` makes it back)."""
    return (
        port.get("name") or "",
        int(port.get("port") or 0),
        port.get("protocol") or "",
        port.get("appProtocol") or "",
    )


def _port(key: PortKey) -> Obj:
    """The EndpointPort a key stands for (a key holds every field of the port it was made from)."""
    name, number, protocol, app_protocol = key
    port: Obj = {"port": number, "protocol": protocol}
    if name:
        port["name"] = name
    if app_protocol:
        port["appProtocol"] = app_protocol
    return port


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PodEndpoint:
    """What one pod brings to a Service's subsets: its address, whether it counts as ready, and the Service
    ports it has (``None``: the port-less subset of a headless Service without ports)."""

    address: Obj
    key: AddressKey
    ready: bool
    ports: tuple[PortKey | None, ...]


def repack(
    endpoints: Iterable[PodEndpoint], order: list[AddressKey] | None = None
) -> tuple[list[Obj], list[AddressKey]]:
    """``RepackSubsets`` over the pods' endpoints (in pod order): one subset per distinct set of addresses,
    its ports together; not-ready wins when a pod is both; addresses sorted by IP and uid, ports and
    subsets in a fixed order. Returns the subsets, whose addresses are the endpoints' own dicts (``own``
    copies them), and every address key in order. ``order``: the keys of an earlier repack, in order; a
    set that changed little is sorted from it in about linear time."""
    addresses: dict[AddressKey, Obj] = {}
    # port (None: the no-ports sentinel of a headless Service) -> address key -> ready
    by_port: dict[PortKey | None, dict[AddressKey, bool]] = {}
    for endpoint in endpoints:
        key, ready = endpoint.key, endpoint.ready
        addresses.setdefault(key, endpoint.address)
        for pk in endpoint.ports:
            seen = by_port.get(pk)
            if seen is None:
                seen = by_port[pk] = {}
            seen[key] = seen.get(key, True) and ready  # not ready wins
    ordered = _sorted_keys(addresses, order)
    # the members of each distinct set, as sorted(members.items()) (keys are unique), and its ports
    groups: dict[tuple[tuple[AddressKey, bool], ...], list[PortKey | None]] = {}
    for pk, members in by_port.items():
        if len(members) == len(addresses):
            items = tuple([(k, members[k]) for k in ordered])
        else:
            items = tuple([(k, members[k]) for k in ordered if k in members])
        groups.setdefault(items, []).append(pk)
    subsets = []
    for members_key, port_keys in groups.items():
        subset: Obj = {}
        ready_ones = [addresses[k] for k, ok in members_key if ok]
        not_ready = [addresses[k] for k, ok in members_key if not ok]
        if ready_ones:
            subset["addresses"] = ready_ones
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        real = sorted(pk for pk in port_keys if pk is not None)
        if real:
            subset["ports"] = [_port(pk) for pk in real]
        subsets.append(subset)
    if len(subsets) > 1:
        subsets.sort(key=lambda s: json.dumps(s, sort_keys=True))
    return subsets, ordered


def _sorted_keys(addresses: Mapping[AddressKey, Any], order: list[AddressKey] | None) -> list[AddressKey]:
    if order is None:
        return sorted(addresses)
    if len(order) == len(addresses) and all(k in addresses for k in order):
        return order
    known = set(order)
    # mostly in order already: Timsort merges the kept run and the few new keys in about linear time
    return sorted([k for k in order if k in addresses] + [k for k in addresses if k not in known])


def own(subsets: list[Obj]) -> list[Obj]:
    """``subsets`` with copies of their addresses, so that nothing in them is shared (with another subset
    or a pod's cached endpoint). Changes ``subsets`` in place and returns it."""
    for subset in subsets:
        for field in ("addresses", "notReadyAddresses"):
            if field in subset:
                subset[field] = [meta.deep_copy(a) for a in subset[field]]
    return subsets


def truncate(subsets: list[Obj], max_capacity: int = MAX_CAPACITY) -> bool:
    """``truncateEndpoints``: keep ``max_capacity`` addresses, ready ones first, spread over the subsets in
    proportion; True when something was cut. Changes ``subsets`` in place (their lists, not the addresses)."""
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= max_capacity:
        return False
    truncate_ready = total_ready > max_capacity
    limit = max_capacity if truncate_ready else max_capacity - total_ready
    total = total_ready if truncate_ready else total_not_ready
    room = limit
    for subset in subsets:
        field = "addresses" if truncate_ready else "notReadyAddresses"
        items = subset.get(field) or []
        share = min(-(-len(items) * limit // total) if total else 0, room)
        subset[field] = items[:share]
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        room -= len(subset[field])
        if not subset[field]:
            subset.pop(field)
    subsets[:] = [s for s in subsets if s.get("addresses") or s.get("notReadyAddresses")]
    return True


def equal(current: Any, desired: list[Obj]) -> bool:
    """Whether the stored subsets are ``desired``: empty address lists and ports count as absent, and a
    ``targetRef.resourceVersion`` does not count. Reads without copying."""
    current = list(current or ())
    if len(current) != len(desired):
        return False
    for have, want in zip(current, desired, strict=True):
        fields = [k for k, v in have.items() if v or k not in ("addresses", "notReadyAddresses", "ports")]
        if len(fields) != len(want) or any(k not in want for k in fields):
            return False
        for field in fields:
            if field in ("addresses", "notReadyAddresses"):
                if not _addresses_equal(have[field], want[field]):
                    return False
            elif have[field] != want[field]:
                return False
    return True


def _addresses_equal(have: Any, want: list[Obj]) -> bool:
    if len(have) != len(want):
        return False
    for a, b in zip(have, want, strict=True):
        if a == b:
            continue
        ref = a.get("targetRef") if isinstance(a, dict) else None
        if not isinstance(ref, dict) or "resourceVersion" not in ref:
            return False
        if {**a, "targetRef": {k: v for k, v in ref.items() if k != "resourceVersion"}} != b:
            return False
    return True


class Packing:
    """``repack`` then ``truncate``, kept in step with a Selection's changes, for the usual Service: no two of
    its endpoints share an address key, and all have the same ports. Then the pod order (which only breaks
    ties between equal keys) does not matter and there is one subset or none, so each change costs a bisect
    and the subsets cost what they hold (``max_capacity`` addresses at most), not what was selected.
    ``fits`` is False once the endpoints are not of that shape: the caller repacks them instead."""

    def __init__(self, endpoints: Iterable[PodEndpoint]) -> None:
        self.fits = True
        self._endpoints: dict[AddressKey, PodEndpoint] = {}
        self._ports: dict[tuple[PortKey | None, ...], int] = {}  # ports -> endpoints that have them
        self._ready: list[AddressKey] = []  # in order
        self._not_ready: list[AddressKey] = []  # in order
        for endpoint in endpoints:
            self._add(endpoint, ordered=False)
        self._ready.sort()
        self._not_ready.sort()

    def change(self, removed: Iterable[PodEndpoint], added: Iterable[PodEndpoint]) -> None:
        for endpoint in removed:
            self._remove(endpoint)
        for endpoint in added:
            self._add(endpoint, ordered=True)

    def subsets(self, max_capacity: int = MAX_CAPACITY) -> tuple[list[Obj], bool]:
        """What ``repack`` and then ``truncate`` make: the subsets (their addresses the endpoints' own dicts)
        and whether something was cut."""
        assert self.fits
        if not self._endpoints or not self._ports:
            return [], False
        [ports] = self._ports
        real = sorted({pk for pk in ports if pk is not None})
        if not ports:
            return [], False
        ready, not_ready = len(self._ready), len(self._not_ready)
        truncated = ready + not_ready > max_capacity
        ready_keys = self._ready[:max_capacity] if truncated else self._ready
        if not truncated:
            not_ready_keys = self._not_ready
        elif ready > max_capacity:
            not_ready_keys = []
        else:
            not_ready_keys = self._not_ready[: max_capacity - ready]
        subset: Obj = {}
        if ready_keys:
            subset["addresses"] = [self._endpoints[k].address for k in ready_keys]
        if not_ready_keys:
            subset["notReadyAddresses"] = [self._endpoints[k].address for k in not_ready_keys]
        if real:
            subset["ports"] = [_port(pk) for pk in real]
        if "addresses" not in subset and "notReadyAddresses" not in subset:
            return [], truncated
        return [subset], truncated

    def _add(self, endpoint: PodEndpoint, *, ordered: bool) -> None:
        key = endpoint.key
        if key in self._endpoints:
            self.fits = False  # two pods, one address: which one counts depends on their order
            return
        self._endpoints[key] = endpoint
        self._ports[endpoint.ports] = self._ports.get(endpoint.ports, 0) + 1
        if len(self._ports) > 1:
            self.fits = False  # pods with different ports make several subsets
        keys = self._ready if endpoint.ready else self._not_ready
        if ordered:
            bisect.insort(keys, key)
        else:
            keys.append(key)

    def _remove(self, endpoint: PodEndpoint) -> None:
        key = endpoint.key
        if self._endpoints.get(key) is not endpoint:
            self.fits = False  # not the endpoint it holds: out of step
            return
        del self._endpoints[key]
        count = self._ports[endpoint.ports] - 1
        if count:
            self._ports[endpoint.ports] = count
        else:
            del self._ports[endpoint.ports]
        keys = self._ready if endpoint.ready else self._not_ready
        del keys[bisect.bisect_left(keys, key)]
