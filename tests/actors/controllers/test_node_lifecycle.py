"""The node lifecycle controller: a node whose kubelet is cut off turns Unknown and tainted, its pods are
evicted once their tolerations run out, and it comes back when the kubelet does. The cluster clock runs
100x (the 40 s grace period is 0.4 s here, the 300 s toleration 3 s)."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.controllers import node_lifecycle
from actors.controllers.node_lifecycle import NodeLifecycleController
from actors.kubelet.kubelet import Kubelet
from actors.kubelet.node import NodeConfig
from tests.actors.apiserver.conftest import Cluster, eventually, start_cluster

SCALE = 100.0
T = 1_700_000_000.0


def taint(key: str, effect: str, added: str = "2023-11-14T22:13:20Z") -> dict[str, Any]:
    return {"key": key, "effect": effect, "timeAdded": added}


def pod_tolerating(*tolerations: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"tolerations": list(tolerations)}}


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        ((), 0.0),  # nothing tolerates the taint: now
        (
            (
                {
                    "key": node_lifecycle.UNREACHABLE,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ),
            T + 300,
        ),
        (
            ({"key": node_lifecycle.UNREACHABLE, "operator": "Exists", "effect": "NoExecute"},),
            None,
        ),  # forever
        (({"operator": "Exists"},), None),
        (({"key": node_lifecycle.UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"},), 0.0),
    ],
)
def test_when_the_taint_manager_evicts_a_pod(
    tolerations: tuple[dict[str, Any], ...], expected: float | None
) -> None:
    taints = [taint(node_lifecycle.UNREACHABLE, "NoExecute"), taint(node_lifecycle.UNREACHABLE, "NoSchedule")]
    assert node_lifecycle.eviction_time(pod_tolerating(*tolerations), taints) == expected


def test_the_lifecycle_taints_follow_the_ready_condition() -> None:
    node = {"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}
    unknown = node_lifecycle.wanted_taints(node, "Unknown", T)
    assert [(t["key"], t["effect"]) for t in unknown] == [
        ("dedicated", "NoSchedule"),
        (node_lifecycle.UNREACHABLE, "NoSchedule"),
        (node_lifecycle.UNREACHABLE, "NoExecute"),
    ]
    assert unknown[-1]["timeAdded"] == "2023-11-14T22:13:20Z"
    again = node_lifecycle.wanted_taints({"spec": {"taints": unknown}}, "Unknown", T + 60)
    assert again == unknown  # timeAdded kept
    not_ready = node_lifecycle.wanted_taints({"spec": {"taints": unknown}}, "False", T)
    assert {t["key"] for t in not_ready} == {"dedicated", node_lifecycle.NOT_READY}
    assert node_lifecycle.wanted_taints({"spec": {"taints": unknown}}, "True", T) == node["spec"]["taints"]


@pytest.fixture
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, time_scale=SCALE)
    config = NodeConfig(name="node-1", internal_ip="172.18.0.3", pod_cidr="10.244.1.0/24")
    await system.spawn("kubelet/node-1", Kubelet, kwargs={"node": config, "image_pull_seconds": 0.0})
    await system.spawn("node-lifecycle-controller", NodeLifecycleController)
    try:
        yield running
    finally:
        await system.shutdown()


async def node_where(cluster: Cluster, ready: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        try:
            node: dict[str, Any] = await cluster.apiserver.call("get", "nodes", None, "node-1")
        except Exception:
            return None
        return node if node_lifecycle.ready_status(node) == ready else None

    found: dict[str, Any] = await eventually(check)
    return found


async def test_a_cut_off_node_is_marked_unknown_tainted_and_its_pods_evicted(cluster: Cluster) -> None:
    await node_where(cluster, "True")
    pod = {
        "metadata": {"name": "web"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "a", "image": "nginx"}]},
    }
    await cluster.apiserver.call("create", "pods", "default", pod)

    async def running() -> bool:
        found = await cluster.apiserver.call("get", "pods", "default", "web")
        return (found.get("status") or {}).get("phase") == "Running"

    await eventually(running)
    rule = await cluster.system.partition(["kubelet/node-1"], ["apiserver-0"])
    node = await node_where(cluster, "Unknown")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == (
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )

    async def tainted() -> list[tuple[str, str]]:
        found = await cluster.apiserver.call("get", "nodes", None, "node-1")
        return sorted((t["key"], t["effect"]) for t in (found.get("spec") or {}).get("taints") or [])

    assert await eventually(tainted) == [
        (node_lifecycle.UNREACHABLE, "NoExecute"),
        (node_lifecycle.UNREACHABLE, "NoSchedule"),
    ]

    async def pod_not_ready() -> bool:
        found = await cluster.apiserver.call("get", "pods", "default", "web")
        return any(c["type"] == "Ready" and c["status"] == "False" for c in found["status"]["conditions"])

    await eventually(pod_not_ready)

    async def evicted() -> bool:
        found = await cluster.apiserver.call("get", "pods", "default", "web")
        return bool(found["metadata"].get("deletionTimestamp"))

    await eventually(evicted)  # 300 s of toleration: 3 s here; it stays Terminating while cut off
    events = await cluster.apiserver.call("list_objects", "events", "default")
    reasons = {e["reason"] for e in events["items"]}
    assert {"NodeNotReady", "TaintManagerEviction"} <= reasons

    await cluster.system.heal(rule)
    await node_where(cluster, "True")
    assert await eventually(lambda: _no_taints(cluster))


async def _no_taints(cluster: Cluster) -> bool:
    found = await cluster.apiserver.call("get", "nodes", None, "node-1")
    return not (found.get("spec") or {}).get("taints")
