"""Status failures as a kubectl user reads them: upstream's exact messages, reasons, codes and details."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.apiserver import status
from kube import errors, kinds


def kind(name: str) -> kinds.Kind:
    found = kinds.DEFAULT.lookup(name)
    assert found is not None
    return found


POD = kind("pods")
DEPLOYMENT = kind("deployments")

REQUIRED_NAME = errors.FieldError(field="spec.containers[0].name", type=errors.FieldErrorType.REQUIRED)
BAD_IMAGE = errors.FieldError(field="spec.containers[0].image", type=errors.FieldErrorType.REQUIRED)
BAD_LABEL = errors.FieldError(
    field="metadata.labels",
    type=errors.FieldErrorType.INVALID,
    bad_value="-x",
    detail="name part must consist of alphanumeric characters",
)

# (id, error, code, reason, message)
MESSAGES: list[tuple[str, status.ApiError, int, str, str]] = [
    ("not-found", status.not_found("pods", "web"), 404, "NotFound", 'pods "web" not found'),
    (
        "not-found-group",
        status.not_found(DEPLOYMENT, "web"),
        404,
        "NotFound",
        'deployments.apps "web" not found',
    ),
    ("already-exists", status.already_exists(POD, "web"), 409, "AlreadyExists", 'pods "web" already exists'),
    (
        "generate-name-conflict",
        status.generate_name_conflict("pods", "web-x7k2p", 1),
        409,
        "AlreadyExists",
        'pods "web-x7k2p" already exists, the server was not able to generate a unique name for the object',
    ),
    (
        "conflict",
        status.conflict("pods", "web"),
        409,
        "Conflict",
        'Operation cannot be fulfilled on pods "web": the object has been modified; please apply your '
        "changes to the latest version and try again",
    ),
    (
        "invalid-one-cause-has-no-brackets",
        status.invalid(POD, "web", [REQUIRED_NAME]),
        422,
        "Invalid",
        'Pod "web" is invalid: spec.containers[0].name: Required value',
    ),
    (
        "invalid-several-causes-bracketed",
        status.invalid(POD, "web", [REQUIRED_NAME, BAD_LABEL]),
        422,
        "Invalid",
        'Pod "web" is invalid: [spec.containers[0].name: Required value, metadata.labels: Invalid value: '
        '"-x": name part must consist of alphanumeric characters]',
    ),
    (
        "invalid-duplicates-printed-once",
        status.invalid("Deployment.apps", "web", [REQUIRED_NAME, REQUIRED_NAME]),
        422,
        "Invalid",
        'Deployment.apps "web" is invalid: spec.containers[0].name: Required value',
    ),
    ("invalid-no-causes", status.invalid(POD, "web", []), 422, "Invalid", 'Pod "web" is invalid'),
    ("bad-request", status.bad_request("json: bad"), 400, "BadRequest", "json: bad"),
    (
        "method-not-supported",
        status.method_not_supported("bindings", "list"),
        405,
        "MethodNotAllowed",
        'list is not supported on resources of kind "bindings"',
    ),
    (
        "not-acceptable",
        status.not_acceptable(["application/json", "application/yaml"]),
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml",
    ),
    (
        "not-acceptable-table",
        status.not_acceptable_conversion("Table", ["application/json"]),
        406,
        "NotAcceptable",
        "only the following media types are accepted when converting to Table: application/json",
    ),
    (
        "unsupported-media-type",
        status.unsupported_media_type(["application/json", "application/yaml"]),
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml",
    ),
    (
        "request-entity-too-large",
        status.request_entity_too_large("limit is 3145728"),
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    ),
    ("unauthorized", status.unauthorized(), 401, "Unauthorized", "Unauthorized"),
    ("unauthorized-empty", status.unauthorized(""), 401, "Unauthorized", "not authorized"),
    (
        "forbidden-namespaced",
        status.authorization_denied(user="bob", verb="get", resource="pods", namespace="default", name="web"),
        403,
        "Forbidden",
        'pods "web" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace '
        '"default"',
    ),
    (
        "forbidden-list-cluster-scope",
        status.authorization_denied(user="bob", verb="list", resource="nodes"),
        403,
        "Forbidden",
        'nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope',
    ),
    (
        "forbidden-group-and-subresource",
        status.authorization_denied(
            user="system:serviceaccount:ci:builder",
            verb="update",
            resource="deployments",
            subresource="scale",
            group="apps",
            namespace="prod",
            name="web",
        ),
        403,
        "Forbidden",
        'deployments.apps "web" is forbidden: User "system:serviceaccount:ci:builder" cannot update resource '
        '"deployments/scale" in API group "apps" in the namespace "prod"',
    ),
    (
        "forbidden-with-authorizer-reason",
        status.authorization_denied(
            user="bob",
            verb="get",
            resource="pods",
            namespace="default",
            reason='RBAC: clusterrole.rbac.authorization.k8s.io "viewer" not found',
        ),
        403,
        "Forbidden",
        'pods is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace '
        '"default": RBAC: clusterrole.rbac.authorization.k8s.io "viewer" not found',
    ),
    (
        "forbidden-non-resource-url",
        status.authorization_denied(user="bob", verb="get", path="/metrics"),
        403,
        "Forbidden",
        'forbidden: User "bob" cannot get path "/metrics"',
    ),
    (
        "forbidden-html-is-escaped",
        status.authorization_denied(user="<b>", verb="get", path="/a&b"),
        403,
        "Forbidden",
        'forbidden: User "&lt;b&gt;" cannot get path "/a&amp;b"',
    ),
    (
        "forbidden-by-admission",
        status.forbidden(
            "pods", "web", "unable to create new content in namespace t because it is being terminated"
        ),
        403,
        "Forbidden",
        'pods "web" is forbidden: unable to create new content in namespace t because it is being terminated',
    ),
    (
        "expired-watch-cache",
        status.too_old_resource_version(5, 10),
        410,
        "Expired",
        "too old resource version: 5 (10)",
    ),
    ("expired-list", status.resource_expired(status.EXPIRED_LIST), 410, "Expired", status.EXPIRED_LIST),
    ("gone", status.gone("gone away"), 410, "Gone", "gone away"),
    (
        "internal-error",
        status.internal_error("store unavailable"),
        500,
        "InternalError",
        "Internal error occurred: store unavailable",
    ),
    (
        "server-timeout",
        status.server_timeout("pods", "create", 2),
        500,
        "ServerTimeout",
        "The create operation against pods could not be completed at this time, please try again.",
    ),
    ("service-unavailable", status.service_unavailable("no leader"), 503, "ServiceUnavailable", "no leader"),
    (
        "timeout",
        status.timeout(),
        504,
        "Timeout",
        "Timeout: request did not complete within requested timeout",
    ),
    (
        "too-large-resource-version",
        status.too_large_resource_version(20, 12, 1),
        504,
        "Timeout",
        "Timeout: Too large resource version: 20, current: 12",
    ),
    (
        "too-many-requests",
        status.too_many_requests("Cannot evict pod as it would violate the pod's disruption budget."),
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
    ),
    (
        "too-many-requests-error",
        status.too_many_requests_error("please try again later"),
        429,
        "TooManyRequests",
        "Too many requests: please try again later",
    ),
]


@pytest.mark.parametrize(
    ("error", "code", "reason", "message"), [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES]
)
def test_message_reason_and_code_are_upstreams(
    error: status.ApiError, code: int, reason: str, message: str
) -> None:
    assert (error.code, error.reason, error.message) == (code, reason, message)
    assert (error.status["code"], error.status["reason"], error.status["message"]) == (code, reason, message)
    assert str(error) == message
    assert error.status["kind"] == "Status" and error.status["apiVersion"] == "v1"
    assert error.status["status"] == "Failure" and error.status["metadata"] == {}


def test_not_found_body_is_byte_for_byte_what_the_apiserver_writes() -> None:
    body = json.dumps(status.not_found("pods", "web").status, separators=(",", ":"))
    assert body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"web\\" not '
        'found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}'
    )


def test_details_name_group_and_resource_as_kind() -> None:
    assert status.not_found(DEPLOYMENT, "web").status["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "deployments",
    }


def test_invalid_details_carry_one_cause_per_field_error() -> None:
    error = status.invalid(DEPLOYMENT, "web", [REQUIRED_NAME, BAD_LABEL])
    assert error.status["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].name"},
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: "-x": name part must consist of alphanumeric characters',
                "field": "metadata.labels",
            },
        ],
    }


BODIES_WITHOUT_DETAILS = [
    ("bad-request", status.bad_request("x")),
    ("unauthorized", status.unauthorized()),
    ("expired", status.too_old_resource_version(1, 2)),
    ("not-acceptable", status.not_acceptable(["application/json"])),
]


@pytest.mark.parametrize(
    "error", [b[1] for b in BODIES_WITHOUT_DETAILS], ids=[b[0] for b in BODIES_WITHOUT_DETAILS]
)
def test_errors_upstream_builds_without_details_have_none(error: status.ApiError) -> None:
    assert "details" not in error.status


def test_retry_hints_and_causes() -> None:
    assert status.timeout(retry_after_seconds=0).status["details"] == {}
    assert status.server_timeout("pods", "get", 3).status["details"] == {
        "name": "get",
        "kind": "pods",
        "retryAfterSeconds": 3,
    }
    assert status.too_large_resource_version(20, 12, 1).status["details"] == {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    assert status.internal_error("boom").status["details"] == {"causes": [{"message": "boom"}]}
    assert status.forbidden("", "", "no").message == "forbidden: no"


def test_watch_error_event_wraps_the_status() -> None:
    error = status.too_old_resource_version(5, 10)
    assert status.watch_error_event(error) == {"type": "ERROR", "object": error.status}


def test_delete_success_names_the_object_and_its_resource() -> None:
    assert status.deleted("configmaps", "settings", "1f0c") == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "settings", "kind": "configmaps", "uid": "1f0c"},
    }
    assert status.status_success() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    }


REASONS = [
    (400, "BadRequest"),
    (404, "NotFound"),
    (409, "Conflict"),
    (410, "Expired"),
    (422, "Invalid"),
    (429, "TooManyRequests"),
    (500, "InternalError"),
    (502, "InternalError"),
    (504, "Timeout"),
    (418, ""),
]


@pytest.mark.parametrize(("code", "reason"), REASONS, ids=[str(c) for c, _ in REASONS])
def test_reason_for_code(code: int, reason: str) -> None:
    assert status.reason_for(code) == reason


GENERIC = [
    (
        "422-patch",
        status.generic_server_response(422, server_message="testing value /a failed"),
        "Invalid",
        "the server rejected our request due to an error in our request",
    ),
    (
        "409-post-is-already-exists",
        status.generic_server_response(409, verb="POST", resource="pods", name="web"),
        "AlreadyExists",
        "the server reported a conflict (post pods web)",
    ),
    (
        "403-keeps-server-message",
        status.generic_server_response(403, server_message="nope"),
        "Forbidden",
        "nope",
    ),
    (
        "502-is-internal",
        status.generic_server_response(502, server_message="bad gateway"),
        "InternalError",
        'an error on the server ("bad gateway") has prevented the request from succeeding',
    ),
    (
        "406-without-server-message",
        status.generic_server_response(406, server_message="unknown"),
        "NotAcceptable",
        "the server was unable to respond with a content type that the client supports",
    ),
    (
        "418-unknown",
        status.generic_server_response(418),
        "",
        "the server responded with the status code 418 but did not return more information",
    ),
]


@pytest.mark.parametrize(
    ("error", "reason", "message"), [g[1:] for g in GENERIC], ids=[g[0] for g in GENERIC]
)
def test_generic_server_response(error: status.ApiError, reason: str, message: str) -> None:
    assert (error.reason, error.message) == (reason, message)


KUBE_ERRORS: list[tuple[str, Exception, int, str, str]] = [
    (
        "validation",
        errors.ValidationError([REQUIRED_NAME]),
        422,
        "Invalid",
        'Pod "web" is invalid: spec.containers[0].name: Required value',
    ),
    (
        "codec",
        errors.CodecError("json: invalid character at line 1, column 2"),
        400,
        "BadRequest",
        "json: invalid character at line 1, column 2",
    ),
    (
        "selector",
        errors.SelectorError("unable to parse requirement: found '', expected: identifier"),
        400,
        "BadRequest",
        "unable to parse requirement: found '', expected: identifier",
    ),
    (
        "patch-fails-to-apply",
        errors.PatchError("testing value /spec failed"),
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    ),
    (
        "patch-malformed",
        errors.PatchError("a JSON patch must be a list of operations"),
        400,
        "BadRequest",
        "a JSON patch must be a list of operations",
    ),
    (
        "quantity",
        errors.QuantityError("unable to parse quantity's suffix"),
        400,
        "BadRequest",
        "unable to parse quantity's suffix",
    ),
    ("other", RuntimeError("boom"), 500, "InternalError", "Internal error occurred: boom"),
]


@pytest.mark.parametrize(
    ("error", "code", "reason", "message"), [k[1:] for k in KUBE_ERRORS], ids=[k[0] for k in KUBE_ERRORS]
)
def test_from_kube_error(error: Exception, code: int, reason: str, message: str) -> None:
    api_error = status.from_kube_error(error, kind=POD, name="web")
    assert (api_error.code, api_error.reason, api_error.message) == (code, reason, message)


def test_from_kube_error_passes_api_errors_through() -> None:
    error = status.not_found("pods", "web")
    assert status.from_kube_error(error) is error


QUOTES = [
    ("plain", "web", '"web"'),
    ("quote", 'a"b', '"a\\"b"'),
    ("newline", "a\nb", '"a\\nb"'),
    ("control", "a\x01b", '"a\\x01b"'),
    ("unicode", "héllo", '"héllo"'),
]


@pytest.mark.parametrize(("text", "quoted"), [q[1:] for q in QUOTES], ids=[q[0] for q in QUOTES])
def test_quote_is_gos_percent_q(text: str, quoted: str) -> None:
    assert status.quote(text) == quoted


def test_api_error_without_code_defaults_to_500() -> None:
    body: dict[str, Any] = {"kind": "Status", "status": "Failure", "message": "x"}
    assert status.ApiError(body).code == 500
    assert repr(status.not_found("pods", "a")) == "ApiError(404 NotFound: 'pods \"a\" not found')"
