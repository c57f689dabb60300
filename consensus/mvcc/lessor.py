"""The lease table: which leases exist, their deadlines on the cluster clock, and the keys attached to each.

This is etcd's ``lessor`` without its goroutines and timers. Deadlines are absolute times on the cluster
clock, computed from the ``now`` a request carries, and they are part of the replicated state, so a new
leader sees the same deadlines as the old one. ``expired(now)`` is a pure query; revoking is the store's
job, because it deletes keys and so takes revisions.

The table only keeps books. Deleting attached keys, and the rule that a put may only name an existing
lease, live in the store.

Invariants: a key is attached to at most one lease, and ``_attached[key] == lease.id`` exactly when
``key in lease.keys``.
"""

from __future__ import annotations

import dataclasses
import math

from consensus.mvcc import errors, types

MAX_LEASE_TTL = 9_000_000_000
"""etcd's ``MaxLeaseTTL`` in seconds; a longer grant fails with ``LeaseTTLTooLarge``."""


@dataclasses.dataclass(slots=True, kw_only=True)
class Lease:
    """One lease: mutable, owned by the ``Lessor``; callers read it and never change it."""

    id: int
    ttl: int
    expiry: float
    keys: set[bytes] = dataclasses.field(default_factory=set)

    def remaining(self, now: float) -> int:
        """Whole seconds left at ``now`` (truncated, as etcd's ``Remaining().Seconds()``), never below 0."""
        return max(0, math.floor(self.expiry - now))


class Lessor:
    """Grants, renews and forgets leases; tracks attachments; finds the expired ones."""

    __slots__ = ("_attached", "_leases", "_next_id", "min_ttl")

    def __init__(self, *, min_ttl: int = 1) -> None:
        self.min_ttl = min_ttl
        self._leases: dict[int, Lease] = {}
        self._attached: dict[bytes, int] = {}
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._leases)

    def lookup(self, lease_id: int) -> Lease | None:
        return self._leases.get(lease_id)

    def ids(self) -> list[int]:
        """Every lease id, ascending."""
        return sorted(self._leases)

    def grant(self, *, lease_id: int, ttl: int, now: float) -> Lease:
        """A new lease of ``max(ttl, min_ttl)`` seconds from ``now``; id ``NO_LEASE`` picks the next free id.

        Chosen ids count up from 1, so every member picks the same id for the same log entry.
        """
        if ttl > MAX_LEASE_TTL:
            raise errors.LeaseTTLTooLarge()
        if lease_id == types.NO_LEASE:
            while self._next_id in self._leases:
                self._next_id += 1
            lease_id = self._next_id
            self._next_id += 1
        elif lease_id in self._leases:
            raise errors.LeaseExists()
        ttl = max(ttl, self.min_ttl)
        lease = Lease(id=lease_id, ttl=ttl, expiry=now + ttl)
        self._leases[lease_id] = lease
        return lease

    def renew(self, *, lease_id: int, now: float) -> Lease:
        """Restart the lease's TTL from ``now``.

        A lease whose deadline has passed is as good as revoked (its revocation is on its way through the
        log), so renewing it fails with ``LeaseNotFound``, as etcd's leader refuses it.
        """
        lease = self._leases.get(lease_id)
        if lease is None or lease.expiry <= now:
            raise errors.LeaseNotFound(lease_id)
        lease.expiry = now + lease.ttl
        return lease

    def remove(self, lease_id: int) -> Lease:
        """Forget the lease and its attachments; the caller deletes its keys."""
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            raise errors.LeaseNotFound(lease_id)
        for key in lease.keys:
            del self._attached[key]
        return lease

    def attach(self, lease_id: int, key: bytes) -> None:
        """Attach ``key`` to the existing lease ``lease_id``, detaching it from any other first."""
        self.detach(key)
        self._leases[lease_id].keys.add(key)
        self._attached[key] = lease_id

    def detach(self, key: bytes) -> None:
        lease_id = self._attached.pop(key, None)
        if lease_id is not None:
            self._leases[lease_id].keys.discard(key)

    def expired(self, now: float) -> list[int]:
        """Ids of leases whose deadline is at or before ``now``, by deadline then id."""
        due = [lease for lease in self._leases.values() if lease.expiry <= now]
        due.sort(key=lambda lease: (lease.expiry, lease.id))
        return [lease.id for lease in due]

    def to_state(self) -> list[object]:
        """Plain data for a snapshot; keys are not included (they are rebuilt from the key-values)."""
        rows = [[lease.id, lease.ttl, lease.expiry] for _, lease in sorted(self._leases.items())]
        return [self._next_id, rows]

    @classmethod
    def from_state(cls, state: list[object], *, min_ttl: int) -> Lessor:
        """The inverse of ``to_state``, with no keys attached yet."""
        next_id, rows = state
        lessor = cls(min_ttl=min_ttl)
        assert isinstance(next_id, int) and isinstance(rows, list)
        lessor._next_id = next_id
        for lease_id, ttl, expiry in rows:
            lessor._leases[lease_id] = Lease(id=lease_id, ttl=ttl, expiry=expiry)
        return lessor
