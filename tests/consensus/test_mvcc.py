"""The MVCC state machine, operation by operation: etcd's documented behaviour as tables of cases.

Cases come from etcd's docs ("Interacting with etcd", the API reference and API guarantees) and its
``kvstore_test.go`` / ``v3_grpc_test.go``: revisions start at 1 and move once per write, versions reset on
re-creation, a txn is one revision, leases delete their keys in one revision, compaction fails old reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.mvcc import errors, index, store, types
from consensus.mvcc.types import CompareResult as R
from consensus.mvcc.types import CompareTarget as T


def put(key: bytes, value: bytes = b"", **kw: Any) -> types.PutRequest:
    return types.PutRequest(key=key, value=value, **kw)


def get(key: bytes, range_end: bytes = b"", **kw: Any) -> types.RangeRequest:
    return types.RangeRequest(key=key, range_end=range_end, **kw)


def delete(key: bytes, range_end: bytes = b"", **kw: Any) -> types.DeleteRangeRequest:
    return types.DeleteRangeRequest(key=key, range_end=range_end, **kw)


def cmp(key: bytes, target: T, result: R, operand: int | bytes, range_end: bytes = b"") -> types.Compare:
    return types.Compare(key=key, target=target, result=result, target_value=operand, range_end=range_end)


def txn(
    compare: tuple[types.Compare, ...] = (),
    success: tuple[types.RequestOp, ...] = (),
    failure: tuple[types.RequestOp, ...] = (),
) -> types.TxnRequest:
    return types.TxnRequest(compare=compare, success=success, failure=failure)


def grant(ttl: int, now: float = 0.0, lease_id: int = 0) -> types.LeaseGrantRequest:
    return types.LeaseGrantRequest(ttl=ttl, now=now, id=lease_id)


def make(*requests: types.Request) -> store.MvccStore:
    s = store.MvccStore()
    for request in requests:
        s.apply(request)
    return s


def kv(key: bytes, value: bytes, create: int, mod: int, version: int, lease: int = 0) -> types.KeyValue:
    return types.KeyValue(
        key=key, value=value, create_revision=create, mod_revision=mod, version=version, lease=lease
    )


def keys_of(response: types.RangeResponse) -> list[bytes]:
    return [item.key for item in response.kvs]


# --- revisions ----------------------------------------------------------------------------------------

# (id, requests, expected store revision, expected latest kv of b"foo" or None)
REVISIONS = [
    ("empty store is at revision 1", [], 1, None),
    ("first put takes revision 2", [put(b"foo", b"bar")], 2, kv(b"foo", b"bar", 2, 2, 1)),
    (
        "second put keeps create_revision, bumps version",
        [put(b"foo", b"bar"), put(b"foo", b"baz")],
        3,
        kv(b"foo", b"baz", 2, 3, 2),
    ),
    (
        "same value put still takes a revision",
        [put(b"foo", b"bar"), put(b"foo", b"bar")],
        3,
        kv(b"foo", b"bar", 2, 3, 2),
    ),
    (
        "delete then recreate starts a new generation",
        [put(b"foo", b"a"), put(b"foo", b"b"), delete(b"foo"), put(b"foo", b"c")],
        5,
        kv(b"foo", b"c", 5, 5, 1),
    ),
    (
        "delete of nothing takes no revision",
        [put(b"foo", b"a"), delete(b"nothing")],
        2,
        kv(b"foo", b"a", 2, 2, 1),
    ),
    (
        "delete of an empty range takes no revision",
        [put(b"foo", b"a"), delete(b"x", b"z")],
        2,
        kv(b"foo", b"a", 2, 2, 1),
    ),
    ("a range takes no revision", [put(b"foo", b"a"), get(b"foo")], 2, kv(b"foo", b"a", 2, 2, 1)),
    (
        "a txn of three puts is one revision",
        [txn(success=(put(b"foo", b"1"), put(b"bar", b"2"), put(b"baz", b"3")))],
        2,
        kv(b"foo", b"1", 2, 2, 1),
    ),
    (
        "a read-only txn takes no revision",
        [put(b"foo", b"a"), txn(success=(get(b"foo"),))],
        2,
        kv(b"foo", b"a", 2, 2, 1),
    ),
    ("a lease grant takes no revision", [grant(10)], 1, None),
    ("revoking a lease without keys takes no revision", [grant(10), types.LeaseRevokeRequest(id=1)], 1, None),
    (
        "revoking a lease deletes its keys in one revision",
        [grant(10), put(b"foo", b"a", lease=1), put(b"bar", b"b", lease=1), types.LeaseRevokeRequest(id=1)],
        4,
        None,
    ),
    (
        "compaction takes no revision",
        [put(b"foo", b"a"), types.CompactionRequest(revision=2)],
        2,
        kv(b"foo", b"a", 2, 2, 1),
    ),
]


@pytest.mark.parametrize(
    ("requests", "revision", "foo"), [c[1:] for c in REVISIONS], ids=[c[0] for c in REVISIONS]
)
def test_revisions(requests: list[types.Request], revision: int, foo: types.KeyValue | None) -> None:
    s = make(*requests)
    assert s.revision == revision
    response = s.range(get(b"foo"))
    assert response.revision == revision
    assert response.kvs == (() if foo is None else (foo,))


def test_every_write_response_carries_its_revision() -> None:
    s = store.MvccStore()
    assert s.put(put(b"a", b"1")).revision == 2
    assert s.put(put(b"b", b"1")).revision == 3
    assert s.delete_range(delete(b"a")).revision == 4
    assert s.delete_range(delete(b"a")).revision == 4
    assert s.txn(txn(success=(put(b"c", b"1"), delete(b"b")))).revision == 5
    assert s.txn(txn(success=(get(b"c"),))).revision == 5


# --- range --------------------------------------------------------------------------------------------

# etcd's "Interacting with etcd" keys: foo, foo1, foo2, foo3 with values bar, bar_1, bar_2, bar_3 (revs 2..5),
# then zoo = zoo1 (rev 6) and foo1 updated to bar_1b (rev 7).
DOCS_KEYS = [
    put(b"foo", b"bar"),
    put(b"foo1", b"bar_1"),
    put(b"foo2", b"bar_2"),
    put(b"foo3", b"bar_3"),
    put(b"zoo", b"zoo1"),
    put(b"foo1", b"bar_1b"),
]

# (id, request, expected keys in order, count, more)
RANGES = [
    ("single key", get(b"foo"), [b"foo"], 1, False),
    ("missing key", get(b"fo"), [], 0, False),
    ("prefix", get(b"foo", types.prefix_range_end(b"foo")), [b"foo", b"foo1", b"foo2", b"foo3"], 4, False),
    ("half-open interval", get(b"foo1", b"foo3"), [b"foo1", b"foo2"], 2, False),
    ("range_end equal to key is empty", get(b"foo1", b"foo1"), [], 0, False),
    ("from key", get(b"foo2", types.ALL_KEYS), [b"foo2", b"foo3", b"zoo"], 3, False),
    ("all keys", get(b"\0", types.ALL_KEYS), [b"foo", b"foo1", b"foo2", b"foo3", b"zoo"], 5, False),
    ("limit cuts and says more", get(b"\0", types.ALL_KEYS, limit=2), [b"foo", b"foo1"], 5, True),
    (
        "limit equal to count has no more",
        get(b"foo", b"fop", limit=4),
        [b"foo", b"foo1", b"foo2", b"foo3"],
        4,
        False,
    ),
    ("count only", get(b"\0", types.ALL_KEYS, count_only=True), [], 5, False),
    (
        "descending by key",
        get(b"foo", b"fop", sort_order=types.SortOrder.DESCEND),
        [b"foo3", b"foo2", b"foo1", b"foo"],
        4,
        False,
    ),
    (
        "descending by key with limit takes the last keys",
        get(b"foo", b"fop", sort_order=types.SortOrder.DESCEND, limit=1),
        [b"foo3"],
        4,
        True,
    ),
    (
        "by mod revision, order NONE means ascending",
        get(b"foo", b"fop", sort_target=types.SortTarget.MOD),
        [b"foo", b"foo2", b"foo3", b"foo1"],
        4,
        False,
    ),
    (
        "by version descending, ties keep key order",
        get(b"foo", b"fop", sort_target=types.SortTarget.VERSION, sort_order=types.SortOrder.DESCEND),
        [b"foo1", b"foo", b"foo2", b"foo3"],
        4,
        False,
    ),
    (
        "by create revision descending",
        get(b"\0", types.ALL_KEYS, sort_target=types.SortTarget.CREATE, sort_order=types.SortOrder.DESCEND),
        [b"zoo", b"foo3", b"foo2", b"foo1", b"foo"],
        5,
        False,
    ),
    (
        "by value ascending",
        get(b"\0", types.ALL_KEYS, sort_target=types.SortTarget.VALUE, sort_order=types.SortOrder.ASCEND),
        [b"foo", b"foo1", b"foo2", b"foo3", b"zoo"],
        5,
        False,
    ),
    (
        "min mod revision (count is before the filter)",
        get(b"\0", types.ALL_KEYS, min_mod_revision=6),
        [b"foo1", b"zoo"],
        5,
        False,
    ),
    ("max mod revision", get(b"\0", types.ALL_KEYS, max_mod_revision=3), [b"foo"], 5, False),
    ("min create revision", get(b"\0", types.ALL_KEYS, min_create_revision=5), [b"foo3", b"zoo"], 5, False),
    ("max create revision", get(b"\0", types.ALL_KEYS, max_create_revision=3), [b"foo", b"foo1"], 5, False),
    ("at a past revision", get(b"\0", types.ALL_KEYS, revision=3), [b"foo", b"foo1"], 2, False),
    (
        "at the current revision",
        get(b"\0", types.ALL_KEYS, revision=7),
        [b"foo", b"foo1", b"foo2", b"foo3", b"zoo"],
        5,
        False,
    ),
    ("negative revision means current", get(b"foo1", revision=-1), [b"foo1"], 1, False),
]


@pytest.mark.parametrize(
    ("request_", "keys", "count", "more"), [c[1:] for c in RANGES], ids=[c[0] for c in RANGES]
)
def test_range(request_: types.RangeRequest, keys: list[bytes], count: int, more: bool) -> None:
    s = make(*DOCS_KEYS)
    response = s.range(request_)
    assert (keys_of(response), response.count, response.more, response.revision) == (keys, count, more, 7)


def test_range_at_past_revision_sees_the_old_value() -> None:
    s = make(*DOCS_KEYS)
    assert s.range(get(b"foo1", revision=6)).kvs == (kv(b"foo1", b"bar_1", 3, 3, 1),)
    assert s.range(get(b"foo1")).kvs == (kv(b"foo1", b"bar_1b", 3, 7, 2),)
    assert s.range(get(b"zoo", revision=5)).kvs == ()


def test_range_at_past_revision_sees_deleted_keys_and_not_recreated_ones() -> None:
    s = make(put(b"a", b"1"), delete(b"a"), put(b"a", b"2"))
    assert [s.range(get(b"a", revision=r)).kvs for r in (1, 2, 3, 4)] == [
        (),
        (kv(b"a", b"1", 2, 2, 1),),
        (),
        (kv(b"a", b"2", 4, 4, 1),),
    ]


def test_keys_only_drops_values_and_keeps_revisions() -> None:
    s = make(*DOCS_KEYS)
    response = s.range(get(b"foo1", keys_only=True))
    assert response.kvs == (kv(b"foo1", b"", 3, 7, 2),)


# (prefix, expected range_end): clientv3's GetPrefixRangeEnd.
PREFIXES = [
    (b"foo", b"fop"),
    (b"a", b"b"),
    (b"a\xff", b"b"),
    (b"a\xff\xff", b"b"),
    (b"\xff", b"\0"),
    (b"", b"\0"),
    (b"/registry/pods/", b"/registry/pods0"),
]


@pytest.mark.parametrize(("prefix", "end"), PREFIXES, ids=[repr(p[0]) for p in PREFIXES])
def test_prefix_range_end(prefix: bytes, end: bytes) -> None:
    assert types.prefix_range_end(prefix) == end


# --- put and delete -----------------------------------------------------------------------------------


def test_put_returns_prev_kv_only_when_asked() -> None:
    s = make(put(b"foo", b"bar"))
    assert s.put(put(b"foo", b"baz")).prev_kv is None
    assert s.put(put(b"foo", b"qux", prev_kv=True)).prev_kv == kv(b"foo", b"baz", 2, 3, 2)
    assert s.put(put(b"new", b"1", prev_kv=True)).prev_kv is None


def test_put_ignore_value_and_ignore_lease_keep_the_old_ones() -> None:
    s = make(grant(60), put(b"foo", b"bar", lease=1))
    s.put(put(b"foo", ignore_value=True, lease=1))
    assert s.range(get(b"foo")).kvs == (kv(b"foo", b"bar", 2, 3, 2, lease=1),)
    s.put(put(b"foo", b"new", ignore_lease=True))
    assert s.range(get(b"foo")).kvs == (kv(b"foo", b"new", 2, 4, 3, lease=1),)


def test_delete_range_counts_and_returns_prev_kvs() -> None:
    s = make(*DOCS_KEYS)
    response = s.delete_range(delete(b"foo", b"foo3", prev_kv=True))
    assert (response.deleted, response.revision) == (3, 8)
    assert [p.key for p in response.prev_kvs] == [b"foo", b"foo1", b"foo2"]
    assert keys_of(s.range(get(b"\0", types.ALL_KEYS))) == [b"foo3", b"zoo"]
    assert s.delete_range(delete(b"foo")).prev_kvs == ()


# --- errors -------------------------------------------------------------------------------------------

BIG = 1536 * 1024

# (id, request, error type, etcd's message)
ERRORS: list[tuple[str, types.Request, type[errors.StoreError], str]] = [
    ("put empty key", put(b""), errors.EmptyKey, "etcdserver: key is not provided"),
    ("range empty key", get(b""), errors.EmptyKey, "etcdserver: key is not provided"),
    ("delete empty key", delete(b""), errors.EmptyKey, "etcdserver: key is not provided"),
    ("range end before key", get(b"b", b"a"), errors.InvalidRange, "etcdserver: range end is before key"),
    (
        "delete range end before key",
        delete(b"b", b"a"),
        errors.InvalidRange,
        "etcdserver: range end is before key",
    ),
    ("value over 1.5 MiB", put(b"k", b"x" * BIG), errors.RequestTooLarge, "etcdserver: request is too large"),
    (
        "txn over 1.5 MiB",
        txn(success=(put(b"k", b"x" * (BIG // 2)), put(b"l", b"x" * (BIG // 2)))),
        errors.RequestTooLarge,
        "etcdserver: request is too large",
    ),
    (
        "put with an unknown lease",
        put(b"k", b"v", lease=99),
        errors.LeaseNotFound,
        "etcdserver: requested lease not found",
    ),
    (
        "ignore_value with a value",
        put(b"foo", b"v", ignore_value=True),
        errors.ValueProvided,
        "etcdserver: value is provided",
    ),
    (
        "ignore_lease with a lease",
        put(b"foo", b"v", lease=1, ignore_lease=True),
        errors.LeaseProvided,
        "etcdserver: lease is provided",
    ),
    (
        "ignore_value on a missing key",
        put(b"nope", ignore_value=True),
        errors.KeyNotFound,
        "etcdserver: key not found",
    ),
    (
        "range at a future revision",
        get(b"foo", revision=99),
        errors.FutureRevision,
        "etcdserver: mvcc: required revision is a future revision",
    ),
    (
        "range below the compaction",
        get(b"foo", revision=2),
        errors.Compacted,
        "etcdserver: mvcc: required revision has been compacted",
    ),
    (
        "compact a future revision",
        types.CompactionRequest(revision=99),
        errors.FutureRevision,
        "etcdserver: mvcc: required revision is a future revision",
    ),
    (
        "compact the compacted revision again",
        types.CompactionRequest(revision=3),
        errors.Compacted,
        "etcdserver: mvcc: required revision has been compacted",
    ),
    (
        "compact below the compacted revision",
        types.CompactionRequest(revision=2),
        errors.Compacted,
        "etcdserver: mvcc: required revision has been compacted",
    ),
    (
        "txn with too many compares",
        txn(compare=tuple(cmp(b"k%d" % i, T.VERSION, R.EQUAL, 0) for i in range(129))),
        errors.TooManyOps,
        "etcdserver: too many operations in txn request",
    ),
    (
        "txn with too many ops in a branch",
        txn(failure=tuple(get(b"k%d" % i) for i in range(129))),
        errors.TooManyOps,
        "etcdserver: too many operations in txn request",
    ),
    (
        "txn puts a key twice",
        txn(success=(put(b"a"), put(b"a"))),
        errors.DuplicateKey,
        "etcdserver: duplicate key given in txn request",
    ),
    (
        "txn puts a key it deletes",
        txn(failure=(delete(b"a", b"c"), put(b"b"))),
        errors.DuplicateKey,
        "etcdserver: duplicate key given in txn request",
    ),
    (
        "nested txn puts a key the outer puts",
        txn(success=(put(b"a"), txn(failure=(put(b"a"),)))),
        errors.DuplicateKey,
        "etcdserver: duplicate key given in txn request",
    ),
    (
        "nested txn deletes a key the outer puts",
        txn(success=(put(b"a"), txn(success=(delete(b"a"),)))),
        errors.DuplicateKey,
        "etcdserver: duplicate key given in txn request",
    ),
    (
        "txn compare with empty key",
        txn(compare=(cmp(b"", T.VERSION, R.EQUAL, 0),)),
        errors.EmptyKey,
        "etcdserver: key is not provided",
    ),
    (
        "txn put with unknown lease on the taken branch",
        txn(success=(put(b"x", b"1"), put(b"y", b"2", lease=42))),
        errors.LeaseNotFound,
        "etcdserver: requested lease not found",
    ),
    (
        "txn range at a future revision",
        txn(success=(put(b"x", b"1"), get(b"foo", revision=4))),
        errors.FutureRevision,
        "etcdserver: mvcc: required revision is a future revision",
    ),
    (
        "txn range below the compaction",
        txn(success=(put(b"x", b"1"), get(b"foo", revision=2))),
        errors.Compacted,
        "etcdserver: mvcc: required revision has been compacted",
    ),
    (
        "nested txn with unknown lease",
        txn(success=(put(b"x", b"1"), txn(success=(put(b"y", lease=7),)))),
        errors.LeaseNotFound,
        "etcdserver: requested lease not found",
    ),
    (
        "grant an existing lease id",
        grant(10, lease_id=1),
        errors.LeaseExists,
        "etcdserver: lease already exists",
    ),
    (
        "grant too large a TTL",
        grant(9_000_000_001),
        errors.LeaseTTLTooLarge,
        "etcdserver: too large lease TTL",
    ),
    (
        "revoke an unknown lease",
        types.LeaseRevokeRequest(id=5),
        errors.LeaseNotFound,
        "etcdserver: requested lease not found",
    ),
    (
        "keep alive an unknown lease",
        types.LeaseKeepAliveRequest(id=5, now=0),
        errors.LeaseNotFound,
        "etcdserver: requested lease not found",
    ),
    (
        "keep alive an expired lease",
        types.LeaseKeepAliveRequest(id=1, now=1000),
        errors.LeaseNotFound,
        "etcdserver: requested lease not found",
    ),
]


def _error_fixture() -> store.MvccStore:
    """foo at 2 and 3, compacted at 3; lease 1 (ttl 60 from 0) exists."""
    return make(put(b"foo", b"1"), put(b"foo", b"2"), types.CompactionRequest(revision=3), grant(60))


@pytest.mark.parametrize(
    ("request_", "error", "message"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_errors_carry_etcd_messages_and_change_nothing(
    request_: types.Request, error: type[errors.StoreError], message: str
) -> None:
    s = _error_fixture()
    before = s.snapshot()
    with pytest.raises(error) as raised:
        s.apply(request_)
    assert str(raised.value) == message
    assert s.snapshot() == before
    assert s.revision == 3


def test_compacted_error_names_the_compact_revision() -> None:
    with pytest.raises(errors.Compacted) as raised:
        _error_fixture().range(get(b"foo", revision=1))
    assert raised.value.compact_revision == 3
    assert raised.value.grpc_code == errors.GrpcCode.OUT_OF_RANGE


def test_limits_are_configurable() -> None:
    s = store.MvccStore(max_request_bytes=10, max_txn_ops=2)
    with pytest.raises(errors.RequestTooLarge):
        s.put(put(b"k", b"0123456789"))
    s.put(put(b"k", b"012345678"))
    with pytest.raises(errors.TooManyOps):
        s.txn(txn(success=(get(b"a"), get(b"b"), get(b"c"))))


# --- txn ----------------------------------------------------------------------------------------------

# a = "1" at 2; b = "2" at 3; a = "11" at 4 (a: create 2, mod 4, version 2); lease 1 holds c at 5.
TXN_STATE: list[types.Request] = [
    put(b"a", b"1"),
    put(b"b", b"2"),
    put(b"a", b"11"),
    grant(60),
    put(b"c", b"3", lease=1),
]

# (id, compares, expected succeeded)
COMPARES = [
    ("mod == current", (cmp(b"a", T.MOD, R.EQUAL, 4),), True),
    ("mod == stale", (cmp(b"a", T.MOD, R.EQUAL, 2),), False),
    ("mod != stale", (cmp(b"a", T.MOD, R.NOT_EQUAL, 2),), True),
    ("mod < later", (cmp(b"a", T.MOD, R.LESS, 5),), True),
    ("mod > later", (cmp(b"a", T.MOD, R.GREATER, 5),), False),
    ("create ==", (cmp(b"a", T.CREATE, R.EQUAL, 2),), True),
    ("version ==", (cmp(b"a", T.VERSION, R.EQUAL, 2),), True),
    ("version >", (cmp(b"a", T.VERSION, R.GREATER, 2),), False),
    ("value ==", (cmp(b"a", T.VALUE, R.EQUAL, b"11"),), True),
    ("value > (bytewise)", (cmp(b"a", T.VALUE, R.GREATER, b"1"),), True),
    ("value <", (cmp(b"a", T.VALUE, R.LESS, b"1"),), False),
    ("lease ==", (cmp(b"c", T.LEASE, R.EQUAL, 1),), True),
    ("no lease reads 0", (cmp(b"a", T.LEASE, R.EQUAL, 0),), True),
    ("missing key: version == 0 (create if absent)", (cmp(b"zz", T.VERSION, R.EQUAL, 0),), True),
    ("missing key: create == 0", (cmp(b"zz", T.CREATE, R.EQUAL, 0),), True),
    ("missing key: mod > 0 fails", (cmp(b"zz", T.MOD, R.GREATER, 0),), False),
    ("missing key: any value compare fails", (cmp(b"zz", T.VALUE, R.NOT_EQUAL, b"x"),), False),
    ("range: every key must hold", (cmp(b"a", T.VERSION, R.GREATER, 0, b"d"),), True),
    ("range: one key failing fails", (cmp(b"a", T.MOD, R.LESS, 4, b"d"),), False),
    ("range with no keys reads as absent", (cmp(b"x", T.VERSION, R.EQUAL, 0, types.ALL_KEYS),), True),
    ("all compares must hold", (cmp(b"a", T.MOD, R.EQUAL, 4), cmp(b"b", T.MOD, R.EQUAL, 2)), False),
    ("no compares succeed", (), True),
]


@pytest.mark.parametrize(("compares", "succeeded"), [c[1:] for c in COMPARES], ids=[c[0] for c in COMPARES])
def test_txn_compares(compares: tuple[types.Compare, ...], succeeded: bool) -> None:
    s = make(*TXN_STATE)
    response = s.txn(txn(compares, success=(put(b"then", b"1"),), failure=(put(b"else", b"1"),)))
    assert response.succeeded is succeeded
    assert response.revision == 6
    assert keys_of(s.range(get(b"else", b"thf"))) == [b"then" if succeeded else b"else"]


def test_txn_guaranteed_update_as_the_apiserver_does_it() -> None:
    """Kubernetes' GuaranteedUpdate: put if mod_revision is the resourceVersion read, else read again."""
    s = make(put(b"/registry/pods/default/p", b"v1"))
    key = b"/registry/pods/default/p"
    ok = s.txn(txn((cmp(key, T.MOD, R.EQUAL, 2),), (put(key, b"v2"),), (get(key),)))
    assert ok.succeeded and ok.responses == (types.PutResponse(revision=3),)
    conflict = s.txn(txn((cmp(key, T.MOD, R.EQUAL, 2),), (put(key, b"v3"),), (get(key),)))
    assert not conflict.succeeded
    assert conflict.responses == (types.RangeResponse(revision=3, kvs=(kv(key, b"v2", 2, 3, 2),), count=1),)


