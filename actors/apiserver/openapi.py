"""OpenAPI: the v3 documents (and a minimal v2) that let kubectl apply and create validate on the server.

Pure functions from a ``kube.kinds.Registry`` to OpenAPI documents as dicts; the HTTP handler serializes
them with ``kube.codec.to_json`` (``CONTENT_TYPE_JSON``). Nothing here does I/O.

What kubectl 1.32 fetches and why (client-go ``openapi``, ``openapi3``; cli-runtime ``query_param_verifier``;
kubectl ``apply/patcher.go``, ``cmd/util/factory_client_access.go``, ``validation/schema.go``):

1. ``kubectl apply``/``create``/``replace`` default to ``--validate=strict``. Before sending an object kubectl
   asks whether the server supports the ``fieldValidation`` query parameter for its GVK. It reads
   ``GET /openapi/v3`` (``Accept: application/json, */*``), an index ``{"paths": {"api/v1":
   {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, "apis/apps/v1": {...}}}`` keyed by group version
   path without the leading slash, then ``GET`` the ``serverRelativeURL`` of the object's group version
   (``Accept: application/json``; the ``hash`` query string is passed back as given). In that document it
   walks ``paths``, takes the first ``patch`` operation whose ``x-kubernetes-group-version-kind`` (a single
   ``{group, version, kind}`` object) is the object's GVK, and looks for a parameter named
   ``fieldValidation`` with ``in: query``. Found: the server validates, kubectl sends
   ``?fieldValidation=Strict`` and validates nothing itself. Every ``patch`` operation of a GVK must
   therefore list the parameter (the map order is random), which ``group_version_document`` does.
   Not found: kubectl falls back to ``/openapi/v2`` (below) and, failing that too, refuses the object
   with ``error validating data``; so every kind that serves ``patch`` must have its paths here.
2. ``kubectl apply`` on an existing object computes a three-way patch. It first looks in the same v3
   document for a ``patch`` operation of the GVK whose ``requestBody.content`` offers
   ``application/strategic-merge-patch+json``; if so, it takes the patch metadata (merge keys, list
   strategies) from the schema in ``components.schemas`` that carries the GVK. Our schemas are permissive
   (below), so such metadata would be wrong (every list replaced whole). We therefore leave strategic merge
   patch out of ``content``: kubectl then tries ``/openapi/v2`` as protobuf, gets 406, and uses the patch
   metadata compiled into it for built-in kinds, which is exact; for kinds it does not know it sends a JSON
   merge patch. The apiserver still accepts ``application/strategic-merge-patch+json``.
3. ``/openapi/v2`` is requested by kubectl 1.32 only on those fallback paths, always with ``Accept:
   application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` (the gnostic protobuf). We do not speak it:
   answer ``406 Not Acceptable`` (a ``Status`` with reason ``NotAcceptable``); kubectl takes any error
   there as "no v2 document" and falls back as described. A client that asks for JSON gets
   ``swagger_document``, a minimal Swagger 2.0 document of the same paths (``negotiate_v2``).

The official Python client fetches no OpenAPI document at all (its models are generated ahead of time).

Trade-off of the schemas: each kind's schema is ``type: object`` with ``apiVersion``, ``kind`` and
``metadata`` (``ObjectMeta``) and ``x-kubernetes-preserve-unknown-fields: true`` for everything else, plus
``x-kubernetes-group-version-kind``. That is enough for the lookups above and keeps every
``$ref`` resolvable, at a small size (upstream's documents are megabytes). What it gives up: ``kubectl
explain`` shows no fields, client-side validation (``--validate`` against a server that does not support
``fieldValidation``, which is never ours) would accept anything, and tools that generate code or forms from
the schema see empty objects. Field validation itself is the apiserver's job (``kube.validation``).

Content type of every document: ``CONTENT_TYPE_JSON``. The handler should send ``ETag: "<hash>"`` and,
when the request's ``hash`` equals the document's, ``Cache-Control: public, immutable`` (otherwise
``no-cache, private``), as upstream does, so kubectl's HTTP cache can keep the documents across runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from actors.apiserver import discovery
from kube import codec, kinds

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
CONTENT_TYPE_V3_PROTOBUF = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"

PATCH_CONTENT_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)
"""Patch types advertised on ``patch`` operations; strategic merge patch is left out on purpose (point 2)."""

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
OBJECT_META = f"{_META}.ObjectMeta"
LIST_META = f"{_META}.ListMeta"
STATUS = f"{_META}.Status"
DELETE_OPTIONS = f"{_META}.DeleteOptions"
PATCH = f"{_META}.Patch"

# Query parameters: name -> (JSON type, description).
_QUERY: dict[str, tuple[str, str]] = {
    "pretty": ("string", "If 'true', then the output is pretty printed."),
    "dryRun": ("string", "When present, indicates that modifications should not be persisted."),
    "fieldManager": ("string", "A name associated with the actor or entity that is making these changes."),
    "fieldValidation": (
        "string",
        "How the server treats unknown or duplicate fields in the request body: Ignore, Warn or Strict.",
    ),
    "force": ("boolean", "Force is going to 'force' Apply requests; it must be unset for non-apply patches."),
    "allowWatchBookmarks": ("boolean", "Requests watch events with type BOOKMARK."),
    "continue": ("string", "The continue token of the previous page of a paginated list."),
    "fieldSelector": ("string", "A selector to restrict the list of returned objects by their fields."),
    "labelSelector": ("string", "A selector to restrict the list of returned objects by their labels."),
    "limit": ("integer", "The maximum number of responses to return for a list call."),
    "resourceVersion": (
        "string",
        "Sets a constraint on what resource versions a request may be served from.",
    ),
    "resourceVersionMatch": ("string", "Determines how resourceVersion is applied to list calls."),
    "sendInitialEvents": ("boolean", "Starts a watch with synthetic events of the current state."),
    "timeoutSeconds": ("integer", "Timeout for the list/watch call."),
    "watch": ("boolean", "Watch for changes to the described resources and return them as a stream."),
    "gracePeriodSeconds": ("integer", "The duration in seconds before the object should be deleted."),
    "orphanDependents": ("boolean", "Deprecated: use propagationPolicy."),
    "propagationPolicy": (
        "string",
        "Whether and how garbage collection will be performed: Orphan, Background, Foreground.",
    ),
}
_LIST = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE = ("dryRun", "fieldManager", "fieldValidation")
_DELETE = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One HTTP operation of one path, independent of the OpenAPI dialect that renders it."""

    method: str  # lower case: get, put, post, patch, delete
    operation_id: str
    action: str  # x-kubernetes-action: get, list, post, put, patch, delete, deletecollection
    kind: kinds.Kind
    query: tuple[str, ...] = ()
    body: str = ""  # definition name of the request body; "" for none
    body_types: tuple[str, ...] = ("*/*",)
    responses: tuple[tuple[str, str], ...] = ()  # (status code, definition name)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PathItem:
    """A path with its path parameters and operations."""

    path: str
    path_parameters: tuple[str, ...]  # "name", "namespace"
    operations: tuple[Operation, ...]


