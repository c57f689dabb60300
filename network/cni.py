"""The CNI interface the kubelet calls, and the reference ``bridge`` plugin behind it.

The shape is the CNI specification's, version 1.0.0 (https://www.cni.dev/docs/spec/): a plugin gets the
network configuration (a JSON object, here a mapping), the container ID, the network namespace path, the
interface name and ``CNI_ARGS``; ADD returns a Result, DEL and CHECK return nothing, and every failure is
an error object ``{"cniVersion", "code", "msg", "details"}`` with the spec's well-known codes (``ErrorCode``).
Nothing is executed: there are no binaries, no ``CNI_PATH``, no namespaces, no links; an address is data.

``Bridge`` emulates containernetworking/plugins' ``bridge`` with ``host-local`` IPAM, the simplest setup
(kubenet's, and what flannel delegates to). What is emulated:

* Config validation as libcni's ``skel`` and host-local's ``LoadIPAMConfig`` do it, with their messages:
  ``incompatible CNI versions`` (code 1, details ``config is "0.4.0", plugin supports ["1.0.0"]``),
  ``missing containerID`` (3), ``invalid characters in containerID`` and the interface-name rules (4),
  ``IPAM config missing 'ipam' key``, ``no IP ranges specified``, ``invalid CIDR address: ...`` (7).
* ADD reserves one address per ``ipam.ranges`` entry (one per family for dual stack) from that subnet's
  ``HostLocal`` and answers the spec's Result. An allocation failure is code 999 (libcni's
  ``ErrInternal``, what ``skel`` makes of a plugin's plain error) with host-local's text, e.g.
  ``failed to allocate for range 0: no IP addresses available in range set: 10.244.1.1-10.244.1.254``;
  addresses already reserved by the same ADD are released first, as host-local does.
* DEL releases whatever the container holds and succeeds when it holds nothing (the spec asks DEL to
  tolerate missing resources). CHECK fails with code 3 and host-local's ``host-local: Failed to find
  address added by container <id>`` when the container holds no address.

Deviations: only ``cniVersion`` 1.0.0 is accepted (older Results have another shape); the Result lists one
interface, the container's (upstream also lists the bridge and the host-side veth, with MAC addresses, and
points ``ips[].interface`` at index 2); ``isDefaultGateway`` defaults to true (upstream: false; flannel's
delegate and kubenet set it), adding a default route through the gateway; ``CNI_ARGS`` are accepted and
ignored; CHECK does not compare a ``prevResult`` and fails with code 3 (upstream's plain error reaches the
runtime as 999); a range set holds exactly one range; two configs naming one subnet with different
``rangeStart``/``rangeEnd``/``gateway`` are refused (code 7) rather than sharing the store.

Later plugins (flannel, calico, canal) implement ``CniPlugin`` the same way: flannel hands ``bridge`` plus
``host-local`` the node's podCIDR, calico has its own block IPAM, canal is calico's policy on flannel's
network. They are not written yet.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from network.ipam import HostLocal, IPAMError, parse_subnet

SPEC_VERSION = "1.0.0"
SUPPORTED_VERSIONS = ("1.0.0",)
MAX_INTERFACE_NAME_LENGTH = 15
"""Linux's ``IFNAMSIZ`` less the terminator, as libcni's ``ValidateInterfaceName`` checks."""


class ErrorCode(enum.IntEnum):
    """The spec's well-known error codes; 100 and above belong to plugins."""

    INCOMPATIBLE_CNI_VERSION = 1
    UNSUPPORTED_FIELD = 2
    UNKNOWN_CONTAINER = 3
    INVALID_ENVIRONMENT_VARIABLES = 4
    IO_FAILURE = 5
    DECODING_FAILURE = 6
    INVALID_NETWORK_CONFIG = 7
    TRY_AGAIN_LATER = 11
    INTERNAL = 999
    """libcni's ``ErrInternal``: what ``skel`` reports for a plugin's error that carries no code."""


class CniError(Exception):
    """A plugin failure carrying the spec's error object; ``str()`` is ``msg; details`` as libcni's."""

    def __init__(self, code: int, msg: str, details: str = "", *, cni_version: str = SPEC_VERSION) -> None:
        super().__init__(f"{msg}; {details}" if details else msg)
        self.code = code
        self.msg = msg
        self.details = details
        self.cni_version = cni_version

    def to_dict(self) -> dict[str, Any]:
        """The error object a plugin prints on stdout."""
        return {
            "cniVersion": self.cni_version,
            "code": int(self.code),
            "msg": self.msg,
            "details": self.details,
        }