def test_txn_reads_see_its_own_earlier_writes() -> None:
    s = make(put(b"a", b"1"), put(b"b", b"1"))
    response = s.txn(txn(success=(get(b"a"), put(b"a", b"2"), get(b"a"), delete(b"b"), get(b"b"))))
    first, written, second, deleted, third = response.responses
    assert first == types.RangeResponse(revision=3, kvs=(kv(b"a", b"1", 2, 2, 1),), count=1)
    assert written == types.PutResponse(revision=4)
    assert second == types.RangeResponse(revision=4, kvs=(kv(b"a", b"2", 2, 4, 2),), count=1)
    assert deleted == types.DeleteRangeResponse(revision=4, deleted=1)
    assert third == types.RangeResponse(revision=4, count=0)
    assert s.revision == 4


def test_nested_txn_compares_see_the_state_before_the_txn() -> None:
    """etcd evaluates every compare on the taken path before executing any operation (compareToPath)."""
    s = make(put(b"a", b"1"))
    inner = txn((cmp(b"a", T.VALUE, R.EQUAL, b"1"),), (put(b"inner", b"then"),), (put(b"inner", b"else"),))
    response = s.txn(txn(success=(put(b"a", b"2"), inner)))
    assert response.responses[1] == types.TxnResponse(
        revision=3, succeeded=True, responses=(types.PutResponse(revision=3),)
    )
    assert s.range(get(b"inner")).kvs[0].value == b"then"
    assert s.revision == 3


