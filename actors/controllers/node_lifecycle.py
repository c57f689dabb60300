"""The node lifecycle controller: nodes whose kubelet stopped heartbeating, their taints, their pods.

As upstream's ``pkg/controller/nodelifecycle`` with its defaults (``--node-monitor-period`` 5 s,
``--node-monitor-grace-period`` 40 s) and the NoExecute taint manager:

- a node is healthy while its heartbeat moves: the Lease's ``renewTime`` or the Ready condition's
  ``lastHeartbeatTime``. As upstream, the controller times the grace period by when *it* saw the heartbeat
  change (its own clock), not by the kubelet's timestamps;
- past the grace period every node condition becomes ``Unknown`` (reason ``NodeStatusUnknown``, "Kubelet
  stopped posting node status."), the node is tainted ``node.kubernetes.io/unreachable`` (NoSchedule and
  NoExecute, the latter with ``timeAdded``), its pods are marked not Ready, and a ``NodeNotReady`` event
  is recorded. A node reporting Ready=False gets ``node.kubernetes.io/not-ready`` instead. When the node is
  Ready again the taints go;
- a pod on a node with NoExecute taints that it does not tolerate is deleted at once; one that tolerates
  them for ``tolerationSeconds`` (every pod does, for 300 s, through DefaultTolerationSeconds admission)
  is deleted when that time has passed since the taint was added (event ``TaintManagerEviction``). The
  deletion is graceful: nobody finishes a pod on an unreachable node, so it stays Terminating, and a
  controller that owns it creates its replacement meanwhile, as upstream.

Deviation: the controller polls the apiserver's watch cache each monitor period (lists at
``resourceVersion=0``) instead of keeping informers; the controller-manager's informers replace this.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from actors.apiserver import status
from actors.apiserver.events import NORMAL, EventRecorder
from actors.runtime import errors as runtime_errors
from actors.runtime.actor import Actor
from consensus.client import StoreUnavailable
from consensus.member import RequestTimedOut
from consensus.raft import ProposalFailed
from kube import meta

log = logging.getLogger("kubemu.controllers.node_lifecycle")

MONITOR_PERIOD = 5.0
GRACE_PERIOD = 40.0
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
_TAINT_KEYS = (UNREACHABLE, NOT_READY)
# Failures a component waits out and retries (the apiserver passes the store's own on unchanged).
_RETRYABLE = (runtime_errors.ActorError, status.ApiError, StoreUnavailable, RequestTimedOut, ProposalFailed)


@dataclasses.dataclass(slots=True)
class _Health:
    heartbeat: tuple[str, str]  # (lease renewTime, Ready lastHeartbeatTime) as last seen
    seen_at: float  # when this controller saw it change


def ready_status(node: dict[str, Any]) -> str:
    """The Ready condition's status: "True", "False" or "Unknown" (no condition reads as Unknown)."""
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status") or "Unknown")
    return "Unknown"


def unknown_conditions(node: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """Every condition turned Unknown as upstream's controller does it (heartbeat times kept)."""
    stamp = meta.now_rfc3339(now)
    out = []
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "Unknown":
            out.append(condition)
            continue
        out.append(
            {
                **condition,
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastTransitionTime": stamp,
            }
        )
    return out


def wanted_taints(node: dict[str, Any], ready: str, now: float) -> list[dict[str, Any]]:
    """The node's taints with the lifecycle ones set for ``ready`` (kept with their ``timeAdded`` when
    already there)."""
    taints = [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]
    key = {"Unknown": UNREACHABLE, "False": NOT_READY}.get(ready)
    kept = [t for t in taints if t.get("key") not in _TAINT_KEYS or t.get("key") == key]
    if key is None:
        return kept
    for effect in ("NoSchedule", "NoExecute"):
        if not any(t.get("key") == key and t.get("effect") == effect for t in kept):
            taint: dict[str, Any] = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = meta.now_rfc3339(now)
            kept.append(taint)
    return kept


def eviction_time(pod: dict[str, Any], taints: list[dict[str, Any]]) -> float | None:
    """When the taint manager deletes ``pod`` (epoch seconds; ``0.0``: now), None if never: the earliest
    ``timeAdded + tolerationSeconds`` over the NoExecute taints, a taint it does not tolerate meaning now."""
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or [] if isinstance(t, dict)]
    when: float | None = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if _tolerates(t, taint)]
        if not matching:
            return 0.0
        bounded = [t["tolerationSeconds"] for t in matching if t.get("tolerationSeconds") is not None]
        if not bounded or len(bounded) < len(matching):
            continue  # tolerated forever by one of them
        added = meta.parse_rfc3339(taint["timeAdded"]) if taint.get("timeAdded") else 0.0
        at = added + max(0, min(int(s) for s in bounded))
        when = at if when is None else min(when, at)
    return when


def _tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    if (toleration.get("operator") or "Equal") == "Exists":
        return True
    return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")


