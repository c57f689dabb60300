"""Validation of names, labels, annotations and object metadata, worded as upstream.

Two layers, as in apimachinery:

* ``is_*`` functions (``util/validation``) take one string and return a list of messages, empty when the
  value is valid. The messages are upstream's text, character for character, so an error that reaches a user
  reads as a real apiserver's would.
* ``validate_*`` functions (``api/validation``) take part of an object and a field path and return a list
  of ``FieldError``; ``validate_object_meta`` checks a whole ``metadata`` dict on create and
  ``validate_object_meta_update`` on update.

Everything is pure: no clock, no I/O, nothing cached that a caller could observe. (The string checks that
see the same few strings on every write, label keys and values and namespace names, remember the strings
they found valid: a repeat costs a set lookup, and the answer is a fresh empty list as before.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from kube.errors import FieldError, FieldErrorType

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
TOTAL_ANNOTATION_SIZE_LIMIT_BYTES = 256 * (1 << 10)

FIELD_IMMUTABLE_ERROR_MSG = "field is immutable"
IS_NEGATIVE_ERROR_MSG = "must be greater than or equal to 0"
FINALIZER_ORPHAN_DEPENDENTS = "orphan"
FINALIZER_DELETE_DEPENDENTS = "foregroundDeletion"

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_ERR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_ERR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_ERR = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_ERR = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_ERR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def _compiled(fmt: str) -> re.Pattern[str]:
    """``fullmatch`` on ASCII-only patterns: Go's regexp anchors with ^...$ and matches bytes the same way.
    The groups do not capture (nothing reads them), which halves the cost of a match; the messages still
    show upstream's pattern."""
    return re.compile(fmt.replace("(", "(?:"), re.ASCII)


