"""Validation of the replicated workloads, worded as upstream's ``pkg/apis/apps/validation`` (and, for
ReplicationControllers, ``pkg/apis/core/validation``).

Every workload needs a selector that is not empty and that matches its pod template's labels, a template
whose pods restart ``Always``, and non-negative counts. On update, the selector of the ``apps/v1`` kinds is
immutable (upstream checks this in each kind's registry strategy), and a StatefulSet may only change
``replicas``, ``ordinals``, ``template``, ``updateStrategy``, ``persistentVolumeClaimRetentionPolicy`` and
``minReadySeconds``.

As upstream, StatefulSet templates are not run through the pod spec checks (only labels and annotations),
and a DaemonSet without a selector is reported through the template-labels mismatch rather than as a
missing selector. Object metadata is checked by ``kube.validate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube import labels, validation
from kube import validation_fields as f
from kube import validation_pod as vp
from kube.errors import FieldError, SelectorError

_MISMATCH = "`selector` does not match template `labels`"


def validate_deployment(obj: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateDeploymentSpec``."""
    spec = f.mapping(obj.get("spec"))
    errs = f.validate_nonnegative(spec.get("replicas"), "spec.replicas")
    errs.extend(_validate_replica_set_like(spec, "deployment", "ReplicaSet"))
    errs.extend(_validate_deployment_strategy(f.mapping(spec.get("strategy")), "spec.strategy"))
    errs.extend(f.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    errs.extend(f.validate_nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
    deadline = f.integer(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        errs.extend(f.validate_nonnegative(deadline, "spec.progressDeadlineSeconds"))
        if deadline <= (f.integer(spec.get("minReadySeconds")) or 0):
            detail = "must be greater than minReadySeconds"
            errs.append(f.invalid("spec.progressDeadlineSeconds", deadline, detail))
    return errs


def validate_deployment_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    return validate_deployment(new) + _immutable_selector(new, old)


def validate_replica_set(obj: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateReplicaSetSpec``."""
    spec = f.mapping(obj.get("spec"))
    errs = f.validate_nonnegative(spec.get("replicas"), "spec.replicas")
    errs.extend(f.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    # upstream reuses the Deployment wording for ReplicaSets
    errs.extend(_validate_replica_set_like(spec, "deployment", "ReplicaSet"))
    return errs


def validate_replica_set_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    return validate_replica_set(new) + _immutable_selector(new, old)


def validate_replication_controller(obj: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateReplicationControllerSpec``: a map selector, required, matching the template."""
    spec = f.mapping(obj.get("spec"))
    errs = f.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector_map = {str(k): f.text(v) for k, v in f.mapping(spec.get("selector")).items()}
    if not selector_map:
        errs.append(f.required("spec.selector"))
    errs.extend(f.validate_nonnegative(spec.get("replicas"), "spec.replicas"))
    template = spec.get("template")
    if not isinstance(template, Mapping):
        errs.append(f.required("spec.template"))
        return errs
    errs.extend(
        _validate_template(template, labels.from_set(selector_map), "spec.template", "ReplicationController")
    )
    return errs


def validate_replication_controller_update(
    new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[FieldError]:
    return validate_replication_controller(new)


def validate_daemon_set(obj: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateDaemonSetSpec``."""
    spec = f.mapping(obj.get("spec"))
    selector_obj = spec.get("selector")
    template = f.mapping(spec.get("template"))
    errs = f.validate_label_selector(selector_obj, "spec.selector")
    selector = _as_selector(selector_obj)
    if selector is not None and not selector.matches(_template_labels(template)):
        errs.append(_mismatch(template, "spec.template"))
    if isinstance(selector_obj, Mapping) and not _selector_terms(selector_obj):
        errs.append(
            f.invalid(
                "spec.selector", f.selector_shown(selector_obj), "empty selector is invalid for daemonset"
            )
        )
    errs.extend(vp.validate_pod_template_spec(template, "spec.template"))
    errs.extend(_template_policies(template, "spec.template", "DaemonSet"))
    errs.extend(f.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    errs.extend(_validate_daemon_set_strategy(f.mapping(spec.get("updateStrategy")), "spec.updateStrategy"))
    errs.extend(f.validate_nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
    return errs


def validate_daemon_set_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    return validate_daemon_set(new) + _immutable_selector(new, old)


def validate_stateful_set(obj: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateStatefulSetSpec``."""
    spec = f.mapping(obj.get("spec"))
    errs: list[FieldError] = []
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.append(f.required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(f.invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    errs.extend(_validate_stateful_set_strategy(f.mapping(spec.get("updateStrategy"))))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, Mapping):
        for when in ("whenDeleted", "whenScaled"):
            value = retention.get(when) or ""
            if value not in ("Retain", "Delete"):
                at = f.child("spec.persistentVolumeClaimRetentionPolicy", when)
                errs.append(f.not_supported(at, value, ["Retain", "Delete"]))
    errs.extend(f.validate_nonnegative(spec.get("replicas"), "spec.replicas"))
    errs.extend(f.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    if isinstance(spec.get("ordinals"), Mapping):
        errs.extend(
            f.validate_nonnegative(f.mapping(spec.get("ordinals")).get("start"), "spec.ordinals.start")
        )
    selector_obj = spec.get("selector")
    if not isinstance(selector_obj, Mapping):
        errs.append(f.required("spec.selector"))
    else:
        errs.extend(f.validate_label_selector(selector_obj, "spec.selector"))
        if not _selector_terms(selector_obj):
            shown = f.selector_shown(selector_obj)
            errs.append(f.invalid("spec.selector", shown, "empty selector is invalid for statefulset"))
    template = f.mapping(spec.get("template"))
    try:
        selector = labels.from_label_selector(selector_obj if isinstance(selector_obj, Mapping) else None)
    except SelectorError:
        errs.append(f.invalid("spec.selector", f.selector_shown(selector_obj), ""))
    else:
        if not selector.empty and not selector.matches(_template_labels(template)):
            errs.append(_mismatch(template, "spec.template"))
        metadata = f.mapping(template.get("metadata"))
        template_labels = {str(k): f.text(v) for k, v in f.mapping(metadata.get("labels")).items()}
        annotations = {str(k): f.text(v) for k, v in f.mapping(metadata.get("annotations")).items()}
        errs.extend(validation.validate_labels(template_labels, "spec.template.labels"))
        errs.extend(validation.validate_annotations(annotations, "spec.template.annotations"))
    errs.extend(_template_policies(template, "spec.template", "StatefulSet"))
    return errs


def validate_stateful_set_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateStatefulSetUpdate``: the spec valid, and only the mutable fields changed."""
    errs = validate_stateful_set(new)
    new_spec, old_spec = f.mapping(new.get("spec")), f.mapping(old.get("spec"))
    mutable = (
        "replicas",
        "template",
        "updateStrategy",
        "minReadySeconds",
        "ordinals",
        "persistentVolumeClaimRetentionPolicy",
    )
    rest_new = {k: v for k, v in new_spec.items() if k not in mutable}
    rest_old = {k: v for k, v in old_spec.items() if k not in mutable}
    if not f.semantic_equal(rest_new, rest_old):
        detail = (
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
            "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        )
        errs.append(f.forbidden("spec", detail))
    return errs


def _selector_terms(selector: Mapping[str, Any]) -> int:
    return len(f.mapping(selector.get("matchLabels"))) + len(f.items(selector.get("matchExpressions")))


def _as_selector(selector: object) -> labels.Selector | None:
    """``LabelSelectorAsSelector``; ``None`` when it does not convert (the caller reports that or not)."""
    try:
        return labels.from_label_selector(selector if isinstance(selector, Mapping) else None)
    except SelectorError:
        return None


def _template_labels(template: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(k): f.text(v) for k, v in f.mapping(f.mapping(template.get("metadata")).get("labels")).items()
    }


def _mismatch(template: Mapping[str, Any], path: str) -> FieldError:
    template_labels = f.mapping(template.get("metadata")).get("labels")
    return f.invalid(f.child(path, "metadata", "labels"), f.labels_shown(template_labels), _MISMATCH)


def _validate_replica_set_like(spec: Mapping[str, Any], noun: str, kind: str) -> list[FieldError]:
    """The selector part of ``ValidateDeploymentSpec`` / ``ValidateReplicaSetSpec`` and the template."""
    errs: list[FieldError] = []
    selector_obj = spec.get("selector")
    if not isinstance(selector_obj, Mapping):
        errs.append(f.required("spec.selector"))
    else:
        errs.extend(f.validate_label_selector(selector_obj, "spec.selector"))
        if not _selector_terms(selector_obj):
            detail = f"empty selector is invalid for {noun}"
            errs.append(f.invalid("spec.selector", f.selector_shown(selector_obj), detail))
    try:
        selector = labels.from_label_selector(selector_obj if isinstance(selector_obj, Mapping) else None)
    except SelectorError:
        errs.append(f.invalid("spec.selector", f.selector_shown(selector_obj), "invalid label selector"))
        return errs
    errs.extend(_validate_template(f.mapping(spec.get("template")), selector, "spec.template", kind))
    return errs


def _validate_template(
    template: Mapping[str, Any], selector: labels.Selector, path: str, kind: str
) -> list[FieldError]:
    """``ValidatePodTemplateSpecForReplicaSet`` / ``...ForRC``."""
    errs: list[FieldError] = []
    if not selector.empty and not selector.matches(_template_labels(template)):
        errs.append(_mismatch(template, path))
    errs.extend(vp.validate_pod_template_spec(template, path))
    errs.extend(_template_policies(template, path, kind))
    return errs


def _template_policies(template: Mapping[str, Any], path: str, kind: str) -> list[FieldError]:
    """Pods of a replicated workload restart ``Always`` and have no active deadline."""
    spec = f.mapping(template.get("spec"))
    errs: list[FieldError] = []
    restart = spec.get("restartPolicy") or ""
    if restart != "Always":
        errs.append(f.not_supported(f.child(path, "spec", "restartPolicy"), restart, ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        at = f.child(path, "spec", "activeDeadlineSeconds")
        errs.append(f.forbidden(at, f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def _immutable_selector(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """The registry strategies' check for ``apps/v1``: ``spec.selector`` never changes."""
    new_selector = f.mapping(new.get("spec")).get("selector")
    old_selector = f.mapping(old.get("spec")).get("selector")
    return f.validate_immutable(
        new_selector, old_selector, "spec.selector", value=f.selector_shown(new_selector)
    )


def _int_or_percent(value: object) -> int:
    """``getIntOrPercentValue``: the number of a percentage or of an integer (0 for anything else)."""
    if isinstance(value, str):
        if not f.is_valid_percent(value):
            return int(value[:-1])
        try:
            return int(value)
        except ValueError:
            return 0
    return f.integer(value) or 0


def _positive_int_or_percent(value: object, path: str) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent``: a percentage string or a non-negative integer."""
    if isinstance(value, str):
        return [f.invalid(path, value, m) for m in f.is_valid_percent(value)]
    return f.validate_nonnegative(value, path)


def _not_more_than_100_percent(value: object, path: str) -> list[FieldError]:
    """``IsNotMoreThan100Percent``."""
    if isinstance(value, str) and not f.is_valid_percent(value) and int(value[:-1]) > 100:
        return [f.invalid(path, value, "must not be greater than 100%")]
    return []


def _strategy_value(strategy: Mapping[str, Any], fields: tuple[str, ...]) -> f.Rendered:
    """An internal strategy struct as upstream prints it (Go field names, ``RollingUpdate`` or null)."""
    rolling = strategy.get("rollingUpdate")
    rendered_rolling = None
    if isinstance(rolling, Mapping):
        rendered_rolling = {name[0].upper() + name[1:]: rolling.get(name, 0) for name in fields}
    struct = {"Type": f.text(strategy.get("type")), "RollingUpdate": rendered_rolling}
    return f.Rendered(f.go_json(struct, sort_keys=False))


def _validate_deployment_strategy(strategy: Mapping[str, Any], path: str) -> list[FieldError]:
    strategy_type = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if strategy_type == "Recreate":
        if rolling is not None:
            detail = "may not be specified when strategy `type` is 'Recreate'"
            return [f.forbidden(f.child(path, "rollingUpdate"), detail)]
        return []
    if strategy_type == "RollingUpdate":
        if not isinstance(rolling, Mapping):
            return [f.required(f.child(path, "rollingUpdate"), "this should be defaulted and never be nil")]
        at = f.child(path, "rollingUpdate")
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        errs = _positive_int_or_percent(unavailable, f.child(at, "maxUnavailable"))
        errs.extend(_positive_int_or_percent(surge, f.child(at, "maxSurge")))
        if _int_or_percent(unavailable) == 0 and _int_or_percent(surge) == 0:
            detail = "may not be 0 when `maxSurge` is 0"
            errs.append(f.invalid(f.child(at, "maxUnavailable"), unavailable, detail))
        errs.extend(_not_more_than_100_percent(unavailable, f.child(at, "maxUnavailable")))
        return errs
    value = _strategy_value(strategy, ("maxUnavailable", "maxSurge"))
    return [f.not_supported(path, value, ["Recreate", "RollingUpdate"])]


def _validate_daemon_set_strategy(strategy: Mapping[str, Any], path: str) -> list[FieldError]:
    strategy_type = strategy.get("type")
    if strategy_type == "OnDelete":
        return []
    if strategy_type == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        at = f.child(path, "rollingUpdate")
        if not isinstance(rolling, Mapping):
            return [f.required(at)]
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        errs = _positive_int_or_percent(unavailable, f.child(at, "maxUnavailable"))
        errs.extend(_positive_int_or_percent(surge, f.child(at, "maxSurge")))
        errs.extend(_not_more_than_100_percent(unavailable, f.child(at, "maxUnavailable")))
        errs.extend(_not_more_than_100_percent(surge, f.child(at, "maxSurge")))
        has_unavailable, has_surge = _int_or_percent(unavailable) != 0, _int_or_percent(surge) != 0
        if has_unavailable and has_surge:
            detail = "may not be set when maxUnavailable is non-zero"
            errs.append(f.invalid(f.child(at, "maxSurge"), surge, detail))
        elif not has_unavailable and not has_surge:
            errs.append(f.required(f.child(at, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
        return errs
    value = _strategy_value(strategy, ("maxUnavailable", "maxSurge"))
    return [f.not_supported(path, value, ["RollingUpdate", "OnDelete"])]


def _validate_stateful_set_strategy(strategy: Mapping[str, Any]) -> list[FieldError]:
    path = "spec.updateStrategy"
    strategy_type = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if not strategy_type:
        return [f.required(path)]
    if strategy_type == "OnDelete":
        if rolling is None:
            return []
        value = f.Rendered(
            f.go_json({k[0].upper() + k[1:]: v for k, v in f.mapping(rolling).items()}, sort_keys=False)
        )
        return [
            f.invalid(
                f.child(path, "rollingUpdate"), value, "only allowed for updateStrategy 'RollingUpdate'"
            )
        ]
    if strategy_type == "RollingUpdate":
        if not isinstance(rolling, Mapping):
            return []
        at = f.child(path, "rollingUpdate")
        errs = f.validate_nonnegative(rolling.get("partition"), f.child(at, "partition"))
        unavailable = rolling.get("maxUnavailable")
        if unavailable is not None:
            errs.extend(_positive_int_or_percent(unavailable, f.child(at, "maxUnavailable")))
            if _int_or_percent(unavailable) == 0:
                errs.append(f.invalid(f.child(at, "maxUnavailable"), unavailable, "cannot be 0"))
            errs.extend(_not_more_than_100_percent(unavailable, f.child(at, "maxUnavailable")))
        return errs
    value = _strategy_value(strategy, ("partition", "maxUnavailable"))
    return [f.invalid(path, value, "must be 'RollingUpdate' or 'OnDelete'")]
