"""A pod's phase, conditions and QoS class from its containers, as upstream's kubelet computes them.

Pure functions over API-shaped container statuses (``state``, ``lastState``) and container specs: the
engine builds the container statuses, these give the rest of ``generateAPIPodStatus``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kube import meta


def phase(
    inits: Sequence[Mapping[str, Any]],
    apps: Sequence[Mapping[str, Any]],
    *,
    restart_policy: str,
    terminal: bool,
) -> str:
    """Upstream's ``getPhase``: ``terminal`` when the pod is done for good (deleted and stopped), so its
    containers will not restart whatever the policy."""
    pending_init = failed_init = 0
    for s in inits:
        state, last = s["state"], s["lastState"]
        if "running" in state:
            pending_init += 1
        elif "terminated" in state:
            failed_init += state["terminated"]["exitCode"] != 0
        elif "terminated" in last:
            failed_init += last["terminated"]["exitCode"] != 0
        else:
            pending_init += 1
    running = waiting = stopped = succeeded = 0
    for s in apps:
        state, last = s["state"], s["lastState"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif "terminated" in last:
            stopped += 1
        else:
            waiting += 1
    started_any = any("waiting" not in s["state"] or "terminated" in s["lastState"] for s in apps)
    if failed_init and restart_policy == "Never":
        return "Failed"
    if (pending_init and not started_any) or waiting:
        return "Pending"  # a container has not started yet
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if terminal:
        return "Succeeded" if stopped == succeeded else "Failed"
    if restart_policy == "Always":
        return "Running"  # restarting
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if restart_policy == "Never" else "Running"


def conditions(
    *,
    phase: str,
    accepted: float,
    initialized_at: float | None,
    incomplete: Sequence[str],
    ready: bool,
    ready_since: float,
    unready: Sequence[str],
) -> list[dict[str, Any]]:
    """The pod's conditions; ``ready_since`` is when readiness last changed (the pod was accepted, or a
    container became ready or unready)."""
    not_ready = ("ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]")
    if phase in ("Succeeded", "Failed"):
        not_ready = ("PodCompleted" if phase == "Succeeded" else "PodFailed", "")
    not_initialized = (
        "ContainersNotInitialized",
        f"containers with incomplete status: [{' '.join(incomplete)}]",
    )
    return [
        condition("PodReadyToStartContainers", True, accepted),
        condition("Initialized", initialized_at is not None, initialized_at or accepted, not_initialized),
        condition("Ready", ready, ready_since, not_ready),
        condition("ContainersReady", ready, ready_since, not_ready),
        condition("PodScheduled", True, accepted),
    ]


def condition(kind: str, ok: bool, since: float, otherwise: tuple[str, str] | None = None) -> dict[str, Any]:
    """A pod condition; ``otherwise`` is the (reason, message) it carries while False."""
    out: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": meta.now_rfc3339(since),
    }
    if not ok and otherwise is not None:
        out["reason"] = otherwise[0]
        if otherwise[1]:
            out["message"] = otherwise[1]
    return out


def qos_class(containers: Sequence[Mapping[str, Any]]) -> str:
    """Upstream's QoS class: Guaranteed when every container's cpu and memory requests equal their limits,
    BestEffort when nothing is requested or limited, Burstable otherwise."""
    requests_any, guaranteed = False, True
    for c in containers:
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            requests_any = True
        for name in ("cpu", "memory"):
            limit = limits.get(name)
            if limit is None or str(requests.get(name, limit)) != str(limit):
                guaranteed = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
