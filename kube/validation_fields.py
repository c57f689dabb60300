"""Field-level building blocks shared by the per-kind validators (``validation_core``, ``validation_pod``,
``validation_apps``, ``validation_batch``, ``validation_autoscaling``).

What lives here, each worded as upstream:

* constructors for ``FieldError`` (apimachinery's ``field.Required``, ``field.Invalid``, ...) that render a
  bad value as current apimachinery does: strings quoted, numbers and booleans bare, anything composite as
  compact JSON with map keys sorted (``field.Error.ErrorBody`` marshals maps, lists and structs to JSON since
  Kubernetes 1.34). Composite values are wrapped in ``Rendered`` so ``FieldError.message()`` prints them
  verbatim;
* the string checks of ``util/validation`` that ``kube/validation.py`` does not have yet (port numbers and
  names, config-map keys, environment variable names, percentages, path segments, IP addresses);
* ``semantic_equal``, the counterpart of ``apiequality.Semantic.DeepEqual`` on JSON-shaped data: a missing
  field, ``null`` and the zero value (``""``, ``0``, ``false``, ``[]``, ``{}``) compare equal, as a Go
  struct cannot tell them apart;
* label selectors: ``validate_label_selector`` (``metav1validation.ValidateLabelSelector``) and the
  renderings upstream prints for selectors and label maps.

Field paths are plain strings (``spec.containers[0].name``); ``child``, ``index`` and ``key`` build them as
``field.Path`` does. Everything is pure and never raises on malformed input: a wrong type reads as absent.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kube import validation
from kube.errors import FieldError, FieldErrorType

FIELD_IMMUTABLE = validation.FIELD_IMMUTABLE_ERROR_MSG
IS_NEGATIVE = validation.IS_NEGATIVE_ERROR_MSG
MAX_INT32 = 2**31 - 1
OMITTED = "<value omitted>"


@dataclasses.dataclass(frozen=True, slots=True)
class Rendered:
    """A bad value already printed the way upstream prints it (``FieldError`` shows ``str()`` of it)."""

    text: str

    def __str__(self) -> str:
        return self.text


def go_json(value: object, *, sort_keys: bool = True) -> str:
    """``json.Marshal`` output: compact, UTF-8, with Go's HTML-safe escapes of ``<``, ``>`` and ``&``."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def shown(value: object, *, sort_keys: bool = True) -> object:
    """The bad value as a ``FieldError`` should carry it: scalars as they are, the rest rendered as JSON."""
    if value is None or isinstance(value, str | bool | int | float | Rendered):
        return value
    return Rendered(go_json(value, sort_keys=sort_keys))


# --- paths -------------------------------------------------------------------------------------------------


def child(path: str, *names: str) -> str:
    """``field.Path.Child``: ``spec`` + ``template`` -> ``spec.template``."""
    tail = ".".join(names)
    return f"{path}.{tail}" if path else tail


def index(path: str, i: int) -> str:
    """``field.Path.Index``: ``spec.containers[0]``."""
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    """``field.Path.Key``: ``data[config.yaml]`` (no quotes, as upstream)."""
    return f"{path}[{k}]"


