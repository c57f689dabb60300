"""Discovery: the documents that tell clients which API groups, versions and resources the apiserver serves.

Pure functions from a ``kube.kinds.Registry`` to Kubernetes-shaped dicts; the HTTP handler serializes
them with ``kube.codec.to_json`` under the Content-Type named by each function. Nothing here does I/O.

What kubectl 1.32 asks for (seen in ``kubectl -v=8`` against a recording server, and in client-go's
``discovery`` package), and what it needs back:

1. ``GET /version?timeout=5s`` (``Accept: application/json, */*``): a ``version.Info``. ``kubectl version``
   prints it and warns when the minor versions differ by more than one; the official Python client's
   ``VersionInfo`` model requires every field of ``version_info``.
2. ``GET /api?timeout=32s`` and ``GET /apis?timeout=32s`` with ``Accept:
   application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
   application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json``.
   client-go decides what it got from the *response* Content-Type alone: if it is ``application/json`` with
   the parameters ``g=apidiscovery.k8s.io``, ``v=v2``, ``as=APIGroupDiscoveryList`` (any order) the body is
   an aggregated ``APIGroupDiscoveryList`` holding every group, version and resource; otherwise the body
   is legacy discovery (``APIVersions`` for ``/api``, ``APIGroupList`` for ``/apis``) and client-go then
   fetches ``GET /api/v1`` and one ``GET /apis/<group>/<version>`` per group version (``Accept:
   application/json, */*``), each an ``APIResourceList``.

   We serve the aggregated v2 form when asked (``negotiate_discovery``) because it turns 2 + N round trips
   into 2 for every kubectl command that resolves a resource name, which is all of them (kubectl keeps a
   disk cache, but tests and fresh machines start cold). Legacy discovery stays: the
   official Python client (``DynamicClient`` and ``CoreApi``/``ApisApi``) and kubectl older than 1.26 only
   speak it. v2beta1 is not served: a client that asks only for it gets legacy discovery, which it reads.

   An aggregated resource must carry ``responseKind``: client-go drops a resource or subresource whose
   ``responseKind`` is missing or empty. As upstream does, group and version in ``responseKind`` stay
   empty when they are those of the containing group version (``pods/status`` -> ``Pod``) and are set
   when they differ (``deployments/scale`` -> ``autoscaling/v1 Scale``).
3. The official Python client asks with ``Accept: application/json`` and a trailing slash (``GET /version/``,
   ``/api/``, ``/apis/``, ``/api/v1/``, ``/apis/apps/``, ``/apis/apps/v1/``): the handler must serve a path
   with and without it alike. Its models require ``serverAddressByClientCIDRs`` in ``APIVersions`` and
   ``singularName`` in every ``APIResource`` (``""`` for subresources, as upstream).
4. ``kubectl api-resources`` lists every resource whose name has no ``/`` with its short names, group
   version, scope and kind (``-o wide`` adds verbs and categories); ``kubectl get all`` expands the
   ``all`` category; ``kubectl get po`` resolves short names. All of that comes from these documents, so
   the values are upstream's: verbs per resource below, short names and categories from ``kube.kinds``.

Content types: ``CONTENT_TYPE_JSON`` for ``/version``, legacy ``/api``, ``/apis``, ``/apis/<group>``,
``/api/v1`` and ``/apis/<group>/<version>``; ``CONTENT_TYPE_AGGREGATED_V2`` for the aggregated ``/api`` and
``/apis``. Both aggregated and legacy answers must also carry ``Vary: Accept`` so HTTP caches (kubectl's
disk cache is one) keep them apart. An ``Accept`` that admits neither form gets 406 (``negotiate_discovery``
returns ``None``).

Left out: ``storageVersionHash`` (only the storage version migrator reads it), protobuf encodings of these
documents, and peer-aggregated discovery (``profile=nopeer`` is accepted and ignored).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any

from kube import kinds

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

KUBERNETES_VERSION = "v1.32.0"
GIT_VERSION = KUBERNETES_VERSION + "-kubemu"

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
"""What upstream's generic registry serves for an ordinary resource, in upstream's (sorted) order."""

_GET_PATCH_UPDATE = ("get", "patch", "update")
_CREATE = ("create",)
_CREATE_GET = ("create", "get")
_PROXY = ("create", "delete", "get", "patch", "update")

_VERBS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "bindings"): _CREATE,
    ("", "componentstatuses"): ("get", "list"),
    ("", "namespaces"): ("create", "delete", "get", "list", "patch", "update", "watch"),
    ("authentication.k8s.io", "tokenreviews"): _CREATE,
    ("authentication.k8s.io", "selfsubjectreviews"): _CREATE,
    ("authorization.k8s.io", "subjectaccessreviews"): _CREATE,
    ("authorization.k8s.io", "selfsubjectaccessreviews"): _CREATE,
    ("authorization.k8s.io", "selfsubjectrulesreviews"): _CREATE,
    ("authorization.k8s.io", "localsubjectaccessreviews"): _CREATE,
    ("metrics.k8s.io", "pods"): ("get", "list"),
    ("metrics.k8s.io", "nodes"): ("get", "list"),
}
"""Resources whose verbs differ from ``STANDARD_VERBS`` (upstream's ``kubectl api-resources -o wide``)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """What one resource or subresource answers: the kind it returns and the verbs it serves.

    ``group`` and ``version`` are set only when the kind lives in another group version than the
    resource (``deployments/scale`` returns ``autoscaling/v1`` ``Scale``); empty means "the same".
    """

    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    version: str = ""


# Subresources by name. ``kind`` "" stands for the parent's kind; ``proxy`` is ``<Kind>ProxyOptions``.
_SUBRESOURCES: dict[str, Endpoint] = {
    "status": Endpoint(kind="", verbs=_GET_PATCH_UPDATE),
    "scale": Endpoint(kind="Scale", group="autoscaling", version="v1", verbs=_GET_PATCH_UPDATE),
    "binding": Endpoint(kind="Binding", verbs=_CREATE),
    "eviction": Endpoint(kind="Eviction", group="policy", version="v1", verbs=_CREATE),
    "log": Endpoint(kind="", verbs=("get",)),
    "exec": Endpoint(kind="PodExecOptions", verbs=_CREATE_GET),
    "attach": Endpoint(kind="PodAttachOptions", verbs=_CREATE_GET),
    "portforward": Endpoint(kind="PodPortForwardOptions", verbs=_CREATE_GET),
    "proxy": Endpoint(kind="", verbs=_PROXY),
    "ephemeralcontainers": Endpoint(kind="", verbs=_GET_PATCH_UPDATE),
    "resize": Endpoint(kind="", verbs=_GET_PATCH_UPDATE),
    "finalize": Endpoint(kind="", verbs=("update",)),
    "token": Endpoint(kind="TokenRequest", group="authentication.k8s.io", version="v1", verbs=_CREATE),
}


def resource_endpoint(kind: kinds.Kind) -> Endpoint:
    """The kind and verbs of the resource itself (``pods``)."""
    verbs = _VERBS.get((kind.group, kind.resource), STANDARD_VERBS)
    return Endpoint(kind=kind.kind, verbs=verbs)


def subresource_endpoint(kind: kinds.Kind, subresource: str) -> Endpoint:
    """The kind and verbs of ``<resource>/<subresource>``, as upstream serves them.

    A subresource upstream does not have is taken to read and write the parent (``get``, ``patch``,
    ``update`` on the parent's kind), which is what a status-like subresource of a custom resource does.
    """
    known = _SUBRESOURCES.get(subresource, Endpoint(kind="", verbs=_GET_PATCH_UPDATE))
    if subresource == "proxy":
        return dataclasses.replace(known, kind=kind.kind + "ProxyOptions")
    if not known.kind:
        return dataclasses.replace(known, kind=kind.kind)
    return known


# --- /version -------------------------------------------------------------------------------------


def version_info(
    *,
    git_version: str = GIT_VERSION,
    git_commit: str = "",
    build_date: str = "1970-01-01T00:00:00Z",
    go_version: str = "",
    platform: str = "linux/amd64",
) -> dict[str, str]:
    """``GET /version``: apimachinery's ``version.Info`` (``CONTENT_TYPE_JSON``).

    ``major`` and ``minor`` come from ``git_version`` (``v1.32.0-kubemu`` -> ``1``, ``32``); kubectl compares
    them with its own to warn about version skew. ``go_version`` names the Python that serves it when
    empty, since no Go is involved; callers pass the values they want reported.
    """
    numbers = git_version.lstrip("v").split("-", 1)[0].split(".")
    major = numbers[0] if numbers else ""
    minor = numbers[1] if len(numbers) > 1 else ""
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": git_commit,
        "gitTreeState": "clean",
        "buildDate": build_date,
        "goVersion": go_version or "python",
        "compiler": "kubemu",
        "platform": platform,
    }


# --- legacy discovery -------------------------------------------------------------------------------


def api_versions(registry: kinds.Registry, *, server_address: str) -> dict[str, Any]:
    """Legacy ``GET /api``: ``APIVersions`` of the core group (``CONTENT_TYPE_JSON``).

    ``server_address`` (``host:port`` the client reached) fills ``serverAddressByClientCIDRs``, which
    the official Python client's ``V1APIVersions`` model requires.
    """
    return {
        "kind": "APIVersions",
        "apiVersion": "v1",
        "versions": list(registry.versions("")),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_version(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}" if group else version, "version": version}


def _api_group(registry: kinds.Registry, group: str) -> dict[str, Any]:
    versions = [_group_version(group, v) for v in registry.versions(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: kinds.Registry) -> dict[str, Any]:
    """Legacy ``GET /apis``: ``APIGroupList`` of every named group (``CONTENT_TYPE_JSON``).

    The first version registered for a group is its preferred version; groups keep registration order,
    which kubectl takes as priority when two groups share a resource name.
    """
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_api_group(registry, g) for g in registry.groups() if g],
    }


def api_group(registry: kinds.Registry, group: str) -> dict[str, Any] | None:
    """``GET /apis/<group>``: one ``APIGroup`` (``CONTENT_TYPE_JSON``); ``None`` for an unknown group."""
    if not group or group not in registry.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(registry, group)}


def _legacy_resource(name: str, *, parent: kinds.Kind, endpoint: Endpoint, top: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "singularName": parent.singular if top else "",
        "namespaced": parent.namespaced,
    }
    if endpoint.group or endpoint.version:
        entry["group"] = endpoint.group
        entry["version"] = endpoint.version
    entry["kind"] = endpoint.kind
    entry["verbs"] = list(endpoint.verbs)
    if top and parent.short_names:
        entry["shortNames"] = list(parent.short_names)
    if top and parent.categories:
        entry["categories"] = list(parent.categories)
    return entry


def api_resource_list(registry: kinds.Registry, group: str, version: str) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``GET /apis/<group>/<version>``: ``APIResourceList`` (``CONTENT_TYPE_JSON``).

    One entry per resource and one per subresource (``pods/status``), sorted by name as upstream sorts
    them. ``None`` when the group version is not served (404).
    """
    served = registry.kinds_in(group, version)
    if not served:
        return None
    resources: list[dict[str, Any]] = []
    for kind in served:
        resources.append(
            _legacy_resource(kind.resource, parent=kind, endpoint=resource_endpoint(kind), top=True)
        )
        for sub in kind.subresources:
            endpoint = subresource_endpoint(kind, sub)
            resources.append(
                _legacy_resource(f"{kind.resource}/{sub}", parent=kind, endpoint=endpoint, top=False)
            )
    resources.sort(key=lambda r: str(r["name"]))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# --- aggregated discovery (apidiscovery.k8s.io/v2) ------------------------------------------------


def _response_kind(endpoint: Endpoint) -> dict[str, str]:
    return {"group": endpoint.group, "version": endpoint.version, "kind": endpoint.kind}


def _aggregated_resource(kind: kinds.Kind) -> dict[str, Any]:
    endpoint = resource_endpoint(kind)
    entry: dict[str, Any] = {
        "resource": kind.resource,
        "responseKind": _response_kind(endpoint),
        "scope": "Namespaced" if kind.namespaced else "Cluster",
        "singularResource": kind.singular,
        "verbs": list(endpoint.verbs),
    }
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    if kind.categories:
        entry["categories"] = list(kind.categories)
    if kind.subresources:
        subresources = []
        for sub in sorted(kind.subresources):
            sub_endpoint = subresource_endpoint(kind, sub)
            subresources.append(
                {
                    "subresource": sub,
                    "responseKind": _response_kind(sub_endpoint),
                    "verbs": list(sub_endpoint.verbs),
                }
            )
        entry["subresources"] = subresources
    return entry


def _aggregated_group(registry: kinds.Registry, group: str) -> dict[str, Any]:
    versions = []
    for version in registry.versions(group):
        resources = sorted(
            (_aggregated_resource(k) for k in registry.kinds_in(group, version)),
            key=lambda r: str(r["resource"]),
        )
        versions.append({"version": version, "resources": resources, "freshness": "Current"})
    metadata = {"name": group} if group else {}
    return {"metadata": metadata, "versions": versions}


def _aggregated_list(registry: kinds.Registry, groups: Iterable[str]) -> dict[str, Any]:
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_aggregated_group(registry, g) for g in groups],
    }


