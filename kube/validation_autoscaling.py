"""Validation of HorizontalPodAutoscalers (autoscaling/v2), worded as upstream's
``pkg/apis/autoscaling/validation``.

``minReplicas`` is at least 1 (scale-to-zero is an alpha feature, off here, unless the stored object
already has 0), ``maxReplicas`` at least 1 and at least ``minReplicas``, ``scaleTargetRef`` names a kind and
a name that can be URL path segments, every metric has exactly the source its type names with a sensible
target, and scaling rules stay within upstream's windows. Object metadata is checked by ``kube.validate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube import quantity
from kube import validation_fields as f
from kube.errors import FieldError, QuantityError

METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")  # sorted
SELECT_POLICIES = ("Disabled", "Max", "Min")
SCALING_POLICY_TYPES = ("Percent", "Pods")
MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
_SOURCE_FIELD = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "External": "external",
    "ContainerResource": "containerResource",
}


def validate_hpa(hpa: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateHorizontalPodAutoscaler`` without metadata."""
    return _validate_spec(f.mapping(hpa.get("spec")), min_replicas_lower_bound=1)


def validate_hpa_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateHorizontalPodAutoscalerUpdate`` without metadata: 0 stays allowed once stored."""
    lower = 0 if f.integer(f.mapping(old.get("spec")).get("minReplicas")) == 0 else 1
    return _validate_spec(f.mapping(new.get("spec")), min_replicas_lower_bound=lower)


def validate_cross_version_object_reference(ref: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for name in ("kind", "name"):
        value = f.text(ref.get(name))
        if not value:
            errs.append(f.required(f.child(path, name)))
        else:
            errs.extend(f.invalid(f.child(path, name), value, m) for m in f.is_path_segment_name(value))
    return errs


def _validate_spec(spec: Mapping[str, Any], *, min_replicas_lower_bound: int) -> list[FieldError]:
    errs: list[FieldError] = []
    min_replicas = f.integer(spec.get("minReplicas"))
    max_replicas = f.integer(spec.get("maxReplicas")) or 0
    if min_replicas is not None and min_replicas < min_replicas_lower_bound:
        detail = f"must be greater than or equal to {min_replicas_lower_bound}"
        errs.append(f.invalid("spec.minReplicas", min_replicas, detail))
    if max_replicas < 1:
        errs.append(f.invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if min_replicas is not None and max_replicas < min_replicas:
        errs.append(
            f.invalid("spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`")
        )
    errs.extend(
        validate_cross_version_object_reference(f.mapping(spec.get("scaleTargetRef")), "spec.scaleTargetRef")
    )
    metrics = [f.mapping(m) for m in f.items(spec.get("metrics"))]
    for i, metric in enumerate(metrics):
        errs.extend(_validate_metric(metric, f.index("spec.metrics", i)))
    if min_replicas == 0 and not any(m.get("type") in ("Object", "External") for m in metrics):
        detail = "must specify at least one Object or External metric to support scaling to zero replicas"
        errs.append(f.forbidden("spec.metrics", detail))
    behavior = spec.get("behavior")
    if isinstance(behavior, Mapping):
        for direction in ("scaleUp", "scaleDown"):
            rules = behavior.get(direction)
            if isinstance(rules, Mapping):
                errs.extend(_validate_scaling_rules(rules, f.child("spec.behavior", direction)))
    return errs


def _validate_metric(metric: Mapping[str, Any], path: str) -> list[FieldError]:
    """``validateMetricSpec``: the named source present, and only that one."""
    errs: list[FieldError] = []
    metric_type = metric.get("type")
    if not metric_type:
        errs.append(f.required(f.child(path, "type"), "must specify a metric source type"))
    if metric_type not in METRIC_SOURCE_TYPES:
        errs.append(f.not_supported(f.child(path, "type"), metric_type or "", METRIC_SOURCE_TYPES))
    present = [
        name
        for name in ("object", "external", "pods", "resource", "containerResource")
        if metric.get(name) is not None
    ]
    if present:
        first = present[0]
        errs.extend(_validate_source(first, f.mapping(metric.get(first)), f.child(path, first)))
    expected = _SOURCE_FIELD.get(f.text(metric_type))
    if expected is not None:
        if metric.get(expected) is None:
            detail = "must populate information for the given metric source"
            errs.append(f.required(f.child(path, expected), detail))
    else:
        errs.append(f.not_supported(f.child(path, "type"), metric_type or "", METRIC_SOURCE_TYPES))
    if len(present) != 1:
        for name in sorted(set(present) - {expected}):
            errs.append(f.forbidden(f.child(path, name), "must populate the given metric source only"))
    return errs


def _validate_source(kind: str, source: Mapping[str, Any], path: str) -> list[FieldError]:
    target = f.mapping(source.get("target"))
    errs: list[FieldError] = []
    if kind == "object":
        described = f.mapping(source.get("describedObject"))
        errs.extend(validate_cross_version_object_reference(described, f.child(path, "describedObject")))
    if kind in ("resource", "containerResource"):
        if not f.text(source.get("name")):
            errs.append(f.required(f.child(path, "name"), "must specify a resource name"))
        if kind == "containerResource":
            container = f.text(source.get("container"))
            if not container:
                errs.append(f.required(f.child(path, "container"), "must specify a container"))
            else:
                errs.extend(f.validate_dns1123_label(container, f.child(path, "container")))
    else:
        metric_name = f.text(f.mapping(source.get("metric")).get("name"))
        at = f.child(path, "metric", "name")
        if not metric_name:
            errs.append(f.required(at, "must specify a metric name"))
        else:
            errs.extend(f.invalid(at, metric_name, m) for m in f.is_path_segment_name(metric_name))
    errs.extend(_validate_target(target, f.child(path, "target")))
    value, average, utilization = (target.get(k) for k in ("value", "averageValue", "averageUtilization"))
    at = f.child(path, "target")
    if kind == "object" and value is None and average is None:
        errs.append(f.required(f.child(at, "averageValue"), "must set either a target value or averageValue"))
    if kind == "external":
        if value is None and average is None:
            detail = "must set either a target value for metric or a per-pod target"
            errs.append(f.required(f.child(at, "averageValue"), detail))
        if value is not None and average is not None:
            detail = "may not set both a target value for metric and a per-pod target"
            errs.append(f.forbidden(f.child(at, "value"), detail))
    if kind == "pods" and average is None:
        errs.append(f.required(f.child(at, "averageValue"), "must specify a positive target averageValue"))
    if kind in ("resource", "containerResource"):
        if utilization is None and average is None:
            detail = "must set either a target raw value or a target utilization"
            errs.append(f.required(f.child(at, "averageUtilization"), detail))
        if utilization is not None and average is not None:
            detail = "may not set both a target raw value and a target utilization"
            errs.append(f.forbidden(f.child(at, "averageValue"), detail))
    return errs


def _validate_target(target: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    target_type = target.get("type")
    if not target_type:
        errs.append(f.required(f.child(path, "type"), "must specify a metric target type"))
    if target_type not in ("Utilization", "Value", "AverageValue"):
        detail = "must be either Utilization, Value, or AverageValue"
        errs.append(f.invalid(f.child(path, "type"), target_type or "", detail))
    for name in ("value", "averageValue"):
        raw = target.get(name)
        if raw is None:
            continue
        try:
            positive = quantity.parse(raw if isinstance(raw, str) else str(raw)).sign() == 1
        except QuantityError as e:
            errs.append(f.invalid(f.child(path, name), raw, str(e)))
            continue
        if not positive:
            errs.append(
                f.invalid(f.child(path, name), raw if isinstance(raw, str) else str(raw), "must be positive")
            )
    utilization = f.integer(target.get("averageUtilization"))
    if utilization is not None and utilization < 1:
        errs.append(f.invalid(f.child(path, "averageUtilization"), utilization, "must be greater than 0"))
    return errs


def _validate_scaling_rules(rules: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    window = f.integer(rules.get("stabilizationWindowSeconds"))
    at = f.child(path, "stabilizationWindowSeconds")
    if window is not None and window < 0:
        errs.append(f.invalid(at, window, "must be greater than or equal to zero"))
    if window is not None and window > MAX_STABILIZATION_WINDOW_SECONDS:
        errs.append(
            f.invalid(at, window, f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}")
        )
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        errs.append(f.not_supported(f.child(path, "selectPolicy"), select, SELECT_POLICIES))
    policies = [f.mapping(p) for p in f.items(rules.get("policies"))]
    if not policies:
        errs.append(f.required(f.child(path, "policies"), "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        at = f.index(f.child(path, "policies"), i)
        if policy.get("type") not in SCALING_POLICY_TYPES:
            errs.append(f.not_supported(f.child(at, "type"), policy.get("type") or "", SCALING_POLICY_TYPES))
        value = f.integer(policy.get("value")) or 0
        if value <= 0:
            errs.append(f.invalid(f.child(at, "value"), value, "must be greater than zero"))
        period = f.integer(policy.get("periodSeconds")) or 0
        if period <= 0:
            errs.append(f.invalid(f.child(at, "periodSeconds"), period, "must be greater than zero"))
        if period > MAX_PERIOD_SECONDS:
            detail = f"must be less than or equal to {MAX_PERIOD_SECONDS}"
            errs.append(f.invalid(f.child(at, "periodSeconds"), period, detail))
    return errs
