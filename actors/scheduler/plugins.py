"""kube-scheduler's (v1.31) filter and score plugins, each vectorised over a ``NodeTable``.

A filter takes the pod and answers, for every row of the table at once (free rows included, the caller
ignores them), whether the node fails (``FilterResult.failed``, a few operations over contiguous columns, no
per-node Python); which of its reasons applies is only worked out for the failing rows a message needs
(``FilterResult.codes`` indexes ``FilterResult.reasons``). A score plugin takes the rows of the feasible
nodes and answers a 0..100 score for each, already normalised as upstream's ``NormalizeScore`` does over the
feasible nodes. Label and taint checks loop over requirements, tolerations and distinct taints, never over
nodes. What each plugin emulates, with upstream's wording:

* ``NodeUnschedulable``: ``spec.unschedulable`` nodes fail with "node(s) were unschedulable" unless the pod
  tolerates the taint ``node.kubernetes.io/unschedulable:NoSchedule``.
* ``NodeName``: a pod with ``spec.nodeName`` fits only that node: "node(s) didn't match the requested node
  name".
* ``TaintToleration``: the first ``NoSchedule``/``NoExecute`` taint (in the node's order) that no toleration
  tolerates fails the node with "node(s) had untolerated taint {key: value}". Scores count the
  ``PreferNoSchedule`` taints not tolerated by the pod's tolerations whose effect is empty or
  ``PreferNoSchedule``, normalised reversed (fewer is better).
* ``NodeAffinity``: ``spec.nodeSelector`` (every pair must match) and the required node affinity terms
  (ORed; a term's ``matchExpressions`` and ``matchFields`` ANDed; empty terms ignored; a term with an
  invalid requirement never matches) fail with "node(s) didn't match Pod's node affinity/selector". Its
  PreFilter narrows the search to the names of ``matchFields: metadata.name In`` when every term has one, or
  rejects the pod with "pod affinity terms conflict" when they do not intersect. Scores sum the weights of
  the matching preferred terms, normalised so the best node gets 100.
* ``NodeResourcesFit``: "Too many pods", "Insufficient cpu", "Insufficient memory", "Insufficient
  ephemeral-storage" (all that apply, in that order; a resource the pod requests none of is not checked).
  Scores use the non-zero requests with the ``LeastAllocated`` (default) or ``MostAllocated`` strategy,
  cpu and memory weighing 1 each, integer arithmetic as upstream.
* ``NodeResourcesBalancedAllocation``: ``(1 - std of the requested/allocatable fractions) * 100``,
  truncated, over cpu and memory by default, using the plain requests; float64 arithmetic in upstream's
  order, so results match to the unit.
* ``PodTopologySpread``: for each ``whenUnsatisfiable: DoNotSchedule`` constraint in order, a node without
  the topology key fails with "node(s) didn't match pod topology spread constraints (missing required
  label)", one where ``pods matching in its domain + 1 if the pod matches itself - the global minimum``
  exceeds ``maxSkew`` with "node(s) didn't match pod topology spread constraints". Pods are counted in the
  pod's namespace, terminating ones left out, an empty selector counting none; domains are the values of
  the nodes that have every constraint's key and pass the constraint's ``nodeAffinityPolicy`` (default
  ``Honor``: the pod's nodeSelector and required node affinity) and ``nodeTaintsPolicy`` (default
  ``Ignore``; ``Honor``: no untolerated ``NoSchedule``/``NoExecute`` taint); the minimum reads 0 while there
  are fewer domains than ``minDomains``; a constraint with no domain at all is skipped, as upstream.
  ``matchLabelKeys`` adds the pod's values of those keys to the selector. Scores, over ``ScheduleAnyway``
  constraints, add per constraint ``count * ln(domains + 2) + maxSkew - 1`` (per node for the hostname key),
  rounded as ``math.Round``, then normalise reversed, ``100 * (max + min - s) / max`` (fewer matching pods
  score higher); with explicit constraints a feasible node lacking a key scores 0. A pod without constraints
  gets the system defaults (``defaultingType: System``: hostname maxSkew 3, zone maxSkew 5, both
  ``ScheduleAnyway``, not requiring every key), selecting the pods with the same controller.
* ``InterPodAffinity``: a node fails with "node(s) didn't match pod affinity rules" unless it has every
  required affinity term's topology key and, in each term's domain, a pod matching all the terms (or no pod
  matches them anywhere and the pod matches them itself: the first of a group with affinity to itself);
  then with "node(s) didn't match pod anti-affinity rules" when a pod matching a required anti-affinity term
  is in its domain; then with "node(s) didn't satisfy existing pods anti-affinity rules" when an existing
  pod's required anti-affinity term matches the pod and the node shares that pod's domain. A term selects by
  ``labelSelector`` (absent: nothing) in ``namespaces`` and in the namespaces whose labels its
  ``namespaceSelector`` matches (``{}``: all namespaces); with neither, in the owning pod's own namespace.
  Namespace labels are an input of the cycle (``PodInfo.namespace_labels``). Scores sum, per node, the
  weights of the preferred terms matching pods in its domains (anti-affinity subtracting), plus for the
  existing pods' terms that match the pod: required affinity ``hardPodAffinityWeight`` (1), preferred
  affinity ``+weight``, preferred anti-affinity ``-weight``; normalised min-max,
  ``int(100 * (s - min) / (max - min))``.

The two inter-pod plugins never walk pods or nodes in Python: the table keeps pods as columns (a selector is
a few comparisons over every pod slot, ``np.bincount`` gives pods per node) and interns the existing pods'
terms with their per-node counts; pods per node become pods per topology domain with a ``bincount`` over the
node label column's codes, mapped back to nodes by indexing. The loops are over terms, constraints and the
existing terms that can match the pod (indexed by a label value their selector pins).

Every filter but ``NodeResourcesFit``, ``PodTopologySpread`` and ``InterPodAffinity`` rejects as
``UnschedulableAndUnresolvable`` (preemption cannot help); ``NodeResourcesFit`` as ``Unschedulable`` (v1.31;
v1.34 made it unresolvable when the pod exceeds the node's allocatable outright). The inter-pod plugins
return either, by reason: only a pod affinity miss and a missing topology label are unresolvable
(``FilterResult.unresolvable_codes``), which ``core`` and ``preemption`` read. ``reads_pods`` says whether
a filter's verdict can change when pods leave a node: preemption re-runs those filters on what is left.
``memo_key`` names, for a filter that judges a row by that row alone and for a score of a row alone, what
else the answer depends on (the pod's requests, selectors or tolerations): ``core`` then lets the table keep
the answers per row (``NodeTable.memo``) and compute them again only for the rows that changed.

The default profile is upstream's default plugin set (``getDefaultPlugins``, less the queue-sort, gating
and binding plugins), in its order and with its score weights (``DEFAULT_PLUGINS``, ``DEFAULT_WEIGHTS``);
names not implemented here (``NodePorts``, the volume plugins, ``ImageLocality``) are skipped, and
``default_profile(extra=...)`` slots an implementation in at its upstream position with its upstream weight.

Deviations: preferred terms that do not parse are ignored (upstream fails the scheduling cycle); the
``RequestedToCapacityRatio`` strategy, extended resources (in filters and scores) and
``NodeAffinityArgs.addedAffinity`` are not supported; scores may name cpu, memory and ephemeral-storage.
Pod (anti-)affinity terms and spread selectors that do not parse select nothing (upstream rejects the pod or
fails the cycle). Without namespace labels (neither the cycle's nor those given to ``InterPodAffinity``) every
namespace reads as unlabelled: ``namespaceSelector: {}`` still means all namespaces, a non-empty one only
those it matches without labels. The system default spreading selects the pods with the same controlling
ReplicaSet, StatefulSet or ReplicationController (by ``ownerReferences`` uid), not the union of the
selectors of the pod's Services and controller: pods selected only by a Service are not spread by default.
``PreFilter`` skips and ``PreScore`` skips are read off the outcome (a plugin with nothing to say contributes
nothing); the preemption-time ``AddPod``/``RemovePod`` extensions are not needed, as the filters
read the table afresh after ``preemption`` takes pods off it.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from actors.scheduler.resources import Resources, pod_resources
from actors.scheduler.table import (
    ALL_ROWS,
    CONTROLLER_KEY,
    NO_AFFINITY,
    NO_EXECUTE,
    NO_SCHEDULE,
    PREFER_NO_SCHEDULE,
    PREFERRED_AFFINITY,
    PREFERRED_ANTI_AFFINITY,
    REQUIRED_AFFINITY,
    REQUIRED_ANTI_AFFINITY,
    AffinityTerm,
    NodeTable,
    PodAffinityTerms,
    Rows,
    controller_uid,
    parse_int64,
    parse_pod_affinity,
)
from kube import labels
from kube.errors import SelectorError

MAX_NODE_SCORE = 100
UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
OBJECT_NAME_FIELD = "metadata.name"

ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_REASON_NODE_NAME = "node(s) didn't match the requested node name"
ERR_REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_AFFINITY_CONFLICT = "pod affinity terms conflict"
ERR_REASON_TOO_MANY_PODS = "Too many pods"
ERR_REASON_CPU = "Insufficient cpu"
ERR_REASON_MEMORY = "Insufficient memory"
ERR_REASON_EPHEMERAL = "Insufficient ephemeral-storage"
ERR_REASON_POD_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_SPREAD = "node(s) didn't match pod topology spread constraints"
ERR_REASON_SPREAD_LABEL = ERR_REASON_SPREAD + " (missing required label)"

HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HARD_POD_AFFINITY_WEIGHT = 1
"""``InterPodAffinityArgs.hardPodAffinityWeight``'s default."""
SYSTEM_DEFAULT_CONSTRAINTS: tuple[tuple[str, int], ...] = ((HOSTNAME_LABEL, 3), (ZONE_LABEL, 5))
"""PodTopologySpread's ``systemDefaultConstraints`` (topology key, maxSkew), all ``ScheduleAnyway``."""

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"


