"""etcd v3's JSON API as its grpc-gateway speaks it: request bodies in, response bodies out. Pure.

etcd serves ``/v3/kv/put`` and friends through grpc-gateway v1 (etcd 3.4: ``JSONPb{OrigName: true}`` over
golang/protobuf's ``jsonpb``). This module reproduces that translation, so etcd's documented curl examples
and any client written against etcd work unchanged against kubemu:

- Requests: both the proto field name and its lowerCamelCase JSON name are accepted (``range_end`` and
  ``rangeEnd``, ``request_put`` and ``requestPut``); unknown fields are ignored and ``null`` means
  "absent" (jsonpb's ``AllowUnknownFields``); ``bytes`` are standard base64 with padding (line breaks
  ignored, as Go's decoder does); 64-bit integers are JSON numbers or decimal strings; enums are names or
  numbers.
- Responses: proto names, fields in proto order, proto3 defaults omitted (no ``"count"`` when 0, no ``"type"``
  for a PUT event, no ``"watch_id"`` for watch 0), 64-bit integers as strings, ``bytes`` as base64.
- Errors: grpc-gateway's body ``{"error": m, "code": c, "message": m}`` with the HTTP status of
  ``runtime.HTTPStatusFromCode``; on a stream, ``{"error": {"grpc_code", "http_code", "message",
  "http_status"}}``. A body that does not decode raises ``BadRequest`` with the message Go's decoder would
  give (gRPC code INVALID_ARGUMENT on unary calls; the caller uses UNKNOWN on streams, as the gateway does).

Every ``decode_*`` returns a request that also passed ``mvcc.validation`` (empty key, range end before key,
sizes over 1.5 MiB, txn shape), so a bad request is refused before it is proposed; those refusals are the
store's own ``errors.StoreError`` types. Nothing here does I/O or reads a clock.

One module, past the usual size on purpose: the decoding and encoding halves are one mapping (the same
field names, omission and number rules), and every endpoint's shapes sit side by side for review.
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from consensus.mvcc import errors, types, validation

API_VERSION = "3.4.0"
"""The etcd API version kubemu speaks (what ``/version`` reports as ``etcdcluster``)."""


class Code(enum.IntEnum):
    """gRPC status codes (``google.golang.org/grpc/codes``)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


_HTTP_STATUS = {  # grpc-gateway v1 runtime.HTTPStatusFromCode
    Code.OK: 200,
    Code.CANCELLED: 408,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.UNAUTHENTICATED: 401,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
}

_HTTP_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def http_status(code: int) -> int:
    """The HTTP status grpc-gateway answers a gRPC error code with."""
    return _HTTP_STATUS.get(Code(code), 500) if 0 <= code <= 16 else 500


class BadRequest(Exception):
    """A request body that does not decode into the request message; ``str()`` is Go's wording."""


# --- values the client port passes in -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The parts of ``ResponseHeader`` fixed for a member and a term; ``revision`` comes per response."""

    cluster_id: int
    member_id: int
    raft_term: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """``etcdserverpb.Member``."""

    id: int
    name: str
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """``StatusResponse`` less its header."""

    version: str = API_VERSION
    db_size: int = 0
    leader: int = 0
    raft_index: int = 0
    raft_term: int = 0
    raft_applied_index: int = 0
    errors: tuple[str, ...] = ()
    db_size_in_use: int = 0
    is_learner: bool = False


def cluster_id(member_ids: Iterable[int]) -> int:
    """etcd's cluster id: the first 8 bytes of SHA-1 over the sorted member ids, big-endian."""
    data = b"".join(i.to_bytes(8, "big") for i in sorted(member_ids))
    return int.from_bytes(hashlib.sha1(data).digest()[:8], "big")


