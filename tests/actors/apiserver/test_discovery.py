"""Discovery documents: upstream's facts per resource, both forms agreeing, and content negotiation.

The end-to-end check with the real kubectl (``kubectl api-resources`` over aggregated and legacy discovery)
is in ``test_openapi.py``, which serves both modules' documents.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.apiserver import discovery
from actors.apiserver.discovery import DiscoveryFormat
from kube import kinds
from kube.kinds import Kind, Registry

R = kinds.DEFAULT

KUBECTL_132_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def _entry(group: str, version: str, name: str) -> dict[str, Any]:
    document = discovery.api_resource_list(R, group, version)
    assert document is not None
    entries: list[dict[str, Any]] = [r for r in document["resources"] if r["name"] == name]
    assert len(entries) == 1
    return entries[0]


@pytest.mark.parametrize(
    ("git_version", "major", "minor"),
    [
        pytest.param(discovery.GIT_VERSION, "1", "32", id="default"),
        pytest.param("v1.30.2", "1", "30", id="plain"),
        pytest.param("v1.33.0-alpha.1+abc", "1", "33", id="prerelease"),
    ],
)
def test_version_info_derives_major_and_minor(git_version: str, major: str, minor: str) -> None:
    info = discovery.version_info(git_version=git_version)
    assert (info["major"], info["minor"], info["gitVersion"]) == (major, minor, git_version)
    # Every field the official Python client's VersionInfo model requires.
    required = {"buildDate", "compiler", "gitCommit", "gitTreeState", "gitVersion", "goVersion", "platform"}
    assert required <= info.keys()


def test_api_versions_lists_core_versions_and_server_address() -> None:
    document = discovery.api_versions(R, server_address="127.0.0.1:6443")
    assert document["kind"] == "APIVersions"
    assert document["versions"] == ["v1"]
    assert document["serverAddressByClientCIDRs"] == [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
    ]


def test_api_group_list_names_every_group_but_core_with_preferred_version() -> None:
    document = discovery.api_group_list(R)
    names = [g["name"] for g in document["groups"]]
    assert names == [g for g in R.groups() if g]
    apps = next(g for g in document["groups"] if g["name"] == "apps")
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert apps["versions"] == [apps["preferredVersion"]]


@pytest.mark.parametrize(
    ("group", "found"),
    [
        pytest.param("apps", True, id="known"),
        pytest.param("example.com", False, id="unknown"),
        pytest.param("", False, id="core-is-not-a-named-group"),
    ],
)
def test_api_group(group: str, found: bool) -> None:
    document = discovery.api_group(R, group)
    assert (document is not None) == found
    if document is not None:
        assert document["kind"] == "APIGroup"
        assert document["name"] == group


_ALL_VERBS = list(discovery.STANDARD_VERBS)
_GPU = ["get", "patch", "update"]


# Upstream's /api/v1 and /apis/apps/v1 entries (api/discovery/*.json in kubernetes/kubernetes), less
# storageVersionHash.
@pytest.mark.parametrize(
    ("group", "version", "name", "expected"),
    [
        pytest.param(
            "",
            "v1",
            "pods",
            {
                "name": "pods",
                "singularName": "pod",
                "namespaced": True,
                "kind": "Pod",
                "verbs": _ALL_VERBS,
                "shortNames": ["po"],
                "categories": ["all"],
            },
            id="pods",
        ),
        pytest.param(
            "",
            "v1",
            "pods/status",
            {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": _GPU},
            id="pods/status",
        ),
        pytest.param(
            "",
            "v1",
            "pods/log",
            {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
            id="pods/log",
        ),
        pytest.param(
            "",
            "v1",
            "pods/binding",
            {
                "name": "pods/binding",
                "singularName": "",
                "namespaced": True,
                "kind": "Binding",
                "verbs": ["create"],
            },
            id="pods/binding",
        ),
        pytest.param(
            "",
            "v1",
            "pods/eviction",
            {
                "name": "pods/eviction",
                "singularName": "",
                "namespaced": True,
                "group": "policy",
                "version": "v1",
                "kind": "Eviction",
                "verbs": ["create"],
            },
            id="pods/eviction",
        ),
        pytest.param(
            "",
            "v1",
            "pods/exec",
            {
                "name": "pods/exec",
                "singularName": "",
                "namespaced": True,
                "kind": "PodExecOptions",
                "verbs": ["create", "get"],
            },
            id="pods/exec",
        ),
        pytest.param(
            "",
            "v1",
            "nodes/proxy",
            {
                "name": "nodes/proxy",
                "singularName": "",
                "namespaced": False,
                "kind": "NodeProxyOptions",
                "verbs": ["create", "delete", "get", "patch", "update"],
            },
            id="nodes/proxy",
        ),
        pytest.param(
            "",
            "v1",
            "bindings",
            {
                "name": "bindings",
                "singularName": "binding",
                "namespaced": True,
                "kind": "Binding",
                "verbs": ["create"],
            },
            id="bindings-create-only",
        ),
        pytest.param(
            "",
            "v1",
            "namespaces",
            {
                "name": "namespaces",
                "singularName": "namespace",
                "namespaced": False,
                "kind": "Namespace",
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                "shortNames": ["ns"],
            },
            id="namespaces-no-deletecollection",
        ),
        pytest.param(
            "",
            "v1",
            "namespaces/finalize",
            {
                "name": "namespaces/finalize",
                "singularName": "",
                "namespaced": False,
                "kind": "Namespace",
                "verbs": ["update"],
            },
            id="namespaces/finalize",
        ),
        pytest.param(
            "",
            "v1",
            "serviceaccounts/token",
            {
                "name": "serviceaccounts/token",
                "singularName": "",
                "namespaced": True,
                "group": "authentication.k8s.io",
                "version": "v1",
                "kind": "TokenRequest",
                "verbs": ["create"],
            },
            id="serviceaccounts/token",
        ),
        pytest.param(
            "",
            "v1",
            "endpoints",
            {
                "name": "endpoints",
                "singularName": "endpoints",
                "namespaced": True,
                "kind": "Endpoints",
                "verbs": _ALL_VERBS,
                "shortNames": ["ep"],
            },
            id="endpoints-singular",
        ),
        pytest.param(
            "apps",
            "v1",
            "deployments/scale",
            {
                "name": "deployments/scale",
                "singularName": "",
                "namespaced": True,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": _GPU,
            },
            id="deployments/scale",
        ),
        pytest.param(
            "apps",
            "v1",
            "deployments",
            {
                "name": "deployments",
                "singularName": "deployment",
                "namespaced": True,
                "kind": "Deployment",
                "verbs": _ALL_VERBS,
                "shortNames": ["deploy"],
                "categories": ["all"],
            },
            id="deployments",
        ),
        pytest.param(
            "metrics.k8s.io",
            "v1beta1",
            "pods",
            {
                "name": "pods",
                "singularName": "podmetrics",
                "namespaced": True,
                "kind": "PodMetrics",
                "verbs": ["get", "list"],
            },
            id="metrics-pods-read-only",
        ),
    ],
)
def test_api_resource_list_entry_is_upstreams(
    group: str, version: str, name: str, expected: dict[str, Any]
) -> None:
    assert _entry(group, version, name) == expected


@pytest.mark.parametrize("api_version", R.group_versions())
def test_api_resource_list_is_sorted_and_names_its_group_version(api_version: str) -> None:
    group, _, version = api_version.rpartition("/")
    document = discovery.api_resource_list(R, group, version)
    assert document is not None
    assert (document["kind"], document["groupVersion"]) == ("APIResourceList", api_version)
    names = [r["name"] for r in document["resources"]]
    assert names == sorted(names)
    expected = {k.resource for k in R.kinds_in(group, version)}
    expected |= {f"{k.resource}/{s}" for k in R.kinds_in(group, version) for s in k.subresources}
    assert set(names) == expected


@pytest.mark.parametrize(
    ("group", "version"),
    [pytest.param("", "v2", id="core-v2"), pytest.param("apps", "v1beta1", id="apps-v1beta1")],
)
def test_api_resource_list_of_unserved_group_version_is_none(group: str, version: str) -> None:
    assert discovery.api_resource_list(R, group, version) is None


def test_unknown_subresource_reads_and_writes_its_parent() -> None:
    kind = Kind(group="example.com", version="v1", kind="Widget", resource="widgets", namespaced=True)
    endpoint = discovery.subresource_endpoint(kind, "approval")
    assert (endpoint.kind, endpoint.verbs, endpoint.group) == ("Widget", ("get", "patch", "update"), "")


# --- aggregated discovery ------------------------------------------------------------------------------


def _split(aggregated: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """client-go's ``SplitGroupsAndResources``: aggregated back to legacy entries, per group version.

    Resources or subresources without a non-empty ``responseKind`` are dropped, as client-go drops them.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for item in aggregated["items"]:
        group = item["metadata"].get("name", "")
        for v in item["versions"]:
            entries: list[dict[str, Any]] = []
            for r in v["resources"]:
                parent: dict[str, Any] = {
                    "name": r["resource"],
                    "singularName": r["singularResource"],
                    "namespaced": r["scope"] == "Namespaced",
                }
                kind = r.get("responseKind") or {}
                if kind.get("group") or kind.get("version"):
                    parent.update(group=kind["group"], version=kind["version"])
                parent.update(kind=kind.get("kind", ""), verbs=r["verbs"])
                for key in ("shortNames", "categories"):
                    if r.get(key):
                        parent[key] = r[key]
                if kind.get("kind"):
                    entries.append(parent)
                for s in r.get("subresources", []):
                    sub_kind = s.get("responseKind") or {}
                    if not sub_kind.get("kind"):
                        continue
                    sub = {
                        "name": f"{r['resource']}/{s['subresource']}",
                        "singularName": "",
                        "namespaced": parent["namespaced"],
                    }
                    if sub_kind.get("group") or sub_kind.get("version"):
                        sub.update(group=sub_kind["group"], version=sub_kind["version"])
                    sub.update(kind=sub_kind["kind"], verbs=s["verbs"])
                    entries.append(sub)
            out[f"{group}/{v['version']}" if group else v["version"]] = sorted(
                entries, key=lambda e: e["name"]
            )
    return out


