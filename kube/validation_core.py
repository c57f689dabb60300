"""Validation of the smaller core/v1 kinds, worded as upstream's ``pkg/apis/core/validation``.

Namespaces (``spec.finalizers``), ConfigMaps and Secrets (keys, size, typed secrets, immutability), Nodes
(taints, quantities, fields fixed once set) and Endpoints (addresses and ports). Each function returns the
errors of the spec part; object metadata is checked by ``kube.validate``. Pods live in
``kube.validation_pod``, Services in ``kube.validation_service``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from typing import Any

from kube import quantity, validation
from kube import validation_container as vc
from kube import validation_fields as f
from kube.errors import FieldError, FieldErrorType, QuantityError

MAX_SECRET_SIZE = 1024 * 1024
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_finalizer_name(name: str, path: str) -> list[FieldError]:
    """``validateKubeFinalizerName``: an unqualified finalizer must be one Kubernetes knows."""
    if "/" not in name and name not in STANDARD_FINALIZERS:
        return [f.invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")]
    return []


def validate_namespace(namespace: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateNamespace`` (without metadata): every ``spec.finalizers`` entry a valid finalizer name."""
    errs: list[FieldError] = []
    for name in f.items(f.mapping(namespace.get("spec")).get("finalizers")):
        value = f.text(name)
        errs.extend(f.invalid("spec.finalizers", value, m) for m in validation.is_qualified_name(value))
        errs.extend(validate_finalizer_name(value, "spec.finalizers"))
    return errs