def test_txn_checks_only_the_branch_it_takes() -> None:
    s = make(put(b"a", b"1"))
    response = s.txn(txn((cmp(b"a", T.VALUE, R.EQUAL, b"1"),), (put(b"b", b"ok"),), (put(b"c", lease=404),)))
    assert response.succeeded and s.revision == 3


def test_txn_put_and_delete_responses_have_prev_kvs() -> None:
    s = make(put(b"a", b"1"), put(b"b", b"1"))
    response = s.txn(txn(success=(put(b"a", b"2", prev_kv=True), delete(b"b", prev_kv=True))))
    assert response.responses == (
        types.PutResponse(revision=4, prev_kv=kv(b"a", b"1", 2, 2, 1)),
        types.DeleteRangeResponse(revision=4, deleted=1, prev_kvs=(kv(b"b", b"1", 3, 3, 1),)),
    )


# --- leases -------------------------------------------------------------------------------------------


def test_lease_grant_picks_ids_deterministically_and_applies_the_minimum_ttl() -> None:
    s = store.MvccStore(min_lease_ttl=5)
    assert s.lease_grant(grant(60)) == types.LeaseGrantResponse(revision=1, id=1, ttl=60)
    assert s.lease_grant(grant(60, lease_id=2)).id == 2
    assert s.lease_grant(grant(1)) == types.LeaseGrantResponse(revision=1, id=3, ttl=5)
    assert s.lease_leases(types.LeaseLeasesRequest()).leases == (1, 2, 3)


