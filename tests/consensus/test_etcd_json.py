"""The etcd v3 JSON codec against etcd's own examples (Documentation/dev-guide/api_grpc_gateway.md and
tests/e2e/v3_curl_*_test.go) and against every kind of bad input the gateway refuses."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from consensus import etcd_json
from consensus.etcd_json import Code, Header
from consensus.mvcc import errors, types

FOO, BAR = b"foo", b"bar"
DOCS = Header(cluster_id=12585971608760269493, member_id=13847567121247652255, raft_term=3)
"""The header of the docs' examples."""


def kv(key: bytes, create: int, mod: int, version: int, value: bytes = b"", lease: int = 0) -> types.KeyValue:
    return types.KeyValue(
        key=key, create_revision=create, mod_revision=mod, version=version, value=value, lease=lease
    )


# --- decoding ------------------------------------------------------------------------------------------

DECODES: list[Any] = [
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v", "value": "YmFy"}',
        types.PutRequest(key=FOO, value=BAR),
        id="docs-put",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v"}',
        etcd_json.RangeCall(request=types.RangeRequest(key=FOO)),
        id="docs-range",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "range_end": "Zm9w"}',
        etcd_json.RangeCall(request=types.RangeRequest(key=FOO, range_end=b"fop")),
        id="docs-range-prefix",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key":"Zm9v","rangeEnd":"AA==","limit":"10","revision":3,"sort_order":"DESCEND","sortTarget":"MOD",'
        '"keys_only":true,"countOnly":false,"serializable":true,"minModRevision":"2"}',
        etcd_json.RangeCall(
            request=types.RangeRequest(
                key=FOO,
                range_end=types.ALL_KEYS,
                limit=10,
                revision=3,
                sort_order=types.SortOrder.DESCEND,
                sort_target=types.SortTarget.MOD,
                keys_only=True,
                min_mod_revision=2,
            ),
            serializable=True,
        ),
        id="range-camel-case-strings-and-numbers",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "sort_order": 1, "sort_target": 4}',
        etcd_json.RangeCall(
            request=types.RangeRequest(
                key=FOO, sort_order=types.SortOrder.ASCEND, sort_target=types.SortTarget.VALUE
            )
        ),
        id="range-enums-as-numbers",
    ),
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v", "value": null, "lease": "0", "future_field": {"x": [1]}, "prev_kv": true}',
        types.PutRequest(key=FOO, prev_kv=True),
        id="put-null-and-unknown-fields-ignored",
    ),
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v", "value": "YmFyYmFy\\nYmFy\\n"}',
        types.PutRequest(key=FOO, value=b"barbarbar"),
        id="put-base64-with-line-breaks-as-base64-prints-it",
    ),
    pytest.param(
        etcd_json.decode_put,
        '  {"key": "Zm9v", "lease": 7587, "ignore_value": true} trailing text is never read',
        types.PutRequest(key=FOO, lease=7587, ignore_value=True),
        id="put-first-json-value-only",
    ),
    pytest.param(
        etcd_json.decode_delete_range,
        '{"key": "Zm9v", "range_end": "Zm9w", "prev_kv": true}',
        types.DeleteRangeRequest(key=FOO, range_end=b"fop", prev_kv=True),
        id="delete-range",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare":[{"target":"CREATE","key":"Zm9v","createRevision":"2"}],'
        '"success":[{"requestPut":{"key":"Zm9v","value":"YmFy"}}]}',
        types.TxnRequest(
            compare=(
                types.Compare(
                    key=FOO,
                    target=types.CompareTarget.CREATE,
                    result=types.CompareResult.EQUAL,
                    target_value=2,
                ),
            ),
            success=(types.PutRequest(key=FOO, value=BAR),),
        ),
        id="docs-txn-create",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare":[{"version":"4","result":"EQUAL","target":"VERSION","key":"Zm9v"}],'
        '"success":[{"requestRange":{"key":"Zm9v"}}]}',
        types.TxnRequest(
            compare=(
                types.Compare(
                    key=FOO,
                    target=types.CompareTarget.VERSION,
                    result=types.CompareResult.EQUAL,
                    target_value=4,
                ),
            ),
            success=(types.RangeRequest(key=FOO),),
        ),
        id="docs-txn-version",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare":[{"key":"Zm9v","result":"EQUAL","target":"CREATE","create_revision":"0"}],'
        '"success":[{"request_put":{"key":"Zm9v","value":"YmFy"}}]}',
        types.TxnRequest(
            compare=(
                types.Compare(
                    key=FOO,
                    target=types.CompareTarget.CREATE,
                    result=types.CompareResult.EQUAL,
                    target_value=0,
                ),
            ),
            success=(types.PutRequest(key=FOO, value=BAR),),
        ),
        id="e2e-txn-proto-names",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare":[{"key":"Zm9v","range_end":"Zm9w","target":"VALUE","result":"NOT_EQUAL","value":"YmFy",'
        '"version":"9"},{"key":"Zm9v","target":4,"result":2,"lease":"5"},{"key":"Zm9v","target":"MOD"}],'
        '"failure":[{"request_delete_range":{"key":"Zm9v"}},{"request_txn":{"success":[{"request_put":'
        '{"key":"YmFy"}}],"failure":[{"request_put":{"key":"YmFy"}}]}}]}',
        types.TxnRequest(
            compare=(
                types.Compare(
                    key=FOO,
                    range_end=b"fop",
                    target=types.CompareTarget.VALUE,
                    result=types.CompareResult.NOT_EQUAL,
                    target_value=BAR,  # "version" is not the union field a VALUE compare reads
                ),
                types.Compare(
                    key=FOO, target=types.CompareTarget.LEASE, result=types.CompareResult.LESS, target_value=5
                ),
                types.Compare(
                    key=FOO, target=types.CompareTarget.MOD, result=types.CompareResult.EQUAL, target_value=0
                ),
            ),
            failure=(
                types.DeleteRangeRequest(key=FOO),
                types.TxnRequest(success=(types.PutRequest(key=BAR),), failure=(types.PutRequest(key=BAR),)),
            ),
        ),
        id="txn-value-lease-missing-operand-nested-txn",
    ),
    pytest.param(
        etcd_json.decode_compaction,
        '{"revision": "10000", "physical": true}',
        types.CompactionRequest(revision=10000),
        id="e2e-compaction",
    ),
    pytest.param(
        etcd_json.decode_lease_grant,
        '{"TTL": 30, "ID": 7587}',
        etcd_json.LeaseGrant(ttl=30, id=7587),
        id="e2e-lease-grant",
    ),
    pytest.param(
        etcd_json.decode_lease_grant, '{"TTL": "20"}', etcd_json.LeaseGrant(ttl=20), id="lease-grant-any-id"
    ),
    pytest.param(
        etcd_json.decode_lease_id,
        '{"ID": "7587", "keys": true}',
        etcd_json.LeaseId(id=7587, keys=True),
        id="e2e-lease-timetolive-keys",
    ),
    pytest.param(etcd_json.decode_empty, "", None, id="empty-body-is-an-empty-request"),
    pytest.param(etcd_json.decode_empty, "null", None, id="null-body-is-an-empty-request"),
]


