"""Metadata helpers for Kubernetes-shaped objects (plain dicts as the API carries them).

What this module promises:

- Every function here is pure: it reads the object it is given and never changes it. Randomness comes in
  through a ``random.Random`` the caller owns, so names and UIDs are reproducible for a seed.
- ``ObjectKey`` is how the rest of kubemu names an object inside one resource: ``namespace/name``, or just
  ``name`` for cluster-scoped objects (client-go's ``cache.MetaNamespaceKeyFunc``).
- ``OwnerReference`` mirrors ``metav1.OwnerReference``; ``controller_of`` is ``metav1.GetControllerOf``.
- Names made from ``metadata.generateName`` follow apiserver's ``names.SimpleNameGenerator``: the prefix
  cut to 58 characters, then 5 characters from apimachinery's ``util/rand`` alphabet (no vowels, no confusable
  digits, so no accidental words).
- Timestamps are RFC 3339 in UTC with second precision (``metav1.Time``) or microseconds
  (``metav1.MicroTime``), exactly as the apiserver writes them.
- ``deep_copy`` copies JSON-shaped data (dict, list, str, int, float, bool, None) several times faster than
  ``copy.deepcopy``; anything else is returned as is, so it must be immutable.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import random
import re
import time
import types
from collections.abc import Mapping
from typing import Any, TypeVar

from kube import errors

T = TypeVar("T")

# k8s.io/apimachinery/pkg/util/rand: "We omit vowels from the set of available characters to reduce the
# chances of 'bad words' being formed", and the digits 0, 1 and 3 that look like letters.
NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# k8s.io/apiserver/pkg/storage/names: maxNameLength = 63, randomLength = 5.
MAX_NAME_LENGTH = 63
RANDOM_LENGTH = 5
MAX_GENERATED_NAME_LENGTH = MAX_NAME_LENGTH - RANDOM_LENGTH

_EMPTY: Mapping[str, str] = types.MappingProxyType({})
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ObjectKey:
    """The identity of an object within its resource: a namespace ("" when cluster-scoped) and a name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    """The ``ObjectKey`` of an object, read from ``metadata.namespace`` and ``metadata.name``."""
    metadata = obj.get("metadata") or {}
    return ObjectKey(namespace=metadata.get("namespace") or "", name=metadata.get("name") or "")


