"""The coordinator's side of a sharded scheduler: what it sends to its shards and how it picks from their
answers.

Why shard: a scheduling cycle costs O(nodes) in filters and scores, and one process does it for every pod.
With ``Scheduler(shards=K)`` the ``scheduler`` actor stays the one Lease holder and the only writer, and K
``SchedulerShard`` actors (``actors.scheduler.shards``) on other hosts do that O(nodes) part in parallel,
each over its own part of the nodes. K <= 1 is the in-process path, unchanged.

The design, and why each choice:

- **Ownership.** Node ``n`` belongs to shard ``owner(n, K)``, a stable hash of its name (not the process's
  salted ``hash``), so every incarnation agrees.
- **One informer, forwarded.** The coordinator keeps its informers and its whole cache (``NodeTable``,
  ``NodePods``, the queue) as the one-worker scheduler does, and forwards to each shard, as ``Change``s in the
  next ``step``, what changed on that shard's nodes: node updates (only when what the table reads of a
  node changed: heartbeats are not sent), pods bound there, pods gone, forgotten assumptions. Shards
  therefore see changes in the coordinator's order, the apiserver fans each event out once (K watches over
  all pods would send every pod event K times across hosts), and pods travel slimmed to what the scheduler
  reads (``slim_pod``). Keeping the whole cache costs the coordinator O(1) per event, not O(nodes) per pod.
- **Routing.** A pod whose filters or scores read more than one node at a time is scheduled by the
  coordinator on its whole cache, exactly as one worker (``needs_whole_cluster``): pod (anti-)affinity of its
  own or of existing pods that select it, topology spread constraints, PodTopologySpread's system default
  spreading (every pod owned by a ReplicaSet, StatefulSet or ReplicationController: zone counts and score
  normalisation span all nodes), preferred node affinity and untolerated ``PreferNoSchedule`` taints (their
  scores are normalised over all feasible nodes), and a nominated pod. Every other pod is *shardable*: its
  filters are per node and its scores per node with nothing normalised, so a node's total is the same
  whichever shard computes it, and comparing shards' best totals picks what one worker would have picked.
- **A batch, one round trip.** Each turn pops up to ``CYCLES_PER_TURN`` pods, schedules the routed ones
  here, and sends every shard one ``step``: the pending changes, the reservations picked in the previous
  turn (and this turn's routed pods), then the shardable pods. Shards evaluate in parallel; each returns per
  pod its best node, its total and how many nodes tied with it, holding that node for the rest of the batch
  so that later pods see it taken.
- **Global pick** (``pick``): per pod the highest total over shards; a tie between shards is drawn with the
  seeded generator in proportion to how many nodes tied on each, which is upstream's uniform draw among all
  tied nodes. The pod is assumed on the coordinator's cache at once and reserved on the owner in the next
  step; only a granted reservation starts the binding (``pods/binding``, in the background, as one worker).
- **Optimistic, never overcommitted.** A reservation is granted only if the pod still fits the node on the
  owner's table, the one authority for that node; a refused one forgets the assumption and the pod goes
  into the next batch. A binding that fails forgets the assumption on both sides.
- **Every feasible pod placed.** A shard's holds for pods picked on another shard make its later answers in
  the batch pessimistic; a pod that no shard fits is taken as unschedulable only when no shard answered it
  from such stale holds, else it is tried again first in the next batch (where the first pod sees no
  holds). No node fitting anywhere gives upstream's message over all nodes, merged from the shards'
  per-reason counts (``fit_error``); when preemption might help (a lower-priority pod exists and the pod may
  preempt), the pod is scheduled on the whole cache instead, which runs ``DefaultPreemption`` as one worker.
- **Search size.** Each shard stops after its share of upstream's ``numFeasibleNodesToFind`` for all nodes,
  in proportion to its nodes (``shards.share``), from its own rotating start: about as many nodes are
  scored as with one worker, not K times as many.
- **Failures.** A shard that cannot answer, or answers ``ShardOutOfSync`` (it restarted with an empty
  cache), crashes the coordinator; its restart ``reset``s every shard with a new epoch and sends its cache
  again from a fresh list, as a restarted kube-scheduler rebuilds its cache.

Costs and deviations: routed pods do not scale out (with most real workloads owned by ReplicaSets that is
most pods: spreading across shards would need a second round trip for the domain counts and the score
normalisation); the coordinator still pays O(1) per event and per pod for its cache; within a batch a
shard's answers can be pessimistic (it held nodes for pods that went elsewhere), which can change a score
tie but never feasibility; a reservation checks resources only (taints or labels changed meanwhile are
informer lag, as upstream's assume).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from actors.runtime.ref import ActorRef
from actors.scheduler import core
from actors.scheduler.plugins import PodInfo, Toleration, untolerated_taints
from actors.scheduler.shards import FORGET, NODE, NODE_GONE, POD, POD_GONE, Change, Reservation, Verdict
from actors.scheduler.table import (
    NO_AFFINITY,
    PREFER_NO_SCHEDULE,
    PREFERRED_AFFINITY,
    PREFERRED_ANTI_AFFINITY,
    REQUIRED_AFFINITY,
    REQUIRED_ANTI_AFFINITY,
    NodeTable,
    controller_uid,
    parse_pod_affinity,
    pod_namespace,
)

_POD_META = ("name", "namespace", "uid", "labels", "ownerReferences", "deletionTimestamp")
_POD_SPEC = (
    "nodeName",
    "nodeSelector",
    "affinity",
    "tolerations",
    "topologySpreadConstraints",
    "priority",
    "preemptionPolicy",
    "overhead",
    "schedulerName",
)
_POD_STATUS = ("phase", "nominatedNodeName", "startTime")


def shard_name(scheduler: str, index: int) -> str:
    """The name of shard ``index`` of the scheduler actor ``scheduler``."""
    return f"{scheduler}-shard-{index}"


def owner(node_name: str, count: int) -> int:
    """The shard that owns a node: a stable hash of its name modulo the shard count."""
    digest = hashlib.blake2b(node_name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def slim_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """What the scheduler reads of a pod (requests, labels, owners, affinity, tolerations, spreading,
    priority, node), so that less travels to the shards; the parts kept are the same objects."""
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] = pod.get("spec") or {}
    status: Mapping[str, Any] = pod.get("status") or {}
    kept: dict[str, Any] = {k: spec[k] for k in _POD_SPEC if k in spec}
    kept["containers"] = [{"resources": c.get("resources") or {}} for c in spec.get("containers") or ()]
    inits = spec.get("initContainers")
    if inits:
        kept["initContainers"] = [
            {"resources": c.get("resources") or {}, "restartPolicy": c.get("restartPolicy")} for c in inits
        ]
    slim: dict[str, Any] = {"metadata": {k: meta[k] for k in _POD_META if k in meta}, "spec": kept}
    if any(k in status for k in _POD_STATUS):
        slim["status"] = {k: status[k] for k in _POD_STATUS if k in status}
    return slim


def pod_identity(pod: Mapping[str, Any]) -> dict[str, Any]:
    """Only what names a pod in a table (``table.pod_key``): enough to remove or forget it."""
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in ("uid", "namespace", "name") if k in meta}}


def slim_node(node: Mapping[str, Any]) -> dict[str, Any]:
    """What the table reads of a node: name, labels, taints, ``unschedulable``, allocatable and capacity."""
    meta: Mapping[str, Any] = node.get("metadata") or {}
    spec: Mapping[str, Any] = node.get("spec") or {}
    status: Mapping[str, Any] = node.get("status") or {}
    return {
        "metadata": {"name": meta.get("name"), "labels": meta.get("labels") or {}},
        "spec": {"unschedulable": spec.get("unschedulable"), "taints": spec.get("taints") or []},
        "status": {k: status[k] for k in ("allocatable", "capacity") if k in status},
    }


def needs_whole_cluster(
    pod: Mapping[str, Any], table: NodeTable, namespace_labels: Mapping[str, Mapping[str, str]] | None = None
) -> bool:
    """Whether a pod's filters or scores read more than one node at a time (see the module docstring), so
    that only the whole cache can decide it; ``table`` is the whole cache. Read off the pod as it is (no
    ``PodInfo``: this runs for every pod on the coordinator), erring towards the whole cache."""
    spec: Mapping[str, Any] = pod.get("spec") or {}
    if (pod.get("status") or {}).get("nominatedNodeName") or spec.get("topologySpreadConstraints"):
        return True
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    if node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"):
        return True
    if controller_uid(pod) is not None or parse_pod_affinity(pod) != NO_AFFINITY:
        return True
    namespace = pod_namespace(pod)
    pod_labels = {str(k): str(v) for k, v in ((pod.get("metadata") or {}).get("labels") or {}).items()}
    labelled = (namespace_labels or {}).get(namespace) or {}
    for kind in (REQUIRED_AFFINITY, REQUIRED_ANTI_AFFINITY, PREFERRED_AFFINITY, PREFERRED_ANTI_AFFINITY):
        if table.has_affinity(kind):
            for usage in table.affinity_candidates(kind, pod_labels):
                term = usage.term
                # shards read namespaces as unlabelled: a term matching either way decides here
                if term.matches(namespace, pod_labels, labelled) or term.matches(namespace, pod_labels, None):
                    return True
    if PREFER_NO_SCHEDULE in table.taint_effects:
        tolerations = [Toleration.from_dict(t) for t in spec.get("tolerations") or ()]
        prefer = [t for t in tolerations if t.effect in ("", PREFER_NO_SCHEDULE)]
        if untolerated_taints(table, prefer, {PREFER_NO_SCHEDULE}).any():
            return True
    return False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pick:
    """The global decision for one shardable pod: ``node`` on shard ``shard``; or ``retry`` (an answer came
    from stale holds); or no node fits anywhere, with ``message`` over all nodes and ``resolvable`` the
    nodes where preemption might help."""

    node: str | None = None
    shard: int = -1
    feasible: int = 0
    retry: bool = False
    message: str = ""
    resolvable: int = 0


def pick(
    pods: Sequence[Mapping[str, Any]], verdicts: Sequence[Sequence[Verdict]], rng: random.Random
) -> list[Pick]:
    """Per pod (in batch order), the best node over the shards' verdicts (``verdicts[shard][pod]``)."""
    stale = [False] * len(verdicts)
    picks: list[Pick] = []
    for j, pod in enumerate(pods):
        column = [answers[j] for answers in verdicts]
        placed = [s for s, v in enumerate(column) if v.node]
        if not placed:
            if any(stale):
                picks.append(Pick(retry=True))
            else:
                message = fit_error(PodInfo.from_pod(pod), column)
                picks.append(Pick(message=message, resolvable=sum(v.resolvable for v in column)))
            continue
        top = max(column[s].score for s in placed)
        tied = [s for s in placed if column[s].score == top]
        chosen = tied[0]
        if len(tied) > 1:
            draw = rng.randrange(sum(column[s].tied for s in tied))
            for s in tied:
                if draw < column[s].tied:
                    chosen = s
                    break
                draw -= column[s].tied
        for s in placed:
            if s != chosen:
                stale[s] = True  # it held a node for this pod, which goes elsewhere
        picks.append(Pick(node=column[chosen].node, shard=chosen, feasible=sum(v.feasible for v in column)))
    return picks


