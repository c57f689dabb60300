"""Admission the apiserver runs on create, after defaulting, as upstream's default plugins do.

- ``DefaultTolerationSeconds``: every pod tolerates ``node.kubernetes.io/not-ready:NoExecute`` and
  ``node.kubernetes.io/unreachable:NoExecute`` for 300 s unless it already says how it tolerates them, so a
  node that stops heartbeating has its pods evicted five minutes after it is tainted.
- ``Priority``: a pod's ``priorityClassName`` (or the ``globalDefault`` class when it names none) sets
  ``spec.priority`` and ``spec.preemptionPolicy``; an unknown class, or a priority or policy in the pod that
  disagrees with its class, is 403 in upstream's words; only one PriorityClass may be the global default.

``priority_classes`` gives the PriorityClasses as the watch cache holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from actors.apiserver import status
from kube import kinds

PriorityClasses = Callable[[], Iterable[dict[str, Any]]]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300


def admit_create(
    kind: kinds.Kind, obj: dict[str, Any], priority_classes: PriorityClasses = lambda: ()
) -> None:
    """Mutate ``obj`` (a fresh copy the caller owns) as the enabled admission plugins would, or raise the
    403 a plugin gives."""
    if kind.group == "" and kind.resource == "pods":
        _default_toleration_seconds(obj)
        _priority(kind, obj, priority_classes)
    elif kind.group == "scheduling.k8s.io" and kind.resource == "priorityclasses":
        _one_global_default(kind, obj, priority_classes)


def admit_update(
    kind: kinds.Kind, obj: dict[str, Any], priority_classes: PriorityClasses = lambda: ()
) -> None:
    if kind.group == "scheduling.k8s.io" and kind.resource == "priorityclasses":
        _one_global_default(kind, obj, priority_classes)


def _priority(kind: kinds.Kind, pod: dict[str, Any], priority_classes: PriorityClasses) -> None:
    spec = pod.setdefault("spec", {})
    name = spec.get("priorityClassName") or ""
    classes = {pc["metadata"]["name"]: pc for pc in priority_classes()}
    if name:
        found = classes.get(name)
        if found is None:
            raise status.forbidden(
                kind, pod["metadata"].get("name", ""), f"no PriorityClass with name {name} was found"
            )
    else:
        found = next((pc for pc in classes.values() if pc.get("globalDefault")), None)
        if found is not None:
            spec["priorityClassName"] = found["metadata"]["name"]
    value = int(found.get("value", 0)) if found is not None else 0
    policy = (found.get("preemptionPolicy") if found is not None else None) or "PreemptLowerPriority"
    given = spec.get("priority")
    if given is not None and given != value:
        raise status.forbidden(
            kind,
            pod["metadata"].get("name", ""),
            f"the integer value of priority ({given}) must not be provided in pod spec; priority admission "
            f"controller computed {value} from the given PriorityClass name",
        )
    given_policy = spec.get("preemptionPolicy")
    if given_policy is not None and given_policy != policy:
        raise status.forbidden(
            kind,
            pod["metadata"].get("name", ""),
            f"the string value of PreemptionPolicy ({given_policy}) must not be provided in pod spec; "
            f"priority admission controller computed {policy} from the given PriorityClass name",
        )
    spec["priority"] = value
    spec["preemptionPolicy"] = policy


def _one_global_default(kind: kinds.Kind, pc: dict[str, Any], priority_classes: PriorityClasses) -> None:
    if not pc.get("globalDefault"):
        return
    name = pc["metadata"].get("name", "")
    for other in priority_classes():
        if other.get("globalDefault") and other["metadata"]["name"] != name:
            raise status.forbidden(
                kind,
                name,
                f"PriorityClass {other['metadata']['name']} is already marked as default. "
                "Only one default can exist",
            )


def _default_toleration_seconds(pod: dict[str, Any]) -> None:
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations") or []
    for key in (NOT_READY, UNREACHABLE):
        if any(_tolerates_no_execute(t, key) for t in tolerations if isinstance(t, dict)):
            continue
        tolerations = [
            *tolerations,
            {
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            },
        ]
    spec["tolerations"] = tolerations


def _tolerates_no_execute(toleration: dict[str, Any], key: str) -> bool:
    """Whether a toleration already covers ``key``'s NoExecute taint (upstream checks the key and an
    empty or NoExecute effect; an empty key with Exists covers every key)."""
    effect = toleration.get("effect") or ""
    if effect not in ("", "NoExecute"):
        return False
    taint_key = toleration.get("key") or ""
    return taint_key == key or (not taint_key and toleration.get("operator") == "Exists")
