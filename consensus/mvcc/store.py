"""The MVCC state machine of the store: etcd v3's key-value semantics, pure and deterministic.

Every member of the replicated store holds one ``MvccStore`` and feeds it the committed log entries in
order through ``apply``. What it promises:

- Determinism: the same requests in the same order give the same responses, the same errors and the same
  ``snapshot()`` bytes on every member. It reads no clock (time arrives as ``now`` in lease requests), draws
  no random numbers, does no I/O, and never lets hash order reach its output.
- Atomicity: a request that raises a ``errors.StoreError`` changed nothing. A txn is checked completely
  (static checks, compares, leases, ``ignore_*`` keys, range revisions) before its first write.
- Revisions as etcd's: the store starts at revision 1; each request that changes at least one key takes
  exactly the next revision (a txn with many writes takes one; a delete of nothing, a read, a lease grant or
  a compaction takes none); each change of a key updates its ``mod_revision`` and ``version``, a delete ends
  its generation and a later put starts a new one (``version`` 1, new ``create_revision``). A key changes
  at most once per revision (``validation`` refuses txns that would change one twice).
- Reads at any revision from the compaction point to the current one see exactly what a read at that
  revision saw then; below it they fail with ``errors.Compacted``, above it with ``errors.FutureRevision``.
- Leases: keys attached to a lease are deleted, all in one revision, when the lease is revoked or expires.
  Expiry is a log entry (``LeaseExpireRequest(now)``) that the leader proposes when
  ``expired_leases(now)`` is not empty, so every member revokes the same leases at the same revisions.
- The watch history (``events_since``) holds every change since the compaction point; see ``watch``.

The layout: ``_latest`` maps each live key to its current ``KeyValue`` (what most reads and every write
touch: one dict lookup); ``_history`` maps every key with retained history to its versions, oldest first,
tombstones included (reads at a past revision bisect it); ``_index`` orders the keys of ``_history`` for
range scans. A put of an existing key touches two dicts and two lists; only a new key touches the index.
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from consensus.mvcc import errors, index, lessor, types, validation, watch

_MOD_REVISION = operator.attrgetter("mod_revision")
_ABSENT = types.KeyValue(key=b"", create_revision=0, mod_revision=0, version=0)
"""What a compare reads for a key that does not exist."""

_SORT_KEYS: dict[types.SortTarget, Callable[[types.KeyValue], Any]] = {
    types.SortTarget.KEY: operator.attrgetter("key"),
    types.SortTarget.VERSION: operator.attrgetter("version"),
    types.SortTarget.CREATE: operator.attrgetter("create_revision"),
    types.SortTarget.MOD: operator.attrgetter("mod_revision"),
    types.SortTarget.VALUE: operator.attrgetter("value"),
}

# Indexed by the enums' values (a tuple index is cheaper than hashing an enum member, on every compare).
_COMPARE_FIELDS: tuple[Callable[[types.KeyValue], Any], ...] = tuple(
    {
        types.CompareTarget.VERSION: operator.attrgetter("version"),
        types.CompareTarget.CREATE: operator.attrgetter("create_revision"),
        types.CompareTarget.MOD: operator.attrgetter("mod_revision"),
        types.CompareTarget.VALUE: operator.attrgetter("value"),
        types.CompareTarget.LEASE: operator.attrgetter("lease"),
    }[target]
    for target in types.CompareTarget
)

_COMPARE_RESULTS: tuple[Callable[[Any, Any], bool], ...] = tuple(
    {
        types.CompareResult.EQUAL: operator.eq,
        types.CompareResult.NOT_EQUAL: operator.ne,
        types.CompareResult.LESS: operator.lt,
        types.CompareResult.GREATER: operator.gt,
    }[result]
    for result in types.CompareResult
)

SNAPSHOT_FORMAT = 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoreStats:
    """A cheap look at the store's size, for ``/metrics`` and logs."""

    revision: int
    compact_revision: int
    keys: int
    keys_with_history: int
    leases: int
    watch_events: int