@pytest.mark.parametrize(("decode", "body", "expected"), DECODES)
def test_request_bodies_decode_as_grpc_gateway_decodes_them(
    decode: Callable[[bytes], Any], body: str, expected: Any
) -> None:
    assert decode(body.encode()) == expected


WATCHES: list[Any] = [
    pytest.param('{"create_request": {"key":"Zm9v"} }', etcd_json.WatchCreate(key=FOO), id="docs-watch"),
    pytest.param(
        '{"create_request" : {"key":"Zm9v","start_revision":1}}',
        etcd_json.WatchCreate(key=FOO, start_revision=1),
        id="e2e-watch",
    ),
    pytest.param(
        '{"createRequest": {"rangeEnd": "AA==", "filters": ["NOPUT", 1], "prevKv": true, "watchId": "7",'
        ' "progressNotify": true, "fragment": true}}',
        etcd_json.WatchCreate(
            key=b"\0",
            range_end=b"\0",
            filters=(etcd_json.WatchFilter.NOPUT, etcd_json.WatchFilter.NODELETE),
            prev_kv=True,
            watch_id=7,
            progress_notify=True,
            fragment=True,
        ),
        id="watch-everything-camel-case",
    ),
    pytest.param(
        '{"cancel_request": {"watch_id": "3"}}', etcd_json.WatchCancel(watch_id=3), id="watch-cancel"
    ),
    pytest.param('{"progress_request": {}}', etcd_json.WatchProgress(), id="watch-progress"),
    pytest.param("{}", None, id="watch-nothing-set"),
    pytest.param("null", None, id="watch-null"),
]


