"""The CNI calls a kubelet makes for pod sandboxes, answered by the emulated bridge + host-local plugin."""

from __future__ import annotations

import copy
import ipaddress
import json
from typing import Any

import pytest

from network.cidr import RangeAllocator
from network.cni import Bridge, CniError, CniPlugin, ErrorCode

NETNS = "/var/run/netns/cni-1234"
EXHAUSTED_29 = "no IP addresses available in range set: 10.244.1.1-10.244.1.6"


def conf(subnet: str = "10.244.1.0/24", **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "cniVersion": "1.0.0",
        "name": "kubemu",
        "type": "bridge",
        "bridge": "cni0",
        "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]]},
    }
    config.update(extra)
    return config


def add(plugin: CniPlugin, config: dict[str, Any], cid: str, ifname: str = "eth0") -> dict[str, Any]:
    return plugin.add(config, cid, NETNS, ifname, {"K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": cid})


def error_of(call: Any, *args: Any) -> CniError:
    with pytest.raises(CniError) as caught:
        call(*args)
    return caught.value


def test_add_returns_the_specs_result_shape() -> None:
    result = add(Bridge(), conf(), "c1")
    assert result == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": NETNS}],
        "ips": [{"address": "10.244.1.2/24", "gateway": "10.244.1.1", "interface": 0}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}],
        "dns": {},
    }
    assert json.loads(json.dumps(result)) == result


def test_bridge_satisfies_the_plugin_protocol() -> None:
    plugin: CniPlugin = Bridge()
    assert add(plugin, conf(), "c1")["ips"][0]["address"] == "10.244.1.2/24"


def test_pods_on_one_node_get_distinct_ips() -> None:
    plugin = Bridge()
    addresses = [add(plugin, conf(), f"pod{i}")["ips"][0]["address"] for i in range(20)]
    assert len(set(addresses)) == 20
    assert addresses[:3] == ["10.244.1.2/24", "10.244.1.3/24", "10.244.1.4/24"]


def test_addresses_never_collide_across_nodes() -> None:
    cidrs = RangeAllocator()
    nodes = {name: (Bridge(), cidrs.allocate(name)) for name in ("node-a", "node-b", "node-c")}
    seen: dict[str, str] = {}
    for i in range(30):
        for name, (plugin, podcidr) in nodes.items():
            address = add(plugin, conf(podcidr), f"{name}-pod{i}")["ips"][0]["address"]
            interface = ipaddress.ip_interface(address)
            assert interface.network == ipaddress.ip_network(podcidr)
            assert str(interface.ip) not in seen
            seen[str(interface.ip)] = name
    assert len(seen) == 90
    assert {ip.rsplit(".", 1)[0] for ip in seen} == {"10.244.0", "10.244.1", "10.244.2"}


def test_del_releases_and_is_idempotent() -> None:
    plugin = Bridge()
    add(plugin, conf(), "c1")
    add(plugin, conf(), "c2")
    plugin.delete(conf(), "c1", NETNS, "eth0", {})
    plugin.delete(conf(), "c1", NETNS, "eth0", {})
    plugin.delete(conf(), "never-added", "", "eth0", {})
    plugin.delete(conf("10.244.7.0/24"), "c2", NETNS, "eth0", {})
    pool = plugin.pool("10.244.1.0/24")
    assert pool is not None
    assert pool.reserved() == [("10.244.1.3", "c2")]


def test_release_then_readd_walks_round_robin() -> None:
    plugin = Bridge()
    for cid in ("a", "b", "c"):
        add(plugin, conf(), cid)
    plugin.delete(conf(), "b", NETNS, "eth0", {})
    assert add(plugin, conf(), "b")["ips"][0]["address"] == "10.244.1.5/24"


def test_check_passes_for_an_added_container_and_fails_with_code_3_otherwise() -> None:
    plugin = Bridge()
    add(plugin, conf(), "c1")
    plugin.check(conf(), "c1", NETNS, "eth0", {})
    err = error_of(plugin.check, conf(), "c2", NETNS, "eth0", {})
    assert err.code == ErrorCode.UNKNOWN_CONTAINER
    assert err.code == 3
    assert err.msg == "host-local: Failed to find address added by container c2"
    plugin.delete(conf(), "c1", NETNS, "eth0", {})
    assert error_of(plugin.check, conf(), "c1", NETNS, "eth0", {}).code == 3
    assert error_of(Bridge().check, conf(), "c1", NETNS, "eth0", {}).code == 3