class MvccStore:
    """etcd's ``mvcc`` store and ``lessor`` as one state machine; see the module docstring for its contract.

    Writers call ``apply`` (or the typed method for a request) with committed entries, in log order and
    from one thread. Queries (``range``, ``events_since``, ``expired_leases``, ``stats``) may be called
    between entries.
    """

    def __init__(
        self,
        *,
        min_lease_ttl: int = 1,
        max_request_bytes: int = validation.MAX_REQUEST_BYTES,
        max_txn_ops: int = validation.MAX_TXN_OPS,
    ) -> None:
        self.max_request_bytes = max_request_bytes
        self.max_txn_ops = max_txn_ops
        self._revision = 1
        self._compact_revision = 0
        self._latest: dict[bytes, types.KeyValue] = {}
        self._history: dict[bytes, list[types.KeyValue]] = {}
        self._index = index.KeyIndex()
        self._lessor = lessor.Lessor(min_ttl=min_lease_ttl)
        self._watch = watch.WatchHistory()
        self._txn_changed = False
        """Whether the txn being executed has written yet; its own later reads then see its revision."""
        self._handlers: dict[type[Any], Callable[[Any], types.Response]] = {
            types.PutRequest: self.put,
            types.RangeRequest: self.range,
            types.TxnRequest: self.txn,
            types.DeleteRangeRequest: self.delete_range,
            types.CompactionRequest: self.compact,
            types.LeaseGrantRequest: self.lease_grant,
            types.LeaseRevokeRequest: self.lease_revoke,
            types.LeaseKeepAliveRequest: self.lease_keep_alive,
            types.LeaseTimeToLiveRequest: self.lease_time_to_live,
            types.LeaseLeasesRequest: self.lease_leases,
            types.LeaseExpireRequest: self.lease_expire,
        }

    @property
    def revision(self) -> int:
        """The revision of the last change (1 for an empty store)."""
        return self._revision

    @property
    def compact_revision(self) -> int:
        """The last compaction's revision; 0 before any."""
        return self._compact_revision

    def apply(self, request: types.Request) -> types.Response:
        """Apply one request; raises ``errors.StoreError`` (having changed nothing) when it cannot."""
        return self._handlers[type(request)](request)

    # --- KV ---------------------------------------------------------------------------------------------

    def range(self, request: types.RangeRequest) -> types.RangeResponse:
        validation.check_range_bounds(request.key, request.range_end)
        return self._range(request, self._revision)

    def put(self, request: types.PutRequest) -> types.PutResponse:
        validation.check_put(request, max_request_bytes=self.max_request_bytes)
        self._check_put_state(request)
        revision = self._revision + 1
        prev = self._write_put(request, revision)
        self._revision = revision
        return types.PutResponse(revision=revision, prev_kv=prev if request.prev_kv else None)

    def delete_range(self, request: types.DeleteRangeRequest) -> types.DeleteRangeResponse:
        validation.check_range_bounds(request.key, request.range_end)
        doomed = self._delete_range(request, self._revision + 1)
        if doomed:
            self._revision += 1
        return types.DeleteRangeResponse(
            revision=self._revision, deleted=len(doomed), prev_kvs=tuple(doomed) if request.prev_kv else ()
        )

    def txn(self, request: types.TxnRequest) -> types.TxnResponse:
        validation.check_txn(request, max_request_bytes=self.max_request_bytes, max_txn_ops=self.max_txn_ops)
        flat = self._flat_txn(request)
        if flat is not None:
            return flat
        path: list[bool] = []
        self._compare_path(request, path)
        self._check_txn_state(request, iter(path))
        revision = self._revision + 1
        self._txn_changed = False
        try:
            response = self._execute_txn(request, iter(path), revision)
            if self._txn_changed:
                self._revision = revision
        finally:
            self._txn_changed = False
        return response

    def compact(self, request: types.CompactionRequest) -> types.CompactionResponse:
        """Forget versions no read at or after ``request.revision`` needs, and older watch events.

        For each key the version visible at the compaction revision is kept (unless it is a tombstone) with
        everything newer; a key with nothing left leaves the index. This walks every key, as etcd's index
        compaction does.
        """
        at = request.revision
        if at <= self._compact_revision:
            raise errors.Compacted(self._compact_revision)
        if at > self._revision:
            raise errors.FutureRevision()
        emptied = []
        for key, versions in self._history.items():
            visible = bisect.bisect_right(versions, at, key=_MOD_REVISION) - 1
            if visible < 0:
                continue
            if versions[visible].version == 0:
                visible += 1
            if visible == len(versions):
                emptied.append(key)
            elif visible:
                del versions[:visible]
        for key in emptied:
            del self._history[key]
            self._index.discard(key)
        self._watch.compact(at)
        self._compact_revision = at
        return types.CompactionResponse(revision=self._revision)

    # --- leases -----------------------------------------------------------------------------------------

    def lease_grant(self, request: types.LeaseGrantRequest) -> types.LeaseGrantResponse:
        lease = self._lessor.grant(lease_id=request.id, ttl=request.ttl, now=request.now)
        return types.LeaseGrantResponse(revision=self._revision, id=lease.id, ttl=lease.ttl)

    def lease_revoke(self, request: types.LeaseRevokeRequest) -> types.LeaseRevokeResponse:
        self._revoke(request.id)
        return types.LeaseRevokeResponse(revision=self._revision)

    def lease_keep_alive(self, request: types.LeaseKeepAliveRequest) -> types.LeaseKeepAliveResponse:
        lease = self._lessor.renew(lease_id=request.id, now=request.now)
        return types.LeaseKeepAliveResponse(revision=self._revision, id=lease.id, ttl=lease.ttl)

    def lease_time_to_live(self, request: types.LeaseTimeToLiveRequest) -> types.LeaseTimeToLiveResponse:
        lease = self._lessor.lookup(request.id)
        if lease is None:
            return types.LeaseTimeToLiveResponse(revision=self._revision, id=request.id, ttl=-1)
        return types.LeaseTimeToLiveResponse(
            revision=self._revision,
            id=lease.id,
            ttl=lease.remaining(request.now),
            granted_ttl=lease.ttl,
            keys=tuple(sorted(lease.keys)) if request.keys else (),
        )

    def lease_leases(self, request: types.LeaseLeasesRequest) -> types.LeaseLeasesResponse:
        return types.LeaseLeasesResponse(revision=self._revision, leases=tuple(self._lessor.ids()))

    def lease_expire(self, request: types.LeaseExpireRequest) -> types.LeaseExpireResponse:
        revoked = self._lessor.expired(request.now)
        for lease_id in revoked:
            self._revoke(lease_id)
        return types.LeaseExpireResponse(revision=self._revision, revoked=tuple(revoked))

    def expired_leases(self, now: float) -> list[int]:
        """Leases past their deadline at ``now``: the leader proposes ``LeaseExpireRequest(now)`` if any."""
        return self._lessor.expired(now)

    # --- watch, snapshot, stats -------------------------------------------------------------------------

    def events_since(
        self, start_revision: int, *, key: bytes = types.ALL_KEYS, range_end: bytes = types.ALL_KEYS
    ) -> list[types.Event]:
        """Every change at or after ``start_revision`` to a key in ``(key, range_end)`` (default: all keys).

        Raises ``Compacted`` for a start below the compaction point. A watcher that has seen revision ``r``
        resumes with ``events_since(r + 1)``.
        """
        return self._watch.events_since(start_revision, key=key, range_end=range_end)

    def stats(self) -> StoreStats:
        return StoreStats(
            revision=self._revision,
            compact_revision=self._compact_revision,
            keys=len(self._latest),
            keys_with_history=len(self._history),
            leases=len(self._lessor),
            watch_events=len(self._watch),
        )

    def snapshot(self) -> bytes:
        """The whole state as msgpack; equal states give equal bytes (keys and leases are written sorted).

        Each key's retained versions are written once; a watch event names its versions by ``mod_revision``
        when the history still holds them, so the watch history costs a few bytes per event.
        """
        data: bytes = msgpack.packb(self.capture()(), use_bin_type=True)
        return data

    def capture(self) -> Callable[[], dict[str, Any]]:
        """The state as it is now, for a snapshot taken while the store goes on applying.

        Taking it copies references only (a list per key: compaction trims the lists in place; versions are
        immutable). The function it returns builds the snapshot's plain data, ``snapshot()``'s before
        packing, from that copy, on any thread and at any later time, without reading the store again.
        """
        revision, compact_revision = self._revision, self._compact_revision
        leases = self._lessor.to_state()
        history = {key: list(self._history[key]) for key in self._index}  # sorted, as the index
        changes = self._watch.to_state()

        def build() -> dict[str, Any]:
            return {
                "format": SNAPSHOT_FORMAT,
                "revision": revision,
                "compact_revision": compact_revision,
                "leases": leases,
                "history": [[key, [_version_row(kv) for kv in kvs]] for key, kvs in history.items()],
                "watch": [
                    [kv.key, _version_ref(history, kv), None if prev is None else _version_ref(history, prev)]
                    for kv, prev in changes
                ],
            }

        return build

    def restore(self, data: bytes) -> None:
        """Replace the whole state with one ``snapshot()`` wrote; limits and ``min_lease_ttl`` stay."""
        self.restore_state(msgpack.unpackb(data, raw=False, strict_map_key=False))

    def restore_state(self, state: dict[str, Any]) -> None:
        """``restore`` from the plain data a ``capture()`` built (unpacked)."""
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        if found != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown MVCC snapshot format {found!r}")
        history: dict[bytes, list[types.KeyValue]] = {}
        for key, rows in state["history"]:
            history[key] = [_kv_from_row(key, row) for row in rows]
        latest = {key: versions[-1] for key, versions in history.items() if versions[-1].version != 0}
        leases = lessor.Lessor.from_state(state["leases"], min_ttl=self._lessor.min_ttl)
        for key, kv in latest.items():
            if kv.lease != types.NO_LEASE:
                leases.attach(kv.lease, key)

        def version(key: bytes, ref: int | list[Any]) -> types.KeyValue:
            if isinstance(ref, list):
                return _kv_from_row(key, ref)
            versions = history[key]
            return versions[bisect.bisect_left(versions, ref, key=_MOD_REVISION)]

        changes = [
            (version(key, ref), None if prev_ref is None else version(key, prev_ref))
            for key, ref, prev_ref in state["watch"]
        ]
        self._revision = state["revision"]
        self._compact_revision = state["compact_revision"]
        self._history = history
        self._latest = latest
        self._index = index.KeyIndex(history)
        self._lessor = leases
        self._watch = watch.WatchHistory.from_state(changes, compact_revision=self._compact_revision)

    # --- reads ------------------------------------------------------------------------------------------

    def _range(self, request: types.RangeRequest, view_revision: int) -> types.RangeResponse:
        """A range read in the view at ``view_revision`` (the current revision, or a txn's own)."""
        at = request.revision
        if at <= 0 or at == view_revision:
            kvs = self._live(request.key, request.range_end)
        elif at > view_revision:
            raise errors.FutureRevision()
        elif at < self._compact_revision:
            raise errors.Compacted(self._compact_revision)
        else:
            kvs = self._at_revision(request.key, request.range_end, at)
        count = len(kvs)
        if request.count_only:
            return types.RangeResponse(revision=view_revision, count=count)
        kvs = _filter_and_sort(kvs, request)
        more = False
        if 0 < request.limit < len(kvs):
            kvs = kvs[: request.limit]
            more = True
        if request.keys_only:
            kvs = [dataclasses.replace(kv, value=b"") for kv in kvs]
        return types.RangeResponse(revision=view_revision, kvs=tuple(kvs), more=more, count=count)

    def _live(self, key: bytes, range_end: bytes) -> list[types.KeyValue]:
        """Current versions of the live keys in ``(key, range_end)``, ascending by key."""
        latest = self._latest
        if not range_end:
            kv = latest.get(key)
            return [] if kv is None else [kv]
        start, end = types.key_interval(key, range_end)
        return [kv for k in self._index.irange(start, end) if (kv := latest.get(k)) is not None]

    def _at_revision(self, key: bytes, range_end: bytes, at: int) -> list[types.KeyValue]:
        """The versions visible at revision ``at`` of the keys in ``(key, range_end)``, ascending by key."""
        if range_end:
            start, end = types.key_interval(key, range_end)
            keys: list[bytes] = list(self._index.irange(start, end))
        else:
            keys = [key] if key in self._history else []
        out = []
        for k in keys:
            versions = self._history[k]
            visible = bisect.bisect_right(versions, at, key=_MOD_REVISION) - 1
            if visible >= 0 and versions[visible].version != 0:
                out.append(versions[visible])
        return out

    # --- writes -----------------------------------------------------------------------------------------

    def _check_put_state(self, request: types.PutRequest) -> None:
        """What a put needs from the state: its lease, and the key when it keeps the old value or lease."""
        if request.lease != types.NO_LEASE and self._lessor.lookup(request.lease) is None:
            raise errors.LeaseNotFound(request.lease)
        if (request.ignore_value or request.ignore_lease) and request.key not in self._latest:
            raise errors.KeyNotFound()

    def _write_put(self, request: types.PutRequest, revision: int) -> types.KeyValue | None:
        """Record the put at ``revision``; returns the version it replaced. The request has been checked."""
        key = request.key
        prev = self._latest.get(key)
        value = request.value
        lease = request.lease
        if prev is None:
            kv = types.KeyValue(
                key=key, create_revision=revision, mod_revision=revision, version=1, value=value, lease=lease
            )
            versions = self._history.get(key)
            if versions is None:
                self._history[key] = [kv]
                self._index.add(key)
            else:
                versions.append(kv)
            if lease:
                self._lessor.attach(lease, key)
        else:
            if request.ignore_value:
                value = prev.value
            if request.ignore_lease:
                lease = prev.lease
            kv = types.KeyValue(
                key=key,
                create_revision=prev.create_revision,
                mod_revision=revision,
                version=prev.version + 1,
                value=value,
                lease=lease,
            )
            self._history[key].append(kv)
            if lease != prev.lease:
                if lease:
                    self._lessor.attach(lease, key)
                else:
                    self._lessor.detach(key)
        self._latest[key] = kv
        self._watch.append(kv, prev)
        return prev

    def _write_delete(self, prev: types.KeyValue, revision: int) -> None:
        """Record the deletion of the live key ``prev.key`` at ``revision``."""
        key = prev.key
        tombstone = types.KeyValue(key=key, create_revision=0, mod_revision=revision, version=0)
        self._history[key].append(tombstone)
        del self._latest[key]
        if prev.lease:
            self._lessor.detach(key)
        self._watch.append(tombstone, prev)

    def _delete_range(self, request: types.DeleteRangeRequest, revision: int) -> list[types.KeyValue]:
        """Delete the live keys of the range at ``revision``; returns the versions deleted."""
        doomed = self._live(request.key, request.range_end)
        for prev in doomed:
            self._write_delete(prev, revision)
        return doomed

    def _revoke(self, lease_id: int) -> None:
        """Forget the lease and delete its keys (in key order) in one revision, if it had any."""
        lease = self._lessor.remove(lease_id)
        if not lease.keys:
            return
        revision = self._revision + 1
        for key in sorted(lease.keys):
            self._write_delete(self._latest[key], revision)
        self._revision = revision

    # --- txn --------------------------------------------------------------------------------------------

    def _flat_txn(self, request: types.TxnRequest) -> types.TxnResponse | None:
        """``txn`` of a txn whose branches hold no txn (every apiserver write: a guarded put or delete, and
        a read when the guard fails), the same steps without the preorder path; None for any other txn."""
        succeeded = True
        for compare in request.compare:
            if not self._compare(compare):
                succeeded = False
                break
        ops = request.success if succeeded else request.failure
        revision = self._revision + 1
        for op in ops:
            if type(op) is types.PutRequest:
                self._check_put_state(op)
            elif type(op) is types.RangeRequest:
                if op.revision > self._revision:
                    raise errors.FutureRevision()
                if 0 < op.revision < self._compact_revision:
                    raise errors.Compacted(self._compact_revision)
            elif type(op) is not types.DeleteRangeRequest:
                return None  # a nested txn: the general path, which has not started yet
        changed = False
        responses: list[types.ResponseOp] = []
        for op in ops:
            if type(op) is types.PutRequest:
                prev = self._write_put(op, revision)
                changed = True
                responses.append(types.PutResponse(revision=revision, prev_kv=prev if op.prev_kv else None))
            elif type(op) is types.RangeRequest:
                responses.append(self._range(op, revision if changed else self._revision))
            else:
                assert type(op) is types.DeleteRangeRequest
                doomed = self._delete_range(op, revision)
                changed = changed or bool(doomed)
                responses.append(
                    types.DeleteRangeResponse(
                        revision=revision if changed else self._revision,
                        deleted=len(doomed),
                        prev_kvs=tuple(doomed) if op.prev_kv else (),
                    )
                )
        if changed:
            self._revision = revision
        return types.TxnResponse(revision=self._revision, succeeded=succeeded, responses=tuple(responses))

    def _compare_path(self, request: types.TxnRequest, path: list[bool]) -> None:
        """Evaluate the compares of ``request`` and of the nested txns of the branches taken, in preorder,
        all against the state before the txn (as etcd's ``compareToPath``)."""
        succeeded = True
        for compare in request.compare:
            if not self._compare(compare):
                succeeded = False
                break
        path.append(succeeded)
        for op in request.success if succeeded else request.failure:
            if isinstance(op, types.TxnRequest):
                self._compare_path(op, path)

    def _compare(self, compare: types.Compare) -> bool:
        field = _COMPARE_FIELDS[compare.target]
        holds = _COMPARE_RESULTS[compare.result]
        if not compare.range_end:  # one key: the guard of every apiserver write
            kv = self._latest.get(compare.key)
            if kv is None:
                if compare.target == types.CompareTarget.VALUE:
                    return False
                kv = _ABSENT
            return holds(field(kv), compare.target_value)
        kvs = self._live(compare.key, compare.range_end)
        if not kvs:
            if compare.target == types.CompareTarget.VALUE:
                return False
            kvs = [_ABSENT]
        return all(holds(field(kv), compare.target_value) for kv in kvs)

    def _check_txn_state(self, request: types.TxnRequest, path: Iterator[bool]) -> None:
        """Refuse the txn before any write if an operation on the taken path would fail."""
        for op in request.success if next(path) else request.failure:
            if isinstance(op, types.PutRequest):
                self._check_put_state(op)
            elif isinstance(op, types.RangeRequest):
                if op.revision > self._revision:
                    raise errors.FutureRevision()
                if 0 < op.revision < self._compact_revision:
                    raise errors.Compacted(self._compact_revision)
            elif isinstance(op, types.TxnRequest):
                self._check_txn_state(op, path)

    def _execute_txn(
        self, request: types.TxnRequest, path: Iterator[bool], revision: int
    ) -> types.TxnResponse:
        succeeded: bool = next(path)
        responses: list[types.ResponseOp] = []
        for op in request.success if succeeded else request.failure:
            if isinstance(op, types.RangeRequest):
                view = revision if self._txn_changed else self._revision
                responses.append(self._range(op, view))
            elif isinstance(op, types.PutRequest):
                prev = self._write_put(op, revision)
                self._txn_changed = True
                responses.append(types.PutResponse(revision=revision, prev_kv=prev if op.prev_kv else None))
            elif isinstance(op, types.DeleteRangeRequest):
                doomed = self._delete_range(op, revision)
                self._txn_changed = self._txn_changed or bool(doomed)
                responses.append(
                    types.DeleteRangeResponse(
                        revision=revision if self._txn_changed else self._revision,
                        deleted=len(doomed),
                        prev_kvs=tuple(doomed) if op.prev_kv else (),
                    )
                )
            else:
                responses.append(self._execute_txn(op, path, revision))
        view = revision if self._txn_changed else self._revision
        return types.TxnResponse(revision=view, succeeded=succeeded, responses=tuple(responses))


