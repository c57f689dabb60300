"""Defaulting: what upstream's SetDefaults_* functions (and the create-time strategies) fill in."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from kube import defaults, kinds
from kube import defaults_pod as dp

K = kinds.DEFAULT


def kind(api_version: str, name: str) -> kinds.Kind:
    found = K.by_kind(api_version, name)
    assert found is not None
    return found


POD, SERVICE, NAMESPACE = kind("v1", "Pod"), kind("v1", "Service"), kind("v1", "Namespace")
RC, SECRET, NODE = kind("v1", "ReplicationController"), kind("v1", "Secret"), kind("v1", "Node")
ENDPOINTS, CONFIG_MAP = kind("v1", "Endpoints"), kind("v1", "ConfigMap")
DEPLOYMENT, REPLICA_SET = kind("apps/v1", "Deployment"), kind("apps/v1", "ReplicaSet")
STATEFUL_SET, DAEMON_SET = kind("apps/v1", "StatefulSet"), kind("apps/v1", "DaemonSet")
JOB, CRON_JOB = kind("batch/v1", "Job"), kind("batch/v1", "CronJob")
HPA = kind("autoscaling/v2", "HorizontalPodAutoscaler")

DEFAULTED_CONTAINER = {
    "name": "web",
    "image": "nginx",
    "imagePullPolicy": "Always",
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}
DEFAULTED_POD_SPEC = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}


def template(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}], **spec},
    }


def defaulted(k: kinds.Kind, obj: dict[str, Any]) -> dict[str, Any]:
    defaults.default(k, obj)
    return obj


def test_pod_gets_every_upstream_default() -> None:
    pod = defaulted(
        POD, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    )
    assert pod["spec"] == {
        "containers": [DEFAULTED_CONTAINER],
        "enableServiceLinks": True,
        **DEFAULTED_POD_SPEC,
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry.example.com:5000/team/app", "Always"),
        ("registry.example.com:5000/team/app:v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("Not/A/Valid/Image", "IfNotPresent"),
        ("", "IfNotPresent"),
    ],
    ids=[
        "no-tag",
        "latest",
        "tag",
        "registry-no-tag",
        "registry-tag",
        "digest",
        "latest-digest",
        "invalid",
        "empty",
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert dp.image_pull_policy(image) == policy


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ({"ports": [{"containerPort": 80}]}, {"ports": [{"containerPort": 80, "protocol": "TCP"}]}),
        (
            {"ports": [{"containerPort": 53, "protocol": "UDP"}]},
            {"ports": [{"containerPort": 53, "protocol": "UDP"}]},
        ),
        ({"imagePullPolicy": "Never"}, {"imagePullPolicy": "Never"}),
        (
            {"resources": {"limits": {"cpu": "0.0001"}}},
            {"resources": {"limits": {"cpu": "1m"}, "requests": {"cpu": "1m"}}},
        ),
        (
            {"readinessProbe": {"httpGet": {"port": 8080}}},
            {
                "readinessProbe": {
                    "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                    "timeoutSeconds": 1,
                    "periodSeconds": 10,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                }
            },
        ),
        (
            {"env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]},
            {
                "env": [
                    {
                        "name": "NODE",
                        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName", "apiVersion": "v1"}},
                    }
                ]
            },
        ),
    ],
    ids=["port-protocol", "port-protocol-kept", "pull-policy-kept", "milli-rounding", "probe", "field-ref"],
)
def test_container_defaults(container: dict[str, Any], expected: dict[str, Any]) -> None:
    pod = defaulted(POD, {"spec": {"containers": [{"name": "web", "image": "nginx", **container}]}})
    assert pod["spec"]["containers"][0] == {**DEFAULTED_CONTAINER, **expected}


def test_pod_only_defaults_requests_from_limits_and_host_ports() -> None:
    spec = {
        "hostNetwork": True,
        "containers": [
            {
                "name": "web",
                "image": "nginx",
                "ports": [{"containerPort": 8080}],
                "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "100m"}},
            }
        ],
    }
    ctr = defaulted(POD, {"spec": spec})["spec"]["containers"][0]
    assert ctr["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "100m", "memory": "1Gi"},
    }
    assert ctr["ports"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]


def test_volumes_get_a_source_and_file_modes() -> None:
    volumes = [
        {"name": "scratch"},
        {"name": "conf", "configMap": {"name": "c"}},
        {"name": "keys", "secret": {"secretName": "s"}},
    ]
    pod = defaulted(POD, {"spec": {"containers": [{"name": "web", "image": "nginx"}], "volumes": volumes}})
    assert pod["spec"]["volumes"] == [
        {"name": "scratch", "emptyDir": {}},
        {"name": "conf", "configMap": {"name": "c", "defaultMode": 420}},
        {"name": "keys", "secret": {"secretName": "s", "defaultMode": 420}},
    ]


def test_templates_get_pod_spec_defaults_but_not_pod_only_ones() -> None:
    deployment = defaulted(DEPLOYMENT, {"spec": {"template": template()}})
    spec = deployment["spec"]["template"]["spec"]
    assert spec == {"containers": [DEFAULTED_CONTAINER], **DEFAULTED_POD_SPEC}
    assert "enableServiceLinks" not in spec


def test_user_values_are_kept_and_defaulting_is_idempotent() -> None:
    pod = {
        "spec": {
            "restartPolicy": "Never",
            "dnsPolicy": "Default",
            "terminationGracePeriodSeconds": 0,
            "enableServiceLinks": False,
            "containers": [
                {"name": "web", "image": "nginx", "terminationMessagePolicy": "FallbackToLogsOnError"}
            ],
        }
    }
    once = defaulted(POD, pod)
    assert (once["spec"]["restartPolicy"], once["spec"]["dnsPolicy"]) == ("Never", "Default")
    assert once["spec"]["terminationGracePeriodSeconds"] == 0
    assert once["spec"]["enableServiceLinks"] is False
    assert once["spec"]["containers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert defaulted(POD, copy.deepcopy(once)) == once


@pytest.mark.parametrize(
    ("k", "spec", "expected"),
    [
        (
            DEPLOYMENT,
            {},
            {
                "replicas": 1,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
        ),
        (
            DEPLOYMENT,
            {"replicas": 0, "strategy": {"type": "Recreate"}},
            {
                "replicas": 0,
                "strategy": {"type": "Recreate"},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
        ),
        (REPLICA_SET, {}, {"replicas": 1}),
        (
            STATEFUL_SET,
            {},
            {
                "replicas": 1,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            },
        ),
        (
            STATEFUL_SET,
            {"updateStrategy": {"type": "OnDelete"}},
            {
                "replicas": 1,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "OnDelete"},
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            },
        ),
        (
            DAEMON_SET,
            {},
            {
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
                },
                "revisionHistoryLimit": 10,
            },
        ),
    ],
    ids=[
        "deployment",
        "deployment-recreate",
        "replicaset",
        "statefulset",
        "statefulset-ondelete",
        "daemonset",
    ],
)
def test_apps_defaults(k: kinds.Kind, spec: dict[str, Any], expected: dict[str, Any]) -> None:
    obj = defaulted(k, {"spec": {"template": template(), **spec}})
    obj["spec"].pop("template")
    assert obj["spec"] == expected


def test_statefulset_claim_templates_are_defaulted() -> None:
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    obj = defaulted(STATEFUL_SET, {"spec": {"template": template(), "volumeClaimTemplates": [claim]}})
    assert obj["spec"]["volumeClaimTemplates"][0] == {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"},
    }


def test_replication_controller_takes_selector_and_labels_from_its_template() -> None:
    rc = defaulted(RC, {"metadata": {"name": "rc"}, "spec": {"template": template()}})
    assert rc["spec"]["selector"] == {"app": "web"}
    assert rc["metadata"]["labels"] == {"app": "web"}
    assert rc["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    ("given", "completions", "parallelism"),
    [
        ({}, 1, 1),
        ({"completions": 5}, 5, 1),
        ({"parallelism": 3}, None, 3),
        ({"completions": 0, "parallelism": 0}, 0, 0),
    ],
    ids=["neither", "completions-only", "parallelism-only", "zeroes-kept"],
)
def test_job_completions_and_parallelism(
    given: dict[str, Any], completions: int | None, parallelism: int
) -> None:
    job = defaulted(JOB, {"spec": {"template": template(restartPolicy="Never"), **given}})
    assert job["spec"].get("completions") == completions
    assert job["spec"]["parallelism"] == parallelism


def test_job_defaults() -> None:
    job = defaulted(JOB, {"metadata": {"name": "j"}, "spec": {"template": template(restartPolicy="Never")}})
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["completionMode"], spec["suspend"]) == (6, "NonIndexed", False)
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert "manualSelector" not in spec and "selector" not in spec
    assert job["metadata"]["labels"] == {"app": "web"}  # copied from the template, as upstream


def test_job_selector_generation_at_create() -> None:
    job: dict[str, Any] = {
        "metadata": {"name": "pi", "uid": "1234"},
        "spec": {"template": template(restartPolicy="Never")},
    }
    defaults.default(JOB, job)
    defaults.prepare_for_create(JOB, job)
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}}
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "app": "web",
        "job-name": "pi",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "1234",
        "batch.kubernetes.io/controller-uid": "1234",
    }


def test_manual_selector_jobs_keep_their_selector() -> None:
    selector = {"matchLabels": {"app": "web"}}
    job: dict[str, Any] = {
        "metadata": {"name": "pi", "uid": "1"},
        "spec": {"manualSelector": True, "selector": selector, "template": template()},
    }
    defaults.prepare_for_create(JOB, job)
    assert job["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert job["spec"]["template"]["metadata"]["labels"] == {"app": "web"}


def test_cron_job_defaults() -> None:
    cron_job = defaulted(
        CRON_JOB, {"spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": template()}}}}
    )
    spec = cron_job["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Always"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"ports": [{"port": 80}], "selector": {"app": "web"}},
            {
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "selector": {"app": "web"},
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
            },
        ),
        (
            {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]},
            {
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}],
                "type": "NodePort",
                "sessionAffinity": "None",
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
            },
        ),
        (
            {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP"}]},
            {
                "ports": [{"port": 443, "protocol": "TCP", "targetPort": 443}],
                "type": "LoadBalancer",
                "sessionAffinity": "None",
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": True,
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
            },
        ),
        (
            {"type": "ExternalName", "externalName": "example.com"},
            {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"},
        ),
        (
            {"clusterIP": "fd00::10", "ports": [{"port": 53, "protocol": "UDP"}]},
            {
                "clusterIP": "fd00::10",
                "clusterIPs": ["fd00::10"],
                "ports": [{"port": 53, "protocol": "UDP", "targetPort": 53}],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv6"],
            },
        ),
        (
            {"sessionAffinity": "ClientIP", "ports": [{"port": 80}]},
            {
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "type": "ClusterIP",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
            },
        ),
    ],
    ids=[
        "cluster-ip",
        "node-port",
        "load-balancer",
        "external-name",
        "ipv6-cluster-ip",
        "client-ip-affinity",
    ],
)
def test_service_defaults(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    assert defaulted(SERVICE, {"spec": spec})["spec"] == expected


def test_namespace_defaults_and_create_time_finalizer() -> None:
    ns = defaulted(NAMESPACE, {"metadata": {"name": "team-a"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns["status"] == {"phase": "Active"}
    assert "spec" not in ns
    defaults.prepare_for_create(NAMESPACE, ns)
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    other: dict[str, Any] = {"metadata": {"name": "b"}, "spec": {"finalizers": ["example.com/cleanup"]}}
    defaults.prepare_for_create(NAMESPACE, other)
    assert other["spec"]["finalizers"] == ["example.com/cleanup", "kubernetes"]


def test_hpa_defaults() -> None:
    hpa = defaulted(
        HPA, {"spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}}
    )
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }
    ]
    assert "behavior" not in hpa["spec"]


def test_hpa_behavior_is_filled_once_given() -> None:
    hpa = defaulted(HPA, {"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}})
    assert hpa["spec"]["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 60,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
    }


def test_secret_defaults_merge_string_data() -> None:
    secret = defaulted(SECRET, {"data": {"a": "eA=="}, "stringData": {"b": "hello"}})
    assert secret == {"type": "Opaque", "data": {"a": "eA==", "b": base64.b64encode(b"hello").decode()}}


@pytest.mark.parametrize(
    ("k", "obj", "expected"),
    [
        (
            ENDPOINTS,
            {"subsets": [{"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 80}]}]},
            {"subsets": [{"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 80, "protocol": "TCP"}]}]},
        ),
        (
            NODE,
            {"status": {"capacity": {"cpu": "4"}}},
            {"status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "4"}}},
        ),
        (NODE, {"spec": {}}, {"spec": {}}),
        (CONFIG_MAP, {"data": {"k": "v"}}, {"data": {"k": "v"}}),
    ],
    ids=["endpoints-port-protocol", "node-allocatable", "node-untouched", "configmap-untouched"],
)
def test_other_kinds(k: kinds.Kind, obj: dict[str, Any], expected: dict[str, Any]) -> None:
    assert defaulted(k, obj) == expected


def test_kinds_without_defaults_are_left_alone() -> None:
    lease = {"metadata": {"name": "l"}, "spec": {}}
    defaults.default(kind("coordination.k8s.io/v1", "Lease"), lease)
    assert lease == {"metadata": {"name": "l"}, "spec": {}}


def test_service_update_keeps_allocated_values() -> None:
    old: dict[str, Any] = {
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 31999,
            "clusterIP": "fd00::7",
            "clusterIPs": ["fd00::7"],
            "ipFamilies": ["IPv6"],
            "ports": [
                {"name": "http", "port": 80, "nodePort": 30080},
                {"name": "https", "port": 443, "nodePort": 30443},
            ],
        }
    }
    new: dict[str, Any] = {
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "ports": [{"name": "http", "port": 8080}, {"name": "https", "port": 443, "nodePort": 30080}],
        }
    }
    defaults.default(SERVICE, new)
    defaults.prepare_for_update(SERVICE, new, old)
    spec = new["spec"]
    assert (spec["clusterIP"], spec["clusterIPs"], spec["ipFamilies"]) == ("fd00::7", ["fd00::7"], ["IPv6"])
    assert spec["healthCheckNodePort"] == 31999
    # 30080 is taken by the https port in the new object, so http does not get its old node port back
    assert [p.get("nodePort") for p in spec["ports"]] == [None, 30080]