def test_exhausting_a_29_reports_host_locals_message() -> None:
    plugin = Bridge()
    for i in range(5):
        add(plugin, conf("10.244.1.0/29"), f"p{i}")
    err = error_of(add, plugin, conf("10.244.1.0/29"), "p5")
    assert err.to_dict() == {
        "cniVersion": "1.0.0",
        "code": 999,
        "msg": f"failed to allocate for range 0: {EXHAUSTED_29}",
        "details": "",
    }
    assert err.code >= 100


def test_a_second_add_for_the_same_container_is_refused() -> None:
    plugin = Bridge()
    add(plugin, conf(), "c1")
    err = error_of(add, plugin, conf(), "c1")
    assert err.msg == (
        "failed to allocate for range 0: "
        "10.244.1.2 has been allocated to c1, duplicate allocation is not allowed"
    )
    assert add(plugin, conf(), "c1", "net1")["ips"][0]["address"] == "10.244.1.3/24"


def test_dual_stack_ranges_give_one_address_and_default_route_per_family() -> None:
    config = conf()
    config["ipam"]["ranges"].append([{"subnet": "fd00:10:244:1::/64"}])
    result = add(Bridge(), config, "c1")
    assert result["ips"] == [
        {"address": "10.244.1.2/24", "gateway": "10.244.1.1", "interface": 0},
        {"address": "fd00:10:244:1::2/64", "gateway": "fd00:10:244:1::1", "interface": 0},
    ]
    assert result["routes"] == [
        {"dst": "0.0.0.0/0", "gw": "10.244.1.1"},
        {"dst": "::/0", "gw": "fd00:10:244:1::1"},
    ]


def test_a_failure_in_the_second_range_releases_the_first() -> None:
    plugin = Bridge()
    config = conf()
    config["ipam"]["ranges"].append([{"subnet": "10.244.9.0/30"}])
    add(plugin, config, "c1")
    err = error_of(add, plugin, config, "c2")
    assert (
        err.msg
        == "failed to allocate for range 1: no IP addresses available in range set: 10.244.9.1-10.244.9.2"
    )
    pool = plugin.pool("10.244.1.0/24")
    assert pool is not None
    assert pool.reserved() == [("10.244.1.2", "c1")]


