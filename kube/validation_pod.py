"""Validation of Pods, pod specs and pod templates, worded as upstream's ``pkg/apis/core/validation``.

* ``validate_pod_spec`` is ``ValidatePodSpec`` (shared by Pods and every workload's template);
  ``validate_pod_template_spec`` is ``ValidatePodTemplateSpec``, which workloads call on ``spec.template``.
* ``validate_pod`` and ``validate_pod_update`` are the spec part of ``ValidatePodCreate`` and
  ``ValidatePodUpdate``; object metadata is checked by ``kube.validate``. On update only the fields upstream
  lets change may change (container images, ``activeDeadlineSeconds`` downwards, tolerations additions, a
  negative ``terminationGracePeriodSeconds`` to 1, scheduling gates removals, node selector additions while
  gated); anything else is ``spec: Forbidden: pod updates may not change fields other than ...``.

The text after that message is upstream's ``cmp.Diff`` of the two specs, which cannot be reproduced here;
kubemu lists the changed paths instead, one per line, with old and new values as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from kube import meta, validation
from kube import validation_container as vc
from kube import validation_fields as f
from kube.errors import FieldError

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
_DELETION_COST = re.compile(r"-?[1-9][0-9]*|0", re.ASCII)


def validate_pod(pod: Mapping[str, Any]) -> list[FieldError]:
    """``ValidatePodCreate`` without the object metadata."""
    spec = f.mapping(pod.get("spec"))
    errs = _validate_pod_metadata_and_spec(pod)
    if f.items(spec.get("ephemeralContainers")):
        errs.append(f.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if f.text(spec.get("nodeName")) and f.items(spec.get("schedulingGates")):
        errs.append(f.forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


def validate_pod_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidatePodUpdate`` without the object metadata update."""
    errs = _validate_pod_metadata_and_spec(new)
    errs.extend(_validate_annotation_updates(new, old))
    new_spec, old_spec = f.mapping(new.get("spec")), f.mapping(old.get("spec"))
    for name in ("containers", "initContainers"):
        own, stop = _validate_container_updates(new_spec.get(name), old_spec.get(name), f.child("spec", name))
        errs.extend(own)
        if stop:
            return errs
    deadline_errs = _validate_deadline_update(new_spec, old_spec)
    errs.extend(deadline_errs)
    if deadline_errs and deadline_errs[0].detail != "must not update from a positive integer to nil value":
        return errs
    errs.extend(_validate_only_added_tolerations(new_spec.get("tolerations"), old_spec.get("tolerations")))
    errs.extend(
        _validate_only_deleted_gates(new_spec.get("schedulingGates"), old_spec.get("schedulingGates"))
    )
    if f.semantic_equal(new_spec, old_spec):
        return errs
    munged = _munge(new_spec, old_spec, errs)
    if not f.semantic_equal(munged, old_spec):
        diff = "\n".join(spec_diff(old_spec, munged, "spec"))
        detail = f"pod updates may not change fields other than {','.join(UPDATABLE_POD_SPEC_FIELDS)}\n{diff}"
        errs.append(f.forbidden("spec", detail))
    return errs


def validate_pod_template_spec(template: Mapping[str, Any], path: str) -> list[FieldError]:
    """``ValidatePodTemplateSpec``; upstream checks the labels at ``<path>.labels``, not under metadata."""
    metadata = f.mapping(template.get("metadata"))
    spec = f.mapping(template.get("spec"))
    labels = {str(k): f.text(v) for k, v in f.mapping(metadata.get("labels")).items()}
    annotations = {str(k): f.text(v) for k, v in f.mapping(metadata.get("annotations")).items()}
    errs = validation.validate_labels(labels, f.child(path, "labels"))
    errs.extend(validation.validate_annotations(annotations, f.child(path, "annotations")))
    errs.extend(_validate_pod_annotations(annotations, spec, f.child(path, "annotations")))
    errs.extend(validate_pod_spec(spec, f.child(path, "spec"), is_pod=False))
    if f.items(spec.get("ephemeralContainers")):
        at = f.child(path, "spec", "ephemeralContainers")
        errs.append(f.forbidden(at, "ephemeral containers not allowed in pod template"))
    return errs


