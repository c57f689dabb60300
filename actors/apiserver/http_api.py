"""The apiserver's HTTP surface: Kubernetes' paths, verbs, content negotiation and watch streams.

``HttpApi.handle`` is the handler of a ``consensus.http_server.HttpServer``. It maps a request to a verb of
``rest.Rest`` as upstream's ``endpoints`` package does:

- ``/api/v1/...`` and ``/apis/<group>/<version>/...``; ``namespaces/<ns>/<resource>[/<name>[/<sub>]]`` for
  namespaced kinds, ``<resource>[/<name>[/<sub>]]`` for cluster-scoped kinds and for lists across all
  namespaces; ``namespaces/<name>[/status|/finalize]`` is the Namespace itself.
- GET one (get) or a collection (list, or watch with ``?watch=true``); POST a collection (create); PUT
  (update); PATCH (JSON, merge or strategic merge patch); DELETE one or a collection. Subresources:
  ``status``, ``scale``, ``binding`` and ``eviction`` of pods.
- Bodies are JSON (also without a Content-Type, as the Python client sends) or YAML; over 3 MiB is 413.
- ``Accept: application/json;as=Table;g=meta.k8s.io;v=v1`` answers with a server-side Table, for lists,
  single objects and every watch event (``kubectl get -w``).
- Watches stream one JSON event per line; ``allowWatchBookmarks`` adds BOOKMARKs, ``timeoutSeconds`` ends
  the stream, a version older than the cache's history gets an ERROR event with a 410 ``Expired`` Status.
- Discovery, OpenAPI, ``/version``, ``/healthz``, ``/livez``, ``/readyz`` and ``/metrics``.

Every error is a ``Status`` object with upstream's code and reason.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from actors.apiserver import discovery, openapi, proxies, rest, status, tables
from actors.apiserver.watch_cache import BOOKMARK, ERROR, Filter
from consensus import http_server as hs
from consensus.client import StoreUnavailable
from consensus.member import RequestTimedOut
from consensus.mvcc import errors as store_errors
from consensus.raft import Diverged, ProposalFailed
from kube import codec, errors, fields, kinds, labels, protobuf

log = logging.getLogger("kubemu.apiserver.http")

MAX_BODY_BYTES = 3 * 1024 * 1024
JSON = "application/json"
YAML = "application/yaml"
_TABLE = "Table"
_DEFAULT_WATCH_BUFFER = 10_000
_REVIEW_GROUPS = ("authentication.k8s.io", "authorization.k8s.io")
_RETURN_DELETED_OBJECT = frozenset({"pods", "services"})  # upstream's stores with ReturnDeletedObject
_ADMIN_PATHS = ("/kubemu/v1/actors", "/kubemu/v1/faults")  # cluster-admins only: see chaos.fault_desk


class HttpApi:
    """See the module docstring."""

    def __init__(
        self,
        *,
        rest: rest.Rest,
        registry: kinds.Registry,
        now: Callable[[], float],
        server_address: str = "127.0.0.1:6443",
        bookmark_interval: float = 60.0,
        authenticate: Callable[[hs.Request], Any] | None = None,
        authorize: Callable[[Any, dict[str, Any]], None] | None = None,
        metrics: Callable[[], str] | None = None,
        ready: Callable[[], bool] | None = None,
        review: Callable[[Any, str, str | None, dict[str, Any]], dict[str, Any]] | None = None,
        admin: Callable[[str, str, Any], Awaitable[tuple[int, Any]]] | None = None,
        issue_token: Callable[[str, str, Any], Awaitable[dict[str, Any]]] | None = None,
        aggregated: Callable[[str, kinds.Kind, str | None, str | None, dict[str, str]], Awaitable[Any]]
        | None = None,
        pod_logs: Callable[[str, str, dict[str, str]], Awaitable[bytes]] | None = None,
        follow_pod_logs: Callable[[str, str, dict[str, str]], AsyncIterator[bytes]] | None = None,
    ) -> None:
        self.rest = rest
        self.registry = registry
        self.now = now
        self.server_address = server_address
        self.bookmark_interval = bookmark_interval
        self.authenticate = authenticate
        self.authorize = authorize
        self.metrics = metrics
        self.ready = ready or (lambda: True)
        self.review = review
        self.admin = admin
        self.issue_token = issue_token
        self.aggregated = aggregated  # metrics.k8s.io, as kube-aggregator proxies it to metrics-server
        self.pod_logs = pod_logs  # pods/log, as the apiserver proxies it to the pod's kubelet
        self.follow_pod_logs = follow_pod_logs  # pods/log?follow=true, streamed
        self.requests: collections.Counter[tuple[str, str, int]] = collections.Counter()
        self.watches = 0
        self._openapi_cache: dict[str, bytes] = {}

    async def handle(self, request: hs.Request) -> Any:
        try:
            response = await self._route(request)
        except status.ApiError as error:
            response = _status_response(error)
        except StoreUnavailable as error:
            response = _status_response(status.service_unavailable(f"the store is unavailable: {error}"))
        except RequestTimedOut:
            response = _status_response(
                status.timeout("request did not complete within requested timeout", 0)
            )
        except (ProposalFailed, Diverged) as error:
            # what etcd said, as upstream passes an etcd error through (the write's outcome is unknown)
            response = _status_response(status.internal_error(_store_message(error)))
        except store_errors.StoreError as error:
            response = _status_response(status.internal_error(str(error)))
        except errors.KubeError as error:
            response = _status_response(status.from_kube_error(error))
        code = 200 if response is hs.STREAMED else response.status
        self.requests[(request.method, _verb_path(request.path), code)] += 1
        return response

    # -- routing -------------------------------------------------------------------------------------------

    async def _route(self, request: hs.Request) -> Any:
        path = request.path.rstrip("/") or "/"
        user = self.authenticate(request) if self.authenticate is not None else None
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            ok = self.ready() if path.startswith("/readyz") else True
            return hs.Response(
                status=200 if ok else 500,
                body=b"ok" if ok else b"not ready",
                content_type="text/plain; charset=utf-8",
            )
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            self._allow(user, {"verb": "get", "path": path})
            return _json(discovery.version_info())
        if path == "/metrics":
            self._allow(user, {"verb": "get", "path": path})
            text = self.metrics() if self.metrics is not None else ""
            return hs.Response(body=text.encode(), content_type="text/plain; version=0.0.4; charset=utf-8")
        if parts and parts[0] == "openapi":
            self._allow(user, {"verb": "get", "path": path})
            return self._openapi(request, parts)
        if parts and parts[0] in ("api", "apis"):
            return await self._api(request, parts, user)
        if path in _ADMIN_PATHS and self.admin is not None:
            self._allow(
                user, {"verb": request.method.lower(), "path": path}
            )  # a non-resource verb is the method
            body = await _body(request) if request.method == "POST" else None
            code, answer = await self.admin(request.method, path, body)
            return _json(answer, code)
        self._allow(user, {"verb": request.method.lower(), "path": path})
        raise _no_route()

    def _allow(self, user: Any, attributes: dict[str, Any]) -> None:
        if self.authorize is not None:
            self.authorize(user, attributes)

    async def _api(self, request: hs.Request, parts: list[str], user: Any) -> Any:
        if parts[0] == "api":
            group, rest_parts = "", parts[1:]
        else:
            if len(parts) == 1:
                self._allow(user, {"verb": "get", "path": request.path})
                return self._discovery_root(request, aggregated=True)
            group, rest_parts = parts[1], parts[2:]
        if not rest_parts:
            self._allow(user, {"verb": "get", "path": request.path})
            if group == "":
                return self._discovery_root(request, aggregated=False)
            found = discovery.api_group(self.registry, group)
            if found is None:
                raise _no_route()
            return _json(found)
        version, rest_parts = rest_parts[0], rest_parts[1:]
        if not rest_parts:
            self._allow(user, {"verb": "get", "path": request.path})
            resources = discovery.api_resource_list(self.registry, group, version)
            if resources is None:
                raise _no_route()
            return _json(resources)
        namespace: str | None = None
        if (
            rest_parts[0] == "namespaces"
            and len(rest_parts) >= 3
            and rest_parts[2] not in ("status", "finalize")
        ):
            namespace, rest_parts = rest_parts[1], rest_parts[2:]
        resource = rest_parts[0]
        name = rest_parts[1] if len(rest_parts) > 1 else None
        subresource = rest_parts[2] if len(rest_parts) > 2 else ""
        if len(rest_parts) > 3:
            raise _no_route()
        kind = self.registry.by_resource(group, version, resource)
        if kind is None or (kind.resource == "bindings" and name is None and request.method != "POST"):
            raise _no_route()
        if subresource and subresource not in kind.subresources:
            raise _no_route()
        if namespace is not None and not kind.namespaced:
            raise _no_route()
        verb = _verb(request, name)
        self._allow(
            user,
            {
                "verb": verb,
                "api_group": group,
                "resource": resource,
                "subresource": subresource,
                "namespace": namespace or "",
                "name": name or "",
            },
        )
        if kind.group in _REVIEW_GROUPS:
            if verb != "create" or name is not None:
                raise status.method_not_supported(kind, verb)
            body = await _body(request)
            if not isinstance(body, dict):
                raise status.bad_request("the body must be an object")
            return _json(self._review(user, kind, namespace, body), 201)
        if kind.group in _AGGREGATED_GROUPS:
            if verb not in ("get", "list"):
                raise status.method_not_supported(kind, verb)
            if self.aggregated is None:
                raise proxies.unavailable(kind)
            return _json(await self.aggregated(verb, kind, namespace, name, request.query))
        return await self._resource(request, kind, namespace, name, subresource, verb)

    def _review(
        self, user: Any, kind: kinds.Kind, namespace: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        body = {**body, "apiVersion": kind.api_version, "kind": kind.kind}
        if self.review is not None:
            return self.review(user, kind.kind, namespace, body)
        # no authentication or authorisation (--insecure): everyone may do everything, as AlwaysAllow
        if kind.kind in ("SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview"):
            return {**body, "status": {"allowed": True}}
        if kind.kind == "SelfSubjectReview":
            return {
                **body,
                "status": {
                    "userInfo": {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
                },
            }
        if kind.kind == "SelfSubjectRulesReview":
            everything = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
            return {
                **body,
                "status": {
                    "resourceRules": [everything],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": False,
                },
            }
        return {
            **body,
            "status": {"authenticated": False, "error": "token authentication is off (--insecure)"},
        }

    def _discovery_root(self, request: hs.Request, *, aggregated: bool) -> hs.Response:
        form = discovery.negotiate_discovery(request.headers.get("accept"))
        if form is None:
            raise status.not_acceptable([JSON, discovery.CONTENT_TYPE_AGGREGATED_V2])
        if form is discovery.DiscoveryFormat.AGGREGATED:
            document = (
                discovery.aggregated_apis(self.registry)
                if aggregated
                else discovery.aggregated_api(self.registry)
            )
            return hs.Response(
                body=codec.to_json(document),
                content_type=discovery.CONTENT_TYPE_AGGREGATED_V2,
                headers={"Vary": "Accept"},
            )
        document = (
            discovery.api_group_list(self.registry)
            if aggregated
            else discovery.api_versions(self.registry, server_address=self.server_address)
        )
        return hs.Response(body=codec.to_json(document), content_type=JSON, headers={"Vary": "Accept"})

    def _openapi(self, request: hs.Request, parts: list[str]) -> hs.Response:
        if parts[1:2] == ["v2"]:
            if not openapi.negotiate_v2(request.headers.get("accept")):
                raise status.not_acceptable([JSON])
            return _json(openapi.swagger_document(self.registry))
        if parts[1:2] != ["v3"]:
            raise _no_route()
        if len(parts) == 2:
            return _json(openapi.index(self.registry))
        rest_parts = parts[2:]
        if rest_parts[0] == "api" and len(rest_parts) == 2:
            group, version = "", rest_parts[1]
        elif rest_parts[0] == "apis" and len(rest_parts) == 3:
            group, version = rest_parts[1], rest_parts[2]
        else:
            raise _no_route()
        cache_key = f"{group}/{version}"
        body = self._openapi_cache.get(cache_key)
        if body is None:
            document = openapi.group_version_document(self.registry, group, version)
            if document is None:
                raise _no_route()
            body = codec.to_json(document)
            self._openapi_cache[cache_key] = body
        headers = {"Etag": '"' + openapi.document_hash(codec.from_json(body)) + '"'}
        if request.query.get("hash"):
            headers["Cache-Control"] = "public, immutable"
        return hs.Response(body=body, content_type=JSON, headers=headers)

    # -- resources -----------------------------------------------------------------------------------------

    async def _resource(
        self,
        request: hs.Request,
        kind: kinds.Kind,
        namespace: str | None,
        name: str | None,
        subresource: str,
        verb: str,
    ) -> Any:
        query = request.query
        dry_run = _dry_run(query)
        api = self.rest
        if verb == "get":
            assert name is not None
            if subresource == "scale":
                return self._object(request, kind, _scale(kind, await api.get(kind, namespace, name)))
            if subresource == "log":
                assert namespace is not None
                if self.pod_logs is None:
                    return hs.Response(body=b"", content_type="text/plain")
                if _flag(query, "follow") and self.follow_pod_logs is not None:
                    return await self._follow(request, self.follow_pod_logs(namespace, name, request.query))
                return hs.Response(
                    body=await self.pod_logs(namespace, name, request.query), content_type="text/plain"
                )
            return self._object(request, kind, await api.get(kind, namespace, name))
        if verb in ("list", "watch"):
            options = _list_options(kind, query)
            if verb == "watch":
                return await self._watch(request, kind, namespace, options)
            listed = await api.list_objects(kind, namespace, options)
            if _wants_table(request):
                return _json(
                    tables.table(
                        kind,
                        listed["items"],
                        now=self.now(),
                        include_object=query.get("includeObject", "Metadata"),
                        list_meta=listed["metadata"],
                    )
                )
            return _json(listed)
        if verb == "create":
            body = await _body(request)
            if name is not None and subresource == "binding":
                return _json(await self._bind(kind, namespace, name, body, dry_run), 201)
            if name is not None and subresource == "token":
                if self.issue_token is None:
                    raise status.method_not_supported(kind, "create token (the apiserver has no signing key)")
                assert namespace is not None
                return _json(await self.issue_token(namespace, name, body), 201)
            if name is not None and subresource == "eviction":
                await api.delete(
                    kind,
                    namespace,
                    name,
                    rest.DeleteOptions.from_body((body or {}).get("deleteOptions"), dry_run=dry_run),
                )
                return _json(status.status_success(), 201)
            if kind.resource == "bindings":
                target = (body or {}).get("metadata", {}).get("name", "")
                pods = self.registry.by_resource("", "v1", "pods")
                assert pods is not None
                return _json(await self._bind(pods, namespace, target, body, dry_run), 201)
            created = await api.create(kind, namespace, body, dry_run=dry_run)
            return self._object(request, kind, created, 201)
        if verb == "update":
            assert name is not None
            body = await _body(request)
            if subresource == "scale":
                return self._object(
                    request, kind, await self._update_scale(kind, namespace, name, body, dry_run)
                )
            updated = await api.update(kind, namespace, name, body, subresource=subresource, dry_run=dry_run)
            return self._object(request, kind, updated)
        if verb == "patch":
            assert name is not None
            patch_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
            if patch_type == rest.APPLY_PATCH:
                raise status.unsupported_media_type(rest.PATCH_TYPES)
            body = await _body(request, json_only=True)
            if subresource == "scale":
                current = _scale(kind, await api.get(kind, namespace, name))
                patched = rest._apply_patch(
                    kind,
                    current,
                    patch_type if patch_type != rest.STRATEGIC_MERGE_PATCH else rest.MERGE_PATCH,
                    body,
                )
                return self._object(
                    request, kind, await self._update_scale(kind, namespace, name, patched, dry_run)
                )
            patched_obj = await api.patch(
                kind, namespace, name, patch_type, body, subresource=subresource, dry_run=dry_run
            )
            return self._object(request, kind, patched_obj)
        if verb == "delete":
            assert name is not None
            body = await _body(request, allow_empty=True)
            delete_options = rest.DeleteOptions.from_body(
                body,
                grace_period_seconds=_int_query(query, "gracePeriodSeconds"),
                propagation_policy=query.get("propagationPolicy"),
                dry_run=dry_run or None,
            )
            deleted, code = await api.delete(kind, namespace, name, delete_options)
            gone = not deleted["metadata"].get("deletionTimestamp")
            if gone and kind.resource not in _RETURN_DELETED_OBJECT:
                uid = deleted["metadata"].get("uid", "")
                return _json(status.deleted(kind, name, uid), code)  # upstream's answer for most kinds
            return self._object(request, kind, deleted, code)
        if verb == "deletecollection":
            body = await _body(request, allow_empty=True)
            collection_options = rest.DeleteOptions.from_body(body, dry_run=dry_run or None)
            return _json(
                await api.delete_collection(kind, namespace, _list_options(kind, query), collection_options)
            )
        raise status.method_not_supported(kind, verb)

    def _event_line(self, kind: kinds.Kind, event: Any, as_table: bool) -> bytes:
        if not as_table:
            line: bytes = event.json_line()
            return line
        row = tables.table(kind, [event.object], now=self.now())
        return codec.to_json({"type": event.type, "object": row}) + b"\n"

    def _object(
        self, request: hs.Request, kind: kinds.Kind, obj: dict[str, Any], code: int = 200
    ) -> hs.Response:
        if _wants_table(request) and obj.get("kind") == kind.kind:
            return _json(
                tables.table(
                    kind, [obj], now=self.now(), include_object=request.query.get("includeObject", "Metadata")
                ),
                code,
            )
        return _json(obj, code)

    async def _bind(
        self, pods: kinds.Kind, namespace: str | None, name: str, body: Any, dry_run: bool
    ) -> dict[str, Any]:
        """``pods/binding``: set ``spec.nodeName`` once (upstream's BindingREST)."""
        target = ((body or {}).get("target") or {}).get("name")
        await self.rest.bind(pods, namespace, name, target, dry_run=dry_run)
        return status.status_success()

    async def _update_scale(
        self, kind: kinds.Kind, namespace: str | None, name: str, body: Any, dry_run: bool
    ) -> dict[str, Any]:
        replicas = ((body or {}).get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise status.invalid(
                "Scale",
                name,
                [
                    errors.FieldError(
                        field="spec.replicas",
                        type=errors.FieldErrorType.INVALID,
                        bad_value=replicas,
                        detail="must be greater than or equal to 0",
                    )
                ],
            )
        wanted = ((body or {}).get("metadata") or {}).get("resourceVersion")
        obj = await self.rest.get(kind, namespace, name)
        if wanted and wanted != obj["metadata"]["resourceVersion"]:
            raise status.conflict(kind, name)
        obj.setdefault("spec", {})["replicas"] = replicas
        updated = await self.rest.update(kind, namespace, name, obj, dry_run=dry_run)
        return _scale(kind, updated)

    # -- watch ---------------------------------------------------------------------------------------------

    async def _follow(self, request: hs.Request, chunks: AsyncIterator[bytes]) -> Any:
        """``kubectl logs -f``: the first chunk comes after the request's checks (a refusal is an ordinary
        error answer), then the log streams in chunks until the container stops or the client goes."""
        try:
            first = await anext(chunks)
            writer = await request.stream(content_type="text/plain")
            if first:
                await writer.write(first)
            async for chunk in chunks:
                if chunk:
                    await writer.write(chunk)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        return hs.STREAMED

    async def _watch(
        self, request: hs.Request, kind: kinds.Kind, namespace: str | None, options: rest.ListOptions
    ) -> Any:
        query = request.query
        timeout = _int_query(query, "timeoutSeconds")
        bookmarks = _flag(query, "allowWatchBookmarks")
        as_table = _wants_table(request)
        initial_events = _flag(query, "sendInitialEvents")
        if initial_events:
            if not bookmarks or options.resource_version_match != "NotOlderThan":
                raise status.invalid(
                    "ListOptions.meta.k8s.io",
                    "",
                    [
                        errors.FieldError(
                            field="sendInitialEvents",
                            type=errors.FieldErrorType.FORBIDDEN,
                            detail="sendInitialEvents is forbidden for watch unless allowWatchBookmarks=true "
                            "and resourceVersionMatch=NotOlderThan",
                        )
                    ],
                )
            options = dataclasses.replace(options, resource_version="")  # every object now, then changes
        wake = asyncio.Event()
        try:
            cache, watcher = self.rest.watch(kind, namespace, options, wake.set, buffer=_DEFAULT_WATCH_BUFFER)
        except status.ApiError as error:
            if error.code != 410:
                raise
            # upstream answers a watch from a version the cache no longer holds with a 200 and one ERROR event
            writer = await request.stream(content_type=JSON)
            await writer.write(watch_error_line(error))
            return hs.STREAMED
        writer = await request.stream(content_type=JSON)
        self.watches += 1
        deadline = time.monotonic() + timeout if timeout else None
        next_bookmark = time.monotonic() + self.bookmark_interval
        try:
            if (
                initial_events
            ):  # the synthetic ADDED events are queued; a bookmark marks their end (WatchList)
                for event in watcher.take():
                    await writer.write(self._event_line(kind, event, as_table))
                end = {"k8s.io/initial-events-end": "true"}
                await writer.write(_bookmark(kind, cache.revision, annotations=end))
            while True:
                for event in watcher.take():
                    await writer.write(self._event_line(kind, event, as_table))
                if watcher.closed:
                    if watcher.overflowed:
                        log.info("watch of %s closed: the client reads too slowly", kind.resource)
                    break
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if bookmarks and now >= next_bookmark:
                    await writer.write(_bookmark(kind, cache.revision))
                    next_bookmark = now + self.bookmark_interval
                wait = next_bookmark - now if bookmarks else None
                if deadline is not None:
                    wait = min(wait, deadline - now) if wait is not None else deadline - now
                wake.clear()
                if watcher.events or watcher.closed:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await wake.wait()
        finally:
            cache.stop(watcher)
            self.watches -= 1
        return hs.STREAMED


def _bookmark(kind: kinds.Kind, revision: int, annotations: dict[str, str] | None = None) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(revision)}
    if annotations:
        metadata["annotations"] = annotations
    event = {
        "type": BOOKMARK,
        "object": {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": metadata},
    }
    return codec.to_json(event) + b"\n"


def watch_error_line(error: status.ApiError) -> bytes:
    return codec.to_json({"type": ERROR, "object": error.status}) + b"\n"


def _flag(query: dict[str, str], name: str) -> bool:
    """A boolean query parameter as upstream reads one: absent, ``0`` and ``false`` (any case) are false."""
    value = query.get(name)
    return value is not None and value.lower() not in ("0", "false")


def _store_message(error: Exception) -> str:
    if isinstance(error, ProposalFailed):
        return "etcdserver: leader changed" if "leader" in str(error) else f"etcdserver: {error}"
    return "etcdserver: server stopped"


def _verb(request: hs.Request, name: str | None) -> str:
    method = request.method
    if method in ("GET", "HEAD"):
        if name is None:
            return "watch" if _flag(request.query, "watch") else "list"
        return "get"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if name is not None else "deletecollection"
    raise status.method_not_supported("", method)


def _verb_path(path: str) -> str:
    return path.split("/", 4)[1] if path.count("/") > 1 else path


def _wants_table(request: hs.Request) -> bool:
    accept = request.headers.get("accept") or ""
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def _dry_run(query: dict[str, str]) -> bool:
    value = query.get("dryRun")
    if value is None:
        return False
    if value != "All":
        raise status.bad_request(f'Invalid value: "{value}": supported values: "All"')
    return True


_AGGREGATED_GROUPS = ("metrics.k8s.io",)


def _int_query(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise status.bad_request(f"invalid {name} {value!r}: must be an integer") from None


def _list_options(kind: kinds.Kind, query: dict[str, str]) -> rest.ListOptions:
    try:
        label_selector = labels.parse(query.get("labelSelector", ""))
        field_selector = fields.convert(fields.parse(query.get("fieldSelector", "")), kind)
    except errors.SelectorError as error:
        raise status.bad_request(str(error)) from None
    limit = _int_query(query, "limit") or 0
    match = query.get("resourceVersionMatch", "")
    if match not in ("", "Exact", "NotOlderThan"):
        raise status.bad_request(
            f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"'
        )
    return rest.ListOptions(
        filter=Filter(label_selector=label_selector, field_selector=field_selector),
        limit=max(0, limit),
        continue_token=query.get("continue", ""),
        resource_version=query.get("resourceVersion", ""),
        resource_version_match=match,
    )


async def _body(request: hs.Request, *, json_only: bool = False, allow_empty: bool = False) -> Any:
    try:
        data = await request.read(limit=MAX_BODY_BYTES)
    except hs.BodyTooLarge:
        raise status.request_entity_too_large("the server has received too large of a request body") from None
    if not data.strip():
        if allow_empty:
            return None
        raise status.bad_request("the body of the request was empty")
    content_type = (request.headers.get("content-type") or JSON).split(";")[0].strip().lower()
    try:
        if content_type in (YAML, "application/x-yaml", "text/yaml") and not json_only:
            return codec.load_yaml(data)
        if content_type == protobuf.MEDIA_TYPE and not json_only:
            return protobuf.decode(data)
        return codec.from_json(data)
    except errors.CodecError as error:
        if isinstance(error, protobuf.NotSupported):
            raise status.unsupported_media_type([JSON, YAML]) from None
        raise status.bad_request(f"error decoding the body: {error}") from None


def _scale(kind: kinds.Kind, obj: dict[str, Any]) -> dict[str, Any]:
    """The ``autoscaling/v1`` Scale view of a scalable object."""
    md = obj["metadata"]
    spec = obj.get("spec") or {}
    state = obj.get("status") or {}
    selector = spec.get("selector") or {}
    if isinstance(selector, dict) and ("matchLabels" in selector or "matchExpressions" in selector):
        text = str(labels.from_label_selector(selector))
    else:
        text = ",".join(f"{k}={v}" for k, v in sorted(selector.items())) if isinstance(selector, dict) else ""
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": md["name"],
            "namespace": md.get("namespace", ""),
            "uid": md.get("uid", ""),
            "resourceVersion": md["resourceVersion"],
            "creationTimestamp": md.get("creationTimestamp"),
        },
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {"replicas": state.get("replicas", 0), "selector": text},
    }


def _json(obj: Any, code: int = 200) -> hs.Response:
    return hs.Response(status=code, body=codec.to_json(obj), content_type=JSON)


def _status_response(error: status.ApiError) -> hs.Response:
    return hs.Response(status=error.code, body=codec.to_json(error.status), content_type=JSON)


def _no_route() -> status.ApiError:
    """What upstream answers for a path it does not serve."""
    return status.generic_server_response(404)
