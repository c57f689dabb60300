"""The EndpointSlice controller: every Service with a selector gets discovery.k8s.io/v1 EndpointSlices.

As upstream's ``pkg/controller/endpointslice`` and its reconciler (``staging/src/k8s.io/endpointslice``):

- one endpoint per selected pod that has an IP and is not terminal (terminating pods included), with the
  pod's addresses of the slice's address type, ``conditions`` (``serving``: the pod is Ready;
  ``terminating``: it has a ``deletionTimestamp``; ``ready``: serving and not terminating, or always with
  ``publishNotReadyAddresses``), ``nodeName``, ``zone`` (the node's ``topology.kubernetes.io/zone``),
  ``hostname`` (as for Endpoints) and a ``targetRef`` to the pod. A pod whose node is not in the cache is
  left out (unless ``publishNotReadyAddresses``) and the Service is looked at again later;
- pods are grouped by their resolved ports; each group fills slices of at most ``maxEndpointsPerSlice``
  (100) endpoints, per address type of the Service (``ipFamilies``: IPv4 and/or IPv6);
- slices are named ``<service>-<random>`` (``generateName``), controlled by the Service (an ownerReference
  with ``controller: true``, so the garbage collector removes them with it), and labelled with the
  Service's labels, ``kubernetes.io/service-name``, ``endpointslice.kubernetes.io/managed-by:
  endpointslice-controller.k8s.io`` and ``service.kubernetes.io/headless`` for a headless Service;
- changes are minimal, as upstream's ``reconcileByPortMapping``: endpoints that stay keep their slice and
  place; changed ones are rewritten in place; a slice left empty is deleted; new endpoints first fill the
  slices already being updated (fullest first), then the one unchanged slice they fit best, then new
  slices; a create and a delete in the same pass become an update of the slice to delete. A Service
  without any endpoint keeps one empty placeholder slice. Slices of this controller not owned by the
  Service (one of an earlier Service of the same name) or of an address type it no longer has are deleted;
- creates are ``expect``-ed: while the key's expectations are unsatisfied the controller waits, so a lagging
  cache never makes it create a slice twice. Updates are guarded by ``resourceVersion``. A terminating
  Service gets no new slices. Services without a selector, or of type ExternalName, are left alone.

Keys are the Service's ``"namespace/name"``; the expectations' controller kind is ``Service``.
``keys_for`` enqueues a Service on its own events, on its pods' membership-relevant changes, on events of
slices this controller manages, and, for a node that appears, goes or changes zone, on behalf of its pods.

What a sync computes is kept for the Service's next sync: each pod's endpoint (``selection.Selection``, by
pod version, and by the zone of its node), each slice's endpoint keys (by slice version), the desired
endpoints of each address type (``_Desired``, in step with the pods that changed and the nodes they are
on) and the latest trigger stamp. A sync returns what computing everything anew would; comparing the
existing slices with the desired endpoints still reads every endpoint once.

Deviations: endpoints are taken in pod-name order where upstream pops them from a set (any order), so the
packing is deterministic; no topology hints or traffic distribution; the trigger-time annotation is the
approximation of ``endpoints.trigger_time``.

One module past 600 lines on purpose: what is kept between syncs (``_Pod``, ``_Desired``) is made of the
endpoints, keys and ports of the reconciler beside it.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from actors.controllers import endpoints as ep_util
from actors.controllers import framework, selection
from actors.controllers.framework import Action, Cache, Context, Obj, Result
from kube import meta

NAME = "endpointslice-controller"
MANAGED_BY = "endpointslice-controller.k8s.io"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_ZONE = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100
MISSING_NODE_RETRY = 10.0  # seconds before a Service with a pod on an unknown node is looked at again
_RESERVED = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, ep_util.HEADLESS)

PortsKey = tuple[tuple[str, int, str, str], ...]
EndpointKey = tuple[tuple[str, ...], str, str, str]


def address_types(service: Mapping[str, Any]) -> list[str]:
    """``getAddressTypesForService``: from ``ipFamilies``, else the cluster IP's family, else both."""
    spec = service.get("spec") or {}
    families = {f for f in spec.get("ipFamilies") or () if f in ("IPv4", "IPv6")}
    if families:
        return sorted(families)
    if ep_util.is_service_ip_set(service):
        return [ep_util.ip_family(spec["clusterIP"])]
    return ["IPv4", "IPv6"]