def untolerated_taint_reason(key: str, value: str) -> str:
    """``TaintToleration``'s reason, as upstream formats it."""
    return f"node(s) had untolerated taint {{{key}: {value}}}"


# --- the pod, parsed once per scheduling cycle --------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Toleration:
    """A ``spec.tolerations`` entry; ``operator`` empty means ``Equal``."""

    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Toleration:
        return cls(
            key=str(raw.get("key") or ""),
            operator=str(raw.get("operator") or ""),
            value=str(raw.get("value") or ""),
            effect=str(raw.get("effect") or ""),
        )

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        """upstream's ``Toleration.ToleratesTaint``: an empty effect matches every effect, an empty key with
        ``Exists`` every taint."""
        if self.effect and self.effect != effect:
            return False
        if self.key and self.key != key:
            return False
        if self.operator in ("", "Equal"):
            return self.value == value
        return self.operator == "Exists"


def tolerated(tolerations: Sequence[Toleration], key: str, value: str, effect: str) -> bool:
    """Whether any toleration tolerates the taint (``TolerationsTolerateTaint``)."""
    return any(t.tolerates(key, value, effect) for t in tolerations)


@dataclasses.dataclass(frozen=True, slots=True)
class LabelRequirement:
    """A checked ``matchExpressions`` entry; ``bound`` is the integer of ``Gt``/``Lt``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()
    bound: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class FieldRequirement:
    """A checked ``matchFields`` entry: ``key`` equals (``In``) or differs from (``NotIn``) ``value``."""

    key: str
    equal: bool
    value: str


@dataclasses.dataclass(frozen=True, slots=True)
class SelectorTerm:
    """A ``NodeSelectorTerm``; ``valid`` is false when a requirement does not parse: it never matches."""

    expressions: tuple[LabelRequirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()
    valid: bool = True

    def mask(self, table: NodeTable, rows: Rows = ALL_ROWS) -> NDArray[np.bool_]:
        """Which of ``rows`` (by default all ``table.capacity`` rows) the term matches."""
        result = _filled(table, rows, self.valid)
        if not self.valid:
            return result
        for req in self.expressions:
            result &= _requirement_mask(table, req, rows)
        for field in self.fields:
            result &= _field_mask(table, field, rows)
        return result


_OPERATORS = {
    "In": labels.Operator.IN,
    "NotIn": labels.Operator.NOT_IN,
    "Exists": labels.Operator.EXISTS,
    "DoesNotExist": labels.Operator.DOES_NOT_EXIST,
    "Gt": labels.Operator.GREATER_THAN,
    "Lt": labels.Operator.LESS_THAN,
}


def compile_term(raw: Mapping[str, Any]) -> SelectorTerm | None:
    """A ``NodeSelectorTerm`` checked as upstream's ``newNodeSelectorTerm``; ``None`` for an empty term."""
    expressions: Sequence[Mapping[str, Any]] = raw.get("matchExpressions") or ()
    fields: Sequence[Mapping[str, Any]] = raw.get("matchFields") or ()
    if not expressions and not fields:
        return None
    reqs: list[LabelRequirement] = []
    valid = True
    for expr in expressions:
        op = _OPERATORS.get(str(expr.get("operator") or ""))
        key = str(expr.get("key") or "")
        values = [str(v) for v in expr.get("values") or ()]
        if op is None:
            valid = False
            continue
        try:
            labels.requirement(key, op, values)
        except SelectorError:
            valid = False
            continue
        bound = 0
        if op in (labels.Operator.GREATER_THAN, labels.Operator.LESS_THAN):
            bound = parse_int64(values[0]) or 0
        reqs.append(
            LabelRequirement(key=key, operator=str(expr.get("operator")), values=tuple(values), bound=bound)
        )
    field_reqs: list[FieldRequirement] = []
    for expr in fields:
        op_name = expr.get("operator")
        values = [str(v) for v in expr.get("values") or ()]
        if op_name not in ("In", "NotIn") or len(values) != 1:
            valid = False
            continue
        field_reqs.append(
            FieldRequirement(key=str(expr.get("key") or ""), equal=op_name == "In", value=values[0])
        )
    return SelectorTerm(expressions=tuple(reqs), fields=tuple(field_reqs), valid=valid)


def _filled(table: NodeTable, rows: Rows, value: bool) -> NDArray[np.bool_]:
    """``value`` for each of ``rows`` (an array the size of the rows, not of the table: see ``core``'s
    ``SEARCH_WINDOW``)."""
    return np.full(table.live[rows].shape, value, np.bool_)


def _requirement_mask(table: NodeTable, req: LabelRequirement, rows: Rows) -> NDArray[np.bool_]:
    op = req.operator
    if op == "In":
        return table.label_in(req.key, req.values, rows)
    if op == "NotIn":
        return ~table.label_in(req.key, req.values, rows)
    if op == "Exists":
        return table.label_exists(req.key, rows)
    if op == "DoesNotExist":
        return ~table.label_exists(req.key, rows)
    return table.label_compare(req.key, req.bound, op == "Gt", rows)


def _field_mask(table: NodeTable, req: FieldRequirement, rows: Rows) -> NDArray[np.bool_]:
    if req.key != OBJECT_NAME_FIELD:  # a node has no other field: it reads as ""
        return _filled(table, rows, (req.value == "") == req.equal)
    same = np.zeros(table.capacity, np.bool_)
    row = table.index(req.value)
    if row is not None:
        same[row] = True
    picked: NDArray[np.bool_] = same[rows] if req.equal else ~same[rows]
    return picked


