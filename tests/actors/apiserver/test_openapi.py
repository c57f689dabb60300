"""OpenAPI documents: what kubectl's field-validation check and apply's patcher read, and the real kubectl.

The end-to-end tests serve ``discovery`` and ``openapi`` from a small aiohttp server on 127.0.0.1 with a
stub ConfigMap store, point kubectl at it through a temporary kubeconfig, and read back the requests kubectl
made. They are skipped when ``kubectl`` is not on ``PATH``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from actors.apiserver import discovery, openapi
from kube import codec, kinds, patch
from kube.kinds import Kind

R = kinds.DEFAULT
KUBECTL = shutil.which("kubectl")


def _document(group: str, version: str) -> dict[str, Any]:
    document = openapi.group_version_document(R, group, version)
    assert document is not None
    return document


def _gvk(kind: Kind) -> dict[str, str]:
    return {"group": kind.group, "version": kind.version, "kind": kind.kind}


def _patch_operations(document: dict[str, Any], kind: Kind) -> list[dict[str, Any]]:
    return [
        item["patch"]
        for item in document["paths"].values()
        if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"] == _gvk(kind)
    ]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


# --- the v3 index ---------------------------------------------------------------------------------------


def test_index_points_at_every_group_version_with_its_hash() -> None:
    index = openapi.index(R)
    expected = {openapi.group_version_path(*gv.rpartition("/")[::2]) for gv in R.group_versions()}
    assert set(index["paths"]) == expected
    for path, entry in index["paths"].items():
        group, _, version = path.removeprefix("api/").removeprefix("apis/").rpartition("/")
        digest = openapi.document_hash(_document(group, version))
        assert entry["serverRelativeURL"] == f"/openapi/v3/{path}?hash={digest}"


def test_hash_changes_when_the_document_does() -> None:
    extra = kinds.Registry(
        [*R, Kind(group="", version="v1", kind="Widget", resource="widgets", namespaced=True)]
    )
    before = openapi.index(R)["paths"]
    after = openapi.index(extra)["paths"]
    assert before["api/v1"] != after["api/v1"]
    assert before["apis/apps/v1"] == after["apis/apps/v1"]


@pytest.mark.parametrize(
    ("group", "version", "path"),
    [
        pytest.param("", "v1", "api/v1", id="core"),
        pytest.param("apps", "v1", "apis/apps/v1", id="apps"),
        pytest.param("rbac.authorization.k8s.io", "v1", "apis/rbac.authorization.k8s.io/v1", id="dotted"),
    ],
)
def test_group_version_path(group: str, version: str, path: str) -> None:
    assert openapi.group_version_path(group, version) == path


def test_unserved_group_version_has_no_document() -> None:
    assert openapi.group_version_document(R, "apps", "v1beta1") is None


# --- what kubectl reads in a group version document ----------------------------------------------------


def _kind_id(kind: Kind) -> str:
    return f"{kind.api_version}/{kind.resource}"


@pytest.mark.parametrize(
    "kind", [k for k in R if "patch" in discovery.resource_endpoint(k).verbs], ids=_kind_id
)
def test_every_patch_of_a_kind_takes_field_validation(kind: Kind) -> None:
    """kubectl takes the first PATCH with the GVK it meets (map order): each must list fieldValidation."""
    operations = _patch_operations(_document(kind.group, kind.version), kind)
    assert operations
    for operation in operations:
        query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        assert "fieldValidation" in query


@pytest.mark.parametrize("kind", list(R), ids=_kind_id)
def test_no_patch_offers_strategic_merge_so_kubectl_uses_its_builtin_patch_metadata(kind: Kind) -> None:
    for operation in _patch_operations(_document(kind.group, kind.version), kind):
        assert set(operation["requestBody"]["content"]) == set(openapi.PATCH_CONTENT_TYPES)
        assert "application/strategic-merge-patch+json" not in operation["requestBody"]["content"]


@pytest.mark.parametrize(
    ("group", "version", "resource", "expected"),
    [
        pytest.param(
            "",
            "v1",
            "configmaps",
            {
                "/api/v1/namespaces/{namespace}/configmaps": {"get", "post", "delete"},
                "/api/v1/namespaces/{namespace}/configmaps/{name}": {"get", "put", "patch", "delete"},
                "/api/v1/configmaps": {"get"},
            },
            id="namespaced",
        ),
        pytest.param(
            "apps",
            "v1",
            "deployments",
            {
                "/apis/apps/v1/namespaces/{namespace}/deployments": {"get", "post", "delete"},
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}": {"get", "put", "patch", "delete"},
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status": {"get", "put", "patch"},
                "/apis/apps/v1/deployments": {"get"},
            },
            id="with-status",
        ),
        pytest.param(
            "",
            "v1",
            "nodes",
            {
                "/api/v1/nodes": {"get", "post", "delete"},
                "/api/v1/nodes/{name}": {"get", "put", "patch", "delete"},
                "/api/v1/nodes/{name}/status": {"get", "put", "patch"},
            },
            id="cluster-scoped",
        ),
        pytest.param(
            "", "v1", "bindings", {"/api/v1/namespaces/{namespace}/bindings": {"post"}}, id="create-only"
        ),
        pytest.param(
            "metrics.k8s.io",
            "v1beta1",
            "pods",
            {
                "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods": {"get"},
                "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}": {"get"},
                "/apis/metrics.k8s.io/v1beta1/pods": {"get"},
            },
            id="read-only",
        ),
    ],
)
def test_paths_follow_the_verbs(
    group: str, version: str, resource: str, expected: dict[str, set[str]]
) -> None:
    kind = R.by_resource(group, version, resource)
    assert kind is not None
    got = {item.path: {op.method for op in item.operations} for item in openapi.path_items(kind)}
    assert got == expected


@pytest.mark.parametrize(
    ("group", "resource", "path_suffix", "method", "operation_id"),
    [
        pytest.param("", "configmaps", "/{name}", "patch", "patchCoreV1NamespacedConfigMap", id="patch"),
        pytest.param(
            "", "configmaps", "", "delete", "deleteCoreV1CollectionNamespacedConfigMap", id="deletecollection"
        ),
        pytest.param(
            "apps",
            "deployments",
            "/{name}/status",
            "put",
            "replaceAppsV1NamespacedDeploymentStatus",
            id="status",
        ),
        pytest.param(
            "rbac.authorization.k8s.io",
            "clusterroles",
            "/{name}",
            "get",
            "readRbacAuthorizationV1ClusterRole",
            id="dotted",
        ),
        pytest.param(
            "autoscaling",
            "horizontalpodautoscalers",
            "",
            "post",
            "createAutoscalingV2NamespacedHorizontalPodAutoscaler",
            id="v2",
        ),
    ],
)
def test_operation_ids_are_upstreams(
    group: str, resource: str, path_suffix: str, method: str, operation_id: str
) -> None:
    kind = next(k for k in R if k.group == group and k.resource == resource)
    document = _document(kind.group, kind.version)
    path = kind.path(namespace="{namespace}") + path_suffix
    assert document["paths"][path][method]["operationId"] == operation_id


def test_path_parameters_name_namespace_and_name() -> None:
    item = _document("", "v1")["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    params = {(p["name"], p["in"]): p.get("required", False) for p in item["parameters"]}
    assert params == {("name", "path"): True, ("namespace", "path"): True, ("pretty", "query"): False}


@pytest.mark.parametrize(
    ("group", "version", "kind", "name"),
    [
        pytest.param("", "v1", "Pod", "io.k8s.api.core.v1.Pod", id="core"),
        pytest.param("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment", id="apps"),
        pytest.param("rbac.authorization.k8s.io", "v1", "Role", "io.k8s.api.rbac.v1.Role", id="k8s.io"),
        pytest.param("stable.example.com", "v1", "CronTab", "com.example.stable.v1.CronTab", id="custom"),
    ],
)
def test_definition_name(group: str, version: str, kind: str, name: str) -> None:
    assert openapi.definition_name(group, version, kind) == name


@pytest.mark.parametrize("api_version", R.group_versions())
def test_group_version_document_is_self_contained(api_version: str) -> None:
    group, _, version = api_version.rpartition("/")
    document = _document(group, version)
    assert document["openapi"].startswith("3.")
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for kind in R.kinds_in(group, version):
        schema = schemas[openapi.definition_name(group, version, kind.kind)]
        assert schema["x-kubernetes-group-version-kind"] == [_gvk(kind)]
        assert schema["x-kubernetes-preserve-unknown-fields"] is True
    codec.to_json(document)  # plain JSON data


def test_swagger_document_is_self_contained_and_covers_every_group() -> None:
    document = openapi.swagger_document(R)
    assert document["swagger"] == "2.0"
    for ref in _refs(document):
        assert ref.removeprefix("#/definitions/") in document["definitions"], ref
    patch_op = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch_op["consumes"] == list(openapi.PATCH_CONTENT_TYPES)
    assert {p["name"] for p in patch_op["parameters"]} >= {"body", "fieldValidation"}
    assert "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}" in document["paths"]


@pytest.mark.parametrize(
    ("accept", "json"),
    [
        pytest.param(openapi.CONTENT_TYPE_V2_PROTOBUF, False, id="kubectl-protobuf-406"),
        pytest.param("application/json", True, id="json"),
        pytest.param(None, True, id="no-accept"),
        pytest.param(f"{openapi.CONTENT_TYPE_V2_PROTOBUF}, application/json;q=0.5", True, id="json-second"),
    ],
)
def test_negotiate_v2(accept: str | None, json: bool) -> None:
    assert openapi.negotiate_v2(accept) is json


# --- end to end with the real kubectl -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One request kubectl made, as the stub saw it."""

    method: str
    path: str
    query: str
    accept: str
    content_type: str


