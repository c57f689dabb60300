"""What a kubelet writes about its node: the Node it registers, its status, and its heartbeat Lease.

Pure: plain data in, Kubernetes JSON out, no I/O, no clock of its own (callers pass the cluster time).
As upstream's kubelet (``pkg/kubelet/kubelet_node_status.go``, ``nodestatus/setters.go``,
``pkg/kubelet/nodelease``) with its defaults:

- the Node carries the well-known labels (``kubernetes.io/hostname``, ``kubernetes.io/os``,
  ``kubernetes.io/arch`` and their ``beta.`` twins) plus the configured ones, and its taints;
- capacity and allocatable are the configured cpu, memory and pods (no system reservation, as KWOK's
  nodes); the four conditions are ``MemoryPressure``, ``DiskPressure``, ``PIDPressure`` (False) and
  ``Ready`` (True) with upstream's reasons and messages; a condition's ``lastTransitionTime`` moves only
  when its status changes, ``lastHeartbeatTime`` on every report;
- the heartbeat is a Lease named after the node in ``kube-node-lease``, held by the node, 40 s long,
  renewed every quarter of that (10 s), owned by the Node so it goes when the Node goes;
- the status is written when something in it changed, and otherwise every 5 minutes
  (``nodeStatusReportFrequency``), checked every 10 s (``nodeStatusUpdateFrequency``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kube import meta

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40  # seconds (upstream's nodeLeaseDurationSeconds)
RENEW_INTERVAL = LEASE_DURATION / 4  # upstream renews at a quarter of the duration
STATUS_UPDATE_FREQUENCY = 10.0  # how often the kubelet looks at its status
STATUS_REPORT_FREQUENCY = 300.0  # how often an unchanged status is written anyway
KUBELET_VERSION = "v1.31.0-kubemu"
KUBELET_PORT = 10250
SYSTEM_USAGE = (25_000_000, 256 * 1024 * 1024)
"""What the kubelet and the container runtime use on an emulated node (25m cpu, 256Mi): a node's usage in
``kubectl top nodes`` is its pods' plus this (a model, documented; not measured on anything)."""

_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """One emulated node as ``kubemu up --nodes`` or a Node manifest declares it."""

    name: str
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[tuple[tuple[str, str], ...], ...] = ()  # each taint as sorted (field, value) pairs
    internal_ip: str = ""
    pod_cidr: str = ""

    def taint_list(self) -> list[dict[str, str]]:
        return [dict(taint) for taint in self.taints]


def node_object(config: NodeConfig, now: float) -> dict[str, Any]:
    """The Node the kubelet registers (status included: nodes may set it on create, as upstream)."""
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": config.name,
        "kubernetes.io/os": "linux",
        **dict(config.labels),
    }
    spec: dict[str, Any] = {}
    if config.pod_cidr:
        spec["podCIDR"] = config.pod_cidr
        spec["podCIDRs"] = [config.pod_cidr]
    if config.taints:
        spec["taints"] = config.taint_list()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": config.name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": node_status(config, now, None),
    }


def node_status(config: NodeConfig, now: float, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The status to report at ``now``; ``previous`` (the stored status) keeps transition times."""
    resources = {
        "cpu": config.cpu,
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": config.memory,
        "pods": str(config.pods),
    }
    stamp = meta.now_rfc3339(now)
    before = {c.get("type"): c for c in (previous or {}).get("conditions") or [] if isinstance(c, dict)}
    conditions = []
    for kind, value, reason, message in _CONDITIONS:
        old = before.get(kind)
        transition = old.get("lastTransitionTime") if old and old.get("status") == value else None
        conditions.append(
            {
                "type": kind,
                "status": value,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": transition or stamp,
                "reason": reason,
                "message": message,
            }
        )
    addresses = [{"type": "Hostname", "address": config.name}]
    if config.internal_ip:
        addresses.insert(0, {"type": "InternalIP", "address": config.internal_ip})
    return {
        "capacity": resources,
        "allocatable": dict(resources),
        "conditions": conditions,
        "addresses": addresses,
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": "",
            "containerRuntimeVersion": "kubemu://0.1.0",
            "kernelVersion": "6.1.0-kubemu",
            "kubeProxyVersion": KUBELET_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "machineID": "",
            "operatingSystem": "linux",
            "osImage": "kubemu emulated node",
            "systemUUID": "",
        },
    }


def status_changed(reported: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether a report differs from what is stored in anything but the heartbeat times (upstream writes
    the status at once then; otherwise only every ``STATUS_REPORT_FREQUENCY``)."""
    return _without_heartbeats(reported) != _without_heartbeats(stored)


def _without_heartbeats(status: dict[str, Any]) -> dict[str, Any]:
    conditions = [
        {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    ]
    return {**status, "conditions": conditions}


def lease_object(node_name: str, node_uid: str, now: float) -> dict[str, Any]:
    """The node's heartbeat Lease, renewed at ``now``, owned by its Node."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}],
        },
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": LEASE_DURATION,
            "renewTime": meta.now_rfc3339_micro(now),
        },
    }
