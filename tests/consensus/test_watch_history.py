"""The watch history against etcd's watch guarantees (docs/learning/api_guarantees.md, "Watch APIs").

Ordered: events by revision, never an event before one it already delivered. Unique: no event twice.
Reliable: no gaps, a revision's events are delivered whole (atomic). Resumable: from any revision not yet
compacted; a compacted start is an error that names the compaction point.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.mvcc import errors, store, types

PUT, DELETE = types.EventType.PUT, types.EventType.DELETE


def put(key: bytes, value: bytes = b"v", **kw: Any) -> types.PutRequest:
    return types.PutRequest(key=key, value=value, **kw)


def summary(events: list[types.Event]) -> list[tuple[int, types.EventType, bytes]]:
    return [(e.kv.mod_revision, e.type, e.kv.key) for e in events]


def test_events_of_one_revision_come_in_the_order_the_txn_made_them() -> None:
    s = store.MvccStore()
    s.put(put(b"x"))
    s.txn(
        types.TxnRequest(
            success=(put(b"c"), put(b"a"), types.DeleteRangeRequest(key=b"x"), put(b"b")),
        )
    )
    assert summary(s.events_since(1)) == [
        (2, PUT, b"x"),
        (3, PUT, b"c"),
        (3, PUT, b"a"),
        (3, DELETE, b"x"),
        (3, PUT, b"b"),
    ]


def test_delete_events_carry_a_tombstone_and_the_deleted_version() -> None:
    s = store.MvccStore()
    s.put(put(b"k", b"1"))
    s.put(put(b"k", b"2"))
    s.delete_range(types.DeleteRangeRequest(key=b"k"))
    created, updated, deleted = s.events_since(0)
    assert created.prev_kv is None
    assert updated.prev_kv == created.kv
    assert deleted.type == DELETE
    assert deleted.kv == types.KeyValue(key=b"k", create_revision=0, mod_revision=4, version=0)
    assert deleted.kv.is_tombstone
    assert deleted.prev_kv == updated.kv


WATCHED = [b"/a", b"/a/1", b"/a/2", b"/b", b"/b/1", b"/c"]

# (id, key, range_end, keys whose events a watcher of (key, range_end) gets)
RANGES = [
    ("single key", b"/a", b"", [b"/a"]),
    ("prefix", b"/a/", types.prefix_range_end(b"/a/"), [b"/a/1", b"/a/2"]),
    ("interval", b"/a/2", b"/b/1", [b"/a/2", b"/b"]),
    ("from key", b"/b", types.ALL_KEYS, [b"/b", b"/b/1", b"/c"]),
    ("everything", b"\0", types.ALL_KEYS, WATCHED),
]


@pytest.mark.parametrize(("key", "range_end", "keys"), [c[1:] for c in RANGES], ids=[c[0] for c in RANGES])
def test_a_watcher_sees_only_its_range(key: bytes, range_end: bytes, keys: list[bytes]) -> None:
    s = store.MvccStore()
    for k in WATCHED:
        s.put(put(k))
    s.delete_range(types.DeleteRangeRequest(key=b"/", range_end=types.ALL_KEYS))
    events = s.events_since(1, key=key, range_end=range_end)
    assert [e.kv.key for e in events] == keys + keys
    assert [e.type for e in events] == [PUT] * len(keys) + [DELETE] * len(keys)


def test_a_start_below_the_compaction_fails_and_at_it_resumes() -> None:
    s = store.MvccStore()
    for i in range(6):
        s.put(put(b"k%d" % (i % 2)))  # revisions 2..7
    s.compact(types.CompactionRequest(revision=5))
    with pytest.raises(errors.Compacted) as raised:
        s.events_since(4)
    assert raised.value.compact_revision == 5
    assert [e.kv.mod_revision for e in s.events_since(5)] == [5, 6, 7]
    assert s.events_since(8) == []
    assert s.events_since(100) == []


def test_a_watcher_resumes_on_another_member_restored_from_a_snapshot() -> None:
    """The member a watcher used died; a member rebuilt from a snapshot serves the same history."""
    s = store.MvccStore()
    s.lease_grant(types.LeaseGrantRequest(ttl=10, now=0.0))
    for i in range(20):
        s.put(put(b"k%d" % (i % 4), b"%d" % i, lease=1 if i % 2 else 0))
    s.compact(types.CompactionRequest(revision=10))
    s.lease_revoke(types.LeaseRevokeRequest(id=1))
    other = store.MvccStore()
    other.restore(s.snapshot())
    for start in range(10, s.revision + 2):
        assert other.events_since(start) == s.events_since(start)


def test_a_lease_revocation_is_one_revision_of_delete_events() -> None:
    s = store.MvccStore()
    s.lease_grant(types.LeaseGrantRequest(ttl=10, now=0.0))
    for key in (b"b", b"c", b"a"):
        s.put(put(key, lease=1))
    s.lease_expire(types.LeaseExpireRequest(now=10.0))
    assert summary(s.events_since(5)) == [(5, DELETE, b"a"), (5, DELETE, b"b"), (5, DELETE, b"c")]


# --- the guarantees over random histories -------------------------------------------------------------

KEYS = st.sampled_from([b"/a", b"/a/1", b"/b", b"/b/1", b"/c"])
OPS = st.one_of(
    st.builds(lambda k, v: put(k, v), KEYS, st.binary(max_size=2)),
    st.builds(lambda k: types.DeleteRangeRequest(key=k), KEYS),
    st.builds(lambda k: types.DeleteRangeRequest(key=k, range_end=types.prefix_range_end(k)), KEYS),
    st.builds(
        lambda keys: types.TxnRequest(success=tuple(put(k) for k in keys)),
        st.lists(KEYS, unique=True, min_size=1, max_size=4),
    ),
)


def run(ops: list[types.Request]) -> tuple[store.MvccStore, dict[int, int]]:
    """Apply ``ops``; returns the store and, per revision, how many keys that revision changed."""
    s = store.MvccStore()
    changes: dict[int, int] = {}
    for op in ops:
        before = s.revision
        response = s.apply(op)
        if isinstance(response, types.DeleteRangeResponse):
            count = response.deleted
        elif isinstance(response, types.TxnResponse):
            count = len(response.responses)
        else:
            count = 1
        if s.revision != before:
            changes[s.revision] = count
    return s, changes


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(OPS, max_size=30))
def test_ordered_unique_without_gaps_and_atomic(ops: list[types.Request]) -> None:
    s, changes = run(ops)
    events = s.events_since(1)
    revisions = [e.kv.mod_revision for e in events]
    assert revisions == sorted(revisions), "ordered"
    assert len({(e.kv.mod_revision, e.kv.key) for e in events}) == len(events), "unique"
    assert {r: revisions.count(r) for r in set(revisions)} == changes, "every change, no gaps"
    assert set(revisions) == set(range(2, s.revision + 1)), "every revision from the first write on"
    for event in events:
        assert (event.kv.version == 0) == (event.type == DELETE)


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(OPS, max_size=30), data=st.data())
def test_resumable_from_any_uncompacted_revision(ops: list[types.Request], data: st.DataObject) -> None:
    s, _ = run(ops)
    compact_at = data.draw(st.integers(1, s.revision))
    everything = s.events_since(1)
    if compact_at > 1:
        s.compact(types.CompactionRequest(revision=compact_at))
    for start in range(compact_at, s.revision + 2):
        resumed = s.events_since(start)
        assert resumed == [e for e in everything if e.kv.mod_revision >= start]
        assert not resumed or resumed[0].kv.mod_revision >= start
    if compact_at > 1:
        with pytest.raises(errors.Compacted):
            s.events_since(compact_at - 1)


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(OPS, max_size=30), prefix=st.sampled_from([b"/a", b"/a/", b"/b", b"/"]))
def test_a_prefix_watch_is_the_filtered_full_watch(ops: list[types.Request], prefix: bytes) -> None:
    s, _ = run(ops)
    end = types.prefix_range_end(prefix)
    expected = [e for e in s.events_since(1) if e.kv.key.startswith(prefix)]
    assert s.events_since(1, key=prefix, range_end=end) == expected


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(OPS, max_size=30))
def test_prev_kv_is_the_version_each_event_replaced(ops: list[types.Request]) -> None:
    s, _ = run(ops)
    latest: dict[bytes, types.KeyValue] = {}
    for event in s.events_since(1):
        assert event.prev_kv == latest.get(event.kv.key)
        if event.type == PUT:
            latest[event.kv.key] = event.kv
        else:
            latest.pop(event.kv.key, None)
