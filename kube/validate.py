"""The one validation entry point of the apiserver: ``validate_create`` and ``validate_update``.

Both take a ``kinds.Kind`` and defaulted, Kubernetes-shaped dicts (see ``kube.defaults`` for the order of
defaulting and create-time preparation) and return every problem as a ``FieldError``, worded and ordered as
upstream's validators return them, with repeated messages dropped as ``ErrorList.ToAggregate`` drops them.
An empty list means valid. Nothing here raises on malformed input.

Metadata is checked first (``kube.validation``: name rules per kind, namespace, labels, annotations, owner
references, finalizers, and on update the immutable fields), then the kind's own rules from
``validation_core``, ``validation_service``, ``validation_pod``, ``validation_apps``, ``validation_batch``,
``validation_autoscaling`` and ``validation_scheduling``. Kinds without their own rules get metadata
validation only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kube import kinds, validation
from kube import validation_apps as apps
from kube import validation_autoscaling as autoscaling
from kube import validation_batch as batch
from kube import validation_core as core
from kube import validation_fields as f
from kube import validation_pod as pod
from kube import validation_scheduling as scheduling
from kube import validation_service as service
from kube.errors import FieldError

CreateValidator = Callable[[Mapping[str, Any]], list[FieldError]]
UpdateValidator = Callable[[Mapping[str, Any], Mapping[str, Any]], list[FieldError]]

_RBAC = "rbac.authorization.k8s.io"
# Groups whose objects go through core's ValidateObjectMeta, which also checks unqualified finalizer names.
_KUBE_FINALIZER_GROUPS = frozenset({"", "apps", "batch", "autoscaling"})
# Kinds whose update validation re-runs the create-time metadata checks, as upstream's do.
_CREATE_META_ON_UPDATE = frozenset(
    {("", "Service"), ("", "ConfigMap"), ("", "Secret"), ("", "Endpoints"), ("batch", "Job")}
)

_RULES: dict[tuple[str, str], tuple[CreateValidator, UpdateValidator]] = {
    ("", "Pod"): (pod.validate_pod, pod.validate_pod_update),
    ("", "Service"): (service.validate_service, service.validate_service_update),
    ("", "Namespace"): (core.validate_namespace, lambda new, old: []),
    ("", "ConfigMap"): (core.validate_config_map, core.validate_config_map_update),
    ("", "Secret"): (core.validate_secret, core.validate_secret_update),
    ("", "Node"): (core.validate_node, core.validate_node_update),
    ("", "Endpoints"): (core.validate_endpoints, lambda new, old: core.validate_endpoints(new)),
    ("", "ReplicationController"): (
        apps.validate_replication_controller,
        apps.validate_replication_controller_update,
    ),
    ("apps", "Deployment"): (apps.validate_deployment, apps.validate_deployment_update),
    ("apps", "ReplicaSet"): (apps.validate_replica_set, apps.validate_replica_set_update),
    ("apps", "StatefulSet"): (apps.validate_stateful_set, apps.validate_stateful_set_update),
    ("apps", "DaemonSet"): (apps.validate_daemon_set, apps.validate_daemon_set_update),
    ("batch", "Job"): (batch.validate_job, batch.validate_job_update),
    ("batch", "CronJob"): (batch.validate_cron_job, batch.validate_cron_job_update),
    ("autoscaling", "HorizontalPodAutoscaler"): (autoscaling.validate_hpa, autoscaling.validate_hpa_update),
    ("scheduling.k8s.io", "PriorityClass"): (
        scheduling.validate_priority_class,
        scheduling.validate_priority_class_update,
    ),
}


def name_validator(kind: kinds.Kind) -> validation.NameValidator:
    """The rule a kind's ``metadata.name`` follows on create."""
    if kind.group == _RBAC:
        return f.is_path_segment_name
    if (kind.group, kind.kind) == ("apps", "StatefulSet"):
        return validation.name_is_dns_label
    return validation.name_validator_for(kind.group, kind.kind)


def validate_create(kind: kinds.Kind, obj: Mapping[str, Any]) -> list[FieldError]:
    """Every problem with creating ``obj`` as a ``kind``."""
    errs = _validate_meta(kind, obj)
    rules = _RULES.get((kind.group, kind.kind))
    if rules is not None:
        errs.extend(rules[0](obj))
    return f.dedup(errs)


def validate_update(kind: kinds.Kind, new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """Every problem with replacing the stored ``old`` by ``new``."""
    new_meta, old_meta = f.mapping(new.get("metadata")), f.mapping(old.get("metadata"))
    errs = validation.validate_object_meta_update(new_meta, old_meta)
    errs.extend(_kube_finalizers(kind, new_meta))
    if (kind.group, kind.kind) in _CREATE_META_ON_UPDATE:
        errs.extend(_validate_meta(kind, new))
    rules = _RULES.get((kind.group, kind.kind))
    if rules is not None:
        errs.extend(rules[1](new, old))
    return f.dedup(errs)


def validate_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """A ``/status`` update: its spec and metadata are the stored object's (the status strategy copied
    them), so only the metadata update is checked, as upstream's status strategies do first; the status
    fields themselves are not validated here."""
    return f.dedup(
        validation.validate_object_meta_update(f.mapping(new.get("metadata")), f.mapping(old.get("metadata")))
    )


def _validate_meta(kind: kinds.Kind, obj: Mapping[str, Any]) -> list[FieldError]:
    metadata = f.mapping(obj.get("metadata"))
    errs = validation.validate_object_meta(
        metadata, namespaced=kind.namespaced, name_validator=name_validator(kind)
    )
    errs.extend(_kube_finalizers(kind, metadata))
    return errs


def _kube_finalizers(kind: kinds.Kind, metadata: Mapping[str, Any]) -> list[FieldError]:
    if kind.group not in _KUBE_FINALIZER_GROUPS:
        return []
    errs: list[FieldError] = []
    for i, name in enumerate(f.items(metadata.get("finalizers"))):
        errs.extend(core.validate_finalizer_name(f.text(name), f.index("metadata.finalizers", i)))
    return errs
