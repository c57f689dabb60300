"""The Node, status and Lease a kubelet writes, as upstream's kubelet writes them."""

from __future__ import annotations

from actors.kubelet import node

CONFIG = node.NodeConfig(
    name="node-1",
    cpu="8",
    memory="32Gi",
    pods=50,
    labels=(("topology.kubernetes.io/zone", "a"),),
    taints=((("effect", "NoSchedule"), ("key", "dedicated"), ("value", "db")),),
    internal_ip="172.18.0.3",
    pod_cidr="10.244.1.0/24",
)


def test_a_registered_node_carries_its_capacity_labels_taints_and_ready_condition() -> None:
    obj = node.node_object(CONFIG, 1_700_000_000.0)
    assert obj["metadata"]["labels"]["kubernetes.io/hostname"] == "node-1"
    assert obj["metadata"]["labels"]["topology.kubernetes.io/zone"] == "a"
    assert obj["spec"] == {
        "podCIDR": "10.244.1.0/24",
        "podCIDRs": ["10.244.1.0/24"],
        "taints": [{"effect": "NoSchedule", "key": "dedicated", "value": "db"}],
    }
    status = obj["status"]
    assert status["capacity"]["cpu"] == "8" and status["allocatable"]["pods"] == "50"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    )
    assert [c["type"] for c in status["conditions"]] == [
        "MemoryPressure",
        "DiskPressure",
        "PIDPressure",
        "Ready",
    ]
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "172.18.0.3"},
        {"type": "Hostname", "address": "node-1"},
    ]


def test_a_later_report_moves_the_heartbeat_but_keeps_the_transition_time() -> None:
    first = node.node_status(CONFIG, 1_700_000_000.0, None)
    later = node.node_status(CONFIG, 1_700_000_600.0, first)
    ready_first = next(c for c in first["conditions"] if c["type"] == "Ready")
    ready_later = next(c for c in later["conditions"] if c["type"] == "Ready")
    assert ready_later["lastTransitionTime"] == ready_first["lastTransitionTime"] == "2023-11-14T22:13:20Z"
    assert ready_later["lastHeartbeatTime"] == "2023-11-14T22:23:20Z"
    assert not node.status_changed(later, first)  # only heartbeats moved: no write needed yet
    bigger = node.node_status(node.NodeConfig(name="node-1", cpu="16"), 1_700_000_600.0, first)
    assert node.status_changed(bigger, first)


def test_the_lease_is_held_by_the_node_for_forty_seconds_and_owned_by_it() -> None:
    lease = node.lease_object("node-1", "uid-1", 1_700_000_000.25)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "node-1", "uid": "uid-1"}
    ]
    assert lease["spec"] == {
        "holderIdentity": "node-1",
        "leaseDurationSeconds": 40,
        "renewTime": "2023-11-14T22:13:20.250000Z",
    }
