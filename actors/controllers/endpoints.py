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

import json
from collections.abc import Iterable, Mapping
from typing import Any

from actors.controllers import framework
from actors.controllers.framework import Cache, Context, Obj, Result
from kube import errors, labels, meta

NAME = "endpoint-controller"
MAX_CAPACITY = 1000  # maxCapacity: addresses one Endpoints holds
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
HEADLESS = "service.kubernetes.io/headless"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"

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
    chosen = sorted(((service.get("spec") or {}).get("selector") or {}).items())
    if chosen:
        key, value = chosen[0]
        candidates = cache.by_index("pods", framework.LABEL, f"{key}={value}")
    else:
        candidates = cache.objects("pods", namespace)
    pods = [
        pod
        for pod in candidates
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
    stamps = [(service.get("metadata") or {}).get("creationTimestamp")]
    for pod in pods:
        stamps.append((pod.get("metadata") or {}).get("creationTimestamp"))
        for condition in (pod.get("status") or {}).get("conditions") or ():
            if condition.get("type") == "Ready":
                stamps.append(condition.get("lastTransitionTime"))
    best: tuple[float, str] | None = None
    for stamp in stamps:
        if not isinstance(stamp, str) or not stamp:
            continue
        try:
            at = meta.parse_rfc3339(stamp)
        except errors.ValidationError:  # a malformed stamp is no trigger
            continue
        if best is None or at > best[0]:
            best = (at, stamp)
    return best[1] if best else None


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


def _address_key(address: Mapping[str, Any]) -> tuple[str, str]:
    return address.get("ip") or "", ((address.get("targetRef") or {}).get("uid")) or ""


def _port_key(port: Mapping[str, Any]) -> tuple[str, int, str, str]:
    return (
        port.get("name") or "",
        int(port.get("port") or 0),
        port.get("protocol") or "",
        port.get("appProtocol") or "",
    )


def desired_subsets(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The Service's subsets, repacked and sorted as ``RepackSubsets``."""
    spec = service.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    service_ports = [p for p in spec.get("ports") or () if isinstance(p, Mapping)]
    addresses: dict[tuple[str, str], Obj] = {}
    # port (None: the no-ports sentinel of a headless Service) -> address key -> ready
    by_port: dict[tuple[str, int, str, str] | None, dict[tuple[str, str], bool]] = {}
    ports: dict[tuple[str, int, str, str], Obj] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate):
            continue
        address = pod_address(service, pod)
        if address is None:
            continue
        key = _address_key(address)
        addresses.setdefault(key, address)
        ready = tolerate or is_pod_ready(pod)
        found: list[tuple[str, int, str, str] | None] = []
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
            ports[_port_key(port)] = port
            found.append(_port_key(port))
        for pk in found:
            seen = by_port.setdefault(pk, {})
            seen[key] = seen.get(key, True) and ready  # not ready wins
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[tuple[str, int, str, str] | None]] = {}
    for pk, members in by_port.items():
        groups.setdefault(tuple(sorted(members.items())), []).append(pk)
    subsets = []
    for members_key, port_keys in groups.items():
        subset: Obj = {}
        ready_ones = [addresses[k] for k, ok in members_key if ok]
        not_ready = [addresses[k] for k, ok in members_key if not ok]
        if ready_ones:
            subset["addresses"] = meta.deep_copy(ready_ones)
        if not_ready:
            subset["notReadyAddresses"] = meta.deep_copy(not_ready)
        real = sorted(pk for pk in port_keys if pk is not None)
        if real:
            subset["ports"] = [dict(ports[pk]) for pk in real]
        subsets.append(subset)
    return sorted(subsets, key=lambda s: json.dumps(s, sort_keys=True))


def truncate(subsets: list[Obj], max_capacity: int = MAX_CAPACITY) -> bool:
    """``truncateEndpoints``: keep ``max_capacity`` addresses, ready ones first, spread over the subsets in
    proportion; True when something was cut. Changes ``subsets`` in place."""
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
    normal = []
    for subset in current or ():
        subset = dict(subset)
        for field in ("addresses", "notReadyAddresses"):
            if subset.get(field):
                subset[field] = without_resource_versions(subset[field])
            else:
                subset.pop(field, None)
        if not subset.get("ports"):
            subset.pop("ports", None)
        normal.append(subset)
    return normal == desired


class EndpointsController:
    """See the module docstring."""

    name = NAME
    resource = "services"
    kind = "Service"
    watches: tuple[str, ...] = ("services", "pods", "endpoints")

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
        if service is None:
            if current is None or LEADER_ANNOTATION in meta.annotations_of(current):
                return Result()
            uid = (current.get("metadata") or {}).get("uid")
            return Result(
                actions=[framework.Delete(resource="endpoints", namespace=namespace, name=name, uid=uid)]
            )
        selector = service_selector(service)
        if selector is None:
            return Result()
        pods = selected_pods(cache, service, selector)
        subsets = desired_subsets(service, pods)
        truncated = truncate(subsets)
        service_labels = dict(meta.labels_of(service))
        if current is not None:
            current_labels = {k: v for k, v in meta.labels_of(current).items() if k != HEADLESS}
            if (
                _subsets_equal(current.get("subsets"), subsets)
                and current_labels == service_labels
                and (OVER_CAPACITY in meta.annotations_of(current)) == truncated
            ):
                return Result()
        body: Obj = (
            meta.deep_copy(current)
            if current is not None
            else {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace}}
        )
        md = body.setdefault("metadata", {})
        annotations = dict(md.get("annotations") or {})
        stamp = trigger_time(service, pods)
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