def fit_error(info: PodInfo, verdicts: Sequence[Verdict]) -> str:
    """upstream's FailedScheduling message over all nodes, from every shard's verdict on the pod (as
    ``core.schedule_one`` with preemption on gives it for the whole cache when preemption finds nothing)."""
    n = sum(v.nodes for v in verdicts)
    if n == 0:
        return core.NO_NODES_AVAILABLE
    rejection = next((v.pre_filter_message for v in verdicts if v.pre_filter_message), "")
    if rejection:
        text = core.fit_error_message(n, {}, pre_filter_message=rejection)
        return core.with_post_filter(text, core.preemption_message(info, n, n, 0))
    reasons: Counter[str] = Counter()
    for v in verdicts:
        reasons.update(v.reasons)
    resolvable = sum(v.resolvable for v in verdicts)
    post = core.preemption_message(info, n, n - resolvable, resolvable)
    return core.with_post_filter(core.fit_error_message(n, reasons), post)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StepOutcome:
    """A step's answers: each reservation sent (pod, node, granted) and ``verdicts[shard][pod]``."""

    reserved: list[tuple[dict[str, Any], str, bool]]
    verdicts: list[list[Verdict]]


class ShardSet:
    """The coordinator's handle on its shards: the changes and reservations waiting for the next step, and
    the step itself. Used from the coordinator's loop and its (synchronous) informer handlers only."""

    def __init__(self, refs: Sequence[ActorRef], epoch: str) -> None:
        self.refs = list(refs)
        self.count = len(self.refs)
        self.epoch = epoch
        self._changes: list[list[Change]] = [[] for _ in self.refs]
        self._reservations: list[list[tuple[dict[str, Any], str, dict[str, Any]]]] = [[] for _ in self.refs]
        # the slim nodes sent, to skip the updates that change nothing a table reads (heartbeats)
        self._nodes: dict[str, dict[str, Any]] = {}
        self.counters = {"steps": 0, "changes": 0, "reservations": 0, "refused": 0}

    def owner(self, node_name: str) -> int:
        return owner(node_name, self.count)

    def pending(self) -> bool:
        """Whether changes or reservations wait for a step."""
        return any(self._changes) or any(self._reservations)

    # -- what the coordinator's cache saw ------------------------------------------------------------------

    def node_changed(self, node: Mapping[str, Any]) -> None:
        slim = slim_node(node)
        name = str(slim["metadata"]["name"])
        if self._nodes.get(name) == slim:
            return
        self._nodes[name] = slim
        self._changes[self.owner(name)].append(Change(op=NODE, obj=slim))

    def node_removed(self, name: str) -> None:
        if self._nodes.pop(name, None) is not None:
            self._changes[self.owner(name)].append(Change(op=NODE_GONE, node=name))

    def pod_bound(self, pod: Mapping[str, Any], node: str) -> None:
        self._changes[self.owner(node)].append(Change(op=POD, obj=slim_pod(pod), node=node))

    def pod_gone(self, pod: Mapping[str, Any], node: str) -> None:
        self._changes[self.owner(node)].append(Change(op=POD_GONE, obj=pod_identity(pod), node=node))

    def forgotten(self, pod: Mapping[str, Any], node: str) -> None:
        self._changes[self.owner(node)].append(Change(op=FORGET, obj=pod_identity(pod), node=node))

    def reserve(self, pod: dict[str, Any], node: str, slim: dict[str, Any] | None = None) -> None:
        """Ask the owner of ``node`` to assume ``pod`` there in the next step (``slim``: its ``slim_pod``)."""
        self._reservations[self.owner(node)].append((pod, node, slim or slim_pod(pod)))

    # -- the shards ----------------------------------------------------------------------------------------

    async def reset(self) -> None:
        """Give every shard an empty cache for this epoch (and forget what was sent before)."""
        self._changes = [[] for _ in self.refs]
        self._reservations = [[] for _ in self.refs]
        self._nodes.clear()
        await asyncio.gather(*(ref.call("reset", self.epoch) for ref in self.refs))

    async def step(self, slim: list[dict[str, Any]], *, num_to_find: int, num_all_nodes: int) -> StepOutcome:
        """Send every shard its changes and reservations, and the pods to evaluate (``slim_pod``s); wait for
        all answers."""
        changes, self._changes = self._changes, [[] for _ in self.refs]
        reservations, self._reservations = self._reservations, [[] for _ in self.refs]
        replies = await asyncio.gather(
            *(
                ref.call(
                    "step",
                    self.epoch,
                    changes[i],
                    [Reservation(pod=light, node=node) for _, node, light in reservations[i]],
                    slim,
                    num_to_find,
                    num_all_nodes,
                )
                for i, ref in enumerate(self.refs)
            )
        )
        self.counters["steps"] += 1
        self.counters["changes"] += sum(len(c) for c in changes)
        reserved: list[tuple[dict[str, Any], str, bool]] = []
        for sent, reply in zip(reservations, replies, strict=True):
            for (pod, node, _), granted in zip(sent, reply.reserved, strict=True):
                reserved.append((pod, node, granted))
                self.counters["reservations"] += 1
                self.counters["refused"] += not granted
        return StepOutcome(reserved=reserved, verdicts=[reply.verdicts for reply in replies])
