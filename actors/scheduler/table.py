"""The scheduler's node cache as a columnar table: one row per node, numpy columns for what filters and
scores read, so a plugin checks every node with a handful of array operations.

What it emulates: kube-scheduler's cache (``pkg/scheduler/internal/cache``) and its ``NodeInfo``: per node the
allocatable resources, the sum of the requests of the pods on it (``Requested``), the same sum with the
scoring defaults for missing requests (``NonZeroRequested``), the pod count, and the node's labels, taints and
``spec.unschedulable``. Pods are accounted once per uid (adding a pod again is a no-op, or a move/resize when
its node or requests changed), and a pod can be *assumed* on a node before its binding is confirmed, then
confirmed by ``add_pod`` or dropped by ``forget``, as the cache's ``AssumePod``/``AddPod``/``ForgetPod``.

Layout:

* Rows are stable: a removed node's row goes on a free list (a min-heap, so the lowest hole is reused first)
  and every other row keeps its index. Arrays double when full. ``rows()`` lists the live rows in index
  order, which is the order the scheduler walks nodes in.
* Labels are kept per row as dicts, and as one ``int32`` column per label key holding a code for the row's
  value (``-1`` when the row lacks the key), with a vocabulary per key. A node-selector requirement is then a
  comparison over a column; ``Gt``/``Lt`` compare a per-vocabulary array of the values parsed as int64.
* Taints are interned as ``(key, value, effect)`` ids; ``taint_slots`` is a ``rows x width`` matrix of
  ``id + 1`` (0 = no taint) in the node's own taint order, so "the first untolerated taint" is an ``argmax``.
* Pods, for the inter-pod plugins, are columns too: each accounted pod holds a *slot* with its node's row
  (``pod_node``, ``-1`` while the node is absent), its namespace code, whether it is terminating, and one
  ``int32`` code column per pod label key (plus ``CONTROLLER_KEY``, the uid of its ReplicaSet, StatefulSet or
  ReplicationController). ``pod_mask`` answers a label selector over every slot in a few array operations and
  ``count_pods`` turns the answer into pods per node row. All of it is kept up to date as pods are added,
  assumed, moved, forgotten and removed, so a scheduling cycle never walks the pods in Python.
* The pod (anti-)affinity terms of accounted pods are interned (``AffinityUsage``, one per distinct term, kind
  and weight) with how many pods carrying them sit on each node row, so the existing pods' terms are checked
  once per distinct term, not once per pod.
* Memos (``memo``, a ``RowMemo`` per key): values of a function of one row alone, such as a filter's verdict
  or a score for one shape of pod, kept per row so that a run of like pods does not compute them again for
  every node it looks at. Two logs of the rows changed (any change; a change of the node itself) tell each
  memo which of its values are stale; a memo that missed too many changes, or a table that grew, starts
  afresh. The table keeps the ``MEMOS`` last created.

Deviations: a removed node's pods are kept aside and re-accounted if a node of that name comes back (upstream
keeps such pods on a node-less ``NodeInfo``); vocabularies only grow; extended resources are not tracked; the
node order is row order, not upstream's zone-interleaved node tree.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import json
import re
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from actors.scheduler.resources import Resources, node_allocatable, pod_resources
from kube import labels as klabels
from kube.errors import SelectorError

_INT64 = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

CONTROLLER_KEY = "\x00controller"
"""A pseudo pod label (no real label key can hold a NUL): the uid of the pod's controlling ReplicaSet,
StatefulSet or ReplicationController, which PodTopologySpread's system default constraints select by."""
_SPREAD_CONTROLLERS = {("v1", "ReplicationController"), ("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet")}

Rows = NDArray[np.intp] | slice
"""Some rows of a ``NodeTable``: their indices, or a slice of the row range."""
ALL_ROWS = slice(None)

REQUIRED_AFFINITY, REQUIRED_ANTI_AFFINITY, PREFERRED_AFFINITY, PREFERRED_ANTI_AFFINITY = range(4)
"""The kinds of pod (anti-)affinity terms an accounted pod can carry."""


def pod_key(pod: Mapping[str, Any]) -> str:
    """The identity a pod is accounted under: its uid, or ``namespace/name`` when it has none."""
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    uid = meta.get("uid")
    if uid:
        return str(uid)
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


def parse_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: ``None`` when not a base-10 int64."""
    if not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def pod_namespace(pod: Mapping[str, Any]) -> str:
    """The pod's namespace (``default`` when unset, as ``pod_key`` reads it)."""
    return str((pod.get("metadata") or {}).get("namespace") or "default")