def test_lease_time_to_live_counts_down_on_the_clock_in_the_request() -> None:
    s = make(grant(60, now=100.0), put(b"b", lease=1), put(b"a", lease=1))
    at = s.lease_time_to_live(types.LeaseTimeToLiveRequest(id=1, now=130.5, keys=True))
    assert at == types.LeaseTimeToLiveResponse(revision=3, id=1, ttl=29, granted_ttl=60, keys=(b"a", b"b"))
    assert s.lease_time_to_live(types.LeaseTimeToLiveRequest(id=1, now=200.0)).ttl == 0
    missing = s.lease_time_to_live(types.LeaseTimeToLiveRequest(id=9, now=0.0))
    assert missing == types.LeaseTimeToLiveResponse(revision=3, id=9, ttl=-1)


def test_keys_move_between_leases_and_leave_on_delete() -> None:
    s = make(grant(60), grant(60), put(b"k", lease=1), put(b"j", lease=1))
    s.put(put(b"k", lease=2))
    s.put(put(b"j"))

    def keys(lease_id: int) -> tuple[bytes, ...]:
        return s.lease_time_to_live(types.LeaseTimeToLiveRequest(id=lease_id, now=0.0, keys=True)).keys

    assert (keys(1), keys(2)) == ((), (b"k",))
    s.delete_range(delete(b"k"))
    assert keys(2) == ()
    s.lease_revoke(types.LeaseRevokeRequest(id=2))
    assert s.revision == 6  # nothing attached any more: the revoke deleted nothing