@dataclasses.dataclass(frozen=True, slots=True)
class SpreadConstraint:
    """A ``topologySpreadConstraints`` entry as upstream's ``topologySpreadConstraint``: the selector has
    ``matchLabelKeys`` merged in; ``honor_node_affinity`` / ``honor_node_taints`` are the node inclusion
    policies (``Honor`` and ``Ignore`` by default)."""

    max_skew: int
    topology_key: str
    selector: labels.Selector
    min_domains: int = 1
    honor_node_affinity: bool = True
    honor_node_taints: bool = False


def spread_constraints(
    raw: Sequence[Mapping[str, Any]], pod_labels: Mapping[str, str], action: str
) -> tuple[SpreadConstraint, ...]:
    """The constraints whose ``whenUnsatisfiable`` is ``action`` (``filterTopologySpreadConstraints``).

    A selector that does not parse selects nothing (upstream fails the scheduling cycle instead).
    """
    result: list[SpreadConstraint] = []
    for c in raw:
        if c.get("whenUnsatisfiable") != action:
            continue
        try:
            selector = labels.from_label_selector(c.get("labelSelector"))
        except SelectorError:
            selector = labels.NOTHING
        pinned = {k: pod_labels[k] for k in c.get("matchLabelKeys") or () if k in pod_labels}
        if pinned and not selector.nothing:  # mergeLabelSetWithSelector keeps labels.Nothing() as is
            merged = labels.from_set(pinned).requirements + selector.requirements
            selector = labels.Selector(requirements=merged)
        min_domains = c.get("minDomains")
        result.append(
            SpreadConstraint(
                max_skew=int(c.get("maxSkew") or 0),
                topology_key=str(c.get("topologyKey") or ""),
                selector=selector,
                min_domains=1 if min_domains is None else int(min_domains),
                honor_node_affinity=(c.get("nodeAffinityPolicy") or "Honor") == "Honor",
                honor_node_taints=(c.get("nodeTaintsPolicy") or "Ignore") == "Honor",
            )
        )
    return tuple(result)