def test_ipam_routes_dns_and_is_default_gateway_shape_the_result() -> None:
    config = conf(
        isDefaultGateway=False, dns={"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]}
    )
    config["ipam"]["routes"] = [{"dst": "10.96.0.0/12"}]
    result = add(Bridge(), config, "c1")
    assert result["routes"] == [{"dst": "10.96.0.0/12"}]
    assert result["dns"] == {"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]}
    result["dns"]["nameservers"].append("8.8.8.8")
    assert config["dns"]["nameservers"] == ["10.96.0.10"]


def test_old_style_single_subnet_and_range_options_are_honoured() -> None:
    config = conf()
    config["ipam"] = {
        "type": "host-local",
        "subnet": "10.244.3.0/24",
        "rangeStart": "10.244.3.100",
        "gateway": "10.244.3.254",
    }
    result = add(Bridge(), config, "c1")
    assert result["ips"] == [{"address": "10.244.3.100/24", "gateway": "10.244.3.254", "interface": 0}]


def test_a_config_is_not_mutated() -> None:
    config = conf()
    before = copy.deepcopy(config)
    plugin = Bridge()
    add(plugin, config, "c1")
    plugin.check(config, "c1", NETNS, "eth0", {})
    plugin.delete(config, "c1", NETNS, "eth0", {})
    assert config == before


def _without(key: str) -> dict[str, Any]:
    config = conf()
    del config[key]
    return config


def _ipam(ipam: dict[str, Any]) -> dict[str, Any]:
    return conf() | {"ipam": ipam}


BAD_CONFIGS = [
    ("old version", conf() | {"cniVersion": "0.4.0"}, 1, "incompatible CNI versions", '"0.4.0"'),
    ("no version", _without("cniVersion"), 1, "incompatible CNI versions", 'no "cniVersion"'),
    ("no ipam", _without("ipam"), 7, "IPAM config missing 'ipam' key", ""),
    ("unknown ipam", _ipam({"type": "dhcp"}), 7, 'failed to find plugin "dhcp"', ""),
    ("no ranges", _ipam({"type": "host-local"}), 7, "no IP ranges specified", ""),
    ("bad subnet", conf("10.244.1.0/33"), 7, "invalid CIDR address: 10.244.1.0/33", ""),
    ("garbage subnet", conf("cheese"), 7, "invalid CIDR address: cheese", ""),
    ("tiny subnet", conf("10.244.1.0/31"), 7, "invalid range set 0: Network 10.244.1.0/31 too small", ""),
    ("no name", _without("name"), 7, "missing network name", ""),
    ("wrong type", conf() | {"type": "macvlan"}, 7, 'network config type is "macvlan"', ""),
    (
        "overlap",
        _ipam(
            {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/16"}], [{"subnet": "10.244.1.0/24"}]]}
        ),
        7,
        "range set 0 overlaps with 1",
        "",
    ),
]


@pytest.mark.parametrize(
    ("config", "code", "msg", "details"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_configs_are_refused_on_every_verb(
    config: dict[str, Any], code: int, msg: str, details: str
) -> None:
    plugin = Bridge()
    for verb in (plugin.add, plugin.delete, plugin.check):
        err = error_of(verb, config, "c1", NETNS, "eth0", {})
        assert err.code == code
        assert err.msg.startswith(msg)
        assert details in err.details
        assert set(err.to_dict()) == {"cniVersion", "code", "msg", "details"}
    assert plugin.pools() == {}


@pytest.mark.parametrize(
    ("cid", "ifname", "code", "msg"),
    [
        ("", "eth0", 3, "missing containerID"),
        ("bad/id", "eth0", 4, "invalid characters in containerID"),
        ("-leading", "eth0", 4, "invalid characters in containerID"),
        ("c1", "", 4, "interface name is empty"),
        ("c1", "a-very-long-ifname", 4, "interface name is too long"),
        ("c1", "..", 4, "interface name is . or .."),
        ("c1", "eth0:1", 4, "interface name contains / or : or whitespace characters"),
    ],
)
def test_bad_container_ids_and_interface_names_use_libcnis_codes(
    cid: str, ifname: str, code: int, msg: str
) -> None:
    err = error_of(Bridge().add, conf(), cid, NETNS, ifname, {})
    assert (err.code, err.msg) == (code, msg)


def test_add_needs_a_netns_but_del_does_not() -> None:
    plugin = Bridge()
    err = error_of(plugin.add, conf(), "c1", "", "eth0", {})
    assert (err.code, err.msg) == (4, "required env variables [CNI_NETNS] missing")
    plugin.delete(conf(), "c1", "", "eth0", {})


def test_a_conflicting_range_on_a_used_subnet_is_refused() -> None:
    plugin = Bridge()
    add(plugin, conf(), "c1")
    config = conf()
    config["ipam"]["ranges"][0][0]["rangeStart"] = "10.244.1.100"
    err = error_of(add, plugin, config, "c2")
    assert err.code == ErrorCode.INVALID_NETWORK_CONFIG
    assert "conflicts with the range in use" in err.msg


def test_cni_error_prints_like_libcni() -> None:
    err = CniError(ErrorCode.TRY_AGAIN_LATER, "busy", "retry in a second")
    assert str(err) == "busy; retry in a second"
    assert err.to_dict() == {"cniVersion": "1.0.0", "code": 11, "msg": "busy", "details": "retry in a second"}
    assert str(CniError(100, "plugin specific")) == "plugin specific"
    assert [int(c) for c in ErrorCode] == [1, 2, 3, 4, 5, 6, 7, 11, 999]
