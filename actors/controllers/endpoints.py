"""The endpoints controller: every Service with a selector gets a core/v1 Endpoints of its name.

As upstream's ``pkg/controller/endpoint`` (``syncService``), from the informer cache:

- a pod selected by the Service is in its Endpoints when it has an IP, is not terminal (phase Succeeded or
  Failed) and is not terminating (``ShouldPodBeInEndpoints``; ``publishNotReadyAddresses`` keeps a
  terminating pod). Ready pods go to ``addresses``, the others to ``notReadyAddresses`` (all of them to
  ``addresses`` with ``publishNotReadyAddresses``). An address carries the pod's IP of the Service's IP
  family, ``nodeName``, a ``targetRef`` to the pod, and ``hostname`` when the pod's ``hostname`` is set and
  its ``subdomain`` names the Service;
- each Service port is resolved per pod (``targetPort`` a number, or the name of a container port of the
  same protocol); a pod without the named port is left out of that port. The result is repacked as
  ``RepackSubsets``: one subset per distinct set of addresses, its ports together; not-ready wins when a
  pod is both; addresses sorted by IP and uid, ports and subsets in a fixed order. A headless Service
  without ports gets its addresses in one subset without ports;
- labels are the Service's, plus ``service.kubernetes.io/headless`` for a headless Service; the annotation
  ``endpoints.kubernetes.io/last-change-trigger-time`` is set on each write; past 1000 addresses the
  Endpoints is truncated (ready ones kept first) and annotated ``endpoints.kubernetes.io/over-capacity:
  truncated``;
- the Endpoints is created when missing, updated (guarded by its ``resourceVersion``) when its subsets
  (truncated), labels (the headless one aside) or over-capacity annotation differ, and left alone when
  equal (a pod's ``resourceVersion`` in a ``targetRef`` does not count). A Service without a selector,
  or of type ExternalName, is left alone; the Endpoints of a deleted Service is deleted (not one marked
  as a leader-election lock).

Keys are the Service's ``"namespace/name"``. ``keys_for`` enqueues a Service on its own events, the
Services selecting a pod whose membership-relevant fields change (``GetServicesToUpdateOnPodChange``), and
the Service of a deleted Endpoints. A delete is recognised by the object's absence from the cache (the
informer updates its store before it notifies, as client-go's does).

This module also holds the pod and Service helpers the EndpointSlice controller shares.

Deviation: upstream's trigger time is the time of the changes since its last sync (a stateful tracker);
here it is the latest of the Service's creation and each selected pod's creation or Ready transition.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any, Generic, TypeVar

from actors.controllers import framework, selection
from actors.controllers.framework import Cache, Context, Obj, Result
from kube import errors, labels, meta

NAME = "endpoint-controller"
MAX_CAPACITY = 1000  # maxCapacity: addresses one Endpoints holds
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
HEADLESS = "service.kubernetes.io/headless"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"

Stamp = tuple[float, str]  # an RFC 3339 timestamp read as (seconds, text)
V = TypeVar("V")

# -- pods and services (shared with the EndpointSlice controller) ---------------------------------------


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def is_pod_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or () if isinstance(p, Mapping) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return [str(ip) for ip in ips]


def ip_family(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def should_pod_be_in_endpoints(pod: Mapping[str, Any], include_terminating: bool) -> bool:
    """``ShouldPodBeInEndpoints``: not terminal, has an IP, and not terminating unless asked."""
    if is_pod_terminal(pod) or not pod_ips(pod):
        return False
    return include_terminating or not framework.is_terminating(pod)


def should_set_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    pmd, smd = pod.get("metadata") or {}, service.get("metadata") or {}
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == smd.get("name")
        and pmd.get("namespace") == smd.get("namespace")
    )


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """``FindPort``: a numeric ``targetPort`` as is; a name looked up among the container ports of the same
    protocol (sidecars, init containers with ``restartPolicy: Always``, included); None when not found."""
    target = service_port.get("targetPort")
    if target is None or target == "" or target == 0:
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or ())
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for container in containers:
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def is_service_ip_set(service: Mapping[str, Any]) -> bool:
    cluster_ip = (service.get("spec") or {}).get("clusterIP")
    return bool(cluster_ip) and cluster_ip != "None"


def service_selector(service: Mapping[str, Any]) -> labels.Selector | None:
    """The Service's selector, None when it has none (or is ExternalName): no controller manages its
    endpoints. An empty map counts as none, as it does once the apiserver has stored it."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName" or not spec.get("selector"):
        return None
    return labels.from_set(spec["selector"])