@pytest.mark.parametrize(("body", "expected"), WATCHES)
def test_watch_requests_decode_one_value_of_the_stream(body: str, expected: Any) -> None:
    value, _ = etcd_json.parse_value(body)
    assert etcd_json.decode_watch(value) == expected


def test_a_stream_body_is_a_sequence_of_json_values() -> None:
    text = '{"ID": "1"}\n {"ID": 2}{"ID":3}'
    ids, offset = [], 0
    while text[offset:].strip():
        value, offset = etcd_json.parse_value(text, offset)
        ids.append(etcd_json.decode_keep_alive(value))
    assert ids == [1, 2, 3]


# --- bad input -----------------------------------------------------------------------------------------

BIG = "A" * (4 * ((1536 * 1024) // 3 + 1))  # base64 of just over 1.5 MiB

BAD: list[Any] = [
    # malformed JSON
    pytest.param(
        etcd_json.decode_put, '{"key": "Zm9v", ', etcd_json.BadRequest, "unexpected EOF", id="json-cut"
    ),
    pytest.param(etcd_json.decode_put, "{", etcd_json.BadRequest, "unexpected EOF", id="json-open-brace"),
    pytest.param(
        etcd_json.decode_put,
        '{"key": }',
        etcd_json.BadRequest,
        "invalid character '}' looking for beginning of value",
        id="json-missing-value",
    ),
    pytest.param(
        etcd_json.decode_put,
        "key=Zm9v",
        etcd_json.BadRequest,
        "invalid character 'k' looking for beginning of value",
        id="json-form-encoded",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "limit": NaN}',
        etcd_json.BadRequest,
        "invalid character 'N' looking for beginning of value",
        id="json-nan",
    ),
    pytest.param(etcd_json.decode_put, b'{"key": "\xff"}', etcd_json.BadRequest, None, id="json-not-utf8"),
    # the body is not an object
    pytest.param(
        etcd_json.decode_put,
        "[]",
        etcd_json.BadRequest,
        "json: cannot unmarshal array into Go value of type map[string]json.RawMessage",
        id="body-array",
    ),
    pytest.param(
        etcd_json.decode_put,
        '"Zm9v"',
        etcd_json.BadRequest,
        "json: cannot unmarshal string into Go value of type map[string]json.RawMessage",
        id="body-string",
    ),
    # bad base64
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v!"}',
        etcd_json.BadRequest,
        "illegal base64 data at input byte 4",
        id="base64-bad-character",
    ),
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9"}',
        etcd_json.BadRequest,
        "illegal base64 data at input byte 0",
        id="base64-no-padding",
    ),
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v", "value": "-_-_"}',
        etcd_json.BadRequest,
        "illegal base64 data at input byte 0",
        id="base64-url-alphabet",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "range_end": "Zm9w=="}',
        etcd_json.BadRequest,
        "illegal base64 data at input byte 4",
        id="base64-excess-padding",
    ),
    # a field of the wrong type
    pytest.param(
        etcd_json.decode_put,
        '{"key": 5}',
        etcd_json.BadRequest,
        "json: cannot unmarshal number into Go value of type []uint8",
        id="type-key-number",
    ),
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v", "value": {"a": 1}}',
        etcd_json.BadRequest,
        "json: cannot unmarshal object into Go value of type []uint8",
        id="type-value-object",
    ),
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v", "lease": true}',
        etcd_json.BadRequest,
        "json: cannot unmarshal bool into Go value of type int64",
        id="type-lease-bool",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "limit": "ten"}',
        etcd_json.BadRequest,
        "invalid character 't' looking for beginning of value",
        id="type-limit-word",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "limit": 1.5}',
        etcd_json.BadRequest,
        "json: cannot unmarshal number 1.5 into Go value of type int64",
        id="type-limit-fraction",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "revision": "1e3"}',
        etcd_json.BadRequest,
        "json: cannot unmarshal number 1e3 into Go value of type int64",
        id="type-revision-exponent-string",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "revision": 9223372036854775808}',
        etcd_json.BadRequest,
        "json: cannot unmarshal number 9223372036854775808 into Go value of type int64",
        id="type-int64-overflow",
    ),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "keys_only": "true"}',
        etcd_json.BadRequest,
        "json: cannot unmarshal string into Go value of type bool",
        id="type-bool-string",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare": {"key": "Zm9v"}}',
        etcd_json.BadRequest,
        "json: cannot unmarshal object into Go value of type []*etcdserverpb.Compare",
        id="type-compare-not-a-list",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"success": [{"request_put": "Zm9v"}]}',
        etcd_json.BadRequest,
        "json: cannot unmarshal string into Go value of type map[string]json.RawMessage",
        id="type-request-put-string",
    ),
    pytest.param(
        etcd_json.decode_lease_grant,
        '{"TTL": [30]}',
        etcd_json.BadRequest,
        "json: cannot unmarshal array into Go value of type int64",
        id="type-ttl-array",
    ),
    # an unknown enum value
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9v", "sort_order": "UPWARDS"}',
        etcd_json.BadRequest,
        'unknown value "UPWARDS" for enum etcdserverpb.RangeRequest_SortOrder',
        id="enum-sort-order",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare": [{"key": "Zm9v", "target": "SIZE"}]}',
        etcd_json.BadRequest,
        'unknown value "SIZE" for enum etcdserverpb.Compare_CompareTarget',
        id="enum-compare-target",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare": [{"key": "Zm9v", "result": 9}]}',
        etcd_json.BadRequest,
        "unknown value 9 for enum etcdserverpb.Compare_CompareResult",
        id="enum-compare-result-number",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare": [{"key": "Zm9v", "result": "equal"}]}',
        etcd_json.BadRequest,
        'unknown value "equal" for enum etcdserverpb.Compare_CompareResult',
        id="enum-names-are-case-sensitive",
    ),
    # a value over 1.5 MiB
    pytest.param(
        etcd_json.decode_put,
        f'{{"key": "Zm9v", "value": "{BIG}"}}',
        errors.RequestTooLarge,
        None,
        id="too-large-put",
    ),
    pytest.param(
        etcd_json.decode_txn,
        f'{{"success": [{{"request_put": {{"key": "Zm9v", "value": "{BIG}"}}}}]}}',
        errors.RequestTooLarge,
        None,
        id="too-large-txn",
    ),
    # what etcd's server checks refuse before proposing
    pytest.param(etcd_json.decode_put, '{"value": "YmFy"}', errors.EmptyKey, None, id="put-no-key"),
    pytest.param(
        etcd_json.decode_put, '{"key": null, "value": "YmFy"}', errors.EmptyKey, None, id="put-null-key"
    ),
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v", "value": 1.0}',
        etcd_json.BadRequest,
        "json: cannot unmarshal number into Go value of type []uint8",
        id="put-number-value",
    ),
    pytest.param(etcd_json.decode_range, "", errors.EmptyKey, None, id="range-empty-body"),
    pytest.param(
        etcd_json.decode_range,
        '{"key": "Zm9w", "range_end": "Zm9v"}',
        errors.InvalidRange,
        None,
        id="range-end-first",
    ),
    pytest.param(
        etcd_json.decode_delete_range,
        '{"key": "", "range_end": "Zm9v"}',
        errors.EmptyKey,
        None,
        id="delete-no-key",
    ),
    pytest.param(
        etcd_json.decode_put,
        '{"key": "Zm9v", "value": "YmFy", "ignore_value": true}',
        errors.ValueProvided,
        None,
        id="put-ignore-value-with-value",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"compare":[{"result":0,"target":1,"key":"Zm9v","TargetUnion":null}],'
        '"success":[{"Request":{"RequestPut":{"key":"Zm9v","value":"YmFy"}}}]}',
        errors.KeyNotFound,
        None,
        id="e2e-txn-op-without-request",
    ),
    pytest.param(
        etcd_json.decode_txn,
        '{"success": [{"request_put": {"key": "Zm9v"}}, {"request_delete_range": {"key": "Zm9v"}}]}',
        errors.DuplicateKey,
        None,
        id="txn-put-and-delete-one-key",
    ),
    pytest.param(
        etcd_json.decode_txn,
        json.dumps({"compare": [{"key": "Zm9v"}] * 129}),
        errors.TooManyOps,
        None,
        id="txn-129-compares",
    ),
    pytest.param(
        etcd_json.decode_txn, '{"compare": [{"target": "MOD"}]}', errors.EmptyKey, None, id="compare-no-key"
    ),
]


