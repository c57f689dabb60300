"""Table printers of the core group (``/api/v1``): nodes, services, endpoints, namespaces, events,
config maps, secrets, service accounts and persistent volume claims.

Columns and cells follow upstream's ``pkg/printers/internalversion/printers.go`` (Kubernetes 1.32); pods
have their own module, ``printers_pods``. A node's STATUS is ``Ready``/``NotReady``/``Unknown`` from its
``Ready`` condition, plus ``SchedulingDisabled`` when cordoned; ROLES come from its
``node-role.kubernetes.io/<role>`` labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.apiserver.printers_common import (
    AGE,
    NAME,
    Column,
    Printer,
    age,
    condition_status,
    field,
    format_labels,
    int_or,
    items,
    name_of,
    quantity_string,
    since,
)

_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
_NODE_ROLE_LABEL = "kubernetes.io/role"

# ---------------------------------------------------------------------------------------------------------
# nodes

_NODE_ADDRESSES = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/concepts/nodes/node/#addresses Note: This field is declared as mergeable, "
    "but the merge key is not sufficiently unique, which can cause data corruption when it is merged. "
    "Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. "
    "Consumers should assume that addresses can change during the lifetime of a Node. However, there are "
    "some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own "
    "status or consumers of the downward API (status.hostIP)."
)
_NODE_COLUMNS = (
    NAME,
    Column(name="Status", description="The status of the node"),
    Column(name="Roles", description="The roles of the node"),
    AGE,
    Column(name="Version", description="Kubelet Version reported by the node."),
    Column(name="Internal-IP", priority=1, description=_NODE_ADDRESSES),
    Column(name="External-IP", priority=1, description=_NODE_ADDRESSES),
    Column(
        name="OS-Image",
        priority=1,
        description="OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    ),
    Column(
        name="Kernel-Version",
        priority=1,
        description="Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    ),
    Column(
        name="Container-Runtime",
        priority=1,
        description="ContainerRuntime Version reported by the node through runtime remote API "
        "(e.g. containerd://1.4.2).",
    ),
)


def node_roles(node: Mapping[str, Any]) -> list[str]:
    """Sorted roles from ``node-role.kubernetes.io/<role>`` labels and the ``kubernetes.io/role`` label."""
    roles = set()
    for key, value in (field(node, "metadata", "labels") or {}).items():
        if key.startswith(_NODE_ROLE_PREFIX) and key[len(_NODE_ROLE_PREFIX) :]:
            roles.add(key[len(_NODE_ROLE_PREFIX) :])
        elif key == _NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _node_address(node: Mapping[str, Any], type_: str) -> str:
    for address in items(node, "status", "addresses"):
        if address.get("type") == type_:
            return str(address.get("address") or "")
    return "<none>"


def _node_cells(node: Mapping[str, Any], now: float) -> list[Any]:
    ready = condition_status(items(node, "status", "conditions"), "Ready")
    status = ["Unknown" if ready is None else "Ready" if ready == "True" else "NotReady"]
    if field(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    info = field(node, "status", "nodeInfo") or {}
    return [
        name_of(node),
        ",".join(status),
        ",".join(node_roles(node)) or "<none>",
        age(node, now),
        info.get("kubeletVersion") or "",
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


# ---------------------------------------------------------------------------------------------------------
# services and endpoints

_SERVICE_COLUMNS = (
    NAME,
    Column(
        name="Type",
        description="type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
        "ExternalName, ClusterIP, NodePort, and LoadBalancer.",
    ),
    Column(
        name="Cluster-IP",
        description="clusterIP is the IP address of the service and is usually assigned randomly.",
    ),
    Column(
        name="External-IP",
        description="externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
        "traffic for this service.  These IPs are not managed by Kubernetes.",
    ),
    Column(name="Port(s)", description="The list of ports that are exposed by this service."),
    AGE,
    Column(
        name="Selector",
        priority=1,
        description="Route service traffic to pods with label keys and values matching this selector.",
    ),
)


def _external_ip(service: Mapping[str, Any], type_: str) -> str:
    """``getServiceExternalIP`` as printed wide (the server never clips load balancer addresses)."""
    external_ips = [str(ip) for ip in items(service, "spec", "externalIPs")]
    if type_ in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) or "<none>"
    if type_ == "LoadBalancer":
        ingress = items(service, "status", "loadBalancer", "ingress")
        lb_ips = sorted(
            {str(i.get("ip") or i.get("hostname")) for i in ingress if i.get("ip") or i.get("hostname")}
        )
        if external_ips:
            return ",".join(lb_ips + external_ips)
        return ",".join(lb_ips) or "<pending>"
    if type_ == "ExternalName":
        return str(field(service, "spec", "externalName") or "")
    return "<unknown>"


def _service_cells(service: Mapping[str, Any], now: float) -> list[Any]:
    spec = service.get("spec") or {}
    type_ = str(spec.get("type") or "ClusterIP")
    cluster_ips = items(spec, "clusterIPs")
    cluster_ip = (cluster_ips[0] if cluster_ips else spec.get("clusterIP")) or "<none>"
    ports = []
    for port in items(spec, "ports"):
        protocol = port.get("protocol") or "TCP"
        node_port = int_or(port.get("nodePort"))
        number = int_or(port.get("port"))
        ports.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return [
        name_of(service),
        type_,
        cluster_ip,
        _external_ip(service, type_),
        ",".join(ports) or "<none>",
        age(service, now),
        format_labels(spec.get("selector")),
    ]


def _join_host_port(host: str, port: int) -> str:
    """``net.JoinHostPort``: IPv6 addresses in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_endpoints(endpoints: Mapping[str, Any]) -> str:
    """``formatEndpoints``: up to three ``ip:port`` (or bare IPs when a subset has no ports), then a count."""
    subsets = items(endpoints, "subsets")
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [str(a.get("ip") or "") for a in items(subset, "addresses")]
        ports = items(subset, "ports")
        if not ports:
            count += len(addresses)
            shown.extend(addresses[: max(0, 3 - len(shown))])
            continue
        for port in ports:
            count += len(addresses)
            room = max(0, 3 - len(shown))
            shown.extend(_join_host_port(ip, int_or(port.get("port"))) for ip in addresses[:room])
    if count > 3:
        return f"{','.join(shown)} + {count - 3} more..."
    return ",".join(shown)