def controller_uid(pod: Mapping[str, Any]) -> str | None:
    """The uid of the pod's controller when it is a ReplicaSet, StatefulSet or ReplicationController (the
    owners whose selector upstream's ``helper.DefaultSelector`` reads), else ``None``."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") and (ref.get("apiVersion"), ref.get("kind")) in _SPREAD_CONTROLLERS:
            uid = ref.get("uid")
            return str(uid) if uid else None
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A parsed ``PodAffinityTerm`` (upstream's ``framework.AffinityTerm``).

    ``namespaces`` holds ``term.namespaces``, or the owning pod's namespace when the term names neither
    namespaces nor a ``namespaceSelector``; ``namespace_selector`` is ``labels.NOTHING`` when absent and
    ``labels.EVERYTHING`` for ``{}`` (every namespace). A term whose selectors do not parse selects nothing.
    """

    selector: klabels.Selector
    namespaces: frozenset[str]
    namespace_selector: klabels.Selector
    topology_key: str

    def matches(
        self, namespace: str, pod_labels: Mapping[str, str], namespace_labels: Mapping[str, str] | None
    ) -> bool:
        """upstream's ``AffinityTerm.Matches``: the namespace is listed or its labels match the namespace
        selector, and the pod's labels match the selector."""
        if namespace in self.namespaces or self.namespace_selector.matches(namespace_labels or {}):
            return self.selector.matches(pod_labels)
        return False


@dataclasses.dataclass(frozen=True, slots=True)
class PodAffinityTerms:
    """A pod's ``podAffinity``/``podAntiAffinity`` terms: required ones, and preferred ones with weights."""

    required: tuple[AffinityTerm, ...] = ()
    required_anti: tuple[AffinityTerm, ...] = ()
    preferred: tuple[tuple[AffinityTerm, int], ...] = ()
    preferred_anti: tuple[tuple[AffinityTerm, int], ...] = ()

    def by_kind(self) -> Iterator[tuple[int, AffinityTerm, int]]:
        """``(kind, term, weight)`` for every term (weight 1 for required ones)."""
        for term in self.required:
            yield REQUIRED_AFFINITY, term, 1
        for term in self.required_anti:
            yield REQUIRED_ANTI_AFFINITY, term, 1
        for term, weight in self.preferred:
            yield PREFERRED_AFFINITY, term, weight
        for term, weight in self.preferred_anti:
            yield PREFERRED_ANTI_AFFINITY, term, weight


NO_AFFINITY = PodAffinityTerms()


def parse_affinity_term(raw: Mapping[str, Any], namespace: str) -> AffinityTerm:
    """A ``PodAffinityTerm`` of a pod in ``namespace``, as upstream's ``newAffinityTerm``."""
    try:
        selector = klabels.from_label_selector(raw.get("labelSelector"))
        ns_selector = klabels.from_label_selector(raw.get("namespaceSelector"))
    except SelectorError:
        selector = ns_selector = klabels.NOTHING
    names = [str(n) for n in raw.get("namespaces") or ()]
    if not names and raw.get("namespaceSelector") is None:
        names = [namespace]
    return AffinityTerm(
        selector=selector,
        namespaces=frozenset(names),
        namespace_selector=ns_selector,
        topology_key=str(raw.get("topologyKey") or ""),
    )


def parse_pod_affinity(pod: Mapping[str, Any]) -> PodAffinityTerms:
    """The pod (anti-)affinity terms of a pod (memoised by namespace and the affinity's JSON)."""
    affinity: Mapping[str, Any] = (pod.get("spec") or {}).get("affinity") or {}
    if not affinity.get("podAffinity") and not affinity.get("podAntiAffinity"):
        return NO_AFFINITY
    raw = {k: affinity.get(k) for k in ("podAffinity", "podAntiAffinity")}
    return _parse_pod_affinity(pod_namespace(pod), json.dumps(raw, sort_keys=True))


@functools.lru_cache(maxsize=4096)
def _parse_pod_affinity(namespace: str, text: str) -> PodAffinityTerms:
    raw: dict[str, Any] = json.loads(text)
    affinity: Mapping[str, Any] = raw.get("podAffinity") or {}
    anti: Mapping[str, Any] = raw.get("podAntiAffinity") or {}

    def required(block: Mapping[str, Any]) -> tuple[AffinityTerm, ...]:
        entries = block.get("requiredDuringSchedulingIgnoredDuringExecution") or ()
        return tuple(parse_affinity_term(t, namespace) for t in entries)

    def preferred(block: Mapping[str, Any]) -> tuple[tuple[AffinityTerm, int], ...]:
        entries = block.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        return tuple(
            (parse_affinity_term(e.get("podAffinityTerm") or {}, namespace), int(e.get("weight") or 0))
            for e in entries
        )

    return PodAffinityTerms(
        required=required(affinity),
        required_anti=required(anti),
        preferred=preferred(affinity),
        preferred_anti=preferred(anti),
    )


class AffinityUsage:
    """One distinct (kind, term, weight) carried by accounted pods, and how many of them sit on each row."""

    __slots__ = ("kind", "pods", "rows", "term", "weight")

    def __init__(self, kind: int, term: AffinityTerm, weight: int) -> None:
        self.kind = kind
        self.term = term
        self.weight = weight
        self.pods = 0  # pods carrying it, placed or not
        self.rows: dict[int, int] = {}  # node row -> pods carrying it there

    def placed(self) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
        """The rows holding pods that carry the term, and how many each (rows distinct)."""
        rows = np.fromiter(self.rows.keys(), np.intp, len(self.rows))
        counts = np.fromiter(self.rows.values(), np.int64, len(self.rows))
        return rows, counts


