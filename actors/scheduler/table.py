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

Deviations: a removed node's pods are kept aside and re-accounted if a node of that name comes back (upstream
keeps such pods on a node-less ``NodeInfo``); vocabularies only grow; extended resources are not tracked; the
node order is row order, not upstream's zone-interleaved node tree.
"""

from __future__ import annotations

import dataclasses
import heapq
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from actors.scheduler.resources import Resources, node_allocatable, non_zero_requests, pod_requests

_INT64 = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"


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


@dataclasses.dataclass(slots=True)
class _PodRecord:
    node: str
    row: int  # -1 while no node of that name is in the table
    requests: Resources
    non_zero: Resources
    assumed: bool


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


class NodeTable:
    """Nodes as rows of numpy columns, with the requests of the pods on them; see the module docstring."""

    __slots__ = (
        "_by_node",
        "_capacity",
        "_free",
        "_index",
        "_labels",
        "_names",
        "_pods",
        "_rows",
        "_taint_ids",
        "_taints",
        "alloc_cpu",
        "alloc_ephemeral",
        "alloc_memory",
        "alloc_pods",
        "label_columns",
        "live",
        "nz_cpu",
        "nz_memory",
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
        self._pods: dict[str, _PodRecord] = {}
        self._by_node: dict[str, dict[str, _PodRecord]] = {}

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
        alloc = node_allocatable(node)
        self.alloc_cpu[row] = alloc.milli_cpu
        self.alloc_memory[row] = alloc.memory
        self.alloc_ephemeral[row] = alloc.ephemeral_storage
        self.alloc_pods[row] = alloc.pods
        self.unschedulable[row] = bool(spec.get("unschedulable"))
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
        self.unschedulable[row] = False
        self.live[row] = False
        self._names[row] = None
        self._rows = None
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

    def label_equals(self, key: str, value: str) -> NDArray[np.bool_]:
        """Rows whose label ``key`` is ``value`` (over all ``capacity`` rows)."""
        col = self.label_columns.get(key)
        if col is None or value not in col.vocab:
            return np.zeros(self._capacity, np.bool_)
        same: NDArray[np.bool_] = col.codes == col.vocab[value]
        return same

    def label_in(self, key: str, values: Iterable[str]) -> NDArray[np.bool_]:
        """Rows that have label ``key`` with one of ``values``."""
        col = self.label_columns.get(key)
        if col is None:
            return np.zeros(self._capacity, np.bool_)
        codes = [col.vocab[v] for v in values if v in col.vocab]
        if not codes:
            return np.zeros(self._capacity, np.bool_)
        found: NDArray[np.bool_] = (
            col.codes == codes[0] if len(codes) == 1 else np.isin(col.codes, np.array(codes, np.int32))
        )
        return found

    def label_exists(self, key: str) -> NDArray[np.bool_]:
        """Rows that have label ``key`` (any value)."""
        col = self.label_columns.get(key)
        if col is None:
            return np.zeros(self._capacity, np.bool_)
        present: NDArray[np.bool_] = col.codes >= 0
        return present

    def label_compare(self, key: str, bound: int, greater: bool) -> NDArray[np.bool_]:
        """Rows whose label ``key`` parses as an int64 greater (or less) than ``bound``: ``Gt``/``Lt``."""
        col = self.label_columns.get(key)
        if col is None or not col.values:
            return np.zeros(self._capacity, np.bool_)
        ints, ok = col.parsed()
        safe = np.maximum(col.codes, 0)
        numbers = ints[safe]
        beyond = numbers > bound if greater else numbers < bound
        result: NDArray[np.bool_] = (col.codes >= 0) & ok[safe] & beyond
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

    def _detach(self, key: str) -> _PodRecord | None:
        rec = self._pods.pop(key, None)
        if rec is None:
            return None
        self._apply(rec, -1)
        on_node = self._by_node[rec.node]
        del on_node[key]
        if not on_node:
            del self._by_node[rec.node]
        return rec

    def _attach(self, key: str, pod: Mapping[str, Any], node_name: str, assumed: bool) -> None:
        row = self._index.get(node_name)
        rec = _PodRecord(
            node=node_name,
            row=-1 if row is None else row,
            requests=pod_requests(pod),
            non_zero=non_zero_requests(pod),
            assumed=assumed,
        )
        self._pods[key] = rec
        self._by_node.setdefault(node_name, {})[key] = rec
        self._apply(rec, +1)

    def add_pod(self, pod: Mapping[str, Any], node_name: str) -> None:
        """Account a pod bound to ``node_name`` (confirms an assumed pod); idempotent per pod uid.

        Adding a pod already accounted on that node with the same requests changes nothing; a different
        node or different requests move or resize its accounting (upstream's ``UpdatePod``).
        """
        key = pod_key(pod)
        rec = self._pods.get(key)
        if rec is not None and rec.node == node_name:
            rec.assumed = False
            if rec.requests == pod_requests(pod) and rec.non_zero == non_zero_requests(pod):
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
