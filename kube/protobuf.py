"""Kubernetes' protobuf envelope, read for the few request bodies kubectl sends only as protobuf.

kubectl's typed clients (``auth can-i``, ``auth whoami``, ``drain``) POST their review and eviction objects
as ``application/vnd.kubernetes.protobuf``: the 4 bytes ``k8s\\0``, then a ``runtime.Unknown`` message
(1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType) whose ``raw`` is the
object in the schema of ``k8s.io/api/<group>/<version>/generated.proto``.

``decode(data)`` turns such a body into the JSON-shaped dict the apiserver works with, for the kinds in
``SCHEMAS`` (field numbers from upstream's generated.proto); any other kind raises ``CodecError`` naming it,
and the apiserver answers 415 as a server without protobuf for that kind would. Responses stay JSON: these
clients also accept it. Pure: bytes in, dict out.
"""

from __future__ import annotations

import base64
from typing import Any

from kube.errors import CodecError

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# A schema maps a field number to (json name, kind): "str", "int", "bool", "strs" (repeated string), "map"
# (map<string, string>), "bmap" (map<string, bytes>, base64 in JSON), or a nested schema (a dict); nested
# messages decode recursively.
Schema = dict[int, tuple[str, Any]]

_OBJECT_META: Schema = {
    1: ("name", "str"),
    2: ("generateName", "str"),
    3: ("namespace", "str"),
    6: ("resourceVersion", "str"),
    11: ("labels", "map"),
    12: ("annotations", "map"),
    14: ("finalizers", "strs"),
}
_RESOURCE_ATTRIBUTES: Schema = {
    1: ("namespace", "str"),
    2: ("verb", "str"),
    3: ("group", "str"),
    4: ("version", "str"),
    5: ("resource", "str"),
    6: ("subresource", "str"),
    7: ("name", "str"),
}
_NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", "str"), 2: ("verb", "str")}
_PRECONDITIONS: Schema = {1: ("uid", "str"), 2: ("resourceVersion", "str")}
_DELETE_OPTIONS: Schema = {
    1: ("gracePeriodSeconds", "int"),
    2: ("preconditions", _PRECONDITIONS),
    3: ("orphanDependents", "bool"),
    4: ("propagationPolicy", "str"),
    5: ("dryRun", "strs"),
}

SCHEMAS: dict[tuple[str, str], Schema] = {
    # what ``kubectl create configmap|secret|namespace|serviceaccount`` send
    ("v1", "ConfigMap"): {
        1: ("metadata", _OBJECT_META),
        2: ("data", "map"),
        3: ("binaryData", "bmap"),
        4: ("immutable", "bool"),
    },
    ("v1", "Secret"): {
        1: ("metadata", _OBJECT_META),
        2: ("data", "bmap"),
        3: ("type", "str"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    ("v1", "Namespace"): {1: ("metadata", _OBJECT_META), 2: ("spec", {1: ("finalizers", "strs")})},
    ("v1", "ServiceAccount"): {1: ("metadata", _OBJECT_META), 4: ("automountServiceAccountToken", "bool")},
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", _OBJECT_META),
        2: (
            "spec",
            {
                1: ("resourceAttributes", _RESOURCE_ATTRIBUTES),
                2: ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES),
            },
        ),
    },
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", _OBJECT_META),
        2: ("spec", {1: ("namespace", "str")}),
    },
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", _OBJECT_META)},
    ("policy/v1", "Eviction"): {1: ("metadata", _OBJECT_META), 2: ("deleteOptions", _DELETE_OPTIONS)},
    ("policy/v1beta1", "Eviction"): {1: ("metadata", _OBJECT_META), 2: ("deleteOptions", _DELETE_OPTIONS)},
}


def decode(data: bytes) -> dict[str, Any]:
    """The object in a protobuf request body, as a Kubernetes-shaped dict."""
    if not data.startswith(MAGIC):
        raise CodecError("protobuf: the body does not start with the k8s\\0 prefix")
    envelope = _fields(data[len(MAGIC) :])
    type_meta = _fields(_one(envelope, 1, b""))
    api_version = _one(type_meta, 1, b"").decode()
    kind = _one(type_meta, 2, b"").decode()
    schema = SCHEMAS.get((api_version, kind))
    if schema is None:
        raise CodecError(
            f"protobuf: {kind or 'an object'} ({api_version or 'no apiVersion'}) is accepted as JSON only"
        )
    obj = _message(_one(envelope, 2, b""), schema)
    return {"apiVersion": api_version, "kind": kind, **obj}


def _message(data: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, values in _fields(data).items():
        spec = schema.get(number)
        if spec is None:
            continue  # a field we do not use
        name, kind = spec
        if isinstance(kind, dict):
            out[name] = _message(values[-1], kind)
        elif kind == "str":
            out[name] = values[-1].decode()
        elif kind == "strs":
            out[name] = [v.decode() for v in values]
        elif kind in ("map", "bmap"):
            entries = {}
            for entry in values:
                fields = _fields(entry)
                key = _one(fields, 1, b"").decode()
                value = _one(fields, 2, b"")
                entries[key] = base64.b64encode(value).decode() if kind == "bmap" else value.decode()
            out[name] = entries
        elif kind == "int":
            value = values[-1]
            out[name] = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "bool":
            out[name] = bool(values[-1])
    return out


def _one(fields: dict[int, list[Any]], number: int, default: Any) -> Any:
    values = fields.get(number)
    return values[-1] if values else default


def _fields(data: bytes) -> dict[int, list[Any]]:
    """Field number -> values (ints for varints, bytes for length-delimited), in order."""
    out: dict[int, list[Any]] = {}
    i, end = 0, len(data)
    while i < end:
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            if i + length > end:
                raise CodecError("protobuf: a field runs past the end of the body")
            value, i = data[i : i + length], i + length
        elif wire == 1:
            value, i = int.from_bytes(data[i : i + 8], "little"), i + 8
        elif wire == 5:
            value, i = int.from_bytes(data[i : i + 4], "little"), i + 4
        else:
            raise CodecError(f"protobuf: unsupported wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise CodecError("protobuf: truncated varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
