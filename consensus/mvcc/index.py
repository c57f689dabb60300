"""The ordered set of keys the store has history for: what a range query walks.

etcd keeps a B-tree of keys (``treeIndex``); this is the same idea with the standard library: a sorted list
of sorted buckets (the layout of ``sortedcontainers.SortedList``). Adding or discarding a key costs a
binary search over the bucket maxima, a binary search inside one bucket and a ``memmove`` of at most
``2 * BUCKET_LOAD`` pointers, so it stays cheap at millions of keys, where one flat list would move
megabytes per new key. Walking ``[start, end)`` costs a binary search plus the keys walked.

Invariants: every bucket is sorted and not empty; every key of bucket ``i`` sorts before every key of
bucket ``i + 1``; ``_maxes[i] == _buckets[i][-1]``; no key appears twice.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

BUCKET_LOAD = 512
"""A bucket splits in two when it grows past twice this."""


class KeyIndex:
    """A sorted set of ``bytes`` keys with range iteration."""

    __slots__ = ("_buckets", "_len", "_maxes")

    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        ordered = sorted(set(keys))
        self._buckets = [ordered[i : i + BUCKET_LOAD] for i in range(0, len(ordered), BUCKET_LOAD)]
        self._maxes = [bucket[-1] for bucket in self._buckets]
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes):
            return False
        i = bisect.bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return False
        bucket = self._buckets[i]
        return bucket[bisect.bisect_left(bucket, key)] == key

    def __iter__(self) -> Iterator[bytes]:
        for bucket in self._buckets:
            yield from bucket

    def add(self, key: bytes) -> None:
        """Insert ``key``; the caller guarantees it is not present yet."""
        maxes = self._maxes
        if not maxes:
            self._buckets.append([key])
            maxes.append(key)
            self._len = 1
            return
        i = bisect.bisect_left(maxes, key)
        if i == len(maxes):
            i -= 1
            self._buckets[i].append(key)
            maxes[i] = key
        else:
            bisect.insort(self._buckets[i], key)
        self._len += 1
        bucket = self._buckets[i]
        if len(bucket) > 2 * BUCKET_LOAD:
            self._buckets[i : i + 1] = [bucket[:BUCKET_LOAD], bucket[BUCKET_LOAD:]]
            maxes[i : i + 1] = [bucket[BUCKET_LOAD - 1], bucket[-1]]

    def discard(self, key: bytes) -> None:
        """Remove ``key`` if present."""
        i = bisect.bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return
        bucket = self._buckets[i]
        j = bisect.bisect_left(bucket, key)
        if bucket[j] != key:
            return
        del bucket[j]
        self._len -= 1
        if bucket:
            self._maxes[i] = bucket[-1]
        else:
            del self._buckets[i]
            del self._maxes[i]

    def irange(self, start: bytes, end: bytes | None) -> Iterator[bytes]:
        """Keys ``k`` with ``start <= k < end`` (``end`` None: no upper bound), ascending."""
        maxes = self._maxes
        i = bisect.bisect_left(maxes, start)
        if i == len(maxes):
            return
        buckets = self._buckets
        j = bisect.bisect_left(buckets[i], start)
        if end is None:
            yield from buckets[i][j:]
            for bucket in buckets[i + 1 :]:
                yield from bucket
            return
        while i < len(buckets):
            bucket = buckets[i]
            if maxes[i] < end:
                yield from bucket[j:]
            else:
                yield from bucket[j : bisect.bisect_left(bucket, end, j)]
                return
            i += 1
            j = 0
