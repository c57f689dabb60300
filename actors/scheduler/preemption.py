"""Preemption: kube-scheduler's ``DefaultPreemption`` PostFilter (v1.31 ``plugins/defaultpreemption`` and
``framework/preemption``), run when no node fits a pod.

``preempt`` takes the failed cycle's ``core.Decision`` and answers, as upstream's ``Evaluator.Preempt``:

1. Eligibility (``PodEligibleToPreemptOthers``): a pod with ``preemptionPolicy: Never`` preempts nothing
   ("not eligible due to preemptionPolicy=Never."), nor does one whose ``status.nominatedNodeName`` still
   holds a lower-priority pod terminating because of an earlier preemption ("not eligible due to a
   terminating pod on the nominated node."), unless the cycle found that node unresolvable.
2. Candidates: only the nodes the cycle rejected as ``Unschedulable`` (``Decision.potential_nodes``); the
   others read "Preemption is not helpful for scheduling". From a random offset (the seeded ``rng``), nodes
   are dry-run in turn until ``max(10 % of them, 100)``, at most all, candidates are found
   (``minCandidateNodesPercentage``/``minCandidateNodesAbsolute``).
3. A dry run on a node (``SelectVictimsOnNode``): take off every pod of lower priority (``spec.priority``,
   default 0) — none: "No preemption victims found for incoming pod"; re-run the filters — still failing:
   the node keeps that status (e.g. "Insufficient cpu"); then, from the most important pod down (higher
   priority, then earlier ``status.startTime``), put each back while the pod still fits: those that do
   not fit are the victims.
4. The node (``pickOneNodeForPreemption``): the lowest highest-victim priority, then the smallest sum of
   ``priority + 2^31`` over the victims, then the fewest victims, then the latest start among the
   highest-priority victims, then the first found.

The answer, a ``Preemption``, holds the message to record (FailedScheduling event, ``PodScheduled``
condition): the cycle's ``FitError`` text, followed when preemption fails by ``preemption: 0/5 nodes are
available: ...`` (``core.preemption_message``'s text whenever no node has a lower-priority pod, so the two
agree); the node to nominate and the victims' keys; and what becomes of ``status.nominatedNodeName``.
``victim_notice`` gives the words the scheduler writes on each victim.

Dry runs are columnar where they can be: when the only filters whose verdict depends on the pods on a node
(``FilterPlugin.reads_pods``) are ``NodeResourcesFit``, the nodes are dry-run a chunk at a time, taking the
victims' requests off the table's columns and putting them back one rank of importance at a time across
all nodes at once (``plugins.fit_codes``). Otherwise (pod (anti-)affinity, hard topology spread) each node
is dry-run on the table itself: ``preempt`` takes pods off it and puts them back (``assume`` for assumed
ones) before it returns, leaving the same accounting; nothing else is written.

Deviations: PodDisruptionBudgets are not read (every candidate violates none, and the PDB-violating victims
are not reprieved first); nominated pods are not counted on nodes (upstream's
``RunFilterPluginsWithNominatedPods``), so a lower-priority pod may take the room freed for a preemptor;
extenders and async preemption are not emulated; the final tie goes to the first candidate found rather
than a map's order; a pod without ``status.startTime`` counts as started last (upstream reads ``time.Now()``
for it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from actors.scheduler import core
from actors.scheduler.plugins import (
    FIT_REASONS,
    Columns,
    FilterPlugin,
    FilterResult,
    NodeResourcesFit,
    PodInfo,
    Profile,
    allocatable_columns,
    default_profile,
    fit_codes,
    requested_columns,
)
from actors.scheduler.resources import Resources, pod_requests
from actors.scheduler.table import NodeTable, pod_key
from kube import meta
from kube.errors import ValidationError

MIN_CANDIDATE_NODES_PERCENTAGE = 10
"""``DefaultPreemptionArgs.minCandidateNodesPercentage``'s default."""
MIN_CANDIDATE_NODES_ABSOLUTE = 100
"""``DefaultPreemptionArgs.minCandidateNodesAbsolute``'s default."""

NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"
PREEMPTED = "Preempted"
PREEMPTING = "Preempting"
DEFAULT_SCHEDULER_NAME = "default-scheduler"
_PRIORITY_SHIFT = 2**31  # MaxInt32 + 1: every shifted priority is >= 0, so more victims weigh more
_CHUNK = 64  # the fewest nodes dry-run together on the columnar path
_DEFAULT_PROFILE = default_profile()


# --- what preemption reads of pods ------------------------------------------------------------------------