def endpoint_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """``getEndpointPorts``: each Service port the pod has, with its resolved number."""
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or ():
        number = ep_util.find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {"name": service_port.get("name") or "", "port": number}
        port["protocol"] = service_port.get("protocol") or "TCP"
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def ports_key(ports: Iterable[Mapping[str, Any]] | None) -> PortsKey:
    return tuple(
        sorted(
            (
                p.get("name") or "",
                int(p.get("port") or 0),
                p.get("protocol") or "",
                p.get("appProtocol") or "",
            )
            for p in ports or ()
        )
    )


def endpoint_key(endpoint: Mapping[str, Any]) -> EndpointKey:
    """What identifies an endpoint across syncs (upstream's ``hashEndpoint``)."""
    ref = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or ())),
        endpoint.get("hostname") or "",
        ref.get("namespace") or "",
        ref.get("name") or "",
    )


def pod_to_endpoint(
    pod: Mapping[str, Any], node: Mapping[str, Any] | None, service: Mapping[str, Any], address_type: str
) -> Obj:
    """``podToEndpoint``."""
    serving = ep_util.is_pod_ready(pod)
    terminating = framework.is_terminating(pod)
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    addresses = []
    for ip in ep_util.pod_ips(pod):
        try:
            parsed = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if ("IPv6" if parsed.version == 6 else "IPv4") == address_type:
            addresses.append(str(parsed))
    pmd = pod.get("metadata") or {}
    endpoint: Obj = {
        "addresses": addresses,
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {
            "kind": "Pod",
            "namespace": pmd.get("namespace") or "",
            "name": pmd.get("name") or "",
            "uid": pmd.get("uid") or "",
        },
    }
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = meta.labels_of(node).get(LABEL_ZONE) if node is not None else None
    if zone:
        endpoint["zone"] = zone
    if ep_util.should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    return endpoint