def validate_config_map(config_map: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateConfigMap``: keys valid, no key in both ``data`` and ``binaryData``, at most 1 MiB."""
    errs: list[FieldError] = []
    data, binary = f.mapping(config_map.get("data")), f.mapping(config_map.get("binaryData"))
    size = 0
    for k, v in data.items():
        if problems := f.is_config_map_key(k):
            errs.extend(f.invalid(f.key("data", k), k, m) for m in problems)
        if k in binary:
            errs.append(f.invalid(f.key("data", k), k, "duplicate of key present in binaryData"))
        size += len(v.encode()) if type(v) is str else len(f.text(v).encode())
    for k, v in binary.items():
        errs.extend(f.invalid(f.key("binaryData", k), k, m) for m in f.is_config_map_key(k))
        size += _decoded_size(v)
    if size > MAX_SECRET_SIZE:
        errs.append(f.too_long("", MAX_SECRET_SIZE))
    return errs


def validate_config_map_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    return _immutable_data(new, old, ("data", "binaryData")) + validate_config_map(new)


def validate_secret(secret: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateSecret``: keys valid, at most 1 MiB, and the keys each secret type needs."""
    errs: list[FieldError] = []
    data = f.mapping(secret.get("data"))
    size = 0
    for k, v in data.items():
        errs.extend(f.invalid(f.key("data", k), k, m) for m in f.is_config_map_key(k))
        size += _decoded_size(v)
    if size > MAX_SECRET_SIZE:
        errs.append(f.too_long("data", MAX_SECRET_SIZE))
    secret_type = f.text(secret.get("type"))
    if secret_type == "kubernetes.io/service-account-token":
        annotations = f.mapping(f.mapping(secret.get("metadata")).get("annotations"))
        if not f.text(annotations.get("kubernetes.io/service-account.name")):
            errs.append(f.required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.extend([f.required("data[username]"), f.required("data[password]")])
    elif secret_type == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(f.required("data[ssh-privatekey]"))
    else:
        errs.extend(
            f.required(f.key("data", k)) for k in _SECRET_REQUIRED_KEYS.get(secret_type, ()) if k not in data
        )
    return errs


def validate_secret_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    errs = f.validate_immutable(new.get("type"), old.get("type"), "type")
    return errs + _immutable_data(new, old, ("data",)) + validate_secret(new)


def _immutable_data(
    new: Mapping[str, Any], old: Mapping[str, Any], fields: tuple[str, ...]
) -> list[FieldError]:
    if old.get("immutable") is not True:
        return []
    errs: list[FieldError] = []
    if new.get("immutable") is not True:
        errs.append(f.forbidden("immutable", "field is immutable when `immutable` is set"))
    for name in fields:
        if not f.semantic_equal(new.get(name), old.get(name)):
            errs.append(f.forbidden(name, "field is immutable when `immutable` is set"))
    return errs


def _decoded_size(value: object) -> int:
    raw = f.text(value)
    try:
        return len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return len(raw)


def validate_node(node: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateNode``: taints (at upstream's ``metadata.taints`` path) and resource quantities."""
    errs = _validate_taints(f.mapping(node.get("spec")).get("taints"), "metadata.taints")
    status = f.mapping(node.get("status"))
    for list_name in ("capacity", "allocatable"):
        for name, raw in f.mapping(status.get(list_name)).items():
            at = f.child("status", list_name, name)
            try:
                parsed = quantity.parse(raw if isinstance(raw, str) else str(raw))
            except QuantityError as e:
                errs.append(f.invalid(at, raw, str(e)))
                continue
            if parsed.sign() < 0:
                errs.append(f.invalid(at, str(parsed), f.IS_NEGATIVE))
    return errs


def validate_node_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateNodeUpdate``: ``podCIDRs`` and ``providerID`` may only go from unset to set."""
    new_spec, old_spec = f.mapping(new.get("spec")), f.mapping(old.get("spec"))
    errs = validate_node(new)
    old_cidrs, new_cidrs = f.items(old_spec.get("podCIDRs")), f.items(new_spec.get("podCIDRs"))
    if old_cidrs and old_cidrs != new_cidrs:
        errs.append(
            f.forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')
        )
    old_provider = f.text(old_spec.get("providerID"))
    if old_provider and old_provider != f.text(new_spec.get("providerID")):
        detail = 'node updates may not change providerID except from "" to valid'
        errs.append(f.forbidden("spec.providerID", detail))
    return errs


def _validate_taints(taints: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(f.items(taints)):
        taint = f.mapping(item)
        at = f.index(path, i)
        taint_key, value, effect = (f.text(taint.get(k)) for k in ("key", "value", "effect"))
        errs.extend(f.validate_qualified_name(taint_key, f.child(at, "key")))
        msgs = validation.is_valid_label_value(value)
        if msgs:
            errs.append(f.invalid(f.child(at, "value"), value, ";".join(msgs)))
        if not effect:
            errs.append(f.required(f.child(at, "effect")))
        elif effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(
                f.not_supported(
                    f.child(at, "effect"), effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]
                )
            )
        if (effect, taint_key) in seen:
            struct = {"key": taint_key, "value": value, "effect": effect}
            errs.append(
                FieldError(
                    field=at,
                    type=FieldErrorType.DUPLICATE,
                    bad_value=f.Rendered(f.go_json(struct, sort_keys=False)),
                    detail="taints must be unique by key and effect pair",
                )
            )
            continue
        seen.add((effect, taint_key))
    return errs


def validate_endpoints(endpoints: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateEndpoints``: every subset has addresses (valid, not special IPs) and well-formed ports."""
    errs: list[FieldError] = []
    for i, item in enumerate(f.items(endpoints.get("subsets"))):
        subset = f.mapping(item)
        at = f.index("subsets", i)
        addresses, not_ready = f.items(subset.get("addresses")), f.items(subset.get("notReadyAddresses"))
        if not addresses and not not_ready:
            errs.append(f.required(at, "must specify `addresses` or `notReadyAddresses`"))
        for name, group in (("addresses", addresses), ("notReadyAddresses", not_ready)):
            for j, address in enumerate(group):
                errs.extend(_validate_endpoint_address(f.mapping(address), f.index(f.child(at, name), j)))
        ports = [f.mapping(p) for p in f.items(subset.get("ports"))]
        for j, port in enumerate(ports):
            errs.extend(_validate_endpoint_port(port, len(ports) > 1, f.index(f.child(at, "ports"), j)))
    return errs


_GOOD_ENDPOINT_IPS: set[str] = set()  # addresses found valid and not special (the same ones come back
_GOOD_ENDPOINT_IPS_MAX = 1 << 16  # on every update of an Endpoints object: parse each once, not each time)


def _validate_endpoint_address(address: Mapping[str, Any], path: str) -> list[FieldError]:
    ip = f.text(address.get("ip"))
    known = ip in _GOOD_ENDPOINT_IPS
    errs = [] if known else f.is_valid_ip(f.child(path, "ip"), ip)
    hostname = f.text(address.get("hostname"))
    if hostname:
        errs.extend(f.validate_dns1123_label(hostname, f.child(path, "hostname")))
    node_name = address.get("nodeName")
    if node_name is not None:
        value = f.text(node_name)
        errs.extend(
            f.invalid(f.child(path, "nodeName"), value, m) for m in validation.is_dns1123_subdomain(value)
        )
    if not known:
        special = _non_special_ip(ip, f.child(path, "ip"))
        if not errs and not special:
            if len(_GOOD_ENDPOINT_IPS) >= _GOOD_ENDPOINT_IPS_MAX:
                _GOOD_ENDPOINT_IPS.clear()
            _GOOD_ENDPOINT_IPS.add(ip)
        errs.extend(special)
    return errs


def _non_special_ip(ip: str, path: str) -> list[FieldError]:
    """``ValidateNonSpecialIP``: no unspecified, loopback or link-local addresses."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return [f.invalid(path, ip, "must be a valid IP address")]
    errs: list[FieldError] = []
    if address.is_unspecified:
        errs.append(f.invalid(path, ip, f"may not be unspecified ({ip})"))
    if address.is_loopback:
        errs.append(f.invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if address.is_link_local:
        errs.append(f.invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if address in ipaddress.ip_network("224.0.0.0/24") or address in ipaddress.ip_network("ff02::/16"):
        errs.append(
            f.invalid(path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        )
    return errs


def _validate_endpoint_port(port: Mapping[str, Any], require_name: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = f.text(port.get("name"))
    if require_name and not name:
        errs.append(f.required(f.child(path, "name")))
    elif name:
        errs.extend(f.validate_dns1123_label(name, f.child(path, "name")))
    errs.extend(vc.validate_port_and_protocol(port, path))
    return errs