def test_aggregated_api_holds_the_core_group_alone_without_a_name() -> None:
    document = discovery.aggregated_api(R)
    assert (document["kind"], document["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    [core] = document["items"]
    assert core["metadata"] == {}
    assert [v["version"] for v in core["versions"]] == ["v1"]
    assert all(v["freshness"] == "Current" for v in core["versions"])


def test_aggregated_apis_holds_named_groups_in_priority_order() -> None:
    document = discovery.aggregated_apis(R)
    assert [i["metadata"]["name"] for i in document["items"]] == [g for g in R.groups() if g]


def test_aggregated_and_legacy_discovery_say_the_same() -> None:
    split = _split(discovery.aggregated_api(R)) | _split(discovery.aggregated_apis(R))
    assert set(split) == set(R.group_versions())
    for api_version, entries in split.items():
        group, _, version = api_version.rpartition("/")
        legacy = discovery.api_resource_list(R, group, version)
        assert legacy is not None
        assert entries == legacy["resources"], api_version


def test_aggregated_subresources_name_a_response_kind() -> None:
    """client-go drops any subresource whose responseKind is empty, so every one must carry a kind."""
    for document in (discovery.aggregated_api(R), discovery.aggregated_apis(R)):
        for item in document["items"]:
            for version in item["versions"]:
                for resource in version["resources"]:
                    assert resource["responseKind"]["kind"]
                    for sub in resource.get("subresources", []):
                        assert sub["responseKind"]["kind"], (resource["resource"], sub["subresource"])


def test_deployments_scale_is_autoscaling_v1_scale_in_aggregated_discovery() -> None:
    [apps] = [i for i in discovery.aggregated_apis(R)["items"] if i["metadata"]["name"] == "apps"]
    [deployments] = [r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments"]
    assert deployments["scope"] == "Namespaced"
    assert deployments["responseKind"] == {"group": "", "version": "", "kind": "Deployment"}
    assert [s["subresource"] for s in deployments["subresources"]] == ["scale", "status"]
    assert deployments["subresources"][0]["responseKind"] == {
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
    }


def test_a_registry_with_only_named_groups_has_an_empty_core_list() -> None:
    registry = Registry(
        [Kind(group="example.com", version="v1", kind="Widget", resource="widgets", namespaced=True)]
    )
    assert discovery.aggregated_api(registry)["items"] == []
    assert discovery.api_versions(registry, server_address="x")["versions"] == []
    assert (
        discovery.api_group_list(registry)["groups"][0]["preferredVersion"]["groupVersion"]
        == "example.com/v1"
    )


# --- negotiation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(KUBECTL_132_ACCEPT, DiscoveryFormat.AGGREGATED, id="kubectl-1.32"),
        pytest.param(
            KUBECTL_132_ACCEPT.replace(";as=", ";profile=nopeer;as=", 1),
            DiscoveryFormat.AGGREGATED,
            id="nopeer",
        ),
        pytest.param(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
            DiscoveryFormat.LEGACY,
            id="kubectl-1.27-v2beta1-then-json",
        ),
        pytest.param("application/json, */*", DiscoveryFormat.LEGACY, id="client-go-default"),
        pytest.param("application/json", DiscoveryFormat.LEGACY, id="python-client"),
        pytest.param(None, DiscoveryFormat.LEGACY, id="no-accept"),
        pytest.param("", DiscoveryFormat.LEGACY, id="empty-accept"),
        pytest.param("*/*", DiscoveryFormat.LEGACY, id="curl"),
        pytest.param("application/*", DiscoveryFormat.LEGACY, id="application-wildcard"),
        pytest.param(
            "application/json;q=0.5, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            DiscoveryFormat.AGGREGATED,
            id="quality-orders",
        ),
        pytest.param(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            None,
            id="v2beta1-only",
        ),
        pytest.param("application/vnd.kubernetes.protobuf", None, id="protobuf-only"),
        pytest.param("application/json;q=0", None, id="json-refused"),
        pytest.param("application/json;as=Table;v=v1;g=meta.k8s.io", None, id="table-only"),
    ],
)
def test_negotiate_discovery(accept: str | None, expected: DiscoveryFormat | None) -> None:
    assert discovery.negotiate_discovery(accept) is expected


def test_parse_accept_keeps_parameters_and_orders_by_quality() -> None:
    ranges = discovery.parse_accept('text/plain;q=0.2, application/json;as="Table";v=v1, */*;q=0.8')
    assert [r.media_type for r in ranges] == ["application/json", "*/*", "text/plain"]
    assert ranges[0].parameter("as") == "Table"
    assert ranges[0].parameter("g") == ""


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param("application/json", True, id="json"),
        pytest.param("application/json, */*", True, id="client-go"),
        pytest.param(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", False, id="openapi-protobuf"
        ),
        pytest.param("application/json;as=Table;v=v1;g=meta.k8s.io", False, id="table"),
    ],
)
def test_accepts_json(accept: str, expected: bool) -> None:
    assert discovery.accepts_json(accept) is expected
