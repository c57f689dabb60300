"""The protobuf bodies kubectl's typed commands send, read as the JSON objects they stand for."""

from __future__ import annotations

import pytest

from kube import errors, protobuf


def varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field(1, api_version.encode()) + field(2, kind.encode())
    return protobuf.MAGIC + field(1, type_meta) + field(2, raw)


def test_an_access_review_reads_as_its_json() -> None:
    attributes = field(1, b"default") + field(2, b"create") + field(5, b"pods")
    body = envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", field(2, field(1, attributes)))
    assert protobuf.decode(body) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
    }


def test_zero_values_go_written_for_plain_fields_read_as_unset_but_a_pointer_s_zero_stays() -> None:
    port = field(1, b"") + field(2, 0) + field(3, 80)  # name "", hostPort 0: Go writes them anyway
    container = field(1, b"web") + field(2, b"nginx") + field(6, port)
    template = field(2, field(2, container))
    spec = field(1, 0) + field(3, template)  # replicas 0 was asked for
    deployment = envelope("apps/v1", "Deployment", field(1, field(1, b"d")) + field(2, spec))
    decoded = protobuf.decode(deployment)
    assert decoded["spec"]["replicas"] == 0
    (only,) = decoded["spec"]["template"]["spec"]["containers"]
    assert only == {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}


@pytest.mark.parametrize(
    ("body", "unsupported"),
    [
        pytest.param(envelope("v1", "Pod", b""), True, id="a kind without a schema"),
        pytest.param(b"\x00\x01\x02", False, id="no k8s prefix"),
        pytest.param(protobuf.MAGIC + b"\x0a\x10ab", False, id="a field past the end"),
        pytest.param(protobuf.MAGIC + b"\x08\xff", False, id="a truncated varint"),
    ],
)
def test_bodies_it_cannot_read_are_refused_clearly(body: bytes, unsupported: bool) -> None:
    with pytest.raises(errors.CodecError) as raised:
        protobuf.decode(body)
    assert isinstance(raised.value, protobuf.NotSupported) is unsupported
    assert str(raised.value).startswith("protobuf: ")