# --- constructors -------------------------------------------------------------------------------------------


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(field=path, type=FieldErrorType.REQUIRED, bad_value="", detail=detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(field=path, type=FieldErrorType.FORBIDDEN, bad_value="", detail=detail)


def invalid(path: str, value: object, detail: str, *, sort_keys: bool = True) -> FieldError:
    bad = shown(value, sort_keys=sort_keys)
    return FieldError(field=path, type=FieldErrorType.INVALID, bad_value=bad, detail=detail)


def duplicate(path: str, value: object) -> FieldError:
    return FieldError(field=path, type=FieldErrorType.DUPLICATE, bad_value=shown(value))


def not_found(path: str, value: object) -> FieldError:
    return FieldError(field=path, type=FieldErrorType.NOT_FOUND, bad_value=shown(value))


def not_supported(path: str, value: object, valid: Sequence[str]) -> FieldError:
    """``field.NotSupported``: the valid values quoted, in the order given (upstream often sorts them)."""
    detail = "supported values: " + ", ".join(json.dumps(v) for v in valid) if valid else ""
    return FieldError(field=path, type=FieldErrorType.NOT_SUPPORTED, bad_value=shown(value), detail=detail)


def too_long(path: str, max_bytes: int) -> FieldError:
    unit = "byte" if max_bytes == 1 else "bytes"
    return FieldError(
        field=path,
        type=FieldErrorType.TOO_LONG,
        bad_value=OMITTED,
        detail=f"may not be more than {max_bytes} {unit}",
    )


# --- reading JSON-shaped data without trusting it -----------------------------------------------------------


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    if type(value) is dict:  # what decoders produce: no ABC check on every field of every write
        return value
    return value if isinstance(value, Mapping) else {}


def items(value: object) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return list(value) if isinstance(value, list) else []


def integer(value: object) -> int | None:
    """A JSON integer (not a bool), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def text(value: object) -> str:
    """A JSON string, or ``""``."""
    return value if isinstance(value, str) else ""


# --- string checks (util/validation) ------------------------------------------------------------------------


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


_PORT_NAME_CHARSET = re.compile(r"[-a-z0-9]+", re.ASCII)
_PORT_NAME_LETTER = re.compile(r"[a-z]", re.ASCII)


def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 of ``[-a-z0-9]``, at least one letter, no ``--``, no edge hyphen."""
    errs: list[str] = []
    if len(port) > 15:
        errs.append(validation.max_len_error(15))
    if not _PORT_NAME_CHARSET.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_MAP_KEY_RE = re.compile(_CONFIG_MAP_KEY_FMT, re.ASCII)


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


@validation.remembers_valid
def is_config_map_key(value: str) -> list[str]:
    """A key of ``ConfigMap.data`` or ``Secret.data``."""
    errs: list[str] = []
    if len(value) > validation.DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(validation.max_len_error(validation.DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _CONFIG_MAP_KEY_RE.fullmatch(value):
        errs.append(
            validation.regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_MAP_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    return errs + _chdir_prefix(value)


def is_relaxed_env_var_name(value: str) -> list[str]:
    """``IsRelaxedEnvVarName`` (the rule since RelaxedEnvironmentVariableValidation went GA)."""
    errs: list[str] = []
    if not value:
        errs.append("environment variable name " + validation.empty_error())
    if any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in value):
        errs.append(
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
        )
    return errs


_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = re.compile(_PERCENT_FMT, re.ASCII)


def is_valid_percent(value: str) -> list[str]:
    if _PERCENT_RE.fullmatch(value):
        return []
    msg = "a valid percent string must be a numeric string followed by an ending '%'"
    return [validation.regex_error(msg, _PERCENT_FMT, "1%", "93%")]


def is_path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """A name that can be a URL path segment (``IsValidPathSegmentName``): RBAC names, HPA targets. A
    ``prefix`` (a generateName) is only checked for what it contains (``IsValidPathSegmentPrefix``)."""
    if name in (".", "..") and not prefix:
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def is_valid_ip(path: str, value: str) -> list[FieldError]:
    """``IsValidIPForLegacyField`` with strict validation: any IPv4 or IPv6 address, no leading zeros."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        if _sloppy_ipv4(value):
            return [invalid(path, value, "must not have leading 0s")]
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return [invalid(path, value, "must not be an IPv4-mapped IPv6 address")]
    return []


def _sloppy_ipv4(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 4 and all(p.isdigit() and p.isascii() and int(p) < 256 for p in parts)


def validate_dns1123_label(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in validation.is_dns1123_label(value)]


def validate_dns1123_subdomain(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in validation.is_dns1123_subdomain(value)]


def validate_qualified_name(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in validation.is_qualified_name(value)]


def validate_nonnegative(value: object, path: str) -> list[FieldError]:
    """``ValidateNonnegativeField`` on an optional integer (absent passes)."""
    number = integer(value)
    return [invalid(path, number, IS_NEGATIVE)] if number is not None and number < 0 else []


# --- semantic equality and immutability ---------------------------------------------------------------------


def _is_zero(value: object) -> bool:
    return value is None or value is False or value == "" or value == 0 or value == [] or value == {}


def semantic_equal(a: object, b: object) -> bool:
    """Equality as Go sees two structs decoded from these JSON values (absent == null == zero value)."""
    if isinstance(a, Mapping) and b is None:
        b = {}
    elif isinstance(b, Mapping) and a is None:
        a = {}
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return all(semantic_equal(a.get(k), b.get(k)) for k in set(a) | set(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(semantic_equal(x, y) for x, y in zip(a, b, strict=True))
    if _is_zero(a) and _is_zero(b):
        return True
    return type(a) is type(b) and a == b


def validate_immutable(new: object, old: object, path: str, *, value: object = None) -> list[FieldError]:
    """``ValidateImmutableField``: ``path: Invalid value: <new>: field is immutable`` when they differ.

    ``value`` overrides what is printed (the rendering of a whole struct, for instance).
    """
    if semantic_equal(new, old):
        return []
    return [invalid(path, new if value is None else value, FIELD_IMMUTABLE)]


# --- label selectors ----------------------------------------------------------------------------------------

_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def selector_value(selector: object) -> object:
    """A ``*metav1.LabelSelector`` as JSON marshals it (``matchLabels`` before ``matchExpressions``)."""
    if not isinstance(selector, Mapping):
        return None
    out: dict[str, Any] = {}
    if selector.get("matchLabels"):
        out["matchLabels"] = dict(sorted(mapping(selector.get("matchLabels")).items()))
    expressions = []
    for expr in items(selector.get("matchExpressions")):
        e = mapping(expr)
        req: dict[str, Any] = {"key": text(e.get("key")), "operator": text(e.get("operator"))}
        if e.get("values"):
            req["values"] = items(e.get("values"))
        expressions.append(req)
    if expressions:
        out["matchExpressions"] = expressions
    return out


def selector_shown(selector: object) -> object:
    """How upstream prints a label selector as a bad value."""
    return Rendered(go_json(selector_value(selector), sort_keys=False))


def labels_shown(labels: object) -> object:
    """How upstream prints a ``map[string]string`` bad value (``null`` when the map is absent)."""
    return Rendered(go_json(dict(labels) if isinstance(labels, Mapping) else None))


def validate_label_selector(selector: object, path: str) -> list[FieldError]:
    """``metav1validation.ValidateLabelSelector`` (label values checked strictly)."""
    if not isinstance(selector, Mapping):
        return []
    errs = validation.validate_labels(
        {str(k): text(v) for k, v in mapping(selector.get("matchLabels")).items()}, child(path, "matchLabels")
    )
    for i, expr in enumerate(items(selector.get("matchExpressions"))):
        errs.extend(_validate_requirement(mapping(expr), index(child(path, "matchExpressions"), i)))
    return errs


def _validate_requirement(req: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    operator = req.get("operator")
    values = [text(v) for v in items(req.get("values"))]
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(
                required(child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            errs.append(forbidden(child(path, "values"), detail))
    else:
        errs.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
    errs.extend(validate_qualified_name(text(req.get("key")), child(path, "key")))
    for i, value in enumerate(values):
        errs.extend(
            invalid(index(child(path, "values"), i), value, m) for m in validation.is_valid_label_value(value)
        )
    return errs


def dedup(errors: Iterable[FieldError]) -> list[FieldError]:
    """Drop repeated messages, keeping the first (``ErrorList.ToAggregate`` does the same)."""
    seen: set[str] = set()
    out: list[FieldError] = []
    for e in errors:
        message = e.message()
        if message not in seen:
            seen.add(message)
            out.append(e)
    return out
