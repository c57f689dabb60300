"""Field selectors (``?fieldSelector=spec.nodeName=node-1,status.phase!=Succeeded``), as apimachinery's.

Syntax: comma-separated terms ``<field>=<value>``, ``<field>==<value>`` or ``<field>!=<value>``, with no
whitespace trimming; in values ``\\,``, ``\\=`` and ``\\\\`` stand for ``,``, ``=`` and ``\\`` (upstream's
``fields.EscapeValue``). ``parse`` checks syntax only, with upstream's messages.

Which fields may be selected depends on the kind, as upstream's per-kind field label conversion functions
decide: pods allow ``spec.nodeName``, ``status.phase`` and a few more, nodes ``spec.unschedulable``, and so
on; every other kind only ``metadata.name`` and ``metadata.namespace``. ``convert`` checks a parsed selector
against a kind and raises ``SelectorError`` with the upstream message (``field label not supported:
spec.foo``), mapping the legacy ``spec.host`` of pods to ``spec.nodeName``.

Matching: ``Selector.matches(fields)`` takes a field set (``object_fields``: field label to string,
booleans as ``true``/``false``, integers in decimal, missing fields as ``""`` or ``0``);
``matches_object(obj, kind)`` reads only the fields it needs from a Kubernetes-shaped dict. Both are pure;
parsed selectors are immutable.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from kube import kinds
from kube.errors import SelectorError


class Operator(enum.StrEnum):
    """The two operators a parsed field selector keeps (``==`` is read as ``=``, as upstream)."""

    EQUALS = "="
    NOT_EQUALS = "!="


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """One ``field op value`` term; ``value`` is unescaped."""

    field: str
    operator: Operator
    value: str

    def __str__(self) -> str:
        return f"{self.field}{self.operator.value}{escape_value(self.value)}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Selector:
    """An AND of requirements, sorted by their printed form when parsed; ``nothing`` matches nothing."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything."""
        return not self.requirements and not self.nothing

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether a field set satisfies every term (a missing field reads as ``""``)."""
        if self.nothing:
            return False
        for r in self.requirements:
            if (fields.get(r.field, "") == r.value) != (r.operator is Operator.EQUALS):
                return False
        return True

    def matches_object(self, obj: Mapping[str, Any], kind: kinds.Kind) -> bool:
        """Whether an object of ``kind`` satisfies every term; unsupported fields read as ``""``."""
        if self.nothing:
            return False
        table = _table(kind)
        for r in self.requirements:
            label = table.labels.get(r.field)
            actual = label.read(obj) if label is not None else ""
            if (actual == r.value) != (r.operator is Operator.EQUALS):
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must have, if a ``field=value`` term pins it (used for indexes)."""
        for r in self.requirements:
            if r.field == field and r.operator is Operator.EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = Selector()
NOTHING = Selector(nothing=True)


def escape_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so a literal value survives a field selector string."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(value: str) -> str:
    """Undo ``escape_value``; raises ``SelectorError`` on bad escapes or unescaped ``,``/``=``."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse(text: str) -> Selector:
    """Parse a field selector string, as upstream's ``fields.ParseSelector``; raises ``SelectorError``."""
    return _parse_cached(text)


