"""A node dies under a running workload, as SEED.md tells it: ``kubemu up --nodes 3 --time-scale 20``, a
Deployment of three and a bare pod, then ``kubemu fault kill kubelet/<node>``. The node goes NotReady
(Unknown) and tainted after the 40 s grace period; after the pods' 300 s toleration they are evicted; the
Deployment's pods come back on the other nodes, the bare pod does not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import REPO, Cluster, eventually, start_kubemu

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: "nginx:1.27"}]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from start_kubemu(tmp_path_factory, "--nodes", "3", "--time-scale", "20")


def ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def test_a_deployments_pods_come_back_elsewhere_and_a_bare_pod_does_not(cluster: Cluster) -> None:
    kubectl = cluster.kubectl
    kubectl.apply(DEPLOYMENT)
    kubectl.ok("run", "bare", "--image=busybox:1.36", "--overrides", '{"spec": {"nodeName": "node-1"}}')
    kubectl.ok("rollout", "status", "deployment/web", "--timeout=60s")
    eventually(lambda: True if ready(kubectl.json("get", "pod", "bare")) else None, what="bare Ready")

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cluster",
            "fault",
            "--kubeconfig",
            str(kubectl.kubeconfig),
            "kill",
            "kubelet/node-1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr

    def unreachable() -> dict[str, Any] | None:
        node = kubectl.json("get", "node", "node-1")
        taints = {t["key"] for t in node["spec"].get("taints") or []}
        return node if "node.kubernetes.io/unreachable" in taints else None

    node = eventually(unreachable, what="node-1 tainted unreachable", within=60)
    (condition,) = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert (condition["status"], condition["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert "NotReady" in kubectl.ok("get", "node", "node-1")

    def back_elsewhere() -> list[dict[str, Any]] | None:
        pods = kubectl.json("get", "pods", "-l", "app=web")["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        moved = [p for p in live if p["spec"].get("nodeName") != "node-1" and ready(p)]
        return moved if len(moved) == 3 else None

    eventually(back_elsewhere, what="3 web pods Ready on node-0 and node-2", within=90)
    bare = kubectl.json("get", "pod", "bare")
    assert bare["metadata"].get("deletionTimestamp")  # evicted: Terminating while its node is unreachable
    assert bare["spec"]["nodeName"] == "node-1"
    names = [p["metadata"]["name"] for p in kubectl.json("get", "pods")["items"]]
    assert names.count("bare") == 1 and not [n for n in names if n.startswith("bare-")]
    events = kubectl.json("get", "events", "--field-selector", "involvedObject.name=bare")["items"]
    assert "TaintManagerEviction" in {e["reason"] for e in events}
