"""The kinds registry: upstream's resource facts and every name kubectl resolves."""

from __future__ import annotations

import pytest

from kube import kinds
from kube.kinds import Kind, Registry

R = kinds.DEFAULT

# (kubectl api-resources) resource, short names, apiVersion, namespaced, kind
UPSTREAM = [
    ("pods", ("po",), "v1", True, "Pod"),
    ("nodes", ("no",), "v1", False, "Node"),
    ("services", ("svc",), "v1", True, "Service"),
    ("endpoints", ("ep",), "v1", True, "Endpoints"),
    ("namespaces", ("ns",), "v1", False, "Namespace"),
    ("events", ("ev",), "v1", True, "Event"),
    ("configmaps", ("cm",), "v1", True, "ConfigMap"),
    ("secrets", (), "v1", True, "Secret"),
    ("serviceaccounts", ("sa",), "v1", True, "ServiceAccount"),
    ("replicationcontrollers", ("rc",), "v1", True, "ReplicationController"),
    ("persistentvolumeclaims", ("pvc",), "v1", True, "PersistentVolumeClaim"),
    ("bindings", (), "v1", True, "Binding"),
    ("deployments", ("deploy",), "apps/v1", True, "Deployment"),
    ("replicasets", ("rs",), "apps/v1", True, "ReplicaSet"),
    ("statefulsets", ("sts",), "apps/v1", True, "StatefulSet"),
    ("daemonsets", ("ds",), "apps/v1", True, "DaemonSet"),
    ("controllerrevisions", (), "apps/v1", True, "ControllerRevision"),
    ("jobs", (), "batch/v1", True, "Job"),
    ("cronjobs", ("cj",), "batch/v1", True, "CronJob"),
    ("horizontalpodautoscalers", ("hpa",), "autoscaling/v2", True, "HorizontalPodAutoscaler"),
    ("endpointslices", (), "discovery.k8s.io/v1", True, "EndpointSlice"),
    ("leases", (), "coordination.k8s.io/v1", True, "Lease"),
    ("priorityclasses", ("pc",), "scheduling.k8s.io/v1", False, "PriorityClass"),
    ("networkpolicies", ("netpol",), "networking.k8s.io/v1", True, "NetworkPolicy"),
    ("roles", (), "rbac.authorization.k8s.io/v1", True, "Role"),
    ("clusterroles", (), "rbac.authorization.k8s.io/v1", False, "ClusterRole"),
    ("rolebindings", (), "rbac.authorization.k8s.io/v1", True, "RoleBinding"),
    ("clusterrolebindings", (), "rbac.authorization.k8s.io/v1", False, "ClusterRoleBinding"),
    ("tokenreviews", (), "authentication.k8s.io/v1", False, "TokenReview"),
    ("selfsubjectreviews", (), "authentication.k8s.io/v1", False, "SelfSubjectReview"),
    ("subjectaccessreviews", (), "authorization.k8s.io/v1", False, "SubjectAccessReview"),
    ("selfsubjectaccessreviews", (), "authorization.k8s.io/v1", False, "SelfSubjectAccessReview"),
    ("selfsubjectrulesreviews", (), "authorization.k8s.io/v1", False, "SelfSubjectRulesReview"),
    ("localsubjectaccessreviews", (), "authorization.k8s.io/v1", True, "LocalSubjectAccessReview"),
    ("pods", (), "metrics.k8s.io/v1beta1", True, "PodMetrics"),
    ("nodes", (), "metrics.k8s.io/v1beta1", False, "NodeMetrics"),
]


@pytest.mark.parametrize(
    ("resource", "short_names", "api_version", "namespaced", "kind"),
    UPSTREAM,
    ids=[f"{u[2]}/{u[4]}" for u in UPSTREAM],
)
def test_builtin_kinds_match_upstream(
    resource: str, short_names: tuple[str, ...], api_version: str, namespaced: bool, kind: str
) -> None:
    k = R.by_kind(api_version, kind)
    assert k is not None
    assert (k.resource, k.short_names, k.namespaced, k.list_kind) == (
        resource,
        short_names,
        namespaced,
        kind + "List",
    )
    group, _, version = api_version.rpartition("/")
    assert R.by_resource(group, version, resource) is k


