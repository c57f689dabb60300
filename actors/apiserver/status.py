"""``metav1.Status`` failures, and ``ApiError``, the exception that carries one to the HTTP edge.

Every error the apiserver answers with is built here, worded as apimachinery's ``api/errors`` package and
the apiserver's handlers word it, so ``kubectl`` prints what it prints against a real cluster (``Error from
server (NotFound): pods "web" not found``) and clients that branch on ``reason`` and ``code`` behave.

What this module promises:

- Pure: constructors take data and return an ``ApiError``; nothing is raised, logged or read from a clock.
  Callers write ``raise status.not_found(...)``.
- ``ApiError.status`` is the JSON body, already shaped as the wire form: ``kind``, ``apiVersion``,
  ``metadata: {}``, ``status``, then ``message``, ``reason``, ``details`` and ``code`` only when upstream's
  ``omitempty`` would keep them. ``details`` drops empty members the same way (``group`` of the core group).
- Resources are named by a ``kinds.Kind`` or by their qualified string (``pods``, ``deployments.apps``);
  ``invalid`` names the kind (``Pod``, ``Deployment.apps``), as upstream's ``GroupKind`` does.
- ``from_kube_error`` maps the object model's typed errors to the status upstream's handlers return.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any

from kube import errors, kinds


class Reason(enum.StrEnum):
    """``metav1.StatusReason``: why a request failed, the field clients branch on."""

    UNKNOWN = ""
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    CONFLICT = "Conflict"
    GONE = "Gone"
    INVALID = "Invalid"
    SERVER_TIMEOUT = "ServerTimeout"
    STORE_READ_ERROR = "StorageReadError"
    TIMEOUT = "Timeout"
    TOO_MANY_REQUESTS = "TooManyRequests"
    BAD_REQUEST = "BadRequest"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    NOT_ACCEPTABLE = "NotAcceptable"
    REQUEST_ENTITY_TOO_LARGE = "RequestEntityTooLarge"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    INTERNAL_ERROR = "InternalError"
    EXPIRED = "Expired"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"


# The registry's optimistic-lock message: what a stale resourceVersion on update or delete gets.
OBJECT_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
# etcd3 storage's messages when a revision has been compacted away.
EXPIRED_LIST = "The resourceVersion for the provided list is too old."
EXPIRED_WATCH = "The resourceVersion for the provided watch is too old."
CAUSE_RESOURCE_VERSION_TOO_LARGE = "ResourceVersionTooLarge"
CAUSE_UNEXPECTED_SERVER_RESPONSE = "UnexpectedServerResponse"

_REASON_FOR_CODE = {
    400: Reason.BAD_REQUEST,
    401: Reason.UNAUTHORIZED,
    403: Reason.FORBIDDEN,
    404: Reason.NOT_FOUND,
    405: Reason.METHOD_NOT_ALLOWED,
    406: Reason.NOT_ACCEPTABLE,
    409: Reason.CONFLICT,
    410: Reason.EXPIRED,
    413: Reason.REQUEST_ENTITY_TOO_LARGE,
    415: Reason.UNSUPPORTED_MEDIA_TYPE,
    422: Reason.INVALID,
    429: Reason.TOO_MANY_REQUESTS,
    503: Reason.SERVICE_UNAVAILABLE,
    504: Reason.TIMEOUT,
}

# NewGenericServerResponse: the reason and message for a status code that came without a body. ``None``
# means the server's own message is kept (it says who was refused, or which media types are accepted).
_GENERIC: dict[int, tuple[Reason, str | None]] = {
    400: (Reason.BAD_REQUEST, "the server rejected our request for an unknown reason"),
    401: (Reason.UNAUTHORIZED, "the server has asked for the client to provide credentials"),
    403: (Reason.FORBIDDEN, None),
    404: (Reason.NOT_FOUND, "the server could not find the requested resource"),
    405: (Reason.METHOD_NOT_ALLOWED, "the server does not allow this method on the requested resource"),
    406: (Reason.NOT_ACCEPTABLE, None),
    409: (Reason.CONFLICT, "the server reported a conflict"),
    415: (Reason.UNSUPPORTED_MEDIA_TYPE, None),
    422: (Reason.INVALID, "the server rejected our request due to an error in our request"),
    429: (
        Reason.TOO_MANY_REQUESTS,
        "the server has received too many requests and has asked us to try again later",
    ),
    503: (Reason.SERVICE_UNAVAILABLE, "the server is currently unable to handle the request"),
    504: (
        Reason.TIMEOUT,
        "the server was unable to return a response in the time allotted, "
        "but may still be processing the request",
    ),
}


class ApiError(Exception):
    """A failed request: ``status`` is the ``metav1.Status`` body the apiserver writes, with its code."""

    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status.get("message", ""))
        self.status = status

    @property
    def code(self) -> int:
        """The HTTP status code (``status.code``); 500 when the body has none, as upstream defaults it."""
        code = self.status.get("code")
        return code if isinstance(code, int) and code else 500

    @property
    def reason(self) -> str:
        """``status.reason`` (``NotFound``, ``Conflict``...); ``""`` when unknown."""
        return str(self.status.get("reason", ""))

    @property
    def message(self) -> str:
        """``status.message``, what ``kubectl`` prints after ``Error from server (Reason):``."""
        return str(self.status.get("message", ""))

    def __repr__(self) -> str:
        return f"ApiError({self.code} {self.reason}: {self.message!r})"


def reason_for(code: int) -> str:
    """The reason this module gives a failure with HTTP ``code``: ``404`` is ``NotFound``, ``410`` is
    ``Expired``, other 5xx are ``InternalError``; ``""`` (``StatusReasonUnknown``) for anything else."""
    if code in _REASON_FOR_CODE:
        return _REASON_FOR_CODE[code].value
    return Reason.INTERNAL_ERROR.value if code >= 500 else Reason.UNKNOWN.value


def quote(text: str) -> str:
    """Go's ``%q`` for a string: double quotes, backslash escapes for quotes and control characters."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def failure(
    *, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``Status`` body with ``status: Failure``; empty message, reason and code are left out."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = dict(details)
    if code:
        body["code"] = code
    return body