# --- decoded requests that are not MVCC requests -----------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RangeCall:
    """A ``RangeRequest`` and its ``serializable`` flag (which the member takes apart from the request)."""

    request: types.RangeRequest
    serializable: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseGrant:
    ttl: int
    id: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseId:
    """The body of lease revoke and keep-alive (``ID``) and time-to-live (``ID``, ``keys``)."""

    id: int
    keys: bool = False


class WatchFilter(enum.IntEnum):
    """``WatchCreateRequest.FilterType``: which events a watcher does not want."""

    NOPUT = 0
    NODELETE = 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WatchCreate:
    """``WatchCreateRequest``; ``key`` is never empty (etcd reads an empty key as ``b"\\0"``, the least)."""

    key: bytes
    range_end: bytes = b""
    start_revision: int = 0
    progress_notify: bool = False
    filters: tuple[WatchFilter, ...] = ()
    prev_kv: bool = False
    watch_id: int = 0
    fragment: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WatchCancel:
    watch_id: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WatchProgress:
    """``WatchProgressRequest``: asks for the current revision on the stream."""


WatchRequest = WatchCreate | WatchCancel | WatchProgress

# --- decoding: a tiny jsonpb ------------------------------------------------------------------------------

Converter = Callable[[Any], Any]


class _Float(str):
    """A JSON number with a fraction or exponent, kept as its text for Go's error message."""


_INT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_INT64 = (-(2**63), 2**63 - 1)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | _Float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_error(value: Any, go_type: str) -> BadRequest:
    return BadRequest(f"json: cannot unmarshal {_json_kind(value)} into Go value of type {go_type}")


def _integer(go_type: str, bounds: tuple[int, int]) -> Converter:
    low, high = bounds

    def convert(value: Any) -> int:
        if type(value) is int:
            number = value
        elif isinstance(value, _Float):
            raise BadRequest(f"json: cannot unmarshal number {value} into Go value of type {go_type}")
        elif isinstance(value, str):  # jsonpb drops the quotes and parses what is inside as JSON
            if not _INT_TEXT.fullmatch(value):
                first = value[:1]
                if not value:
                    raise BadRequest("unexpected end of JSON input")
                if first == "-" or first.isdigit():
                    raise BadRequest(f"json: cannot unmarshal number {value} into Go value of type {go_type}")
                raise BadRequest(f"invalid character '{first}' looking for beginning of value")
            number = int(value)
        else:
            raise _type_error(value, go_type)
        if not low <= number <= high:
            raise BadRequest(f"json: cannot unmarshal number {number} into Go value of type {go_type}")
        return number

    return convert


_int64 = _integer("int64", _INT64)


def _bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise _type_error(value, "bool")