def _pod_meta(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the inter-pod bookkeeping reads of a pod, to tell whether an update changes it."""
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    affinity: Mapping[str, Any] = (pod.get("spec") or {}).get("affinity") or {}
    return (
        pod_namespace(pod),
        {str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        meta.get("deletionTimestamp") is not None,
        controller_uid(pod),
        affinity.get("podAffinity"),
        affinity.get("podAntiAffinity"),
    )


@dataclasses.dataclass(slots=True)
class _PodRecord:
    node: str
    row: int  # -1 while no node of that name is in the table
    requests: Resources
    non_zero: Resources
    assumed: bool
    slot: int = -1
    meta: tuple[Any, ...] = ()
    terms: tuple[AffinityUsage, ...] = ()


@dataclasses.dataclass(slots=True)
class _LabelColumn:
    codes: NDArray[np.int32]
    vocab: dict[str, int] = dataclasses.field(default_factory=dict)
    values: list[str] = dataclasses.field(default_factory=list)
    ints: NDArray[np.int64] = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    int_ok: NDArray[np.bool_] = dataclasses.field(default_factory=lambda: np.zeros(0, np.bool_))

    def code(self, value: str) -> int:
        found = self.vocab.get(value)
        if found is None:
            found = self.vocab[value] = len(self.values)
            self.values.append(value)
        return found

    def parsed(self) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """The vocabulary parsed as int64, and which entries parsed (refreshed when the vocabulary grew)."""
        if len(self.ints) != len(self.values):
            start = len(self.ints)
            extra = [parse_int64(v) for v in self.values[start:]]
            self.ints = np.concatenate((self.ints, np.array([x or 0 for x in extra], np.int64)))
            self.int_ok = np.concatenate((self.int_ok, np.array([x is not None for x in extra], np.bool_)))
        return self.ints, self.int_ok


MEMOS = 32
"""How many ``RowMemo``s a table keeps (the oldest goes first): each holds a value per row."""
CHANGE_LOG = 1024
"""How many changed rows a table remembers for its memos; a memo that missed more starts afresh."""
STALE_ROWS = 256
"""The most changed rows a memo recomputes at once (more, and it starts afresh: rows are then computed as
asked, a window at a time)."""


class _ChangeLog:
    """The rows changed last, oldest first, and how many changes were ever logged."""

    __slots__ = ("end", "rows")

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.end = 0

    def add(self, row: int) -> None:
        self.rows.append(row)
        self.end += 1
        if len(self.rows) > CHANGE_LOG:
            del self.rows[: CHANGE_LOG // 2]

    def since(self, seen: int) -> list[int] | None:
        """The rows changed after the first ``seen`` changes; ``None`` when no longer known."""
        missed = self.end - seen
        return self.rows[len(self.rows) - missed :] if missed <= len(self.rows) else None


def _among(codes: NDArray[np.int32], wanted: list[int]) -> NDArray[np.bool_]:
    """Where ``codes`` is one of ``wanted``: a comparison per value for a few (``np.isin`` costs more)."""
    if len(wanted) > 4:
        return np.isin(codes, np.array(wanted, np.int32))
    found: NDArray[np.bool_] = codes == wanted[0]
    for code in wanted[1:]:
        found |= codes == code
    return found


class RowMemo:
    """Values of a function whose value at a row depends on that row of the table alone, kept per row
    (``NodeTable.memo``): ``known`` marks the rows whose value is current, ``stale`` lists those that changed
    since theirs was computed, ``log`` is the table's log of the changes the function reads and ``seen`` how
    many of them were checked."""

    __slots__ = ("known", "log", "seen", "stale", "values")

    def __init__(self, capacity: int, log: _ChangeLog) -> None:
        self.known: NDArray[np.bool_] = np.zeros(capacity, np.bool_)
        self.values: NDArray[Any] | None = None
        self.stale: list[int] = []
        self.log = log
        self.seen = log.end

    def sync(self) -> None:
        """Forget the values of the rows changed since the last look."""
        changed = self.log.since(self.seen)
        if changed is None or len(self.stale) + len(changed) > STALE_ROWS:
            self.known[:] = False
            self.stale.clear()
        else:
            known = self.known
            for row in changed:  # usually a row or two: cheaper than indexing with the list
                known[row] = False
            self.stale.extend(changed)
        self.seen = self.log.end

    def get(self, rows: Rows, compute: Callable[[NDArray[np.intp]], NDArray[Any]]) -> NDArray[Any]:
        """The values at ``rows``, ``compute(rows)`` computing those not known. For a slice of rows whose
        values are all known, a view of the values kept: to read before the table changes, not to write.

        Rows not asked before are computed when asked. Rows that changed since are computed again once one
        of them is asked, all together: a run of pods with the same requests, each adding itself to a node,
        then computes a few rows every few pods rather than every row each pod looks at.
        """
        known = self.known[rows]
        if self.values is not None and np.count_nonzero(known) == len(known):
            values: NDArray[Any] = self.values[rows]
            return values
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(len(self.known)))
        todo = rows if not known.any() else rows[~known]
        if self.stale:
            todo = np.concatenate((todo, np.array(self.stale, np.intp)))
            self.stale.clear()
        fresh = compute(todo)
        if self.values is None:
            self.values = np.zeros(len(self.known), fresh.dtype)
        self.values[todo] = fresh
        self.known[todo] = True
        return fresh if todo is rows else self.values[rows]


class NodeTable:
    """Nodes as rows of numpy columns, with the requests of the pods on them; see the module docstring."""

    __slots__ = (
        "_by_node",
        "_capacity",
        "_free",
        "_index",
        "_labels",
        "_memos",
        "_names",
        "_namespaces",
        "_node_changes",
        "_pod_capacity",
        "_pod_changes",
        "_pod_free",
        "_pod_labels",
        "_pods",
        "_rows",
        "_taint_ids",
        "_taints",
        "_unschedulable",
        "_usage_any",
        "_usage_index",
        "_usages",
        "alloc_cpu",
        "alloc_ephemeral",
        "alloc_memory",
        "alloc_pods",
        "label_columns",
        "live",
        "nz_cpu",
        "nz_memory",
        "pod_label_columns",
        "pod_node",
        "pod_ns",
        "pod_terminating",
        "req_cpu",
        "req_ephemeral",
        "req_memory",
        "req_pods",
        "taint_effects",
        "taint_keys",
        "taint_slots",
        "taint_values",
        "unschedulable",
    )

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = max(1, capacity)
        cap = self._capacity
        self.alloc_cpu: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.alloc_memory: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.alloc_pods: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.alloc_ephemeral: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.req_cpu: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.req_memory: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.req_pods: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.req_ephemeral: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.nz_cpu: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.nz_memory: NDArray[np.int64] = np.zeros(cap, np.int64)
        self.unschedulable: NDArray[np.bool_] = np.zeros(cap, np.bool_)
        self.live: NDArray[np.bool_] = np.zeros(cap, np.bool_)
        self.taint_slots: NDArray[np.int32] = np.zeros((cap, 0), np.int32)
        self.label_columns: dict[str, _LabelColumn] = {}
        self.taint_keys: list[str] = []
        self.taint_values: list[str] = []
        self.taint_effects: list[str] = []
        self._taint_ids: dict[tuple[str, str, str], int] = {}
        self._names: list[str | None] = [None] * cap
        self._labels: list[dict[str, str]] = [{} for _ in range(cap)]
        self._taints: list[list[dict[str, Any]]] = [[] for _ in range(cap)]
        self._index: dict[str, int] = {}
        self._free: list[int] = list(range(cap))  # already a heap: ascending
        self._rows: NDArray[np.intp] | None = None
        self._unschedulable = 0  # how many rows are set in ``unschedulable``
        self._node_changes = _ChangeLog()  # rows whose node changed, for ``memo``
        self._pod_changes = _ChangeLog()  # rows whose node or pods changed
        self._memos: dict[Hashable, RowMemo] = {}  # oldest first
        self._pods: dict[str, _PodRecord] = {}
        self._by_node: dict[str, dict[str, _PodRecord]] = {}
        # the inter-pod bookkeeping: pod slots as columns, interned affinity terms
        self._pod_capacity = 64
        self.pod_node: NDArray[np.int32] = np.full(self._pod_capacity, -1, np.int32)
        self.pod_ns: NDArray[np.int32] = np.full(self._pod_capacity, -1, np.int32)
        self.pod_terminating: NDArray[np.bool_] = np.zeros(self._pod_capacity, np.bool_)
        self.pod_label_columns: dict[str, _LabelColumn] = {}
        self._pod_labels: list[dict[str, str]] = [{} for _ in range(self._pod_capacity)]
        self._pod_free: list[int] = list(range(self._pod_capacity - 1, -1, -1))  # popped from the end
        self._namespaces: dict[str, int] = {}
        self._usages: tuple[dict[tuple[AffinityTerm, int], AffinityUsage], ...] = ({}, {}, {}, {})
        # per kind: the usages whose selector pins label (key, value), and those pinning none
        self._usage_index: tuple[dict[tuple[str, str], dict[int, AffinityUsage]], ...] = ({}, {}, {}, {})
        self._usage_any: tuple[dict[int, AffinityUsage], ...] = ({}, {}, {}, {})

    # --- nodes -------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    @property
    def capacity(self) -> int:
        """How many rows the arrays hold (live or free)."""
        return self._capacity

    def names(self) -> list[str]:
        """The live nodes' names, in row order."""
        return [n for n in self._names if n is not None]

    def rows(self) -> NDArray[np.intp]:
        """The live rows' indices, ascending (cached until a node is added or removed)."""
        if self._rows is None:
            self._rows = np.flatnonzero(self.live)
        return self._rows

    def dense(self) -> bool:
        """Whether the live rows are exactly ``0 .. len(self) - 1`` (no holes): ``rows()`` is then a range."""
        rows = self.rows()
        return not len(rows) or int(rows[-1]) == len(rows) - 1

    def any_unschedulable(self) -> bool:
        """Whether a node has ``spec.unschedulable`` set."""
        return self._unschedulable > 0

    def index(self, name: str) -> int | None:
        """The row of a node, or ``None``."""
        return self._index.get(name)

    def name_at(self, row: int) -> str:
        """The name of the node in a live row."""
        name = self._names[row]
        if name is None:
            raise KeyError(row)
        return name

    def labels_at(self, row: int) -> Mapping[str, str]:
        """The labels of the node in a row."""
        return self._labels[row]

    def taints_at(self, row: int) -> Sequence[Mapping[str, Any]]:
        """The taints of the node in a row, as its ``spec.taints``."""
        return self._taints[row]

    def upsert_node(self, node: Mapping[str, Any]) -> int:
        """Add a node or update its row (allocatable, labels, taints, unschedulable); returns the row."""
        meta: Mapping[str, Any] = node.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name:
            raise ValueError("node has no metadata.name")
        spec: Mapping[str, Any] = node.get("spec") or {}
        row = self._index.get(name)
        is_new = row is None
        if row is None:
            if not self._free:
                self._grow()
            row = heapq.heappop(self._free)
            self._index[name] = row
            self._names[row] = name
            self.live[row] = True
            self._rows = None
        self._node_changes.add(row)
        self._pod_changes.add(row)
        alloc = node_allocatable(node)
        self.alloc_cpu[row] = alloc.milli_cpu
        self.alloc_memory[row] = alloc.memory
        self.alloc_ephemeral[row] = alloc.ephemeral_storage
        self.alloc_pods[row] = alloc.pods
        unschedulable = bool(spec.get("unschedulable"))
        self._unschedulable += int(unschedulable) - int(self.unschedulable[row])
        self.unschedulable[row] = unschedulable
        self._set_labels(row, {str(k): str(v) for k, v in (meta.get("labels") or {}).items()})
        self._set_taints(row, [t for t in spec.get("taints") or () if isinstance(t, Mapping)])
        if is_new:
            for record in self._by_node.get(name, {}).values():
                record.row = row
                self._apply(record, +1)
        return row

    def remove_node(self, name: str) -> bool:
        """Drop a node's row (its pods are kept aside for a node of that name that comes back)."""
        row = self._index.pop(name, None)
        if row is None:
            return False
        for rec in self._by_node.get(name, {}).values():
            self._place(rec, -1)
            rec.row = -1
        self._set_labels(row, {})
        self._set_taints(row, [])
        for column in (
            self.alloc_cpu,
            self.alloc_memory,
            self.alloc_pods,
            self.alloc_ephemeral,
            self.req_cpu,
            self.req_memory,
            self.req_pods,
            self.req_ephemeral,
            self.nz_cpu,
            self.nz_memory,
        ):
            column[row] = 0
        self._unschedulable -= int(self.unschedulable[row])
        self.unschedulable[row] = False
        self.live[row] = False
        self._names[row] = None
        self._rows = None
        self._node_changes.add(row)
        self._pod_changes.add(row)
        heapq.heappush(self._free, row)
        return True

    def _grow(self) -> None:
        old = self._capacity
        new = old * 2
        for attr in (
            "alloc_cpu",
            "alloc_memory",
            "alloc_pods",
            "alloc_ephemeral",
            "req_cpu",
            "req_memory",
            "req_pods",
            "req_ephemeral",
            "nz_cpu",
            "nz_memory",
            "unschedulable",
            "live",
        ):
            column: NDArray[Any] = getattr(self, attr)
            grown = np.zeros(new, column.dtype)
            grown[:old] = column
            setattr(self, attr, grown)
        slots = np.zeros((new, self.taint_slots.shape[1]), np.int32)
        slots[:old] = self.taint_slots
        self.taint_slots = slots
        for col in self.label_columns.values():
            codes = np.full(new, -1, np.int32)
            codes[:old] = col.codes
            col.codes = codes
        self._names.extend([None] * old)
        self._labels.extend({} for _ in range(old))
        self._taints.extend([] for _ in range(old))
        for row in range(old, new):
            heapq.heappush(self._free, row)
        self._capacity = new

    # --- memos -------------------------------------------------------------------------------------------

    def memo(self, key: Hashable, *, reads_pods: bool = True) -> RowMemo:
        """The ``RowMemo`` kept under ``key`` for a function of a row alone (and of what ``key`` stands for),
        up to date with the table as it is now. ``reads_pods``: the function reads the pods on the row (their
        requests) as well as the node, so that a pod added or removed changes its value. Ask again after the
        table changed."""
        memo = self._memos.get(key)
        if memo is None or len(memo.known) != self._capacity:
            if memo is None and len(self._memos) >= MEMOS:
                del self._memos[next(iter(self._memos))]  # the oldest
            memo = self._memos[key] = RowMemo(
                self._capacity, self._pod_changes if reads_pods else self._node_changes
            )
        elif memo.seen != memo.log.end:
            memo.sync()
        return memo

    # --- labels ------------------------------------------------------------------------------------------

    def _set_labels(self, row: int, labels: dict[str, str]) -> None:
        for key in self._labels[row]:
            if key not in labels:
                self.label_columns[key].codes[row] = -1
        for key, value in labels.items():
            col = self.label_columns.get(key)
            if col is None:
                col = self.label_columns[key] = _LabelColumn(codes=np.full(self._capacity, -1, np.int32))
            col.codes[row] = col.code(value)
        self._labels[row] = labels

    def _none(self, rows: Rows) -> NDArray[np.bool_]:
        none: NDArray[np.bool_] = np.zeros(self._capacity, np.bool_)[rows]
        return none

    def label_equals(self, key: str, value: str, rows: Rows = ALL_ROWS) -> NDArray[np.bool_]:
        """Which of ``rows`` (by default all ``capacity`` rows) have label ``key`` equal to ``value``."""
        col = self.label_columns.get(key)
        if col is None or value not in col.vocab:
            return self._none(rows)
        same: NDArray[np.bool_] = col.codes[rows] == col.vocab[value]
        return same

    def label_in(self, key: str, values: Iterable[str], rows: Rows = ALL_ROWS) -> NDArray[np.bool_]:
        """Which of ``rows`` have label ``key`` with one of ``values``."""
        col = self.label_columns.get(key)
        if col is None:
            return self._none(rows)
        codes = [col.vocab[v] for v in values if v in col.vocab]
        if not codes:
            return self._none(rows)
        return _among(col.codes[rows], codes)

    def label_exists(self, key: str, rows: Rows = ALL_ROWS) -> NDArray[np.bool_]:
        """Which of ``rows`` have label ``key`` (any value)."""
        col = self.label_columns.get(key)
        if col is None:
            return self._none(rows)
        present: NDArray[np.bool_] = col.codes[rows] >= 0
        return present

    def label_compare(self, key: str, bound: int, greater: bool, rows: Rows = ALL_ROWS) -> NDArray[np.bool_]:
        """Which of ``rows`` have label ``key`` parsing as an int64 greater (or less) than ``bound``
        (``Gt``/``Lt``)."""
        col = self.label_columns.get(key)
        if col is None or not col.values:
            return self._none(rows)
        ints, ok = col.parsed()
        codes = col.codes[rows]
        safe = np.maximum(codes, 0)
        numbers = ints[safe]
        beyond = numbers > bound if greater else numbers < bound
        result: NDArray[np.bool_] = (codes >= 0) & ok[safe] & beyond
        return result

    # --- taints ------------------------------------------------------------------------------------------

    def _set_taints(self, row: int, taints: list[Mapping[str, Any]]) -> None:
        ids: list[int] = []
        for taint in taints:
            triple = (
                str(taint.get("key") or ""),
                str(taint.get("value") or ""),
                str(taint.get("effect") or ""),
            )
            tid = self._taint_ids.get(triple)
            if tid is None:
                tid = self._taint_ids[triple] = len(self.taint_keys)
                self.taint_keys.append(triple[0])
                self.taint_values.append(triple[1])
                self.taint_effects.append(triple[2])
            ids.append(tid + 1)
        width = self.taint_slots.shape[1]
        if len(ids) > width:
            wider = np.zeros((self._capacity, len(ids)), np.int32)
            wider[:, :width] = self.taint_slots
            self.taint_slots = wider
        self.taint_slots[row, :] = 0
        self.taint_slots[row, : len(ids)] = ids
        self._taints[row] = [dict(t) for t in taints]

    # --- pods --------------------------------------------------------------------------------------------

    def _apply(self, rec: _PodRecord, sign: int) -> None:
        row = rec.row
        if row < 0:
            return
        self.req_cpu[row] += sign * rec.requests.milli_cpu
        self.req_memory[row] += sign * rec.requests.memory
        self.req_ephemeral[row] += sign * rec.requests.ephemeral_storage
        self.req_pods[row] += sign * rec.requests.pods
        self.nz_cpu[row] += sign * rec.non_zero.milli_cpu
        self.nz_memory[row] += sign * rec.non_zero.memory
        self._place(rec, sign)

    def _place(self, rec: _PodRecord, sign: int) -> None:
        """Put the pod's slot and terms on its row (``+1``) or take them off it (``-1``)."""
        row = rec.row
        if row < 0:
            return
        self._pod_changes.add(row)
        self.pod_node[rec.slot] = row if sign > 0 else -1
        for usage in rec.terms:
            left = usage.rows.get(row, 0) + sign
            if left:
                usage.rows[row] = left
            else:
                del usage.rows[row]

    def _detach(self, key: str) -> _PodRecord | None:
        rec = self._pods.pop(key, None)
        if rec is None:
            return None
        self._apply(rec, -1)
        self._release_slot(rec)
        on_node = self._by_node[rec.node]
        del on_node[key]
        if not on_node:
            del self._by_node[rec.node]
        return rec

    def _attach(self, key: str, pod: Mapping[str, Any], node_name: str, assumed: bool) -> None:
        row = self._index.get(node_name)
        requests, non_zero = pod_resources(pod)
        rec = _PodRecord(
            node=node_name,
            row=-1 if row is None else row,
            requests=requests,
            non_zero=non_zero,
            assumed=assumed,
        )
        self._take_slot(rec, pod)
        self._pods[key] = rec
        self._by_node.setdefault(node_name, {})[key] = rec
        self._apply(rec, +1)

    # --- pods as columns, for the inter-pod plugins --------------------------------------------------

    def _take_slot(self, rec: _PodRecord, pod: Mapping[str, Any]) -> None:
        if not self._pod_free:
            self._grow_pods()
        slot = self._pod_free.pop()
        rec.slot = slot
        rec.meta = _pod_meta(pod)
        namespace, pod_labels, terminating, controller, _, _ = rec.meta
        code = self._namespaces.setdefault(namespace, len(self._namespaces))
        self.pod_ns[slot] = code
        self.pod_terminating[slot] = terminating
        stored = dict(pod_labels)
        if controller is not None:
            stored[CONTROLLER_KEY] = controller
        for key, value in stored.items():
            col = self.pod_label_columns.get(key)
            if col is None:
                col = self.pod_label_columns[key] = _LabelColumn(
                    codes=np.full(self._pod_capacity, -1, np.int32)
                )
            col.codes[slot] = col.code(value)
        self._pod_labels[slot] = stored
        usages: list[AffinityUsage] = []
        for kind, term, weight in parse_pod_affinity(pod).by_kind():
            interned = self._usages[kind]
            usage = interned.get((term, weight))
            if usage is None:
                usage = interned[(term, weight)] = AffinityUsage(kind, term, weight)
                self._index_usage(usage, add=True)
            usage.pods += 1
            usages.append(usage)
        rec.terms = tuple(usages)

    def _release_slot(self, rec: _PodRecord) -> None:
        slot = rec.slot
        for key in self._pod_labels[slot]:
            self.pod_label_columns[key].codes[slot] = -1
        self._pod_labels[slot] = {}
        self.pod_node[slot] = -1
        self.pod_ns[slot] = -1
        self.pod_terminating[slot] = False
        for usage in rec.terms:
            usage.pods -= 1
            if not usage.pods:
                del self._usages[usage.kind][(usage.term, usage.weight)]
                self._index_usage(usage, add=False)
        rec.terms = ()
        self._pod_free.append(slot)

    def _grow_pods(self) -> None:
        old = self._pod_capacity
        new = old * 2
        for attr, fill in (("pod_node", -1), ("pod_ns", -1), ("pod_terminating", False)):
            column: NDArray[Any] = getattr(self, attr)
            grown = np.full(new, fill, column.dtype)
            grown[:old] = column
            setattr(self, attr, grown)
        for col in self.pod_label_columns.values():
            codes = np.full(new, -1, np.int32)
            codes[:old] = col.codes
            col.codes = codes
        self._pod_labels.extend({} for _ in range(old))
        self._pod_free = list(range(new - 1, old - 1, -1)) + self._pod_free
        self._pod_capacity = new

    @property
    def pod_capacity(self) -> int:
        """How many pod slots the pod columns hold."""
        return self._pod_capacity

    def pod_namespaces(self) -> list[str]:
        """The namespaces of the pods accounted so far (in first-seen order)."""
        return list(self._namespaces)

    def pod_mask(
        self,
        selector: klabels.Selector,
        namespaces: Collection[str] | None = None,
        *,
        skip_terminating: bool = False,
    ) -> NDArray[np.bool_]:
        """Over all pod slots: the pods on a node of the table whose labels match ``selector``, in one of
        ``namespaces`` (``None``: any), not terminating if ``skip_terminating``."""
        mask: NDArray[np.bool_] = self.pod_node >= 0
        if selector.nothing:
            return np.zeros(self._pod_capacity, np.bool_)
        for req in selector.requirements:
            found = self._requirement_mask(req)
            if found is None:
                continue
            if found is False:
                return np.zeros(self._pod_capacity, np.bool_)
            mask &= found
        if namespaces is not None:
            codes = [self._namespaces[n] for n in namespaces if n in self._namespaces]
            if not codes:
                return np.zeros(self._pod_capacity, np.bool_)
            mask &= _among(self.pod_ns, codes)
        if skip_terminating:
            mask &= ~self.pod_terminating
        return mask

    def _requirement_mask(self, req: klabels.Requirement) -> NDArray[np.bool_] | Literal[False] | None:
        """A requirement over the pod slots: a mask, ``False`` (no pod matches) or ``None`` (all do)."""
        op = req.operator
        col = self.pod_label_columns.get(req.key)
        if op in (klabels.Operator.EXISTS, klabels.Operator.DOES_NOT_EXIST):
            if col is None:
                return False if op is klabels.Operator.EXISTS else None
            present: NDArray[np.bool_] = col.codes >= 0
            return present if op is klabels.Operator.EXISTS else ~present
        positive = op in (klabels.Operator.IN, klabels.Operator.EQUALS, klabels.Operator.DOUBLE_EQUALS)
        negative = op in (klabels.Operator.NOT_IN, klabels.Operator.NOT_EQUALS)
        if positive or negative:
            codes = [] if col is None else [col.vocab[v] for v in req.values if v in col.vocab]
            if not codes:
                return False if positive else None
            assert col is not None
            hit = _among(col.codes, codes)
            return hit if positive else ~hit
        # Gt / Lt
        bound = parse_int64(req.values[0]) if len(req.values) == 1 else None
        if col is None or bound is None or not col.values:
            return False
        ints, ok = col.parsed()
        safe = np.maximum(col.codes, 0)
        numbers = ints[safe]
        beyond = numbers > bound if op is klabels.Operator.GREATER_THAN else numbers < bound
        compared: NDArray[np.bool_] = (col.codes >= 0) & ok[safe] & beyond
        return compared

    def count_pods(self, mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Over all node rows: how many of the pods in ``mask`` (over pod slots) each holds."""
        rows = self.pod_node[mask & (self.pod_node >= 0)]
        counts: NDArray[np.int64] = np.bincount(rows, minlength=self._capacity).astype(np.int64)
        return counts

    def affinity_usages(self, kind: int) -> Iterable[AffinityUsage]:
        """The distinct terms of that kind carried by accounted pods."""
        return self._usages[kind].values()

    def _index_usage(self, usage: AffinityUsage, *, add: bool) -> None:
        selector = usage.term.selector
        if selector.nothing:
            return  # never matches: never a candidate
        pinned = next(
            (
                r
                for r in selector.requirements
                if r.operator
                in (klabels.Operator.IN, klabels.Operator.EQUALS, klabels.Operator.DOUBLE_EQUALS)
            ),
            None,
        )
        buckets = (
            [self._usage_any[usage.kind]]
            if pinned is None
            else [self._usage_index[usage.kind].setdefault((pinned.key, v), {}) for v in pinned.values]
        )
        for bucket in buckets:
            if add:
                bucket[id(usage)] = usage
            else:
                del bucket[id(usage)]
        if not add and pinned is not None:
            index = self._usage_index[usage.kind]
            for v in pinned.values:
                if not index[(pinned.key, v)]:
                    del index[(pinned.key, v)]

    def affinity_candidates(self, kind: int, pod_labels: Mapping[str, str]) -> list[AffinityUsage]:
        """The distinct terms of that kind whose selector can match a pod with these labels: those pinning
        one of its label values (``key=value``, ``key in (...)``) and those pinning none."""
        found = list(self._usage_any[kind].values())
        index = self._usage_index[kind]
        if index:
            for pair in pod_labels.items():
                bucket = index.get(pair)
                if bucket:
                    found.extend(bucket.values())
        return found

    def has_affinity(self, kind: int) -> bool:
        """Whether any accounted pod carries a term of that kind."""
        return bool(self._usages[kind])

    def add_pod(self, pod: Mapping[str, Any], node_name: str) -> None:
        """Account a pod bound to ``node_name`` (confirms an assumed pod); idempotent per pod uid.

        Adding a pod already accounted on that node with the same requests (and labels, namespace,
        deletion mark, controller and pod affinity) changes nothing; a different node or any other change
        moves or re-accounts it (upstream's ``UpdatePod``).
        """
        key = pod_key(pod)
        rec = self._pods.get(key)
        if rec is not None and rec.node == node_name:
            rec.assumed = False
            if (rec.requests, rec.non_zero) == pod_resources(pod) and rec.meta == _pod_meta(pod):
                return
        if rec is not None:
            self._detach(key)
        self._attach(key, pod, node_name, assumed=False)

    def remove_pod(self, pod: Mapping[str, Any], node_name: str | None = None) -> bool:
        """Stop accounting a pod (wherever it was accounted; ``node_name`` is informational)."""
        return self._detach(pod_key(pod)) is not None

    def assume(self, pod: Mapping[str, Any], node_name: str) -> None:
        """Account a pod on a node before its binding is confirmed (upstream's ``AssumePod``).

        Raises ``ValueError`` if the pod is already accounted as bound; assuming it again on the same node is
        a no-op, on another node a move.
        """
        key = pod_key(pod)
        rec = self._pods.get(key)
        if rec is not None:
            if not rec.assumed:
                raise ValueError(f"pod {key} is in the cache, so can't be assumed")
            if rec.node == node_name:
                return
            self._detach(key)
        self._attach(key, pod, node_name, assumed=True)

    def forget(self, pod: Mapping[str, Any]) -> bool:
        """Drop an assumed pod whose binding failed (not a confirmed one); returns whether it was dropped."""
        key = pod_key(pod)
        rec = self._pods.get(key)
        if rec is None or not rec.assumed:
            return False
        self._detach(key)
        return True

    def is_assumed(self, pod: Mapping[str, Any]) -> bool:
        """Whether the pod is accounted as assumed (not yet confirmed by ``add_pod``)."""
        rec = self._pods.get(pod_key(pod))
        return rec is not None and rec.assumed

    def node_of(self, pod: Mapping[str, Any]) -> str | None:
        """The node a pod is accounted on, if any."""
        rec = self._pods.get(pod_key(pod))
        return None if rec is None else rec.node
