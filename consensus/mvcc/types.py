"""The values the MVCC store takes and returns: etcd v3's requests, responses, key-values and events.

Names and numbering follow etcd's ``rpc.proto`` and ``kv.proto`` (``RangeRequest``, ``mod_revision``,
``Compare.Target.MOD = 2`` ...) in snake_case, so the client port can translate etcd's JSON field by field.
Keys and values are ``bytes``. Every value here is immutable, so a ``KeyValue`` can be shared between the
store's history, its responses and its watch events without copying.

Two departures from the proto, both because this is the state machine and not the server:

- Responses carry ``revision`` (the store revision after the request) instead of a ``ResponseHeader``;
  cluster id, member id and raft term belong to the replication layer, which adds them.
- Requests that depend on time (lease grant, keep-alive, time-to-live, expiry) carry ``now``: seconds on
  the cluster clock, chosen by the proposer and replicated in the log entry, so every member computes the
  same deadlines. The store itself never reads a clock.

Range ends use etcd's conventions: an empty ``range_end`` means the single key ``key``; ``b"\\0"`` means every
key ``>= key``; otherwise the half-open interval ``[key, range_end)``. ``prefix_range_end`` computes the end
of a prefix range as ``clientv3.GetPrefixRangeEnd`` does; ``key_interval`` turns a pair into ``[start, end)``.
"""

from __future__ import annotations

import dataclasses
import enum

NO_LEASE = 0
"""The lease id meaning "no lease" (etcd's ``lease.NoLease``)."""

ALL_KEYS = b"\0"
"""The ``range_end`` meaning "every key from ``key`` on" (etcd's ``--from-key``, and ``--prefix ''``)."""


def prefix_range_end(prefix: bytes) -> bytes:
    """The ``range_end`` selecting every key that starts with ``prefix``.

    As etcd's ``GetPrefixRangeEnd``: increment the last byte below ``0xff`` and drop what follows; a prefix of
    only ``0xff`` bytes (or empty) has no upper bound, which etcd spells ``b"\\0"``.
    """
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return ALL_KEYS


def key_interval(key: bytes, range_end: bytes) -> tuple[bytes, bytes | None]:
    """The half-open interval ``[start, end)`` that an etcd ``(key, range_end)`` pair selects (``end`` None:
    no upper bound). A single key ``k`` is ``[k, k + b"\\0")``, the smallest interval holding only ``k``."""
    if not range_end:
        return key, key + b"\0"
    if range_end == ALL_KEYS:
        return key, None
    return key, range_end


class EventType(enum.IntEnum):
    """``mvccpb.Event.EventType``."""

    PUT = 0
    DELETE = 1


class SortOrder(enum.IntEnum):
    """``RangeRequest.SortOrder``; ``NONE`` returns keys ascending (or ascending by a non-key target)."""

    NONE = 0
    ASCEND = 1
    DESCEND = 2


class SortTarget(enum.IntEnum):
    """``RangeRequest.SortTarget``."""

    KEY = 0
    VERSION = 1
    CREATE = 2
    MOD = 3
    VALUE = 4


class CompareResult(enum.IntEnum):
    """``Compare.CompareResult``: how the key's field relates to the compare's operand."""

    EQUAL = 0
    GREATER = 1
    LESS = 2
    NOT_EQUAL = 3