def status_success(details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A ``Status`` with ``status: Success``, what deletes of kinds that do not return the object answer."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        body["details"] = dict(details)
    return body


def deleted(resource: kinds.Kind | str, name: str, uid: str = "") -> dict[str, Any]:
    """A delete that returns no object: details name it, with the resource in ``kind`` as upstream puts it."""
    group, plural = _group_resource(resource)
    return status_success(_details(name=name, group=group, kind=plural, uid=uid))


def watch_error_event(error: ApiError) -> dict[str, Any]:
    """The ``{"type": "ERROR", "object": Status}`` event a watch sends before it closes on a failure."""
    return {"type": "ERROR", "object": error.status}


# ---------------------------------------------------------------------------------------------------------
# Errors about one object or resource (NewNotFound, NewAlreadyExists, NewConflict, NewInvalid, ...)


def not_found(resource: kinds.Kind | str, name: str) -> ApiError:
    """404 ``NotFound``: ``pods "web" not found``."""
    group, plural = _group_resource(resource)
    return _error(
        404,
        Reason.NOT_FOUND,
        f"{_qualified(group, plural)} {quote(name)} not found",
        _details(name=name, group=group, kind=plural),
    )


def already_exists(resource: kinds.Kind | str, name: str) -> ApiError:
    """409 ``AlreadyExists``: ``pods "web" already exists``."""
    group, plural = _group_resource(resource)
    return _error(
        409,
        Reason.ALREADY_EXISTS,
        f"{_qualified(group, plural)} {quote(name)} already exists",
        _details(name=name, group=group, kind=plural),
    )


def generate_name_conflict(resource: kinds.Kind | str, name: str, retry_after_seconds: int) -> ApiError:
    """409 ``AlreadyExists`` for a ``generateName`` that collided: the client should retry after a delay."""
    group, plural = _group_resource(resource)
    message = (
        f"{_qualified(group, plural)} {quote(name)} already exists, "
        "the server was not able to generate a unique name for the object"
    )
    details = _details(name=name, group=group, kind=plural, retry_after_seconds=retry_after_seconds)
    return _error(409, Reason.ALREADY_EXISTS, message, details)


def conflict(resource: kinds.Kind | str, name: str, cause: str = OBJECT_MODIFIED) -> ApiError:
    """409 ``Conflict``: ``Operation cannot be fulfilled on pods "web": <cause>``."""
    group, plural = _group_resource(resource)
    return _error(
        409,
        Reason.CONFLICT,
        f"Operation cannot be fulfilled on {_qualified(group, plural)} {quote(name)}: {cause}",
        _details(name=name, group=group, kind=plural),
    )


def invalid(kind: kinds.Kind | str, name: str, field_errors: Sequence[errors.FieldError]) -> ApiError:
    """422 ``Invalid``: ``Pod "web" is invalid: [spec.containers[0].name: Required value, ...]``.

    ``kind`` is a ``Kind`` or its qualified name (``Deployment.apps``). One cause per field error, as
    ``{reason, message, field}``; the message lists them as upstream's aggregate does: bare when one,
    bracketed and comma-separated when several, each distinct text once.
    """
    if isinstance(kind, kinds.Kind):
        group, kind_name = kind.group, kind.kind
    else:
        kind_name, _, group = kind.partition(".")
    causes = [
        _cause(reason=e.type.value, message=dataclasses.replace(e, field="").message(), field=e.field)
        for e in field_errors
    ]
    qualified = f"{kind_name}.{group}" if group else kind_name
    message = f"{qualified} {quote(name)} is invalid"
    texts = list(dict.fromkeys(e.message() for e in field_errors))
    if len(texts) == 1:
        message += f": {texts[0]}"
    elif texts:
        message += f": [{', '.join(texts)}]"
    details = _details(name=name, group=group, kind=kind_name, causes=causes)
    return _error(422, Reason.INVALID, message, details)


def method_not_supported(resource: kinds.Kind | str, action: str) -> ApiError:
    """405 ``MethodNotAllowed``: ``create is not supported on resources of kind "bindings"``."""
    group, plural = _group_resource(resource)
    message = f"{action} is not supported on resources of kind {quote(_qualified(group, plural))}"
    return _error(405, Reason.METHOD_NOT_ALLOWED, message, _details(group=group, kind=plural))


def server_timeout(resource: kinds.Kind | str, operation: str, retry_after_seconds: int) -> ApiError:
    """500 ``ServerTimeout``: a transient failure the client should retry after the given delay."""
    group, plural = _group_resource(resource)
    message = (
        f"The {operation} operation against {_qualified(group, plural)} could not be completed at this time, "
        "please try again."
    )
    details = _details(name=operation, group=group, kind=plural, retry_after_seconds=retry_after_seconds)
    return _error(500, Reason.SERVER_TIMEOUT, message, details)


def forbidden(resource: kinds.Kind | str, name: str, cause: str) -> ApiError:
    """403 ``Forbidden`` with a reason of the caller's (admission): ``pods "web" is forbidden: <cause>``."""
    group, plural = _group_resource(resource)
    if not plural:
        message = f"forbidden: {cause}"
    elif not name:
        message = f"{_qualified(group, plural)} is forbidden: {cause}"
    else:
        message = f"{_qualified(group, plural)} {quote(name)} is forbidden: {cause}"
    return _error(403, Reason.FORBIDDEN, message, _details(name=name, group=group, kind=plural))


def authorization_denied(
    *,
    user: str,
    verb: str,
    resource: str = "",
    group: str = "",
    namespace: str = "",
    name: str = "",
    subresource: str = "",
    path: str | None = None,
    reason: str = "",
) -> ApiError:
    """403 ``Forbidden`` for a request the authorizer denied, from the attributes it checked.

    A resource request reads ``pods "web" is forbidden: User "bob" cannot get resource "pods" in API group ""
    in the namespace "default"`` (``at the cluster scope`` without a namespace); a non-resource request
    (``path`` given) reads ``forbidden: User "bob" cannot get path "/metrics"``. A non-empty authorizer
    ``reason`` (``RBAC: ...``) is appended after a colon, as the apiserver's ``Forbidden`` writer does.
    """
    if path is not None:
        text = f"User {quote(user)} cannot {verb} path {quote(path)}"
        resource, group, name = "", "", ""
    else:
        full = f"{resource}/{subresource}" if subresource else resource
        where = f"in the namespace {quote(namespace)}" if namespace else "at the cluster scope"
        text = f"User {quote(user)} cannot {verb} resource {quote(full)} in API group {quote(group)} {where}"
    # Avoid emitting errors that look like valid HTML, as upstream does; quotes are fine.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if reason:
        text = f"{text}: {reason}"
    return forbidden(_qualified(group, resource), name, text)


# ---------------------------------------------------------------------------------------------------------
# Errors about the request itself


def bad_request(message: str) -> ApiError:
    """400 ``BadRequest`` with the message as given (a decode error, a bad query parameter)."""
    return _error(400, Reason.BAD_REQUEST, message)


def unauthorized(message: str = "Unauthorized") -> ApiError:
    """401 ``Unauthorized``; the authentication filter's message is ``Unauthorized``."""
    return _error(401, Reason.UNAUTHORIZED, message or "not authorized")


def not_acceptable(accepted: Sequence[str]) -> ApiError:
    """406 ``NotAcceptable``: no media type of the ``Accept`` header can be served."""
    message = f"only the following media types are accepted: {', '.join(accepted)}"
    return _error(406, Reason.NOT_ACCEPTABLE, message)


def not_acceptable_conversion(target: str, accepted: Sequence[str]) -> ApiError:
    """406 ``NotAcceptable`` for ``as=Table`` (or another conversion) in a media type that cannot carry it."""
    message = (
        f"only the following media types are accepted when converting to {target}: {', '.join(accepted)}"
    )
    return _error(406, Reason.NOT_ACCEPTABLE, message)


def unsupported_media_type(accepted: Sequence[str]) -> ApiError:
    """415 ``UnsupportedMediaType``: the body's ``Content-Type`` is not one the server decodes."""
    message = "the body of the request was in an unknown format - accepted media types include: " + ", ".join(
        accepted
    )
    return _error(415, Reason.UNSUPPORTED_MEDIA_TYPE, message)


def request_entity_too_large(message: str) -> ApiError:
    """413 ``RequestEntityTooLarge``: ``Request entity too large: limit is 3145728``."""
    return _error(413, Reason.REQUEST_ENTITY_TOO_LARGE, f"Request entity too large: {message}")


def too_many_requests(
    message: str, *, retry_after_seconds: int = 0, causes: Sequence[Mapping[str, str]] = ()
) -> ApiError:
    """429 ``TooManyRequests`` with the message as given (an eviction blocked by a disruption budget)."""
    details = _details(retry_after_seconds=retry_after_seconds, causes=[dict(c) for c in causes])
    return _error(429, Reason.TOO_MANY_REQUESTS, message, details)


def too_many_requests_error(message: str) -> ApiError:
    """429 ``TooManyRequests``: ``Too many requests: <message>``, no retry hint."""
    return _error(429, Reason.TOO_MANY_REQUESTS, f"Too many requests: {message}")


def gone(message: str) -> ApiError:
    """410 ``Gone`` (deprecated upstream in favour of ``resource_expired``)."""
    return _error(410, Reason.GONE, message)


def resource_expired(message: str) -> ApiError:
    """410 ``Expired``: the requested resourceVersion or continue token is no longer available."""
    return _error(410, Reason.EXPIRED, message)


def too_old_resource_version(requested: int, oldest: int) -> ApiError:
    """410 ``Expired`` from the watch cache: ``too old resource version: 5 (10)``.

    ``oldest`` is printed as given: upstream prints the oldest revision the cache still holds, minus one.
    """
    return resource_expired(f"too old resource version: {requested} ({oldest})")


def internal_error(message: str) -> ApiError:
    """500 ``InternalError``: ``Internal error occurred: <message>``, the message also as the one cause."""
    details = _details(causes=[_cause(message=message)])
    return _error(500, Reason.INTERNAL_ERROR, f"Internal error occurred: {message}", details)


def service_unavailable(message: str) -> ApiError:
    """503 ``ServiceUnavailable`` with the message as given."""
    return _error(503, Reason.SERVICE_UNAVAILABLE, message)


def timeout(
    message: str = "request did not complete within requested timeout", retry_after_seconds: int = 0
) -> ApiError:
    """504 ``Timeout``: ``Timeout: request did not complete within requested timeout``."""
    details = _details(retry_after_seconds=retry_after_seconds)
    return _error(504, Reason.TIMEOUT, f"Timeout: {message}", details)


def too_large_resource_version(minimum: int, current: int, retry_after_seconds: int) -> ApiError:
    """504 ``Timeout`` for a read at a resourceVersion the store has not reached yet; clients retry."""
    error = timeout(f"Too large resource version: {minimum}, current: {current}", retry_after_seconds)
    error.status["details"]["causes"] = [
        _cause(reason=CAUSE_RESOURCE_VERSION_TOO_LARGE, message="Too large resource version")
    ]
    return error


def generic_server_response(
    code: int,
    *,
    verb: str = "",
    resource: kinds.Kind | str = "",
    name: str = "",
    server_message: str = "",
    retry_after_seconds: int = 0,
) -> ApiError:
    """A status with only a code to go on, worded as ``NewGenericServerResponse`` (a failed JSON patch is
    ``422``: ``the server rejected our request due to an error in our request``)."""
    group, plural = _group_resource(resource)
    reason, message = _GENERIC.get(code, (Reason.UNKNOWN, None))
    if code == 409 and verb.upper() == "POST":
        reason = Reason.ALREADY_EXISTS
    if code == 406 and server_message in ("", "unknown"):
        message = "the server was unable to respond with a content type that the client supports"
    elif code in _GENERIC and message is None:
        message = server_message
    elif code not in _GENERIC and code >= 500:
        reason = Reason.INTERNAL_ERROR
        message = (
            f"an error on the server ({quote(server_message)}) has prevented the request from succeeding"
        )
    elif code not in _GENERIC:
        message = f"the server responded with the status code {code} but did not return more information"
    if plural:
        target = f"{_qualified(group, plural)} {name}" if name else _qualified(group, plural)
        message = f"{message} ({verb.lower()} {target})"
    details = _details(name=name, group=group, kind=plural, retry_after_seconds=retry_after_seconds)
    return _error(code, reason, message or "", details)


def from_kube_error(error: Exception, *, kind: kinds.Kind | str = "", name: str = "") -> ApiError:
    """The status upstream's handlers answer for an object-model error met while serving a request.

    ``ValidationError`` is 422 ``Invalid`` for ``kind``/``name``; ``CodecError`` and ``SelectorError`` are 400
    ``BadRequest`` with their message (a body or query that does not decode); a ``PatchError`` is 400 when
    the patch document itself is malformed and a generic 422 when it fails to apply, as upstream splits
    them; any other ``KubeError`` is 400; anything else is a 500 internal error. An ``ApiError`` passes
    through unchanged.
    """
    if isinstance(error, ApiError):
        return error
    if isinstance(error, errors.ValidationError):
        return invalid(kind, name, error.errors)
    if isinstance(error, errors.PatchError):
        if str(error).startswith(_MALFORMED_PATCH):
            return bad_request(str(error))
        return generic_server_response(422, server_message=str(error))
    if isinstance(error, errors.KubeError):
        return bad_request(str(error))
    return internal_error(str(error))


# Messages of kube.patch and kube.strategic_merge_patch for a patch document that cannot be decoded or is
# in an unknown format: upstream answers those 400 before trying to apply anything.
_MALFORMED_PATCH = (
    "a JSON patch must be a list of operations",
    "a JSON patch operation must be an object",
    "invalid JSON document",
    "invalid patch format of",
    "unknown patch type",
)


# ---------------------------------------------------------------------------------------------------------
# helpers


def _error(code: int, reason: Reason | str, message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(failure(code=code, reason=str(reason), message=message, details=details))


def _group_resource(resource: kinds.Kind | str) -> tuple[str, str]:
    if isinstance(resource, kinds.Kind):
        return resource.group, resource.resource
    plural, _, group = resource.partition(".")
    return group, plural


def _qualified(group: str, resource: str) -> str:
    """``schema.GroupResource.String()``: ``pods``, ``deployments.apps``."""
    return f"{resource}.{group}" if group else resource


def _details(
    *,
    name: str = "",
    group: str = "",
    kind: str = "",
    uid: str = "",
    causes: Sequence[Mapping[str, str]] = (),
    retry_after_seconds: int = 0,
) -> dict[str, Any]:
    """``metav1.StatusDetails`` in its JSON field order, every member ``omitempty``."""
    details: dict[str, Any] = {}
    for key, value in (("name", name), ("group", group), ("kind", kind), ("uid", uid)):
        if value:
            details[key] = value
    if causes:
        details["causes"] = [dict(c) for c in causes]
    if retry_after_seconds:
        details["retryAfterSeconds"] = retry_after_seconds
    return details


def _cause(*, reason: str = "", message: str = "", field: str = "") -> dict[str, str]:
    """``metav1.StatusCause``: ``type`` is written as ``reason``; empty members are left out."""
    cause = {"reason": reason, "message": message, "field": field}
    return {k: v for k, v in cause.items() if v}
