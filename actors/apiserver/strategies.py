"""Per-kind rules the REST verbs apply on create and update, as upstream's registry strategies do.

- Which kinds bump ``metadata.generation`` on spec changes (workloads and policy objects; pods, nodes and
  services do not, as in upstream 1.32).
- What a create resets: a kind with a ``status`` subresource starts with an empty status (a pod with
  ``phase: Pending`` and its QoS class; a namespace ``Active``).
- What an update keeps: the main resource cannot change ``status``; the ``status`` subresource changes only
  ``status`` (upstream's ``ResetObjectMetaForStatus``).
- The rest of upstream's create-time changes (a namespace's finalizer, a Job's generated selector) are
  ``kube.defaults.prepare_for_create``'s, which ``prepare_for_create`` calls.

Pure functions over Kubernetes-shaped dicts; they modify the object they are given (a copy the caller owns).
"""

from __future__ import annotations

from typing import Any

from kube import defaults, kinds, meta, quantity

GENERATION_RESOURCES = frozenset(
    {
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "replicationcontrollers",
        "jobs",
        "cronjobs",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "networkpolicies",
        "ingresses",
    }
)


def tracks_generation(kind: kinds.Kind) -> bool:
    return kind.resource in GENERATION_RESOURCES


def has_status(kind: kinds.Kind) -> bool:
    return "status" in kind.subresources


def spec_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether anything but metadata and status differs (what bumps the generation upstream)."""
    skip = ("metadata", "status", "apiVersion", "kind")
    return {k: v for k, v in new.items() if k not in skip} != {k: v for k, v in old.items() if k not in skip}


def prepare_for_create(kind: kinds.Kind, obj: dict[str, Any]) -> None:
    if tracks_generation(kind):
        obj["metadata"]["generation"] = 1
    if kind.group == "" and kind.resource == "pods":
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
    elif kind.group == "" and kind.resource == "persistentvolumeclaims":
        obj["status"] = {"phase": "Pending"}  # cleared, then defaulted as upstream defaults it on read
    elif has_status(kind) and kind.resource not in ("nodes", "namespaces"):
        obj.pop("status", None)
    defaults.prepare_for_create(kind, obj)


def prepare_for_update(kind: kinds.Kind, new: dict[str, Any], old: dict[str, Any]) -> None:
    """A main-resource update: status is kept from ``old`` (for kinds with a status subresource)."""
    if kind.group == "" and kind.resource == "namespaces":  # only ``finalize`` changes spec.finalizers
        new["spec"] = {
            **(new.get("spec") or {}),
            "finalizers": list((old.get("spec") or {}).get("finalizers") or []),
        }
    if has_status(kind) and "status" in old:
        new["status"] = old["status"]
    elif has_status(kind):
        new.pop("status", None)
    if tracks_generation(kind):
        generation = int(old["metadata"].get("generation") or 1)
        new["metadata"]["generation"] = generation + 1 if spec_changed(new, old) else generation


def prepare_for_finalize(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``namespaces/<name>/finalize``: ``old`` with the new ``spec.finalizers`` (a list of strings, checked by
    the caller) and nothing else."""
    finalize = meta.deep_copy(old)
    finalize.setdefault("spec", {})["finalizers"] = list((new.get("spec") or {}).get("finalizers") or [])
    return finalize


def prepare_for_status_update(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A ``/status`` update: everything but ``status`` (and the resourceVersion it was sent at) comes from
    ``old``."""
    result = {k: v for k, v in old.items() if k != "status"}
    if "status" in new:
        result["status"] = new["status"]
    result["metadata"] = {**old["metadata"], "resourceVersion": new["metadata"].get("resourceVersion", "")}
    return result


def qos_class(spec: dict[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, as upstream's ``GetPodQOS`` decides from cpu and memory."""
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    requests: dict[str, int] = {}
    limits: dict[str, int] = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        container_requests = {
            name: _milli(value) for name, value in (resources.get("requests") or {}).items() if name in _QOS
        }
        container_limits = {
            name: _milli(value) for name, value in (resources.get("limits") or {}).items() if name in _QOS
        }
        for name, value in container_requests.items():
            requests[name] = requests.get(name, 0) + value
        for name, value in container_limits.items():
            limits[name] = limits.get(name, 0) + value
        if set(container_limits) != set(_QOS):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(requests.get(name, limits[name]) == limits[name] for name in _QOS):
        return "Guaranteed"
    return "Burstable"


_QOS = ("cpu", "memory")


def _milli(value: Any) -> int:
    try:
        return quantity.Quantity.parse(str(value)).milli_value()
    except Exception:
        return 0