def slice_labels(current: Mapping[str, str], service: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    """``setEndpointSliceLabels``: the labels a slice must carry, and whether its non-reserved ones differ."""
    kept = {k: v for k, v in current.items() if k not in _RESERVED}
    wanted = {k: v for k, v in meta.labels_of(service).items() if k not in _RESERVED}
    changed = kept != wanted
    if not ep_util.is_service_ip_set(service):
        wanted[ep_util.HEADLESS] = ""
    wanted[LABEL_SERVICE_NAME] = (service.get("metadata") or {}).get("name") or ""
    wanted[LABEL_MANAGED_BY] = MANAGED_BY
    return wanted, changed


def owned_by(endpoint_slice: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    uid = (service.get("metadata") or {}).get("uid")
    return any(
        ref.get("uid") == uid and ref.get("kind") == "Service" and ref.get("apiVersion") == "v1"
        for ref in (endpoint_slice.get("metadata") or {}).get("ownerReferences") or ()
    )


def new_slice(service: Mapping[str, Any], ports: list[Obj], address_type: str) -> Obj:
    """``newEndpointSlice``: an empty slice for ``ports``, to be named by the apiserver."""
    smd = service.get("metadata") or {}
    labels, _ = slice_labels({}, service)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{smd.get('name') or ''}-",
            "namespace": smd.get("namespace") or "",
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": smd.get("name") or "",
                    "uid": smd.get("uid") or "",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": address_type,
        "endpoints": [],
        "ports": meta.deep_copy(ports),
    }


def _normal(endpoint: Mapping[str, Any]) -> Obj:
    """A stored endpoint as it compares with a desired one: addresses sorted, ``targetRef.resourceVersion``
    left out. Shares what it does not change with ``endpoint``: for comparing only."""
    out: Obj = dict(endpoint)
    out["addresses"] = sorted(endpoint.get("addresses") or ())
    ref = out.get("targetRef")
    if isinstance(ref, dict) and "resourceVersion" in ref:
        out["targetRef"] = {k: v for k, v in ref.items() if k != "resourceVersion"}
    return out


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _service_key(endpoint_slice: Mapping[str, Any] | None) -> str | None:
    """The key of the Service a slice this controller manages belongs to (None for another's slice)."""
    if endpoint_slice is None:
        return None
    labels = meta.labels_of(endpoint_slice)
    if labels.get(LABEL_MANAGED_BY) != MANAGED_BY or not labels.get(LABEL_SERVICE_NAME):
        return None
    namespace = (endpoint_slice.get("metadata") or {}).get("namespace") or ""
    return f"{namespace}/{labels[LABEL_SERVICE_NAME]}"


def _endpoints(obj: Mapping[str, Any]) -> list[Obj]:
    return list(obj.get("endpoints") or ())


def _copy_slice(endpoint_slice: Mapping[str, Any]) -> Obj:
    """A copy of a cached slice to rewrite, its ``endpoints`` left for the caller to set (not copied)."""
    return {k: None if k == "endpoints" else meta.deep_copy(v) for k, v in endpoint_slice.items()}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Pod:
    """What a selected pod brings to its Service's slices, for one version of each (a ``Member.value``)."""

    stamp: ep_util.Stamp | None  # endpoints.pod_stamp
    wanted: bool  # ShouldPodBeInEndpoints, terminating pods included
    ports: list[Obj]  # endpoint_ports: read only (new_slice copies them)
    ports_key: PortsKey
    node_name: str
    # (address type, zone of its node) -> its endpoint and the endpoint's key; None when it has no address
    # of that type. Endpoints are shared with later syncs: a write copies them.
    endpoints: dict[tuple[str, str | None], tuple[EndpointKey, Obj] | None]

    def endpoint(
        self, pod: Obj, service: Obj, address_type: str, node: Obj | None
    ) -> tuple[EndpointKey, Obj] | None:
        """``pod_to_endpoint`` of this pod's version, once per address type and zone (all it reads of the
        node), with its key; None when the pod has no address of the type."""
        zone = meta.labels_of(node).get(LABEL_ZONE) if node is not None else None
        at = (address_type, zone or None)
        if at not in self.endpoints:
            endpoint = pod_to_endpoint(pod, node, service, address_type)
            self.endpoints[at] = (endpoint_key(endpoint), endpoint) if endpoint["addresses"] else None
        return self.endpoints[at]


class _Plan:
    """The writes of one sync: slices to create (no name yet), to update (changed copies), to delete."""

    def __init__(self) -> None:
        self.create: list[Obj] = []
        self.update: list[Obj] = []
        self.delete: list[Obj] = []


def _pod(service: Obj, pod: Obj) -> _Pod:
    wanted = ep_util.should_pod_be_in_endpoints(pod, True)
    ports = endpoint_ports(service, pod) if wanted else []
    return _Pod(
        stamp=ep_util.pod_stamp(pod),
        wanted=wanted,
        ports=ports,
        ports_key=ports_key(ports),
        node_name=(pod.get("spec") or {}).get("nodeName") or "",
        endpoints={},
    )


NodeState = tuple[bool, str | None]  # what an endpoint reads of its pod's node: there at all, and its zone


@dataclasses.dataclass(frozen=True, slots=True)
class _Part:
    """What one member brings to the desired endpoints of one address type."""

    ports_key: PortsKey
    node_name: str
    node: NodeState
    missing: bool  # left out: its node is not in the cache (and not publishNotReadyAddresses)
    endpoint: tuple[EndpointKey, Obj] | None


class _Desired:
    """The desired endpoints of one address type (by ports, by endpoint key), kept in step with the
    Selection's changes and with the nodes they read, for a Service whose wanted pods share one set of
    ports (several sets make the order of the ports matter: the caller recomputes them instead, ``fits``
    False). Each change costs its pod; a sync checks each node its pods are on."""

    def __init__(self, service: Obj, address_type: str) -> None:
        self.service = service
        self.address_type = address_type
        self.publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        self.fits = True
        self.generation = -1  # the Selection generation it is in step with
        self.desired: dict[PortsKey, dict[EndpointKey, Obj]] = {}
        self.ports: dict[PortsKey, list[Obj]] = {}
        self.missing = 0  # members left out for their node
        self._count: dict[PortsKey, int] = {}  # wanted members by ports
        self._parts: dict[str, _Part] = {}  # member key -> its part
        self._nodes: dict[str, tuple[NodeState, int]] = {}  # node name -> its state and members on it

    def sync(
        self, pods: selection.Selection[_Pod], members: list[selection.Member[_Pod]], cache: Cache
    ) -> None:
        nodes = _Nodes(cache)
        in_step = self.fits and self.generation == pods.generation - 1
        if in_step and any(nodes.state(name) != state for name, (state, _) in self._nodes.items()):
            in_step = False  # a node came, went or changed zone: its pods' endpoints are different
        if in_step:
            for member in pods.removed:
                self._remove(member)
            for member in pods.added:
                self._add(member, nodes)
        if not in_step or not self.fits:
            self.fits = True
            self.desired, self.ports, self.missing = {}, {}, 0
            self._count, self._parts, self._nodes = {}, {}, {}
            for member in members:
                self._add(member, nodes)
        self.generation = pods.generation

    def _add(self, member: selection.Member[_Pod], nodes: _Nodes) -> None:
        pod = member.value
        if not pod.wanted:
            return
        pk, name = pod.ports_key, pod.node_name
        node = nodes.get(name)
        state = nodes.state(name)
        missing = node is None and not self.publish
        endpoint = None if missing else pod.endpoint(member.pod, self.service, self.address_type, node)
        part = self._parts[member.key] = _Part(pk, name, state, missing, endpoint)
        self._count[pk] = self._count.get(pk, 0) + 1
        known = self.ports.setdefault(pk, pod.ports)
        wanted = self.desired.setdefault(pk, {})
        if len(self._count) > 1 or known != pod.ports:
            self.fits = False
        self._nodes[name] = (state, self._nodes.get(name, (state, 0))[1] + 1)
        if part.missing:
            self.missing += 1
        elif endpoint is not None:
            if endpoint[0] in wanted:
                self.fits = False  # two pods, one endpoint: which one counts depends on their order
            wanted.setdefault(*endpoint)

    def _remove(self, member: selection.Member[_Pod]) -> None:
        part = self._parts.pop(member.key, None)
        if part is None:
            return  # not wanted
        pk = part.ports_key
        self._count[pk] -= 1
        if not self._count[pk]:
            del self._count[pk], self.ports[pk], self.desired[pk]
        state, count = self._nodes[part.node_name]
        if count > 1:
            self._nodes[part.node_name] = (state, count - 1)
        else:
            del self._nodes[part.node_name]
        if part.missing:
            self.missing -= 1
        elif part.endpoint is not None and pk in self.desired:
            wanted = self.desired[pk]
            if wanted.get(part.endpoint[0]) is part.endpoint[1]:
                del wanted[part.endpoint[0]]


class _Nodes:
    """The nodes of one sync, each looked up once."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        self._found: dict[str, Obj | None] = {}

    def get(self, name: str) -> Obj | None:
        if name not in self._found:
            self._found[name] = self._cache.get("nodes", None, name) if name else None
        return self._found[name]

    def state(self, name: str) -> NodeState:
        node = self.get(name)
        return (False, None) if node is None else (True, meta.labels_of(node).get(LABEL_ZONE) or None)


def _stamp_of(member: selection.Member[_Pod]) -> ep_util.Stamp | None:
    return member.value.stamp


@dataclasses.dataclass(slots=True)
class _Memo:
    """What the last sync of one Service computed, kept while the Service is the same version."""

    pods: selection.Selection[_Pod]
    latest: ep_util.LatestStamp[_Pod] = dataclasses.field(
        default_factory=lambda: ep_util.LatestStamp(_stamp_of)
    )
    # id(slice) -> (the slice, (endpoint_key, _normal) of each of its endpoints), for the last sync's slices
    slices: dict[int, tuple[Obj, list[tuple[EndpointKey, Obj]]]] = dataclasses.field(default_factory=dict)
    desired: dict[str, _Desired] = dataclasses.field(default_factory=dict)  # by address type

    def slice_endpoints(self, endpoint_slice: Obj) -> list[tuple[EndpointKey, Obj]]:
        entry = self.slices.get(id(endpoint_slice))
        if entry is None or entry[0] is not endpoint_slice:
            known = [(endpoint_key(e), _normal(e)) for e in _endpoints(endpoint_slice)]
            entry = self.slices[id(endpoint_slice)] = (endpoint_slice, known)
        return entry[1]


class EndpointSliceController:
    """See the module docstring; ``_memos`` keeps, per Service, what its last sync computed."""

    name = NAME
    resource = "services"
    kind = "Service"
    watches: tuple[str, ...] = ("services", "pods", "endpointslices", "nodes")

    def __init__(self, *, max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        self.max_endpoints = max_endpoints_per_slice
        self._memos: dict[str, _Memo] = {}  # Service key -> the last sync's

    # -- events ------------------------------------------------------------------------------------------

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        if resource == "services":
            return [framework.key_of(obj)]
        if resource == "pods":
            return ep_util.service_keys_for_pod(obj, old, cache)
        if resource == "endpointslices":
            return list(dict.fromkeys(k for k in (_service_key(obj), _service_key(old)) if k))
        if resource == "nodes":
            name = _name(obj)
            current = cache.get("nodes", None, name)
            gone = current is None or _uid(current) != _uid(obj)
            zone = meta.labels_of(obj).get(LABEL_ZONE)
            if old is not None and not gone and meta.labels_of(old).get(LABEL_ZONE) == zone:
                return []
            keys = []
            for pod in cache.by_index("pods", framework.NODE, name):
                namespace = (pod.get("metadata") or {}).get("namespace") or ""
                keys.extend(ep_util.services_for_pod(cache, namespace, meta.labels_of(pod)))
            return list(dict.fromkeys(keys))
        return []

    # -- reconcile -----------------------------------------------------------------------------------------

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result:
        namespace, name = framework.split_key(key)
        service = cache.get("services", namespace, name)
        selector = ep_util.service_selector(service) if service is not None else None
        if selector is None:
            self._memos.pop(key, None)
        if service is None:
            return Result()  # its slices go with it: the garbage collector follows their ownerReference
        if selector is None:
            return Result()
        if not ctx.pending.satisfied:
            return Result()  # slices it created are not in the cache yet: wait for them
        memo = self._memos.get(key)
        if memo is None or memo.pods.service is not service:
            pods = selection.Selection(service, selector, functools.partial(_pod, service))
            memo = self._memos[key] = _Memo(pods=pods)
        members = memo.pods.members(cache)
        slices = sorted(
            (
                s
                for s in cache.by_index("endpointslices", framework.LABEL, f"{LABEL_SERVICE_NAME}={name}")
                if (s.get("metadata") or {}).get("namespace") == namespace
                and meta.labels_of(s).get(LABEL_MANAGED_BY) == MANAGED_BY
                and not framework.is_terminating(s)
            ),
            key=_name,
        )
        known = memo.slices
        memo.slices = {id(s): known[id(s)] for s in slices if id(s) in known}  # forget the slices gone
        types = address_types(service)
        plan = _Plan()
        missing_node = False
        for address_type in types:
            existing = [s for s in slices if s.get("addressType") == address_type]
            missing_node |= self._by_address_type(service, members, existing, address_type, cache, plan, memo)
        plan.delete.extend(s for s in slices if s.get("addressType") not in types)
        stamp = ep_util.trigger_time_of(service, [memo.latest.of(memo.pods, members)])
        return self._finalize(service, plan, stamp, missing_node)

    def _by_address_type(
        self,
        service: Obj,
        members: list[selection.Member[_Pod]],
        existing: list[Obj],
        address_type: str,
        cache: Cache,
        plan: _Plan,
        memo: _Memo,
    ) -> bool:
        """``reconcileByAddressType``; True when a pod was left out because its node is unknown."""
        to_delete: list[Obj] = []
        existing_by_ports: dict[PortsKey, list[Obj]] = {}
        for s in existing:
            if owned_by(s, service):
                existing_by_ports.setdefault(ports_key(s.get("ports")), []).append(s)
            else:
                to_delete.append(s)
        kept = memo.desired.get(address_type)
        if kept is None:
            kept = memo.desired[address_type] = _Desired(service, address_type)
        kept.sync(memo.pods, members, cache)
        desired, desired_ports, missing_node = kept.desired, kept.ports, kept.missing > 0
        creates: list[Obj] = []
        updates: list[Obj] = []
        for pk, wanted in desired.items():
            c, u, d = self._by_port_mapping(
                service, existing_by_ports.get(pk, []), wanted, desired_ports[pk], address_type, memo
            )
            creates += c
            updates += u
            to_delete += d
        for pk, stale in existing_by_ports.items():
            if pk not in desired:
                to_delete += stale
        if len(existing) == len(to_delete) and not creates:
            placeholder = new_slice(service, [], address_type)
            if len(to_delete) == 1 and self._same_placeholder(to_delete[0], placeholder):
                to_delete = []
            else:
                creates.append(placeholder)
        # A create and a delete make an update of the slice that would be deleted (upstream's finalize).
        i = 0
        while i < len(to_delete) and creates:
            gone = to_delete[i]
            if gone.get("addressType") == address_type and owned_by(gone, service):
                body = creates.pop()
                md = body["metadata"]
                md.pop("generateName", None)
                md["name"] = _name(gone)
                md["resourceVersion"] = (gone.get("metadata") or {}).get("resourceVersion")
                updates.append(body)
                del to_delete[i]
            else:
                i += 1
        plan.create += creates
        plan.update += updates
        plan.delete += to_delete
        return missing_node

    def _by_port_mapping(
        self,
        service: Obj,
        existing: list[Obj],
        wanted: dict[EndpointKey, Obj],
        ports: list[Obj],
        address_type: str,
        memo: _Memo,
    ) -> tuple[list[Obj], list[Obj], list[Obj]]:
        """``reconcileByPortMapping``: (slices to create, to update, to delete) for one set of ports. The
        endpoints it places are the pods' remembered ones: ``_finalize`` copies them into what it writes."""
        wanted = dict(wanted)
        by_name: dict[str, Obj] = {}
        unchanged: list[str] = []
        to_update: list[str] = []
        to_delete: list[str] = []
        # 1. Keep the endpoints still wanted where they are, rewritten when they changed.
        for s in existing:
            name = _name(s)
            by_name[name] = s
            kept: list[Obj] = []
            rewritten = False
            current = memo.slice_endpoints(s)
            for key, normal in current:
                got = wanted.pop(key, None)
                if got is not None:
                    kept.append(got)
                    rewritten = rewritten or normal != got
            labels, labels_changed = slice_labels(meta.labels_of(s), service)
            if rewritten or len(kept) != len(current):
                if not kept:
                    to_delete.append(name)
                    continue
                copy = _copy_slice(s)
                copy["endpoints"] = kept
                copy["metadata"]["labels"] = labels
                by_name[name] = copy
                to_update.append(name)
            elif labels_changed:
                copy = meta.deep_copy(s)
                copy["endpoints"] = _endpoints(copy)
                copy["metadata"]["labels"] = labels
                by_name[name] = copy
                to_update.append(name)
            else:
                unchanged.append(name)
        # in pod order (the order ``wanted`` is in when built anew; kept in step, it is not)
        pending = collections.deque(e for _, e in sorted(wanted.items(), key=_pod_order))
        # 2. Fill the slices being updated anyway, fullest first.
        for name in sorted(to_update, key=lambda n: (-len(_endpoints(by_name[n])), n)):
            s = by_name[name]
            while pending and len(s["endpoints"]) < self.max_endpoints:
                s["endpoints"].append(pending.popleft())
        # 3. Then the unchanged slice they fit best, then new slices.
        creates: list[Obj] = []
        while pending:
            fill: Obj | None = None
            if len(pending) < self.max_endpoints and unchanged:
                fill = self._slice_to_fill([by_name[n] for n in unchanged], len(pending))
            if fill is None:
                fill = new_slice(service, ports, address_type)
            else:
                fill = meta.deep_copy(fill)
                fill["endpoints"] = _endpoints(fill)
                by_name[_name(fill)] = fill
            while pending and len(fill["endpoints"]) < self.max_endpoints:
                fill["endpoints"].append(pending.popleft())
            if _name(fill):
                to_update.append(_name(fill))
                unchanged.remove(_name(fill))
            else:
                creates.append(fill)
        return creates, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]

    def _slice_to_fill(self, slices: list[Obj], count: int) -> Obj | None:
        """``getSliceToFill``: the slice closest to full that still takes ``count`` more endpoints."""
        best: Obj | None = None
        closest = self.max_endpoints
        for s in slices:
            diff = self.max_endpoints - (count + len(_endpoints(s)))
            if 0 <= diff < closest:
                best, closest = s, diff
                if diff == 0:
                    break
        return best

    @staticmethod
    def _same_placeholder(existing: Obj, placeholder: Obj) -> bool:
        emd, pmd = existing.get("metadata") or {}, placeholder["metadata"]
        return (
            emd.get("namespace") == pmd["namespace"]
            and dict(meta.labels_of(existing)) == pmd["labels"]
            and existing.get("addressType") == placeholder["addressType"]
            and not existing.get("endpoints")
            and not existing.get("ports")
        )

    def _finalize(self, service: Obj, plan: _Plan, stamp: str | None, missing_node: bool) -> Result:
        namespace = (service.get("metadata") or {}).get("namespace") or None
        actions: list[Action] = []
        if not framework.is_terminating(service):  # no new slices the garbage collector would race with
            for body in plan.create:
                _own(body)
                _stamp(body, stamp)
                actions.append(
                    framework.Create(resource="endpointslices", namespace=namespace, body=body, expect=True)
                )
        for body in plan.update:
            _own(body)
            _stamp(body, stamp)
            actions.append(framework.Update(resource="endpointslices", body=body))
        for gone in plan.delete:
            actions.append(
                framework.Delete(
                    resource="endpointslices",
                    namespace=namespace,
                    name=_name(gone),
                    uid=_uid(gone) or None,
                )
            )
        return Result(actions=actions, requeue_after=MISSING_NODE_RETRY if missing_node else None)


def _stamp(body: Obj, stamp: str | None) -> None:
    """``addTriggerTimeAnnotation``."""
    annotations = dict(body["metadata"].get("annotations") or {})
    if stamp:
        annotations[ep_util.LAST_CHANGE_TRIGGER_TIME] = stamp
    else:
        annotations.pop(ep_util.LAST_CHANGE_TRIGGER_TIME, None)
    if annotations:
        body["metadata"]["annotations"] = annotations
    else:
        body["metadata"].pop("annotations", None)


def _pod_order(item: tuple[EndpointKey, Obj]) -> tuple[str, str]:
    return item[0][2], item[0][3]  # the endpoint's pod: namespace, name


def _own(body: Obj) -> None:
    """Copy a slice's endpoints, some of which are the pods' remembered ones, into the body to write."""
    body["endpoints"] = [meta.deep_copy(e) for e in body["endpoints"]]
