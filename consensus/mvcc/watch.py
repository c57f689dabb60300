"""The watch history: every change the store made since the compaction point, in revision order.

It plays the part of etcd's backend read by revision: a watcher that starts (or resumes) at revision ``r``
gets every event of revision ``r`` and later. What it promises, from etcd's API guarantees:

- ordered: events come by revision, and inside one revision in the order the request made the changes
  (etcd's sub-revisions);
- unique and without gaps: each change appears exactly once, and every revision from the start on that
  changed a key in the watched range is there in full (a revision is never split);
- resumable: any start at or above the compaction point works, however old; below it,
  ``errors.Compacted`` tells the watcher to re-list and watch from the revision of its list.

It stores two parallel columns, the new version and the version before, and builds ``Event`` values only
for what a watcher asks, so recording a change costs two list appends.
"""

from __future__ import annotations

import bisect
import operator

from consensus.mvcc import errors, types

_MOD_REVISION = operator.attrgetter("mod_revision")


class WatchHistory:
    """Append-only log of changes, truncated from the front by compaction."""

    __slots__ = ("_kvs", "_prevs", "compact_revision")

    def __init__(self) -> None:
        self._kvs: list[types.KeyValue] = []
        self._prevs: list[types.KeyValue | None] = []
        self.compact_revision = 0
        """Events of revisions below this are gone; a start below it raises ``Compacted``."""

    def __len__(self) -> int:
        return len(self._kvs)

    def append(self, kv: types.KeyValue, prev_kv: types.KeyValue | None) -> None:
        """Record one change; ``kv`` is a tombstone for a delete. Revisions must not decrease."""
        self._kvs.append(kv)
        self._prevs.append(prev_kv)

    def events_since(
        self, start_revision: int, *, key: bytes = types.ALL_KEYS, range_end: bytes = types.ALL_KEYS
    ) -> list[types.Event]:
        """Every event of revision ``>= start_revision`` on a key in ``(key, range_end)``, in order.

        The default range is every key. Raises ``Compacted`` when ``start_revision`` is below the
        compaction point.
        """
        if start_revision < self.compact_revision:
            raise errors.Compacted(self.compact_revision)
        kvs = self._kvs
        first = bisect.bisect_left(kvs, start_revision, key=_MOD_REVISION)
        start, end = types.key_interval(key, range_end)
        prevs = self._prevs
        put, delete = types.EventType.PUT, types.EventType.DELETE
        return [
            types.Event(type=delete if kv.version == 0 else put, kv=kv, prev_kv=prevs[i])
            for i in range(first, len(kvs))
            if start <= (kv := kvs[i]).key and (end is None or kv.key < end)
        ]

    def compact(self, revision: int) -> None:
        """Drop the events of revisions below ``revision``; the store has checked ``revision``."""
        cut = bisect.bisect_left(self._kvs, revision, key=_MOD_REVISION)
        del self._kvs[:cut]
        del self._prevs[:cut]
        self.compact_revision = revision

    def to_state(self) -> list[tuple[types.KeyValue, types.KeyValue | None]]:
        """Every retained change as ``(kv, prev_kv)``, for a snapshot."""
        return list(zip(self._kvs, self._prevs, strict=True))

    @classmethod
    def from_state(
        cls, changes: list[tuple[types.KeyValue, types.KeyValue | None]], *, compact_revision: int
    ) -> WatchHistory:
        history = cls()
        for kv, prev_kv in changes:
            history.append(kv, prev_kv)
        history.compact_revision = compact_revision
        return history