class CniPlugin(Protocol):
    """What the kubelet (through the container runtime) calls for each pod sandbox."""

    def add(
        self, config: Mapping[str, Any], container_id: str, netns: str, ifname: str, args: Mapping[str, str]
    ) -> dict[str, Any]:
        """Attach the container; the CNI Result."""
        ...

    def delete(
        self, config: Mapping[str, Any], container_id: str, netns: str, ifname: str, args: Mapping[str, str]
    ) -> None:
        """Detach the container; succeeds when there is nothing to release."""
        ...

    def check(
        self, config: Mapping[str, Any], container_id: str, netns: str, ifname: str, args: Mapping[str, str]
    ) -> None:
        """Raise ``CniError`` unless the container is attached as ADD left it."""
        ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Range:
    """One validated ``ipam.ranges`` entry; ``range_set`` and ``gateway`` are canonical, for comparison."""

    subnet: str
    range_start: str | None
    range_end: str | None
    gateway_field: str | None
    range_set: str
    gateway: str

    def new_pool(self) -> HostLocal:
        return HostLocal(
            self.subnet, range_start=self.range_start, range_end=self.range_end, gateway=self.gateway_field
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _NetConf:
    cni_version: str
    name: str
    ranges: tuple[_Range, ...]
    routes: tuple[dict[str, str], ...]
    dns: dict[str, Any]
    is_default_gateway: bool


class Bridge:
    """The ``bridge`` plugin with ``host-local`` IPAM on one node: one ``HostLocal`` per subnet."""

    __slots__ = ("_pools",)

    plugin_type = "bridge"

    def __init__(self) -> None:
        self._pools: dict[str, HostLocal] = {}

    def pool(self, subnet: str) -> HostLocal | None:
        """The allocator of ``subnet`` once an ADD has used it."""
        return self._pools.get(str(parse_subnet(subnet)))

    def pools(self) -> dict[str, HostLocal]:
        """Subnet to allocator, for every subnet used so far."""
        return dict(self._pools)

    def add(
        self, config: Mapping[str, Any], container_id: str, netns: str, ifname: str, args: Mapping[str, str]
    ) -> dict[str, Any]:
        conf = self._load(config, container_id, ifname, netns=netns, require_netns=True)
        pools = [self._pool_for(spec, conf.cni_version) for spec in conf.ranges]
        taken: list[HostLocal] = []
        ips: list[dict[str, Any]] = []
        for idx, pool in enumerate(pools):
            try:
                allocation = pool.allocate(container_id, ifname)
            except IPAMError as err:
                for done in taken:
                    done.release(container_id, ifname)
                raise CniError(
                    ErrorCode.INTERNAL,
                    f"failed to allocate for range {idx}: {err}",
                    cni_version=conf.cni_version,
                ) from err
            taken.append(pool)
            ips.append(
                {
                    "address": f"{allocation.ip}/{allocation.prefix_length}",
                    "gateway": allocation.gateway,
                    "interface": 0,
                }
            )
        routes = [dict(route) for route in conf.routes]
        if conf.is_default_gateway:
            for ip in ips:
                default = "0.0.0.0/0" if ipaddress.ip_address(ip["gateway"]).version == 4 else "::/0"
                if not any(route["dst"] == default for route in routes):
                    routes.append({"dst": default, "gw": ip["gateway"]})
        return {
            "cniVersion": conf.cni_version,
            "interfaces": [{"name": ifname, "sandbox": netns}],
            "ips": ips,
            "routes": routes,
            "dns": copy.deepcopy(conf.dns),
        }

    def delete(
        self, config: Mapping[str, Any], container_id: str, netns: str, ifname: str, args: Mapping[str, str]
    ) -> None:
        conf = self._load(config, container_id, ifname, netns=netns, require_netns=False)
        for spec in conf.ranges:
            pool = self._pools.get(spec.subnet)
            if pool is not None:
                pool.release(container_id, ifname)

    def check(
        self, config: Mapping[str, Any], container_id: str, netns: str, ifname: str, args: Mapping[str, str]
    ) -> None:
        conf = self._load(config, container_id, ifname, netns=netns, require_netns=True)
        for spec in conf.ranges:
            pool = self._pools.get(spec.subnet)
            try:
                if pool is None:
                    raise IPAMError(f"host-local: Failed to find address added by container {container_id}")
                pool.check(container_id, ifname)
            except IPAMError as err:
                raise CniError(ErrorCode.UNKNOWN_CONTAINER, str(err), cni_version=conf.cni_version) from err

    def _pool_for(self, spec: _Range, cni_version: str) -> HostLocal:
        pool = self._pools.get(spec.subnet)
        if pool is None:
            pool = self._pools[spec.subnet] = spec.new_pool()
        elif (spec.range_set, spec.gateway) != (pool.range_set, pool.gateway):
            raise CniError(
                ErrorCode.INVALID_NETWORK_CONFIG,
                f"range {spec.range_set} (gateway {spec.gateway}) conflicts with the range in use",
                f"subnet {pool.subnet} already allocates from {pool.range_set} with gateway {pool.gateway}",
                cni_version=cni_version,
            )
        return pool

    def _load(
        self, config: Mapping[str, Any], container_id: str, ifname: str, *, netns: str, require_netns: bool
    ) -> _NetConf:
        if not isinstance(config, Mapping):
            raise CniError(
                ErrorCode.DECODING_FAILURE,
                "failed to decode content",
                "the network config is not a JSON object",
            )
        version = config.get("cniVersion")
        if not isinstance(version, str) or version not in SUPPORTED_VERSIONS:
            supported = " ".join(map(_go_quote, SUPPORTED_VERSIONS))
            raise CniError(
                ErrorCode.INCOMPATIBLE_CNI_VERSION,
                "incompatible CNI versions",
                f"config is {_go_quote(version)}, plugin supports [{supported}]"
                if version is not None
                else f'config has no "cniVersion", plugin supports [{supported}]',
            )
        _validate_container_id(container_id, version)
        _validate_interface_name(ifname, version)
        if require_netns and not netns:
            raise CniError(
                ErrorCode.INVALID_ENVIRONMENT_VARIABLES,
                "required env variables [CNI_NETNS] missing",
                cni_version=version,
            )
        try:
            return _parse_conf(config, version, self.plugin_type)
        except IPAMError as err:
            raise CniError(ErrorCode.INVALID_NETWORK_CONFIG, str(err), cni_version=version) from err


def _go_quote(value: object) -> str:
    return json.dumps(value if isinstance(value, str) else "" if value is None else str(value))


def _valid_name(name: str) -> bool:
    return (
        bool(name)
        and name[0].isascii()
        and name[0].isalnum()
        and all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)
    )