def validate_pod_spec(spec: Mapping[str, Any], path: str, *, is_pod: bool) -> list[FieldError]:
    """``ValidatePodSpec``: volumes, containers, policies, names and scheduling fields."""
    errs: list[FieldError] = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        errs.append(f.required(f.child(path, "terminationGracePeriodSeconds")))
    volumes, volume_errs = vc.validate_volumes(spec.get("volumes"), f.child(path, "volumes"))
    errs.extend(volume_errs)
    errs.extend(vc.validate_containers(spec.get("containers"), volumes, f.child(path, "containers")))
    errs.extend(
        vc.validate_init_containers(
            spec.get("initContainers"), spec.get("containers"), volumes, f.child(path, "initContainers")
        )
    )
    errs.extend(_validate_host_network(spec, path, is_pod=is_pod))
    errs.extend(_enum(spec.get("restartPolicy"), RESTART_POLICIES, f.child(path, "restartPolicy")))
    errs.extend(_enum(spec.get("dnsPolicy"), DNS_POLICIES, f.child(path, "dnsPolicy")))
    node_selector = {str(k): f.text(v) for k, v in f.mapping(spec.get("nodeSelector")).items()}
    errs.extend(validation.validate_labels(node_selector, f.child(path, "nodeSelector")))
    if spec.get("dnsPolicy") == "None":
        dns_config = spec.get("dnsConfig")
        if not isinstance(dns_config, Mapping):
            errs.append(
                f.required(f.child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None")
            )
        elif not f.items(dns_config.get("nameservers")):
            detail = "must provide at least one DNS nameserver when `dnsPolicy` is None"
            errs.append(f.required(f.child(path, "dnsConfig", "nameservers"), detail))
    for field, check in (
        ("serviceAccountName", validation.is_dns1123_subdomain),
        ("nodeName", validation.is_dns1123_subdomain),
    ):
        value = f.text(spec.get(field))
        if value:
            errs.extend(f.invalid(f.child(path, field), value, m) for m in check(value))
    deadline = f.integer(spec.get("activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= f.MAX_INT32:
        at = f.child(path, "activeDeadlineSeconds")
        errs.append(f.invalid(at, deadline, f.inclusive_range_error(1, f.MAX_INT32)))
    for field in ("hostname", "subdomain"):
        value = f.text(spec.get(field))
        if value:
            errs.extend(f.validate_dns1123_label(value, f.child(path, field)))
    errs.extend(validate_tolerations(spec.get("tolerations"), f.child(path, "tolerations")))
    priority_class = f.text(spec.get("priorityClassName"))
    if priority_class:
        at = f.child(path, "priorityClassName")
        errs.extend(f.invalid(at, priority_class, m) for m in validation.is_dns1123_subdomain(priority_class))
    return errs


def validate_tolerations(tolerations: object, path: str) -> list[FieldError]:
    """``ValidateTolerations``."""
    errs: list[FieldError] = []
    for i, item in enumerate(f.items(tolerations)):
        tol = f.mapping(item)
        at = f.index(path, i)
        key, operator = f.text(tol.get("key")), tol.get("operator") or ""
        value, effect = f.text(tol.get("value")), f.text(tol.get("effect"))
        if key:
            errs.extend(f.validate_qualified_name(key, f.child(at, "key")))
        if not key and operator != "Exists":
            detail = (
                'operator must be Exists when `key` is empty, which means "match all values and all keys"'
            )
            errs.append(f.invalid(f.child(at, "operator"), operator, detail))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            detail = "effect must be 'NoExecute' when `tolerationSeconds` is set"
            errs.append(f.invalid(f.child(at, "effect"), effect, detail))
        if operator in ("Equal", ""):
            msgs = validation.is_valid_label_value(value)
            if msgs:
                errs.append(f.invalid(f.child(at, "operator"), value, ";".join(msgs)))
        elif operator == "Exists":
            if value:
                detail = "value must be empty when `operator` is 'Exists'"
                errs.append(f.invalid(f.child(at, "operator"), value, detail))
        else:
            errs.append(f.not_supported(f.child(at, "operator"), operator, ["Equal", "Exists"]))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(f.not_supported(f.child(at, "effect"), effect, TAINT_EFFECTS))
    return errs


def spec_diff(old: object, new: object, path: str) -> Iterator[str]:
    """The leaves that differ between two JSON values, as ``-  path: old`` / ``+  path: new`` lines."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for k in sorted(set(old) | set(new)):
            if not f.semantic_equal(old.get(k), new.get(k)):
                yield from spec_diff(old.get(k), new.get(k), f.child(path, str(k)))
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if not f.semantic_equal(a, b):
                yield from spec_diff(a, b, f.index(path, i))
        return
    yield f"-  {path}: {f.go_json(old)}"
    yield f"+  {path}: {f.go_json(new)}"


def _enum(value: object, valid: tuple[str, ...], path: str) -> list[FieldError]:
    if value in valid:
        return []
    return [f.required(path)] if not value else [f.not_supported(path, value, valid)]


def _validate_pod_metadata_and_spec(pod: Mapping[str, Any]) -> list[FieldError]:
    metadata = f.mapping(pod.get("metadata"))
    spec = f.mapping(pod.get("spec"))
    annotations = {str(k): f.text(v) for k, v in f.mapping(metadata.get("annotations")).items()}
    errs = _validate_pod_annotations(annotations, spec, "metadata.annotations")
    errs.extend(validate_pod_spec(spec, "spec", is_pod=True))
    errs.extend(vc.validate_image_whitespace(spec.get("containers"), "spec.containers"))
    errs.extend(vc.validate_image_whitespace(spec.get("initContainers"), "spec.initContainers"))
    return errs


def _validate_pod_annotations(
    annotations: Mapping[str, str], spec: Mapping[str, Any], path: str
) -> list[FieldError]:
    """``ValidatePodSpecificAnnotations``: the mirror-pod and deletion-cost annotations."""
    errs: list[FieldError] = []
    if MIRROR_POD_ANNOTATION in annotations and not f.text(spec.get("nodeName")):
        at = f.key(path, MIRROR_POD_ANNOTATION)
        detail = "must set spec.nodeName if mirror pod annotation is set"
        errs.append(f.invalid(at, annotations[MIRROR_POD_ANNOTATION], detail))
    cost = annotations.get(POD_DELETION_COST_ANNOTATION)
    if cost is not None and not (_DELETION_COST.fullmatch(cost) and -(2**31) <= int(cost) < 2**31):
        errs.append(f.invalid(f.key(path, POD_DELETION_COST_ANNOTATION), cost, "must be a 32bit integer"))
    return errs


def _validate_annotation_updates(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """The mirror-pod annotation may be neither added, changed nor removed."""
    new_ann = f.mapping(f.mapping(new.get("metadata")).get("annotations"))
    old_ann = f.mapping(f.mapping(old.get("metadata")).get("annotations"))
    at = f.key("metadata.annotations", MIRROR_POD_ANNOTATION)
    if (
        MIRROR_POD_ANNOTATION in old_ann
        and new_ann.get(MIRROR_POD_ANNOTATION) != old_ann[MIRROR_POD_ANNOTATION]
    ):
        return [f.forbidden(at, "may not remove or update mirror pod annotation")]
    if MIRROR_POD_ANNOTATION in new_ann and MIRROR_POD_ANNOTATION not in old_ann:
        return [f.forbidden(at, "may not add mirror pod annotation")]
    return []


def _validate_host_network(spec: Mapping[str, Any], path: str, *, is_pod: bool) -> list[FieldError]:
    """``validatePodHostNetworkDeps``: with host networking a host port must equal the container port."""
    if spec.get("hostNetwork") is not True:
        return []
    errs: list[FieldError] = []
    for i, ctr in enumerate(f.items(spec.get("containers"))):
        for j, item in enumerate(f.items(f.mapping(ctr).get("ports"))):
            port = f.mapping(item)
            host, container = f.integer(port.get("hostPort")) or 0, f.integer(port.get("containerPort")) or 0
            if (is_pod or host != 0) and host != container:
                at = f.child(
                    f.index(f.child(f.index(f.child(path, "containers"), i), "ports"), j), "hostPort"
                )
                errs.append(f.invalid(at, host, "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _validate_container_updates(new: object, old: object, path: str) -> tuple[list[FieldError], bool]:
    """``ValidateContainerUpdates``; the flag says whether to stop (containers added or removed)."""
    new_ctrs, old_ctrs = f.items(new), f.items(old)
    if len(new_ctrs) != len(old_ctrs):
        return [f.forbidden(path, "pod updates may not add or remove containers")], True
    errs: list[FieldError] = []
    for i, ctr in enumerate(new_ctrs):
        image = f.text(f.mapping(ctr).get("image"))
        at = f.child(f.index(path, i), "image")
        if not image:
            errs.append(f.required(at))
        if image != image.strip():
            errs.append(f.invalid(at, image, "must not have leading or trailing whitespace"))
    return errs, False


def _validate_deadline_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``activeDeadlineSeconds`` may be set, or lowered, but never raised or removed."""
    at = "spec.activeDeadlineSeconds"
    new_value, old_value = (
        f.integer(new.get("activeDeadlineSeconds")),
        f.integer(old.get("activeDeadlineSeconds")),
    )
    if new_value is not None:
        if not 0 <= new_value <= f.MAX_INT32:
            return [f.invalid(at, new_value, f.inclusive_range_error(0, f.MAX_INT32))]
        if old_value is not None and old_value < new_value:
            return [f.invalid(at, new_value, "must be less than or equal to previous value")]
    elif old_value is not None:
        return [f.invalid(at, None, "must not update from a positive integer to nil value")]
    return []


def _validate_only_added_tolerations(new: object, old: object) -> list[FieldError]:
    new_tols = [f.mapping(t) for t in f.items(new)]
    for previous in (f.mapping(t) for t in f.items(old)):
        rest = {k: v for k, v in previous.items() if k != "tolerationSeconds"}
        if not any(
            f.semantic_equal(rest, {k: v for k, v in t.items() if k != "tolerationSeconds"}) for t in new_tols
        ):
            return [
                f.forbidden(
                    "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"
                )
            ]
    return validate_tolerations(new, "spec.tolerations")


def _validate_only_deleted_gates(new: object, old: object) -> list[FieldError]:
    old_names = {f.text(f.mapping(g).get("name")) for g in f.items(old)}
    errs: list[FieldError] = []
    for i, gate in enumerate(f.items(new)):
        name = f.text(f.mapping(gate).get("name"))
        if name not in old_names:
            detail = f"only deletion is allowed, but found new scheduling gate '{name}'"
            errs.append(f.forbidden(f.child(f.index("spec.schedulingGates", i), "name"), detail))
    return errs


def _munge(new: Mapping[str, Any], old: Mapping[str, Any], errs: list[FieldError]) -> dict[str, Any]:
    """The new spec with every field that may change put back to its old value."""
    munged = meta.deep_copy(dict(new))
    for name in ("containers", "initContainers"):
        for ctr, previous in zip(f.items(munged.get(name)), f.items(old.get(name)), strict=False):
            if isinstance(ctr, dict):
                ctr["image"] = f.mapping(previous).get("image")
    for name in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged[name] = meta.deep_copy(old.get(name))
    old_grace = f.integer(old.get("terminationGracePeriodSeconds"))
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if f.items(old.get("schedulingGates")):
        new_selector = f.mapping(munged.get("nodeSelector"))
        old_selector = f.mapping(old.get("nodeSelector"))
        if not f.semantic_equal(new_selector, old_selector):
            if any(new_selector.get(k) != v for k, v in old_selector.items()):
                detail = "only additions to spec.nodeSelector are allowed (no mutations or deletions)"
                errs.append(f.invalid("spec.nodeSelector", dict(new_selector), detail))
            munged["nodeSelector"] = meta.deep_copy(old.get("nodeSelector"))
    return munged