def test_keep_alive_restarts_the_ttl_from_now() -> None:
    s = make(grant(10, now=0.0))
    assert s.lease_keep_alive(types.LeaseKeepAliveRequest(id=1, now=8.0)).ttl == 10
    assert s.expired_leases(12.0) == []
    assert s.expired_leases(18.0) == [1]


def test_revoke_deletes_attached_keys_in_one_revision_in_key_order() -> None:
    s = make(grant(60), put(b"b", b"1", lease=1), put(b"a", b"1", lease=1), put(b"c", b"1"))
    s.lease_revoke(types.LeaseRevokeRequest(id=1))
    assert s.revision == 5
    assert keys_of(s.range(get(b"\0", types.ALL_KEYS))) == [b"c"]
    events = s.events_since(5)
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in events] == [
        (types.EventType.DELETE, b"a", 5),
        (types.EventType.DELETE, b"b", 5),
    ]
    assert s.lease_leases(types.LeaseLeasesRequest()).leases == ()


def test_expiry_is_decided_at_apply_time_by_deadline_then_id() -> None:
    s = make(
        grant(30, now=0.0, lease_id=7),
        grant(10, now=0.0, lease_id=9),
        grant(10, now=0.0, lease_id=8),
        grant(100, now=0.0, lease_id=1),
        put(b"x", lease=7),
        put(b"y", lease=9),
        put(b"z", lease=1),
    )
    assert s.expired_leases(40.0) == [8, 9, 7]
    # The leader proposed expiry at 40; a keep-alive for 7 was committed before the expiry entry.
    s.lease_keep_alive(types.LeaseKeepAliveRequest(id=7, now=25.0))
    response = s.lease_expire(types.LeaseExpireRequest(now=40.0))
    assert response.revoked == (8, 9)
    assert response.revision == 5  # lease 8 had no keys; deleting lease 9's key took revision 5
    assert keys_of(s.range(get(b"\0", types.ALL_KEYS))) == [b"x", b"z"]
    assert s.lease_expire(types.LeaseExpireRequest(now=40.0)).revoked == ()


