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

A sync costs what changed since the Service's last one, not the number of its pods: the pods' addresses
and stamps are kept from one sync to the next (``selection.Selection``, by pod version), and so are the
packed subsets (``subsets.Packing``) and the latest stamp (``LatestStamp``); what a sync returns is what
computing everything anew would. The subsets themselves (``RepackSubsets``, truncation) are ``subsets``'.

This module also holds the pod and Service helpers the EndpointSlice controller shares.

Deviation: upstream's trigger time is the time of the changes since its last sync (a stateful tracker);
here it is the latest of the Service's creation and each selected pod's creation or Ready transition.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from actors.controllers import framework, selection, subsets
from actors.controllers.framework import Cache, Context, Obj, Result
from actors.controllers.subsets import AddressKey, PodEndpoint
from kube import errors, labels, meta

NAME = "endpoint-controller"
MAX_CAPACITY = subsets.MAX_CAPACITY  # maxCapacity: addresses one Endpoints holds
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
    try:
        return _selector_of(tuple(spec["selector"].items()))
    except TypeError:  # a value that cannot be a dictionary key (not a label value either)
        return labels.from_set(spec["selector"])


@functools.lru_cache(maxsize=1024)
def _selector_of(items: tuple[tuple[str, str], ...]) -> labels.Selector:
    """``labels.from_set``, remembered: a pod event asks it of every Service of the pod's namespace."""
    return labels.from_set(dict(items))


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
    found: list[subsets.PortKey | None] = []
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
        found.append(subsets.port_key(port))
    return PodEndpoint(
        address=address,
        key=subsets.address_key(address),
        ready=tolerate or is_pod_ready(pod),
        ports=tuple(found),
    )


def desired_subsets(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The Service's subsets, repacked and sorted as ``RepackSubsets``."""
    endpoints = (pod_endpoint(service, pod) for pod in pods)
    packed, _ = subsets.repack([e for e in endpoints if e is not None])
    return subsets.own(packed)


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
    packing: subsets.Packing | None = None  # in step with ``pods`` as of generation ``packed``
    packed: int = -1
    order: list[AddressKey] | None = None  # the address keys of the last repack, in order

    def pack(self, members: list[selection.Member[_Pod]]) -> tuple[list[Obj], bool]:
        """The subsets of ``members`` (the Selection's latest) and whether they were truncated."""
        packing = self.packing
        if packing is not None and packing.fits and self.packed == self.pods.generation - 1:
            packing.change(_endpoints_of(self.pods.removed), _endpoints_of(self.pods.added))
        else:
            packing = self.packing = subsets.Packing(_endpoints_of(members))
        self.packed = self.pods.generation
        if packing.fits:
            return packing.subsets()
        packed, self.order = subsets.repack(_endpoints_of(members), self.order)
        return packed, subsets.truncate(packed)


def _stamp_of(member: selection.Member[_Pod]) -> Stamp | None:
    return member.value.stamp


def _endpoints_of(members: Iterable[selection.Member[_Pod]]) -> Iterator[PodEndpoint]:
    return (m.value.endpoint for m in members if m.value.endpoint is not None)


class EndpointsController:
    """See the module docstring; ``_memos`` keeps, per Service, what its last sync computed."""

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
                pods=selection.Selection(service, selector, functools.partial(_pod, service))
            )
        members = memo.pods.members(cache)
        wanted, truncated = memo.pack(members)
        latest = memo.latest.of(memo.pods, members)
        service_labels = dict(meta.labels_of(service))
        if current is not None:
            current_labels = {k: v for k, v in meta.labels_of(current).items() if k != HEADLESS}
            if (
                subsets.equal(current.get("subsets"), wanted)
                and current_labels == service_labels
                and (OVER_CAPACITY in meta.annotations_of(current)) == truncated
            ):
                return Result()
        wanted = subsets.own(wanted)
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
        if wanted:
            body["subsets"] = wanted
        else:
            body.pop("subsets", None)
        if current is None:
            return Result(actions=[framework.Create(resource="endpoints", namespace=namespace, body=body)])
        return Result(actions=[framework.Update(resource="endpoints", body=body)])
