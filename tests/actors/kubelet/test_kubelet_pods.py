"""Pods on an emulated node, through a real apiserver and store: a pod bound to the node runs with an
address from the node's podCIDR, a job-like pod completes, a crashing one loops, a deleted one goes after
its containers stop. The cluster clock runs 100x."""

from __future__ import annotations

import ipaddress
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.kubelet.kubelet import Kubelet
from actors.kubelet.node import NodeConfig
from tests.actors.apiserver.conftest import Cluster, eventually, restart_apiserver, start_cluster

SCALE = 100.0
CIDR = "10.244.1.0/24"


@pytest.fixture
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, time_scale=SCALE)
    config = NodeConfig(name="node-1", internal_ip="172.18.0.3", pod_cidr=CIDR)
    await system.spawn("kubelet/node-1", Kubelet, kwargs={"node": config, "image_pull_seconds": 2.0})
    try:
        yield running
    finally:
        await system.shutdown()


def a_pod(name: str, *command: str, restart: str = "Always", grace: int = 30) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "busybox:1.36"}
    if command:
        container["command"] = list(command)
    return {
        "metadata": {"name": name},
        "spec": {
            "nodeName": "node-1",
            "containers": [container],
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": grace,
        },
    }


async def pod_in_phase(cluster: Cluster, name: str, phase: str) -> dict[str, Any]:
    async def there() -> dict[str, Any] | None:
        pod: dict[str, Any] = await cluster.apiserver.call("get", "pods", "default", name)
        return pod if (pod.get("status") or {}).get("phase") == phase else None

    found: dict[str, Any] = await eventually(there)
    return found


async def test_a_bound_pod_runs_with_an_address_from_the_nodes_cidr(cluster: Cluster) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("web"))
    pod = await pod_in_phase(cluster, "web", "Running")
    status = pod["status"]
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network(CIDR)
    assert status["hostIP"] == "172.18.0.3"
    (container,) = status["containerStatuses"]
    assert container["ready"] and "running" in container["state"]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


async def test_after_an_apiserver_restart_the_kubelet_watches_again_and_runs_new_pods(
    cluster: Cluster,
) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("before"))
    await pod_in_phase(cluster, "before", "Running")
    await restart_apiserver(cluster)  # the kubelet's watches are gone with it
    await cluster.apiserver.call("create", "pods", "default", a_pod("after"))
    await pod_in_phase(cluster, "after", "Running")  # found by the check every third heartbeat (0.3 s here)


async def test_a_pod_that_may_never_pull_starts_once_another_pods_pull_brings_its_image(
    cluster: Cluster,
) -> None:
    waiting = a_pod("never")
    waiting["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    await cluster.apiserver.call("create", "pods", "default", waiting)

    async def refused() -> bool:
        pod = await cluster.apiserver.call("get", "pods", "default", "never")
        states = [c.get("state") or {} for c in (pod.get("status") or {}).get("containerStatuses") or []]
        return any((s.get("waiting") or {}).get("reason") == "ErrImageNeverPull" for s in states)

    await eventually(refused)
    await cluster.apiserver.call("create", "pods", "default", a_pod("puller"))  # the same image, pulled (2 s)
    await pod_in_phase(cluster, "puller", "Running")
    await pod_in_phase(cluster, "never", "Running")  # the image is on the node now


async def test_pods_on_one_node_get_distinct_addresses(cluster: Cluster) -> None:
    for i in range(5):
        await cluster.apiserver.call("create", "pods", "default", a_pod(f"p{i}"))
    ips = [(await pod_in_phase(cluster, f"p{i}", "Running"))["status"]["podIP"] for i in range(5)]
    assert len(set(ips)) == 5


async def test_a_pod_that_sleeps_then_exits_succeeds(cluster: Cluster) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("job", "sleep", "5", restart="Never"))
    pod = await pod_in_phase(cluster, "job", "Succeeded")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")


async def test_a_crashing_container_is_in_crash_loop_back_off(cluster: Cluster) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("crash", "sh", "-c", "exit 1"))

    async def looping() -> dict[str, Any] | None:
        pod: dict[str, Any] = await cluster.apiserver.call("get", "pods", "default", "crash")
        statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
        return statuses[0] if statuses[0].get("restartCount", 0) >= 2 else None

    container = await eventually(looping)
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 1


async def test_a_deleted_pod_goes_once_its_containers_stop(cluster: Cluster) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("web"))
    await pod_in_phase(cluster, "web", "Running")
    deleted = await cluster.apiserver.call("delete", "pods", "default", "web")
    assert deleted["metadata"]["deletionTimestamp"]  # graceful: the kubelet finishes it

    async def gone() -> bool:
        listed = await cluster.apiserver.call("list_objects", "pods", "default")
        return not listed["items"]

    await eventually(gone)
    assert (await cluster.system.ref("kubelet/node-1").call("stats"))["pods"] == 0