# --- names --------------------------------------------------------------------------------------------


def definition_name(group: str, version: str, kind: str) -> str:
    """The schema name upstream uses: ``io.k8s.api.core.v1.Pod``, ``io.k8s.api.rbac.v1.Role``.

    Built-in groups (``apps``, ``*.k8s.io``) map to their Go package under ``io.k8s.api``; any other group
    (a custom resource) is reversed as upstream names CRD schemas (``stable.example.com`` ->
    ``com.example.stable.v1.CronTab``).
    """
    if not group:
        return f"io.k8s.api.core.{version}.{kind}"
    if "." not in group or group.endswith(".k8s.io"):
        return f"io.k8s.api.{group.split('.')[0]}.{version}.{kind}"
    return ".".join([*reversed(group.split(".")), version, kind])


def _camel_group(group: str) -> str:
    if not group:
        return "Core"
    return "".join(part[:1].upper() + part[1:] for part in group.removesuffix(".k8s.io").split("."))


def _operation_id(
    verb: str, kind: kinds.Kind, *, namespaced: bool, suffix: str = "", collection: bool = False
) -> str:
    """Upstream's ids: ``patchAppsV1NamespacedDeployment``, ``deleteCoreV1CollectionNamespacedPod``."""
    scope = ("Collection" if collection else "") + ("Namespaced" if namespaced else "")
    return f"{verb}{_camel_group(kind.group)}{kind.version.capitalize()}{scope}{kind.kind}{suffix}"