def from_set(fields: Mapping[str, str]) -> Selector:
    """``field=value`` for every entry (upstream's ``fields.SelectorFromSet``)."""
    return Selector(
        requirements=tuple(Requirement(field=f, operator=Operator.EQUALS, value=v) for f, v in fields.items())
    )


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Selector:
    requirements: list[Requirement] = []
    for term in sorted(_split_terms(text)):  # upstream order, so the first error reported is the same
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw = split
        operator = Operator.NOT_EQUALS if op == "!=" else Operator.EQUALS
        requirements.append(Requirement(field=field, operator=operator, value=unescape_value(raw)))
    # Upstream sorts the raw terms; sorting the printed ones gives the same order unless "==" was used,
    # and makes the printed form a fixed point of parse-then-print.
    return Selector(requirements=tuple(sorted(requirements, key=str)))


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped; escapes stay in the terms."""
    if not text:
        return []
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """Split at the first operator; ``!=`` and ``==`` are tried before ``=`` at each position."""
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


# --- per-kind field labels ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FieldLabel:
    """A selectable field: where it lives in the object and how upstream renders it as a string."""

    name: str
    path: tuple[str, ...]
    type: type = str

    def read(self, obj: Mapping[str, Any]) -> str:
        value: Any = obj
        for step in self.path:
            value = value.get(step) if isinstance(value, Mapping) else None
        if self.type is bool:
            return "true" if value is True else "false"
        if self.type is int:
            return str(int(value)) if isinstance(value, int | float) else "0"
        return "" if value is None else str(value)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _KindFields:
    labels: Mapping[str, FieldLabel]
    error: Callable[[str], str]
    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _labels(*specs: str | tuple[str, str, type]) -> dict[str, FieldLabel]:
    """A label table from ``"status.phase"`` (a string at that path) or ``(name, path, type)``."""
    out: dict[str, FieldLabel] = {}
    for spec in specs:
        name, path, value_type = (spec, spec, str) if isinstance(spec, str) else spec
        out[name] = FieldLabel(name=name, path=tuple(path.split(".")), type=value_type)
    return out


_NAME = "metadata.name"
_NAMESPACE = "metadata.namespace"
_INVOLVED_OBJECT = tuple(
    f"involvedObject.{f}"
    for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
)


def _not_supported(label: str) -> str:
    return f"field label not supported: {label}"


def _default_error(label: str) -> str:
    return f'{json.dumps(label)} is not a known field selector: only "metadata.name", "metadata.namespace"'


_TABLES: dict[tuple[str, str], _KindFields] = {
    ("", "Pod"): _KindFields(
        labels=_labels(
            _NAME,
            _NAMESPACE,
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            ("spec.hostNetwork", "spec.hostNetwork", bool),
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ),
        error=_not_supported,
        renames={"spec.host": "spec.nodeName"},
    ),
    ("", "Node"): _KindFields(
        labels=_labels(_NAME, ("spec.unschedulable", "spec.unschedulable", bool)), error=_not_supported
    ),
    ("", "ReplicationController"): _KindFields(
        labels=_labels(_NAME, _NAMESPACE, ("status.replicas", "status.replicas", int)), error=_not_supported
    ),
    ("", "Event"): _KindFields(
        labels=_labels(
            *_INVOLVED_OBJECT,
            "reason",
            "reportingComponent",
            ("source", "source.component", str),
            "type",
            _NAMESPACE,
            _NAME,
        ),
        error=_not_supported,
    ),
    ("", "Namespace"): _KindFields(labels=_labels("status.phase", _NAME), error=_not_supported),
    ("", "Secret"): _KindFields(labels=_labels("type", _NAMESPACE, _NAME), error=_not_supported),
    ("", "Service"): _KindFields(
        labels=_labels(_NAMESPACE, _NAME, "spec.clusterIP", "spec.type"),
        error=_not_supported,
    ),
    ("batch", "Job"): _KindFields(
        labels=_labels(_NAME, _NAMESPACE, ("status.successful", "status.succeeded", int)),
        error=lambda label: f"field label {json.dumps(label)} not supported for Job",
    ),
}
_DEFAULT = _KindFields(labels=_labels(_NAME, _NAMESPACE), error=_default_error)


def _table(kind: kinds.Kind) -> _KindFields:
    return _TABLES.get((kind.group, kind.kind), _DEFAULT)


def supported_fields(kind: kinds.Kind) -> tuple[str, ...]:
    """The field labels a kind can be selected by."""
    return tuple(_table(kind).labels)


def convert(selector: Selector, kind: kinds.Kind) -> Selector:
    """Check every field against the kind's field labels (upstream's ``ConvertFieldLabel``).

    Returns the selector with legacy names renamed; raises ``SelectorError`` for an unsupported field.
    """
    table = _table(kind)
    out: list[Requirement] = []
    for r in selector.requirements:
        field = table.renames.get(r.field, r.field)
        if field not in table.labels:
            raise SelectorError(table.error(r.field))
        out.append(r if field == r.field else dataclasses.replace(r, field=field))
    return dataclasses.replace(selector, requirements=tuple(out))


def object_fields(obj: Mapping[str, Any], kind: kinds.Kind) -> dict[str, str]:
    """The selectable field set of an object (upstream's ``<Kind>ToSelectableFields``)."""
    fields = {name: label.read(obj) for name, label in _table(kind).labels.items()}
    if not kind.namespaced:
        fields.pop("metadata.namespace", None)
    return fields
