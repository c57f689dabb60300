"""Defaulting of built-in kinds, as the apiserver applies it to every create and update.

Contract:

* ``default(kind, obj)`` fills unset fields of a Kubernetes-shaped dict in place, as upstream's
  ``SetDefaults_*`` functions of ``core/v1``, ``apps/v1``, ``batch/v1`` and ``autoscaling/v2`` (pod specs
  are in ``kube.defaults_pod``). It is pure and idempotent and never overwrites a value the client set;
  kinds without defaults are left alone. Services also get what upstream's service registry fills before
  validation in a single-stack IPv4 cluster: ``clusterIPs`` in step with ``clusterIP``,
  ``ipFamilyPolicy: SingleStack`` and ``ipFamilies`` (``[IPv4]``, or the family of the given cluster IP).
  A Secret's write-only ``stringData`` is merged into ``data`` (base64), as the v1 conversion does.
* ``prepare_for_create(kind, obj)`` is the create-only part that upstream keeps in registry strategies:
  a Namespace starts ``Active`` with the ``kubernetes`` finalizer, and a Job without ``manualSelector:
  true`` gets its generated selector and labels (``generate_job_selector``). It needs ``metadata.name``
  and ``metadata.uid`` set, so the apiserver calls, in order: name and uid generation, ``default``,
  ``prepare_for_create``, then ``kube.validate.validate_create``.
* ``prepare_for_update(kind, new, old)`` is the update-time counterpart: a Service keeps the addresses and
  ports allocated to it when the update leaves them out. Call it after ``default``, before
  ``kube.validate.validate_update``.

As upstream, Services are validated after allocation: the apiserver should allocate cluster IPs, node
ports and the health-check node port before ``validate_create``.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, MutableMapping
from typing import Any

from kube import defaults_pod as dp
from kube import kinds

Defaulter = Callable[[MutableMapping[str, Any]], None]

DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_BACKOFF_LIMIT = 6
DEFAULT_CPU_UTILIZATION = 80
MAX_INT32 = 2**31 - 1
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
FINALIZER_KUBERNETES = "kubernetes"


def default(kind: kinds.Kind, obj: MutableMapping[str, Any]) -> None:
    """Apply the defaults of ``kind`` to ``obj`` in place (nothing for kinds without defaults)."""
    defaulter = _DEFAULTERS.get((kind.group, kind.kind))
    if defaulter is not None:
        defaulter(obj)


def prepare_for_create(kind: kinds.Kind, obj: MutableMapping[str, Any]) -> None:
    """The create-time changes of upstream's registry strategies (after ``default``, before validation)."""
    if (kind.group, kind.kind) == ("", "Namespace"):
        obj["status"] = {"phase": "Active"}
        spec = dp.child(obj, "spec")
        finalizers = spec.get("finalizers")
        if not isinstance(finalizers, list):
            finalizers = spec["finalizers"] = []
        if FINALIZER_KUBERNETES not in finalizers:
            finalizers.append(FINALIZER_KUBERNETES)
    elif (kind.group, kind.kind) == ("batch", "Job") and dp.child(obj, "spec").get(
        "manualSelector"
    ) is not True:
        generate_job_selector(obj)


def prepare_for_update(
    kind: kinds.Kind, new: MutableMapping[str, Any], old: MutableMapping[str, Any]
) -> None:
    """The update-time changes of upstream's registry strategies (after ``default``, before validation).

    A Service update that leaves out what the allocators gave the stored object keeps it
    (``patchAllocatedValues``): the cluster IPs and their families, node ports (matched by port name) and the
    health-check node port. Without this, ``kubectl replace`` of a Service would fail validation.
    """
    if (kind.group, kind.kind) == ("", "Service"):
        _patch_allocated_values(dp.child(new, "spec"), dp.child(old, "spec"))
        _drop_type_dependent_fields(dp.child(new, "spec"), dp.child(old, "spec"))


