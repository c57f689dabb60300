"""The Raft log entry codec: every request type survives the trip through a log entry unchanged."""

from __future__ import annotations

import pytest

from consensus.mvcc import entry, types

_PUT = types.PutRequest(key=b"/registry/pods/default/web", value=b"\x00\xff" * 40, lease=7, prev_kv=True)
_COMPARE = types.Compare(
    key=b"/registry/pods/default/web",
    target=types.CompareTarget.MOD,
    result=types.CompareResult.EQUAL,
    target_value=12,
)

REQUESTS: list[types.Request] = [
    types.RangeRequest(
        key=b"a",
        range_end=b"\0",
        limit=5,
        revision=3,
        sort_order=types.SortOrder.DESCEND,
        sort_target=types.SortTarget.MOD,
        keys_only=True,
        count_only=False,
        min_mod_revision=1,
        max_create_revision=9,
    ),
    _PUT,
    types.PutRequest(key=b"k", ignore_value=True, ignore_lease=True),
    types.DeleteRangeRequest(key=b"a", range_end=b"b", prev_kv=True),
    types.TxnRequest(
        compare=(
            _COMPARE,
            types.Compare(
                key=b"v",
                target=types.CompareTarget.VALUE,
                result=types.CompareResult.NOT_EQUAL,
                target_value=b"old",
                range_end=b"w",
            ),
        ),
        success=(_PUT, types.TxnRequest(success=(types.DeleteRangeRequest(key=b"x"),))),
        failure=(types.RangeRequest(key=b"/registry/pods/default/web"),),
    ),
    types.TxnRequest(),
    types.CompactionRequest(revision=40),
    types.LeaseGrantRequest(ttl=10, now=1.5, id=99),
    types.LeaseRevokeRequest(id=99),
    types.LeaseKeepAliveRequest(id=99, now=2.25),
    types.LeaseTimeToLiveRequest(id=99, now=3.0, keys=True),
    types.LeaseLeasesRequest(),
    types.LeaseExpireRequest(now=4.0),
    types.MembersRequest(
        members='[{"name": "store-0", "id": 1, "peer_url": "127.0.0.1:2380", "client_url": ""}]'
    ),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_a_request_comes_back_equal_with_its_enums(request_: types.Proposal) -> None:
    (decoded,) = entry.decode(entry.encode([request_]))
    assert decoded == request_
    assert type(decoded) is type(request_)
    if isinstance(decoded, types.RangeRequest):
        assert type(decoded.sort_order) is types.SortOrder
    if isinstance(decoded, types.TxnRequest) and decoded.compare:
        assert type(decoded.compare[0].target) is types.CompareTarget


def test_a_batch_keeps_its_order_and_decoded_requests_hash_like_the_originals() -> None:
    decoded = entry.decode(entry.encode(REQUESTS))
    assert decoded == REQUESTS
    assert [hash(r) for r in decoded] == [hash(r) for r in REQUESTS]