async def test_a_restarted_kubelet_keeps_its_pods_addresses(cluster: Cluster) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("web"))
    before = (await pod_in_phase(cluster, "web", "Running"))["status"]["podIP"]
    await cluster.system.restart("kubelet/node-1")

    async def running_again() -> bool:
        stats = await cluster.system.ref("kubelet/node-1").call("stats")
        return bool(stats["pods"] == 1 and stats["pod_status_writes"] >= 1)

    await eventually(running_again)
    pod = await pod_in_phase(cluster, "web", "Running")
    assert pod["status"]["podIP"] == before


async def test_logs_events_and_metrics_reach_the_apiserver(cluster: Cluster) -> None:
    from actors.addons.metrics_server import MetricsServer
    from tests.actors.apiserver.test_server import request

    pod = a_pod("talker", "sh", "-c", "echo hello; echo world; sleep 100000")
    await cluster.apiserver.call("create", "pods", "default", pod)
    await pod_in_phase(cluster, "talker", "Running")
    code, text = await request(cluster, "GET", "/api/v1/namespaces/default/pods/talker/log")
    assert (code, text) == (200, b"hello\nworld\n")
    code, text = await request(cluster, "GET", "/api/v1/namespaces/default/pods/talker/log?tailLines=1")
    assert (code, text) == (200, b"world\n")
    code, body = await request(cluster, "GET", "/api/v1/namespaces/default/pods/talker/log?container=nope")
    assert (code, body["message"]) == (400, "container nope is not valid for pod talker")
    code, body = await request(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
    assert (code, body["reason"]) == (503, "ServiceUnavailable")  # no metrics-server yet

    async def started() -> list[str] | None:
        events = (await cluster.apiserver.call("list_objects", "events", "default"))["items"]
        reasons = [e["reason"] for e in events if e["involvedObject"]["name"] == "talker"]
        return reasons if "Started" in reasons else None

    reasons = await eventually(started)
    assert reasons[:2] == ["Pulling", "Pulled"] and "Created" in reasons

    await cluster.system.spawn("metrics-server", MetricsServer)

    async def scraped() -> dict[str, Any] | None:
        code, body = await request(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
        return body if code == 200 and body["items"] else None

    listed = await eventually(scraped)
    (metrics,) = listed["items"]
    assert metrics["metadata"]["name"] == "talker"
    assert metrics["containers"] == [{"name": "main", "usage": {"cpu": "1000000n", "memory": "8192Ki"}}]
    code, node = await request(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/nodes/node-1")
    assert code == 200 and node["usage"] == {"cpu": "26000000n", "memory": "270336Ki"}


async def test_a_status_changed_by_someone_else_is_written_again_once(cluster: Cluster) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("steady"))
    await pod_in_phase(cluster, "steady", "Running")
    kubelet = cluster.system.ref("kubelet/node-1")
    # what the node lifecycle controller writes while the node looks lost
    lost = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "NodeStatusUnknown"}]}}
    await cluster.apiserver.call(
        "patch",
        "pods",
        "default",
        "steady",
        "application/strategic-merge-patch+json",
        lost,
        subresource="status",
    )

    async def ready_again() -> bool | None:
        pod = await cluster.apiserver.call("get", "pods", "default", "steady")
        ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]
        return True if ready[0]["status"] == "True" else None

    await eventually(ready_again)
    writes = (await kubelet.call("stats"))["pod_status_writes"]
    await cluster.system.clock.sleep(60)  # a quiet minute of cluster time: no write loop
    assert (await kubelet.call("stats"))["pod_status_writes"] == writes


async def test_an_image_declared_bad_waits_in_err_image_pull_then_back_off(tmp_path: pathlib.Path) -> None:
    system, running = await start_cluster(tmp_path, time_scale=SCALE)
    try:
        config = NodeConfig(name="node-1", internal_ip="172.18.0.3", pod_cidr=CIDR)
        kwargs = {"node": config, "image_pull_seconds": 1.0, "bad_images": ("*:nosuchtag",)}
        await system.spawn("kubelet/node-1", Kubelet, kwargs=kwargs)
        pod = a_pod("broken")
        pod["spec"]["containers"][0]["image"] = "nginx:nosuchtag"
        await running.apiserver.call("create", "pods", "default", pod)

        async def waiting(reason: str) -> str | None:
            got = await running.apiserver.call("get", "pods", "default", "broken")
            statuses = (got.get("status") or {}).get("containerStatuses") or []
            state = statuses[0]["state"].get("waiting") if statuses else None
            return str(state.get("message", "")) if state and state.get("reason") == reason else None

        assert "nginx:nosuchtag" in await eventually(lambda: waiting("ErrImagePull"))
        assert (await eventually(lambda: waiting("ImagePullBackOff"))).startswith(
            'Back-off pulling image "nginx:nosuchtag"'
        )
    finally:
        await system.shutdown()
