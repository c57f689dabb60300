"""Typed errors of the object model.

Every error here is a ``ValueError`` so careless callers still see a plain failure, but callers that care
catch the precise type. Messages follow Kubernetes' own wording (apimachinery's ``validation`` and
``resource`` packages), so an error that reaches a user through the apiserver reads as upstream's would.
"""

from __future__ import annotations

import dataclasses
import enum


class KubeError(ValueError):
    """Base class of every object-model error."""


class SelectorError(KubeError):
    """A label or field selector that cannot be parsed; the message names the bad part."""


class QuantityError(KubeError):
    """A resource quantity that cannot be parsed (``quantities must match the regular expression ...``)."""


class PatchError(KubeError):
    """A patch document that is malformed or cannot be applied (a JSON patch ``test`` that fails, ...)."""


class CodecError(KubeError):
    """Bytes that do not decode to an object (malformed JSON, YAML or msgpack)."""


class FieldErrorType(enum.StrEnum):
    """apimachinery's ``field.ErrorType``: the ``reason`` of a ``Status`` cause."""

    REQUIRED = "FieldValueRequired"
    INVALID = "FieldValueInvalid"
    DUPLICATE = "FieldValueDuplicate"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    NOT_FOUND = "FieldValueNotFound"
    TYPE_INVALID = "FieldValueTypeInvalid"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FieldError:
    """One bad field, as apimachinery's ``field.Error``: a path, a type, the bad value and why."""

    field: str
    type: FieldErrorType
    bad_value: object = None
    detail: str = ""

    def message(self) -> str:
        """The text upstream prints for this error, e.g. ``metadata.name: Required value``."""
        what = {
            FieldErrorType.REQUIRED: "Required value",
            FieldErrorType.INVALID: f"Invalid value: {_quote(self.bad_value)}",
            FieldErrorType.DUPLICATE: f"Duplicate value: {_quote(self.bad_value)}",
            FieldErrorType.NOT_SUPPORTED: f"Unsupported value: {_quote(self.bad_value)}",
            FieldErrorType.FORBIDDEN: "Forbidden",
            FieldErrorType.TOO_LONG: "Too long",
            FieldErrorType.TOO_MANY: "Too many",
            FieldErrorType.NOT_FOUND: f"Not found: {_quote(self.bad_value)}",
            FieldErrorType.TYPE_INVALID: f"Invalid value: {_quote(self.bad_value)}",
        }[self.type]
        text = f"{self.field}: {what}" if self.field else what
        return f"{text}: {self.detail}" if self.detail else text


class ValidationError(KubeError):
    """An object (or a name, a label, ...) that fails validation; carries one ``FieldError`` per problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(e.message() for e in self.errors) or "invalid")


def _quote(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)
