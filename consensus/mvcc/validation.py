"""Checks of a KV request on its own, before it touches any state (etcd's ``v3rpc/key.go`` checks).

A server may call these to refuse a request before proposing it; the store calls them again when it
applies, so a request that reaches the log by another path is still refused, the same way on every member.
Each raises the ``errors`` type etcd would answer with:

- an empty key (``EmptyKey``); a ``range_end`` before its key (``InvalidRange``, kubemu's addition);
- a put with ``ignore_value`` and a value, or ``ignore_lease`` and a lease;
- keys, range ends and values adding up to more than ``max_request_bytes`` (``RequestTooLarge``);
- a txn with more than ``max_txn_ops`` compares or operations in a branch (``TooManyOps``), or a branch
  that puts a key twice or puts a key it also deletes (``DuplicateKey``), nested txns included, as etcd's
  ``checkIntervals``. That rule is what lets the store promise each key changes at most once per revision.
"""

from __future__ import annotations

from collections.abc import Sequence

from consensus.mvcc import errors, types

MAX_REQUEST_BYTES = 1536 * 1024
"""etcd's default ``--max-request-bytes``: 1.5 MiB."""

MAX_TXN_OPS = 128
"""etcd's default ``--max-txn-ops``."""


def check_range_bounds(key: bytes, range_end: bytes) -> None:
    if not key:
        raise errors.EmptyKey()
    if range_end and range_end != types.ALL_KEYS and range_end < key:
        raise errors.InvalidRange()


def check_put(request: types.PutRequest, *, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
    _check_put_fields(request)
    if len(request.key) + len(request.value) > max_request_bytes:
        raise errors.RequestTooLarge()


def check_txn(
    request: types.TxnRequest,
    *,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    max_txn_ops: int = MAX_TXN_OPS,
) -> None:
    if _check_flat_txn(request, max_request_bytes=max_request_bytes, max_txn_ops=max_txn_ops):
        return
    _check_txn_ops(request, max_txn_ops=max_txn_ops)
    _check_intervals(request.success)
    _check_intervals(request.failure)
    if request_size(request) > max_request_bytes:
        raise errors.RequestTooLarge()


def _check_flat_txn(request: types.TxnRequest, *, max_request_bytes: int, max_txn_ops: int) -> bool:
    """``check_txn`` of a txn without nested txns (every write the apiserver makes): the same checks raising
    the same errors in the same order, in one walk over the request instead of four (every member runs it
    on every write it applies). False, having raised nothing, on meeting a nested txn: the general checks
    then run (they check the operations before it the same way, in the same order)."""
    compare, success, failure = request.compare, request.success, request.failure
    if len(compare) > max_txn_ops or len(success) > max_txn_ops or len(failure) > max_txn_ops:
        raise errors.TooManyOps()
    size = 0
    for c in compare:
        key, range_end, value = c.key, c.range_end, c.target_value
        check_range_bounds(key, range_end)
        if (c.target == types.CompareTarget.VALUE) != isinstance(value, bytes):
            raise _operand_error(c)
        size += len(key) + len(range_end) + (len(value) if isinstance(value, bytes) else 0)
    writes = [0, 0]
    for i, branch in enumerate((success, failure)):
        for op in branch:
            if isinstance(op, types.PutRequest):
                _check_put_fields(op)
                size += len(op.key) + len(op.value)
                writes[i] += 1
            elif isinstance(op, types.TxnRequest):
                return False
            else:
                check_range_bounds(op.key, op.range_end)
                size += len(op.key) + len(op.range_end)
                writes[i] += isinstance(op, types.DeleteRangeRequest)
    # a branch with one write has nothing for it to collide with
    if writes[0] > 1:
        _check_intervals(success)
    if writes[1] > 1:
        _check_intervals(failure)
    if size > max_request_bytes:
        raise errors.RequestTooLarge()
    return True


def _operand_error(compare: types.Compare) -> TypeError:
    # Not a client error etcd could answer: the operand's type follows from which field was set.
    return TypeError(f"compare on {compare.target.name} needs a {'bytes' if compare.target == 3 else 'int'}")


def request_size(request: types.RequestOp) -> int:
    """Bytes of keys, range ends and values in ``request`` (both branches of a txn, and its compares)."""
    if isinstance(request, types.PutRequest):
        return len(request.key) + len(request.value)
    if isinstance(request, types.TxnRequest):
        size = sum(
            len(c.key) + len(c.range_end) + (len(c.target_value) if isinstance(c.target_value, bytes) else 0)
            for c in request.compare
        )
        return size + sum(request_size(op) for op in (*request.success, *request.failure))
    return len(request.key) + len(request.range_end)


def _check_put_fields(request: types.PutRequest) -> None:
    if not request.key:
        raise errors.EmptyKey()
    if request.ignore_value and request.value:
        raise errors.ValueProvided()
    if request.ignore_lease and request.lease != types.NO_LEASE:
        raise errors.LeaseProvided()


def _check_txn_ops(request: types.TxnRequest, *, max_txn_ops: int) -> None:
    if max(len(request.compare), len(request.success), len(request.failure)) > max_txn_ops:
        raise errors.TooManyOps()
    for compare in request.compare:
        check_range_bounds(compare.key, compare.range_end)
        if (compare.target == types.CompareTarget.VALUE) != isinstance(compare.target_value, bytes):
            raise _operand_error(compare)
    for op in (*request.success, *request.failure):
        if isinstance(op, types.PutRequest):
            _check_put_fields(op)
        elif isinstance(op, types.TxnRequest):
            _check_txn_ops(op, max_txn_ops=max_txn_ops)
        else:
            check_range_bounds(op.key, op.range_end)


Interval = tuple[bytes, bytes | None]


def _check_intervals(ops: Sequence[types.RequestOp]) -> tuple[set[bytes], list[Interval]]:
    """The keys a branch puts and the intervals it deletes; ``DuplicateKey`` if they overlap.

    A port of etcd's ``checkIntervals``: a nested txn's success and failure puts may repeat each other (only
    one branch runs) but neither may repeat a put or a delete of the enclosing branch.
    """
    deletes = [
        types.key_interval(op.key, op.range_end) for op in ops if isinstance(op, types.DeleteRangeRequest)
    ]
    puts: set[bytes] = set()
    for op in ops:
        if not isinstance(op, types.TxnRequest):
            continue
        puts_then, deletes_then = _check_intervals(op.success)
        puts_else, deletes_else = _check_intervals(op.failure)
        for key in puts_then:
            if key in puts or _intersects(deletes, key):
                raise errors.DuplicateKey()
            puts.add(key)
        for key in puts_else:
            if (key in puts and key not in puts_then) or _intersects(deletes, key):
                raise errors.DuplicateKey()
            puts.add(key)
        deletes.extend(deletes_then)
        deletes.extend(deletes_else)
    for op in ops:
        if isinstance(op, types.PutRequest):
            if op.key in puts or _intersects(deletes, op.key):
                raise errors.DuplicateKey()
            puts.add(op.key)
    return puts, deletes


def _intersects(intervals: list[Interval], key: bytes) -> bool:
    return any(start <= key and (end is None or key < end) for start, end in intervals)