def _validate_container_id(container_id: str, version: str) -> None:
    if not container_id:
        raise CniError(ErrorCode.UNKNOWN_CONTAINER, "missing containerID", cni_version=version)
    if not _valid_name(container_id):
        raise CniError(
            ErrorCode.INVALID_ENVIRONMENT_VARIABLES,
            "invalid characters in containerID",
            container_id,
            cni_version=version,
        )


def _validate_interface_name(ifname: str, version: str) -> None:
    problem, details = "", ""
    if not ifname:
        problem = "interface name is empty"
    elif len(ifname.encode()) > MAX_INTERFACE_NAME_LENGTH:
        problem = "interface name is too long"
        details = f"interface name should be less than {MAX_INTERFACE_NAME_LENGTH + 1} characters"
    elif ifname in (".", ".."):
        problem = "interface name is . or .."
    elif any(c in "/:" or c.isspace() for c in ifname):
        problem = "interface name contains / or : or whitespace characters"
    if problem:
        raise CniError(ErrorCode.INVALID_ENVIRONMENT_VARIABLES, problem, details, cni_version=version)


def _parse_conf(config: Mapping[str, Any], version: str, plugin_type: str) -> _NetConf:
    """The parts of a bridge + host-local config the emulator uses; ``IPAMError`` for a bad one."""
    name = config.get("name")
    if not isinstance(name, str) or not name:
        raise IPAMError("missing network name")
    if not _valid_name(name):
        raise IPAMError(f"invalid characters found in network name: {name}")
    kind = config.get("type")
    if kind != plugin_type:
        raise IPAMError(f'network config type is {_go_quote(kind)}, this plugin is "{plugin_type}"')
    ipam = config.get("ipam")
    if not isinstance(ipam, Mapping) or not ipam:
        raise IPAMError("IPAM config missing 'ipam' key")
    ipam_type = ipam.get("type")
    if ipam_type != "host-local":
        raise IPAMError(
            f"failed to find plugin {_go_quote(ipam_type)} in path [/opt/cni/bin]: "
            'the emulated bridge plugin supports ipam type "host-local" only'
        )
    ranges = _parse_ranges(ipam)
    routes = _parse_routes(ipam.get("routes", []))
    dns = config.get("dns", {})
    if not isinstance(dns, Mapping):
        raise IPAMError(f"invalid dns: {dns!r} is not an object")
    is_default_gateway = config.get("isDefaultGateway", True)
    if not isinstance(is_default_gateway, bool):
        raise IPAMError(f"invalid isDefaultGateway: {is_default_gateway!r} is not a boolean")
    return _NetConf(
        cni_version=version,
        name=name,
        ranges=ranges,
        routes=routes,
        dns=dict(dns),
        is_default_gateway=is_default_gateway,
    )