def aggregated_api(registry: kinds.Registry) -> dict[str, Any]:
    """Aggregated ``GET /api``: the core group alone (``CONTENT_TYPE_AGGREGATED_V2``)."""
    return _aggregated_list(registry, [g for g in registry.groups() if not g])


def aggregated_apis(registry: kinds.Registry) -> dict[str, Any]:
    """Aggregated ``GET /apis``: every named group, in registration (priority) order."""
    return _aggregated_list(registry, [g for g in registry.groups() if g])


# --- content negotiation ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MediaRange:
    """One entry of an ``Accept`` header: ``type/subtype`` with its parameters (``q`` kept apart)."""

    media_type: str
    parameters: tuple[tuple[str, str], ...] = ()
    quality: float = 1.0

    def parameter(self, name: str) -> str:
        """A parameter's value, ``""`` when absent."""
        return dict(self.parameters).get(name, "")

    def admits(self, media_type: str) -> bool:
        """Whether this range admits ``media_type`` (``*/*`` and ``application/*`` are wildcards)."""
        kind, _, _ = media_type.partition("/")
        return self.media_type in (media_type, "*/*", f"{kind}/*")


def parse_accept(accept: str | None) -> tuple[MediaRange, ...]:
    """An ``Accept`` header's media ranges, most preferred first (by ``q``, then by order).

    A missing or empty header accepts anything (``*/*``); ranges with ``q=0`` are refused and dropped.
    """
    if not accept or not accept.strip():
        return (MediaRange(media_type="*/*"),)
    ranges: list[MediaRange] = []
    for part in accept.split(","):
        media_type, *raw_params = (p.strip() for p in part.split(";"))
        if not media_type:
            continue
        quality = 1.0
        params: list[tuple[str, str]] = []
        for raw in raw_params:
            name, _, value = raw.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif name:
                params.append((name, value))
        if quality > 0:
            ranges.append(
                MediaRange(media_type=media_type.lower(), parameters=tuple(params), quality=quality)
            )
    return tuple(sorted(ranges, key=lambda r: -r.quality))


