"""Node podCIDRs: kube-controller-manager's node IPAM ``RangeAllocator`` as a plain table.

Upstream (``pkg/controller/nodeipam/ipam``: ``range_allocator.go`` over ``cidrset/cidr_set.go``) cuts the
cluster pod CIDR (``--cluster-cidr``, here ``10.244.0.0/16`` by default, flannel's) into blocks of
``--node-cidr-mask-size`` bits (24 by default) and writes one to each Node's ``spec.podCIDR``. Blocks are
numbered from the bottom of the range; block ``i`` of ``10.244.0.0/16`` is ``10.244.<i>.0/24``.

What is emulated: the block arithmetic, the start-up validation (a node mask shorter than the cluster
prefix is refused; an IPv6 node mask more than 16 bits longer than the cluster prefix is refused), the
rebuild from existing Nodes (``occupy``), release on Node deletion, and the error texts a user sees in the
controller-manager log::

    failed to allocate cidr from cluster cidr at idx:0: CIDR allocation failed; there are no remaining
    CIDRs left to allocate in the accepted range

Deviations, each deliberate:

* ``allocate`` hands out the *lowest* free block. Upstream's ``CidrSet`` walks on from the block after the
  last one it handed out (``nextCandidate``) and wraps, so a released block comes back only after the rest
  of the range; the two agree until the first release.
* ``allocate`` is idempotent per node name and remembers which node holds which block. Upstream's set is
  a bitmap without owners; the controller skips Nodes whose ``spec.podCIDR`` is already set.
* ``occupy`` refuses a block that another node holds and a CIDR whose mask is not the node mask size.
  Upstream marks the covered bits and succeeds, silently sharing or over-reserving.
* Only one cluster CIDR (no dual-stack pairs) and no service-CIDR filtering.
"""

from __future__ import annotations

import ipaddress

DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"
DEFAULT_NODE_MASK_SIZE = 24

CLUSTER_SUBNET_MAX_DIFF = 16
"""Upstream's ``clusterSubnetMaxDiff``: an IPv6 node mask may be at most this many bits longer."""

ERR_NO_CIDRS_REMAINING = (
    "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"
)
"""``cidrset.ErrCIDRRangeNoCIDRsRemaining``."""

ERR_SUBNET_TOO_BIG = "New CIDR set failed; the node CIDR size is too big"
"""``cidrset.ErrCIDRSetSubNetTooBig``."""

ERR_MASK_TOO_SMALL = (
    "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than or equal to "
    "--node-cidr-mask-size configured for CIDR family"
)
"""What the node IPAM controller refuses to start with."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CIDRAllocatorError(ValueError):
    """A CIDR that cannot be parsed, lies outside the cluster range, or belongs to another node."""


class CIDRRangeExhausted(CIDRAllocatorError):
    """Every block of the cluster CIDR is assigned; the message is upstream's."""