def parse_key(key: str) -> ObjectKey:
    """The inverse of ``str(ObjectKey)``: ``"ns/name"`` or ``"name"`` (``cache.SplitMetaNamespaceKey``)."""
    namespace, slash, name = key.partition("/")
    if not slash:
        return ObjectKey(namespace="", name=key)
    if "/" in name:
        raise errors.KubeError(f'unexpected key format: "{key}"')
    return ObjectKey(namespace=namespace, name=name)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OwnerReference:
    """``metav1.OwnerReference``: who owns an object; ``controller`` marks the one managing controller.

    ``controller`` and ``block_owner_deletion`` are ``None`` when the field is absent, so a reference read
    from a dict writes back the same dict.
    """

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OwnerReference:
        """Read one entry of ``metadata.ownerReferences``; absent strings read as ""."""
        return cls(
            api_version=data.get("apiVersion") or "",
            kind=data.get("kind") or "",
            name=data.get("name") or "",
            uid=data.get("uid") or "",
            controller=data.get("controller"),
            block_owner_deletion=data.get("blockOwnerDeletion"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the optional booleans only when they are set."""
        data: dict[str, Any] = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
        }
        if self.controller is not None:
            data["controller"] = self.controller
        if self.block_owner_deletion is not None:
            data["blockOwnerDeletion"] = self.block_owner_deletion
        return data


def owner_references(obj: Mapping[str, Any]) -> list[OwnerReference]:
    """Every owner reference of an object, in order."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return [OwnerReference.from_dict(ref) for ref in refs]


def controller_of(obj: Mapping[str, Any]) -> OwnerReference | None:
    """The owner reference with ``controller: true``, if any (``metav1.GetControllerOf``)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") is True:
            return OwnerReference.from_dict(ref)
    return None


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    """Whether any owner reference of the object points at the owner with this UID."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return any(ref.get("uid") == uid for ref in refs)


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """``metadata.labels``, or an empty read-only mapping when there are none."""
    labels: Mapping[str, str] | None = (obj.get("metadata") or {}).get("labels")
    return labels if labels else _EMPTY


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """``metadata.annotations``, or an empty read-only mapping when there are none."""
    annotations: Mapping[str, str] | None = (obj.get("metadata") or {}).get("annotations")
    return annotations if annotations else _EMPTY


def generate_name_suffix(rng: random.Random) -> str:
    """Five random characters from upstream's name alphabet (``utilrand.String(5)``)."""
    return "".join(rng.choices(NAME_SUFFIX_ALPHABET, k=RANDOM_LENGTH))


def generate_name(prefix: str, rng: random.Random) -> str:
    """A name for ``metadata.generateName: prefix``: the prefix cut to 58 characters plus a random suffix."""
    return prefix[:MAX_GENERATED_NAME_LENGTH] + generate_name_suffix(rng)


_UUID_KEEP = ~(0xF000 << 64) & ~(0xC000 << 48)  # the random bits a version 4 UUID keeps
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC variant


def new_uid(rng: random.Random) -> str:
    """An RFC 4122 version 4 UUID drawn from ``rng`` (the same seed gives the same UIDs).

    Formatted by hand: ``uuid.UUID(int=..., version=4)`` costs several times more, on every create.
    """
    text = f"{rng.getrandbits(128) & _UUID_KEEP | _UUID_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_last_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def now_rfc3339(epoch_seconds: float) -> str:
    """``metav1.Time`` text for a Unix time: UTC, whole seconds, e.g. ``2026-11-25T20:47:34Z``."""
    second = math.floor(epoch_seconds)
    if _last_second[0] != second:  # every create stamps the time: format each second once
        _last_second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))]
    text: str = _last_second[1]
    return text


def now_rfc3339_micro(epoch_seconds: float) -> str:
    """``metav1.MicroTime`` text (leases, events): UTC with six fraction digits, ``...T20:47:34.000123Z``."""
    whole = math.floor(epoch_seconds)
    micros = min(round((epoch_seconds - whole) * 1_000_000), 999_999)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


def parse_rfc3339(text: str) -> float:
    """The Unix time of an RFC 3339 timestamp (``Z`` or a ``+hh:mm`` offset; fractions kept to microseconds).

    Raises ``ValidationError`` for text that is not RFC 3339, including a timestamp without a zone.
    """
    parsed = None
    if isinstance(text, str) and _RFC3339.match(text):
        try:
            parsed = datetime.datetime.fromisoformat(text.upper())
        except ValueError:
            parsed = None
    if parsed is None:
        raise errors.ValidationError(
            [
                errors.FieldError(
                    field="",
                    type=errors.FieldErrorType.INVALID,
                    bad_value=text,
                    detail="must be an RFC 3339 timestamp such as 2006-01-02T15:04:05Z",
                )
            ]
        )
    return parsed.timestamp()


def deep_copy(obj: T) -> T:
    """A copy of JSON-shaped data that shares no dict or list with ``obj``.

    Only ``dict`` and ``list`` are copied (exact types, as decoders produce them); every other value is
    assumed immutable and shared. About seven times faster than ``copy.deepcopy`` on a typical pod.
    """
    cls = type(obj)
    if cls is dict:
        out = {}
        for key, value in obj.items():  # type: ignore[attr-defined]
            kind = type(value)
            out[key] = deep_copy(value) if kind is dict or kind is list else value
        return out  # type: ignore[return-value]
    if cls is list:
        return [
            deep_copy(value) if type(value) is dict or type(value) is list else value
            for value in obj  # type: ignore[attr-defined]
        ]  # type: ignore[return-value]
    return obj
