"""``SchedulerShard``: one part of a sharded scheduler's node cache, searched and scored where it lives.

With ``Scheduler(shards=K)`` (K > 1) the scheduler (the *coordinator*, still the only Lease holder and the
only writer) splits its nodes over K shard actors, ``<scheduler>-shard-<i>``, which ``spawn_scheduler``
places on different hosts. Shard ``i`` owns the nodes whose stable name hash is ``i`` modulo K
(``coordinator.owner``) and keeps their ``NodeTable``, with the pods accounted on them. This module is the
shard's side; ``actors.scheduler.coordinator`` is the other one (routing, the global pick, the messages) and
its module docstring tells the whole design.

The shard learns nothing by itself: it has no informer. Its only input is the coordinator's ``step`` call,
which carries, in this order,

1. ``changes``: what the coordinator's own informers saw about the shard's nodes and the pods on them
   (``Change``: a node added, updated or removed, a pod bound or gone, an assumed pod forgotten after a
   failed binding), in the order the coordinator applied them to its own cache;
2. ``reservations``: pods the coordinator picked a node of this shard for (``Reservation``). Each is assumed
   only if it still fits the node's allocatable (pods, cpu, memory, ephemeral-storage) on this table:
   since a node has exactly one owner and a shard runs one message at a time, this check is the one place
   that decides whether a pod may take room on a node, so no node is ever overcommitted, whatever the
   coordinator's pick was based on. A refused reservation is answered ``False`` and the pod is tried
   again;
3. ``pods``: pending pods to evaluate. Each is filtered and scored by ``core.schedule_one`` on this table
   alone (the search stops after the shard's share of upstream's ``numFeasibleNodesToFind``, and a single
   feasible node is scored too), giving a ``Verdict``: the best node here with its total score and how many
   nodes tied with it, or why no node here fits (per-reason counts, for the coordinator's message over all
   nodes). The best node is *held* (assumed) while the rest of the batch is evaluated, so later pods of the
   batch see it taken, as one worker would; the holds are dropped before the reply (the coordinator's pick
   comes back as a reservation in the next step).

Every answer is a pure function of the messages received, and decisions use the actor's seeded generator.
A shard that restarts has an empty cache: it answers ``ShardOutOfSync`` until the coordinator, restarting
in turn, ``reset``s it and sends its cache again.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from typing import Any

from actors.runtime.actor import Actor
from actors.scheduler import core
from actors.scheduler.plugins import Columns, allocatable_columns, fit_codes, requested_columns
from actors.scheduler.resources import pod_requests
from actors.scheduler.table import NodeTable

NODE = "node"
"""``Change.op``: add or update the node ``obj``."""
NODE_GONE = "node-gone"
"""``Change.op``: remove the node named ``node``."""
POD = "pod"
"""``Change.op``: account the pod ``obj`` as bound to ``node``."""
POD_GONE = "pod-gone"
"""``Change.op``: stop accounting the pod ``obj``."""
FORGET = "forget"
"""``Change.op``: drop the pod ``obj`` if it is only assumed (its binding failed)."""


class ShardOutOfSync(Exception):
    """The step belongs to another epoch than the shard's cache (the shard or the coordinator restarted)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One change to a shard's cache, in the order the coordinator applied it to its own."""

    op: str
    obj: dict[str, Any] | None = None
    node: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """The coordinator picked ``node`` for ``pod``: assume it there if it still fits."""

    pod: dict[str, Any]
    node: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """One shard's answer about one pod.

    ``node`` is the best feasible node of the shard (``""``: none), ``score`` its weighted total and ``tied``
    how many of the shard's scored nodes had that total (the shard drew ``node`` uniformly among them).
    ``feasible`` and ``evaluated`` count the shard's feasible nodes found and nodes judged, ``nodes`` its
    nodes. When no node fits: ``reasons`` counts each reason over the shard's nodes, ``resolvable`` the
    nodes where preemption might help, ``pre_filter_message`` a PreFilter's rejection.
    """

    node: str = ""
    score: int = 0
    tied: int = 0
    feasible: int = 0
    evaluated: int = 0
    nodes: int = 0
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    resolvable: int = 0
    pre_filter_message: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StepReply:
    """What a step answers: per reservation whether it was assumed, per evaluated pod its verdict."""

    reserved: list[bool]
    verdicts: list[Verdict]


def share(num_to_find: int, num_all_nodes: int, num_own_nodes: int) -> int:
    """A shard's part of the feasible nodes that end the search: proportional to its nodes, rounded up."""
    if num_all_nodes <= 0:
        return num_own_nodes
    return min(num_own_nodes, math.ceil(num_to_find * num_own_nodes / num_all_nodes))


