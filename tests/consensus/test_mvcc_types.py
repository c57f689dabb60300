"""The store's values keep their dataclass contract with the quicker ``__init__`` they are given."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from consensus.mvcc import types

TYPES = [
    value
    for value in vars(types).values()
    if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == types.__name__
]


@pytest.mark.parametrize("cls", TYPES, ids=lambda cls: cls.__name__)
def test_init_takes_every_field_by_keyword_with_its_default(cls: type) -> None:
    fields = dataclasses.fields(cls)
    parameters = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in parameters] == [f.name for f in fields]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    assert [p.default for p in parameters] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]


def test_values_are_built_whole_and_stay_frozen() -> None:
    kv = types.KeyValue(key=b"k", create_revision=1, mod_revision=2, version=1)
    assert (kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease) == (
        b"k",
        1,
        2,
        1,
        b"",
        0,
    )
    assert dataclasses.replace(kv, version=2) == types.KeyValue(
        key=b"k", create_revision=1, mod_revision=2, version=2
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        kv.version = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'version'"):
        types.KeyValue(key=b"k", create_revision=1, mod_revision=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        types.PutResponse(3)  # type: ignore[call-arg]
    assert types.LeaseLeasesRequest() == types.LeaseLeasesRequest()