def selected_pods(cache: Cache, service: Mapping[str, Any], selector: labels.Selector) -> list[Obj]:
    """The pods of the Service's namespace its selector matches, by name."""
    namespace = (service.get("metadata") or {}).get("namespace") or ""
    pods = [
        pod
        for pod in selection.candidates(cache, service)
        if ((pod.get("metadata") or {}).get("namespace") or "") == namespace
        and selector.matches(meta.labels_of(pod))
    ]
    return sorted(pods, key=lambda pod: (pod.get("metadata") or {}).get("name") or "")


def services_for_pod(cache: Cache, namespace: str, pod_labels: Mapping[str, str]) -> list[str]:
    """Keys of the Services of ``namespace`` whose selector matches ``pod_labels``."""
    keys = []
    for service in cache.objects("services", namespace or None):
        selector = service_selector(service)
        if selector is not None and selector.matches(pod_labels):
            keys.append(framework.key_of(service))
    return keys


def _pod_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[bool, bool]:
    """``podEndpointsChanged``: (the pod's endpoint changed, its Service membership may have changed)."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    membership = meta.labels_of(old) != meta.labels_of(new) or any(
        old_spec.get(f) != new_spec.get(f) for f in ("hostname", "subdomain")
    )
    changed = (
        framework.is_terminating(old) != framework.is_terminating(new)
        or is_pod_ready(old) != is_pod_ready(new)
        or pod_ips(old) != pod_ips(new)
        or is_pod_terminal(old) != is_pod_terminal(new)
        or old_spec.get("nodeName") != new_spec.get("nodeName")
    )
    return changed, membership


def service_keys_for_pod(pod: Obj, old: Obj | None, cache: Cache) -> list[str]:
    """The Services to sync for a pod event (``GetServicesToUpdateOnPodChange``)."""
    md = pod.get("metadata") or {}
    namespace = md.get("namespace") or ""
    current = cache.get("pods", namespace or None, md.get("name") or "")
    deleted = current is None or (current.get("metadata") or {}).get("uid") != md.get("uid")
    if old is None or deleted:
        return services_for_pod(cache, namespace, meta.labels_of(pod))
    changed, membership = _pod_changed(old, pod)
    if not changed and not membership:
        return []
    now = services_for_pod(cache, namespace, meta.labels_of(pod))
    if not membership:
        return now
    before = services_for_pod(cache, namespace, meta.labels_of(old))
    if changed:
        return list(dict.fromkeys([*now, *before]))
    return [k for k in now if k not in before] + [k for k in before if k not in now]


def trigger_time(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> str | None:
    """The latest of the Service's creation and each pod's creation or Ready transition (see Deviation)."""
    return trigger_time_of(service, map(pod_stamp, pods))


def trigger_time_of(service: Mapping[str, Any], pod_stamps: Iterable[Stamp | None]) -> str | None:
    """``trigger_time`` from the pods' ``pod_stamp``, in pod order: the text of the latest stamp, the first
    of equal ones (the Service's before any pod's)."""
    best = _stamp((service.get("metadata") or {}).get("creationTimestamp"))
    for at in pod_stamps:
        if at is not None and (best is None or at[0] > best[0]):
            best = at
    return best[1] if best else None


def pod_stamp(pod: Mapping[str, Any]) -> Stamp | None:
    """A pod's part of ``trigger_time``: the latest of its creation and Ready transitions (the first of equal
    ones), None when none is readable."""
    best = _stamp((pod.get("metadata") or {}).get("creationTimestamp"))
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            at = _stamp(condition.get("lastTransitionTime"))
            if at is not None and (best is None or at[0] > best[0]):
                best = at
    return best


class LatestStamp(Generic[V]):
    """The latest of a Selection's members' ``pod_stamp`` (the first by name of equal ones), kept in step with
    the Selection's changes: every member is looked at again only when the one holding it changed.
    ``stamp_of`` reads a member's ``pod_stamp``. Call ``of`` after every ``members`` call."""

    def __init__(self, stamp_of: Callable[[selection.Member[V]], Stamp | None]) -> None:
        self._stamp_of = stamp_of
        self._best: tuple[Stamp, str] | None = None  # the latest stamp, and its member's key
        self._generation = -1  # the Selection generation it is in step with

    def of(self, pods: selection.Selection[V], members: list[selection.Member[V]]) -> Stamp | None:
        """The latest stamp of ``members``, the Selection's latest."""
        best = self._best
        in_step = self._generation == pods.generation - 1
        if in_step and best is not None:
            in_step = all(m.key != best[1] for m in pods.removed)  # its holder is still there
        if in_step:
            for member in pods.added:
                self._offer(member)
        else:
            self._best = None
            for member in members:
                self._offer(member)
        self._generation = pods.generation
        return self._best[0] if self._best is not None else None

    def _offer(self, member: selection.Member[V]) -> None:
        at = self._stamp_of(member)
        best = self._best
        if at is not None and (
            best is None or at[0] > best[0][0] or (at[0] == best[0][0] and member.key < best[1])
        ):
            self._best = (at, member.key)