class CompareTarget(enum.IntEnum):
    """``Compare.CompareTarget``: which field of the key a compare reads."""

    VERSION = 0
    CREATE = 1
    MOD = 2
    VALUE = 3
    LEASE = 4


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeyValue:
    """``mvccpb.KeyValue``: one version of one key.

    ``create_revision`` is the revision of the put that created this generation of the key, ``mod_revision``
    the revision of the last change, ``version`` counts changes since creation (1 after creation, reset by a
    delete). A deletion is recorded as a *tombstone*: ``version == 0``, ``create_revision == 0``, empty
    value, ``mod_revision`` the revision of the delete; a delete event carries one, as etcd's does.
    """

    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    value: bytes = b""
    lease: int = NO_LEASE

    @property
    def is_tombstone(self) -> bool:
        """True for the record of a deletion."""
        return self.version == 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """``mvccpb.Event``: a put or delete of one key at ``kv.mod_revision``; ``prev_kv`` is the one before."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None


# --- KV requests ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RangeRequest:
    """Read ``[key, range_end)`` at ``revision`` (0 or less: the current one)."""

    key: bytes
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    sort_order: SortOrder = SortOrder.NONE
    sort_target: SortTarget = SortTarget.KEY
    keys_only: bool = False
    count_only: bool = False
    min_mod_revision: int = 0
    max_mod_revision: int = 0
    min_create_revision: int = 0
    max_create_revision: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RangeResponse:
    """``kvs`` in the requested order; ``count`` is every key in the range (before ``limit`` and the
    min/max filters, as etcd counts); ``more`` says ``limit`` cut the list."""

    revision: int
    kvs: tuple[KeyValue, ...] = ()
    more: bool = False
    count: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PutRequest:
    """Set ``key`` to ``value``, attached to ``lease`` (``NO_LEASE`` detaches it)."""

    key: bytes
    value: bytes = b""
    lease: int = NO_LEASE
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PutResponse:
    revision: int
    prev_kv: KeyValue | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeleteRangeRequest:
    """Delete every key in ``[key, range_end)``."""

    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeleteRangeResponse:
    revision: int
    deleted: int = 0
    prev_kvs: tuple[KeyValue, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Compare:
    """One guard of a txn: ``<target of every key in [key, range_end)> <result> target_value``.

    ``target_value`` is ``bytes`` for ``CompareTarget.VALUE`` and ``int`` for the others (etcd's
    ``target_union``). A key that does not exist reads as zero revisions, version 0 and no lease, and fails
    every ``VALUE`` compare.
    """

    key: bytes
    target: CompareTarget
    result: CompareResult
    target_value: int | bytes
    range_end: bytes = b""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxnRequest:
    """If every ``compare`` holds, run ``success``, else ``failure``; all writes share one revision."""

    compare: tuple[Compare, ...] = ()
    success: tuple[RequestOp, ...] = ()
    failure: tuple[RequestOp, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxnResponse:
    revision: int
    succeeded: bool
    responses: tuple[ResponseOp, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CompactionRequest:
    """Forget every version older than ``revision`` that a read at ``revision`` no longer needs."""

    revision: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CompactionResponse:
    revision: int


# --- lease requests ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseGrantRequest:
    """Grant a lease of ``ttl`` seconds from ``now``; ``id`` 0 lets the store choose one."""

    ttl: int
    now: float
    id: int = NO_LEASE


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseGrantResponse:
    revision: int
    id: int
    ttl: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseRevokeRequest:
    """Revoke lease ``id`` and delete every key attached to it, in one revision."""

    id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseRevokeResponse:
    revision: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseKeepAliveRequest:
    """Restart lease ``id``'s full TTL from ``now``; a lease already past its deadline cannot be renewed."""

    id: int
    now: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseKeepAliveResponse:
    revision: int
    id: int
    ttl: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseTimeToLiveRequest:
    """Remaining seconds of lease ``id`` at ``now``, and its attached keys when ``keys``."""

    id: int
    now: float
    keys: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseTimeToLiveResponse:
    """``ttl`` is -1 when the lease does not exist (as etcd answers, rather than an error)."""

    revision: int
    id: int
    ttl: int
    granted_ttl: int = 0
    keys: tuple[bytes, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseLeasesRequest:
    """List every lease id."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseLeasesResponse:
    revision: int
    leases: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseExpireRequest:
    """Revoke every lease whose deadline is at or before ``now``.

    The leader proposes this when ``MvccStore.expired_leases(now)`` is not empty. Each member decides which
    leases expired from its own state at this log position and the ``now`` in the entry, so every member
    revokes the same leases at the same revisions, and a keep-alive committed earlier in the log is honoured.
    """

    now: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaseExpireResponse:
    """``revoked`` in revocation order: by deadline, then id; each lease with keys took one revision."""

    revision: int
    revoked: tuple[int, ...] = ()


RequestOp = RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest
"""What a txn branch may hold (etcd's ``RequestOp``)."""

ResponseOp = RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse
"""One response per ``RequestOp`` of the branch a txn ran."""

Request = (
    RequestOp
    | CompactionRequest
    | LeaseGrantRequest
    | LeaseRevokeRequest
    | LeaseKeepAliveRequest
    | LeaseTimeToLiveRequest
    | LeaseLeasesRequest
    | LeaseExpireRequest
)
"""Everything ``MvccStore.apply`` takes."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MembersRequest:
    """The group's member records after a membership change, as JSON (a list of ``{"name", "id",
    "peer_url", "client_url"}``). Every member applies it in log order, so ``/v3/cluster/member/list`` shows
    the same members wherever it is asked (etcd keeps them in its own replicated ``members`` bucket). It is
    not a KV change: no revision is used, and ``MvccStore`` never sees it."""

    members: str


Proposal = Request | MembersRequest
"""What a log entry holds."""

Response = (
    ResponseOp
    | CompactionResponse
    | LeaseGrantResponse
    | LeaseRevokeResponse
    | LeaseKeepAliveResponse
    | LeaseTimeToLiveResponse
    | LeaseLeasesResponse
    | LeaseExpireResponse
)
"""Everything ``MvccStore.apply`` returns."""


def _quick_init(cls: type) -> None:
    """Give a frozen dataclass an ``__init__`` that sets each field through its slot's own setter.

    The generated one goes through ``object.__setattr__`` (a frozen class refuses plain assignment), which
    looks each name up again: about three times slower, and each write builds a dozen of these values
    (requests, key-values, responses, events). Same parameters, defaults and result.
    """
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or any(
        f.default_factory is not dataclasses.MISSING or not f.init for f in fields
    ):
        raise TypeError(
            f"{cls.__name__}: a default factory, init=False or __post_init__ needs the generated init"
        )
    namespace: dict[str, object] = {f"_set_{f.name}": getattr(cls, f.name).__set__ for f in fields}
    params = []
    for f in fields:
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"\n    _set_{f.name}(self, {f.name})" for f in fields) or "\n    pass"
    exec(f"def __init__(self{', *, ' if params else ''}{', '.join(params)}):{body}", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]


for _value in list(globals().values()):
    if isinstance(_value, type) and dataclasses.is_dataclass(_value) and _value.__module__ == __name__:
        _quick_init(_value)

del _value
