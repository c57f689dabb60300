"""What crosses a host boundary arrives as it left."""

from __future__ import annotations

import pytest

from actors.runtime import errors, wire
from actors.runtime.actor import ActorState
from actors.runtime.faults import FaultEvent, FaultKind


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**63),
        2.5,
        "ünïcode",
        b"\x00bytes",
        [1, [2, [3]]],
        (1, ("nested", "tuple")),
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}},
        ActorState.RUNNING,
        FaultEvent(time=1.5, kind=FaultKind.PARTITION, targets=("a", "b"), params={"rule": 3}),
    ],
    ids=[
        "none",
        "bool",
        "zero",
        "int64-min",
        "float",
        "unicode",
        "bytes",
        "lists",
        "tuples",
        "pod",
        "enum",
        "dataclass",
    ],
)
def test_round_trip_keeps_value_and_type(value: object) -> None:
    back = wire.unpack(wire.pack(value))
    assert back == value and type(back) is type(value)


def test_runtime_errors_are_rebuilt_with_their_type_and_actor() -> None:
    back = wire.unpack(wire.pack(errors.ActorDead.named("kubelet/node-3", "host lost")))
    assert isinstance(back, errors.ActorDead)
    assert back.actor == "kubelet/node-3" and "host lost" in str(back)


def test_builtin_exceptions_keep_their_type() -> None:
    back = wire.unpack(wire.pack(KeyError("no such key")))
    assert isinstance(back, KeyError) and back.args == ("no such key",)


def test_an_exception_that_cannot_be_rebuilt_becomes_remote_error() -> None:
    class Local(Exception):
        def __init__(self, a: int, b: int) -> None:
            super().__init__(f"{a}/{b}")

    back = wire.unpack(wire.pack(Local(1, 2)))
    assert isinstance(back, errors.RemoteError) and back.type_name.endswith("Local") and "1/2" in back.message


def test_objects_that_are_not_plain_data_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match="cannot send object between hosts"):
        wire.pack({"x": object()})


class Compacted(Exception):
    """Shaped like the store's error: its constructor takes a revision, not its message."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__("etcdserver: mvcc: required revision has been compacted")
        self.compact_revision = compact_revision


def test_an_exception_keeps_its_attributes_whatever_its_constructor_takes() -> None:
    back = wire.unpack(wire.pack(Compacted(42)))
    assert isinstance(back, Compacted) and back.compact_revision == 42
    assert str(back) == "etcdserver: mvcc: required revision has been compacted"


class WithBody(Exception):
    def __init__(self, body: dict[str, object]) -> None:
        super().__init__(body.get("message", ""))
        self.body = body


def test_an_exception_keeps_a_json_shaped_attribute() -> None:
    body = {"kind": "Status", "code": 409, "details": {"causes": [{"field": "x"}]}}
    back = wire.unpack(wire.pack(WithBody(body)))
    assert isinstance(back, WithBody) and back.body == body