@dataclasses.dataclass(slots=True, kw_only=True)
class Stub:
    """An apiserver stand-in: discovery and OpenAPI from the modules under test, ConfigMaps in a dict."""

    legacy_only: bool = False  # answer /api and /apis in the legacy form whatever the Accept says
    rewrite_v3: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    requests: list[Request] = dataclasses.field(default_factory=list)
    configmaps: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @staticmethod
    def json(
        document: Any, *, status: int = 200, content_type: str = discovery.CONTENT_TYPE_JSON
    ) -> web.Response:
        return web.Response(
            status=status,
            body=codec.to_json(document),
            headers={"Content-Type": content_type, "Vary": "Accept"},
        )

    def status(self, code: int, reason: str, message: str = "") -> web.Response:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        return self.json({**body, "message": message, "reason": reason, "code": code}, status=code)

    async def handle(self, request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        self.requests.append(
            Request(
                method=request.method,
                path=request.path,
                query=request.query_string,
                accept=accept,
                content_type=request.headers.get("Content-Type", ""),
            )
        )
        path = request.path.rstrip("/") or "/"
        if path == "/version":
            return self.json(discovery.version_info())
        if path in ("/api", "/apis"):
            form = discovery.negotiate_discovery(accept)
            if form is None:
                return self.status(406, "NotAcceptable")
            if form is discovery.DiscoveryFormat.AGGREGATED and not self.legacy_only:
                aggregated = discovery.aggregated_api(R) if path == "/api" else discovery.aggregated_apis(R)
                return self.json(aggregated, content_type=discovery.CONTENT_TYPE_AGGREGATED_V2)
            legacy = (
                discovery.api_versions(R, server_address=request.host)
                if path == "/api"
                else discovery.api_group_list(R)
            )
            return self.json(legacy)
        if path == "/api/v1" or (path.startswith("/apis/") and path.count("/") == 3):
            group, _, version = path.removeprefix("/api/").removeprefix("/apis/").rpartition("/")
            resources = discovery.api_resource_list(R, group, version)
            return self.json(resources) if resources else self.status(404, "NotFound")
        if path == "/openapi/v3":
            return self.json(openapi.index(R))
        if path.startswith("/openapi/v3/"):
            rest = path.removeprefix("/openapi/v3/").removeprefix("api/").removeprefix("apis/")
            group, _, version = rest.rpartition("/")
            document = openapi.group_version_document(R, group, version)
            if document is None:
                return self.status(404, "NotFound")
            return self.json(self.rewrite_v3(document) if self.rewrite_v3 else document)
        if path == "/openapi/v2":
            if not openapi.negotiate_v2(accept):
                return self.status(406, "NotAcceptable", "only application/json is served")
            return self.json(openapi.swagger_document(R))
        if path.startswith("/api/v1/namespaces/default/configmaps"):
            return await self.configmaps_handler(request, path)
        return self.status(404, "NotFound", f"the server could not find the requested resource ({path})")

    async def configmaps_handler(self, request: web.Request, path: str) -> web.Response:
        name = path.removeprefix("/api/v1/namespaces/default/configmaps").strip("/")
        if request.method == "POST":
            created = codec.from_json(await request.read())
            created["metadata"].update(namespace="default", uid="0000", resourceVersion="1")
            self.configmaps[created["metadata"]["name"]] = created
            return self.json(created, status=201)
        current = self.configmaps.get(name)
        if current is None:
            return self.status(404, "NotFound", f'configmaps "{name}" not found')
        if request.method == "PATCH":  # a ConfigMap's strategic merge patch is a merge patch
            current = patch.merge_patch(current, codec.from_json(await request.read()))
            current["metadata"]["resourceVersion"] = str(int(current["metadata"]["resourceVersion"]) + 1)
            self.configmaps[name] = current
        return self.json(current)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Kubectl:
    """Runs kubectl against the stub with its own kubeconfig and cache directory."""

    kubeconfig: Path
    cache_dir: Path
    home: Path

    async def __call__(self, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
        assert KUBECTL is not None
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(KUBECONFIG=str(self.kubeconfig), HOME=str(self.home), NO_PROXY="127.0.0.1")
        process = await asyncio.create_subprocess_exec(
            KUBECTL,
            f"--cache-dir={self.cache_dir}",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout=15)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    yield Stub()


@pytest.fixture
async def kubectl(stub: Stub, tmp_path: Path) -> AsyncIterator[Kubectl]:
    if KUBECTL is None:
        pytest.skip("kubectl is not on PATH")
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        codec.dump_yaml(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kubemu", "cluster": {"server": f"http://{host}:{port}"}}],
                "users": [{"name": "kubemu", "user": {}}],
                "contexts": [
                    {
                        "name": "kubemu",
                        "context": {"cluster": "kubemu", "user": "kubemu", "namespace": "default"},
                    }
                ],
                "current-context": "kubemu",
            }
        )
    )
    try:
        yield Kubectl(kubeconfig=kubeconfig, cache_dir=tmp_path / "cache", home=tmp_path)
    finally:
        await runner.cleanup()