def _endpoints_cells(endpoints: Mapping[str, Any], now: float) -> list[Any]:
    return [name_of(endpoints), format_endpoints(endpoints), age(endpoints, now)]


# ---------------------------------------------------------------------------------------------------------
# events

_EVENT_COLUMNS = (
    Column(
        name="Last Seen",
        description="The time at which the most recent occurrence of this event was recorded.",
    ),
    Column(
        name="Type",
        description="Type of this event (Normal, Warning), new types could be added in the future",
    ),
    Column(
        name="Reason",
        description="This should be a short, machine understandable string that gives the reason for the "
        "transition into the object's current status.",
    ),
    Column(name="Object", description="The object that this event is about."),
    Column(
        name="Subobject",
        priority=1,
        description="If referring to a piece of an object instead of an entire object, this string should "
        "contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
    ),
    Column(
        name="Source",
        priority=1,
        description="The component reporting this event. Should be a short machine understandable string.",
    ),
    Column(name="Message", description="A human-readable description of the status of this operation."),
    Column(
        name="First Seen",
        priority=1,
        description="The time at which the event was first recorded. "
        "(Time of server receipt is in TypeMeta.)",
    ),
    Column(name="Count", priority=1, description="The number of times this event has occurred."),
    Column(name="Name", priority=1, format="name", description=NAME.description),
)