def controller_selector(uid: str) -> labels.Selector:
    """The selector of the pods controlled by the same ReplicaSet/StatefulSet/ReplicationController."""
    return labels.Selector(
        requirements=(labels.Requirement(key=CONTROLLER_KEY, operator=labels.Operator.IN, values=(uid,)),)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class PodInfo:
    """What the plugins read of a pod, parsed once per cycle."""

    name: str
    namespace: str
    requests: Resources
    non_zero: Resources
    node_name: str = ""
    nominated_node: str = ""
    tolerations: tuple[Toleration, ...] = ()
    node_selector: Mapping[str, str] | None = None
    required_terms: tuple[SelectorTerm, ...] | None = None
    required_raw: tuple[Mapping[str, Any], ...] | None = None
    preferred_terms: tuple[tuple[SelectorTerm, int], ...] | None = None
    preempt_never: bool = False
    pod_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    pod_affinity: PodAffinityTerms = NO_AFFINITY
    spread_hard: tuple[SpreadConstraint, ...] = ()
    spread_soft: tuple[SpreadConstraint, ...] = ()
    spread_explicit: bool = False
    controller: str | None = None
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None
    """The cluster's namespaces and their labels at this cycle (the scheduler's namespace informer), which
    ``InterPodAffinity`` reads for ``namespaceSelector``; ``None``: not known (see ``InterPodAffinity``)."""

    @property
    def affinity_namespace(self) -> str:
        """The namespace the inter-pod plugins read (``default`` when unset, as the table does)."""
        return self.namespace or "default"

    @classmethod
    def from_pod(
        cls, pod: Mapping[str, Any], *, namespace_labels: Mapping[str, Mapping[str, str]] | None = None
    ) -> PodInfo:
        meta: Mapping[str, Any] = pod.get("metadata") or {}
        spec: Mapping[str, Any] = pod.get("spec") or {}
        status: Mapping[str, Any] = pod.get("status") or {}
        selector = spec.get("nodeSelector")
        node_affinity: Mapping[str, Any] = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        required_terms: tuple[SelectorTerm, ...] | None = None
        required_raw: tuple[Mapping[str, Any], ...] | None = None
        if required is not None:
            required_raw = tuple(required.get("nodeSelectorTerms") or ())
            required_terms = tuple(t for t in map(compile_term, required_raw) if t is not None)
        preferred = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
        preferred_terms: tuple[tuple[SelectorTerm, int], ...] | None = None
        if preferred is not None:
            parsed: list[tuple[SelectorTerm, int]] = []
            for entry in preferred:
                weight = int(entry.get("weight") or 0)
                term = compile_term(entry.get("preference") or {})
                if weight and term is not None and term.valid:
                    parsed.append((term, weight))
            preferred_terms = tuple(parsed)
        pod_labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        spread: Sequence[Mapping[str, Any]] = spec.get("topologySpreadConstraints") or ()
        requests, non_zero = pod_resources(pod)
        return cls(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            requests=requests,
            non_zero=non_zero,
            node_name=str(spec.get("nodeName") or ""),
            nominated_node=str(status.get("nominatedNodeName") or ""),
            tolerations=tuple(map(Toleration.from_dict, spec.get("tolerations") or ())),
            node_selector=None if selector is None else {str(k): str(v) for k, v in selector.items()},
            required_terms=required_terms,
            required_raw=required_raw,
            preferred_terms=preferred_terms,
            preempt_never=spec.get("preemptionPolicy") == "Never",
            pod_labels=pod_labels,
            pod_affinity=parse_pod_affinity(pod),
            spread_hard=spread_constraints(spread, pod_labels, DO_NOT_SCHEDULE) if spread else (),
            spread_soft=spread_constraints(spread, pod_labels, SCHEDULE_ANYWAY) if spread else (),
            spread_explicit=bool(spread),
            controller=controller_uid(pod),
            namespace_labels=namespace_labels,
        )


# --- plugin interfaces -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PreFilterResult:
    """A PreFilter's answer: skip the plugin's filter, narrow the nodes to ``node_names``, or reject."""

    skip: bool = False
    node_names: frozenset[str] | None = None
    rejection: str | None = None


PASS = PreFilterResult()
SKIP = PreFilterResult(skip=True)


@dataclasses.dataclass(frozen=True, slots=True)
class FilterResult:
    """A filter's verdict on every table row.

    ``failed`` marks the rows the plugin rejects (``None``: none); ``code_of`` maps failing rows to indexes
    into ``reasons``, each the reasons of that node's status (``None``: always the first).
    ``unresolvable_codes``, for a plugin whose statuses differ by reason, names the codes upstream returns
    as ``UnschedulableAndUnresolvable`` (``None``: the plugin's ``unresolvable`` says for all of them).
    """

    failed: NDArray[np.bool_] | None = None
    reasons: Sequence[tuple[str, ...]] = ()
    code_of: Callable[[NDArray[np.intp]], NDArray[np.intp]] | None = None
    unresolvable_codes: frozenset[int] | None = None

    def codes(self, rows: NDArray[np.intp]) -> NDArray[np.intp]:
        """Per row given: ``-1`` when the node passes, else its index into ``reasons``."""
        out = np.full(len(rows), -1, np.intp)
        if self.failed is None:
            return out
        hit = self.failed[rows]
        if self.code_of is None:
            out[hit] = 0
        else:
            out[hit] = self.code_of(rows[hit])
        return out

    def reasons_at(self, rows: Sequence[int]) -> list[tuple[str, ...]]:
        """Per row given: its status' reasons, ``()`` when it passes."""
        codes = self.codes(np.asarray(rows, np.intp))
        return [() if c < 0 else tuple(self.reasons[c]) for c in codes.tolist()]


class Plugin:
    """A named plugin; a class implements ``FilterPlugin``, ``ScorePlugin`` or both."""

    name: str = ""


class FilterPlugin(Plugin, abc.ABC):
    """A PreFilter + Filter plugin."""

    unresolvable: bool = True
    """Whether a rejection is ``UnschedulableAndUnresolvable`` (preemption cannot help)."""

    reads_pods: bool = True
    """Whether the verdict depends on the pods already on nodes, so that evicting some may change it (the
    node-only plugins say no; a plugin that does not say is assumed to). Preemption re-runs such filters."""

    judges_rows: bool = False
    """Whether ``filter_rows`` judges just the rows asked, cheaper than ``filter`` judges them all."""

    def memo_key(self, pod: PodInfo) -> Hashable | None:
        """For a plugin that ``judges_rows``: a key such that a row's verdict depends on that row and the key
        alone (on the node's columns, and on the pods on it if ``reads_pods``), so that verdicts can be kept
        per key and row (``NodeTable.memo``); ``None``: not so."""
        return None

    def pre_filter(self, pod: PodInfo, table: NodeTable) -> PreFilterResult:
        return PASS

    @abc.abstractmethod
    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        """The verdict on every row of the table (``table.capacity`` of them)."""

    def filter_rows(self, pod: PodInfo, table: NodeTable, rows: Rows) -> NDArray[np.bool_] | None:
        """Which of ``rows`` (row indices, or a slice of rows) the plugin rejects, as
        ``filter(...).failed[rows]`` (``None``: none of them): what a search that stops once it found enough
        nodes asks."""
        failed = self.filter(pod, table).failed
        return None if failed is None else failed[rows]


class ScorePlugin(Plugin, abc.ABC):
    """A PreScore + Score + NormalizeScore plugin."""

    scores_rows_alone: bool = False
    """Whether a row's score depends on that row alone (nothing is normalised over the rows scored), so
    that scoring the rows in parts gives the same scores."""

    def memo_key(self, pod: PodInfo) -> Hashable | None:
        """For a plugin that ``scores_rows_alone``: a key such that a row's score depends on that row (its
        node and the pods on it) and the key alone, so that scores can be kept per key and row
        (``NodeTable.memo``); ``None``: not so. A filter that scores too answers one key for both."""
        return None

    @abc.abstractmethod
    def score(self, pod: PodInfo, table: NodeTable, rows: NDArray[np.intp]) -> NDArray[np.int64] | None:
        """0..100 per row (normalised over these rows), or ``None`` when PreScore skips the plugin."""


def _single(failed: NDArray[np.bool_], reason: str) -> FilterResult:
    return FilterResult(failed=failed, reasons=((reason,),))


def default_normalize(scores: NDArray[np.int64], reverse: bool) -> NDArray[np.int64]:
    """upstream's ``helper.DefaultNormalizeScore`` (integer division by the maximum)."""
    top = int(scores.max()) if len(scores) else 0
    if top == 0:
        if reverse:
            return np.full(len(scores), MAX_NODE_SCORE, np.int64)
        return scores
    normalised = MAX_NODE_SCORE * scores // top
    return MAX_NODE_SCORE - normalised if reverse else normalised


# --- filters -----------------------------------------------------------------------------------------------


class NodeUnschedulable(FilterPlugin):
    name = "NodeUnschedulable"
    reads_pods = False
    judges_rows = True

    def pre_filter(self, pod: PodInfo, table: NodeTable) -> PreFilterResult:
        if tolerated(pod.tolerations, UNSCHEDULABLE_TAINT_KEY, "", NO_SCHEDULE):
            return SKIP
        return PASS

    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        return _single(table.unschedulable, ERR_REASON_UNSCHEDULABLE)

    def filter_rows(self, pod: PodInfo, table: NodeTable, rows: Rows) -> NDArray[np.bool_] | None:
        if not table.any_unschedulable():
            return None
        failed: NDArray[np.bool_] = table.unschedulable[rows]
        return failed


class NodeName(FilterPlugin):
    name = "NodeName"
    reads_pods = False
    judges_rows = True

    def pre_filter(self, pod: PodInfo, table: NodeTable) -> PreFilterResult:
        return PASS if pod.node_name else SKIP

    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        failed = np.ones(table.capacity, np.bool_)
        target = table.index(pod.node_name)
        if target is not None:
            failed[target] = False
        return _single(failed, ERR_REASON_NODE_NAME)

    def filter_rows(self, pod: PodInfo, table: NodeTable, rows: Rows) -> NDArray[np.bool_] | None:
        target = table.index(pod.node_name)
        indices = np.arange(*rows.indices(table.capacity)) if isinstance(rows, slice) else rows
        failed: NDArray[np.bool_] = indices != (-1 if target is None else target)
        return failed


def untolerated_taints(
    table: NodeTable, tolerations: Sequence[Toleration], effects: set[str]
) -> NDArray[np.bool_]:
    """Per taint id + 1 (0 = no taint): an effect in ``effects`` that no toleration tolerates."""
    bad = np.zeros(len(table.taint_keys) + 1, np.bool_)
    for i, (key, value, effect) in enumerate(
        zip(table.taint_keys, table.taint_values, table.taint_effects, strict=True)
    ):
        if effect in effects and not tolerated(tolerations, key, value, effect):
            bad[i + 1] = True
    return bad


class TaintToleration(FilterPlugin, ScorePlugin):
    name = "TaintToleration"
    reads_pods = False
    judges_rows = True

    def pre_filter(self, pod: PodInfo, table: NodeTable) -> PreFilterResult:
        return PASS if table.taint_keys else SKIP

    def _untolerated(
        self, table: NodeTable, tolerations: Sequence[Toleration], effects: set[str]
    ) -> NDArray[np.bool_]:
        return untolerated_taints(table, tolerations, effects)

    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        bad = self._untolerated(table, pod.tolerations, {NO_SCHEDULE, NO_EXECUTE})
        if not bad.any():
            return FilterResult()
        slots = table.taint_slots
        failed: NDArray[np.bool_] = np.any(bad[slots], axis=1)

        def first_untolerated(rows: NDArray[np.intp]) -> NDArray[np.intp]:
            mine = slots[rows]
            first = bad[mine].argmax(axis=1)
            ids: NDArray[np.intp] = mine[np.arange(len(rows)), first].astype(np.intp) - 1
            return ids

        pairs = zip(table.taint_keys, table.taint_values, strict=True)
        reasons = [(untolerated_taint_reason(k, v),) for k, v in pairs]
        return FilterResult(failed=failed, reasons=reasons, code_of=first_untolerated)

    def memo_key(self, pod: PodInfo) -> Hashable | None:
        return type(self), pod.tolerations

    def filter_rows(self, pod: PodInfo, table: NodeTable, rows: Rows) -> NDArray[np.bool_] | None:
        bad = self._untolerated(table, pod.tolerations, {NO_SCHEDULE, NO_EXECUTE})
        if not bad.any():
            return None
        failed: NDArray[np.bool_] = np.any(bad[table.taint_slots[rows]], axis=1)
        return failed

    def score(self, pod: PodInfo, table: NodeTable, rows: NDArray[np.intp]) -> NDArray[np.int64] | None:
        if not table.taint_keys:  # no node has a taint: every node scores the maximum
            return np.full(len(rows), MAX_NODE_SCORE, np.int64)
        prefer = [t for t in pod.tolerations if t.effect in ("", PREFER_NO_SCHEDULE)]
        bad = self._untolerated(table, prefer, {PREFER_NO_SCHEDULE})
        if not bad.any():
            counts = np.zeros(len(rows), np.int64)
        else:
            counts = bad[table.taint_slots[rows]].sum(axis=1, dtype=np.int64)
        return default_normalize(counts, reverse=True)


class NodeAffinity(FilterPlugin, ScorePlugin):
    name = "NodeAffinity"
    reads_pods = False
    judges_rows = True

    def pre_filter(self, pod: PodInfo, table: NodeTable) -> PreFilterResult:
        if pod.required_raw is None and pod.node_selector is None:
            return SKIP
        if not pod.required_raw:
            return PASS
        names: set[str] = set()
        for term in pod.required_raw:
            term_names: set[str] | None = None
            for field in term.get("matchFields") or ():
                if field.get("key") == OBJECT_NAME_FIELD and field.get("operator") == "In":
                    values = {str(v) for v in field.get("values") or ()}
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                return PASS  # a term without a name constraint lets every node through
            names |= term_names
        if not names:
            return PreFilterResult(rejection=ERR_REASON_AFFINITY_CONFLICT)
        return PreFilterResult(node_names=frozenset(names))

    def required_mask(self, pod: PodInfo, table: NodeTable, rows: Rows = ALL_ROWS) -> NDArray[np.bool_]:
        """Which of ``rows`` (by default all ``table.capacity`` rows) match the nodeSelector and the
        required terms."""
        mask = _filled(table, rows, True)
        for key, value in (pod.node_selector or {}).items():
            mask &= table.label_equals(key, value, rows)
        if pod.required_terms is not None:
            anyterm = np.zeros(len(mask), np.bool_)
            for term in pod.required_terms:
                anyterm |= term.mask(table, rows)
            mask &= anyterm
        return mask

    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        return _single(~self.required_mask(pod, table), ERR_REASON_NODE_AFFINITY)

    def memo_key(self, pod: PodInfo) -> Hashable | None:
        return type(self), tuple((pod.node_selector or {}).items()), pod.required_terms

    def filter_rows(self, pod: PodInfo, table: NodeTable, rows: Rows) -> NDArray[np.bool_] | None:
        failed: NDArray[np.bool_] = ~self.required_mask(pod, table, rows)
        return failed

    def score(self, pod: PodInfo, table: NodeTable, rows: NDArray[np.intp]) -> NDArray[np.int64] | None:
        if pod.preferred_terms is None:
            return None
        raw = np.zeros(len(rows), np.int64)
        for term, weight in pod.preferred_terms:
            raw += np.where(term.mask(table, rows), weight, 0)
        return default_normalize(raw, reverse=False)


FIT_REASONS: tuple[tuple[str, ...], ...] = tuple(
    tuple(
        reason
        for bit, reason in enumerate(
            (ERR_REASON_TOO_MANY_PODS, ERR_REASON_CPU, ERR_REASON_MEMORY, ERR_REASON_EPHEMERAL)
        )
        if code & (1 << bit)
    )
    for code in range(16)
)
"""``NodeResourcesFit``'s reasons by the code ``fit_codes`` gives (bit 0 pods, 1 cpu, 2 memory, 3 storage)."""

Columns = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]
"""Per-node amounts of pods, millicores, memory bytes and ephemeral-storage bytes."""


