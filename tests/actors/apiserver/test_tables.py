"""Server-side tables as ``kubectl get`` shows them: upstream's columns, and the cells a user reads."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from actors.apiserver import status, tables
from actors.apiserver.printers_common import human_duration
from kube import kinds, meta

NOW = meta.parse_rfc3339("2026-01-01T12:00:00Z")


def ago(seconds: float) -> str:
    """An RFC 3339 timestamp ``seconds`` before NOW."""
    return meta.now_rfc3339(NOW - seconds)


def kind(name: str) -> kinds.Kind:
    found = kinds.DEFAULT.lookup(name)
    assert found is not None, name
    return found


def row(resource: str, obj: dict[str, Any]) -> list[Any]:
    """The cells of one object's row."""
    cells: list[Any] = tables.table(kind(resource), [obj], now=NOW)["rows"][0]["cells"]
    return cells


def by_column(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The row as {column name: cell}, every column (wide ones too)."""
    result = tables.table(kind(resource), [obj], now=NOW)
    names = [c["name"] for c in result["columnDefinitions"]]
    return dict(zip(names, result["rows"][0]["cells"], strict=True))


def metadata(name: str = "web", created: float = 3600, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(created), **extra}


# ---------------------------------------------------------------------------------------------------------
# HumanDuration

DURATIONS = [
    (0, "0s"),
    (-1.5, "0s"),
    (-2, "<invalid>"),
    (5, "5s"),
    (119, "119s"),
    (120, "2m"),
    (182, "3m2s"),
    (600, "10m"),
    (179 * 60, "179m"),
    (3 * 3600, "3h"),
    (5 * 3600 + 30 * 60, "5h30m"),
    (8 * 3600, "8h"),
    (47 * 3600, "47h"),
    (2 * 86400 + 3 * 3600, "2d3h"),
    (7 * 86400, "7d"),
    (30 * 86400, "30d"),
    (2 * 365 * 86400 + 10 * 86400, "2y10d"),
    (3 * 365 * 86400, "3y"),
    (9 * 365 * 86400, "9y"),
]


@pytest.mark.parametrize(("seconds", "text"), DURATIONS, ids=[d[1] + f"@{d[0]}" for d in DURATIONS])
def test_human_duration_is_upstreams(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


# ---------------------------------------------------------------------------------------------------------
# pods


def container_status(
    name: str, *, ready: bool = False, restarts: int = 0, last_finished: float | None = None, **state: Any
) -> dict[str, Any]:
    status_: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts, "state": state}
    if last_finished is not None:
        status_["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(last_finished)}}
    return status_


def pod(
    *statuses: dict[str, Any],
    phase: str = "Running",
    containers: int = 0,
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    reason: str = "",
) -> dict[str, Any]:
    count = containers or max(1, len(statuses))
    obj: dict[str, Any] = {
        "metadata": metadata(),
        "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(count)]},
        "status": {"phase": phase, "containerStatuses": list(statuses), "conditions": conditions or []},
    }
    if deleting:
        obj["metadata"]["deletionTimestamp"] = ago(0)
    if init is not None:
        obj["spec"]["initContainers"] = init
        obj["status"]["initContainerStatuses"] = init_statuses or []
    if reason:
        obj["status"]["reason"] = reason
    return obj


RUNNING: dict[str, Any] = {"running": {"startedAt": ago(60)}}
READY = [{"type": "Ready", "status": "True"}]
INIT_TWO = [{"name": "migrate", "image": "m"}, {"name": "seed", "image": "s"}]
DONE: dict[str, Any] = {"terminated": {"exitCode": 0, "reason": "Completed"}}

# (id, pod, READY, STATUS, RESTARTS)
POD_CASES = [
    ("running", pod(container_status("c0", ready=True, **RUNNING)), "1/1", "Running", "0"),
    (
        "one-of-two-ready",
        pod(container_status("c0", ready=True, **RUNNING), container_status("c1", **RUNNING)),
        "1/2",
        "Running",
        "0",
    ),
    ("pending-unscheduled", pod(phase="Pending"), "0/1", "Pending", "0"),
    (
        "container-creating",
        pod(container_status("c0", waiting={"reason": "ContainerCreating"}), phase="Pending"),
        "0/1",
        "ContainerCreating",
        "0",
    ),
    (
        "crash-loop-with-last-restart",
        pod(container_status("c0", restarts=4, last_finished=30, waiting={"reason": "CrashLoopBackOff"})),
        "0/1",
        "CrashLoopBackOff",
        "4 (30s ago)",
    ),
    ("completed", pod(container_status("c0", **DONE), phase="Succeeded"), "0/1", "Completed", "0"),
    (
        "error",
        pod(container_status("c0", terminated={"exitCode": 1, "reason": "Error"}), phase="Failed"),
        "0/1",
        "Error",
        "0",
    ),
    (
        "exit-code-without-reason",
        pod(container_status("c0", terminated={"exitCode": 137}), phase="Failed"),
        "0/1",
        "ExitCode:137",
        "0",
    ),
    (
        "signal-without-reason",
        pod(container_status("c0", terminated={"exitCode": 0, "signal": 9}), phase="Failed"),
        "0/1",
        "Signal:9",
        "0",
    ),
    (
        "first-container-state-wins",
        pod(
            container_status("c0", waiting={"reason": "ImagePullBackOff"}),
            container_status("c1", waiting={"reason": "CrashLoopBackOff"}),
        ),
        "0/2",
        "ImagePullBackOff",
        "0",
    ),
    (
        "completed-but-one-still-running-is-running",
        pod(container_status("c0", **DONE), container_status("c1", ready=True, **RUNNING), conditions=READY),
        "1/2",
        "Running",
        "0",
    ),
    (
        "completed-but-one-still-running-not-ready",
        pod(container_status("c0", **DONE), container_status("c1", ready=True, **RUNNING)),
        "1/2",
        "NotReady",
        "0",
    ),
    (
        "init-first-running",
        pod(phase="Pending", init=INIT_TWO, init_statuses=[container_status("migrate", **RUNNING)]),
        "0/1",
        "Init:0/2",
        "0",
    ),
    (
        "init-second-running",
        pod(
            phase="Pending",
            init=INIT_TWO,
            init_statuses=[container_status("migrate", **DONE), container_status("seed", **RUNNING)],
        ),
        "0/1",
        "Init:1/2",
        "0",
    ),
    (
        "init-pod-initializing-counts",
        pod(
            phase="Pending",
            init=INIT_TWO[:1],
            init_statuses=[container_status("migrate", waiting={"reason": "PodInitializing"})],
        ),
        "0/1",
        "Init:0/1",
        "0",
    ),
    (
        "init-crash-loop-counts-init-restarts",
        pod(
            phase="Pending",
            init=INIT_TWO,
            init_statuses=[
                container_status(
                    "migrate", restarts=3, last_finished=90, waiting={"reason": "CrashLoopBackOff"}
                )
            ],
        ),
        "0/1",
        "Init:CrashLoopBackOff",
        "3 (90s ago)",
    ),
    (
        "init-error",
        pod(
            phase="Failed",
            init=INIT_TWO,
            init_statuses=[container_status("migrate", terminated={"exitCode": 2, "reason": "Error"})],
        ),
        "0/1",
        "Init:Error",
        "0",
    ),
    (
        "init-exit-code",
        pod(
            phase="Failed",
            init=INIT_TWO,
            init_statuses=[container_status("migrate", terminated={"exitCode": 2})],
        ),
        "0/1",
        "Init:ExitCode:2",
        "0",
    ),
    (
        "sidecar-counts-towards-ready",
        pod(
            container_status("c0", ready=True, **RUNNING),
            init=[{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
            init_statuses=[{**container_status("proxy", ready=True, **RUNNING), "started": True}],
            conditions=[{"type": "Initialized", "status": "True"}],
        ),
        "2/2",
        "Running",
        "0",
    ),
    (
        "terminating",
        pod(container_status("c0", ready=True, **RUNNING), deleting=True),
        "1/1",
        "Terminating",
        "0",
    ),
    (
        "terminating-after-completion-stays-completed",
        pod(container_status("c0", **DONE), phase="Succeeded", deleting=True),
        "0/1",
        "Completed",
        "0",
    ),
    ("node-lost", pod(deleting=True, reason="NodeLost"), "0/1", "Unknown", "0"),
    ("evicted", pod(phase="Failed", reason="Evicted"), "0/1", "Evicted", "0"),
    (
        "scheduling-gated",
        pod(
            phase="Pending",
            conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        ),
        "0/1",
        "SchedulingGated",
        "0",
    ),
]


@pytest.mark.parametrize(
    ("obj", "ready", "status_", "restarts"), [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES]
)
def test_pod_ready_status_and_restarts_as_kubectl_shows(
    obj: dict[str, Any], ready: str, status_: str, restarts: str
) -> None:
    cells = by_column("pods", obj)
    assert (cells["Ready"], cells["Status"], cells["Restarts"]) == (ready, status_, restarts)
    assert cells["Name"] == "web" and cells["Age"] == "60m"


def test_pod_wide_cells() -> None:
    obj = pod(
        container_status("c0", ready=True, **RUNNING),
        conditions=[{"type": "example.com/lb", "status": "True"}],
    )
    obj["spec"] |= {
        "nodeName": "node-7",
        "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "x"}],
    }
    obj["status"] |= {
        "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}],
        "podIP": "10.244.1.5",
        "nominatedNodeName": "",
    }
    assert row("pods", obj) == ["web", "1/1", "Running", "0", "60m", "10.244.1.5", "node-7", "<none>", "1/2"]
    assert row("pods", pod())[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_pod_columns_default_and_wide() -> None:
    columns = tables.table(kind("pods"), [], now=NOW)["columnDefinitions"]
    assert [c["name"] for c in columns if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert [c["name"] for c in columns if c["priority"] == 1] == [
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]
    assert columns[0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": columns[0]["description"],
        "priority": 0,
    }
    assert columns[0]["description"].startswith("Name must be unique within a namespace.")


def test_finished_pods_carry_a_completed_row_condition() -> None:
    done = tables.table(kind("pods"), [pod(phase="Succeeded"), pod(phase="Failed"), pod()], now=NOW)["rows"]
    assert done[0]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert done[1]["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in done[2]


# ---------------------------------------------------------------------------------------------------------
# nodes


def node(
    *, ready: str | None = "True", unschedulable: bool = False, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {
        "metadata": {"name": "node-1", "creationTimestamp": ago(3 * 86400), "labels": labels or {}},
        "spec": {"unschedulable": unschedulable},
        "status": {
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": "192.168.0.11"},
                {"type": "Hostname", "address": "n1"},
            ],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Ubuntu 24.04", "kernelVersion": "6.8.0"},
        },
    }


NODE_CASES = [
    ("ready", node(), "Ready", "<none>"),
    ("not-ready", node(ready="False"), "NotReady", "<none>"),
    ("unknown", node(ready=None), "Unknown", "<none>"),
    ("cordoned", node(unschedulable=True), "Ready,SchedulingDisabled", "<none>"),
    (
        "roles-sorted",
        node(labels={"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": ""}),
        "Ready",
        "control-plane,worker",
    ),
    ("legacy-role-label", node(labels={"kubernetes.io/role": "master"}), "Ready", "master"),
]


@pytest.mark.parametrize(
    ("obj", "status_", "roles"), [c[1:] for c in NODE_CASES], ids=[c[0] for c in NODE_CASES]
)
def test_node_status_and_roles(obj: dict[str, Any], status_: str, roles: str) -> None:
    cells = by_column("nodes", obj)
    assert (cells["Status"], cells["Roles"], cells["Age"], cells["Version"]) == (
        status_,
        roles,
        "3d",
        "v1.32.0",
    )


def test_node_wide_cells() -> None:
    assert row("nodes", node())[5:] == ["192.168.0.11", "<none>", "Ubuntu 24.04", "6.8.0", "<unknown>"]


# ---------------------------------------------------------------------------------------------------------
# workloads

TEMPLATE = {
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "fluentbit"}]}
}


def test_deployment_prints_ready_over_desired() -> None:
    obj = {
        "metadata": metadata(),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert row("deployments", obj) == [
        "web",
        "2/3",
        3,
        2,
        "60m",
        "web,log",
        "nginx:1.27,fluentbit",
        "app=web",
    ]
    columns = tables.table(kind("deployments"), [], now=NOW)["columnDefinitions"]
    assert [c["name"] for c in columns] == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]


def test_deployment_without_status_or_replicas_reads_defaults() -> None:
    obj = {"metadata": metadata(), "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    assert row("deployments", obj)[:4] == ["web", "0/1", 0, 0]
    bad = {
        "metadata": metadata(),
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}},
    }
    assert row("deployments", bad)[-1] == "<invalid>"


def test_replica_set_and_replication_controller_print_counts() -> None:
    rs = {
        "metadata": metadata("web-5d4f"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "readyReplicas": 1},
    }
    assert row("replicasets", rs) == [
        "web-5d4f",
        3,
        3,
        1,
        "60m",
        "web,log",
        "nginx:1.27,fluentbit",
        "app=web,pod-template-hash=5d4f",
    ]
    rc = {
        "metadata": metadata("legacy"),
        "spec": {"replicas": 2, "selector": {"app": "legacy"}},
        "status": {"replicas": 2},
    }
    assert row("replicationcontrollers", rc) == ["legacy", 2, 2, 0, "60m", "", "", "app=legacy"]


def test_stateful_set_and_daemon_set() -> None:
    sts = {
        "metadata": metadata("db"),
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"readyReplicas": 1},
    }
    assert row("statefulsets", sts) == ["db", "1/3", "60m", "web,log", "nginx:1.27,fluentbit"]
    ds = {
        "metadata": metadata("agent"),
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{"name": "a", "image": "a:1"}],
                }
            },
        },
        "status": {
            "desiredNumberScheduled": 5,
            "currentNumberScheduled": 5,
            "numberReady": 4,
            "updatedNumberScheduled": 5,
            "numberAvailable": 4,
        },
    }
    assert row("daemonsets", ds) == [
        "agent",
        5,
        5,
        4,
        5,
        4,
        "kubernetes.io/os=linux",
        "60m",
        "a",
        "a:1",
        "app=agent",
    ]


def job(*, conditions: list[dict[str, str]] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": metadata("backup", created=600),
        "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "busybox"}]}}, **spec},
        "status": {"succeeded": 1, "startTime": ago(300), "conditions": conditions or []},
    }


JOB_CASES = [
    ("running", job(completions=3), "Running", "1/3", "5m"),
    (
        "complete",
        {
            **job(completions=1, conditions=[{"type": "Complete", "status": "True"}]),
            "status": {
                "succeeded": 1,
                "startTime": ago(300),
                "completionTime": ago(150),
                "conditions": [{"type": "Complete", "status": "True"}],
            },
        },
        "Complete",
        "1/1",
        "2m30s",
    ),
    ("failed", job(completions=1, conditions=[{"type": "Failed", "status": "True"}]), "Failed", "1/1", "5m"),
    ("suspended", job(conditions=[{"type": "Suspended", "status": "True"}]), "Suspended", "1/1", "5m"),
    (
        "failure-target",
        job(conditions=[{"type": "FailureTarget", "status": "True"}]),
        "FailureTarget",
        "1/1",
        "5m",
    ),
    ("parallel-work-queue", job(parallelism=4), "Running", "1/1 of 4", "5m"),
]


@pytest.mark.parametrize(
    ("obj", "status_", "completions", "duration"), [c[1:] for c in JOB_CASES], ids=[c[0] for c in JOB_CASES]
)
def test_job_status_completions_and_duration(
    obj: dict[str, Any], status_: str, completions: str, duration: str
) -> None:
    assert row("jobs", obj)[:5] == ["backup", status_, completions, duration, "10m"]


def test_terminating_job_and_job_not_started() -> None:
    obj = job()
    obj["metadata"]["deletionTimestamp"] = ago(1)
    assert row("jobs", obj)[1] == "Terminating"
    assert row("jobs", {"metadata": metadata("j"), "spec": {}})[1:4] == ["Running", "0/1", ""]


def test_cron_job() -> None:
    obj = {
        "metadata": metadata("nightly"),
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": False,
            "jobTemplate": {"spec": {"template": TEMPLATE}},
        },
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(240)},
    }
    assert row("cronjobs", obj) == [
        "nightly",
        "*/5 * * * *",
        "<none>",
        "False",
        1,
        "4m",
        "60m",
        "web,log",
        "nginx:1.27,fluentbit",
        "<none>",
    ]
    fresh = {
        "metadata": metadata("n"),
        "spec": {"schedule": "@daily", "timeZone": "Etc/UTC", "suspend": True},
    }
    assert row("cronjobs", fresh)[1:6] == ["@daily", "Etc/UTC", "True", 0, "<none>"]
    assert row("cronjobs", {"metadata": metadata("n"), "spec": {"suspend": None}})[3] == "<unset>"


def test_controller_revision_names_its_controller() -> None:
    obj = {
        "metadata": metadata(
            "agent-6f7c",
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": "agent",
                    "uid": "1",
                    "controller": True,
                }
            ],
        ),
        "revision": 3,
    }
    assert row("controllerrevisions", obj) == ["agent-6f7c", "daemonset.apps/agent", 3, "60m"]


def hpa(metrics: list[dict[str, Any]], current: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": metadata(),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 10,
            "metrics": metrics,
        },
        "status": {"currentReplicas": 3, "currentMetrics": current or []},
    }


CPU = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
}
MEMORY = {
    "type": "Resource",
    "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}},
}
PODS = {
    "type": "Pods",
    "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}},
}
HPA_CASES = [
    (
        "cpu",
        hpa(
            [CPU], [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 30}}}]
        ),
        "cpu: 30%/50%",
    ),
    ("cpu-before-first-sample", hpa([CPU]), "cpu: <unknown>/50%"),
    (
        "memory-average-value",
        hpa([MEMORY], [{"type": "Resource", "resource": {"current": {"averageValue": "256Mi"}}}]),
        "memory: 256Mi/512Mi",
    ),
    ("no-metrics", hpa([]), "<none>"),
    (
        "object-and-external",
        hpa(
            [
                {"type": "Object", "object": {"target": {"type": "Value", "value": "10"}}},
                {
                    "type": "External",
                    "external": {"target": {"type": "AverageValue", "averageValue": "500m"}},
                },
            ],
            [
                {"type": "Object", "object": {"current": {"value": "7"}}},
                {"type": "External", "external": {"current": {}}},
            ],
        ),
        "7/10, <unknown>/500m (avg)",
    ),
    (
        "pods-and-unknown-type",
        hpa([PODS, {"type": "Custom"}], [{"type": "Pods", "pods": {"current": {"averageValue": "1500m"}}}]),
        "1500m/1k, <unknown type>",
    ),
    ("three-metrics", hpa([CPU, MEMORY, PODS]), "cpu: <unknown>/50%, memory: <unknown>/512Mi + 1 more..."),
]


@pytest.mark.parametrize(("obj", "targets"), [c[1:] for c in HPA_CASES], ids=[c[0] for c in HPA_CASES])
def test_hpa_targets(obj: dict[str, Any], targets: str) -> None:
    assert row("horizontalpodautoscalers", obj) == ["web", "Deployment/web", targets, "<unset>", 10, 3, "60m"]


# ---------------------------------------------------------------------------------------------------------
# services, endpoints and the rest of the core group

SERVICE_CASES = [
    (
        "cluster-ip",
        {"clusterIPs": ["10.96.0.10"], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}]},
        {},
        ["ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP"],
    ),
    (
        "headless",
        {"clusterIP": "None", "ports": [{"port": 80}]},
        {},
        ["ClusterIP", "None", "<none>", "80/TCP"],
    ),
    (
        "node-port",
        {"type": "NodePort", "clusterIP": "10.96.1.2", "ports": [{"port": 80, "nodePort": 30080}]},
        {},
        ["NodePort", "10.96.1.2", "<none>", "80:30080/TCP"],
    ),
    (
        "load-balancer-pending",
        {"type": "LoadBalancer", "clusterIP": "10.96.1.3", "ports": [{"port": 443, "nodePort": 31443}]},
        {},
        ["LoadBalancer", "10.96.1.3", "<pending>", "443:31443/TCP"],
    ),
    (
        "load-balancer",
        {"type": "LoadBalancer", "clusterIP": "10.96.1.3", "externalIPs": ["1.2.3.4"]},
        {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}},
        ["LoadBalancer", "10.96.1.3", "203.0.113.9,lb.example.com,1.2.3.4", "<none>"],
    ),
    (
        "external-name",
        {"type": "ExternalName", "externalName": "db.example.com"},
        {},
        ["ExternalName", "<none>", "db.example.com", "<none>"],
    ),
    ("unknown-type", {"type": "Mesh"}, {}, ["Mesh", "<none>", "<unknown>", "<none>"]),
]


@pytest.mark.parametrize(
    ("spec", "status_", "cells"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
def test_service(spec: dict[str, Any], status_: dict[str, Any], cells: list[Any]) -> None:
    obj = {"metadata": metadata(), "spec": {"selector": {"app": "web"}, **spec}, "status": status_}
    assert row("services", obj) == ["web", *cells, "60m", "app=web"]


def endpoints(*subsets: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": metadata(), "subsets": list(subsets)}


ENDPOINT_CASES = [
    ("none", endpoints(), "<none>"),
    (
        "one-port",
        endpoints({"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 8080}]}),
        "10.0.0.1:8080,10.0.0.2:8080",
    ),
    (
        "more-than-three",
        endpoints({"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)], "ports": [{"port": 80}]}),
        "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...",
    ),
    ("headless-without-ports", endpoints({"addresses": [{"ip": "10.0.0.1"}]}), "10.0.0.1"),
    ("ipv6", endpoints({"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}), "[fd00::1]:80"),
]


@pytest.mark.parametrize(("obj", "text"), [c[1:] for c in ENDPOINT_CASES], ids=[c[0] for c in ENDPOINT_CASES])
def test_endpoints(obj: dict[str, Any], text: str) -> None:
    assert row("endpoints", obj) == ["web", text, "60m"]


def test_event_default_and_wide_cells() -> None:
    event = {
        "metadata": metadata("web.17a"),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(600),
        "lastTimestamp": ago(30),
        "count": 7,
    }
    assert row("events", event) == [
        "30s",
        "Warning",
        "BackOff",
        "pod/web",
        "spec.containers{web}",
        "kubelet, node-1",
        "Back-off restarting failed container",
        "10m",
        7,
        "web.17a",
    ]
    columns = tables.table(kind("events"), [], now=NOW)["columnDefinitions"]
    assert [c["name"] for c in columns if c["priority"] == 0] == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Message",
    ]


def test_event_of_the_events_api_uses_event_time_and_series() -> None:
    event = {
        "metadata": metadata("web.17b"),
        "involvedObject": {"kind": "Node"},
        "eventTime": meta.now_rfc3339_micro(NOW - 100),
        "reportingComponent": "scheduler",
        "series": {"count": 4, "lastObservedTime": meta.now_rfc3339_micro(NOW - 5)},
    }
    assert row("events", event) == ["5s", "", "", "node", "", "scheduler", "", "100s", 4, "web.17b"]
    assert row("events", {"metadata": metadata("x")})[0] == "<unknown>"
    assert row("events", {"metadata": metadata("x")})[8] == 1


def test_namespace_config_map_secret_service_account() -> None:
    assert row("namespaces", {"metadata": metadata("prod")}) == ["prod", "Active", "60m"]
    assert (
        row("namespaces", {"metadata": metadata("old"), "status": {"phase": "Terminating"}})[1]
        == "Terminating"
    )
    assert row(
        "configmaps", {"metadata": metadata("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    ) == ["cfg", 3, "60m"]
    assert row(
        "secrets",
        {"metadata": metadata("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
    ) == ["tls", "kubernetes.io/tls", 2, "60m"]
    assert row("secrets", {"metadata": metadata("s")})[1:3] == ["Opaque", 0]
    assert row("serviceaccounts", {"metadata": metadata("default"), "secrets": [{"name": "t"}]}) == [
        "default",
        1,
        "60m",
    ]


def test_persistent_volume_claim() -> None:
    bound = {
        "metadata": metadata("data"),
        "spec": {
            "volumeName": "pv-1",
            "storageClassName": "standard",
            "resources": {"requests": {"storage": "10Gi"}},
        },
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "10240Mi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
        },
    }
    assert row("persistentvolumeclaims", bound) == [
        "data",
        "Bound",
        "pv-1",
        "10Gi",
        "RWO,RWX",
        "standard",
        "<unset>",
        "60m",
        "<unset>",
    ]
    bound["status"]["capacity"]["storage"] = "lots"  # not a quantity: printed as stored
    assert row("persistentvolumeclaims", bound)[3] == "lots"
    del bound["status"]["capacity"]
    assert row("persistentvolumeclaims", bound)[3] == "<nil>"
    pending = {
        "metadata": metadata("data"),
        "spec": {"storageClassName": "fast"},
        "status": {"phase": "Pending"},
    }
    assert row("persistentvolumeclaims", pending)[1:6] == ["Pending", "", "", "", "fast"]


# ---------------------------------------------------------------------------------------------------------
# other groups, and kinds without a printer


def test_role_binding_lease_network_policy_endpoint_slice() -> None:
    binding = {
        "metadata": metadata("view-all"),
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
        ],
    }
    assert row("rolebindings", binding) == [
        "view-all",
        "ClusterRole/view",
        "60m",
        "alice, bob",
        "devs",
        "tools/ci",
    ]
    assert row("clusterrolebindings", binding)[:2] == ["view-all", "ClusterRole/view"]
    lease = {"metadata": metadata("kube-scheduler"), "spec": {"holderIdentity": "scheduler-0"}}
    assert row("leases", lease) == ["kube-scheduler", "scheduler-0", "60m"]
    assert row("networkpolicies", {"metadata": metadata("deny"), "spec": {"podSelector": {}}}) == [
        "deny",
        "<none>",
        "60m",
    ]
    policy = {"metadata": metadata("db"), "spec": {"podSelector": {"matchLabels": {"app": "db"}}}}
    assert row("networkpolicies", policy)[1] == "app=db"
    eps = {
        "metadata": metadata("web-abc"),
        "addressType": "IPv4",
        "ports": [{"port": 80, "name": "http"}, {"name": "metrics"}, {}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}],
    }
    assert row("endpointslices", eps) == ["web-abc", "IPv4", "80,metrics,*", "10.0.0.1,10.0.0.2", "60m"]
    assert row("endpointslices", {"metadata": metadata("e")})[2:4] == ["<unset>", "<unset>"]
    eps["endpoints"] = [{"addresses": [f"10.0.0.{i}"]} for i in range(1, 6)]
    assert row("endpointslices", eps)[3] == "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..."
    bad = {"metadata": metadata("np"), "spec": {"podSelector": {"matchLabels": {"bad key!": "x"}}}}
    assert row("networkpolicies", bad)[1] == "<error>"


def test_kinds_without_a_printer_get_name_and_created_at() -> None:
    role = {
        "metadata": {"name": "reader", "namespace": "default", "creationTimestamp": "2025-12-31T08:00:00Z"}
    }
    result = tables.table(kind("roles"), [role], now=NOW)
    assert [(c["name"], c["type"]) for c in result["columnDefinitions"]] == [
        ("Name", "string"),
        ("Created At", "date"),
    ]
    assert result["rows"][0]["cells"] == ["reader", "2025-12-31T08:00:00Z"]
    assert row("clusterroles", {"metadata": {"name": "x"}}) == ["x", "0001-01-01T00:00:00Z"]


def test_age_is_unknown_without_a_creation_timestamp_and_invalid_in_the_future() -> None:
    assert row("configmaps", {"metadata": {"name": "a"}})[2] == "<unknown>"
    assert row("configmaps", {"metadata": {"name": "a", "creationTimestamp": "yesterday"}})[2] == "<unknown>"
    assert row("configmaps", {"metadata": {"name": "a", "creationTimestamp": ago(-60)}})[2] == "<invalid>"


@pytest.mark.parametrize("k", list(kinds.DEFAULT), ids=[f"{k.resource}.{k.group}" for k in kinds.DEFAULT])
def test_every_kind_prints_a_full_row_for_a_bare_object(k: kinds.Kind) -> None:
    result = tables.table(k, [{"metadata": {"name": "x"}}], now=NOW)
    assert len(result["rows"][0]["cells"]) == len(result["columnDefinitions"])
    assert result["rows"][0]["cells"][0] == "x" or k.resource == "events"


# ---------------------------------------------------------------------------------------------------------
# the Table envelope


def test_table_envelope_with_metadata_objects() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata("cfg", labels={"a": "b"}),
        "data": {"k": "v"},
    }
    result = tables.table(
        kind("configmaps"), [obj], now=NOW, list_meta={"resourceVersion": "42", "continue": "tok"}
    )
    assert list(result) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert (result["kind"], result["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert result["metadata"] == {"resourceVersion": "42", "continue": "tok"}
    assert result["rows"] == [
        {
            "cells": ["cfg", 1, "60m"],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            },
        }
    ]


def test_include_object_none_and_object() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata("cfg"), "data": {"k": "v"}}
    assert (
        tables.table(kind("configmaps"), [obj], now=NOW, include_object="None")["rows"][0]["object"] is None
    )
    assert (
        tables.table(kind("configmaps"), [obj], now=NOW, include_object="Object")["rows"][0]["object"] == obj
    )


def test_unknown_include_object_is_a_bad_request() -> None:
    with pytest.raises(status.ApiError) as caught:
        tables.table(kind("pods"), [], now=NOW, include_object="Full")
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == 'unrecognized includeObject value: "Full"'


def test_single_object_table_carries_its_resource_version_and_empty_list_has_rows() -> None:
    obj = {"metadata": metadata("cfg", resourceVersion="17")}
    assert tables.table(kind("configmaps"), [obj], now=NOW)["metadata"] == {"resourceVersion": "17"}
    empty = tables.table(kind("configmaps"), [], now=NOW, list_meta={"resourceVersion": "9", "continue": ""})
    assert (empty["metadata"], empty["rows"]) == ({"resourceVersion": "9"}, [])


def test_no_headers_leaves_column_definitions_null() -> None:
    result = tables.table(kind("pods"), [pod()], now=NOW, no_headers=True)
    assert result["columnDefinitions"] is None and len(result["rows"][0]["cells"]) == 9


def test_table_shares_nothing_with_its_input() -> None:
    obj = pod(container_status("c0", ready=True, **RUNNING))
    before = copy.deepcopy(obj)
    for include in ("Metadata", "Object"):
        result = tables.table(kind("pods"), [obj], now=NOW, include_object=include)
        result["rows"][0]["object"]["metadata"]["name"] = "changed"
    assert obj == before
