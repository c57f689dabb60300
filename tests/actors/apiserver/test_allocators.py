"""ClusterIP and NodePort allocation: upstream's ranges, band split, errors, exhaustion and repair."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import pytest

from actors.apiserver import allocators
from actors.apiserver.allocators import ClusterIPAllocator, NodePortAllocator, RepairEvent

IP_RANGE_ERROR = "provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12"
PORT_RANGE_ERROR = "provided port is not in the valid range. The range of valid ports is 30000-32767"


def service(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


# ---- ClusterIPs ----


def test_default_service_cidr_and_kubernetes_service_ip() -> None:
    ips = ClusterIPAllocator(rng=random.Random(7))
    assert str(ips.cidr) == "10.96.0.0/12"
    assert ips.kubernetes_service_ip == "10.96.0.1"
    assert ips.stats().size == 2**20 - 2


@pytest.mark.parametrize(
    ("ip", "error", "message"),
    [
        pytest.param("10.96.0.1", None, "", id="kubernetes-service-ip"),
        pytest.param("10.96.0.10", None, "", id="dns-service-ip"),
        pytest.param("10.111.255.254", None, "", id="last-usable"),
        pytest.param("10.96.0.0", allocators.NotInRange, IP_RANGE_ERROR, id="network-address"),
        pytest.param("10.111.255.255", allocators.NotInRange, IP_RANGE_ERROR, id="broadcast-address"),
        pytest.param("10.95.255.254", allocators.NotInRange, IP_RANGE_ERROR, id="below"),
        pytest.param("10.112.0.1", allocators.NotInRange, IP_RANGE_ERROR, id="above"),
        pytest.param("fd00::1", allocators.NotInRange, IP_RANGE_ERROR, id="ipv6"),
        pytest.param("ten.nine.six.one", allocators.NotInRange, IP_RANGE_ERROR, id="not-an-ip"),
    ],
)
def test_requested_cluster_ips(ip: str, error: type[Exception] | None, message: str) -> None:
    ips = ClusterIPAllocator(rng=random.Random(7))
    if error is None:
        ips.allocate(ip)
        assert ips.has(ip)
        with pytest.raises(allocators.AlreadyAllocated, match=r"^provided IP is already allocated$"):
            ips.allocate(ip)
    else:
        with pytest.raises(error) as caught:
            ips.allocate(ip)
        assert str(caught.value) == message
        assert not ips.has(ip)


def test_dynamic_cluster_ips_are_seeded_and_stay_out_of_the_static_band() -> None:
    picked = [ClusterIPAllocator(rng=random.Random(7)).allocate_next() for _ in range(2)]
    assert picked[0] == picked[1]  # same seed, same choice
    ips = ClusterIPAllocator(rng=random.Random(7))
    values = [ips.allocate_next() for _ in range(3)]
    assert values == ["10.101.47.108", "10.111.43.117", "10.98.106.225"]
    # the lowest 256 addresses (10.96.0.1-10.96.1.0) are kept for hand-picked IPs
    assert all(ipaddress.IPv4Address(v) > ipaddress.IPv4Address("10.96.1.0") for v in values)


def test_small_cidr_fills_the_upper_band_first_then_the_lower_and_never_the_kubernetes_ip() -> None:
    ips = ClusterIPAllocator(rng=random.Random(7), cidr="10.0.0.0/27")  # 30 usable, band of 16
    picked = [int(ipaddress.ip_address(ips.allocate_next())) & 0xFF for _ in range(29)]
    assert sorted(picked[:14]) == list(range(17, 31))
    assert sorted(picked[14:]) == list(range(2, 17))
    with pytest.raises(allocators.RangeFull, match=r"^range is full$"):
        ips.allocate_next()
    ips.allocate("10.0.0.1")  # the kubernetes Service may still claim its address
    assert list(ips)[:3] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert ips.stats() == allocators.AllocatorStats(
        size=30, used=30, free=0, allocations={"static": 1, "dynamic": 29}, errors={"static": 0, "dynamic": 1}
    )


def test_tiny_cidr_without_band_is_exhausted_in_order_of_the_seed() -> None:
    ips = ClusterIPAllocator(rng=random.Random(3), cidr="192.168.5.0/29")  # 6 usable, .1 reserved
    picked = {ips.allocate_next() for _ in range(5)}
    assert picked == {f"192.168.5.{i}" for i in range(2, 7)}
    with pytest.raises(allocators.RangeFull):
        ips.allocate_next()


def test_release_returns_an_address_and_ignores_what_it_does_not_hold() -> None:
    ips = ClusterIPAllocator(rng=random.Random(7), cidr="10.0.0.0/29")
    ips.allocate("10.0.0.3")
    ips.release("10.0.0.3")
    ips.release("10.0.0.4")  # never allocated
    ips.release("192.168.0.1")  # out of range
    ips.release("junk")
    assert list(ips) == []
    ips.allocate("10.0.0.3")
    assert ips.stats().allocations == {"static": 2, "dynamic": 0}


def test_ipv6_service_cidr_is_refused() -> None:
    with pytest.raises(ValueError, match="only IPv4"):
        ClusterIPAllocator(rng=random.Random(7), cidr="fd00::/108")


def test_rebuild_reserves_what_services_hold_and_reports_conflicts_as_the_repair_controller() -> None:
    ips = ClusterIPAllocator(rng=random.Random(7))
    ips.allocate("10.96.200.1")  # forgotten by the rebuild
    events = ips.rebuild(
        [
            service("kubernetes", clusterIP="10.96.0.1", clusterIPs=["10.96.0.1"]),
            service("kube-dns", "kube-system", clusterIP="10.96.0.10"),
            service("headless", clusterIP="None", clusterIPs=["None"]),
            service("external", type="ExternalName", externalName="example.com"),
            service("dual", clusterIPs=["10.96.5.5", "fd00::5"]),
            service("copy", clusterIPs=["10.96.0.10"]),
            service("outside", clusterIPs=["10.0.0.5"]),
            service("broken", clusterIP="10.96.0.300"),
        ]
    )
    assert list(ips) == ["10.96.0.1", "10.96.0.10", "10.96.5.5"]
    assert events == [
        RepairEvent(
            namespace="default",
            name="copy",
            reason="ClusterIPAlreadyAllocated",
            message="Cluster IP 10.96.0.10 was assigned to multiple services; please recreate service",
        ),
        RepairEvent(
            namespace="default",
            name="outside",
            reason="ClusterIPOutOfRange",
            message="Cluster IP 10.0.0.5 is not within the service CIDR 10.96.0.0/12; "
            "please recreate service",
        ),
        RepairEvent(
            namespace="default",
            name="broken",
            reason="ClusterIPNotValid",
            message="Cluster IP 10.96.0.300 is not a valid IP; please recreate service",
        ),
    ]


# ---- NodePorts ----


@pytest.mark.parametrize(
    ("port", "error", "message"),
    [
        pytest.param(30000, None, "", id="first"),
        pytest.param(32767, None, "", id="last"),
        pytest.param(29999, allocators.NotInRange, PORT_RANGE_ERROR, id="below"),
        pytest.param(32768, allocators.NotInRange, PORT_RANGE_ERROR, id="above"),
        pytest.param(80, allocators.NotInRange, PORT_RANGE_ERROR, id="well-known"),
    ],
)
def test_requested_node_ports(port: int, error: type[Exception] | None, message: str) -> None:
    ports = NodePortAllocator(rng=random.Random(7))
    if error is None:
        ports.allocate(port)
        assert ports.has(port)
        with pytest.raises(allocators.AlreadyAllocated, match=r"^provided port is already allocated$"):
            ports.allocate(port)
    else:
        with pytest.raises(error) as caught:
            ports.allocate(port)
        assert str(caught.value) == message


def test_dynamic_node_ports_are_seeded_and_stay_out_of_the_static_band() -> None:
    ports = NodePortAllocator(rng=random.Random(7))
    values = [ports.allocate_next() for _ in range(3)]
    assert values == [31412, 30703, 31703]
    assert all(v >= 30086 for v in values)  # 2768 ports: the lowest 86 are kept for hand-picked ports


@pytest.mark.parametrize(
    ("port_range", "upper_first"),
    [
        pytest.param("30000-30039", 24, id="band-of-16"),
        pytest.param("30000+40", 24, id="base-plus-size"),
        pytest.param("30000-30009", 10, id="no-band-when-small"),
    ],
)
def test_node_port_range_is_exhausted_upper_band_first(port_range: str, upper_first: int) -> None:
    ports = NodePortAllocator(rng=random.Random(11), port_range=port_range)
    size = ports.last - ports.base + 1
    picked = [ports.allocate_next() for _ in range(size)]
    assert sorted(picked) == list(range(ports.base, ports.last + 1))
    assert min(picked[:upper_first]) == ports.last + 1 - upper_first
    with pytest.raises(allocators.RangeFull, match=r"^range is full$"):
        ports.allocate_next()
    ports.release(picked[0])
    assert ports.allocate_next() == picked[0]
    assert ports.stats() == allocators.AllocatorStats(
        size=size,
        used=size,
        free=0,
        allocations={"static": 0, "dynamic": size + 1},
        errors={"static": 0, "dynamic": 1},
    )


@pytest.mark.parametrize("text", ["abc", "32767-30000", "30000-70000", "-"])
def test_bad_port_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unable to parse port range"):
        NodePortAllocator(rng=random.Random(7), port_range=text)


def test_node_port_rebuild_counts_each_service_once_per_port() -> None:
    ports = NodePortAllocator(rng=random.Random(7))
    events = ports.rebuild(
        [
            service("dns", type="NodePort", ports=[
                {"name": "dns-tcp", "protocol": "TCP", "port": 53, "nodePort": 30053},
                {"name": "dns-udp", "protocol": "UDP", "port": 53, "nodePort": 30053},
            ]),
            service("lb", type="LoadBalancer", ports=[{"port": 80, "nodePort": 31080}],
                    healthCheckNodePort=32000, externalTrafficPolicy="Local"),
            service("plain", ports=[{"port": 80}]),
            service("copy", type="NodePort", ports=[{"port": 8080, "nodePort": 31080}]),
            service("low", type="NodePort", ports=[{"port": 8080, "nodePort": 8080}]),
        ]
    )  # fmt: skip
    assert list(ports) == [30053, 31080, 32000]
    assert events == [
        RepairEvent(
            namespace="default",
            name="copy",
            reason="PortAlreadyAllocated",
            message="Port 31080 was assigned to multiple services; please recreate service",
        ),
        RepairEvent(
            namespace="default",
            name="low",
            reason="PortOutOfRange",
            message="Port 8080 is not within the port range 30000-32767; please recreate service",
        ),
    ]