def _tag(kind: kinds.Kind) -> str:
    """Upstream's operation tag: ``core_v1``, ``apps_v1``, ``rbacAuthorization_v1``."""
    group = _camel_group(kind.group)
    return f"{group[:1].lower()}{group[1:]}_{kind.version}"


def _gvk(kind: kinds.Kind, name: str = "") -> dict[str, str]:
    return {"group": kind.group, "kind": name or kind.kind, "version": kind.version}


# --- paths ----------------------------------------------------------------------------------------------


def path_items(kind: kinds.Kind) -> tuple[PathItem, ...]:
    """The REST paths of one kind with the operations its verbs allow (``discovery.resource_endpoint``).

    Collection (list, create, deletecollection), item (get, replace, patch, delete), ``status`` when the
    kind has it, and for namespaced kinds the list across all namespaces. Watch paths are left out: no
    client reads them from OpenAPI.
    """
    verbs = set(discovery.resource_endpoint(kind).verbs)
    ns = kind.namespaced
    obj = definition_name(kind.group, kind.version, kind.kind)
    lst = definition_name(kind.group, kind.version, kind.list_kind)
    scope_params = ("namespace",) if ns else ()
    items: list[PathItem] = []

    collection: list[Operation] = []
    if "list" in verbs:
        collection.append(
            Operation(
                method="get",
                operation_id=_operation_id("list", kind, namespaced=ns),
                action="list",
                kind=kind,
                query=_LIST,
                responses=(("200", lst),),
            )
        )
    if "create" in verbs:
        collection.append(
            Operation(
                method="post",
                operation_id=_operation_id("create", kind, namespaced=ns),
                action="post",
                kind=kind,
                query=_WRITE,
                body=obj,
                responses=(("200", obj), ("201", obj), ("202", obj)),
            )
        )
    if "deletecollection" in verbs:
        collection.append(
            Operation(
                method="delete",
                operation_id=_operation_id("delete", kind, namespaced=ns, collection=True),
                action="deletecollection",
                kind=kind,
                query=(*_LIST, *_DELETE),
                body=DELETE_OPTIONS,
                responses=(("200", STATUS),),
            )
        )
    if collection:
        items.append(
            PathItem(
                path=kind.path(namespace="{namespace}"),
                path_parameters=scope_params,
                operations=tuple(collection),
            )
        )

    item: list[Operation] = []
    if "get" in verbs:
        item.append(
            Operation(
                method="get",
                operation_id=_operation_id("read", kind, namespaced=ns),
                action="get",
                kind=kind,
                responses=(("200", obj),),
            )
        )
    if "update" in verbs:
        item.append(
            Operation(
                method="put",
                operation_id=_operation_id("replace", kind, namespaced=ns),
                action="put",
                kind=kind,
                query=_WRITE,
                body=obj,
                responses=(("200", obj), ("201", obj)),
            )
        )
    if "patch" in verbs:
        item.append(_patch(kind, obj, suffix=""))
    if "delete" in verbs:
        item.append(
            Operation(
                method="delete",
                operation_id=_operation_id("delete", kind, namespaced=ns),
                action="delete",
                kind=kind,
                query=_DELETE,
                body=DELETE_OPTIONS,
                responses=(("200", STATUS), ("202", STATUS)),
            )
        )
    item_params = ("name", *scope_params)
    if item:
        items.append(
            PathItem(
                path=kind.path(namespace="{namespace}", name="{name}"),
                path_parameters=item_params,
                operations=tuple(item),
            )
        )

    if "status" in kind.subresources:
        status_ops = (
            Operation(
                method="get",
                operation_id=_operation_id("read", kind, namespaced=ns, suffix="Status"),
                action="get",
                kind=kind,
                responses=(("200", obj),),
            ),
            Operation(
                method="put",
                operation_id=_operation_id("replace", kind, namespaced=ns, suffix="Status"),
                action="put",
                kind=kind,
                query=_WRITE,
                body=obj,
                responses=(("200", obj), ("201", obj)),
            ),
            _patch(kind, obj, suffix="Status"),
        )
        path = kind.path(namespace="{namespace}", name="{name}", subresource="status")
        items.append(PathItem(path=path, path_parameters=item_params, operations=status_ops))

    if ns and "list" in verbs:
        everywhere = Operation(
            method="get",
            operation_id=_operation_id("list", kind, namespaced=False, suffix="ForAllNamespaces"),
            action="list",
            kind=kind,
            query=_LIST,
            responses=(("200", lst),),
        )
        items.append(PathItem(path=kind.path(), path_parameters=(), operations=(everywhere,)))
    return tuple(items)