def pod_priority(pod: Mapping[str, Any]) -> int:
    """``corev1helpers.PodPriority``: ``spec.priority``, 0 when unset."""
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def pod_start_time(pod: Mapping[str, Any]) -> float:
    """``status.startTime`` in Unix seconds; ``inf`` (started last) when unset or unreadable."""
    text = (pod.get("status") or {}).get("startTime")
    if not text:
        return math.inf
    try:
        return meta.parse_rfc3339(str(text))
    except ValidationError:
        return math.inf


def terminating_by_preemption(pod: Mapping[str, Any]) -> bool:
    """upstream's ``podTerminatingByPreemption``: deleted, with ``DisruptionTarget=True`` for
    ``PreemptionByScheduler`` (the first ``DisruptionTarget`` condition decides)."""
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == DISRUPTION_TARGET:
            return bool(
                condition.get("status") == "True" and condition.get("reason") == PREEMPTION_BY_SCHEDULER
            )
    return False


@dataclasses.dataclass(frozen=True, slots=True)
class PlacedPod:
    """A pod accounted on a node, with what preemption reads of it."""

    key: str
    pod: Mapping[str, Any]
    node: str
    priority: int
    start_time: float
    requests: Resources


class NodePods:
    """The pods the scheduler's cache accounts on each node (upstream's ``NodeInfo.Pods``), bound and assumed,
    with their priorities, start times and requests.

    Kept beside the ``NodeTable`` by the same calls with the same pod objects: ``add`` wherever the table
    gets ``add_pod`` or ``assume``, ``remove`` wherever it gets ``remove_pod`` or a successful ``forget``
    (``preempt`` puts these objects back into the table after dry runs). Keys are ``table.pod_key``'s.
    Invariant: every pod is in exactly one node's dict, and ``_priorities`` counts the pods per priority.
    """

    __slots__ = ("_by_node", "_pods", "_priorities")

    def __init__(self) -> None:
        self._pods: dict[str, PlacedPod] = {}
        self._by_node: dict[str, dict[str, PlacedPod]] = {}
        self._priorities: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._pods)

    def __contains__(self, key: object) -> bool:
        return key in self._pods

    def add(self, pod: Mapping[str, Any], node_name: str) -> None:
        """Account ``pod`` on ``node_name`` (a pod accounted elsewhere moves; an update replaces it)."""
        key = pod_key(pod)
        old = self._pods.get(key)
        if old is not None and old.node != node_name:
            self.remove(pod)
            old = None
        placed = PlacedPod(
            key=key,
            pod=pod,
            node=node_name,
            priority=pod_priority(pod),
            start_time=pod_start_time(pod),
            requests=pod_requests(pod),
        )
        if old is not None:
            self._count(old.priority, -1)
        self._count(placed.priority, +1)
        self._pods[key] = placed
        self._by_node.setdefault(node_name, {})[key] = placed

    def remove(self, pod: Mapping[str, Any]) -> bool:
        """Stop accounting ``pod``; whether it was accounted."""
        placed = self._pods.pop(pod_key(pod), None)
        if placed is None:
            return False
        self._count(placed.priority, -1)
        on_node = self._by_node[placed.node]
        del on_node[placed.key]
        if not on_node:
            del self._by_node[placed.node]
        return True

    def get(self, key: str) -> PlacedPod | None:
        """The pod accounted under ``key``."""
        return self._pods.get(key)

    def on(self, node_name: str) -> list[PlacedPod]:
        """The pods on a node, in the order they were accounted."""
        return list(self._by_node.get(node_name, {}).values())

    def lowest_priority(self) -> int | None:
        """The lowest priority of any accounted pod (``None`` without pods)."""
        return min(self._priorities) if self._priorities else None

    def _count(self, priority: int, delta: int) -> None:
        left = self._priorities.get(priority, 0) + delta
        if left:
            self._priorities[priority] = left
        else:
            del self._priorities[priority]


