"""host-local on one node's podCIDR: the pod IPs ``kubectl get pods -o wide`` shows."""

from __future__ import annotations

import pytest

from network.ipam import (
    AddressNotFound,
    Allocation,
    DuplicateAllocation,
    HostLocal,
    IPAMError,
    NoAddressesAvailable,
)


def test_pods_get_distinct_ips_from_dot_two_with_the_dot_one_gateway() -> None:
    pool = HostLocal("10.244.1.0/24")
    results = [pool.allocate(f"pod-{i}") for i in range(3)]
    assert results == [
        Allocation("10.244.1.2", "10.244.1.1", 24),
        Allocation("10.244.1.3", "10.244.1.1", 24),
        Allocation("10.244.1.4", "10.244.1.1", 24),
    ]
    ip, gateway, prefix_length = results[0]
    assert (ip, gateway, prefix_length) == ("10.244.1.2", "10.244.1.1", 24)
    assert pool.gateway == "10.244.1.1"
    assert pool.prefix_length == 24
    assert pool.range_set == "10.244.1.1-10.244.1.254"
    assert pool.capacity == 253
    assert len(pool) == 3


def test_a_released_ip_is_not_handed_out_again_at_once() -> None:
    pool = HostLocal("10.244.1.0/24")
    for name in ("a", "b", "c"):
        pool.allocate(name)
    assert pool.release("b") == "10.244.1.3"
    assert pool.allocate("d").ip == "10.244.1.5"
    assert pool.last_reserved == "10.244.1.5"


def test_round_robin_wraps_past_the_end_to_the_lowest_free_address() -> None:
    pool = HostLocal("10.244.1.0/29")
    assert [pool.allocate(f"p{i}").ip for i in range(5)] == [
        "10.244.1.2",
        "10.244.1.3",
        "10.244.1.4",
        "10.244.1.5",
        "10.244.1.6",
    ]
    pool.release("p1")
    pool.release("p3")
    assert pool.allocate("q0").ip == "10.244.1.3"
    assert pool.allocate("q1").ip == "10.244.1.5"
    pool.release("q0")
    pool.release("p4")
    assert pool.allocate("q2").ip == "10.244.1.6"
    assert pool.allocate("q3").ip == "10.244.1.3"


def test_exhausting_a_29_gives_host_locals_message() -> None:
    pool = HostLocal("10.244.1.0/29")
    assert pool.capacity == 5
    for i in range(5):
        pool.allocate(f"p{i}")
    with pytest.raises(NoAddressesAvailable) as caught:
        pool.allocate("one-too-many")
    assert str(caught.value) == "no IP addresses available in range set: 10.244.1.1-10.244.1.6"
    pool.release("p2")
    assert pool.allocate("one-too-many").ip == "10.244.1.4"


def test_the_network_broadcast_and_gateway_addresses_are_never_handed_out() -> None:
    pool = HostLocal("10.244.1.0/24")
    ips = {pool.allocate(f"p{i}").ip for i in range(253)}
    assert len(ips) == 253
    assert not ips & {"10.244.1.0", "10.244.1.1", "10.244.1.255"}
    with pytest.raises(NoAddressesAvailable, match=r"10\.244\.1\.1-10\.244\.1\.254$"):
        pool.allocate("p253")


def test_a_second_allocation_for_the_same_container_and_interface_is_refused() -> None:
    pool = HostLocal("10.244.1.0/24")
    pool.allocate("abc123")
    with pytest.raises(DuplicateAllocation) as caught:
        pool.allocate("abc123")
    assert str(caught.value) == "10.244.1.2 has been allocated to abc123, duplicate allocation is not allowed"
    assert pool.allocate("abc123", "net1").ip == "10.244.1.3"
    assert len(pool) == 2


def test_release_is_idempotent_and_per_interface() -> None:
    pool = HostLocal("10.244.1.0/24")
    assert pool.release("never-seen") is None
    pool.allocate("c1", "eth0")
    pool.allocate("c1", "net1")
    assert pool.release("c1", "net1") == "10.244.1.3"
    assert pool.release("c1", "net1") is None
    assert pool.check("c1", "eth0") == "10.244.1.2"


def test_check_returns_the_held_ip_or_host_locals_error() -> None:
    pool = HostLocal("10.244.1.0/24")
    pool.allocate("c1")
    assert pool.check("c1") == "10.244.1.2"
    with pytest.raises(AddressNotFound) as caught:
        pool.check("c2")
    assert str(caught.value) == "host-local: Failed to find address added by container c2"
    pool.release("c1")
    with pytest.raises(AddressNotFound):
        pool.check("c1")