def test_expiry_gives_each_lease_its_own_revision() -> None:
    s = make(grant(10, lease_id=1), grant(10, lease_id=2), put(b"a", lease=1), put(b"b", lease=2))
    s.lease_expire(types.LeaseExpireRequest(now=10.0))
    assert [(e.kv.key, e.kv.mod_revision) for e in s.events_since(4)] == [(b"a", 4), (b"b", 5)]


# --- compaction ---------------------------------------------------------------------------------------


def test_compaction_keeps_what_reads_at_and_after_it_need() -> None:
    s = make(
        put(b"a", b"1"), put(b"b", b"1"), put(b"a", b"2"), delete(b"b"), put(b"c", b"1"), put(b"a", b"3")
    )
    # revisions: a@2, b@3, a@4, b deleted @5, c@6, a@7
    s.compact(types.CompactionRequest(revision=5))
    assert s.compact_revision == 5
    at5 = s.range(get(b"\0", types.ALL_KEYS, revision=5))
    assert at5.kvs == (kv(b"a", b"2", 2, 4, 2),)
    assert keys_of(s.range(get(b"\0", types.ALL_KEYS, revision=6))) == [b"a", b"c"]
    assert s.stats().keys_with_history == 2  # b's history ended in a tombstone at or before 5
    with pytest.raises(errors.Compacted):
        s.range(get(b"a", revision=4))