def _event_cells(event: Mapping[str, Any], now: float) -> list[Any]:
    first = since(event.get("firstTimestamp") or event.get("eventTime"), now)
    last = since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first
    count = int_or(event.get("count"))
    series = event.get("series")
    if series is not None:
        last = since(series.get("lastObservedTime"), now)
        count = int_or(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the events.k8s.io API carry no count
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return [
        last,
        event.get("type") or "",
        event.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        f"{component}, {host}" if host else component,
        str(event.get("message") or "").strip(),
        first,
        count,
        name_of(event),
    ]


# ---------------------------------------------------------------------------------------------------------
# namespaces, config maps, secrets, service accounts, persistent volume claims


def _namespace_cells(namespace: Mapping[str, Any], now: float) -> list[Any]:
    return [name_of(namespace), field(namespace, "status", "phase") or "Active", age(namespace, now)]


def _config_map_cells(config_map: Mapping[str, Any], now: float) -> list[Any]:
    data = len(config_map.get("data") or {}) + len(config_map.get("binaryData") or {})
    return [name_of(config_map), data, age(config_map, now)]


def _secret_cells(secret: Mapping[str, Any], now: float) -> list[Any]:
    return [name_of(secret), secret.get("type") or "Opaque", len(secret.get("data") or {}), age(secret, now)]


def _service_account_cells(account: Mapping[str, Any], now: float) -> list[Any]:
    return [name_of(account), len(account.get("secrets") or []), age(account, now)]


_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: list[Any]) -> str:
    """``GetAccessModesAsString``: ``RWO,ROX,RWX,RWOP`` in that fixed order, each once."""
    return ",".join(short for mode, short in _ACCESS_MODES if mode in modes)


def _claim_cells(claim: Mapping[str, Any], now: float) -> list[Any]:
    spec, status = claim.get("spec") or {}, claim.get("status") or {}
    phase = "Terminating" if field(claim, "metadata", "deletionTimestamp") else status.get("phase") or ""
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes(items(status, "accessModes"))
        capacity = quantity_string(field(status, "capacity", "storage"))
    annotations = field(claim, "metadata", "annotations") or {}
    storage_class = annotations.get(
        "volume.beta.kubernetes.io/storage-class", spec.get("storageClassName") or ""
    )
    return [
        name_of(claim),
        phase,
        spec.get("volumeName") or "",
        capacity,
        modes,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        age(claim, now),
        spec.get("volumeMode") or "<unset>",
    ]


_CLAIM_COLUMNS = (
    NAME,
    Column(name="Status", description="phase represents the current phase of PersistentVolumeClaim."),
    Column(
        name="Volume",
        description="volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    Column(name="Capacity", description="capacity represents the actual resources of the underlying volume."),
    Column(
        name="Access Modes",
        description="accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    Column(name="StorageClass", description="StorageClass of the pvc"),
    Column(name="VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
    AGE,
    Column(
        name="VolumeMode",
        priority=1,
        description="volumeMode defines what type of volume is required by the claim. Value of Filesystem is "
        "implied when not included in claim spec.",
    ),
)

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "nodes"): Printer(columns=_NODE_COLUMNS, cells=_node_cells),
    ("", "services"): Printer(columns=_SERVICE_COLUMNS, cells=_service_cells),
    ("", "endpoints"): Printer(
        columns=(
            NAME,
            Column(name="Endpoints", description="The set of all endpoints is the union of all subsets."),
            AGE,
        ),
        cells=_endpoints_cells,
    ),
    ("", "events"): Printer(columns=_EVENT_COLUMNS, cells=_event_cells),
    ("", "namespaces"): Printer(
        columns=(NAME, Column(name="Status", description="The status of the namespace"), AGE),
        cells=_namespace_cells,
    ),
    ("", "configmaps"): Printer(
        columns=(NAME, Column(name="Data", description="Data contains the configuration data."), AGE),
        cells=_config_map_cells,
    ),
    ("", "secrets"): Printer(
        columns=(
            NAME,
            Column(name="Type", description="Used to facilitate programmatic handling of secret data."),
            Column(name="Data", description="Data contains the secret data."),
            AGE,
        ),
        cells=_secret_cells,
    ),
    ("", "serviceaccounts"): Printer(
        columns=(
            NAME,
            Column(
                name="Secrets",
                description="Secrets is a list of the secrets in the same namespace that pods running using "
                "this ServiceAccount are allowed to use.",
            ),
            AGE,
        ),
        cells=_service_account_cells,
    ),
    ("", "persistentvolumeclaims"): Printer(columns=_CLAIM_COLUMNS, cells=_claim_cells),
}