def _parse_ranges(ipam: Mapping[str, Any]) -> tuple[_Range, ...]:
    raw: list[Any] = []
    if ipam.get("subnet"):
        raw.append([{key: ipam.get(key) for key in ("subnet", "rangeStart", "rangeEnd", "gateway")}])
    ranges_field = ipam.get("ranges", [])
    if not isinstance(ranges_field, Sequence) or isinstance(ranges_field, str):
        raise IPAMError("invalid ranges: not a list of range sets")
    raw.extend(ranges_field)
    if not raw:
        raise IPAMError("no IP ranges specified")
    ranges: list[_Range] = []
    for idx, range_set in enumerate(raw):
        if not isinstance(range_set, Sequence) or isinstance(range_set, str) or not range_set:
            raise IPAMError(f"invalid range set {idx}: empty range set")
        if len(range_set) > 1:
            raise IPAMError(
                f"invalid range set {idx}: {len(range_set)} ranges; the emulated host-local takes one range "
                "per range set (list each subnet as its own range set)"
            )
        entry = range_set[0]
        if not isinstance(entry, Mapping) or not isinstance(entry.get("subnet"), str):
            raise IPAMError(f'invalid range set {idx}: a range needs a "subnet"')
        fields = {key: entry.get(key) for key in ("rangeStart", "rangeEnd", "gateway")}
        for key, value in fields.items():
            if value is not None and not isinstance(value, str):
                raise IPAMError(f"invalid range set {idx}: {key} {value!r} is not an IP address")
        parse_subnet(entry["subnet"])
        spec = _Range(
            subnet=entry["subnet"],
            range_start=fields["rangeStart"],
            range_end=fields["rangeEnd"],
            gateway_field=fields["gateway"],
            range_set="",
            gateway="",
        )
        try:
            pool = spec.new_pool()
        except IPAMError as err:
            raise IPAMError(f"invalid range set {idx}: {err}") from None
        ranges.append(
            dataclasses.replace(spec, subnet=pool.subnet, range_set=pool.range_set, gateway=pool.gateway)
        )
    for i, first in enumerate(ranges):
        for j in range(i + 1, len(ranges)):
            if _overlap(parse_subnet(first.subnet), parse_subnet(ranges[j].subnet)):
                raise IPAMError(f"range set {i} overlaps with {j}")
    return tuple(ranges)


def _overlap(
    a: ipaddress.IPv4Network | ipaddress.IPv6Network, b: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    return (
        a.version == b.version
        and int(a.network_address) <= int(b.broadcast_address)
        and int(b.network_address) <= int(a.broadcast_address)
    )


def _parse_routes(raw: object) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise IPAMError("invalid routes: not a list")
    routes: list[dict[str, str]] = []
    for route in raw:
        dst = route.get("dst") if isinstance(route, Mapping) else None
        if not isinstance(dst, str):
            raise IPAMError(f'invalid route {route!r}: a route needs a "dst"')
        parse_subnet(dst)
        parsed = {"dst": dst}
        gw = route.get("gw")
        if gw is not None:
            if not isinstance(gw, str):
                raise IPAMError(f"invalid IP address: {gw}")
            try:
                ipaddress.ip_address(gw)
            except ValueError:
                raise IPAMError(f"invalid IP address: {gw}") from None
            parsed["gw"] = gw
        routes.append(parsed)
    return tuple(routes)
