"""``Scheduler``: the kube-scheduler actor (``scheduler``), around the pure core of this package.

As upstream's kube-scheduler, with the default profile:

- leader election through the Lease ``kube-system/kube-scheduler`` with ``actors.leader_election`` (15 s
  lease, renewed every 2 s, given up after 10 s without a renewal, as upstream's defaults): only the
  holder schedules, so two replicas never both bind. A replica that loses the lease crashes, as upstream's
  process exits, and its restart campaigns again from a fresh cache;
- informers over Nodes and Pods (list, then watch from the list's version; a closed watch re-lists): nodes
  and bound pods fill the ``NodeTable``; pending pods of this scheduler (``spec.schedulerName``, default
  ``default-scheduler``) fill the ``SchedulingQueue``;
- each cycle pops one pod, runs ``core.schedule_one`` (filters, scores, a seeded pick), *assumes* the pod on
  the chosen node (its requests count at once) and binds it through ``pods/binding`` in the background, so
  the next cycle does not wait for the store. A refused binding forgets the assumption and puts the pod in
  back-off; no node fitting records ``FailedScheduling`` (upstream's words, e.g. ``0/3 nodes are
  available: 3 Insufficient cpu.``), sets ``PodScheduled=False`` with reason ``Unschedulable``, and parks
  the pod until a node or pod changes;
- a bound pod gets the ``Scheduled`` event: ``Successfully assigned default/web to node-1``;
- with ``shards=K`` (K > 1) the filters and scores of most pods run on K ``SchedulerShard`` actors
  (``<name>-shard-<i>``, started by ``spawn_scheduler``, one per host on Ray), each over its part of the
  nodes, and this actor picks among their answers, a batch of pods per round trip; a pod is bound only once
  the shard owning its node granted it room there. ``actors.scheduler.coordinator`` tells how and why.

Decisions come from the actor's seeded generator: a replay with the same seed and the same events places
pods the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from actors import leader_election
from actors.apiserver import status
from actors.apiserver.events import NORMAL, WARNING, EventRecorder
from actors.runtime import errors as runtime_errors
from actors.runtime.actor import Actor
from actors.runtime.clock import Timer
from actors.runtime.ref import ActorRef
from actors.scheduler import coordinator, core, preemption
from actors.scheduler.queue import SchedulingQueue, pod_key
from actors.scheduler.shards import SchedulerShard
from actors.scheduler.table import NodeTable
from consensus.client import StoreUnavailable
from consensus.member import RequestTimedOut
from consensus.raft import ProposalFailed
from kube import meta

if TYPE_CHECKING:
    from actors.runtime.system import ActorSystem

log = logging.getLogger("kubemu.scheduler")

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-scheduler"
MAX_BINDING = 512  # bindings in flight at once
CYCLES_PER_TURN = 64
WATCH_CHECK = 10.0  # cluster seconds between checks that the apiserver still serves the watches
# Failures a component waits out and retries (the apiserver passes the store's own on unchanged).
_RETRYABLE = (runtime_errors.ActorError, status.ApiError, StoreUnavailable, RequestTimedOut, ProposalFailed)


LostLeadership = leader_election.LostLeadership


class Scheduler(Actor):
    """See the module docstring."""

    def __init__(
        self,
        *,
        apiserver: str = "apiserver-0",
        scheduler_name: str = "default-scheduler",
        percentage_of_nodes_to_score: int = 0,
        leader_elect: bool = True,
        shards: int = 1,
    ) -> None:
        self.apiserver = apiserver
        self.scheduler_name = scheduler_name
        self.percentage = percentage_of_nodes_to_score
        self.leader_elect = leader_elect
        self.shard_count = max(1, shards)
        self.shards: coordinator.ShardSet | None = None  # set while leading with shard_count > 1
        self._retry: list[dict[str, Any]] = []  # shardable pods to try first in the next batch
        self.table = NodeTable()
        self.queue = SchedulingQueue()
        self.state = core.SchedulerState()
        self.pods = preemption.NodePods()  # beside the table, with the same pod objects (for preemption)
        self.namespace_labels: dict[str, dict[str, str]] = {}  # for namespaceSelector in pod affinity
        self.leading = False
        self._watches: dict[str, int | None] = {"namespaces": None, "nodes": None, "pods": None}
        self._wake = asyncio.Event()
        self._timer: Timer | None = None
        self._binding = asyncio.Semaphore(MAX_BINDING)
        self.counters = {
            "scheduled": 0,
            "unschedulable": 0,
            "binding_failures": 0,
            "attempts": 0,
            "preemption_attempts": 0,
            "preemption_victims": 0,
            "routed": 0,
            "retries": 0,
        }

    def stats(self) -> dict[str, Any]:
        shards = {} if self.shards is None else {f"shard_{k}": v for k, v in self.shards.counters.items()}
        return {
            "leading": self.leading,
            "identity": getattr(self, "identity", ""),
            "nodes": len(self.table),
            "queue": self.queue.counts(),
            "shards": self.shard_count,
            **self.counters,
            **shards,
        }

    async def run(self) -> None:
        self.identity = f"{self.name}_{meta.new_uid(self.rng)}"
        api = self.ref(self.apiserver)
        self.events = EventRecorder(apiserver=api, component=self.scheduler_name, clock=self.clock)
        await leader_election.lead(
            self, api, namespace=LEASE_NAMESPACE, name=LEASE_NAME, elect=self.leader_elect
        )
        log.info("%s: leading as %s", self.name, self.identity)
        if self.shard_count > 1:
            refs = [self.ref(coordinator.shard_name(self.name, i)) for i in range(self.shard_count)]
            self.shards = coordinator.ShardSet(refs, epoch=self.identity)
            await self.shards.reset()
        self.start_task(self._check_watches(api), name="watch-check")
        while True:
            for resource in ("namespaces", "nodes", "pods"):
                if self._watches[resource] is None:
                    await self._list_and_watch(api, resource)
            # A few cycles per loop turn: their bindings then reach the store as one Raft entry.
            cycles = 0
            if self.shards is not None:
                cycles = await self._sharded_turn(api, self.shards)
            else:
                while cycles < CYCLES_PER_TURN and (pod := self.queue.pop(self.clock.now())) is not None:
                    await self._schedule(api, pod)
                    cycles += 1
            if cycles == 0:
                await self._idle()
            else:
                await asyncio.sleep(0)  # let watch events and bindings in between

    # -- informers -----------------------------------------------------------------------------------------

    async def _check_watches(self, api: Any) -> None:
        """Every ``WATCH_CHECK`` seconds, whether the apiserver still serves the informers' watches: a
        restarted apiserver lost them, and the scheduler would wait for pods that never come. A lost one
        is listed and watched again by the next turn."""
        while True:
            await self.sleep(WATCH_CHECK)
            watched = {resource: w for resource, w in self._watches.items() if w is not None}
            try:
                live = set(await api.call("live_watches", list(watched.values())))
            except _RETRYABLE as error:
                log.info("%s: watches not checked: %s", self.name, error)
                continue
            for resource, watch_id in watched.items():
                if watch_id not in live and self._watches[resource] == watch_id:
                    log.info(
                        "%s: the apiserver no longer serves the %s watch: listing again", self.name, resource
                    )
                    self._watches[resource] = None
                    self._wake.set()

    def on_nodes(self, watch_id: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        if watch_id != self._watches["nodes"]:
            return
        if not events:
            self._watches["nodes"] = None
        for kind, node in events:
            self._node_event(kind, node)
        if events:
            self.queue.move_all(self.clock.now())
        self._wake.set()

    def on_namespaces(self, watch_id: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        if watch_id != self._watches["namespaces"]:
            return
        if not events:
            self._watches["namespaces"] = None
        changed = False
        for kind, namespace in events:
            changed |= self._namespace_event(kind, namespace)
        if changed:
            self.queue.move_all(self.clock.now())
        self._wake.set()

    def on_pods(self, watch_id: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        if watch_id != self._watches["pods"]:
            return
        if not events:
            self._watches["pods"] = None
        freed = False
        for kind, pod in events:
            freed |= self._pod_event(kind, pod)
        if freed:
            self.queue.move_all(self.clock.now())
        self._wake.set()

    async def _list_and_watch(self, api: Any, resource: str) -> None:
        # resourceVersion "0", as client-go's reflector lists: served from the apiserver's watch cache
        listed = await api.call("list_objects", resource, None, resource_version="0")
        if resource == "namespaces":
            self.namespace_labels.clear()
            for namespace in listed["items"]:
                self._namespace_event("ADDED", namespace)
        elif resource == "nodes":
            known = set(self.table.names())
            current = {n["metadata"]["name"] for n in listed["items"]}
            for name in known - current:
                self._node_event("DELETED", {"metadata": {"name": name}})
            for node in listed["items"]:
                self._node_event("ADDED", node)
        else:
            for pod in listed["items"]:
                self._pod_event("ADDED", pod)
        self._watches[resource] = await api.call(
            "watch",
            resource,
            None,
            watcher=self.name,
            method=f"on_{resource}",
            resource_version=listed["metadata"]["resourceVersion"],
        )

    def _namespace_event(self, kind: str, namespace: dict[str, Any]) -> bool:
        """Apply one namespace change; True when its labels changed (a namespaceSelector may match now)."""
        name = namespace["metadata"]["name"]
        if kind == "DELETED":
            return self.namespace_labels.pop(name, None) is not None
        new = dict(namespace["metadata"].get("labels") or {})
        old = self.namespace_labels.get(name)
        self.namespace_labels[name] = new
        return old is not None and old != new

    def _node_event(self, kind: str, node: dict[str, Any]) -> None:
        if kind == "DELETED":
            self.table.remove_node(node["metadata"]["name"])
            if self.shards is not None:
                self.shards.node_removed(node["metadata"]["name"])
        else:
            self.table.upsert_node(node)
            if self.shards is not None:
                self.shards.node_changed(node)

    def _pod_event(self, kind: str, pod: dict[str, Any]) -> bool:
        """Apply one pod change; True when it frees room (a pod gone from a node)."""
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if kind == "DELETED" or finished:
            self.queue.delete(pod_key(pod))
            if self.shards is not None:
                where = node or self.table.node_of(pod)
                if where:
                    self.shards.pod_gone(pod, where)
            self.pods.remove(pod)
            return self.table.remove_pod(pod)
        if node:
            self.queue.delete(pod_key(pod))
            self.table.add_pod(pod, node)
            self.pods.add(pod, node)
            if self.shards is not None:
                self.shards.pod_bound(pod, node)
            return False
        ours = (spec.get("schedulerName") or "default-scheduler") == self.scheduler_name
        if ours and not pod["metadata"].get("deletionTimestamp") and not self.table.is_assumed(pod):
            self.queue.add(pod, self.clock.now())
        return False

    async def _idle(self) -> None:
        """Wait for a watch event, a binding's outcome, or the queue's next back-off expiry."""
        self._wake.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        wakeup = self.queue.next_wakeup()
        if wakeup is not None:
            self._timer = self.clock.call_at(wakeup, self._wake.set)
        await self._wake.wait()

    # -- scheduling ----------------------------------------------------------------------------------------

    async def _schedule(self, api: Any, pod: dict[str, Any]) -> None:
        self.counters["attempts"] += 1
        decision = core.schedule_one(
            pod,
            self.table,
            rng=self.rng,
            percentage_of_nodes_to_score=self.percentage,
            state=self.state,
            namespace_labels=self.namespace_labels,
        )
        if decision.node is None:
            self.counters["unschedulable"] += 1
            # PostFilter at once, on the same cache (no await in between), as upstream's DefaultPreemption
            outcome = preemption.preempt(
                pod, decision, self.table, self.pods, rng=self.rng, namespace_labels=self.namespace_labels
            )
            self.queue.failed(pod, self.clock.now(), unschedulable=True)
            if outcome.node is not None:  # victims first, then the nomination, as upstream
                self.counters["preemption_attempts"] += 1
                await self._evict(api, pod, outcome)
            await self._unschedulable(
                api,
                pod,
                outcome.message or decision.message or "no nodes available",
                outcome.nominated_node_name,
            )
            return
        self.table.assume(pod, decision.node)
        self.pods.add(pod, decision.node)
        if self.shards is not None:
            self.shards.reserve(pod, decision.node)  # bound once the node's owner grants the room
            return
        await self._binding.acquire()
        self.start_task(self._bind(api, pod, decision.node), name="bind")

    async def _sharded_turn(self, api: Any, shards: coordinator.ShardSet) -> int:
        """One batch with shards (see ``actors.scheduler.coordinator``): pods that need the whole cache are
        scheduled here, the others by one step of every shard and a global pick; the reservations answered
        by this step start their bindings. Returns how much was done (0: nothing to do)."""
        now = self.clock.now()
        batch = [pod for pod in self._retry if pod_key(pod) in self.queue]
        self._retry = []
        while len(batch) < CYCLES_PER_TURN and (pod := self.queue.pop(now)) is not None:
            batch.append(pod)
        if not batch and not shards.pending():
            return 0
        remote: list[dict[str, Any]] = []
        for pod in batch:
            if coordinator.needs_whole_cluster(pod, self.table, self.namespace_labels):
                self.counters["routed"] += 1
                await self._schedule(api, pod)
            else:
                remote.append(pod)
        slim = [coordinator.slim_pod(pod) for pod in remote]
        n = len(self.table)
        outcome = await shards.step(
            slim, num_to_find=core.num_feasible_nodes_to_find(self.percentage, n), num_all_nodes=n
        )
        for pod, node, granted in outcome.reserved:
            if granted:
                await self._binding.acquire()
                self.start_task(self._bind(api, pod, node), name="bind")
            else:  # the owner's table says it no longer fits: try again with fresh answers
                if self.table.forget(pod):
                    self.pods.remove(pod)
                self._retry.append(pod)
        now = self.clock.now()
        picks = coordinator.pick(remote, outcome.verdicts, self.rng)
        for pod, light, choice in zip(remote, slim, picks, strict=True):
            if pod_key(pod) not in self.queue:
                continue  # deleted, or bound by someone else, while the shards were answering
            if choice.resolvable and self._may_preempt(pod):
                await self._schedule(api, pod)  # DefaultPreemption reads the whole cache
                continue
            self.counters["attempts"] += 1
            if choice.node is not None:
                self.table.assume(pod, choice.node)
                self.pods.add(pod, choice.node)
                shards.reserve(pod, choice.node, light)
            elif choice.retry:
                self.counters["retries"] += 1
                self._retry.append(pod)
            else:
                self.counters["unschedulable"] += 1
                self.queue.failed(pod, now, unschedulable=True)
                await self._unschedulable(api, pod, choice.message)
        return max(len(batch), 1)

    def _may_preempt(self, pod: dict[str, Any]) -> bool:
        """Whether ``DefaultPreemption`` could find victims for ``pod``: some pod has a lower priority."""
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return False
        lowest = self.pods.lowest_priority()
        return lowest is not None and lowest < preemption.pod_priority(pod)

    async def _bind(self, api: Any, pod: dict[str, Any], node: str) -> None:
        md = pod["metadata"]
        try:
            await api.call("bind", md["namespace"], md["name"], node)
        except _RETRYABLE as error:
            self.counters["binding_failures"] += 1
            if self.table.forget(pod):
                self.pods.remove(pod)
            if self.shards is not None:
                self.shards.forgotten(pod, node)
            self.queue.failed(pod, self.clock.now(), unschedulable=False)
            message = f"Binding rejected: {error}"
            log.info("%s: %s/%s: %s", self.name, md["namespace"], md["name"], message)
            await self._record(pod, WARNING, "FailedScheduling", message)
        else:
            self.counters["scheduled"] += 1
            self.queue.done(pod)
            await self._record(
                pod, NORMAL, "Scheduled", f"Successfully assigned {md['namespace']}/{md['name']} to {node}"
            )
        finally:
            self._binding.release()
            self._wake.set()

    async def _evict(self, api: Any, preemptor: dict[str, Any], outcome: preemption.Preemption) -> None:
        """Delete the victims that make room for ``preemptor`` on ``outcome.node``, each marked with the
        DisruptionTarget condition and a ``Preempted`` event, as upstream's preemption evaluator."""
        assert outcome.node is not None
        notice = preemption.victim_notice(preemptor, outcome.node)
        for key in outcome.victims:
            placed = self.pods.get(key)
            if placed is None or placed.pod["metadata"].get("deletionTimestamp"):
                continue
            victim = dict(placed.pod)
            md = victim["metadata"]
            try:
                await api.call(
                    "patch",
                    "pods",
                    md["namespace"],
                    md["name"],
                    "application/strategic-merge-patch+json",
                    {"status": {"conditions": [notice.condition(meta.now_rfc3339(self.clock.now()))]}},
                    subresource="status",
                )
                await api.call("delete", "pods", md["namespace"], md["name"])
            except _RETRYABLE as error:
                if not (isinstance(error, status.ApiError) and error.reason == "NotFound"):
                    log.info("%s: victim %s not preempted: %s", self.name, key, error)
                continue
            self.counters["preemption_victims"] += 1
            await self._record(victim, notice.event_type, notice.event_reason, notice.event_message)

    async def _unschedulable(
        self, api: Any, pod: dict[str, Any], message: str, nominated: str | None = None
    ) -> None:
        md = pod["metadata"]
        await self._record(pod, WARNING, "FailedScheduling", message)
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": meta.now_rfc3339(self.clock.now()),
            "reason": "Unschedulable",
            "message": message,
        }
        current = [
            c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"
        ]
        was_nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        same = current and all(current[0].get(k) == condition[k] for k in ("status", "reason", "message"))
        if same and (nominated is None or nominated == was_nominated):
            return
        patch: dict[str, Any] = {"conditions": [condition]}
        if nominated is not None and nominated != was_nominated:
            patch["nominatedNodeName"] = nominated or None  # "" clears it
        try:
            await api.call(
                "patch",
                "pods",
                md["namespace"],
                md["name"],
                "application/strategic-merge-patch+json",
                {"status": patch},
                subresource="status",
            )
        except _RETRYABLE as error:
            log.info("%s: condition of %s/%s not written: %s", self.name, md["namespace"], md["name"], error)

    async def _record(self, pod: dict[str, Any], kind: str, reason: str, message: str) -> None:
        try:
            await self.events.event(pod, kind, reason, message)
        except _RETRYABLE as error:
            log.info("%s: event %s not recorded: %s", self.name, reason, error)


async def spawn_scheduler(
    system: ActorSystem,
    name: str = "scheduler",
    *,
    shards: int = 1,
    host: str | None = None,
    shard_hosts: Sequence[str | None] = (),
    **kwargs: Any,
) -> ActorRef:
    """Start the scheduler actor ``name`` (on ``host``) and, with ``shards`` > 1, its shard actors first,
    shard ``i`` on ``shard_hosts[i % len(shard_hosts)]`` (placement's choice when none are given)."""
    if shards > 1:
        for i in range(shards):
            where = shard_hosts[i % len(shard_hosts)] if shard_hosts else None
            await system.spawn(coordinator.shard_name(name, i), SchedulerShard, host=where)
    return await system.spawn(name, Scheduler, kwargs={**kwargs, "shards": shards}, host=host)