def _drop_type_dependent_fields(new: MutableMapping[str, Any], old: MutableMapping[str, Any]) -> None:
    """Upstream's ``dropTypeDependentFields``: when a Service changes type, the fields only the old type
    needed go, unless the update set them to something new (a client that means them keeps them)."""
    new_type, old_type = new.get("type", "ClusterIP"), old.get("type", "ClusterIP")
    if new_type == old_type:
        return
    node_port_types = ("NodePort", "LoadBalancer")
    if new_type == "ExternalName" and new.get("clusterIP") == old.get("clusterIP"):
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
            new.pop(field, None)
    if new_type not in node_port_types:
        old_node_ports = {
            (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in dp.children(old, "ports")
        }
        for port in dp.children(new, "ports"):
            if port.get("nodePort") and port.get("nodePort") == old_node_ports.get(
                (port.get("port"), port.get("protocol", "TCP"))
            ):
                del port["nodePort"]
        for field in ("externalTrafficPolicy", "healthCheckNodePort"):
            if field in new and new.get(field) == old.get(field):
                del new[field]
    if new_type != "LoadBalancer":
        for field in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if field in new and new.get(field) == old.get(field):
                del new[field]


def _patch_allocated_values(new: MutableMapping[str, Any], old: MutableMapping[str, Any]) -> None:
    if new.get("type") != "ExternalName" and old.get("type") != "ExternalName":
        if not new.get("clusterIP") and old.get("clusterIP"):
            new["clusterIP"] = old["clusterIP"]
            if old.get("ipFamilies"):
                new["ipFamilies"] = list(old["ipFamilies"])
        if (
            not new.get("clusterIPs")
            and old.get("clusterIPs")
            and new.get("clusterIP") == old.get("clusterIP")
        ):
            new["clusterIPs"] = list(old["clusterIPs"])
    node_port_types = ("NodePort", "LoadBalancer")
    if new.get("type") in node_port_types and old.get("type") in node_port_types:
        old_ports, new_ports = dp.children(old, "ports"), dp.children(new, "ports")
        used = {p.get("nodePort") for p in old_ports} & {p.get("nodePort") for p in new_ports}
        by_name = {p.get("name") or "": p.get("nodePort") for p in old_ports}
        for port in new_ports:
            previous = by_name.get(port.get("name") or "")
            if not port.get("nodePort") and previous and previous not in used:
                port["nodePort"] = previous
    if _needs_health_check(new) and _needs_health_check(old) and not new.get("healthCheckNodePort"):
        new["healthCheckNodePort"] = old.get("healthCheckNodePort")


def _needs_health_check(spec: MutableMapping[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def generate_job_selector(job: MutableMapping[str, Any]) -> None:
    """The job strategy's ``generateSelector``: label the template with the Job's name and uid (legacy and
    ``batch.kubernetes.io/`` keys, unless already present) and select on the prefixed uid label."""
    metadata = dp.child(job, "metadata")
    name, uid = str(metadata.get("name") or ""), str(metadata.get("uid") or "")
    spec = dp.child(job, "spec")
    labels = dp.child(dp.child(dp.child(spec, "template"), "metadata"), "labels")
    for label, value in (
        ("job-name", name),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", uid),
        ("batch.kubernetes.io/controller-uid", uid),
    ):
        labels.setdefault(label, value)
    match_labels = dp.child(dp.child(spec, "selector"), "matchLabels")
    match_labels.setdefault("batch.kubernetes.io/controller-uid", uid)


def _default_replication_controller(rc: MutableMapping[str, Any]) -> None:
    spec = dp.child(rc, "spec")
    template = spec.get("template")
    if isinstance(template, dict):
        dp.default_pod_template(template)
        labels = dp.template_labels(template)
        if labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            metadata = dp.child(rc, "metadata")
            if not metadata.get("labels"):
                metadata["labels"] = dict(labels)
    dp.set_default(spec, "replicas", 1)


def _default_deployment(deployment: MutableMapping[str, Any]) -> None:
    spec = dp.child(deployment, "spec")
    dp.default_pod_template(dp.child(spec, "template"))
    dp.set_default(spec, "replicas", 1)
    strategy = dp.child(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy.get("type") == "RollingUpdate":
        rolling = dp.child(strategy, "rollingUpdate")
        dp.set_default(rolling, "maxUnavailable", "25%")
        dp.set_default(rolling, "maxSurge", "25%")
    dp.set_default(spec, "revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
    dp.set_default(spec, "progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS)


def _default_replica_set(replica_set: MutableMapping[str, Any]) -> None:
    spec = dp.child(replica_set, "spec")
    dp.default_pod_template(dp.child(spec, "template"))
    dp.set_default(spec, "replicas", 1)


def _default_daemon_set(daemon_set: MutableMapping[str, Any]) -> None:
    spec = dp.child(daemon_set, "spec")
    dp.default_pod_template(dp.child(spec, "template"))
    strategy = dp.child(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy.get("type") == "RollingUpdate":
        rolling = dp.child(strategy, "rollingUpdate")
        dp.set_default(rolling, "maxUnavailable", 1)
        dp.set_default(rolling, "maxSurge", 0)
    dp.set_default(spec, "revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)


def _default_stateful_set(stateful_set: MutableMapping[str, Any]) -> None:
    spec = dp.child(stateful_set, "spec")
    dp.default_pod_template(dp.child(spec, "template"))
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = dp.child(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        dp.child(strategy, "rollingUpdate")
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "RollingUpdate" and isinstance(rolling, dict):
        dp.set_default(rolling, "partition", 0)
    retention = dp.child(spec, "persistentVolumeClaimRetentionPolicy")
    for when in ("whenDeleted", "whenScaled"):
        if not retention.get(when):
            retention[when] = "Retain"
    dp.set_default(spec, "replicas", 1)
    dp.set_default(spec, "revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
    for claim in dp.children(spec, "volumeClaimTemplates"):
        _default_persistent_volume_claim(claim)


def _default_persistent_volume_claim(claim: MutableMapping[str, Any]) -> None:
    dp.set_default(dp.child(claim, "spec"), "volumeMode", "Filesystem")
    status = dp.child(claim, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"


def _default_job(job: MutableMapping[str, Any]) -> None:
    """``SetDefaults_Job`` (``manualSelector`` is left unset; the generated selector comes at create)."""
    spec = dp.child(job, "spec")
    template = dp.child(spec, "template")
    dp.default_pod_template(template)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    dp.set_default(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = (
            MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else DEFAULT_BACKOFF_LIMIT
        )
    labels = dp.template_labels(template)
    metadata = dp.child(job, "metadata")
    if labels is not None and not metadata.get("labels"):
        metadata["labels"] = dict(labels)
    dp.set_default(spec, "completionMode", "NonIndexed")
    dp.set_default(spec, "suspend", False)
    failure_policy = spec.get("podFailurePolicy")
    if isinstance(failure_policy, dict):
        for rule in dp.children(failure_policy, "rules"):
            for pattern in dp.children(rule, "onPodConditions"):
                if not pattern.get("status"):
                    pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if isinstance(failure_policy, dict) else "TerminatingOrFailed"


def _default_cron_job(cron_job: MutableMapping[str, Any]) -> None:
    spec = dp.child(cron_job, "spec")
    job_spec = dp.child(dp.child(spec, "jobTemplate"), "spec")
    dp.default_pod_template(dp.child(job_spec, "template"))
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    dp.set_default(spec, "suspend", False)
    dp.set_default(spec, "successfulJobsHistoryLimit", 3)
    dp.set_default(spec, "failedJobsHistoryLimit", 1)


def _default_service(service: MutableMapping[str, Any]) -> None:
    """``SetDefaults_Service`` plus the registry's cluster-IP and IP-family filling."""
    spec = dp.child(service, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec.get("sessionAffinity") == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec.get("sessionAffinity") == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    svc_type = spec["type"]
    for port in dp.children(spec, "ports"):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    externally_accessible = svc_type in ("LoadBalancer", "NodePort") or (
        svc_type == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_accessible and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and svc_type in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if svc_type != "ExternalName":
        _default_service_ip_fields(spec)


def _default_service_ip_fields(spec: MutableMapping[str, Any]) -> None:
    cluster_ip, cluster_ips = spec.get("clusterIP"), spec.get("clusterIPs")
    if cluster_ip and not cluster_ips:
        spec["clusterIPs"] = [cluster_ip]
    elif cluster_ips and isinstance(cluster_ips, list) and not cluster_ip:
        spec["clusterIP"] = cluster_ips[0]
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "SingleStack"
    if not spec.get("ipFamilies"):
        families = []
        for ip in spec.get("clusterIPs") or []:
            try:
                families.append(f"IPv{ipaddress.ip_address(ip).version}")
            except (ValueError, TypeError):
                continue
        spec["ipFamilies"] = families or ["IPv4"]


def _default_namespace(namespace: MutableMapping[str, Any]) -> None:
    metadata = dp.child(namespace, "metadata")
    name = metadata.get("name")
    if isinstance(name, str) and name:
        dp.child(metadata, "labels")[NAMESPACE_NAME_LABEL] = name
    status = dp.child(namespace, "status")
    if not status.get("phase"):
        status["phase"] = "Active"


def _default_secret(secret: MutableMapping[str, Any]) -> None:
    if not secret.get("type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = dp.child(secret, "data")
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def _default_endpoints(endpoints: MutableMapping[str, Any]) -> None:
    for subset in dp.children(endpoints, "subsets"):
        for port in dp.children(subset, "ports"):
            if not port.get("protocol"):
                port["protocol"] = "TCP"


def _default_node(node: MutableMapping[str, Any]) -> None:
    """``SetDefaults_NodeStatus``: allocatable is the capacity until the kubelet says otherwise."""
    status = node.get("status")
    if (
        isinstance(status, dict)
        and status.get("allocatable") is None
        and isinstance(status.get("capacity"), dict)
    ):
        status["allocatable"] = dict(status["capacity"])


def _default_hpa(hpa: MutableMapping[str, Any]) -> None:
    """``SetDefaults_HorizontalPodAutoscaler`` (autoscaling/v2)."""
    spec = dp.child(hpa, "spec")
    dp.set_default(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        target = {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up_policies = [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]
        up = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": up_policies}
        down = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
        for direction, rules in (("scaleUp", up), ("scaleDown", down)):
            given = behavior.get(direction)
            if isinstance(given, dict):
                rules |= {k: v for k, v in given.items() if v is not None}
            behavior[direction] = rules


def _default_priority_class(pc: MutableMapping[str, Any]) -> None:
    """``SetDefaults_PriorityClass``."""
    dp.set_default(pc, "preemptionPolicy", "PreemptLowerPriority")


_DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("", "Pod"): dp.default_pod,
    ("", "ReplicationController"): _default_replication_controller,
    ("", "Service"): _default_service,
    ("", "Namespace"): _default_namespace,
    ("", "Secret"): _default_secret,
    ("", "Endpoints"): _default_endpoints,
    ("", "Node"): _default_node,
    ("", "PersistentVolumeClaim"): _default_persistent_volume_claim,
    ("apps", "Deployment"): _default_deployment,
    ("apps", "ReplicaSet"): _default_replica_set,
    ("apps", "DaemonSet"): _default_daemon_set,
    ("apps", "StatefulSet"): _default_stateful_set,
    ("batch", "Job"): _default_job,
    ("batch", "CronJob"): _default_cron_job,
    ("autoscaling", "HorizontalPodAutoscaler"): _default_hpa,
    ("scheduling.k8s.io", "PriorityClass"): _default_priority_class,
}