class DiscoveryFormat(enum.Enum):
    """Which form of ``/api`` and ``/apis`` to answer with."""

    AGGREGATED = "aggregated"  # APIGroupDiscoveryList, CONTENT_TYPE_AGGREGATED_V2
    LEGACY = "legacy"  # APIVersions / APIGroupList, CONTENT_TYPE_JSON


def negotiate_discovery(accept: str | None) -> DiscoveryFormat | None:
    """The form of ``/api`` and ``/apis`` the client prefers; ``None`` when it accepts neither (406).

    A JSON range that names a type (``as=...``) is served only if that type is ``APIGroupDiscoveryList``
    of ``apidiscovery.k8s.io/v2``; any other named type (v2beta1, ``Table``) is skipped, so the client's
    next choice decides. Protobuf is never chosen.
    """
    for media_range in parse_accept(accept):
        if not media_range.admits(CONTENT_TYPE_JSON):
            continue
        named = media_range.parameter("as")
        if not named:
            return DiscoveryFormat.LEGACY
        if (
            named == "APIGroupDiscoveryList"
            and media_range.parameter("g") == "apidiscovery.k8s.io"
            and media_range.parameter("v") == "v2"
        ):
            return DiscoveryFormat.AGGREGATED
    return None


def accepts_json(accept: str | None) -> bool:
    """Whether plain JSON (no ``as=`` type) satisfies ``accept``: the test for every other document here."""
    return any(r.admits(CONTENT_TYPE_JSON) and not r.parameter("as") for r in parse_accept(accept))