def fit_codes(requests: Resources, allocatable: Columns, requested: Columns) -> NDArray[np.intp]:
    """Per node, ``NodeResourcesFit``'s verdict on a pod (upstream's ``fitsRequest``): an index into
    ``FIT_REASONS``, 0 when it fits. One more pod must not exceed the allocatable pods; a resource the pod
    requests none of is not checked. Preemption calls it with the requests of the pods it would evict taken
    off."""
    alloc_pods, alloc_cpu, alloc_memory, alloc_ephemeral = allocatable
    used_pods, used_cpu, used_memory, used_ephemeral = requested
    codes: NDArray[np.intp] = (used_pods >= alloc_pods).astype(np.intp)
    for bit, want, alloc, used in (
        (2, requests.milli_cpu, alloc_cpu, used_cpu),
        (4, requests.memory, alloc_memory, used_memory),
        (8, requests.ephemeral_storage, alloc_ephemeral, used_ephemeral),
    ):
        if want > 0:
            codes |= (alloc - used < want).astype(np.intp) * bit
    return codes


def allocatable_columns(table: NodeTable) -> Columns:
    """The table's allocatable pods, cpu, memory and ephemeral-storage, per row."""
    return table.alloc_pods, table.alloc_cpu, table.alloc_memory, table.alloc_ephemeral


def requested_columns(table: NodeTable) -> Columns:
    """What the pods on each row request (pods, cpu, memory, ephemeral-storage), per row."""
    return table.req_pods, table.req_cpu, table.req_memory, table.req_ephemeral