def test_reserved_lists_ip_and_container_in_address_order() -> None:
    pool = HostLocal("10.244.1.0/29")
    for name in ("a", "b", "c", "d"):
        pool.allocate(name)
    pool.release("a")
    pool.allocate("e")
    assert pool.reserved() == [
        ("10.244.1.3", "b"),
        ("10.244.1.4", "c"),
        ("10.244.1.5", "d"),
        ("10.244.1.6", "e"),
    ]


def test_allocation_is_deterministic() -> None:
    def run() -> list[str]:
        pool = HostLocal("10.244.9.0/28")
        out = [pool.allocate(f"p{i}").ip for i in range(6)]
        pool.release("p2")
        pool.release("p4")
        out += [pool.allocate(f"q{i}").ip for i in range(8)]
        return out

    assert run() == run()


def test_requested_addresses_follow_host_local_rules() -> None:
    pool = HostLocal("10.244.1.0/24")
    assert pool.allocate("a", requested="10.244.1.77").ip == "10.244.1.77"
    assert pool.last_reserved == "10.244.1.77"
    assert pool.allocate("b").ip == "10.244.1.78"
    with pytest.raises(IPAMError, match=r"^requested ip 10\.244\.1\.1 is subnet's gateway$"):
        pool.allocate("c", requested="10.244.1.1")
    with pytest.raises(IPAMError) as caught:
        pool.allocate("c", requested="10.244.1.77")
    assert str(caught.value) == (
        "requested IP address 10.244.1.77 is not available in range set 10.244.1.1-10.244.1.254"
    )
    with pytest.raises(IPAMError, match=r"^10\.244\.2\.5 not in range set 10\.244\.1\.1-10\.244\.1\.254$"):
        pool.allocate("c", requested="10.244.2.5")


def test_range_start_end_and_gateway_narrow_the_range() -> None:
    pool = HostLocal(
        "10.244.1.0/24", range_start="10.244.1.10", range_end="10.244.1.12", gateway="10.244.1.254"
    )
    assert pool.range_set == "10.244.1.10-10.244.1.12"
    assert [pool.allocate(f"p{i}") for i in range(3)] == [
        Allocation("10.244.1.10", "10.244.1.254", 24),
        Allocation("10.244.1.11", "10.244.1.254", 24),
        Allocation("10.244.1.12", "10.244.1.254", 24),
    ]
    with pytest.raises(NoAddressesAvailable, match=r"10\.244\.1\.10-10\.244\.1\.12$"):
        pool.allocate("p3")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subnet": "10.244.1.0/31"}, "Network 10.244.1.0/31 too small to allocate from"),
        ({"subnet": "10.244.1.0/33"}, "invalid CIDR address: 10.244.1.0/33"),
        ({"subnet": "10.244.1.0"}, "invalid CIDR address: 10.244.1.0"),
        (
            {"subnet": "10.244.1.0/24", "gateway": "10.244.2.1"},
            "gateway 10.244.2.1 not in network 10.244.1.0/24",
        ),
        ({"subnet": "10.244.1.0/24", "range_start": "10.0.0.1"}, "10.0.0.1 not in network 10.244.1.0/24"),
        (
            {"subnet": "10.244.1.0/24", "range_start": "10.244.1.50", "range_end": "10.244.1.40"},
            "10.244.1.40 is in network 10.244.1.0/24 but before start 10.244.1.50",
        ),
        ({"subnet": "10.244.1.0/24", "gateway": "fd00::1"}, "IP fd00::1 is not the same protocol as subnet"),
        ({"subnet": "10.244.1.0/24", "gateway": "ten"}, "invalid IP address: ten"),
    ],
)
def test_bad_ranges_are_refused_with_host_locals_messages(kwargs: dict[str, str], message: str) -> None:
    subnet = kwargs.pop("subnet")
    with pytest.raises(IPAMError) as caught:
        HostLocal(subnet, **kwargs)
    assert str(caught.value).startswith(message)


def test_ipv6_ranges_run_to_the_last_address() -> None:
    pool = HostLocal("fd00:10:244:1::/125")
    assert pool.range_set == "fd00:10:244:1::1-fd00:10:244:1::7"
    assert pool.allocate("a") == Allocation("fd00:10:244:1::2", "fd00:10:244:1::1", 125)
    assert pool.capacity == 6
