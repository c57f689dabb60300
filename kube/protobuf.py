"""Kubernetes' protobuf envelope, read for the few request bodies kubectl sends only as protobuf.

kubectl's typed clients (``auth can-i``, ``auth whoami``, ``drain``, ``create <kind>``) POST their objects
as ``application/vnd.kubernetes.protobuf``: the 4 bytes ``k8s\\0``, then a ``runtime.Unknown`` message
(1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType) whose ``raw`` is the
object in the schema of ``k8s.io/api/<group>/<version>/generated.proto``.

``decode(data)`` turns such a body into the JSON-shaped dict the apiserver works with, for the kinds in
``SCHEMAS`` (field numbers from upstream's generated.proto); any other kind raises ``NotSupported`` naming
it, and the apiserver answers 415 as a server without protobuf for that kind would; a malformed body raises
``CodecError`` (400). Responses stay JSON: these clients also accept it. Pure: bytes in, dict out.
"""

from __future__ import annotations

import base64
from typing import Any

from kube.errors import CodecError

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# A schema maps a field number to (json name, kind): "str", "int", "bool", "strs" (repeated string), "map"
# (map<string, string>), "bmap" (map<string, bytes>, base64 in JSON), "qmap" (map<string, Quantity>),
# "intstr" (IntOrString), a nested schema (a dict: one message) or a one-element list of a schema (repeated
# messages); nested messages decode recursively. Field numbers are upstream's generated.proto's.
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

