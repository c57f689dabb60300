"""The codec: JSON on the API, msgpack in the store, YAML manifests and kubectl-style YAML output."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube import codec, errors

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
    "spec": {
        "containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}],
        "futureField": {"nested": [1, 2.5, None, True, "ünïcode"]},
    },
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=40,
)


@given(json_values)
def test_json_and_msgpack_round_trip_the_same_object(value: Any) -> None:
    assert codec.from_json(codec.to_json(value)) == value
    assert codec.from_msgpack(codec.to_msgpack(value)) == value


def test_unknown_fields_survive_every_format() -> None:
    assert codec.from_json(codec.to_json(POD)) == POD
    assert codec.from_msgpack(codec.to_msgpack(POD)) == POD
    assert codec.load_yaml_documents(codec.dump_yaml(POD)) == [POD]


def test_to_json_is_compact_utf8() -> None:
    assert codec.to_json({"a": "é", "b": [1, None]}) == '{"a":"é","b":[1,null]}'.encode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(float("nan"), id="nan"),
        pytest.param({"a": float("inf")}, id="infinity"),
        pytest.param({"a": object()}, id="not-json"),
    ],
)
def test_to_json_rejects_what_go_cannot_encode(value: Any) -> None:
    with pytest.raises(errors.CodecError, match="json: unsupported value"):
        codec.to_json(value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b'{"a":', "json: Expecting value at line 1, column 6", id="truncated"),
        pytest.param(
            b'{\n  "a": 1,\n}',
            "json: Expecting property name enclosed in double quotes at line 3",
            id="comma",
        ),
        pytest.param("[1, NaN]", "json: NaN is not valid JSON", id="nan"),
        pytest.param(b"\xff", "json: invalid UTF-8 at byte offset 0", id="not-utf8"),
        pytest.param(b'{"a":1} x', "json: Extra data at line 1, column 9", id="trailing"),
    ],
)
def test_from_json_errors_name_the_position(data: bytes | str, message: str) -> None:
    with pytest.raises(errors.CodecError, match=message):
        codec.from_json(data)


def test_from_json_accepts_str_bytes_and_memoryview() -> None:
    for data in ('{"a":1}', b'{"a":1}', memoryview(b'{"a":1}')):
        assert codec.from_json(data) == {"a": 1}


def test_msgpack_keeps_bytes_and_str_apart() -> None:
    assert codec.from_msgpack(codec.to_msgpack({"s": "x", "b": b"x"})) == {"s": "x", "b": b"x"}


@pytest.mark.parametrize(
    "data",
    [pytest.param(b"\x92\x01", id="truncated"), pytest.param(b"\xc1", id="reserved-byte")],
)
def test_from_msgpack_errors(data: bytes) -> None:
    with pytest.raises(errors.CodecError, match="msgpack: cannot decode"):
        codec.from_msgpack(data)


def test_to_msgpack_rejects_unknown_types() -> None:
    with pytest.raises(errors.CodecError, match="msgpack: cannot encode"):
        codec.to_msgpack({"a": object()})


def _same_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@given(json_values)
def test_to_msgpack_exact_decodes_to_the_same_types_in_the_same_order(value: Any) -> None:
    data = codec.to_msgpack_exact(value)
    assert data == codec.to_msgpack(value)
    assert _same_types(codec.from_msgpack(data), value)


class _Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [{"a": (1, 2)}, {"a": _Text("x")}, {"a": object()}, {"a": 2**64}],
    ids=["tuple", "str-subclass", "unknown", "too-large"],
)
def test_to_msgpack_exact_refuses_what_would_not_decode_the_same(value: Any) -> None:
    assert codec.to_msgpack_exact(value) is None
    assert codec.to_msgpack_exact({"after": "a refusal"}) == codec.to_msgpack({"after": "a refusal"})


MANIFEST = """\
# a comment-only document is empty
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  creationTimestamp: 2026-11-25T20:47:34Z
data:
  1: one
  on: "yes"
