"""``ControllerExpectations``: the creates and deletes a controller made that its cache has not shown yet.

As upstream's ``ControllerExpectations`` with ``UIDTrackingControllerExpectations`` on top
(``pkg/controller/controller_utils.go``). A controller that manages replicas must not count from a cache that
lags its own writes: having created 3 pods it would see 0 and create 3 more. So, before the writes, the
controller-manager *sets* the key's expectations (``expect_creations``/``expect_deletions``/``set``: the old
ones are forgotten and the clock restarts); each object the informer shows settles one
(``creation_observed``, ``deletion_observed``); a write that failed or was never made is settled at once
(``lower``), since no event will come for it. ``pending(key)`` is what ``reconcile`` sees in its
``Context``: a key is satisfied when nothing is outstanding, when it has no record (a new controller), or
when its record is older than ``EXPECTATIONS_TIMEOUT`` (5 minutes of cluster time, upstream's
``ExpectationsTimeout``), so a lost event never stalls a controller for good.

Deletions may name the objects being deleted (``ns/name`` keys, or whatever string the caller uses): then
only a named object settles one, once. Graceful deletion needs this: the object is observed as deleted
when its ``deletionTimestamp`` appears and again when it goes, and only the first counts.

Pure bookkeeping over the injected clock: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from actors.controllers import framework
from actors.runtime.clock import Clock

EXPECTATIONS_TIMEOUT = 300.0


@dataclasses.dataclass(slots=True)
class _Expectation:
    adds: int
    deletes: int
    timestamp: float  # when set: the record expires EXPECTATIONS_TIMEOUT later
    deleting: set[str] | None  # the objects whose deletion is expected, when named


class ControllerExpectations:
    """See the module docstring. One instance per controller: keys of different kinds may coincide."""

    def __init__(self, *, clock: Clock, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock = clock
        self.timeout = timeout
        self._records: dict[str, _Expectation] = {}

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def set(self, key: str, *, adds: int = 0, deletes: int | Collection[str] = 0) -> None:
        """Expect ``adds`` creations and ``deletes`` deletions (a count, or the keys of the objects to be
        deleted) for ``key``, forgetting what it expected before (upstream's ``SetExpectations``)."""
        deleting = None if isinstance(deletes, int) else set(deletes)
        count = deletes if isinstance(deletes, int) else len(deleting or ())
        self._records[key] = _Expectation(
            adds=adds, deletes=count, timestamp=self.clock.now(), deleting=deleting
        )

    def expect_creations(self, key: str, adds: int) -> None:
        self.set(key, adds=adds)

    def expect_deletions(self, key: str, deletes: int | Collection[str]) -> None:
        self.set(key, deletes=deletes)

    def raise_expectations(self, key: str, *, adds: int = 0, deletes: int = 0) -> None:
        """Expect more of an existing record (nothing without one; the clock is not restarted)."""
        record = self._records.get(key)
        if record is not None:
            record.adds += adds
            record.deletes += deletes

    def lower(self, key: str, *, adds: int = 0, deletes: int = 0) -> None:
        """Settle writes without an event: ones that failed, or were never made."""
        record = self._records.get(key)
        if record is not None:
            record.adds -= adds
            record.deletes -= deletes

    def creation_observed(self, key: str) -> None:
        self.lower(key, adds=1)

    def deletion_observed(self, key: str, deleted: str | None = None) -> None:
        """One deletion of ``key``'s was seen (or will never be: it failed). When the record names its
        objects, only a named ``deleted`` counts, and only the first time."""
        record = self._records.get(key)
        if record is None:
            return
        if record.deleting is not None:
            if deleted is None or deleted not in record.deleting:
                return
            record.deleting.discard(deleted)
        record.deletes -= 1

    def pending(self, key: str) -> framework.Pending:
        """What ``key`` still waits for; satisfied (zero) when it has no record or its record expired."""
        record = self._records.get(key)
        if record is None or self.clock.now() - record.timestamp > self.timeout:
            return framework.Pending()
        return framework.Pending(adds=record.adds, deletes=record.deletes)

    def satisfied(self, key: str) -> bool:
        return self.pending(key).satisfied

    def delete(self, key: str) -> None:
        """Forget ``key`` (its object is gone)."""
        self._records.pop(key, None)