# --- the answer -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Preemption:
    """What ``preempt`` decided.

    ``message`` is the text to record (FailedScheduling event, ``PodScheduled=False`` condition);
    ``post_filter_message`` its ``preemption: ...`` part, empty when preemption found a node. ``node`` is that
    node and ``victims`` the keys of the pods to evict there, most important first; ``nominated_node_name``
    is what to write to the pod's ``status.nominatedNodeName``: the node, ``""`` to clear it, ``None`` to
    leave it. ``candidates`` counts the candidate nodes found, ``evaluated`` the nodes dry-run.
    """

    message: str
    post_filter_message: str = ""
    node: str | None = None
    victims: tuple[str, ...] = ()
    nominated_node_name: str | None = None
    candidates: int = 0
    evaluated: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VictimNotice:
    """What the scheduler writes on a victim before deleting it (upstream's ``PreemptPod``): a
    ``DisruptionTarget`` condition, and an event (regarding the victim, related to the preemptor)."""

    condition_type: str = DISRUPTION_TARGET
    condition_status: str = "True"
    condition_reason: str = PREEMPTION_BY_SCHEDULER
    condition_message: str
    event_type: str = "Normal"
    event_reason: str = PREEMPTED
    event_action: str = PREEMPTING
    event_message: str

    def condition(self, last_transition_time: str) -> dict[str, Any]:
        """The condition as a ``status.conditions`` entry."""
        return {
            "type": self.condition_type,
            "status": self.condition_status,
            "lastProbeTime": None,
            "lastTransitionTime": last_transition_time,
            "reason": self.condition_reason,
            "message": self.condition_message,
        }


def victim_notice(preemptor: Mapping[str, Any], node_name: str) -> VictimNotice:
    """The condition and event upstream writes on each victim of ``preemptor`` on ``node_name``."""
    spec: Mapping[str, Any] = preemptor.get("spec") or {}
    scheduler = spec.get("schedulerName") or DEFAULT_SCHEDULER_NAME
    uid = (preemptor.get("metadata") or {}).get("uid") or ""
    return VictimNotice(
        condition_message=f"{scheduler}: preempting to accommodate a higher priority pod",
        event_message=f"Preempted by pod {uid} on node {node_name}",
    )