_DNS1123_LABEL_RE = _compiled(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = _compiled(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = _compiled(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME_RE = _compiled(_QUALIFIED_NAME_FMT)
_LABEL_VALUE_RE = _compiled(_LABEL_VALUE_FMT)

NameValidator = Callable[[str, bool], list[str]]
"""Upstream's ``ValidateNameFunc``: ``(name, prefix)`` to messages; ``prefix`` is true for a generateName."""


_VALID_MEMO_LIMIT = 1 << 16  # strings remembered per check before the memory starts over


def remembers_valid(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """``check`` that skips strings it already found valid (bounded; safe to share between threads)."""
    valid: set[str] = set()

    def remembering(value: str) -> list[str]:
        if value in valid:
            return []
        errs = check(value)
        if not errs:
            if len(valid) >= _VALID_MEMO_LIMIT:
                valid.clear()
            valid.add(value)
        return errs

    remembering.__name__ = check.__name__
    remembering.__qualname__ = check.__qualname__
    remembering.__doc__ = check.__doc__
    return remembering


def max_len_error(length: int) -> str:
    """The message of a "string too long" failure."""
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """The message of a regex failure, with examples, exactly as upstream's ``RegexError``."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def empty_error() -> str:
    """The message of a "must not be empty" failure."""
    return "must be non-empty"


@remembers_valid
def is_dns1123_label(value: str) -> list[str]:
    """Check an RFC 1123 label (namespace names, most label-like names)."""
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # A valid subdomain that is not a valid label: the length was checked, so it must be dots.
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_ERR, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """Check an RFC 1123 subdomain (the names of most objects)."""
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_ERR, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """Check an RFC 1035 label (Service names: they become DNS names that must start with a letter)."""
    errs: list[str] = []
    if len(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_ERR, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


@remembers_valid
def is_qualified_name(value: str) -> list[str]:
    """Check a label key, annotation key or finalizer: ``[prefix/]name``, the prefix a DNS subdomain."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a valid label key "
            + regex_error(_QUALIFIED_NAME_ERR, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif len(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        errs.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_ERR, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


@remembers_valid
def is_valid_label_value(value: str) -> list[str]:
    """Check a label value: empty, or up to 63 characters of a qualified name."""
    errs: list[str] = []
    if len(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_ERR, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def mask_trailing_dash(name: str) -> str:
    """Make a generateName prefix checkable: upstream replaces a trailing ``-`` (and the character before
    it, a quirk kept here) with ``a``, since random characters will follow it."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    """The name rule of most kinds (Pod, Node, Deployment, ConfigMap, ...)."""
    return is_dns1123_subdomain(mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    """The name rule of Namespaces."""
    return is_dns1123_label(mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    """The name rule of Services."""
    return is_dns1035_label(mask_trailing_dash(name) if prefix else name)


validate_namespace_name: NameValidator = name_is_dns_label

_NAME_VALIDATORS: Mapping[tuple[str, str], NameValidator] = {
    ("", "Namespace"): name_is_dns_label,
    ("", "Service"): name_is_dns1035_label,
}


def name_validator_for(group: str, kind: str) -> NameValidator:
    """The name rule of a kind, as upstream's per-kind ``Validate<Kind>Name``; DNS subdomain by default."""
    return _NAME_VALIDATORS.get((group, kind), name_is_dns_subdomain)


def _invalid(path: str, value: object, detail: str) -> FieldError:
    return FieldError(field=path, type=FieldErrorType.INVALID, bad_value=value, detail=detail)


def _required(path: str, detail: str = "") -> FieldError:
    return FieldError(field=path, type=FieldErrorType.REQUIRED, bad_value="", detail=detail)


def validate_labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    """Every key a qualified name and every value a label value (``metav1validation.ValidateLabels``)."""
    errs: list[FieldError] = []
    for key, value in labels.items():
        errs.extend(_invalid(path, key, m) for m in is_qualified_name(key))
        errs.extend(_invalid(path, value, m) for m in is_valid_label_value(value))
    return errs


def annotations_size(annotations: Mapping[str, str]) -> int:
    """Total size in bytes of keys and values, the quantity upstream limits to 256 KiB."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    """Keys are qualified names (case-insensitive) and the total size is at most 256 KiB."""
    errs = [_invalid(path, key, m) for key in annotations for m in is_qualified_name(key.lower())]
    if annotations_size(annotations) > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES:
        errs.append(
            FieldError(
                field=path,
                type=FieldErrorType.TOO_LONG,
                bad_value="<value omitted>",
                detail=f"may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT_BYTES} bytes",
            )
        )
    return errs


def validate_owner_references(refs: list[Mapping[str, Any]], path: str) -> list[FieldError]:
    """Each reference complete and not to an Event; at most one with ``controller: true``."""
    errs: list[FieldError] = []
    first_controller = ""
    for i, ref in enumerate(refs):
        at = f"{path}[{i}]"
        api_version = str(ref.get("apiVersion") or "")
        if not api_version:
            errs.append(_required(f"{at}.apiVersion", "must not be empty"))
        elif api_version.count("/") > 1 or api_version.endswith("/"):
            errs.append(_invalid(f"{at}.apiVersion", api_version, "must be <group>/<version> or <version>"))
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                errs.append(_required(f"{at}.{key}", "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errs.append(_invalid(at, dict(ref), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first_controller:
                errs.append(
                    _invalid(
                        path,
                        [dict(r) for r in refs],
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return errs


def validate_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    """Each finalizer a qualified name, and not both ``orphan`` and ``foregroundDeletion``."""
    errs = [_invalid(path, f, m) for f in finalizers for m in is_qualified_name(f)]
    orphan, foreground = FINALIZER_ORPHAN_DEPENDENTS, FINALIZER_DELETE_DEPENDENTS
    if orphan in finalizers and foreground in finalizers:
        detail = f"finalizer {orphan} and {foreground} cannot be both set"
        errs.append(_invalid(path, list(finalizers), detail))
    return errs


def validate_object_meta(
    meta: Mapping[str, Any],
    *,
    namespaced: bool,
    name_validator: NameValidator = name_is_dns_subdomain,
    path: str = "metadata",
) -> list[FieldError]:
    """Check ``metadata`` of an object being created (upstream's ``ValidateObjectMeta``).

    As upstream, this expects name generation to have happened already: a ``generateName`` is checked as a
    prefix, but an empty ``name`` is reported as ``name or generateName is required``.
    """
    errs: list[FieldError] = []
    generate_name = str(meta.get("generateName") or "")
    if generate_name:
        errs.extend(
            _invalid(f"{path}.generateName", generate_name, m) for m in name_validator(generate_name, True)
        )
    name = str(meta.get("name") or "")
    if not name:
        errs.append(_required(f"{path}.name", "name or generateName is required"))
    elif problems := name_validator(name, False):
        errs.extend(_invalid(f"{path}.name", name, m) for m in problems)
    namespace = str(meta.get("namespace") or "")
    if namespaced:
        if not namespace:
            errs.append(_required(f"{path}.namespace"))
        elif problems := validate_namespace_name(namespace, False):
            errs.extend(_invalid(f"{path}.namespace", namespace, m) for m in problems)
    elif namespace:
        errs.append(
            FieldError(
                field=f"{path}.namespace", type=FieldErrorType.FORBIDDEN, detail="not allowed on this type"
            )
        )
    if meta.get("generation"):
        errs.extend(_validate_generation(meta, path))
    # absent or empty collections have nothing to check (most objects carry few of them)
    if labels := meta.get("labels"):
        errs.extend(validate_labels(labels, f"{path}.labels"))
    if annotations := meta.get("annotations"):
        errs.extend(validate_annotations(annotations, f"{path}.annotations"))
    if owners := meta.get("ownerReferences"):
        errs.extend(validate_owner_references(owners, f"{path}.ownerReferences"))
    if finalizers := meta.get("finalizers"):
        errs.extend(validate_finalizers(finalizers, f"{path}.finalizers"))
    return errs


def validate_object_meta_update(
    new: Mapping[str, Any], old: Mapping[str, Any], *, path: str = "metadata"
) -> list[FieldError]:
    """Check ``metadata`` of an update against the stored object (upstream's ``ValidateObjectMetaUpdate``)."""
    errs: list[FieldError] = []
    if old.get("deletionTimestamp"):
        added = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if added:
            errs.append(
                FieldError(
                    field=f"{path}.finalizers",
                    type=FieldErrorType.FORBIDDEN,
                    detail="no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers []string{{{', '.join(json.dumps(f) for f in added)}}}",
                )
            )
    if not new.get("resourceVersion"):
        errs.append(
            _invalid(
                f"{path}.resourceVersion",
                str(new.get("resourceVersion") or ""),
                "must be specified for an update",
            )
        )
    errs.extend(_validate_generation(new, path))
    if int(new.get("generation") or 0) < int(old.get("generation") or 0):
        errs.append(
            _invalid(f"{path}.generation", int(new.get("generation") or 0), "must not be decremented")
        )
    for key in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        if new.get(key) != old.get(key):
            errs.append(_invalid(f"{path}.{key}", new.get(key), FIELD_IMMUTABLE_ERROR_MSG))
    errs.extend(validate_labels(new.get("labels") or {}, f"{path}.labels"))
    errs.extend(validate_annotations(new.get("annotations") or {}, f"{path}.annotations"))
    errs.extend(validate_owner_references(new.get("ownerReferences") or [], f"{path}.ownerReferences"))
    return errs


def _validate_generation(meta: Mapping[str, Any], path: str) -> list[FieldError]:
    generation = int(meta.get("generation") or 0)
    if generation < 0:
        return [_invalid(f"{path}.generation", generation, IS_NEGATIVE_ERROR_MSG)]
    return []