def apply_changes(table: NodeTable, changes: Sequence[Change]) -> None:
    """Apply the coordinator's changes to the shard's table, in order."""
    for change in changes:
        op, obj = change.op, change.obj
        if op == NODE and obj is not None:
            table.upsert_node(obj)
        elif op == NODE_GONE:
            table.remove_node(change.node)
        elif op == POD and obj is not None:
            table.add_pod(obj, change.node)
        elif op == POD_GONE and obj is not None:
            table.remove_pod(obj)
        elif op == FORGET and obj is not None:
            table.forget(obj)
        else:
            raise ValueError(f"unknown change {op!r}")


def reserve(table: NodeTable, pod: dict[str, Any], node: str) -> bool:
    """Assume ``pod`` on ``node`` if the node is here and the pod still fits its allocatable."""
    row = table.index(node)
    if row is None:
        return False
    if table.node_of(pod) is not None:
        return table.node_of(pod) == node  # reserved already (a repeated step): the same answer
    alloc, used = _row(allocatable_columns(table), row), _row(requested_columns(table), row)
    if fit_codes(pod_requests(pod), alloc, used)[0]:
        return False
    table.assume(pod, node)
    return True


def _row(columns: Columns, row: int) -> Columns:
    pods, cpu, memory, ephemeral = columns
    span = slice(row, row + 1)
    return pods[span], cpu[span], memory[span], ephemeral[span]


def evaluate(
    table: NodeTable,
    pods: Sequence[dict[str, Any]],
    *,
    rng: random.Random,
    state: core.SchedulerState,
    num_to_find: int,
    num_all_nodes: int,
) -> list[Verdict]:
    """Each pod's ``Verdict`` on this table, in order, each seeing the nodes held for the pods before it;
    the table is as before when it returns."""
    quota = share(num_to_find, num_all_nodes, len(table))
    verdicts: list[Verdict] = []
    held: list[dict[str, Any]] = []
    try:
        for pod in pods:
            decision = core.schedule_one(
                pod, table, rng=rng, state=state, preemption=False, num_to_find=quota, always_score=True
            )
            verdicts.append(_verdict(decision, len(table)))
            if decision.node is not None and table.node_of(pod) is None:
                table.assume(pod, decision.node)
                held.append(pod)
    finally:
        for pod in reversed(held):
            table.forget(pod)
    return verdicts


def _verdict(decision: core.Decision, nodes: int) -> Verdict:
    if decision.node is not None:
        return Verdict(
            node=decision.node,
            score=decision.score or 0,
            tied=max(decision.tied, 1),
            feasible=decision.feasible,
            evaluated=decision.evaluated,
            nodes=nodes,
        )
    if not nodes:
        return Verdict()
    return Verdict(
        evaluated=decision.evaluated,
        nodes=nodes,
        reasons=dict(decision.reasons),
        resolvable=len(decision.potential_nodes),
        pre_filter_message=decision.pre_filter_message,
    )


class SchedulerShard(Actor):
    """See the module docstring. Its handlers never wait, so a step runs in one piece."""

    expected_errors = (ShardOutOfSync,)

    def __init__(self) -> None:
        self.table = NodeTable()
        self.state = core.SchedulerState()
        self.epoch: str | None = None
        self.counters = {"steps": 0, "changes": 0, "evaluated": 0, "reserved": 0, "refused": 0}

    def reset(self, epoch: str) -> None:
        """Start an empty cache for the coordinator incarnation ``epoch``."""
        self.table = NodeTable()
        self.state = core.SchedulerState()
        self.epoch = epoch

    def step(
        self,
        epoch: str,
        changes: list[Change],
        reservations: list[Reservation],
        pods: list[dict[str, Any]],
        num_to_find: int,
        num_all_nodes: int,
    ) -> StepReply:
        """Apply ``changes``, then ``reservations``, then evaluate ``pods`` (see the module docstring)."""
        if epoch != self.epoch:
            raise ShardOutOfSync(f"{self.name}: step of epoch {epoch}, cache of {self.epoch}")
        self.counters["steps"] += 1
        self.counters["changes"] += len(changes)
        apply_changes(self.table, changes)
        reserved = [reserve(self.table, r.pod, r.node) for r in reservations]
        accepted = sum(reserved)
        self.counters["reserved"] += accepted
        self.counters["refused"] += len(reserved) - accepted
        self.counters["evaluated"] += len(pods)
        verdicts = evaluate(
            self.table,
            pods,
            rng=self.rng,
            state=self.state,
            num_to_find=num_to_find,
            num_all_nodes=num_all_nodes,
        )
        return StepReply(reserved=reserved, verdicts=verdicts)

    def stats(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "nodes": len(self.table), **self.counters}