def _allocated(
    table: NodeTable, rows: NDArray[np.intp], resource: str, pod_amount: int, use_requested: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(allocatable, requested including the pod) per row, as ``calculateResourceAllocatableRequest``."""
    if resource == "cpu":
        alloc, used = table.alloc_cpu, table.req_cpu if use_requested else table.nz_cpu
    elif resource == "memory":
        alloc, used = table.alloc_memory, table.req_memory if use_requested else table.nz_memory
    elif resource == "ephemeral-storage":
        alloc, used = table.alloc_ephemeral, table.req_ephemeral
    else:
        raise ValueError(f"resource {resource!r} is not scored here")
    return alloc[rows], used[rows] + pod_amount


def _check_resources(names: Sequence[str]) -> None:
    for name in names:
        if name not in _SCORED:
            raise ValueError(f"resource {name!r} is not scored here (only {', '.join(_SCORED)})")


_SCORED = ("cpu", "memory", "ephemeral-storage")


_AMOUNT_FIELDS = {"cpu": "milli_cpu", "memory": "memory", "ephemeral-storage": "ephemeral_storage"}


def _pod_amount(resources: Resources, resource: str) -> int:
    amount: int = getattr(resources, _AMOUNT_FIELDS[resource])
    return amount


class NodeResourcesFit(FilterPlugin, ScorePlugin):
    name = "NodeResourcesFit"
    unresolvable = False
    judges_rows = True
    scores_rows_alone = True

    def __init__(
        self,
        strategy: str = LEAST_ALLOCATED,
        resources: Sequence[tuple[str, int]] = (("cpu", 1), ("memory", 1)),
    ) -> None:
        if strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"scoring strategy {strategy!r} is not supported")
        _check_resources([name for name, _ in resources])
        self.strategy = strategy
        self.resources = tuple(resources)

    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        # which rows fail, as ``fit_codes(...) > 0`` in fewer array operations; the codes (which resources
        # are short) only for the rows a message needs, read from the table as it is then
        requests = pod.requests
        failed = self.filter_rows(pod, table, slice(None))
        assert failed is not None

        def insufficient(rows: NDArray[np.intp]) -> NDArray[np.intp]:
            alloc = allocatable_columns(table)
            used = requested_columns(table)
            return fit_codes(
                requests,
                (alloc[0][rows], alloc[1][rows], alloc[2][rows], alloc[3][rows]),
                (used[0][rows], used[1][rows], used[2][rows], used[3][rows]),
            )

        return FilterResult(failed=failed, reasons=FIT_REASONS, code_of=insufficient)

    def memo_key(self, pod: PodInfo) -> Hashable | None:
        # the filter reads the requests, the scores the non-zero requests: one key for either
        return type(self), self.strategy, self.resources, pod.requests, pod.non_zero

    def filter_rows(self, pod: PodInfo, table: NodeTable, rows: Rows) -> NDArray[np.bool_] | None:
        requests = pod.requests
        failed: NDArray[np.bool_] = table.req_pods[rows] >= table.alloc_pods[rows]
        for want, alloc, used in (
            (requests.milli_cpu, table.alloc_cpu, table.req_cpu),
            (requests.memory, table.alloc_memory, table.req_memory),
            (requests.ephemeral_storage, table.alloc_ephemeral, table.req_ephemeral),
        ):
            if want > 0:
                failed |= alloc[rows] - used[rows] < want
        return failed

    def score(self, pod: PodInfo, table: NodeTable, rows: NDArray[np.intp]) -> NDArray[np.int64] | None:
        allocated = [
            _allocated(table, rows, resource, _pod_amount(pod.non_zero, resource), False)
            for resource, _ in self.resources
        ]
        if all(alloc.all() for alloc, _ in allocated):
            # every node has every resource (the usual case): the same integers, without the masks
            fast: NDArray[np.int64] | None = None
            for (alloc, requested), (_, weight) in zip(allocated, self.resources, strict=True):
                if self.strategy == LEAST_ALLOCATED:
                    part = alloc - requested
                    np.maximum(part, 0, out=part)
                else:
                    part = np.minimum(requested, alloc)
                part *= MAX_NODE_SCORE
                part //= alloc
                if weight != 1:
                    part *= weight
                fast = part if fast is None else np.add(fast, part, out=fast)
            weight_sum = sum(weight for _, weight in self.resources)
            if fast is None or weight_sum <= 0:
                return np.zeros(len(rows), np.int64)
            if weight_sum != 1:
                fast //= weight_sum
            return fast
        total = np.zeros(len(rows), np.int64)
        weights = np.zeros(len(rows), np.int64)
        for (alloc, requested), (_, weight) in zip(allocated, self.resources, strict=True):
            present = alloc != 0
            safe = np.where(present, alloc, 1)
            if self.strategy == LEAST_ALLOCATED:
                part = np.where(requested > alloc, 0, (alloc - requested) * MAX_NODE_SCORE // safe)
            else:
                part = np.minimum(requested, alloc) * MAX_NODE_SCORE // safe
            total += np.where(present, part * weight, 0)
            weights += np.where(present, weight, 0)
        result: NDArray[np.int64] = np.where(weights > 0, total // np.maximum(weights, 1), 0)
        return result


class NodeResourcesBalancedAllocation(ScorePlugin):
    name = "NodeResourcesBalancedAllocation"
    scores_rows_alone = True

    def __init__(self, resources: Sequence[str] = ("cpu", "memory")) -> None:
        _check_resources(resources)
        self.resources = tuple(resources)

    def memo_key(self, pod: PodInfo) -> Hashable | None:
        return type(self), self.resources, pod.requests

    def score(self, pod: PodInfo, table: NodeTable, rows: NDArray[np.intp]) -> NDArray[np.int64] | None:
        allocated = [
            _allocated(table, rows, resource, _pod_amount(pod.requests, resource), True)
            for resource in self.resources
        ]
        if len(allocated) == 2 and allocated[0][0].all() and allocated[1][0].all():
            # the default, every node having both: the arithmetic below without the masks (an int64
            # division is the float64 division of the converted integers)
            (alloc0, requested0), (alloc1, requested1) = allocated
            fraction0 = np.true_divide(requested0, alloc0)
            np.minimum(fraction0, 1.0, out=fraction0)
            fraction1 = np.true_divide(requested1, alloc1)
            np.minimum(fraction1, 1.0, out=fraction1)
            fraction0 -= fraction1
            fraction0 /= 2
            np.abs(fraction0, out=fraction0)
            np.subtract(1, fraction0, out=fraction0)
            fraction0 *= float(MAX_NODE_SCORE)
            two: NDArray[np.int64] = fraction0.astype(np.int64)
            return two
        fractions: list[NDArray[np.float64]] = []
        present: list[NDArray[np.bool_]] = []
        for alloc, requested in allocated:
            has = alloc != 0
            frac = requested.astype(np.float64) / np.where(has, alloc, 1).astype(np.float64)
            fractions.append(np.minimum(frac, 1.0))
            present.append(has)
        # upstream walks the present fractions in order; the same additions in the same order, per column
        count = np.zeros(len(rows), np.int64)
        first = np.zeros(len(rows), np.float64)
        second = np.zeros(len(rows), np.float64)
        total = np.zeros(len(rows), np.float64)
        for frac, has in zip(fractions, present, strict=True):
            first = np.where(has & (count == 0), frac, first)
            second = np.where(has & (count == 1), frac, second)
            total = total + np.where(has, frac, 0.0)
            count += has
        std = np.where(count == 2, np.abs((first - second) / 2), 0.0)
        many = count > 2
        if many.any():
            mean = total / np.maximum(count, 1)
            squares = np.zeros(len(rows), np.float64)
            for frac, has in zip(fractions, present, strict=True):
                squares = squares + np.where(has, (frac - mean) * (frac - mean), 0.0)
            std = np.where(many, np.sqrt(squares / np.maximum(count, 1)), std)
        result: NDArray[np.int64] = ((1 - std) * float(MAX_NODE_SCORE)).astype(np.int64)
        return result


# --- inter-pod plugins -------------------------------------------------------------------------------------


def _topology_totals(table: NodeTable, key: str, per_node: NDArray[np.int64]) -> NDArray[np.int64] | None:
    """Over all rows: the sum of ``per_node`` over the nodes sharing the row's value of label ``key`` (0 for a
    row without the label); ``None`` when no node has the label."""
    col = table.label_columns.get(key)
    if col is None:
        return None
    codes = col.codes
    has = codes >= 0
    per_value = np.bincount(codes[has], weights=per_node[has], minlength=len(col.values))
    totals: NDArray[np.int64] = np.where(has, np.rint(per_value).astype(np.int64)[np.maximum(codes, 0)], 0)
    return totals


class InterPodAffinity(FilterPlugin, ScorePlugin):
    """upstream's ``InterPodAffinity`` (see the module docstring).

    A term's namespaces are ``term.namespaces`` plus those whose labels its ``namespaceSelector`` matches
    (``{}``: every namespace; absent, with no ``namespaces`` either: the owning pod's own). Namespace labels
    are the cycle's (``PodInfo.namespace_labels``, which ``core.schedule_one(namespace_labels=...)`` sets
    from the scheduler's namespace informer), else the ``namespace_labels`` given here; a namespace missing
    from them reads as unlabelled, so without any ``{}`` still selects all namespaces and a non-empty
    selector only those it matches without labels (``DoesNotExist``, ``NotIn``). The namespaces a selector
    can list are those of the namespace labels and of the pods in the table.
    """

    name = "InterPodAffinity"
    unresolvable = False  # only a pod affinity miss is unresolvable: see ``FilterResult.unresolvable_codes``

    def __init__(
        self,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        hard_pod_affinity_weight: int = HARD_POD_AFFINITY_WEIGHT,
    ) -> None:
        self.namespace_labels = namespace_labels
        self.hard_pod_affinity_weight = hard_pod_affinity_weight

    def _namespace_labels(self, pod: PodInfo) -> Mapping[str, Mapping[str, str]]:
        """The namespace labels this cycle reads: the cycle's, else the plugin's own, else none."""
        if pod.namespace_labels is not None:
            return pod.namespace_labels
        return self.namespace_labels or {}

    def _merged(self, term: AffinityTerm, table: NodeTable, pod: PodInfo) -> AffinityTerm:
        """``mergeAffinityTermNamespacesIfNotEmpty``: a non-empty namespace selector becomes the names it
        selects, added to ``term.namespaces``."""
        selector = term.namespace_selector
        if selector.empty or selector.nothing:
            return term
        all_labels = self._namespace_labels(pod)
        known = dict.fromkeys([*all_labels, *table.pod_namespaces()])
        chosen = {ns for ns in known if selector.matches(all_labels.get(ns) or {})}
        namespaces = term.namespaces | chosen
        return dataclasses.replace(term, namespaces=namespaces, namespace_selector=labels.NOTHING)

    @staticmethod
    def _pods_of(term: AffinityTerm, table: NodeTable) -> NDArray[np.bool_]:
        """Over the pod slots: the pods the (merged) term selects."""
        namespaces = None if term.namespace_selector.empty else term.namespaces
        return table.pod_mask(term.selector, namespaces)

    def pre_filter(self, pod: PodInfo, table: NodeTable) -> PreFilterResult:
        terms = pod.pod_affinity
        if terms.required or terms.required_anti or table.has_affinity(REQUIRED_ANTI_AFFINITY):
            return PASS
        return SKIP

    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        n = table.capacity
        namespace = pod.affinity_namespace
        affinity_failed = np.zeros(n, np.bool_)
        anti_failed = np.zeros(n, np.bool_)
        existing_failed = np.zeros(n, np.bool_)

        # the existing pods' required anti-affinity terms that match this pod, by topology key
        ns_labels = self._namespace_labels(pod).get(namespace) or {}
        by_key: dict[str, NDArray[np.int64]] = {}
        for usage in table.affinity_candidates(REQUIRED_ANTI_AFFINITY, pod.pod_labels):
            if usage.rows and usage.term.matches(namespace, pod.pod_labels, ns_labels):
                rows, counts = usage.placed()
                by_key.setdefault(usage.term.topology_key, np.zeros(n, np.int64))[rows] += counts
        for key, per_node in by_key.items():
            totals = _topology_totals(table, key, per_node)
            if totals is not None:
                existing_failed |= totals > 0

        # this pod's required affinity: a node needs every topology key, and pods matching all terms there
        required = [self._merged(t, table, pod) for t in pod.pod_affinity.required]
        if required:
            matching = self._pods_of(required[0], table)
            for term in required[1:]:
                matching &= self._pods_of(term, table)
            per_node = table.count_pods(matching)
            exists = np.ones(n, np.bool_)
            any_count = False
            for term in required:
                totals = _topology_totals(table, term.topology_key, per_node)
                if totals is None:
                    affinity_failed[:] = True
                    continue
                affinity_failed |= table.label_columns[term.topology_key].codes < 0
                exists &= totals > 0
                any_count = any_count or bool(totals.any())
            # the first of a series of pods with affinity to themselves may go anywhere it has the keys
            self_match = not any_count and all(t.matches(namespace, pod.pod_labels, None) for t in required)
            if not self_match:
                affinity_failed |= ~exists

        # this pod's required anti-affinity: no matching pod in the node's domain of any term
        for term in (self._merged(t, table, pod) for t in pod.pod_affinity.required_anti):
            totals = _topology_totals(table, term.topology_key, table.count_pods(self._pods_of(term, table)))
            if totals is not None:
                anti_failed |= totals > 0

        failed = affinity_failed | anti_failed | existing_failed
        if not failed.any():
            return FilterResult()

        def first_reason(rows: NDArray[np.intp]) -> NDArray[np.intp]:
            codes: NDArray[np.intp] = np.where(
                affinity_failed[rows], 0, np.where(anti_failed[rows], 1, 2)
            ).astype(np.intp)
            return codes

        return FilterResult(
            failed=failed,
            reasons=(
                (ERR_REASON_POD_AFFINITY,),
                (ERR_REASON_POD_ANTI_AFFINITY,),
                (ERR_REASON_EXISTING_ANTI_AFFINITY,),
            ),
            code_of=first_reason,
            unresolvable_codes=frozenset({0}),
        )

    def score(self, pod: PodInfo, table: NodeTable, rows: NDArray[np.intp]) -> NDArray[np.int64] | None:
        terms = pod.pod_affinity
        if not (
            terms.preferred
            or terms.preferred_anti
            or table.has_affinity(REQUIRED_AFFINITY)
            or table.has_affinity(PREFERRED_AFFINITY)
            or table.has_affinity(PREFERRED_ANTI_AFFINITY)
        ):
            return None
        n = table.capacity
        weighted: dict[str, NDArray[np.int64]] = {}  # per topology key, per node: summed term weights
        touched: dict[str, NDArray[np.bool_]] = {}  # per topology key: nodes holding a matching pod

        def add(key: str, rows_: NDArray[np.intp], counts: NDArray[np.int64], weight: int) -> None:
            if key not in weighted:
                weighted[key] = np.zeros(n, np.int64)
                touched[key] = np.zeros(n, np.bool_)
            weighted[key][rows_] += counts * weight
            touched[key][rows_] |= counts > 0

        # this pod's preferred terms, over the existing pods they select
        for sign, entries in ((1, terms.preferred), (-1, terms.preferred_anti)):
            for term, weight in entries:
                merged = self._merged(term, table, pod)
                per_node = table.count_pods(self._pods_of(merged, table))
                hit = np.flatnonzero(per_node).astype(np.intp)
                add(merged.topology_key, hit, per_node[hit], sign * weight)
        # the existing pods' terms that select this pod (required affinity weighs hardPodAffinityWeight)
        namespace = pod.affinity_namespace
        ns_labels = self._namespace_labels(pod).get(namespace) or {}
        for kind, sign in ((REQUIRED_AFFINITY, 1), (PREFERRED_AFFINITY, 1), (PREFERRED_ANTI_AFFINITY, -1)):
            if kind == REQUIRED_AFFINITY and self.hard_pod_affinity_weight <= 0:
                continue
            for usage in table.affinity_candidates(kind, pod.pod_labels):
                if usage.rows and usage.term.matches(namespace, pod.pod_labels, ns_labels):
                    weight = self.hard_pod_affinity_weight if kind == REQUIRED_AFFINITY else usage.weight
                    placed_rows, counts = usage.placed()
                    add(usage.term.topology_key, placed_rows, counts, sign * weight)

        raw = np.zeros(n, np.int64)
        any_hit = False
        for key, per_node in weighted.items():
            col = table.label_columns.get(key)
            if col is None:
                continue
            has = col.codes >= 0
            if not (touched[key] & has).any():
                continue
            any_hit = True
            totals = _topology_totals(table, key, per_node)
            assert totals is not None
            raw += totals
        if not any_hit:
            return None  # PreScore skips: no term matched a pod on a node with its topology key
        scores = raw[rows]
        low, high = int(scores.min()), int(scores.max())
        if high == low:
            return np.zeros(len(rows), np.int64)
        fraction = (scores - low).astype(np.float64) / float(high - low)
        result: NDArray[np.int64] = (float(MAX_NODE_SCORE) * fraction).astype(np.int64)
        return result


class PodTopologySpread(FilterPlugin, ScorePlugin):
    """upstream's ``PodTopologySpread`` (see the module docstring); ``system_defaults`` is
    ``defaultingType: System`` (else the pods without constraints are not spread)."""

    name = "PodTopologySpread"
    unresolvable = False  # only a missing topology label is unresolvable: see ``unresolvable_codes``

    def __init__(self, system_defaults: bool = True) -> None:
        self.system_defaults = system_defaults

    def soft_constraints(self, pod: PodInfo) -> tuple[SpreadConstraint, ...]:
        """The ``ScheduleAnyway`` constraints, the system defaults for a pod without constraints."""
        if pod.spread_explicit or not self.system_defaults:
            return pod.spread_soft
        if pod.controller is None:
            return ()
        selector = controller_selector(pod.controller)
        return tuple(SpreadConstraint(skew, key, selector) for key, skew in SYSTEM_DEFAULT_CONSTRAINTS)

    @staticmethod
    def _matching(pod: PodInfo, table: NodeTable, c: SpreadConstraint) -> NDArray[np.int64]:
        """Per row: the pods of the pod's namespace, not terminating, that the constraint selects."""
        if c.selector.empty:  # countPodsMatchSelector counts nothing for an empty selector
            return np.zeros(table.capacity, np.int64)
        mask = table.pod_mask(c.selector, (pod.affinity_namespace,), skip_terminating=True)
        return table.count_pods(mask)

    @staticmethod
    def _policies(
        pod: PodInfo, table: NodeTable, constraints: Sequence[SpreadConstraint]
    ) -> list[NDArray[np.bool_]]:
        """Per constraint, over all rows: the nodes its inclusion policies keep."""
        affinity: NDArray[np.bool_] | None = None
        taints: NDArray[np.bool_] | None = None
        result: list[NDArray[np.bool_]] = []
        for c in constraints:
            keep = table.live.copy()
            if c.honor_node_affinity:
                if affinity is None:
                    affinity = NodeAffinity().required_mask(pod, table)
                keep &= affinity
            if c.honor_node_taints:
                if taints is None:
                    bad = untolerated_taints(table, pod.tolerations, {NO_SCHEDULE, NO_EXECUTE})
                    taints = ~np.any(bad[table.taint_slots], axis=1)
                keep &= taints
            result.append(keep)
        return result

    @staticmethod
    def _with_all_keys(table: NodeTable, constraints: Sequence[SpreadConstraint]) -> NDArray[np.bool_]:
        mask = table.live.copy()
        for c in constraints:
            mask &= table.label_exists(c.topology_key)
        return mask

    def pre_filter(self, pod: PodInfo, table: NodeTable) -> PreFilterResult:
        return PASS if pod.spread_hard else SKIP

    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        constraints = pod.spread_hard
        n = table.capacity
        codes_out = np.full(n, -1, np.intp)
        undecided = np.ones(n, np.bool_)
        all_keys = self._with_all_keys(table, constraints)
        for c, policy in zip(constraints, self._policies(pod, table, constraints), strict=True):
            col = table.label_columns.get(c.topology_key)
            has = np.zeros(n, np.bool_) if col is None else col.codes >= 0
            missing = undecided & ~has
            codes_out[missing] = 1
            undecided &= has
            if col is None:
                continue
            eligible = all_keys & policy
            domain_codes = col.codes[eligible]
            if not len(domain_codes):
                continue  # no domain: upstream's minMatchNum errors and the constraint is skipped
            per_node = self._matching(pod, table, c)
            present = np.bincount(domain_codes, minlength=len(col.values)) > 0
            per_value = np.rint(
                np.bincount(domain_codes, weights=per_node[eligible], minlength=len(col.values))
            ).astype(np.int64)
            min_match = int(per_value[present].min())
            if int(present.sum()) < c.min_domains:
                min_match = 0
            self_match = 1 if c.selector.matches(pod.pod_labels) else 0
            match = np.where(has, per_value[np.maximum(col.codes, 0)], 0)
            skewed = undecided & (match + self_match - min_match > c.max_skew)
            codes_out[skewed] = 0
            undecided &= ~skewed

        def reason(rows: NDArray[np.intp]) -> NDArray[np.intp]:
            return codes_out[rows]

        return FilterResult(
            failed=codes_out >= 0,
            reasons=((ERR_REASON_SPREAD,), (ERR_REASON_SPREAD_LABEL,)),
            code_of=reason,
            unresolvable_codes=frozenset({1}),
        )

    def score(self, pod: PodInfo, table: NodeTable, rows: NDArray[np.intp]) -> NDArray[np.int64] | None:
        constraints = self.soft_constraints(pod)
        if not constraints:
            return None
        # system defaults do not need every topology key, so zone-less nodes still spread by hostname
        require_all = pod.spread_explicit or not self.system_defaults
        all_keys = self._with_all_keys(table, constraints)
        ignored = ~all_keys[rows] if require_all else np.zeros(len(rows), np.bool_)
        scored = rows[~ignored]
        total = np.zeros(len(rows), np.float64)
        for c, policy in zip(constraints, self._policies(pod, table, constraints), strict=True):
            col = table.label_columns.get(c.topology_key)
            if col is None:
                continue  # no node has the key: no node gets a count for it
            has = col.codes >= 0
            per_node = self._matching(pod, table, c)
            if c.topology_key == HOSTNAME_LABEL:
                size = len(scored)
                counts = per_node[rows]
            else:
                # a node without the key reads as the value "" (a Go map's zero value)
                missing = col.vocab.get("", len(col.values))
                values = np.where(has, col.codes, missing)
                present = np.zeros(len(col.values) + 1, np.bool_)
                present[values[scored]] = True
                size = int(present.sum())
                eligible = policy & (all_keys if require_all else table.live)
                per_value = np.bincount(values[eligible], weights=per_node[eligible], minlength=len(present))
                counts = np.rint(per_value).astype(np.int64)[values[rows]]
            weight = math.log(size + 2)
            term = counts.astype(np.float64) * weight + float(c.max_skew - 1)
            total = total + np.where(has[rows], term, 0.0)
        whole = np.trunc(total)
        raw = (whole + (total - whole >= 0.5)).astype(np.int64)  # math.Round: halves away from zero
        result = np.zeros(len(rows), np.int64)
        valid = ~ignored
        if not valid.any():
            return result
        low = int(raw[valid].min())
        high = max(int(raw[valid].max()), 0)
        if high == 0:
            result[valid] = MAX_NODE_SCORE
        else:
            result[valid] = MAX_NODE_SCORE * (high + low - raw[valid]) // high
        return result


# --- profiles ----------------------------------------------------------------------------------------------

DEFAULT_PLUGINS: tuple[str, ...] = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "PodTopologySpread",
    "InterPodAffinity",
    "DefaultPreemption",
    "NodeResourcesBalancedAllocation",
    "ImageLocality",
)
"""upstream's default profile (``getDefaultPlugins``), in order; filters and scores run in this order."""