class RangeAllocator:
    """Which node holds which podCIDR block of one cluster CIDR."""

    __slots__ = ("_block", "_by_index", "_by_node", "_cluster", "_hint", "_node_mask_size", "_size")

    def __init__(
        self, cluster_cidr: str = DEFAULT_CLUSTER_CIDR, node_mask_size: int = DEFAULT_NODE_MASK_SIZE
    ) -> None:
        try:
            cluster = ipaddress.ip_network(cluster_cidr, strict=False)
        except ValueError:
            raise CIDRAllocatorError(f"invalid CIDR address: {cluster_cidr}") from None
        if "/" not in cluster_cidr:
            raise CIDRAllocatorError(f"invalid CIDR address: {cluster_cidr}")
        if node_mask_size < cluster.prefixlen or node_mask_size > cluster.max_prefixlen:
            raise CIDRAllocatorError(ERR_MASK_TOO_SMALL)
        if cluster.version == 6 and node_mask_size - cluster.prefixlen > CLUSTER_SUBNET_MAX_DIFF:
            raise CIDRAllocatorError(ERR_SUBNET_TOO_BIG)
        self._cluster: _Network = cluster
        self._node_mask_size = node_mask_size
        self._size = 1 << (node_mask_size - cluster.prefixlen)
        self._block = 1 << (cluster.max_prefixlen - node_mask_size)
        self._by_node: dict[str, int] = {}
        self._by_index: dict[int, str] = {}
        self._hint = 0

    @property
    def cluster_cidr(self) -> str:
        return str(self._cluster)

    @property
    def node_mask_size(self) -> int:
        return self._node_mask_size

    @property
    def capacity(self) -> int:
        """How many node blocks the cluster CIDR holds (upstream's ``maxCIDRs``)."""
        return self._size

    def __len__(self) -> int:
        return len(self._by_node)

    def __contains__(self, node_name: object) -> bool:
        return node_name in self._by_node

    def get(self, node_name: str) -> str | None:
        """The block held by ``node_name``, or ``None``."""
        index = self._by_node.get(node_name)
        return None if index is None else self._cidr(index)

    def assignments(self) -> dict[str, str]:
        """Node name to podCIDR, in address order."""
        return {self._by_index[i]: self._cidr(i) for i in sorted(self._by_index)}

    def allocate(self, node_name: str) -> str:
        """The node's block: the one it holds already, else the lowest free one."""
        held = self._by_node.get(node_name)
        if held is not None:
            return self._cidr(held)
        if len(self._by_index) >= self._size:
            raise CIDRRangeExhausted(
                f"failed to allocate cidr from cluster cidr at idx:0: {ERR_NO_CIDRS_REMAINING}"
            )
        index = self._hint
        while index in self._by_index:
            index += 1
        self._assign(node_name, index)
        self._hint = index + 1
        return self._cidr(index)

    def occupy(self, node_name: str, cidr: str) -> None:
        """Record that ``node_name`` already holds ``cidr`` (its Node's ``spec.podCIDR``)."""
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise CIDRAllocatorError(f"failed to parse node {node_name}, CIDR {cidr}") from None
        prefix = f"failed to mark cidr[{network}] at idx [0] as occupied for node: {node_name}"
        if "/" not in cidr or not self._covers(network):
            raise CIDRAllocatorError(
                f"{prefix}: cidr {network} is out the range of cluster cidr {self._cluster}"
            )
        if network.prefixlen != self._node_mask_size:
            raise CIDRAllocatorError(
                f"{prefix}: mask size /{network.prefixlen} is not the node mask size /{self._node_mask_size}"
            )
        index = (int(network.network_address) - int(self._cluster.network_address)) // self._block
        holder = self._by_index.get(index)
        if holder == node_name:
            return
        if holder is not None:
            raise CIDRAllocatorError(f"{prefix}: cidr {network} is already assigned to node {holder}")
        held = self._by_node.get(node_name)
        if held is not None:
            raise CIDRAllocatorError(f"{prefix}: node {node_name} already has podCIDR {self._cidr(held)}")
        self._assign(node_name, index)

    def release(self, node_name: str) -> str | None:
        """Free the node's block and return it; ``None`` (and no error) when the node holds none."""
        index = self._by_node.pop(node_name, None)
        if index is None:
            return None
        del self._by_index[index]
        self._hint = min(self._hint, index)
        return self._cidr(index)

    def _covers(self, network: _Network) -> bool:
        cluster = self._cluster
        return (
            network.version == cluster.version
            and int(cluster.network_address) <= int(network.network_address)
            and int(network.broadcast_address) <= int(cluster.broadcast_address)
        )

    def _assign(self, node_name: str, index: int) -> None:
        self._by_node[node_name] = index
        self._by_index[index] = node_name

    def _cidr(self, index: int) -> str:
        value = int(self._cluster.network_address) + index * self._block
        address = ipaddress.IPv4Address(value) if self._cluster.version == 4 else ipaddress.IPv6Address(value)
        return f"{address}/{self._node_mask_size}"