def _patch(kind: kinds.Kind, obj: str, *, suffix: str) -> Operation:
    return Operation(
        method="patch",
        operation_id=_operation_id("patch", kind, namespaced=kind.namespaced, suffix=suffix),
        action="patch",
        kind=kind,
        query=(*_WRITE, "force"),
        body=PATCH,
        body_types=PATCH_CONTENT_TYPES,
        responses=(("200", obj), ("201", obj)),
    )


# --- schemas --------------------------------------------------------------------------------------------


def _preserve(description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}


def _schemas(group_kinds: tuple[kinds.Kind, ...], ref: str) -> dict[str, Any]:
    """Definitions for the kinds of one group version and the meta types they refer to."""
    schemas: dict[str, Any] = {
        OBJECT_META: _preserve("Standard object metadata."),
        LIST_META: _preserve("Standard list metadata."),
        PATCH: {
            "type": "object",
            "description": "The body of a PATCH request, in the patch type's own format.",
        },
        STATUS: {
            **_preserve("Status is the return value for calls that don't return other objects."),
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}],
        },
        DELETE_OPTIONS: _preserve("DeleteOptions may be provided when deleting an API object."),
    }
    for kind in group_kinds:
        obj = definition_name(kind.group, kind.version, kind.kind)
        schemas[obj] = {
            "type": "object",
            "description": f"{kind.kind} ({kind.api_version}); fields are validated by the server.",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"$ref": ref + OBJECT_META},
            },
            "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [_gvk(kind)],
        }
        schemas[definition_name(kind.group, kind.version, kind.list_kind)] = {
            "type": "object",
            "description": f"A list of {kind.kind}.",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"$ref": ref + LIST_META},
                "items": {"type": "array", "items": {"$ref": ref + obj}},
            },
            "x-kubernetes-group-version-kind": [_gvk(kind, kind.list_kind)],
        }
    return schemas


def _path_parameter(name: str, *, v3: bool) -> dict[str, Any]:
    what = "namespace" if name == "namespace" else "the object"
    param: dict[str, Any] = {"name": name, "in": "path", "required": True, "description": f"name of {what}"}
    if v3:
        param["schema"] = {"type": "string", "uniqueItems": True}
    else:
        param.update(type="string", uniqueItems=True)
    return param


def _query_parameter(name: str, *, v3: bool) -> dict[str, Any]:
    json_type, description = _QUERY[name]
    param: dict[str, Any] = {"name": name, "in": "query", "description": description}
    if v3:
        param["schema"] = {"type": json_type, "uniqueItems": True}
    else:
        param.update(type=json_type, uniqueItems=True)
    return param