DEFAULT_WEIGHTS: Mapping[str, int] = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}
"""The score weights of the default profile."""

IMPLEMENTED: Mapping[str, type[Plugin]] = {
    "NodeUnschedulable": NodeUnschedulable,
    "NodeName": NodeName,
    "TaintToleration": TaintToleration,
    "NodeAffinity": NodeAffinity,
    "NodeResourcesFit": NodeResourcesFit,
    "PodTopologySpread": PodTopologySpread,
    "InterPodAffinity": InterPodAffinity,
    "NodeResourcesBalancedAllocation": NodeResourcesBalancedAllocation,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    """The plugins of a scheduling profile: filters in order, scores with their weights."""

    filters: tuple[FilterPlugin, ...]
    scores: tuple[tuple[ScorePlugin, int], ...]


def default_profile(
    *, scoring_strategy: str = LEAST_ALLOCATED, extra: Mapping[str, Plugin] | None = None
) -> Profile:
    """upstream's default profile with the plugins implemented here (and those of ``extra``, by name)."""
    plugins: dict[str, Plugin] = {}
    for name in DEFAULT_PLUGINS:
        if extra and name in extra:
            plugins[name] = extra[name]
        elif name == "NodeResourcesFit":
            plugins[name] = NodeResourcesFit(scoring_strategy)
        elif name in IMPLEMENTED:
            plugins[name] = IMPLEMENTED[name]()
    filters = tuple(p for p in plugins.values() if isinstance(p, FilterPlugin))
    scores = tuple(
        (p, DEFAULT_WEIGHTS.get(name, 1)) for name, p in plugins.items() if isinstance(p, ScorePlugin)
    )
    return Profile(filters=filters, scores=scores)