def test_exactly_the_builtin_kinds_are_registered() -> None:
    assert sorted((k.api_version, k.kind) for k in R) == sorted((u[2], u[4]) for u in UPSTREAM)


@pytest.mark.parametrize(
    ("name", "api_version", "kind"),
    [
        ("pods", "v1", "Pod"),
        ("pod", "v1", "Pod"),
        ("po", "v1", "Pod"),
        ("Pod", "v1", "Pod"),
        ("PODS", "v1", "Pod"),
        ("deploy", "apps/v1", "Deployment"),
        ("deployments.apps", "apps/v1", "Deployment"),
        ("deployment.apps", "apps/v1", "Deployment"),
        ("deploy.apps", "apps/v1", "Deployment"),
        ("deployments.v1.apps", "apps/v1", "Deployment"),
        ("ep", "v1", "Endpoints"),
        ("endpoints", "v1", "Endpoints"),
        ("horizontalpodautoscaler", "autoscaling/v2", "HorizontalPodAutoscaler"),
        ("endpointslices.discovery.k8s.io", "discovery.k8s.io/v1", "EndpointSlice"),
        ("pods.metrics.k8s.io", "metrics.k8s.io/v1beta1", "PodMetrics"),
        ("nodes.v1beta1.metrics.k8s.io", "metrics.k8s.io/v1beta1", "NodeMetrics"),
        ("podmetrics", "metrics.k8s.io/v1beta1", "PodMetrics"),
    ],
    ids=lambda v: str(v),
)
def test_lookup_resolves_every_name_kubectl_accepts(name: str, api_version: str, kind: str) -> None:
    found = R.lookup(name)
    assert found is not None and (found.api_version, found.kind) == (api_version, kind)


@pytest.mark.parametrize("name", ["foo", "deployments.v2.apps", "pods.apps", "", "deployments.nosuch"])
def test_unknown_names_resolve_to_none(name: str) -> None:
    assert R.lookup(name) is None


def test_rest_paths() -> None:
    pod = R.lookup("pods")
    deploy = R.lookup("deploy")
    node = R.lookup("nodes")
    assert pod is not None and deploy is not None and node is not None
    assert pod.path_prefix == "/api/v1" and deploy.path_prefix == "/apis/apps/v1"
    assert pod.path() == "/api/v1/pods"
    assert pod.path(namespace="default") == "/api/v1/namespaces/default/pods"
    assert pod.path(namespace="default", name="web", subresource="binding") == (
        "/api/v1/namespaces/default/pods/web/binding"
    )
    assert (
        deploy.path(namespace="x", name="d", subresource="scale")
        == "/apis/apps/v1/namespaces/x/deployments/d/scale"
    )
    assert node.path(namespace="ignored", name="n1") == "/api/v1/nodes/n1"
    assert deploy.qualified_resource == "deployments.apps" and pod.qualified_resource == "pods"


def test_subresources_and_categories() -> None:
    assert {"status", "binding", "eviction", "log"} <= set(R.lookup("pods").subresources)  # type: ignore[union-attr]
    assert R.lookup("deploy").subresources == ("status", "scale")  # type: ignore[union-attr]
    assert R.lookup("ds").subresources == ("status",)  # type: ignore[union-attr]
    assert {k.resource for k in R.in_category("all")} == {
        "pods",
        "services",
        "replicationcontrollers",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "horizontalpodautoscalers",
    }


def test_groups_and_versions_for_discovery() -> None:
    assert R.groups()[0] == "" and "apps" in R.groups()
    assert R.versions("autoscaling") == ("v2",)
    assert "rbac.authorization.k8s.io/v1" in R.group_versions()
    assert [k.kind for k in R.kinds_in("batch", "v1")] == ["Job", "CronJob"]


def test_register_refuses_duplicates_and_extends_lookups() -> None:
    registry = Registry(kinds.BUILTIN)
    widget = Kind(
        group="example.com",
        version="v1",
        kind="Widget",
        resource="widgets",
        namespaced=True,
        short_names=("wd",),
    )
    registry.register(widget)
    assert registry.lookup("wd") is widget and registry.lookup("widgets.example.com") is widget
    assert widget.singular == "widget" and widget.api_version == "example.com/v1"
    with pytest.raises(ValueError, match="already registered"):
        registry.register(widget)
    assert R.lookup("wd") is None