def test_compaction_then_writes_then_compaction_again() -> None:
    s = make(put(b"a", b"1"), put(b"a", b"2"))
    s.compact(types.CompactionRequest(revision=2))
    s.put(put(b"a", b"3"))
    s.compact(types.CompactionRequest(revision=4))
    assert s.range(get(b"a", revision=4)).kvs == (kv(b"a", b"3", 2, 4, 3),)
    assert s.stats().compact_revision == 4


# --- apply, snapshot, determinism ---------------------------------------------------------------------


def test_apply_dispatches_every_request_type() -> None:
    s = store.MvccStore()
    requests: list[tuple[types.Request, type[types.Response]]] = [
        (put(b"a", b"1"), types.PutResponse),
        (get(b"a"), types.RangeResponse),
        (txn(), types.TxnResponse),
        (delete(b"a"), types.DeleteRangeResponse),
        (types.CompactionRequest(revision=2), types.CompactionResponse),
        (grant(5), types.LeaseGrantResponse),
        (types.LeaseKeepAliveRequest(id=1, now=1.0), types.LeaseKeepAliveResponse),
        (types.LeaseTimeToLiveRequest(id=1, now=1.0), types.LeaseTimeToLiveResponse),
        (types.LeaseLeasesRequest(), types.LeaseLeasesResponse),
        (types.LeaseExpireRequest(now=0.0), types.LeaseExpireResponse),
        (types.LeaseRevokeRequest(id=1), types.LeaseRevokeResponse),
    ]
    for request, response_type in requests:
        assert type(s.apply(request)) is response_type


