"""Typed errors of the MVCC store, with etcd's messages and gRPC codes.

The store raises one of these, and changes nothing, when a request cannot be applied. The message of each is
exactly etcd's (``rpctypes.ErrGRPC*``), and ``grpc_code`` is the status code etcd attaches, so the client
port can answer in etcd's JSON error shape (``{"error": ..., "code": ..., "message": ...}``) without a table
of its own. Because the store is deterministic, every member raises the same error for the same log entry.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class GrpcCode(enum.IntEnum):
    """The gRPC status codes etcd uses for these errors."""

    INVALID_ARGUMENT = 3
    NOT_FOUND = 5
    FAILED_PRECONDITION = 9
    OUT_OF_RANGE = 11


class StoreError(Exception):
    """Base class: a request the store refused; ``str(error)`` is etcd's message."""

    message: ClassVar[str] = "etcdserver: unknown error"
    grpc_code: ClassVar[GrpcCode] = GrpcCode.INVALID_ARGUMENT

    def __init__(self) -> None:
        super().__init__(self.message)


class Compacted(StoreError):
    """The revision asked for (a range, a watch start, a compaction) is at or below what was compacted.

    ``compact_revision`` is the store's compaction point: a watcher re-lists at the current revision and
    watches on from there.
    """

    message = "etcdserver: mvcc: required revision has been compacted"
    grpc_code = GrpcCode.OUT_OF_RANGE

    def __init__(self, compact_revision: int) -> None:
        super().__init__()
        self.compact_revision = compact_revision


class FutureRevision(StoreError):
    """The revision asked for is above the store's current revision."""

    message = "etcdserver: mvcc: required revision is a future revision"
    grpc_code = GrpcCode.OUT_OF_RANGE


class EmptyKey(StoreError):
    message = "etcdserver: key is not provided"


class KeyNotFound(StoreError):
    """A put with ``ignore_value`` or ``ignore_lease`` for a key that does not exist."""

    message = "etcdserver: key not found"


class ValueProvided(StoreError):
    """A put with ``ignore_value`` and a value."""

    message = "etcdserver: value is provided"


class LeaseProvided(StoreError):
    """A put with ``ignore_lease`` and a lease."""

    message = "etcdserver: lease is provided"


class TooManyOps(StoreError):
    """A txn with more compares, or more operations in one branch, than the store allows (etcd: 128)."""

    message = "etcdserver: too many operations in txn request"


class DuplicateKey(StoreError):
    """A txn branch that puts one key twice, or puts a key that it also deletes."""

    message = "etcdserver: duplicate key given in txn request"


class RequestTooLarge(StoreError):
    """Keys and values of one request over the size limit (etcd's ``--max-request-bytes``, 1.5 MiB)."""

    message = "etcdserver: request is too large"


class InvalidRange(StoreError):
    """A ``range_end`` that sorts before its ``key``.

    etcd answers such a range with nothing; kubemu refuses it, because it is always a client bug (and the
    store issue lists it as bad input). ``range_end == key`` is an empty range, not an error.
    """

    message = "etcdserver: range end is before key"


class LeaseNotFound(StoreError):
    message = "etcdserver: requested lease not found"
    grpc_code = GrpcCode.NOT_FOUND

    def __init__(self, lease_id: int) -> None:
        super().__init__()
        self.lease_id = lease_id


class LeaseExists(StoreError):
    message = "etcdserver: lease already exists"
    grpc_code = GrpcCode.FAILED_PRECONDITION


class LeaseTTLTooLarge(StoreError):
    message = "etcdserver: too large lease TTL"
    grpc_code = GrpcCode.OUT_OF_RANGE