_LABEL_SELECTOR: Schema = {
    1: ("matchLabels", "map"),
    2: ("matchExpressions", [{1: ("key", "str"), 2: ("operator", "str"), 3: ("values", "strs")}]),
}
_CONTAINER: Schema = {
    1: ("name", "str"),
    2: ("image", "str"),
    3: ("command", "strs"),
    4: ("args", "strs"),
    5: ("workingDir", "str"),
    6: (
        "ports",
        [{1: ("name", "str"), 2: ("hostPort", "int"), 3: ("containerPort", "int"), 4: ("protocol", "str")}],
    ),
    7: ("env", [{1: ("name", "str"), 2: ("value", "str")}]),
    8: ("resources", {1: ("limits", "qmap"), 2: ("requests", "qmap")}),
    13: ("terminationMessagePath", "str"),
    14: ("imagePullPolicy", "str"),
    16: ("stdin", "bool"),
    17: ("stdinOnce", "bool"),
    18: ("tty", "bool"),
    20: ("terminationMessagePolicy", "str"),
}
_POD_SPEC: Schema = {
    2: ("containers", [_CONTAINER]),
    3: ("restartPolicy", "str"),
    4: ("terminationGracePeriodSeconds", "int"),
    5: ("activeDeadlineSeconds", "int"),
    6: ("dnsPolicy", "str"),
    7: ("nodeSelector", "map"),
    8: ("serviceAccountName", "str"),
    10: ("nodeName", "str"),
    14: ("securityContext", {}),
    19: ("schedulerName", "str"),
    20: ("initContainers", [_CONTAINER]),
    30: ("enableServiceLinks", "bool"),
}
_POD_TEMPLATE: Schema = {1: ("metadata", _OBJECT_META), 2: ("spec", _POD_SPEC)}
_JOB_SPEC: Schema = {
    1: ("parallelism", "int"),
    2: ("completions", "int"),
    3: ("activeDeadlineSeconds", "int"),
    4: ("selector", _LABEL_SELECTOR),
    5: ("manualSelector", "bool"),
    6: ("template", _POD_TEMPLATE),
    7: ("backoffLimit", "int"),
    8: ("ttlSecondsAfterFinished", "int"),
    9: ("completionMode", "str"),
    10: ("suspend", "bool"),
}
_POLICY_RULE: Schema = {
    1: ("verbs", "strs"),
    2: ("apiGroups", "strs"),
    3: ("resources", "strs"),
    4: ("resourceNames", "strs"),
    5: ("nonResourceURLs", "strs"),
}
_BINDING: Schema = {
    1: ("metadata", _OBJECT_META),
    2: (
        "subjects",
        [{1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"), 4: ("namespace", "str")}],
    ),
    3: ("roleRef", {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")}),
}

# Fields Go declares as pointers: present on the wire only when set, so a zero or false there was meant.
# Every other scalar is written whether set or not, and a zero, false or "" of those reads as unset.
_POINTER_FIELDS = frozenset(
    {
        "replicas",
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "terminationGracePeriodSeconds",
        "ttlSecondsAfterFinished",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
        "gracePeriodSeconds",
        "suspend",
        "manualSelector",
        "enableServiceLinks",
        "automountServiceAccountToken",
        "immutable",
        "orphanDependents",
        "expirationSeconds",
    }
)

SCHEMAS: dict[tuple[str, str], Schema] = {
    # what ``kubectl create deployment|job|cronjob|service|role|rolebinding|...`` send
    ("apps/v1", "Deployment"): {
        1: ("metadata", _OBJECT_META),
        2: (
            "spec",
            {
                1: ("replicas", "int"),
                2: ("selector", _LABEL_SELECTOR),
                3: ("template", _POD_TEMPLATE),
                4: (
                    "strategy",
                    {
                        1: ("type", "str"),
                        2: ("rollingUpdate", {1: ("maxUnavailable", "intstr"), 2: ("maxSurge", "intstr")}),
                    },
                ),
                5: ("minReadySeconds", "int"),
                6: ("revisionHistoryLimit", "int"),
                7: ("paused", "bool"),
                9: ("progressDeadlineSeconds", "int"),
            },
        ),
    },
    ("batch/v1", "Job"): {1: ("metadata", _OBJECT_META), 2: ("spec", _JOB_SPEC)},
    ("batch/v1", "CronJob"): {
        1: ("metadata", _OBJECT_META),
        2: (
            "spec",
            {
                1: ("schedule", "str"),
                2: ("startingDeadlineSeconds", "int"),
                3: ("concurrencyPolicy", "str"),
                4: ("suspend", "bool"),
                5: ("jobTemplate", {1: ("metadata", _OBJECT_META), 2: ("spec", _JOB_SPEC)}),
                6: ("successfulJobsHistoryLimit", "int"),
                7: ("failedJobsHistoryLimit", "int"),
                8: ("timeZone", "str"),
            },
        ),
    },
    ("v1", "Service"): {
        1: ("metadata", _OBJECT_META),
        2: (
            "spec",
            {
                1: (
                    "ports",
                    [
                        {
                            1: ("name", "str"),
                            2: ("protocol", "str"),
                            3: ("port", "int"),
                            4: ("targetPort", "intstr"),
                            5: ("nodePort", "int"),
                            6: ("appProtocol", "str"),
                        }
                    ],
                ),
                2: ("selector", "map"),
                3: ("clusterIP", "str"),
                4: ("type", "str"),
                5: ("externalIPs", "strs"),
                7: ("sessionAffinity", "str"),
                10: ("externalName", "str"),
                11: ("externalTrafficPolicy", "str"),
                18: ("clusterIPs", "strs"),
            },
        ),
    },
    ("rbac.authorization.k8s.io/v1", "Role"): {1: ("metadata", _OBJECT_META), 2: ("rules", [_POLICY_RULE])},
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {
        1: ("metadata", _OBJECT_META),
        2: ("rules", [_POLICY_RULE]),
    },
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): _BINDING,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): _BINDING,
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
    ("authentication.k8s.io/v1", "TokenRequest"): {
        1: ("metadata", _OBJECT_META),
        2: (
            "spec",
            {
                1: ("audiences", "strs"),
                3: (
                    "boundObjectRef",
                    {1: ("kind", "str"), 2: ("apiVersion", "str"), 3: ("name", "str"), 4: ("uid", "str")},
                ),
                4: ("expirationSeconds", "int"),
            },
        ),
    },
    ("policy/v1", "Eviction"): {1: ("metadata", _OBJECT_META), 2: ("deleteOptions", _DELETE_OPTIONS)},
    ("policy/v1beta1", "Eviction"): {1: ("metadata", _OBJECT_META), 2: ("deleteOptions", _DELETE_OPTIONS)},
}


class NotSupported(CodecError):
    """A well-formed body of a kind this module has no schema for (the server answers 415, not 400)."""


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
        raise NotSupported(
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
        elif isinstance(kind, list):
            out[name] = [_message(v, kind[0]) for v in values]
        elif kind == "intstr":
            value_fields = _fields(values[-1])
            if _one(value_fields, 1, 0) == 1:
                out[name] = _one(value_fields, 3, b"").decode()
            else:
                number = _one(value_fields, 2, 0)
                out[name] = number - (1 << 64) if number >= 1 << 63 else number
        elif kind == "qmap":
            out[name] = {
                _one(_fields(entry), 1, b"").decode(): _one(
                    _fields(_one(_fields(entry), 2, b"")), 1, b""
                ).decode()
                for entry in values
            }
        elif kind == "str":
            if values[-1]:  # Go writes every plain field, set or not; JSON omits the empty ones
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
            if value or name in _POINTER_FIELDS:
                out[name] = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "bool" and (values[-1] or name in _POINTER_FIELDS):
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
