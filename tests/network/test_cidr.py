"""Node podCIDRs: what an operator sees in ``kubectl get nodes -o jsonpath='{..podCIDR}'``."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from network.cidr import (
    ERR_MASK_TOO_SMALL,
    ERR_NO_CIDRS_REMAINING,
    ERR_SUBNET_TOO_BIG,
    CIDRAllocatorError,
    CIDRRangeExhausted,
    RangeAllocator,
)

UPSTREAM_EXHAUSTED = (
    "failed to allocate cidr from cluster cidr at idx:0: CIDR allocation failed; "
    "there are no remaining CIDRs left to allocate in the accepted range"
)


def test_nodes_get_consecutive_distinct_24s_from_the_default_cluster_cidr() -> None:
    allocator = RangeAllocator()
    cidrs = [allocator.allocate(f"node-{i}") for i in range(4)]
    assert cidrs == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    assert allocator.cluster_cidr == "10.244.0.0/16"
    assert allocator.node_mask_size == 24
    assert allocator.capacity == 256
    assert len(allocator) == 4


def test_allocate_is_idempotent_per_node() -> None:
    allocator = RangeAllocator()
    first = allocator.allocate("node-a")
    allocator.allocate("node-b")
    assert allocator.allocate("node-a") == first
    assert allocator.get("node-a") == first
    assert "node-a" in allocator
    assert len(allocator) == 2


def test_a_released_cidr_is_reused_by_the_next_node() -> None:
    allocator = RangeAllocator()
    for name in ("node-0", "node-1", "node-2"):
        allocator.allocate(name)
    assert allocator.release("node-1") == "10.244.1.0/24"
    assert allocator.get("node-1") is None
    assert allocator.allocate("node-3") == "10.244.1.0/24"
    assert allocator.allocate("node-4") == "10.244.3.0/24"


def test_release_of_an_unknown_node_is_a_no_op() -> None:
    allocator = RangeAllocator()
    assert allocator.release("ghost") is None
    allocator.allocate("node-0")
    assert allocator.release("node-0") == "10.244.0.0/24"
    assert allocator.release("node-0") is None


def test_exhaustion_gives_the_controller_managers_error() -> None:
    allocator = RangeAllocator("10.0.0.0/22", 24)
    assert [allocator.allocate(f"n{i}") for i in range(4)] == [
        "10.0.0.0/24",
        "10.0.1.0/24",
        "10.0.2.0/24",
        "10.0.3.0/24",
    ]
    with pytest.raises(CIDRRangeExhausted) as caught:
        allocator.allocate("n4")
    assert str(caught.value) == UPSTREAM_EXHAUSTED
    assert ERR_NO_CIDRS_REMAINING in str(caught.value)
    assert allocator.get("n4") is None
    allocator.release("n2")
    assert allocator.allocate("n4") == "10.0.2.0/24"


def test_a_node_mask_shorter_than_the_cluster_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="mask size of cluster CIDR must be less than or equal") as caught:
        RangeAllocator("10.244.0.0/16", 15)
    assert str(caught.value) == ERR_MASK_TOO_SMALL
    with pytest.raises(ValueError):
        RangeAllocator("10.244.0.0/16", 33)


def test_the_node_mask_may_equal_the_cluster_prefix() -> None:
    allocator = RangeAllocator("10.244.5.0/24", 24)
    assert allocator.allocate("only") == "10.244.5.0/24"
    with pytest.raises(CIDRRangeExhausted):
        allocator.allocate("second")


def test_other_node_mask_sizes_cut_blocks_of_that_size() -> None:
    allocator = RangeAllocator("10.96.0.0/12", 26)
    assert [allocator.allocate(f"n{i}") for i in range(5)] == [
        "10.96.0.0/26",
        "10.96.0.64/26",
        "10.96.0.128/26",
        "10.96.0.192/26",
        "10.96.1.0/26",
    ]


def test_a_garbled_cluster_cidr_is_refused() -> None:
    for text in ("10.244.0.0/33", "banana", "10.244.0.0"):
        with pytest.raises(ValueError, match="invalid CIDR address"):
            RangeAllocator(text)


def test_ipv6_cluster_cidrs_follow_upstreams_sixteen_bit_limit() -> None:
    allocator = RangeAllocator("fd00:10:244::/56", 64)
    assert allocator.allocate("a") == "fd00:10:244::/64"
    assert allocator.allocate("b") == "fd00:10:244:1::/64"
    with pytest.raises(ValueError) as caught:
        RangeAllocator("fd00::/32", 64)
    assert str(caught.value) == ERR_SUBNET_TOO_BIG


def test_occupy_rebuilds_from_existing_nodes_and_new_nodes_fill_the_gaps() -> None:
    allocator = RangeAllocator()
    allocator.occupy("node-a", "10.244.0.0/24")
    allocator.occupy("node-c", "10.244.2.0/24")
    allocator.occupy("node-c", "10.244.2.0/24")
    assert allocator.allocate("node-a") == "10.244.0.0/24"
    assert allocator.allocate("node-b") == "10.244.1.0/24"
    assert allocator.allocate("node-d") == "10.244.3.0/24"
    assert allocator.assignments() == {
        "node-a": "10.244.0.0/24",
        "node-b": "10.244.1.0/24",
        "node-c": "10.244.2.0/24",
        "node-d": "10.244.3.0/24",
    }


def test_occupy_masks_host_bits_like_go_parse_cidr() -> None:
    allocator = RangeAllocator()
    allocator.occupy("node-a", "10.244.7.9/24")
    assert allocator.get("node-a") == "10.244.7.0/24"


def test_occupy_refuses_a_cidr_outside_the_cluster_range() -> None:
    allocator = RangeAllocator()
    with pytest.raises(ValueError) as caught:
        allocator.occupy("node-a", "10.245.0.0/24")
    assert str(caught.value) == (
        "failed to mark cidr[10.245.0.0/24] at idx [0] as occupied for node: node-a: "
        "cidr 10.245.0.0/24 is out the range of cluster cidr 10.244.0.0/16"
    )
    with pytest.raises(ValueError, match="out the range"):
        allocator.occupy("node-a", "fd00::/64")
    assert len(allocator) == 0


def test_occupy_refuses_a_cidr_another_node_holds() -> None:
    allocator = RangeAllocator()
    allocator.allocate("node-a")
    with pytest.raises(CIDRAllocatorError, match="already assigned to node node-a"):
        allocator.occupy("node-b", "10.244.0.0/24")
    assert allocator.get("node-b") is None


def test_occupy_refuses_a_second_cidr_for_one_node_and_a_wrong_mask() -> None:
    allocator = RangeAllocator()
    allocator.occupy("node-a", "10.244.4.0/24")
    with pytest.raises(ValueError, match=r"node node-a already has podCIDR 10\.244\.4\.0/24"):
        allocator.occupy("node-a", "10.244.5.0/24")
    with pytest.raises(ValueError, match="not the node mask size /24"):
        allocator.occupy("node-b", "10.244.8.0/25")
    with pytest.raises(ValueError, match="failed to parse node node-b, CIDR nonsense"):
        allocator.occupy("node-b", "nonsense")


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=120))
def test_blocks_never_overlap_and_stay_inside_the_cluster_cidr(ops: list[tuple[bool, int]]) -> None:
    allocator = RangeAllocator("10.244.0.0/19", 24)
    cluster = ipaddress.ip_network("10.244.0.0/19")
    for add, n in ops:
        name = f"node-{n}"
        if add:
            try:
                allocator.allocate(name)
            except CIDRRangeExhausted:
                assert len(allocator) == allocator.capacity == 32
        else:
            allocator.release(name)
        blocks = [ipaddress.ip_network(c) for c in allocator.assignments().values()]
        assert all(b.subnet_of(cluster) and b.prefixlen == 24 for b in blocks)  # type: ignore[arg-type]
        assert len(set(blocks)) == len(blocks)
        free = {ipaddress.ip_network(f"10.244.{i}.0/24") for i in range(32)} - set(blocks)
        if free and len(blocks) < allocator.capacity:
            lowest = min(free, key=lambda b: int(b.network_address))
            probe = RangeAllocator("10.244.0.0/19", 24)
            for node, cidr in allocator.assignments().items():
                probe.occupy(node, cidr)
            assert probe.allocate("probe") == str(lowest)