def _filter_and_sort(kvs: list[types.KeyValue], request: types.RangeRequest) -> list[types.KeyValue]:
    """etcd's min/max revision filters, then its ordering (``kvs`` arrive ascending by key)."""
    if request.min_mod_revision:
        kvs = [kv for kv in kvs if kv.mod_revision >= request.min_mod_revision]
    if request.max_mod_revision:
        kvs = [kv for kv in kvs if kv.mod_revision <= request.max_mod_revision]
    if request.min_create_revision:
        kvs = [kv for kv in kvs if kv.create_revision >= request.min_create_revision]
    if request.max_create_revision:
        kvs = [kv for kv in kvs if kv.create_revision <= request.max_create_revision]
    order, target = request.sort_order, request.sort_target
    if target == types.SortTarget.KEY:
        return kvs[::-1] if order == types.SortOrder.DESCEND else kvs
    return sorted(kvs, key=_SORT_KEYS[target], reverse=order == types.SortOrder.DESCEND)


def _version_ref(history: dict[bytes, list[types.KeyValue]], kv: types.KeyValue) -> int | list[Any]:
    """How a snapshot's watch history names ``kv``: its ``mod_revision`` if the history holds it (the watch
    and the history share versions), else the whole version (compaction dropped it)."""
    versions = history.get(kv.key, [])
    i = bisect.bisect_left(versions, kv.mod_revision, key=_MOD_REVISION)
    if i < len(versions) and versions[i] == kv:
        return kv.mod_revision
    return _version_row(kv)


def _version_row(kv: types.KeyValue) -> list[Any]:
    """A version of a key in a snapshot's history, without the key (the row is filed under it)."""
    return [kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease]


def _kv_from_row(key: bytes, row: list[Any]) -> types.KeyValue:
    create_revision, mod_revision, version, value, lease = row
    return types.KeyValue(
        key=key,
        create_revision=create_revision,
        mod_revision=mod_revision,
        version=version,
        value=value,
        lease=lease,
    )