@pytest.mark.parametrize(("decode", "body", "error", "message"), BAD)
def test_bad_input_is_refused_with_etcds_or_gos_words(
    decode: Callable[[bytes], Any], body: str | bytes, error: type[Exception], message: str | None
) -> None:
    with pytest.raises(error) as raised:
        decode(body if isinstance(body, bytes) else body.encode())
    if message is not None:
        assert str(raised.value) == message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"create_request": {"key": "!"}}', id="bad-base64"),
        pytest.param('{"create_request": {"filters": ["NOBODY"]}}', id="unknown-filter"),
        pytest.param('{"cancel_request": {"watch_id": true}}', id="cancel-id-bool"),
        pytest.param('{"create_request": []}', id="create-not-an-object"),
    ],
)
def test_bad_watch_requests_are_refused(body: str) -> None:
    value, _ = etcd_json.parse_value(body)
    with pytest.raises(etcd_json.BadRequest):
        etcd_json.decode_watch(value)


# --- encoding ------------------------------------------------------------------------------------------

DOCS_HEADER = (
    '"header":{"cluster_id":"12585971608760269493","member_id":"13847567121247652255","revision":"%s",'
    '"raft_term":"%s"}'
)
DOCS_KV = '{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}'

ENCODES: list[Any] = [
    pytest.param(
        lambda: etcd_json.encode_put(types.PutResponse(revision=2), DOCS),
        "{" + DOCS_HEADER % (2, 3) + "}",
        id="docs-put",
    ),
    pytest.param(
        lambda: etcd_json.encode_range(
            types.RangeResponse(revision=2, kvs=(kv(FOO, 2, 2, 1, BAR),), count=1), DOCS
        ),
        "{" + DOCS_HEADER % (2, 3) + ',"kvs":[' + DOCS_KV + '],"count":"1"}',
        id="docs-range",
    ),
    pytest.param(
        lambda: etcd_json.encode_range(types.RangeResponse(revision=2), DOCS),
        "{" + DOCS_HEADER % (2, 3) + "}",
        id="range-nothing-omits-kvs-and-count",
    ),
    pytest.param(
        lambda: etcd_json.encode_range(
            types.RangeResponse(revision=9, kvs=(kv(FOO, 2, 5, 3, lease=7),), more=True, count=4), DOCS
        ),
        "{"
        + DOCS_HEADER % (9, 3)
        + ',"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"5","version":"3","lease":"7"}],'
        '"more":true,"count":"4"}',
        id="range-keys-only-with-lease-and-more",
    ),
    pytest.param(
        lambda: etcd_json.watch_chunk(dataclasses.replace(DOCS, raft_term=2), 1, watch_id=0, created=True),
        '{"result":{' + DOCS_HEADER % (1, 2) + ',"created":true}}\n',
        id="docs-watch-created",
    ),
    pytest.param(
        lambda: etcd_json.watch_chunk(
            dataclasses.replace(DOCS, raft_term=2),
            2,
            watch_id=0,
            events=(types.Event(type=types.EventType.PUT, kv=kv(FOO, 2, 2, 1, BAR)),),
        ),
        '{"result":{' + DOCS_HEADER % (2, 2) + ',"events":[{"kv":' + DOCS_KV + "}]}}\n",
        id="docs-watch-event",
    ),
    pytest.param(
        lambda: etcd_json.watch_chunk(
            DOCS,
            4,
            watch_id=1,
            events=(
                types.Event(type=types.EventType.DELETE, kv=kv(FOO, 0, 4, 0), prev_kv=kv(FOO, 2, 3, 2, BAR)),
            ),
        ),
        '{"result":{'
        + DOCS_HEADER % (4, 3)
        + ',"watch_id":"1","events":[{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"4"},'
        '"prev_kv":{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmFy"}}]}}\n',
        id="watch-delete-event-with-prev-kv",
    ),
    pytest.param(
        lambda: etcd_json.watch_chunk(DOCS, 5, watch_id=0, canceled=True, compact_revision=3),
        '{"result":{' + DOCS_HEADER % (5, 3) + ',"canceled":true,"compact_revision":"3"}}\n',
        id="watch-compacted",
    ),
    pytest.param(
        lambda: etcd_json.encode_txn(
            types.TxnResponse(revision=3, succeeded=True, responses=(types.PutResponse(revision=3),)),
            dataclasses.replace(DOCS, raft_term=2),
        ),
        "{"
        + DOCS_HEADER % (3, 2)
        + ',"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]}',
        id="docs-txn-create",
    ),
    pytest.param(
        lambda: etcd_json.encode_txn(
            types.TxnResponse(
                revision=6,
                succeeded=True,
                responses=(types.RangeResponse(revision=6, kvs=(kv(FOO, 2, 6, 4, b"baz"),), count=1),),
            ),
            DOCS,
        ),
        "{"
        + DOCS_HEADER % (6, 3)
        + ',"succeeded":true,"responses":[{"response_range":{"header":{"revision":"6"},"kvs":[{"key":"Zm9v",'
        '"create_revision":"2","mod_revision":"6","version":"4","value":"YmF6"}],"count":"1"}}]}',
        id="docs-txn-version",
    ),
    pytest.param(
        lambda: etcd_json.encode_txn(
            types.TxnResponse(
                revision=7,
                succeeded=False,
                responses=(
                    types.DeleteRangeResponse(revision=7, deleted=1),
                    types.TxnResponse(revision=7, succeeded=True),
                ),
            ),
            DOCS,
        ),
        "{"
        + DOCS_HEADER % (7, 3)
        + ',"responses":[{"response_delete_range":{"header":{"revision":"7"},"deleted":"1"}},'
        '{"response_txn":{"header":{"revision":"7"},"succeeded":true}}]}',
        id="txn-failed-omits-succeeded",
    ),
    pytest.param(
        lambda: etcd_json.encode_delete_range(
            types.DeleteRangeResponse(revision=3, deleted=1, prev_kvs=(kv(FOO, 2, 2, 1, BAR),)), DOCS
        ),
        "{" + DOCS_HEADER % (3, 3) + ',"deleted":"1","prev_kvs":[' + DOCS_KV + "]}",
        id="delete-range-prev-kvs",
    ),
    pytest.param(
        lambda: etcd_json.encode_put(types.PutResponse(revision=3, prev_kv=kv(FOO, 2, 2, 1, BAR)), DOCS),
        "{" + DOCS_HEADER % (3, 3) + ',"prev_kv":' + DOCS_KV + "}",
        id="put-prev-kv",
    ),
    pytest.param(
        lambda: etcd_json.encode_compaction(types.CompactionResponse(revision=8), DOCS),
        "{" + DOCS_HEADER % (8, 3) + "}",
        id="compaction",
    ),
    pytest.param(
        lambda: etcd_json.encode_lease_grant(types.LeaseGrantResponse(revision=1, id=7587, ttl=30), DOCS),
        "{" + DOCS_HEADER % (1, 3) + ',"ID":"7587","TTL":"30"}',
        id="lease-grant",
    ),
    pytest.param(
        lambda: etcd_json.encode_lease_revoke(types.LeaseRevokeResponse(revision=4), DOCS),
        "{" + DOCS_HEADER % (4, 3) + "}",
        id="lease-revoke",
    ),
    pytest.param(
        lambda: etcd_json.keep_alive_chunk(types.LeaseKeepAliveResponse(revision=1, id=7587, ttl=30), DOCS),
        '{"result":{' + DOCS_HEADER % (1, 3) + ',"ID":"7587","TTL":"30"}}\n',
        id="lease-keepalive",
    ),
    pytest.param(
        lambda: etcd_json.encode_lease_time_to_live(
            types.LeaseTimeToLiveResponse(revision=2, id=7587, ttl=29, granted_ttl=30, keys=(FOO, BAR)), DOCS
        ),
        "{" + DOCS_HEADER % (2, 3) + ',"ID":"7587","TTL":"29","grantedTTL":"30","keys":["Zm9v","YmFy"]}',
        id="lease-timetolive-keys",
    ),
    pytest.param(
        lambda: etcd_json.encode_lease_time_to_live(
            types.LeaseTimeToLiveResponse(revision=2, id=5, ttl=-1), DOCS
        ),
        "{" + DOCS_HEADER % (2, 3) + ',"ID":"5","TTL":"-1"}',
        id="lease-timetolive-missing",
    ),
    pytest.param(
        lambda: etcd_json.encode_lease_leases(types.LeaseLeasesResponse(revision=2, leases=(5, 7587)), DOCS),
        "{" + DOCS_HEADER % (2, 3) + ',"leases":[{"ID":"5"},{"ID":"7587"}]}',
        id="lease-leases",
    ),
    pytest.param(
        lambda: etcd_json.encode_member_list(
            [
                etcd_json.Member(
                    id=4096,
                    name="store-0",
                    peer_urls=("http://127.0.0.1:2380",),
                    client_urls=("http://127.0.0.1:2379",),
                ),
                etcd_json.Member(id=4097, name="store-1", peer_urls=("http://127.0.0.1:2381",)),
            ],
            DOCS,
        ),
        '{"header":{"cluster_id":"12585971608760269493","member_id":"13847567121247652255","raft_term":"3"},'
        '"members":[{"ID":"4096","name":"store-0","peerURLs":["http://127.0.0.1:2380"],'
        '"clientURLs":["http://127.0.0.1:2379"]},{"ID":"4097","name":"store-1","peerURLs":["http://127.0.0.1:2381"]}]}',
        id="member-list-header-without-revision",
    ),
    pytest.param(
        lambda: etcd_json.encode_status(
            etcd_json.Status(leader=4096, raft_index=12, raft_term=3, raft_applied_index=12), DOCS, 5
        ),
        "{"
        + DOCS_HEADER % (5, 3)
        + ',"version":"3.4.0","leader":"4096","raftIndex":"12","raftTerm":"3","raftAppliedIndex":"12"}',
        id="status",
    ),
    pytest.param(
        lambda: etcd_json.encode_status(etcd_json.Status(errors=("etcdserver: no leader",)), DOCS, 5),
        "{" + DOCS_HEADER % (5, 3) + ',"version":"3.4.0","errors":["etcdserver: no leader"]}',
        id="status-no-leader",
    ),
    pytest.param(
        lambda: etcd_json.encode_error(
            Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"
        ),
        (
            400,
            '{"error":"etcdserver: mvcc: required revision is a future revision","code":11,'
            '"message":"etcdserver: mvcc: required revision is a future revision"}',
        ),
        id="error-e2e-compact",
    ),
    pytest.param(
        lambda: etcd_json.stream_error_chunk(Code.UNAVAILABLE, "etcdserver: request timed out"),
        '{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: request timed out",'
        '"http_status":"Service Unavailable"}}',
        id="stream-error",
    ),
    pytest.param(lambda: etcd_json.encode_health(True), '{"health":"true","reason":""}', id="health"),
    pytest.param(
        lambda: etcd_json.encode_health(False, "RAFT NO LEADER"),
        '{"health":"false","reason":"RAFT NO LEADER"}',
        id="health-no-leader",
    ),
    pytest.param(
        lambda: etcd_json.encode_version(), '{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}', id="version"
    ),
]