class NodeLifecycleController(Actor):
    """See the module docstring."""

    def __init__(self, *, apiserver: str = "apiserver-0", grace_period: float = GRACE_PERIOD) -> None:
        self.apiserver = apiserver
        self.grace_period = grace_period
        self._health: dict[str, _Health] = {}
        self.counters = {"marked_unknown": 0, "evicted": 0, "errors": 0}

    def stats(self) -> dict[str, Any]:
        return {"nodes": len(self._health), **self.counters}

    async def run(self) -> None:
        api = self.ref(self.apiserver)
        self.events = EventRecorder(apiserver=api, component="node-controller", clock=self.clock)
        while True:
            try:
                await self.monitor()
            except _RETRYABLE as error:
                self.counters["errors"] += 1
                log.info("%s: node monitor postponed: %s", self.name, error)
            await self.sleep(MONITOR_PERIOD)

    async def monitor(self) -> None:
        """One pass over every node (``monitorNodeHealth``) and the pods on tainted ones."""
        api = self.ref(self.apiserver)
        now = self.clock.now()
        nodes = (await api.call("list_objects", "nodes", None, resource_version="0"))["items"]
        leases = await api.call("list_objects", "leases", "kube-node-lease", resource_version="0")
        renewed = {lease["metadata"]["name"]: lease for lease in leases["items"]}
        names = set()
        for node in nodes:
            name = node["metadata"]["name"]
            names.add(name)
            node = await self._check(api, node, renewed.get(name), now)
            await self._taint(api, node, now)
        for gone in set(self._health) - names:
            del self._health[gone]
        await self._evict(api, now)

    async def _check(
        self, api: Any, node: dict[str, Any], lease: dict[str, Any] | None, now: float
    ) -> dict[str, Any]:
        name = node["metadata"]["name"]
        ready: dict[str, Any] = next(
            (c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        beat = (
            str(((lease or {}).get("spec") or {}).get("renewTime") or ""),
            str(ready.get("lastHeartbeatTime") or ""),
        )
        health = self._health.get(name)
        if health is None or health.heartbeat != beat:
            self._health[name] = _Health(heartbeat=beat, seen_at=now)
            return node
        if now - health.seen_at <= self.grace_period or ready_status(node) == "Unknown":
            return node
        updated = {
            **node,
            "status": {**(node.get("status") or {}), "conditions": unknown_conditions(node, now)},
        }
        node = await api.call("update", "nodes", None, updated, subresource="status")
        self.counters["marked_unknown"] += 1
        log.info("%s: node %s stopped posting status", self.name, name)
        await self.events.event(node, NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        await self._mark_pods_not_ready(api, name, now)
        return node

    async def _taint(self, api: Any, node: dict[str, Any], now: float) -> None:
        current = (node.get("spec") or {}).get("taints") or []
        taints = wanted_taints(node, ready_status(node), now)
        if taints == current:
            return
        await api.call(
            "patch",
            "nodes",
            None,
            node["metadata"]["name"],
            "application/merge-patch+json",
            {"spec": {"taints": taints or None}},
        )

    async def _mark_pods_not_ready(self, api: Any, node: str, now: float) -> None:
        """Upstream's ``MarkPodsNotReady``: the Ready condition of every pod on the node turns False."""
        pods = await api.call("list_objects", "pods", None, field_selector=f"spec.nodeName={node}")
        for pod in pods["items"]:
            conditions = (pod.get("status") or {}).get("conditions") or []
            if not any(c.get("type") == "Ready" and c.get("status") != "False" for c in conditions):
                continue
            changed = [
                {**c, "status": "False", "lastTransitionTime": meta.now_rfc3339(now)}
                if c.get("type") == "Ready"
                else c
                for c in conditions
            ]
            md = pod["metadata"]
            try:
                await api.call(
                    "patch",
                    "pods",
                    md["namespace"],
                    md["name"],
                    "application/merge-patch+json",
                    {"status": {"conditions": changed}},
                    subresource="status",
                )
            except status.ApiError as error:
                if error.reason != "NotFound":
                    raise

    async def _evict(self, api: Any, now: float) -> None:
        """The NoExecute taint manager: delete the pods whose tolerations ran out."""
        nodes = (await api.call("list_objects", "nodes", None, resource_version="0"))["items"]
        tainted = {
            n["metadata"]["name"]: [
                t for t in (n.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"
            ]
            for n in nodes
        }
        tainted = {name: taints for name, taints in tainted.items() if taints}
        if not tainted:
            return
        pods = (await api.call("list_objects", "pods", None, resource_version="0"))["items"]
        for pod in pods:
            md = pod["metadata"]
            taints = tainted.get((pod.get("spec") or {}).get("nodeName") or "")
            if not taints or md.get("deletionTimestamp"):
                continue
            when = eviction_time(pod, taints)
            if when is None or when > now:
                continue
            try:
                await api.call("delete", "pods", md["namespace"], md["name"])
            except status.ApiError as error:
                if error.reason != "NotFound":
                    raise
                continue
            self.counters["evicted"] += 1
            await self.events.event(
                pod,
                NORMAL,
                "TaintManagerEviction",
                f"Marking for deletion Pod {md['namespace']}/{md['name']}",
            )
