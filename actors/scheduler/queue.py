"""The scheduling queue: upstream's ``PriorityQueue`` (``pkg/scheduler/internal/queue``), on cluster time.

Three places a pending pod can wait:

- ``active``: ready to be tried, highest ``spec.priority`` first, then first come first served;
- ``backoff``: tried and failed for a reason other than "no node fits" (a binding refused, a conflict);
  it waits 1 s doubling per attempt up to 10 s (``podInitialBackoffDuration``/``podMaxBackoffDuration``);
- ``unschedulable``: no node fits; it waits for a cluster event that may change that (a node added or
  changed, a pod deleted: ``move_all``) or at most 5 minutes (``podMaxInUnschedulablePodsDuration``), and
  then goes through back-off if its back-off has not expired yet, as upstream.

Pure: the caller passes ``now`` (the cluster clock) and owns the waiting.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from typing import Any

_PLACES = ("active", "backoff", "unschedulable", "in_flight")
INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE = 300.0


def pod_key(pod: dict[str, Any]) -> str:
    md = pod["metadata"]
    return f"{md.get('namespace', '')}/{md['name']}"


@dataclasses.dataclass(slots=True)
class _Entry:
    pod: dict[str, Any]
    added: float  # first enqueued (upstream's InitialAttemptTimestamp)
    attempts: int = 0
    failed_at: float = 0.0
    where: str = "active"  # active | backoff | unschedulable | in_flight (popped, being tried)
    seq: int = 0

    def backoff_until(self) -> float:
        if self.attempts == 0:
            return self.failed_at
        delay: float = min(INITIAL_BACKOFF * 2.0 ** (self.attempts - 1), MAX_BACKOFF)
        return self.failed_at + delay


class SchedulingQueue:
    """See the module docstring."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._active: list[tuple[int, float, int, str]] = []  # (-priority, added, seq, key)
        self._waiting: list[tuple[float, int, str]] = []  # (ready at, seq, key): backoff and unschedulable
        self._unschedulable: set[str] = set()
        self._seq = itertools.count()
        self._counts = dict.fromkeys(_PLACES, 0)  # entries per ``where``: ``counts()`` walks nothing

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def counts(self) -> dict[str, int]:
        """How many pods wait in each place (``active``, ``backoff``, ``unschedulable``, ``in_flight``)."""
        return dict(self._counts)

    def add(self, pod: dict[str, Any], now: float) -> None:
        """A new pending pod, or a newer version of one already waiting (an update may make it fit:
        an unschedulable one is tried again)."""
        key = pod_key(pod)
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = entry = _Entry(pod=pod, added=now)
            self._counts[entry.where] += 1
            self._activate(key, entry)
            return
        old, entry.pod = entry.pod, pod
        if entry.where == "unschedulable" and _updated(old, pod):
            self._requeue(key, entry, now)

    def delete(self, key: str) -> None:
        entry = self._entries.pop(key, None)  # a stale heap item is skipped when popped
        if entry is not None:
            self._counts[entry.where] -= 1
        self._unschedulable.discard(key)

    def pop(self, now: float) -> dict[str, Any] | None:
        """The next pod to try, or None; back-offs and unschedulable waits that ran out join first."""
        self._flush(now)
        while self._active:
            _, _, seq, key = heapq.heappop(self._active)
            entry = self._entries.get(key)
            if entry is None or entry.where != "active" or entry.seq != seq:
                continue
            self._move(entry, "in_flight")
            return entry.pod
        return None

    def failed(self, pod: dict[str, Any], now: float, *, unschedulable: bool) -> None:
        """The attempt at ``pod`` failed: no node fits (``unschedulable``) or something else went wrong."""
        key = pod_key(pod)
        entry = self._entries.get(key)
        if entry is None:
            return  # deleted meanwhile
        entry.attempts += 1
        entry.failed_at = now
        self._park(key, entry, "unschedulable" if unschedulable else "backoff")

    def done(self, pod: dict[str, Any]) -> None:
        """The pod was bound: it leaves the queue."""
        self.delete(pod_key(pod))

    def move_all(self, now: float) -> None:
        """A cluster event that may let unschedulable pods fit (``MoveAllToActiveOrBackoffQueue``)."""
        for key in list(self._unschedulable):
            self._requeue(key, self._entries[key], now)

    def next_wakeup(self) -> float | None:
        """When a waiting pod next becomes ready (None: nothing waits on time)."""
        self._drop_stale()
        return self._waiting[0][0] if self._waiting else None

    def _flush(self, now: float) -> None:
        """Waits that ran out, earliest first: O(log n) each, nothing for the pods still waiting."""
        while True:
            self._drop_stale()
            if not self._waiting or self._waiting[0][0] > now:
                return
            _, _, key = heapq.heappop(self._waiting)
            entry = self._entries[key]
            if entry.where == "backoff":
                self._activate(key, entry)
            else:
                self._requeue(key, entry, now)

    def _drop_stale(self) -> None:
        waiting = self._waiting
        while waiting:
            _, seq, key = waiting[0]
            entry = self._entries.get(key)
            if entry is not None and entry.seq == seq and entry.where in ("backoff", "unschedulable"):
                return
            heapq.heappop(waiting)

    def _move(self, entry: _Entry, where: str) -> None:
        self._counts[entry.where] -= 1
        self._counts[where] += 1
        entry.where = where

    def _park(self, key: str, entry: _Entry, where: str) -> None:
        self._move(entry, where)
        if where == "unschedulable":
            self._unschedulable.add(key)
        else:
            self._unschedulable.discard(key)
        entry.seq = next(self._seq)
        until = entry.backoff_until() if where == "backoff" else entry.failed_at + MAX_UNSCHEDULABLE
        heapq.heappush(self._waiting, (until, entry.seq, key))

    def _requeue(self, key: str, entry: _Entry, now: float) -> None:
        if entry.backoff_until() > now:
            self._park(key, entry, "backoff")
        else:
            self._activate(key, entry)

    def _activate(self, key: str, entry: _Entry) -> None:
        self._unschedulable.discard(key)
        self._move(entry, "active")
        entry.seq = next(self._seq)
        priority = int((entry.pod.get("spec") or {}).get("priority") or 0)
        heapq.heappush(self._active, (-priority, entry.added, entry.seq, key))


def _updated(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether an update may change where the pod fits: anything but its status and version (upstream's
    ``isPodUpdated``; the scheduler's own status writes must not wake the pod it just parked)."""

    def strip(pod: dict[str, Any]) -> dict[str, Any]:
        md = {
            k: v for k, v in (pod.get("metadata") or {}).items() if k not in ("resourceVersion", "generation")
        }
        return {**{k: v for k, v in pod.items() if k != "status"}, "metadata": md}

    return strip(old) != strip(new)