@pytest.mark.parametrize(("encode", "expected"), ENCODES)
def test_responses_encode_byte_for_byte_as_etcds_gateway(encode: Callable[[], Any], expected: Any) -> None:
    got = encode()
    if isinstance(expected, tuple):
        assert (got[0], got[1].decode()) == expected
    else:
        assert got.decode() == expected


@pytest.mark.parametrize(
    ("code", "status"),
    [
        pytest.param(Code.OK, 200, id="ok"),
        pytest.param(Code.CANCELLED, 408, id="cancelled"),
        pytest.param(Code.UNKNOWN, 500, id="unknown"),
        pytest.param(Code.INVALID_ARGUMENT, 400, id="invalid-argument"),
        pytest.param(Code.DEADLINE_EXCEEDED, 504, id="deadline-exceeded"),
        pytest.param(Code.NOT_FOUND, 404, id="not-found"),
        pytest.param(Code.ALREADY_EXISTS, 409, id="already-exists"),
        pytest.param(Code.PERMISSION_DENIED, 403, id="permission-denied"),
        pytest.param(Code.RESOURCE_EXHAUSTED, 429, id="resource-exhausted"),
        pytest.param(Code.FAILED_PRECONDITION, 400, id="failed-precondition"),
        pytest.param(Code.ABORTED, 409, id="aborted"),
        pytest.param(Code.OUT_OF_RANGE, 400, id="out-of-range"),
        pytest.param(Code.UNIMPLEMENTED, 501, id="unimplemented"),
        pytest.param(Code.INTERNAL, 500, id="internal"),
        pytest.param(Code.UNAVAILABLE, 503, id="unavailable"),
        pytest.param(Code.DATA_LOSS, 500, id="data-loss"),
        pytest.param(Code.UNAUTHENTICATED, 401, id="unauthenticated"),
    ],
)
def test_grpc_codes_map_to_http_as_grpc_gateway_maps_them(code: Code, status: int) -> None:
    assert etcd_json.http_status(code) == status