def num_candidates(
    num_nodes: int,
    percentage: int = MIN_CANDIDATE_NODES_PERCENTAGE,
    absolute: int = MIN_CANDIDATE_NODES_ABSOLUTE,
) -> int:
    """How many candidates end the dry runs (upstream's ``calculateNumCandidates``)."""
    return min(max(num_nodes * percentage // 100, absolute), num_nodes)


# --- the PostFilter -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Candidate:
    node: str
    victims: tuple[PlacedPod, ...]  # most important first


def preempt(
    pod: Mapping[str, Any],
    decision: core.Decision,
    table: NodeTable,
    pods: NodePods,
    *,
    rng: random.Random,
    profile: Profile | None = None,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    min_candidate_nodes_percentage: int = MIN_CANDIDATE_NODES_PERCENTAGE,
    min_candidate_nodes_absolute: int = MIN_CANDIDATE_NODES_ABSOLUTE,
) -> Preemption:
    """Run ``DefaultPreemption`` for ``pod`` after ``decision`` (``core.schedule_one`` on the same table,
    profile and namespace labels) found no node; see the module docstring.

    A decision that is not a ``FitError`` (a node was found, or there are no nodes) is returned as is.
    ``rng`` draws the dry runs' offset, and only when some node has a pod to evict.
    """
    fit = decision.filter_message
    if decision.node is not None or fit is None:
        return Preemption(message=decision.message or "")
    info = PodInfo.from_pod(pod, namespace_labels=namespace_labels)
    if info.preempt_never:
        return _failed(fit, f"preemption: {core.PREEMPTION_NEVER}", nominated=None)
    priority = pod_priority(pod)
    potential = [name for name in decision.potential_nodes if name in table]
    if info.nominated_node and info.nominated_node in potential:
        for placed in pods.on(info.nominated_node):
            if placed.priority < priority and terminating_by_preemption(placed.pod):
                return _failed(fit, f"preemption: {NOT_ELIGIBLE_TERMINATING}", nominated=None)
    n = len(table)
    lowest = pods.lowest_priority()
    if not potential or lowest is None or lowest >= priority:
        # no node where evicting could help, or nothing anywhere to evict
        post = core.preemption_message(info, n, n - len(potential), len(potential))
        return _failed(fit, post, nominated="")

    offset = rng.randrange(len(potential))
    order = potential[offset:] + potential[:offset]
    wanted = num_candidates(len(potential), min_candidate_nodes_percentage, min_candidate_nodes_absolute)
    prof = _DEFAULT_PROFILE if profile is None else profile
    active = [p for p in prof.filters if not p.pre_filter(info, table).skip]
    columnar = all(isinstance(p, NodeResourcesFit) or not p.reads_pods for p in active)
    dry_run = _dry_run_columns if columnar else _dry_run_on_table
    candidates, statuses, evaluated = dry_run(info, table, pods, active, order, priority, wanted)
    if not candidates:
        reasons: dict[str, int] = dict(statuses)
        if n > len(potential):
            reasons[core.PREEMPTION_NOT_HELPFUL] = n - len(potential)
        post = f"preemption: {core.fit_error_message(n, reasons)}"
        return _failed(fit, post, nominated="", evaluated=evaluated)
    best = _pick(candidates)
    return Preemption(
        message=fit,
        node=best.node,
        victims=tuple(v.key for v in best.victims),
        nominated_node_name=best.node,
        candidates=len(candidates),
        evaluated=evaluated,
    )


def _failed(fit: str, post: str, *, nominated: str | None, evaluated: int = 0) -> Preemption:
    return Preemption(
        message=core.with_post_filter(fit, post),
        post_filter_message=post,
        nominated_node_name=nominated,
        evaluated=evaluated,
    )


def _importance(placed: PlacedPod, seq: int) -> tuple[int, float, int]:
    """``MoreImportantPod`` as a sort key: higher priority, then earlier start, then accounting order."""
    return (-placed.priority, placed.start_time, seq)


def _pick(candidates: Sequence[_Candidate]) -> _Candidate:
    """``pickOneNodeForPreemption`` (no PDB violations anywhere); ``max`` keeps the first of equals."""

    def score(c: _Candidate) -> tuple[int, int, int, float]:
        highest = c.victims[0].priority
        total = sum(v.priority + _PRIORITY_SHIFT for v in c.victims)
        earliest = min(v.start_time for v in c.victims if v.priority == highest)
        return (-highest, -total, -len(c.victims), earliest)

    return max(candidates, key=score)


DryRun = tuple[list[_Candidate], Counter[str], int]


def _dry_run_columns(
    info: PodInfo,
    table: NodeTable,
    pods: NodePods,
    active: Sequence[FilterPlugin],
    order: Sequence[str],
    priority: int,
    wanted: int,
) -> DryRun:
    """Dry runs where only ``NodeResourcesFit`` reads the pods: over the columns, a chunk of nodes at once."""
    verdicts: list[FilterResult | None] = [
        None if isinstance(p, NodeResourcesFit) else p.filter(info, table) for p in active
    ]
    candidates: list[_Candidate] = []
    statuses: Counter[str] = Counter()
    evaluated = 0
    chunk = max(wanted, _CHUNK)
    for start in range(0, len(order), chunk):
        names = order[start : start + chunk]
        evaluated += len(names)
        found, counted = _columns_chunk(info, table, pods, active, verdicts, names, priority)
        statuses.update(counted)
        candidates.extend(found[: wanted - len(candidates)])
        if len(candidates) >= wanted:
            break
    return candidates, statuses, evaluated


def _columns_chunk(
    info: PodInfo,
    table: NodeTable,
    pods: NodePods,
    active: Sequence[FilterPlugin],
    verdicts: Sequence[FilterResult | None],
    names: Sequence[str],
    priority: int,
) -> tuple[list[_Candidate], Counter[str]]:
    rows = np.fromiter((table.index(name) for name in names), np.intp, len(names))
    lower = [[p for p in pods.on(name) if p.priority < priority] for name in names]
    placed = [p for group in lower for p in group]
    owner = np.fromiter((i for i, group in enumerate(lower) for _ in group), np.intp, len(placed))
    take = np.array(
        [(1, p.requests.milli_cpu, p.requests.memory, p.requests.ephemeral_storage) for p in placed], np.int64
    ).reshape(len(placed), 4)
    count = np.bincount(owner, minlength=len(names))
    # every lower-priority pod taken off its node
    used = np.stack(requested_columns(table))[:, rows]
    for k in range(4):
        np.subtract.at(used[k], owner, take[:, k])
    alloc = np.stack(allocatable_columns(table))[:, rows]

    # the first filter that still fails each node, in the profile's order
    failing = np.full(len(names), -1, np.intp)
    fit_code = fit_codes(info.requests, _columns(alloc), _columns(used))
    for i, result in enumerate(verdicts):
        failed = fit_code > 0 if result is None else _failed_rows(result, rows)
        failing = np.where((failing < 0) & failed, i, failing)
    fits = (count > 0) & (failing < 0)

    # reprieve, most important first: one rank of every fitting node's victims at a time
    seq = np.arange(len(placed))
    prio = np.fromiter((p.priority for p in placed), np.int64, len(placed))
    start = np.fromiter((p.start_time for p in placed), np.float64, len(placed))
    ranked = np.lexsort((seq, start, -prio, owner))
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    rank = np.empty(len(placed), np.intp)
    rank[ranked] = np.arange(len(placed)) - first[owner[ranked]]
    victim = np.zeros(len(placed), np.bool_)
    trying = fits[owner]
    for level in range(int(count[fits].max()) if fits.any() else 0):
        at = np.flatnonzero(trying & (rank == level))
        nodes = owner[at]
        back = used[:, nodes] + take[at].T
        ok = fit_codes(info.requests, _columns(alloc[:, nodes]), _columns(back)) == 0
        used[:, nodes[ok]] = back[:, ok]
        victim[at[~ok]] = True

    chosen = ranked[victim[ranked]]  # the victims, by node, most important first
    ends = np.cumsum(np.bincount(owner[victim], minlength=len(names)))
    found: list[_Candidate] = []
    statuses: Counter[str] = Counter()
    for i, name in enumerate(names):
        if not count[i]:
            statuses[core.PREEMPTION_NO_VICTIMS] += 1
        elif failing[i] >= 0:
            result = verdicts[failing[i]]
            reasons = FIT_REASONS[int(fit_code[i])] if result is None else result.reasons_at([rows[i]])[0]
            statuses.update(reasons)
        else:
            mine = chosen[(ends[i - 1] if i else 0) : ends[i]]
            if len(mine):
                found.append(_Candidate(name, tuple(placed[int(j)] for j in mine)))
            else:  # unreachable while the table and ``pods`` agree: taking nothing off fits no better
                statuses[core.PREEMPTION_NO_VICTIMS] += 1
    return found, statuses


def _columns(a: NDArray[np.int64]) -> Columns:
    """The four rows of a ``(pods, cpu, memory, ephemeral-storage) x nodes`` array."""
    return a[0], a[1], a[2], a[3]


def _failed_rows(result: FilterResult, rows: NDArray[np.intp]) -> NDArray[np.bool_]:
    if result.failed is None:
        return np.zeros(len(rows), np.bool_)
    failed: NDArray[np.bool_] = result.failed[rows]
    return failed


def _dry_run_on_table(
    info: PodInfo,
    table: NodeTable,
    pods: NodePods,
    active: Sequence[FilterPlugin],
    order: Sequence[str],
    priority: int,
    wanted: int,
) -> DryRun:
    """Dry runs for filters that read the pods in ways the columns do not: one node at a time, taking its
    lower-priority pods off the table, re-running every filter, then putting them back."""
    candidates: list[_Candidate] = []
    statuses: Counter[str] = Counter()
    evaluated = 0
    for name in order:
        evaluated += 1
        row = table.index(name)
        lower = [p for p in pods.on(name) if p.priority < priority]
        if row is None or not lower:
            statuses[core.PREEMPTION_NO_VICTIMS] += 1
            continue
        victims: list[PlacedPod] = []
        with _lifted(table) as lift:
            for placed in lower:
                lift.take_off(placed)
            still = _first_failure(info, table, active, row)
            if still is not None:
                statuses.update(still)
                continue
            ranked = sorted(enumerate(lower), key=lambda item: _importance(item[1], item[0]))
            for _, placed in ranked:
                lift.put_back(placed)
                if _first_failure(info, table, active, row) is not None:
                    lift.take_off(placed)
                    victims.append(placed)
        if victims:
            candidates.append(_Candidate(name, tuple(victims)))
            if len(candidates) >= wanted:
                break
        else:  # unreachable while the table and ``pods`` agree
            statuses[core.PREEMPTION_NO_VICTIMS] += 1
    return candidates, statuses, evaluated


def _first_failure(
    info: PodInfo, table: NodeTable, active: Sequence[FilterPlugin], row: int
) -> tuple[str, ...] | None:
    """The reasons of the first filter rejecting the node in ``row``, ``None`` when all pass."""
    for plugin in active:
        result = plugin.filter(info, table)
        if result.failed is not None and result.failed[row]:
            return result.reasons_at([row])[0]
    return None


class _Lift:
    """Pods taken off the table during a dry run, each with whether it was assumed."""

    def __init__(self, table: NodeTable) -> None:
        self.table = table
        self.off: dict[str, tuple[PlacedPod, bool]] = {}

    def take_off(self, placed: PlacedPod) -> None:
        assumed = self.table.is_assumed(placed.pod)
        if self.table.remove_pod(placed.pod):
            self.off[placed.key] = (placed, assumed)

    def put_back(self, placed: PlacedPod) -> None:
        entry = self.off.pop(placed.key, None)
        if entry is None:
            return
        if entry[1]:
            self.table.assume(placed.pod, placed.node)
        else:
            self.table.add_pod(placed.pod, placed.node)


@contextlib.contextmanager
def _lifted(table: NodeTable) -> Iterator[_Lift]:
    """A dry run's lift: whatever is still off the table at the end goes back, whatever happened."""
    lift = _Lift(table)
    try:
        yield lift
    finally:
        for placed, _ in list(lift.off.values()):
            lift.put_back(placed)
