"""The scheduler actor with real kubelets, apiserver and store: pods land on nodes that fit and run, a pod
that fits nowhere waits with upstream's event until room appears, and of two replicas only the lease holder
binds. Every scenario runs with one worker and with two shards (``Scheduler(shards=2)``): the user sees the
same. The cluster clock runs 100x."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.kubelet.kubelet import Kubelet
from actors.kubelet.node import NodeConfig
from actors.scheduler.scheduler import spawn_scheduler
from tests.actors.apiserver.conftest import Cluster, eventually, restart_apiserver, start_cluster

SCALE = 100.0


async def add_node(cluster: Cluster, i: int, cpu: str = "2", **extra: Any) -> None:
    config = NodeConfig(
        name=f"node-{i}", cpu=cpu, internal_ip=f"172.18.0.{i + 2}", pod_cidr=f"10.244.{i}.0/24", **extra
    )
    await cluster.system.spawn(
        f"kubelet/node-{i}", Kubelet, kwargs={"node": config, "image_pull_seconds": 0.0}
    )


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-shards"])
def shards(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
async def cluster(tmp_path: pathlib.Path, shards: int) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, time_scale=SCALE)
    for i in range(3):
        await add_node(running, i)
    await spawn_scheduler(system, shards=shards)
    try:
        yield running
    finally:
        await system.shutdown()


def a_pod(name: str, cpu: str = "500m", **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "nginx:1.25", "resources": {"requests": {"cpu": cpu}}}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


async def phases(cluster: Cluster) -> dict[str, tuple[str, str]]:
    listed = await cluster.apiserver.call("list_objects", "pods", "default")
    return {
        p["metadata"]["name"]: (
            (p.get("status") or {}).get("phase", ""),
            (p.get("spec") or {}).get("nodeName", ""),
        )
        for p in listed["items"]
    }


async def test_pods_are_spread_over_nodes_that_fit_and_run(cluster: Cluster) -> None:
    for i in range(9):
        await cluster.apiserver.call("create", "pods", "default", a_pod(f"web-{i}"))

    async def all_running() -> dict[str, tuple[str, str]] | None:
        found = await phases(cluster)
        return found if len(found) == 9 and all(phase == "Running" for phase, _ in found.values()) else None

    placed = await eventually(all_running)
    per_node: dict[str, int] = {}
    for _, node in placed.values():
        per_node[node] = per_node.get(node, 0) + 1
    assert sorted(per_node.values()) == [3, 3, 3]  # least allocated spreads 500m pods over 2-cpu nodes
    events = await cluster.apiserver.call("list_objects", "events", "default")
    assigned = [e["message"] for e in events["items"] if e["reason"] == "Scheduled"]
    assert f"Successfully assigned default/web-0 to {placed['web-0'][1]}" in assigned


async def test_a_pod_that_fits_nowhere_waits_with_upstreams_event_until_room_appears(
    cluster: Cluster,
) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("big", cpu="3"))

    async def failed() -> list[str] | None:
        events = await cluster.apiserver.call("list_objects", "events", "default")
        found = [e["message"] for e in events["items"] if e["reason"] == "FailedScheduling"]
        return found or None

    messages = await eventually(failed)
    assert messages[0].startswith("0/3 nodes are available: 3 Insufficient cpu.")
    pod = await cluster.apiserver.call("get", "pods", "default", "big")
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    await add_node(cluster, 3, cpu="4")

    async def running_on_the_new_node() -> bool:
        return (await phases(cluster)).get("big") == ("Running", "node-3")

    await eventually(running_on_the_new_node)


async def test_after_an_apiserver_restart_the_scheduler_watches_again_and_places_new_pods(
    cluster: Cluster,
) -> None:
    await cluster.apiserver.call("create", "pods", "default", a_pod("before"))
    await eventually(lambda: _running(cluster, "before"))
    await restart_apiserver(cluster)  # the scheduler's and the kubelets' watches went with it
    await cluster.apiserver.call("create", "pods", "default", a_pod("after"))
    await eventually(lambda: _running(cluster, "after"))  # the watch checks found them gone


async def test_a_node_selector_is_honoured(cluster: Cluster) -> None:
    await add_node(cluster, 3, labels=(("disk", "ssd"),))
    await cluster.apiserver.call("create", "pods", "default", a_pod("db", nodeSelector={"disk": "ssd"}))

    async def placed() -> bool:
        return (await phases(cluster)).get("db", ("", ""))[1] == "node-3"

    await eventually(placed)


async def test_of_two_replicas_only_the_lease_holder_schedules_and_the_other_takes_over(
    cluster: Cluster, shards: int
) -> None:
    await spawn_scheduler(cluster.system, "scheduler-b", shards=shards)

    async def one_leads() -> bool:
        a = await cluster.system.ref("scheduler").call("stats")
        b = await cluster.system.ref("scheduler-b").call("stats")
        return bool(a["leading"]) and not b["leading"]

    await eventually(one_leads)
    await cluster.apiserver.call("create", "pods", "default", a_pod("first"))
    await eventually(lambda: _running(cluster, "first"))
    await cluster.system.kill("scheduler")

    async def b_leads() -> bool:
        return bool((await cluster.system.ref("scheduler-b").call("stats"))["leading"])

    await eventually(b_leads)  # after the 15 s lease expires: 0.15 s here
    await cluster.apiserver.call("create", "pods", "default", a_pod("second"))
    await eventually(lambda: _running(cluster, "second"))
    lease = await cluster.apiserver.call("get", "leases", "kube-system", "kube-scheduler")
    assert lease["spec"]["holderIdentity"].startswith("scheduler-b_")
    assert lease["spec"]["leaseTransitions"] == 1


async def _running(cluster: Cluster, name: str) -> bool:
    return (await phases(cluster)).get(name, ("", ""))[0] == "Running"


async def test_a_higher_priority_pod_preempts_a_lower_one_and_runs_in_its_place(cluster: Cluster) -> None:
    for i in range(3):
        await cluster.apiserver.call("create", "pods", "default", a_pod(f"low-{i}", cpu="1500m"))

    async def low_running() -> bool:
        found = await phases(cluster)
        return sum(phase == "Running" for phase, _ in found.values()) == 3

    await eventually(low_running)
    urgent_class = {"metadata": {"name": "urgent"}, "value": 1000}
    await cluster.apiserver.call("create", "priorityclasses", None, urgent_class)
    await cluster.apiserver.call(
        "create", "pods", "default", a_pod("urgent", cpu="1", priorityClassName="urgent")
    )

    async def urgent_running() -> dict[str, tuple[str, str]] | None:
        found = await phases(cluster)
        return found if found.get("urgent", ("", ""))[0] == "Running" else None

    placed = await eventually(urgent_running)
    assert len([name for name in placed if name.startswith("low-")]) == 2  # exactly one victim
    events = (await cluster.apiserver.call("list_objects", "events", "default"))["items"]
    preempted = [e for e in events if e["reason"] == "Preempted"]
    assert len(preempted) == 1
    urgent = await cluster.apiserver.call("get", "pods", "default", "urgent")
    assert preempted[0]["message"] == (
        f"Preempted by pod {urgent['metadata']['uid']} on node {placed['urgent'][1]}"
    )
    failed = [e["message"] for e in events if e["reason"] == "FailedScheduling"]
    assert failed and failed[0].startswith("0/3 nodes are available: 3 Insufficient cpu.")