def _stamp(text: object) -> Stamp | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return meta.parse_rfc3339(text), text
    except errors.ValidationError:  # a malformed stamp is no trigger
        return None


def without_resource_versions(items: Any) -> Any:
    """A copy of addresses or endpoints with ``targetRef.resourceVersion`` dropped (it does not count)."""
    out = meta.deep_copy(items or [])
    for item in out:
        if isinstance(item, dict) and isinstance(item.get("targetRef"), dict):
            item["targetRef"].pop("resourceVersion", None)
    return out


# -- Endpoints subsets ------------------------------------------------------------------------------------


def pod_address(service: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj | None:
    """``podToEndpointAddressForService``: the pod's address of the Service's IP family, or None."""
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or []
    if families:
        family = families[0]
    elif is_service_ip_set(service):
        family = ip_family(spec["clusterIP"])
    else:
        ips = pod_ips(pod)
        family = ip_family(ips[0]) if ips else "IPv4"
    ip = next((ip for ip in pod_ips(pod) if ip_family(ip) == family), None)
    if ip is None:
        return None
    pmd = pod.get("metadata") or {}
    address: Obj = {
        "ip": ip,
        "targetRef": {
            "kind": "Pod",
            "namespace": pmd.get("namespace") or "",
            "name": pmd.get("name") or "",
            "uid": pmd.get("uid") or "",
        },
    }
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        address["nodeName"] = node_name
    if should_set_hostname(pod, service):
        address["hostname"] = pod["spec"]["hostname"]
    return address


AddressKey = tuple[str, str]  # (ip, pod uid): how RepackSubsets orders and tells addresses apart
PortKey = tuple[str, int, str, str]  # (name, port, protocol, appProtocol)


def _address_key(address: Mapping[str, Any]) -> AddressKey:
    return address.get("ip") or "", ((address.get("targetRef") or {}).get("uid")) or ""


def _port_key(port: Mapping[str, Any]) -> PortKey:
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


def pod_endpoint(service: Mapping[str, Any], pod: Mapping[str, Any]) -> PodEndpoint | None:
    """The pod's ``PodEndpoint`` for the Service; None when it is no endpoint of it."""
    spec = service.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    if not should_pod_be_in_endpoints(pod, tolerate):
        return None
    address = pod_address(service, pod)
    if address is None:
        return None
    service_ports = [p for p in spec.get("ports") or () if isinstance(p, Mapping)]
    found: list[PortKey | None] = []
    if not service_ports and not is_service_ip_set(service):
        found.append(None)
    for service_port in service_ports:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("name"):
            port["name"] = service_port["name"]
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        found.append(_port_key(port))
    return PodEndpoint(
        address=address, key=_address_key(address), ready=tolerate or is_pod_ready(pod), ports=tuple(found)
    )


def desired_subsets(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The Service's subsets, repacked and sorted as ``RepackSubsets``."""
    endpoints = (pod_endpoint(service, pod) for pod in pods)
    subsets, _ = repack([e for e in endpoints if e is not None])
    return own(subsets)


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


def _subsets_equal(current: Any, desired: list[Obj]) -> bool:
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


@dataclasses.dataclass(frozen=True, slots=True)
class _Pod:
    """What a selected pod brings to its Service's Endpoints (``selection.Member.value``)."""

    stamp: Stamp | None  # pod_stamp
    endpoint: PodEndpoint | None  # pod_endpoint


def _pod(service: Obj, pod: Obj) -> _Pod:
    return _Pod(stamp=pod_stamp(pod), endpoint=pod_endpoint(service, pod))


@dataclasses.dataclass(slots=True)
class _Memo:
    """What the last sync of one Service computed, kept while the Service is the same version."""

    pods: selection.Selection[_Pod]
    latest: LatestStamp[_Pod] = dataclasses.field(default_factory=lambda: LatestStamp(_stamp_of))
    packing: Packing | None = None  # in step with ``pods`` as of generation ``packed``
    packed: int = -1
    order: list[AddressKey] | None = None  # the address keys of the last repack, in order

    def subsets(self, members: list[selection.Member[_Pod]]) -> tuple[list[Obj], bool]:
        """The subsets of ``members`` (the Selection's latest) and whether they were truncated."""
        packing = self.packing
        if packing is not None and packing.fits and self.packed == self.pods.generation - 1:
            packing.change(_endpoints_of(self.pods.removed), _endpoints_of(self.pods.added))
        else:
            packing = self.packing = Packing(_endpoints_of(members))
        self.packed = self.pods.generation
        if packing.fits:
            return packing.subsets()
        subsets, self.order = repack(_endpoints_of(members), self.order)
        return subsets, truncate(subsets)


def _stamp_of(member: selection.Member[_Pod]) -> Stamp | None:
    return member.value.stamp


def _endpoints_of(members: Iterable[selection.Member[_Pod]]) -> Iterator[PodEndpoint]:
    return (m.value.endpoint for m in members if m.value.endpoint is not None)


class EndpointsController:
    """See the module docstring. What a sync computes about each pod is remembered (``Selection``) for the
    next sync of its Service; the result is the same as without it."""

    name = NAME
    resource = "services"
    kind = "Service"
    watches: tuple[str, ...] = ("services", "pods", "endpoints")

    def __init__(self) -> None:
        self._memos: dict[str, _Memo] = {}  # Service key -> the last sync's

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        if resource == "services":
            return [framework.key_of(obj)]
        if resource == "pods":
            return service_keys_for_pod(obj, old, cache)
        if resource == "endpoints":
            md = obj.get("metadata") or {}
            current = cache.get("endpoints", md.get("namespace") or None, md.get("name") or "")
            if current is None or (current.get("metadata") or {}).get("uid") != md.get("uid"):
                return [framework.key_of(obj)]  # deleted: recreate it if its Service wants it
        return []

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result:
        namespace, name = framework.split_key(key)
        service = cache.get("services", namespace, name)
        current = cache.get("endpoints", namespace, name)
        selector = service_selector(service) if service is not None else None
        if selector is None:
            self._memos.pop(key, None)
        if service is None:
            if current is None or LEADER_ANNOTATION in meta.annotations_of(current):
                return Result()
            uid = (current.get("metadata") or {}).get("uid")
            return Result(
                actions=[framework.Delete(resource="endpoints", namespace=namespace, name=name, uid=uid)]
            )
        if selector is None:
            return Result()
        memo = self._memos.get(key)
        if memo is None or memo.pods.service is not service:
            memo = self._memos[key] = _Memo(
                pods=selection.Selection(service, selector, partial(_pod, service))
            )
        members = memo.pods.members(cache)
        subsets, truncated = memo.subsets(members)
        latest = memo.latest.of(memo.pods, members)
        service_labels = dict(meta.labels_of(service))
        if current is not None:
            current_labels = {k: v for k, v in meta.labels_of(current).items() if k != HEADLESS}
            if (
                _subsets_equal(current.get("subsets"), subsets)
                and current_labels == service_labels
                and (OVER_CAPACITY in meta.annotations_of(current)) == truncated
            ):
                return Result()
        subsets = own(subsets)
        body: Obj = (
            {k: None if k == "subsets" else meta.deep_copy(v) for k, v in current.items()}  # subsets: below
            if current is not None
            else {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace}}
        )
        md = body.setdefault("metadata", {})
        annotations = dict(md.get("annotations") or {})
        stamp = trigger_time_of(service, [latest])
        if stamp:
            annotations[LAST_CHANGE_TRIGGER_TIME] = stamp
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
        if truncated:
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        new_labels = dict(service_labels)
        if not is_service_ip_set(service):
            new_labels[HEADLESS] = ""
        md["labels"] = new_labels
        md["annotations"] = annotations
        if subsets:
            body["subsets"] = subsets
        else:
            body.pop("subsets", None)
        if current is None:
            return Result(actions=[framework.Create(resource="endpoints", namespace=namespace, body=body)])
        return Result(actions=[framework.Update(resource="endpoints", body=body)])
