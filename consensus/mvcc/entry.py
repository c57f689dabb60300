"""The Raft log entry: a batch of store requests as compact msgpack rows.

Every member decodes every entry, so this encoding is on the store's hottest path. A request travels as a
row ``[tag, field, field, ...]``: the tag says which request type, the fields follow in declaration order;
enums travel as their integer values and come back as the enum; a txn's compares and branches are nested
rows. No class names, no extension types, one ``msgpack`` call per batch each way. (The actor runtime's
``wire`` format carries any dataclass by its import path; it is about three times slower for this.)

Both sides run the same code, so the tags and field orders agree. The tags are part of the journal format:
append new request types at the end of ``_TYPES``, never reorder it.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
import typing
from collections.abc import Callable, Sequence
from typing import Any

import msgpack

from consensus.mvcc import types

_TYPES: tuple[type, ...] = (
    types.RangeRequest,
    types.PutRequest,
    types.DeleteRangeRequest,
    types.TxnRequest,
    types.CompactionRequest,
    types.LeaseGrantRequest,
    types.LeaseRevokeRequest,
    types.LeaseKeepAliveRequest,
    types.LeaseTimeToLiveRequest,
    types.LeaseLeasesRequest,
    types.LeaseExpireRequest,
    types.MembersRequest,  # new types go last: a tag is what a journal holds
)
_TAG = {cls: tag for tag, cls in enumerate(_TYPES)}
_TXN = _TAG[types.TxnRequest]


@dataclasses.dataclass(frozen=True, slots=True)
class _Schema:
    cls: type
    names: tuple[str, ...]
    enums: tuple[tuple[int, dict[Any, Any]], ...]  # (index of the field, value -> enum member) to rebuild
    fields: Callable[[Any], tuple[Any, ...]]  # every field's value, in order, in one call


def _schema(cls: type) -> _Schema:
    hints = typing.get_type_hints(cls)
    names = tuple(f.name for f in dataclasses.fields(cls))
    enums = tuple(
        (i, {member.value: member for member in hints[name]})
        for i, name in enumerate(names)
        if isinstance(hints[name], type) and issubclass(hints[name], enum.Enum)
    )
    getter = operator.attrgetter(*names) if names else (lambda obj: ())
    # attrgetter of a single name returns the value, not a 1-tuple
    fields = getter if len(names) > 1 else (lambda obj: (getter(obj),) if names else ())
    return _Schema(cls, names, enums, fields)


_SCHEMAS = tuple(_schema(cls) for cls in _TYPES)
_COMPARE = _schema(types.Compare)


def encode(requests: Sequence[types.Proposal]) -> bytes:
    """One log entry holding ``requests`` in order."""
    data: bytes = msgpack.packb([_row(r) for r in requests], use_bin_type=True)
    return data


def decode(entry: bytes) -> list[types.Proposal]:
    """The requests of an entry ``encode`` made, equal to the originals."""
    return [_request(row) for row in msgpack.unpackb(entry, raw=False, use_list=True)]


def _row(request: Any) -> list[Any]:
    tag = _TAG[type(request)]
    if tag == _TXN:
        compare_fields = _COMPARE.fields
        return [
            tag,
            [compare_fields(c) for c in request.compare],
            [_row(op) for op in request.success],
            [_row(op) for op in request.failure],
        ]
    return [tag, *_SCHEMAS[tag].fields(request)]


def _request(row: list[Any]) -> Any:
    tag = row[0]
    if tag == _TXN:
        return _build(
            _SCHEMAS[_TXN],
            [
                tuple([_build(_COMPARE, fields) for fields in row[1]]),
                tuple([_request(op) for op in row[2]]),
                tuple([_request(op) for op in row[3]]),
            ],
        )
    del row[0]
    return _build(_SCHEMAS[tag], row)


def _build(schema: _Schema, fields: list[Any]) -> Any:
    """The instance with these field values (the rows come from ``encode``, so every field is present and
    typed)."""
    for i, members in schema.enums:
        fields[i] = members[fields[i]]
    return schema.cls(**dict(zip(schema.names, fields, strict=True)))
