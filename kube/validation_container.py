"""Validation of containers and volumes inside a pod spec, worded as upstream's ``pkg/apis/core/validation``.

``validate_containers`` and ``validate_init_containers`` check the lists of a ``PodSpec`` (names, images,
ports, environment, volume mounts, pull policy, resources, probes, lifecycle hooks, host-port conflicts);
``validate_volumes`` checks ``spec.volumes`` and returns the names the mounts may refer to. The checks
expect the object to have been defaulted first (``kube.defaults``): an empty ``imagePullPolicy`` or
``terminationMessagePolicy`` is reported as ``Required value``, as upstream reports it.

Resource quantities are parsed with ``kube.quantity``; a string that does not parse is reported as
``Invalid value`` with the parser's message (upstream rejects it earlier, while decoding the request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube import quantity, validation
from kube import validation_fields as f
from kube.errors import FieldError, QuantityError

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
PROTOCOLS = ("SCTP", "TCP", "UDP")  # sorted, as sets.List prints them

# The volume sources in upstream's order, with the path upstream names when a second one is given (two of
# them carry upstream's own spelling).
VOLUME_SOURCES = (
    *("emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs"),
    *("iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte"),
    *("downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk"),
    *("portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image"),
)
_SECOND_SOURCE_PATH = {"cephfs": "cephFS", "downwardAPI": "downwarAPI"}
_REQUIRED_SOURCE_FIELD = {
    "secret": "secretName",
    "configMap": "name",
    "hostPath": "path",
    "persistentVolumeClaim": "claimName",
}

_STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
_STANDARD_RESOURCES = _STANDARD_CONTAINER_RESOURCES | frozenset(
    {
        *("requests.cpu", "requests.memory", "requests.ephemeral-storage", "requests.storage"),
        *("limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas"),
        *("services", "replicationcontrollers", "secrets", "persistentvolumeclaims", "configmaps"),
        *("services.nodeports", "services.loadbalancers"),
    }
)
_INTEGER_RESOURCES = frozenset(
    {
        *("pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps"),
        *("persistentvolumeclaims", "services.nodeports", "services.loadbalancers"),
    }
)


def validate_volumes(volumes: object, path: str) -> tuple[set[str], list[FieldError]]:
    """``ValidateVolumes``: each volume named (a DNS label, unique) with exactly one source."""
    names: set[str] = set()
    errs: list[FieldError] = []
    for i, volume in enumerate(f.items(volumes)):
        vol = f.mapping(volume)
        at = f.index(path, i)
        name = f.text(vol.get("name"))
        own = _validate_volume_source(vol, at)
        if not name:
            own.append(f.required(f.child(at, "name")))
        else:
            own.extend(f.validate_dns1123_label(name, f.child(at, "name")))
        if name in names:
            own.append(f.duplicate(f.child(at, "name"), name))
        if own:
            errs.extend(own)
        else:
            names.add(name)
    return names, errs


def _validate_volume_source(vol: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for source in VOLUME_SOURCES:
        if vol.get(source) is None:
            continue
        if count:
            at = f.child(path, _SECOND_SOURCE_PATH.get(source, source))
            errs.append(f.forbidden(at, "may not specify more than 1 volume type"))
            continue
        count += 1
        needed = _REQUIRED_SOURCE_FIELD.get(source)
        if needed and not f.text(f.mapping(vol.get(source)).get(needed)):
            errs.append(f.required(f.child(path, source, needed)))
    if not count:
        errs.append(f.required(path, "must specify a volume type"))
    return errs


def validate_containers(containers: object, volumes: set[str], path: str) -> list[FieldError]:
    """``validateContainers``: at least one, each valid, names unique, host ports not shared."""
    ctrs = [f.mapping(c) for c in f.items(containers)]
    if not ctrs:
        return [f.required(path)]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, ctr in enumerate(ctrs):
        at = f.index(path, i)
        errs.extend(_validate_container_common(ctr, volumes, at))
        name = f.text(ctr.get("name"))
        if name in names:
            errs.append(f.duplicate(f.child(at, "name"), name))
        else:
            names.add(name)
        if isinstance(ctr.get("lifecycle"), Mapping):
            errs.extend(_validate_lifecycle(f.mapping(ctr.get("lifecycle")), f.child(at, "lifecycle")))
        errs.extend(_validate_probes(ctr, at))
        if ctr.get("restartPolicy") is not None:
            errs.append(f.forbidden(f.child(at, "restartPolicy"), "may not be set for non-init containers"))
    errs.extend(_host_port_conflicts(ctrs, path))
    return errs


def validate_init_containers(
    containers: object, regular: object, volumes: set[str], path: str
) -> list[FieldError]:
    """``validateInitContainers``: names unique across init and regular containers; probes and lifecycle
    only for restartable (sidecar) init containers."""
    errs: list[FieldError] = []
    names = {f.text(f.mapping(c).get("name")) for c in f.items(regular)}
    for i, item in enumerate(f.items(containers)):
        ctr = f.mapping(item)
        at = f.index(path, i)
        errs.extend(_validate_container_common(ctr, volumes, at))
        restart = ctr.get("restartPolicy")
        if restart is not None and restart != "Always":
            errs.append(f.not_supported(f.child(at, "restartPolicy"), restart, ["Always"]))
        name = f.text(ctr.get("name"))
        if name in names:
            errs.append(f.duplicate(f.child(at, "name"), name))
        elif name:
            names.add(name)
        errs.extend(_host_port_conflicts([ctr], path))
        if restart == "Always":
            if isinstance(ctr.get("lifecycle"), Mapping):
                errs.extend(_validate_lifecycle(f.mapping(ctr.get("lifecycle")), f.child(at, "lifecycle")))
            errs.extend(_validate_probes(ctr, at))
        else:
            for hook in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(hook) is not None:
                    detail = "may not be set for init containers without restartPolicy=Always"
                    errs.append(f.forbidden(f.child(at, hook), detail))
    return errs


def validate_image_whitespace(containers: object, path: str) -> list[FieldError]:
    """``validateContainersOnlyForPod``: an image of a pod (not a template) has no edge whitespace."""
    errs: list[FieldError] = []
    for i, ctr in enumerate(f.items(containers)):
        image = f.text(f.mapping(ctr).get("image"))
        if image != image.strip():
            at = f.child(f.index(path, i), "image")
            errs.append(f.invalid(at, image, "must not have leading or trailing whitespace"))
    return errs


def _validate_container_common(ctr: Mapping[str, Any], volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = f.text(ctr.get("name"))
    if not name:
        errs.append(f.required(f.child(path, "name")))
    else:
        errs.extend(f.validate_dns1123_label(name, f.child(path, "name")))
    if not f.text(ctr.get("image")):
        errs.append(f.required(f.child(path, "image")))
    errs.extend(
        _enum(
            ctr.get("terminationMessagePolicy"),
            TERMINATION_MESSAGE_POLICIES,
            path,
            "terminationMessagePolicy",
        )
    )
    errs.extend(_validate_ports(ctr.get("ports"), f.child(path, "ports")))
    errs.extend(_validate_env(ctr.get("env"), f.child(path, "env")))
    errs.extend(_validate_volume_mounts(ctr.get("volumeMounts"), volumes, f.child(path, "volumeMounts")))
    errs.extend(_enum(ctr.get("imagePullPolicy"), PULL_POLICIES, path, "imagePullPolicy"))
    errs.extend(validate_resources(f.mapping(ctr.get("resources")), f.child(path, "resources")))
    return errs


def _enum(value: object, valid: tuple[str, ...], path: str, name: str) -> list[FieldError]:
    if value in valid:
        return []
    if not value:
        return [f.required(f.child(path, name))]
    return [f.not_supported(f.child(path, name), value, valid)]


def _validate_ports(ports: object, path: str) -> list[FieldError]:
    """``validateContainerPorts``."""
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, item in enumerate(f.items(ports)):
        port = f.mapping(item)
        at = f.index(path, i)
        name = f.text(port.get("name"))
        if name:
            msgs = f.is_valid_port_name(name)
            if msgs:
                errs.extend(f.invalid(f.child(at, "name"), name, m) for m in msgs)
            elif name in names:
                errs.append(f.duplicate(f.child(at, "name"), name))
            else:
                names.add(name)
        container_port = f.integer(port.get("containerPort")) or 0
        if container_port == 0:
            errs.append(f.required(f.child(at, "containerPort")))
        else:
            at_port = f.child(at, "containerPort")
            errs.extend(f.invalid(at_port, container_port, m) for m in f.is_valid_port_num(container_port))
        host_port = f.integer(port.get("hostPort")) or 0
        if host_port:
            errs.extend(
                f.invalid(f.child(at, "hostPort"), host_port, m) for m in f.is_valid_port_num(host_port)
            )
        errs.extend(_enum(port.get("protocol"), PROTOCOLS, at, "protocol"))
    return errs


def _host_port_conflicts(containers: list[Mapping[str, Any]], path: str) -> list[FieldError]:
    """``checkHostPortConflicts``: one ``protocol/hostIP/hostPort`` per pod."""
    seen: set[str] = set()
    errs: list[FieldError] = []
    for ci, ctr in enumerate(containers):
        for pi, item in enumerate(f.items(ctr.get("ports"))):
            port = f.mapping(item)
            host_port = f.integer(port.get("hostPort")) or 0
            if not host_port:
                continue
            entry = f"{f.text(port.get('protocol'))}/{f.text(port.get('hostIP'))}/{host_port}"
            if entry in seen:
                at = f.child(f.index(f.child(f.index(path, ci), "ports"), pi), "hostPort")
                errs.append(f.duplicate(at, entry))
            seen.add(entry)
    return errs


def _validate_env(env: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, item in enumerate(f.items(env)):
        name = f.text(f.mapping(item).get("name"))
        at = f.child(f.index(path, i), "name")
        if not name:
            errs.append(f.required(at))
        else:
            errs.extend(f.invalid(at, name, m) for m in f.is_relaxed_env_var_name(name))
    return errs


def _validate_volume_mounts(mounts: object, volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    mount_points: set[str] = set()
    for i, item in enumerate(f.items(mounts)):
        mount = f.mapping(item)
        at = f.index(path, i)
        name = f.text(mount.get("name"))
        mount_path = f.text(mount.get("mountPath"))
        if not name:
            errs.append(f.required(f.child(at, "name")))
        if name not in volumes:
            errs.append(f.not_found(f.child(at, "name"), name))
        if not mount_path:
            errs.append(f.required(f.child(at, "mountPath")))
        if mount_path in mount_points:
            errs.append(f.invalid(f.child(at, "mountPath"), mount_path, "must be unique"))
        mount_points.add(mount_path)
    return errs


def validate_resources(resources: Mapping[str, Any], path: str) -> list[FieldError]:
    """``ValidateContainerResourceRequirements``: names, quantities, and requests within limits."""
    errs: list[FieldError] = []
    lim_path, req_path = f.child(path, "limits"), f.child(path, "requests")
    limits: dict[str, quantity.Quantity] = {}
    for name, raw in f.mapping(resources.get("limits")).items():
        at = f.key(lim_path, name)
        errs.extend(_validate_container_resource_name(name, at))
        parsed, own = _quantity(name, raw, at)
        errs.extend(own)
        if parsed is not None:
            limits[name] = parsed
    for name, raw in f.mapping(resources.get("requests")).items():
        at = f.key(req_path, name)
        errs.extend(_validate_container_resource_name(name, at))
        parsed, own = _quantity(name, raw, at)
        errs.extend(own)
        if parsed is None:
            continue
        limit = limits.get(name)
        if limit is not None:
            if parsed != limit and not _overcommit_allowed(name):
                detail = f"must be equal to {name} limit of {limit}"
                errs.append(f.invalid(req_path, str(parsed), detail))
            elif parsed > limit:
                detail = f"must be less than or equal to {name} limit of {limit}"
                errs.append(f.invalid(req_path, str(parsed), detail))
        elif not _overcommit_allowed(name) and name not in f.mapping(resources.get("limits")):
            errs.append(f.required(lim_path, "Limit must be set for non overcommitable resources"))
    return errs


def _quantity(name: str, raw: object, path: str) -> tuple[quantity.Quantity | None, list[FieldError]]:
    try:
        parsed = quantity.parse(raw if isinstance(raw, str) else str(raw))
    except QuantityError as e:
        return None, [f.invalid(path, raw, str(e))]
    if parsed.sign() < 0:
        return parsed, [f.invalid(path, str(parsed), f.IS_NEGATIVE)]
    if _is_integer_resource(name) and parsed.nanos % 10**9:
        return parsed, [f.invalid(path, str(parsed), "must be an integer")]
    return parsed, []


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    if _is_native(name) or name.startswith("requests."):
        return False
    return not validation.is_qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


def _is_integer_resource(name: str) -> bool:
    return name in _INTEGER_RESOURCES or _is_extended(name)


def _validate_container_resource_name(name: str, path: str) -> list[FieldError]:
    """``validateContainerResourceName``: a standard container resource or a fully qualified one."""
    errs = f.validate_qualified_name(name, path)
    if errs:
        return errs
    standard_container = name in _STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-")
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not standard_container:
            errs.append(f.invalid(path, name, "must be a standard resource type or fully qualified"))
        if not standard_container:
            errs.append(f.invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and not _is_extended(name):
        errs.append(f.invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _validate_probes(ctr: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = ctr.get(kind)
        if not isinstance(probe, Mapping):
            continue
        at = f.child(path, kind)
        errs.extend(_validate_handler(probe, at, ("exec", "httpGet", "tcpSocket", "grpc")))
        for counter in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds"):
            errs.extend(f.validate_nonnegative(probe.get(counter), f.child(at, counter)))
        for counter in ("successThreshold", "failureThreshold"):
            errs.extend(f.validate_nonnegative(probe.get(counter), f.child(at, counter)))
        success = f.integer(probe.get("successThreshold"))
        if kind != "readinessProbe" and success is not None and success != 1:
            errs.append(f.invalid(f.child(at, "successThreshold"), success, "must be 1"))
    return errs


def _validate_lifecycle(lifecycle: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for hook in ("postStart", "preStop"):
        handler = lifecycle.get(hook)
        if isinstance(handler, Mapping):
            errs.extend(
                _validate_handler(handler, f.child(path, hook), ("exec", "httpGet", "tcpSocket", "sleep"))
            )
    return errs


def _validate_handler(handler: Mapping[str, Any], path: str, kinds: tuple[str, ...]) -> list[FieldError]:
    """``validateHandler``: exactly one action, and that action well-formed."""
    errs: list[FieldError] = []
    count = 0
    for kind in kinds:
        action = handler.get(kind)
        if not isinstance(action, Mapping):
            continue
        at = f.child(path, kind)
        if count:
            errs.append(f.forbidden(at, "may not specify more than 1 handler type"))
            continue
        count += 1
        if kind == "exec" and not f.items(action.get("command")):
            errs.append(f.required(f.child(at, "command")))
        if kind == "httpGet":
            if not f.text(action.get("path")):
                errs.append(f.required(f.child(at, "path")))
            errs.extend(validate_port_num_or_name(action.get("port"), f.child(at, "port")))
            scheme = action.get("scheme")
            if scheme not in ("HTTP", "HTTPS"):
                errs.append(f.not_supported(f.child(at, "scheme"), scheme or "", ["HTTP", "HTTPS"]))
        if kind in ("tcpSocket", "grpc"):
            errs.extend(validate_port_num_or_name(action.get("port"), f.child(at, "port")))
    if not count:
        errs.append(f.required(path, "must specify a handler type"))
    return errs


def validate_port_and_protocol(port: Mapping[str, Any], path: str) -> list[FieldError]:
    """``port`` (1-65535) and ``protocol`` (required, one of ``PROTOCOLS``) of a Service or Endpoints port."""
    errs: list[FieldError] = []
    number = f.integer(port.get("port")) or 0
    errs.extend(f.invalid(f.child(path, "port"), number, m) for m in f.is_valid_port_num(number))
    protocol = port.get("protocol")
    if not protocol:
        errs.append(f.required(f.child(path, "protocol")))
    elif protocol not in PROTOCOLS:
        errs.append(f.not_supported(f.child(path, "protocol"), protocol, PROTOCOLS))
    return errs


def validate_port_num_or_name(port: object, path: str) -> list[FieldError]:
    """``ValidatePortNumOrName`` on an ``IntOrString``."""
    if isinstance(port, str):
        return [f.invalid(path, port, m) for m in f.is_valid_port_name(port)]
    number = f.integer(port) or 0
    return [f.invalid(path, number, m) for m in f.is_valid_port_num(number)]