def _api_resources(output: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    """``kubectl api-resources`` rows by (name, apiVersion): (short names, namespaced, kind)."""
    rows: dict[tuple[str, str], tuple[str, str, str]] = {}
    for line in output.splitlines()[1:]:
        cells = line.split()
        if len(cells) == 4:  # no short names
            cells.insert(1, "")
        name, short, api_version, namespaced, kind = cells
        rows[(name, api_version)] = (short, namespaced, kind)
    return rows


@pytest.mark.parametrize(
    "legacy_only", [pytest.param(False, id="aggregated"), pytest.param(True, id="legacy")]
)
async def test_kubectl_api_resources_lists_every_kind(
    stub: Stub, kubectl: Kubectl, legacy_only: bool
) -> None:
    stub.legacy_only = legacy_only
    code, out, err = await kubectl("api-resources")
    assert code == 0, err
    rows = _api_resources(out)
    expected = {
        (k.resource, k.api_version): (",".join(k.short_names), str(k.namespaced).lower(), k.kind) for k in R
    }
    assert rows == expected
    assert rows[("pods", "v1")] == ("po", "true", "Pod")
    assert rows[("deployments", "apps/v1")] == ("deploy", "true", "Deployment")
    resource_lists = {r.path for r in stub.requests if r.path in ("/api/v1", "/apis/apps/v1")}
    # Aggregated discovery answers in two requests; legacy needs one more per group version.
    assert resource_lists == ({"/api/v1", "/apis/apps/v1"} if legacy_only else set())


async def test_kubectl_resolves_short_names_and_categories(stub: Stub, kubectl: Kubectl) -> None:
    stub.configmaps["demo"] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "demo"}}
    code, out, err = await kubectl("get", "cm", "demo", "-o", "name")
    assert (code, out.strip()) == (0, "configmap/demo"), err
    assert [r.path for r in stub.requests][-1] == "/api/v1/namespaces/default/configmaps/demo"
    code, out, err = await kubectl("api-resources", "--categories=all", "-o", "name")
    assert code == 0, err
    assert set(out.split()) == {k.qualified_resource for k in R.in_category("all")}


CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
data:
  greeting: {greeting}
"""


async def test_kubectl_apply_hands_validation_to_the_server(stub: Stub, kubectl: Kubectl) -> None:
    code, out, err = await kubectl("apply", "-f", "-", stdin=CONFIGMAP.format(greeting="hello").encode())
    assert (code, out.strip()) == (0, "configmap/demo created"), err
    created = [r for r in stub.requests if r.method != "GET"]
    assert [(r.method, r.path, r.query) for r in created] == [
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        )
    ]
    paths = [r.path for r in stub.requests]
    assert "/openapi/v3" in paths
    assert "/openapi/v3/api/v1" in paths
    v3 = next(r for r in stub.requests if r.path == "/openapi/v3/api/v1")
    assert v3.query.startswith("hash=")
    # kubectl found fieldValidation in the v3 document: it never fell back to v2 to validate client side.
    assert "/openapi/v2" not in paths

    stub.requests.clear()
    code, out, err = await kubectl("apply", "-f", "-", stdin=CONFIGMAP.format(greeting="bonjour").encode())
    assert (code, out.strip()) == (0, "configmap/demo configured"), err
    [patched] = [r for r in stub.requests if r.method == "PATCH"]
    assert patched.query == "fieldManager=kubectl-client-side-apply&fieldValidation=Strict"
    # No strategic merge patch in v3: kubectl asked v2 as protobuf, got 406, used its built-in patch metadata.
    assert patched.content_type == "application/strategic-merge-patch+json"
    [v2] = [r for r in stub.requests if r.path == "/openapi/v2"]
    assert v2.accept == openapi.CONTENT_TYPE_V2_PROTOBUF
    assert stub.configmaps["demo"]["data"] == {"greeting": "bonjour"}


def _without_field_validation(document: dict[str, Any]) -> dict[str, Any]:
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation["parameters"] = [
                    p for p in operation["parameters"] if p["name"] != "fieldValidation"
                ]
    return document


async def test_kubectl_apply_fails_validation_without_field_validation_in_v3(
    stub: Stub, kubectl: Kubectl
) -> None:
    """The control: what the v3 document spares kubectl users, and proof the check above can fail."""
    stub.rewrite_v3 = _without_field_validation
    code, _, err = await kubectl("apply", "-f", "-", stdin=CONFIGMAP.format(greeting="hello").encode())
    assert code != 0
    assert "error validating" in err
    assert not [r for r in stub.requests if r.method == "POST"]
    assert "/openapi/v2" in [r.path for r in stub.requests]