def _render(op: Operation, *, v3: bool, ref: str) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "tags": [_tag(op.kind)],
        "description": f"{op.action} {op.kind.kind}",
        "operationId": op.operation_id,
        "parameters": [_query_parameter(q, v3=v3) for q in op.query],
    }
    if v3:
        if op.body:
            rendered["requestBody"] = {
                "content": {t: {"schema": {"$ref": ref + op.body}} for t in op.body_types},
                "required": op.method != "delete",
            }
        rendered["responses"] = {
            code: {"description": "OK", "content": {CONTENT_TYPE_JSON: {"schema": {"$ref": ref + name}}}}
            for code, name in op.responses
        }
    else:
        if op.body:
            rendered["parameters"].insert(
                0,
                {
                    "name": "body",
                    "in": "body",
                    "required": op.method != "delete",
                    "schema": {"$ref": ref + op.body},
                },
            )
            rendered["consumes"] = list(op.body_types)
        rendered["produces"] = [CONTENT_TYPE_JSON]
        rendered["responses"] = {
            code: {"description": "OK", "schema": {"$ref": ref + name}} for code, name in op.responses
        }
    rendered["x-kubernetes-action"] = op.action
    rendered["x-kubernetes-group-version-kind"] = _gvk(op.kind)
    return rendered


def _paths(group_kinds: tuple[kinds.Kind, ...], *, v3: bool, ref: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for kind in group_kinds:
        for item in path_items(kind):
            rendered: dict[str, Any] = {op.method: _render(op, v3=v3, ref=ref) for op in item.operations}
            rendered["parameters"] = [
                *(_path_parameter(p, v3=v3) for p in item.path_parameters),
                _query_parameter("pretty", v3=v3),
            ]
            paths[item.path] = rendered
    return paths


# --- documents ------------------------------------------------------------------------------------------


def group_version_path(group: str, version: str) -> str:
    """The key of a group version in the v3 index: ``api/v1``, ``apis/apps/v1``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def group_version_document(registry: kinds.Registry, group: str, version: str) -> dict[str, Any] | None:
    """``GET /openapi/v3/api/v1`` or ``/openapi/v3/apis/<group>/<version>``; ``None`` if not served (404)."""
    group_kinds = registry.kinds_in(group, version)
    if not group_kinds:
        return None
    ref = "#/components/schemas/"
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": discovery.GIT_VERSION},
        "paths": _paths(group_kinds, v3=True, ref=ref),
        "components": {"schemas": _schemas(group_kinds, ref)},
    }


def document_hash(document: dict[str, Any]) -> str:
    """The ``hash`` of a document in the v3 index: SHA-512 of its JSON as served, in upper-case hex."""
    return hashlib.sha512(codec.to_json(document)).hexdigest().upper()


def index(registry: kinds.Registry) -> dict[str, Any]:
    """``GET /openapi/v3``: each group version's ``serverRelativeURL`` with its document's hash."""
    paths: dict[str, Any] = {}
    for api_version in registry.group_versions():
        group, _, version = api_version.rpartition("/")
        document = group_version_document(registry, group, version)
        if document is None:
            continue
        path = group_version_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={document_hash(document)}"}
    return {"paths": paths}


def swagger_document(registry: kinds.Registry) -> dict[str, Any]:
    """``GET /openapi/v2`` as JSON: a Swagger 2.0 document of every group version's paths and kinds."""
    ref = "#/definitions/"
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for api_version in registry.group_versions():
        group, _, version = api_version.rpartition("/")
        group_kinds = registry.kinds_in(group, version)
        paths.update(_paths(group_kinds, v3=False, ref=ref))
        definitions.update(_schemas(group_kinds, ref))
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": discovery.GIT_VERSION},
        "paths": paths,
        "definitions": definitions,
    }


def negotiate_v2(accept: str | None) -> bool:
    """Whether ``/openapi/v2`` can be answered as JSON; ``False`` means 406 (kubectl's protobuf request)."""
    return discovery.accepts_json(accept)