_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str) or isinstance(value, _Float):
        raise _type_error(value, "[]uint8")
    # Python's strict mode checks the alphabet and the padding but, unlike Go, accepts padding after a
    # complete group ("Zm9w=="): Go's decoder takes whole groups of four only.
    if len(value) % 4 == 0:
        try:
            return binascii.a2b_base64(value, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    text = value.replace("\r", "").replace("\n", "")  # Go's StdEncoding skips line breaks
    if len(text) % 4 == 0:
        try:
            return binascii.a2b_base64(text, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    raise BadRequest(f"illegal base64 data at input byte {_base64_error_offset(value)}")


def _base64_error_offset(text: str) -> int:
    """Where Go's ``base64.StdEncoding`` gives up: the first byte outside the alphabet (padding included),
    else the start of the last, incomplete group of four."""
    raw = text.encode("utf-8", "replace")
    for index, byte in enumerate(raw):
        if byte not in _B64_ALPHABET and byte not in b"\r\n":
            return index
    return len(raw) - len(raw) % 4


def _enum(cls: type[enum.IntEnum], proto_name: str) -> Converter:
    by_name = {member.name: member for member in cls}

    def convert(value: Any) -> enum.IntEnum:
        if isinstance(value, str) and not isinstance(value, _Float):
            found = by_name.get(value)
            if found is None:
                raise BadRequest(f'unknown value "{value}" for enum {proto_name}')
            return found
        if type(value) is int:
            try:
                return cls(value)
            except ValueError:
                raise BadRequest(f"unknown value {value} for enum {proto_name}") from None
        raise _type_error(value, proto_name)

    return convert


def _repeated(item: Converter, go_type: str) -> Converter:
    def convert(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _type_error(value, f"[]{go_type}")
        return tuple(item(v) for v in value)

    return convert


def _camel(name: str) -> str:
    """protoc's JSON name: drop each underscore and capitalise the letter after it."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _Message:
    """One proto message: JSON name (proto name and its camelCase) -> (attribute, converter).

    Fields are given as ``proto_name=converter``; the attribute is the proto name in lower case (``TTL`` ->
    ``ttl``), as the request dataclasses spell them.
    """

    def __init__(self, proto_name: str, **fields: Converter) -> None:
        self.proto_name = proto_name
        self.fields: dict[str, tuple[str, Converter]] = {}
        for name, convert in fields.items():
            self.fields[name] = (name.lower(), convert)
            self.fields.setdefault(_camel(name), (name.lower(), convert))

    def __call__(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _type_error(value, "map[string]json.RawMessage")
        out: dict[str, Any] = {}
        fields = self.fields
        for name, item in value.items():
            spec = fields.get(name)
            if spec is None or item is None:
                continue
            out[spec[0]] = spec[1](item)
        return out


_RANGE = _Message(
    "etcdserverpb.RangeRequest",
    key=_bytes,
    range_end=_bytes,
    limit=_int64,
    revision=_int64,
    sort_order=_enum(types.SortOrder, "etcdserverpb.RangeRequest_SortOrder"),
    sort_target=_enum(types.SortTarget, "etcdserverpb.RangeRequest_SortTarget"),
    serializable=_bool,
    keys_only=_bool,
    count_only=_bool,
    min_mod_revision=_int64,
    max_mod_revision=_int64,
    min_create_revision=_int64,
    max_create_revision=_int64,
)
_PUT = _Message(
    "etcdserverpb.PutRequest",
    key=_bytes,
    value=_bytes,
    lease=_int64,
    prev_kv=_bool,
    ignore_value=_bool,
    ignore_lease=_bool,
)
_DELETE_RANGE = _Message("etcdserverpb.DeleteRangeRequest", key=_bytes, range_end=_bytes, prev_kv=_bool)
_COMPARE = _Message(
    "etcdserverpb.Compare",
    result=_enum(types.CompareResult, "etcdserverpb.Compare_CompareResult"),
    target=_enum(types.CompareTarget, "etcdserverpb.Compare_CompareTarget"),
    key=_bytes,
    version=_int64,
    create_revision=_int64,
    mod_revision=_int64,
    value=_bytes,
    lease=_int64,
    range_end=_bytes,
)
_UNION_FIELD = {
    types.CompareTarget.VERSION: "version",
    types.CompareTarget.CREATE: "create_revision",
    types.CompareTarget.MOD: "mod_revision",
    types.CompareTarget.VALUE: "value",
    types.CompareTarget.LEASE: "lease",
}


def _request_op(value: Any) -> types.RequestOp:
    fields = _REQUEST_OP(value)
    if "request_range" in fields:
        return _range_request(fields["request_range"])
    if "request_put" in fields:
        return _put_request(fields["request_put"])
    if "request_delete_range" in fields:
        return types.DeleteRangeRequest(**fields["request_delete_range"])
    if "request_txn" in fields:
        return _txn_request(fields["request_txn"])
    raise errors.KeyNotFound()  # etcd answers a RequestOp with no request this way


def _compare(fields: dict[str, Any]) -> types.Compare:
    target = fields.get("target", types.CompareTarget.VERSION)
    default: int | bytes = b"" if target == types.CompareTarget.VALUE else 0
    return types.Compare(
        key=fields.get("key", b""),
        range_end=fields.get("range_end", b""),
        target=target,
        result=fields.get("result", types.CompareResult.EQUAL),
        target_value=fields.get(_UNION_FIELD[target], default),  # the other union fields are ignored
    )


_TXN = _Message(
    "etcdserverpb.TxnRequest",
    compare=_repeated(lambda v: _compare(_COMPARE(v)), "*etcdserverpb.Compare"),
    success=_repeated(_request_op, "*etcdserverpb.RequestOp"),
    failure=_repeated(_request_op, "*etcdserverpb.RequestOp"),
)
_REQUEST_OP = _Message(
    "etcdserverpb.RequestOp",
    request_range=_RANGE,
    request_put=_PUT,
    request_delete_range=_DELETE_RANGE,
    request_txn=_TXN,
)
_COMPACTION = _Message("etcdserverpb.CompactionRequest", revision=_int64, physical=_bool)
_LEASE_GRANT = _Message("etcdserverpb.LeaseGrantRequest", TTL=_int64, ID=_int64)
_LEASE_ID = _Message("etcdserverpb.LeaseTimeToLiveRequest", ID=_int64, keys=_bool)
_WATCH_CREATE = _Message(
    "etcdserverpb.WatchCreateRequest",
    key=_bytes,
    range_end=_bytes,
    start_revision=_int64,
    progress_notify=_bool,
    filters=_repeated(_enum(WatchFilter, "etcdserverpb.WatchCreateRequest_FilterType"), "FilterType"),
    prev_kv=_bool,
    watch_id=_int64,
    fragment=_bool,
)
_WATCH = _Message(
    "etcdserverpb.WatchRequest",
    create_request=_WATCH_CREATE,
    cancel_request=_Message("etcdserverpb.WatchCancelRequest", watch_id=_int64),
    progress_request=_Message("etcdserverpb.WatchProgressRequest"),
)
_EMPTY = _Message("google.protobuf.Empty")


def _range_request(fields: dict[str, Any]) -> types.RangeRequest:
    fields.pop("serializable", None)
    return types.RangeRequest(key=fields.pop("key", b""), **fields)


def _put_request(fields: dict[str, Any]) -> types.PutRequest:
    return types.PutRequest(key=fields.pop("key", b""), **fields)


def _txn_request(fields: dict[str, Any]) -> types.TxnRequest:
    return types.TxnRequest(**fields)


def _parse_constant(name: str) -> Any:
    raise BadRequest(f"invalid character '{name[0]}' looking for beginning of value")


_decoder = json.JSONDecoder(parse_float=_Float, parse_constant=_parse_constant)


def parse(body: bytes) -> Any:
    """The first JSON value of ``body``, as Go's ``json.Decoder`` reads it (what follows it is not read).

    An empty body is ``{}``: the gateway treats its ``io.EOF`` as an empty request; so is ``null``.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"invalid character in string: {error.reason}") from None
    if not text.strip():
        return {}
    value, _ = parse_value(text)
    return {} if value is None else value


def parse_value(text: str, start: int = 0) -> tuple[Any, int]:
    """The JSON value starting at ``text[start:]`` (after whitespace) and the offset just past it: one value
    of a stream of requests (``/v3/watch``, ``/v3/lease/keepalive`` take several in one body)."""
    while start < len(text) and text[start] in " \t\r\n":
        start += 1
    try:
        value, end = _decoder.raw_decode(text, start)
    except json.JSONDecodeError as error:
        raise BadRequest(_go_syntax_error(error)) from None
    return value, end


def _go_syntax_error(error: json.JSONDecodeError) -> str:
    rest = error.doc[error.pos :].strip()
    if not rest or error.msg.startswith("Unterminated"):
        return "unexpected EOF"
    return f"invalid character '{rest[0]}' looking for beginning of value"


def _object(body: bytes, message: _Message) -> dict[str, Any]:
    return message(parse(body))


def decode_range(body: bytes) -> RangeCall:
    fields = _object(body, _RANGE)
    serializable = bool(fields.get("serializable", False))
    request = _range_request(fields)
    validation.check_range_bounds(request.key, request.range_end)
    return RangeCall(request=request, serializable=serializable)


def decode_put(body: bytes) -> types.PutRequest:
    value = parse(body)
    if type(value) is dict and len(value) == 2 and type(value.get("key")) is type(value.get("value")) is str:
        # the hot path (a benchmark's, an apiserver's put): just a key and a value
        request = types.PutRequest(key=_bytes(value["key"]), value=_bytes(value["value"]))
    else:
        request = _put_request(_PUT(value))
    validation.check_put(request)
    return request


def decode_delete_range(body: bytes) -> types.DeleteRangeRequest:
    fields = _object(body, _DELETE_RANGE)
    request = types.DeleteRangeRequest(key=fields.pop("key", b""), **fields)
    validation.check_range_bounds(request.key, request.range_end)
    return request


def decode_txn(body: bytes) -> types.TxnRequest:
    request = _txn_request(_object(body, _TXN))
    validation.check_txn(request)
    return request


def decode_compaction(body: bytes) -> types.CompactionRequest:
    return types.CompactionRequest(revision=_object(body, _COMPACTION).get("revision", 0))


def decode_lease_grant(body: bytes) -> LeaseGrant:
    return LeaseGrant(**_object(body, _LEASE_GRANT))


def decode_lease_id(body: bytes) -> LeaseId:
    """The body of ``/v3/lease/revoke``, ``/v3/lease/timetolive`` (with ``keys``) and one keep-alive."""
    return LeaseId(**_object(body, _LEASE_ID))


def decode_empty(body: bytes) -> None:
    """A request with nothing to read (``/v3/lease/leases``, member list, status): it must still decode."""
    _object(body, _EMPTY)


def decode_watch(value: Any) -> WatchRequest | None:
    """One ``WatchRequest`` from a parsed JSON value; None when it sets none of the union (etcd skips it)."""
    fields = _WATCH({} if value is None else value)
    if "create_request" in fields:
        create = fields["create_request"]
        if not create.get("key"):
            create["key"] = b"\0"
        return WatchCreate(**create)
    if "cancel_request" in fields:
        return WatchCancel(**fields["cancel_request"])
    if "progress_request" in fields:
        return WatchProgress()
    return None


def decode_keep_alive(value: Any) -> int:
    """The lease id of one ``LeaseKeepAliveRequest`` from a parsed JSON value."""
    fields = _LEASE_ID({} if value is None else value)
    return int(fields.get("id", 0))


# --- encoding -------------------------------------------------------------------------------------------

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _header(header: Header, revision: int) -> dict[str, str]:
    out = {}
    if header.cluster_id:
        out["cluster_id"] = str(header.cluster_id)
    if header.member_id:
        out["member_id"] = str(header.member_id)
    if revision:
        out["revision"] = str(revision)
    if header.raft_term:
        out["raft_term"] = str(header.raft_term)
    return out


def _kv(kv: types.KeyValue) -> dict[str, str]:
    out = {}
    if kv.key:
        out["key"] = _b64(kv.key)
    if kv.create_revision:
        out["create_revision"] = str(kv.create_revision)
    if kv.mod_revision:
        out["mod_revision"] = str(kv.mod_revision)
    if kv.version:
        out["version"] = str(kv.version)
    if kv.value:
        out["value"] = _b64(kv.value)
    if kv.lease:
        out["lease"] = str(kv.lease)
    return out


def _range_body(response: types.RangeResponse, header: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"header": header}
    if response.kvs:
        out["kvs"] = [_kv(kv) for kv in response.kvs]
    if response.more:
        out["more"] = True
    if response.count:
        out["count"] = str(response.count)
    return out


def _put_body(response: types.PutResponse, header: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"header": header}
    if response.prev_kv is not None:
        out["prev_kv"] = _kv(response.prev_kv)
    return out


def _delete_body(response: types.DeleteRangeResponse, header: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"header": header}
    if response.deleted:
        out["deleted"] = str(response.deleted)
    if response.prev_kvs:
        out["prev_kvs"] = [_kv(kv) for kv in response.prev_kvs]
    return out


def _txn_body(response: types.TxnResponse, header: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"header": header}
    if response.succeeded:
        out["succeeded"] = True
    if response.responses:
        out["responses"] = [_response_op(r) for r in response.responses]
    return out


def _response_op(response: types.ResponseOp) -> dict[str, Any]:
    inner = {"revision": str(response.revision)} if response.revision else {}
    if isinstance(response, types.RangeResponse):
        return {"response_range": _range_body(response, inner)}
    if isinstance(response, types.PutResponse):
        return {"response_put": _put_body(response, inner)}
    if isinstance(response, types.DeleteRangeResponse):
        return {"response_delete_range": _delete_body(response, inner)}
    return {"response_txn": _txn_body(response, inner)}


def encode_range(response: types.RangeResponse, header: Header) -> bytes:
    return _dumps(_range_body(response, _header(header, response.revision))).encode()


def encode_put(response: types.PutResponse, header: Header) -> bytes:
    if response.prev_kv is None and response.revision:  # the hot path: text around the revision, cached
        before, after = _header_text(header)
        return ('{"header":' + before + str(response.revision) + after + "}").encode()
    return _dumps(_put_body(response, _header(header, response.revision))).encode()


_header_texts: dict[Header, tuple[str, str]] = {}


def _header_text(header: Header) -> tuple[str, str]:
    """The JSON of ``header`` before and after a (non-zero) revision; a memo, as headers change by term."""
    text = _header_texts.get(header)
    if text is None:
        if len(_header_texts) > 64:
            _header_texts.clear()
        before = _dumps(_header(header, 1)).split('"revision":"1"')[0] + '"revision":"'
        after = (
            '"'
            + _dumps(_header(dataclasses.replace(header, cluster_id=0, member_id=0), 1))[
                len('{"revision":"1"') :
            ]
        )
        text = _header_texts[header] = (before, after)
    return text


def encode_delete_range(response: types.DeleteRangeResponse, header: Header) -> bytes:
    return _dumps(_delete_body(response, _header(header, response.revision))).encode()


def encode_txn(response: types.TxnResponse, header: Header) -> bytes:
    return _dumps(_txn_body(response, _header(header, response.revision))).encode()


def encode_compaction(response: types.CompactionResponse, header: Header) -> bytes:
    return _dumps({"header": _header(header, response.revision)}).encode()


def _lease_body(revision: int, header: Header, lease_id: int, ttl: int) -> dict[str, Any]:
    out: dict[str, Any] = {"header": _header(header, revision)}
    if lease_id:
        out["ID"] = str(lease_id)
    if ttl:
        out["TTL"] = str(ttl)
    return out


def encode_lease_grant(response: types.LeaseGrantResponse, header: Header) -> bytes:
    return _dumps(_lease_body(response.revision, header, response.id, response.ttl)).encode()


def encode_lease_revoke(response: types.LeaseRevokeResponse, header: Header) -> bytes:
    return _dumps({"header": _header(header, response.revision)}).encode()


def encode_lease_time_to_live(response: types.LeaseTimeToLiveResponse, header: Header) -> bytes:
    out = _lease_body(response.revision, header, response.id, response.ttl)
    if response.granted_ttl:
        out["grantedTTL"] = str(response.granted_ttl)
    if response.keys:
        out["keys"] = [_b64(key) for key in response.keys]
    return _dumps(out).encode()


def encode_lease_leases(response: types.LeaseLeasesResponse, header: Header) -> bytes:
    out: dict[str, Any] = {"header": _header(header, response.revision)}
    if response.leases:
        out["leases"] = [{"ID": str(i)} if i else {} for i in response.leases]
    return _dumps(out).encode()


def keep_alive_chunk(response: types.LeaseKeepAliveResponse, header: Header) -> bytes:
    """One line of the ``/v3/lease/keepalive`` stream; ``ttl`` 0 says the lease is gone, as etcd says it."""
    return _chunk(_lease_body(response.revision, header, response.id, response.ttl))


def encode_member_list(members: Sequence[Member], header: Header) -> bytes:
    """``MemberListResponse``; etcd's cluster service leaves the revision out of its header."""
    out: dict[str, Any] = {"header": _header(header, 0)}
    if members:
        out["members"] = [_member(m) for m in members]
    return _dumps(out).encode()


def _member(member: Member) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if member.id:
        out["ID"] = str(member.id)
    if member.name:
        out["name"] = member.name
    if member.peer_urls:
        out["peerURLs"] = list(member.peer_urls)
    if member.client_urls:
        out["clientURLs"] = list(member.client_urls)
    if member.is_learner:
        out["isLearner"] = True
    return out


def encode_status(status: Status, header: Header, revision: int) -> bytes:
    out: dict[str, Any] = {"header": _header(header, revision)}
    if status.version:
        out["version"] = status.version
    for name, value in (
        ("dbSize", status.db_size),
        ("leader", status.leader),
        ("raftIndex", status.raft_index),
        ("raftTerm", status.raft_term),
        ("raftAppliedIndex", status.raft_applied_index),
    ):
        if value:
            out[name] = str(value)
    if status.errors:
        out["errors"] = list(status.errors)
    if status.db_size_in_use:
        out["dbSizeInUse"] = str(status.db_size_in_use)
    if status.is_learner:
        out["isLearner"] = True
    return _dumps(out).encode()


def _event(event: types.Event) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if event.type != types.EventType.PUT:
        out["type"] = event.type.name
    out["kv"] = _kv(event.kv)
    if event.prev_kv is not None:
        out["prev_kv"] = _kv(event.prev_kv)
    return out


def watch_chunk(
    header: Header,
    revision: int,
    *,
    watch_id: int,
    created: bool = False,
    canceled: bool = False,
    compact_revision: int = 0,
    cancel_reason: str = "",
    events: Sequence[types.Event] = (),
) -> bytes:
    """One line of the ``/v3/watch`` stream: ``{"result": WatchResponse}`` and a newline."""
    out: dict[str, Any] = {"header": _header(header, revision)}
    if watch_id:
        out["watch_id"] = str(watch_id)
    if created:
        out["created"] = True
    if canceled:
        out["canceled"] = True
    if compact_revision:
        out["compact_revision"] = str(compact_revision)
    if cancel_reason:
        out["cancel_reason"] = cancel_reason
    if events:
        out["events"] = [_event(e) for e in events]
    return _chunk(out)


def _chunk(result: dict[str, Any]) -> bytes:
    return (_dumps({"result": result}) + "\n").encode()


def encode_error(code: int, message: str) -> tuple[int, bytes]:
    """grpc-gateway's error answer: the HTTP status and ``{"error", "code", "message"}``."""
    return http_status(code), _dumps({"error": message, "code": int(code), "message": message}).encode()


def stream_error_chunk(code: int, message: str) -> bytes:
    """grpc-gateway's error line on a stream that already answered (``runtime.StreamError``)."""
    status = http_status(code)
    error = {
        "grpc_code": int(code),
        "http_code": status,
        "message": message,
        "http_status": _HTTP_TEXT.get(status, ""),
    }
    return _dumps({"error": {k: v for k, v in error.items() if v}}).encode()


def encode_health(healthy: bool, reason: str = "") -> bytes:
    """``/health``'s body (a Go struct, so both fields always appear)."""
    return _dumps({"health": "true" if healthy else "false", "reason": reason}).encode()


def encode_version(server_version: str = API_VERSION) -> bytes:
    return _dumps({"etcdserver": server_version, "etcdcluster": API_VERSION}).encode()