---
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web}
- apiVersion: v1
  kind: PodList
  items:
  - {apiVersion: v1, kind: Pod, metadata: {name: p1}}
"""


def test_load_yaml_documents_reads_manifests_like_kubectl() -> None:
    objects = codec.load_yaml_documents(MANIFEST)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "settings"),
        ("Service", "web"),
        ("Pod", "p1"),
    ]
    config_map = objects[0]
    assert config_map["metadata"]["creationTimestamp"] == "2026-11-25T20:47:34Z"
    assert config_map["data"] == {"1": "one", "true": "yes"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: 1\n---\n- x\n", "document 1 is a list, not an object", id="list-document"),
        pytest.param("---\n...\n---\nplain\n", "document 1 is a string", id="scalar-document"),
        pytest.param(
            "a: 1\n---\nb: c: d\n",
            r"error converting YAML to JSON: yaml: line 3, column 5: mapping values .*\(document 1\)",
            id="syntax",
        ),
        pytest.param("kind: List\nitems: [1]\n", "items of List must be objects", id="list-of-scalars"),
    ],
)
def test_load_yaml_documents_errors_name_the_document(text: str, message: str) -> None:
    with pytest.raises(errors.CodecError, match=message):
        codec.load_yaml_documents(text)


def test_load_yaml_documents_empty_stream() -> None:
    assert codec.load_yaml_documents("") == []
    assert codec.load_yaml_documents("---\n...\n") == []


KUBECTL_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    deployment.kubernetes.io/revision: "1"
    note: |
      line one
      line two
  creationTimestamp: "2026-11-25T20:47:34Z"
  name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
      - args:
        - 'key: value'
        - "true"
        - ""
        image: nginx
        name: web
        resources: {}
      tolerations: []
"""


def test_dump_yaml_prints_like_kubectl() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "annotations": {"deployment.kubernetes.io/revision": "1", "note": "line one\nline two\n"},
            "creationTimestamp": "2026-11-25T20:47:34Z",
            "name": "web",
        },
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {"args": ["key: value", "true", ""], "image": "nginx", "name": "web", "resources": {}}
                    ],
                    "tolerations": [],
                }
            },
        },
    }
    assert codec.dump_yaml(obj) == KUBECTL_YAML
    assert codec.load_yaml_documents(KUBECTL_YAML) == [obj]


def test_dump_yaml_keeps_insertion_order_and_long_lines() -> None:
    long = "x" * 300
    text = codec.dump_yaml({"z": 1, "a": long})
    assert text == f"z: 1\na: {long}\n"


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        pytest.param(None, b'{"kind":"Pod"}', id="missing-means-json"),
        pytest.param("", b'{"kind":"Pod"}', id="empty-means-json"),
        pytest.param("application/json; charset=utf-8", b'{"kind":"Pod"}', id="json-with-charset"),
        pytest.param("application/merge-patch+json", b'{"kind":"Pod"}', id="merge-patch"),
        pytest.param("application/strategic-merge-patch+json", b'{"kind":"Pod"}', id="strategic"),
        pytest.param("Application/YAML", b"kind: Pod\n", id="yaml-any-case"),
        pytest.param("application/apply-patch+yaml", b"kind: Pod\n", id="apply-patch"),
        pytest.param("application/msgpack", codec.to_msgpack({"kind": "Pod"}), id="msgpack"),
    ],
)
def test_decode_body_picks_the_format(content_type: str | None, data: bytes) -> None:
    assert codec.decode_body(data, content_type) == {"kind": "Pod"}


def test_decode_body_rejects_unknown_media_types() -> None:
    with pytest.raises(
        errors.CodecError, match=re.escape('unknown format "application/vnd.kubernetes.protobuf"')
    ):
        codec.decode_body(b"k8s\x00", "application/vnd.kubernetes.protobuf")


def test_decode_body_yaml_must_be_one_document() -> None:
    with pytest.raises(
        errors.CodecError, match="expected a single document in the stream but found another document"
    ):
        codec.decode_body(b"a: 1\n---\nb: 2\n", "application/yaml")