@pytest.mark.parametrize(
    "error",
    [
        errors.EmptyKey(),
        errors.Compacted(3),
        errors.LeaseNotFound(5),
        errors.LeaseExists(),
        errors.RequestTooLarge(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_store_errors_carry_their_own_code_into_the_error_body(error: errors.StoreError) -> None:
    status, body = etcd_json.encode_error(error.grpc_code, str(error))
    assert json.loads(body) == {"error": str(error), "code": int(error.grpc_code), "message": str(error)}
    assert status == etcd_json.http_status(error.grpc_code) and status in (400, 404)


def test_the_cluster_id_is_etcds_hash_of_the_sorted_member_ids() -> None:
    assert etcd_json.cluster_id([3, 1, 2]) == etcd_json.cluster_id([1, 2, 3])
    assert etcd_json.cluster_id([1, 2, 3]) != etcd_json.cluster_id([1, 2])
    assert 0 < etcd_json.cluster_id([4096]) < 2**64


def test_keys_and_values_round_trip_through_base64_whatever_their_bytes() -> None:
    key, value = bytes(range(1, 256)), bytes(range(256)) * 3
    body = etcd_json.encode_range(
        types.RangeResponse(revision=2, kvs=(kv(key, 2, 2, 1, value),), count=1), DOCS
    )
    (got,) = json.loads(body)["kvs"]
    request = etcd_json.decode_put(json.dumps({"key": got["key"], "value": got["value"]}).encode())
    assert (request.key, request.value) == (key, value)