def _busy_store() -> store.MvccStore:
    s = make(grant(30, now=5.0), grant(60, now=5.0))
    for i in range(40):
        s.put(put(b"/k/%02d" % (i % 13), b"v%d" % i, lease=1 + i % 3 if i % 3 < 2 else 0))
    s.delete_range(delete(b"/k/05", b"/k/08"))
    s.compact(types.CompactionRequest(revision=20))
    s.txn(txn((cmp(b"/k/01", T.VERSION, R.GREATER, 0),), (put(b"/k/01", b"t"), delete(b"/k/02"))))
    return s


def test_snapshot_round_trips_and_the_restored_store_carries_on_identically() -> None:
    original = _busy_store()
    data = original.snapshot()
    restored = store.MvccStore()
    restored.restore(data)
    assert restored.snapshot() == data
    assert restored.stats() == original.stats()
    assert restored.events_since(20) == original.events_since(20)
    follow_up: list[types.Request] = [
        types.LeaseRevokeRequest(id=1),
        put(b"/k/99", b"x", lease=2),
        types.LeaseExpireRequest(now=100.0),
        get(b"/k/", types.prefix_range_end(b"/k/"), revision=25),
    ]
    for request in follow_up:
        assert restored.apply(request) == original.apply(request)
    assert restored.snapshot() == original.snapshot()


def test_a_capture_is_the_state_when_it_was_taken_whatever_the_store_does_after() -> None:
    import msgpack

    s = _busy_store()
    expected = s.snapshot()
    build = s.capture()
    s.apply(put(b"/k/01", b"later"))
    s.apply(types.LeaseKeepAliveRequest(id=2, now=50.0))
    s.apply(types.CompactionRequest(revision=s.revision))  # trims each key's versions in place
    s.apply(types.LeaseRevokeRequest(id=1))
    s.apply(delete(b"/k/", types.prefix_range_end(b"/k/")))
    assert msgpack.packb(build(), use_bin_type=True) == expected
    assert s.snapshot() != expected


def test_restore_refuses_an_unknown_format() -> None:
    import msgpack

    with pytest.raises(ValueError, match="unknown MVCC snapshot format"):
        store.MvccStore().restore(msgpack.packb({"format": 99}))


_SNAPSHOT_SCRIPT = """
import hashlib, sys
from tests.consensus import test_mvcc
sys.stdout.write(hashlib.sha256(test_mvcc._busy_store().snapshot()).hexdigest())
"""


def test_snapshot_bytes_do_not_depend_on_hash_randomisation() -> None:
    """Members are separate processes with different hash seeds; their snapshots must still agree."""
    digests = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _SNAPSHOT_SCRIPT],
            env=env,
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout)
    assert len(digests) == 1


def test_stats() -> None:
    s = _busy_store()
    stats = s.stats()
    assert (stats.revision, stats.compact_revision, stats.leases) == (s.revision, 20, 2)
    assert stats.keys == s.range(get(b"\0", types.ALL_KEYS, count_only=True)).count


def test_a_compare_operand_of_the_wrong_type_is_a_programming_error() -> None:
    s = make(put(b"a", b"1"))
    with pytest.raises(TypeError):
        s.txn(txn((cmp(b"a", T.VALUE, R.EQUAL, 1),)))
    with pytest.raises(TypeError):
        s.txn(txn((cmp(b"a", T.MOD, R.EQUAL, b"2"),)))
    assert s.revision == 2


# --- the key index ------------------------------------------------------------------------------------

INDEX_OPS = st.lists(st.tuples(st.booleans(), st.binary(min_size=1, max_size=2)), max_size=300)


@settings(max_examples=200, deadline=None)
@given(ops=INDEX_OPS, start=st.binary(max_size=2), end=st.one_of(st.none(), st.binary(max_size=2)))
def test_key_index_is_a_sorted_set_with_range_scans(
    ops: list[tuple[bool, bytes]], start: bytes, end: bytes | None
) -> None:
    """Against a plain set, with tiny buckets so that splits and emptied buckets happen."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index, "BUCKET_LOAD", 2)
        keys = index.KeyIndex()
        model: set[bytes] = set()
        for add, key in ops:
            if add and key not in model:
                keys.add(key)
                model.add(key)
            elif not add:
                keys.discard(key)
                model.discard(key)
        assert list(keys) == sorted(model)
        assert len(keys) == len(model)
        assert all(key in keys for key in model)
        expected = sorted(k for k in model if start <= k and (end is None or k < end))
        assert list(keys.irange(start, end)) == expected
    assert list(index.KeyIndex(model).irange(start, end)) == expected
