"""Validation of Services, worded as upstream's ``pkg/apis/core/validation`` (``ValidateService``,
``ValidateServiceUpdate`` and the cluster-IP helpers).

A Service needs ports (unless headless or ``ExternalName``), each with a valid number, protocol and target
port, named when there are several, names unique; a known type, session affinity and traffic policies;
``clusterIP`` and ``clusterIPs`` in step, valid addresses, at most one per family, matching
``ipFamilies``. On update the primary cluster IP and IP family may not change once set (the secondary may
be added or released). Node-port and cluster-IP ranges are the allocators' business, as upstream; the
Service is expected to be defaulted (``kube.defaults``) and allocated before it is validated. Object
metadata is checked by ``kube.validate``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from kube import validation
from kube import validation_container as vc
from kube import validation_fields as f
from kube.errors import FieldError

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")  # sorted, as upstream prints them
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")


def is_headless(service: Mapping[str, Any]) -> bool:
    ips = f.items(f.mapping(service.get("spec")).get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


def validate_service(service: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateService`` (without metadata)."""
    spec = f.mapping(service.get("spec"))
    svc_type = spec.get("type")
    ports = [f.mapping(p) for p in f.items(spec.get("ports"))]
    headless = is_headless(service)
    errs: list[FieldError] = []
    if not ports and not headless and svc_type != "ExternalName":
        errs.append(f.required("spec.ports"))
    if svc_type in ("LoadBalancer", "NodePort") and headless:
        detail = f"may not be set to 'None' for {svc_type} services"
        errs.append(f.invalid("spec.clusterIPs[0]", "None", detail))
    elif svc_type == "ExternalName":
        errs.extend(_validate_external_name(spec))
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs.extend(_validate_service_port(port, len(ports) > 1, names, f.index("spec.ports", i)))
    selector = {str(k): f.text(v) for k, v in f.mapping(spec.get("selector")).items()}
    errs.extend(validation.validate_labels(selector, "spec.selector"))
    affinity = spec.get("sessionAffinity")
    if not affinity:
        errs.append(f.required("spec.sessionAffinity"))
    elif affinity not in SESSION_AFFINITIES:
        errs.append(f.not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(
            f.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")
        )
    errs.extend(_validate_cluster_ips(spec, headless))
    for i, ip in enumerate(f.items(spec.get("externalIPs"))):
        errs.extend(f.is_valid_ip(f.index("spec.externalIPs", i), f.text(ip)))
    if not svc_type:
        errs.append(f.required("spec.type"))
    elif svc_type not in SERVICE_TYPES:
        errs.append(f.not_supported("spec.type", svc_type, SERVICE_TYPES))
    if svc_type == "ClusterIP":
        for i, port in enumerate(ports):
            if f.integer(port.get("nodePort")):
                at = f.child(f.index("spec.ports", i), "nodePort")
                errs.append(f.forbidden(at, "may not be used when `type` is 'ClusterIP'"))
    errs.extend(_duplicate_ports(ports))
    if spec.get("allocateLoadBalancerNodePorts") is not None and svc_type != "LoadBalancer":
        detail = "may only be used when `type` is 'LoadBalancer'"
        errs.append(f.forbidden("spec.allocateLoadBalancerNodePorts", detail))
    if svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(f.required("allocateLoadBalancerNodePorts"))  # upstream's path, without "spec."
    errs.extend(_validate_traffic_policies(spec))
    return errs


def validate_service_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateServiceUpdate``: cluster IPs and IP families fixed once set, then the whole service."""
    new_spec, old_spec = f.mapping(new.get("spec")), f.mapping(old.get("spec"))
    errs: list[FieldError] = []
    external = "ExternalName" in (new_spec.get("type"), old_spec.get("type"))
    if not external and not (is_headless(new) and is_headless(old)):
        errs.extend(_fixed_once_set(new_spec, old_spec, "clusterIPs", "primary clusterIP can not be unset"))
    if not external and is_headless(new) == is_headless(old) and not is_headless(new):
        errs.extend(_fixed_once_set(new_spec, old_spec, "ipFamilies", "primary ipFamily can not be unset"))
    both_checked = _needs_health_check(new_spec) and _needs_health_check(old_spec)
    if both_checked and new_spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort"):
        errs.append(f.forbidden("spec.healthCheckNodePort", "field is immutable"))
    return errs + validate_service(new)


def _needs_health_check(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _fixed_once_set(
    new: Mapping[str, Any], old: Mapping[str, Any], name: str, unset: str
) -> list[FieldError]:
    """``validateUpgradeDowngradeClusterIPs`` / ``...IPFamilies``: the primary entry may not change."""
    new_values, old_values = f.items(new.get(name)), f.items(old.get(name))
    at = f.index(f.child("spec", name), 0)
    errs: list[FieldError] = []
    if len(new_values) == len(old_values):
        for i, value in enumerate(old_values):
            if value != new_values[i]:
                path = f.index(f.child("spec", name), i) if name == "clusterIPs" else at
                errs.append(f.invalid(path, new_values, "may not change once set"))
    elif len(new_values) < len(old_values):
        if not new_values:
            errs.append(f.invalid(at, new_values, unset))
        elif new_values[0] != old_values[0]:
            errs.append(f.invalid(at, new_values, "may not change once set"))
        if len(new_values) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            what = "clusterIP" if name == "clusterIPs" else "ipFamily"
            detail = f"must be set to 'SingleStack' when releasing the secondary {what}"
            errs.append(f.invalid("spec.ipFamilyPolicy", new.get("ipFamilyPolicy"), detail))
    elif old_values and new_values[0] != old_values[0]:
        errs.append(f.invalid(at, new_values, "may not change once set"))
    return errs


def _validate_external_name(spec: Mapping[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for name in ("clusterIPs", "ipFamilies"):
        if f.items(spec.get(name)):
            errs.append(f.forbidden(f.child("spec", name), "may not be set for ExternalName services"))
    if spec.get("ipFamilyPolicy") is not None:
        errs.append(f.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
    cname = f.text(spec.get("externalName")).removesuffix(".")
    if cname:
        errs.extend(f.validate_dns1123_subdomain(cname, "spec.externalName"))
    else:
        errs.append(f.required("spec.externalName"))
    return errs


def _validate_service_port(
    port: Mapping[str, Any], require_name: bool, names: set[str], path: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    name = f.text(port.get("name"))
    if require_name and not name:
        errs.append(f.required(f.child(path, "name")))
    elif name:
        errs.extend(f.validate_dns1123_label(name, f.child(path, "name")))
        if name in names:
            errs.append(f.duplicate(f.child(path, "name"), name))
        names.add(name)
    errs.extend(vc.validate_port_and_protocol(port, path))
    errs.extend(vc.validate_port_num_or_name(port.get("targetPort"), f.child(path, "targetPort")))
    app_protocol = port.get("appProtocol")
    if app_protocol is not None:
        errs.extend(f.validate_qualified_name(f.text(app_protocol), f.child(path, "appProtocol")))
    return errs


def _duplicate_ports(ports: list[Mapping[str, Any]]) -> list[FieldError]:
    """Node ports unique per protocol, and service ports unique per protocol (upstream prints the key)."""
    errs: list[FieldError] = []
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = f.integer(port.get("nodePort")) or 0
        if node_port:
            entry = (f.text(port.get("protocol")), node_port)
            if entry in node_ports:
                errs.append(f.duplicate(f.child(f.index("spec.ports", i), "nodePort"), node_port))
            node_ports.add(entry)
    seen: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        entry = (f.text(port.get("protocol")), f.integer(port.get("port")) or 0)
        if entry in seen:
            struct = {"Name": "", "Protocol": entry[0], "AppProtocol": None, "Port": entry[1]}
            struct |= {"TargetPort": 0, "NodePort": 0}
            errs.append(f.duplicate(f.index("spec.ports", i), f.Rendered(f.go_json(struct, sort_keys=False))))
        seen.add(entry)
    return errs


def _validate_cluster_ips(spec: Mapping[str, Any], headless: bool) -> list[FieldError]:
    """``ValidateServiceClusterIPsRelatedFields``."""
    if spec.get("type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    cluster_ip = f.text(spec.get("clusterIP"))
    ips = [f.text(ip) for ip in f.items(spec.get("clusterIPs"))]
    if cluster_ip:
        if not ips:
            errs.append(f.required("spec.clusterIPs"))
        elif ips[0] != cluster_ip:
            errs.append(f.invalid("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    elif ips:
        errs.append(f.invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified"))
    families = [f.text(x) for x in f.items(spec.get("ipFamilies"))]
    for i, family in enumerate(families):
        if family not in IP_FAMILIES:
            errs.append(f.not_supported(f.index("spec.ipFamilies", i), family, IP_FAMILIES))
        if family in families[:i]:
            errs.append(f.duplicate(f.index("spec.ipFamilies", i), family))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(f.not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    bad_ips = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad_ips = True
                errs.append(f.invalid("spec.clusterIPs", ips, "'None' must be the first and only value"))
            continue
        own = f.is_valid_ip(f.index("spec.clusterIPs", i), ip)
        bad_ips = bad_ips or bool(own)
        errs.extend(own)
    if len(ips) > 2:
        errs.append(f.invalid("spec.clusterIPs", ips, "may only hold up to 2 values"))
    if bad_ips:
        return errs
    if len(ips) > 1 and len({ipaddress.ip_address(ip).version for ip in ips}) != len(ips):
        errs.append(f.invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family"))
    if not headless:
        for i, (ip, family) in enumerate(zip(ips, families, strict=False)):
            version = ipaddress.ip_address(ip).version
            if family in IP_FAMILIES and version != (4 if family == "IPv4" else 6):
                detail = f"expected an {family} value as indicated by `ipFamilies[{i}]`"
                errs.append(f.invalid(f.index("spec.clusterIPs", i), ip, detail))
    return errs


def _validate_traffic_policies(spec: Mapping[str, Any]) -> list[FieldError]:
    svc_type = spec.get("type")
    external_policy = spec.get("externalTrafficPolicy") or ""
    errs: list[FieldError] = []
    externally_accessible = svc_type in ("LoadBalancer", "NodePort") or (
        svc_type == "ClusterIP" and bool(f.items(spec.get("externalIPs")))
    )
    if not externally_accessible:
        if external_policy:
            detail = "may only be set for externally-accessible services"
            errs.append(f.invalid("spec.externalTrafficPolicy", external_policy, detail))
    elif not external_policy:
        errs.append(f.required("spec.externalTrafficPolicy"))
    elif external_policy not in TRAFFIC_POLICIES:
        errs.append(f.not_supported("spec.externalTrafficPolicy", external_policy, TRAFFIC_POLICIES))
    health_port = f.integer(spec.get("healthCheckNodePort")) or 0
    if not _needs_health_check(spec):
        if health_port:
            detail = "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
            errs.append(f.invalid("spec.healthCheckNodePort", health_port, detail))
    elif not health_port:
        errs.append(f.required("spec.healthCheckNodePort"))
    else:
        errs.extend(
            f.invalid("spec.healthCheckNodePort", health_port, m) for m in f.is_valid_port_num(health_port)
        )
    internal = spec.get("internalTrafficPolicy")
    if internal is None and svc_type in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(f.required("spec.internalTrafficPolicy"))
    if internal is not None and internal not in TRAFFIC_POLICIES:
        errs.append(f.not_supported("spec.internalTrafficPolicy", internal, TRAFFIC_POLICIES))
    return errs
