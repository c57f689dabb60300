"""Emulated nodes as a kubectl user sees them: ``kubemu up --nodes 2 --node-cpu 2 --node-labels ...``
registers two Ready nodes with that capacity and those labels, each with a heartbeat Lease."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, eventually, start_kubemu


@pytest.fixture(scope="module")
def with_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from start_kubemu(
        tmp_path_factory,
        "--nodes",
        "2",
        "--node-cpu",
        "2",
        "--node-memory",
        "8Gi",
        "--node-labels",
        "tier=edge",
    )


def test_kubectl_get_nodes_lists_every_emulated_node_ready(with_nodes: Cluster) -> None:
    kubectl = with_nodes.kubectl

    def both() -> str | None:
        out = kubectl.ok("get", "nodes", "-o", "wide")
        return out if out.count(" Ready ") == 2 else None

    out = eventually(both, what="two Ready nodes")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [row[0] for row in rows] == ["node-0", "node-1"]
    assert [row[5] for row in rows] == ["172.18.0.2", "172.18.0.3"]  # INTERNAL-IP


def test_nodes_carry_the_flags_capacity_and_labels_and_a_lease(with_nodes: Cluster) -> None:
    kubectl = with_nodes.kubectl
    node = eventually(
        lambda: (
            kubectl.json("get", "node", "node-1")
            if kubectl.run("get", "node", "node-1").returncode == 0
            else None
        ),
        what="node-1",
    )
    assert node["status"]["capacity"]["cpu"] == "2" and node["status"]["capacity"]["memory"] == "8Gi"
    assert node["metadata"]["labels"]["tier"] == "edge"
    assert kubectl.ok("get", "nodes", "-l", "tier=edge", "-o", "name").split() == [
        "node/node-0",
        "node/node-1",
    ]
    lease = kubectl.json("get", "lease", "node-1", "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "node-1"
    assert "KubeletReady" in kubectl.ok("describe", "node", "node-0")


NODE_MANIFEST = """\
apiVersion: v1
kind: Node
metadata:
  name: big-1
  labels:
    type: kwok-style
spec:
  taints:
  - key: dedicated
    value: batch
    effect: NoSchedule
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "250"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "250"
"""


def test_a_node_created_with_kubectl_gets_a_kubelet_and_deleting_it_stops_that(with_nodes: Cluster) -> None:
    kubectl = with_nodes.kubectl
    kubectl.ok("apply", "-f", "-", stdin=NODE_MANIFEST)

    def ready() -> Any:
        node = kubectl.json("get", "node", "big-1")
        conditions = {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []}
        return node if conditions.get("Ready") == "True" else None

    node = eventually(ready, what="big-1 Ready")
    assert node["status"]["capacity"]["cpu"] == "32" and node["status"]["allocatable"]["pods"] == "250"
    assert node["metadata"]["labels"]["type"] == "kwok-style"
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
    assert node["spec"]["podCIDR"] == "10.244.2.0/24"  # node-0 and node-1 hold the first two
    assert [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"] == ["172.18.0.4"]
    kubectl.ok("delete", "node", "big-1")

    def stopped() -> bool | None:
        actors = json.loads(kubectl.ok("get", "--raw", "/kubemu/v1/actors"))
        states = {a["name"]: a["state"] for a in actors}
        return True if states.get("kubelet/big-1") == "Stopped" else None

    eventually(stopped, what="kubelet/big-1 stopped")
    assert kubectl.run("get", "node", "big-1").returncode != 0


def test_kubectl_run_schedules_a_pod_that_runs_and_one_too_big_waits(with_nodes: Cluster) -> None:
    kubectl = with_nodes.kubectl
    kubectl.ok("run", "web", "--image=nginx:1.25")

    def running() -> Any:
        pod = kubectl.json("get", "pod", "web")
        return pod if (pod.get("status") or {}).get("phase") == "Running" else None

    pod = eventually(running, what="web Running")
    assert pod["spec"]["nodeName"] in ("node-0", "node-1")
    assert pod["status"]["podIP"].startswith("10.244.")
    kubectl.ok(
        "run",
        "huge",
        "--image=nginx:1.25",
        "--overrides",
        json.dumps(
            {
                "spec": {
                    "containers": [
                        {"name": "huge", "image": "nginx:1.25", "resources": {"requests": {"cpu": "64"}}}
                    ]
                }
            }
        ),
    )

    def failed() -> str | None:
        out = kubectl.ok(
            "get", "events", "--field-selector", "involvedObject.name=huge,reason=FailedScheduling"
        )
        return out if "Insufficient cpu" in out else None

    assert "0/2 nodes are available: 2 Insufficient cpu." in eventually(failed, what="FailedScheduling")
    assert "Pending" in kubectl.ok("get", "pod", "huge")
    kubectl.ok("delete", "pod", "web", "huge", "--wait=false")


def test_cordon_and_drain_move_work_off_a_node(with_nodes: Cluster) -> None:
    kubectl = with_nodes.kubectl
    kubectl.ok(
        "run", "pinned", "--image=nginx:1.25", "--overrides", json.dumps({"spec": {"nodeName": "node-0"}})
    )
    eventually(
        lambda: True if kubectl.json("get", "pod", "pinned")["status"].get("phase") == "Running" else None,
        what="pinned Running",
    )
    assert kubectl.ok("cordon", "node-0").strip() == "node/node-0 cordoned"
    assert "SchedulingDisabled" in kubectl.ok("get", "node", "node-0")
    try:
        drained = kubectl.ok("drain", "node-0", "--force", "--ignore-daemonsets")
        assert "pod/pinned evicted" in drained
        eventually(
            lambda: True if kubectl.run("get", "pod", "pinned").returncode != 0 else None, what="pinned gone"
        )
        kubectl.ok("run", "elsewhere", "--image=nginx:1.25")
        pod = eventually(
            lambda: (lambda p: p if p["spec"].get("nodeName") else None)(
                kubectl.json("get", "pod", "elsewhere")
            ),
            what="elsewhere scheduled",
        )
        assert pod["spec"]["nodeName"] == "node-1"  # the cordoned node takes nothing new
    finally:
        kubectl.ok("uncordon", "node-0")
        kubectl.run("delete", "pod", "elsewhere", "--wait=false")
