"""Validation of Jobs and CronJobs, worded as upstream's ``pkg/apis/batch/validation``.

A Job's pods restart ``OnFailure`` or ``Never`` (a template left at the defaulted ``Always`` reads as
``Required value``); its counts are non-negative; unless ``manualSelector`` is true its selector and
template labels must be the generated ones (``kube.defaults.generate_job_selector``). On update the
selector, ``completionMode``, ``completions`` (of a NonIndexed Job) and the pod template are immutable; a
suspended Job that never started may still change its scheduling directives, labels and annotations.

A CronJob needs a schedule that robfig/cron parses (``kube.cron``), a known ``concurrencyPolicy``, a job
template whose selector is left to be generated, and a name of at most 52 characters (on create only).
``podFailurePolicy`` and ``successPolicy`` rules are not inspected beyond their immutability.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from kube import cron, labels, meta, validation
from kube import validation_fields as f
from kube import validation_pod as vp
from kube.errors import FieldError, SelectorError

LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
MAX_PARALLELISM_FOR_INDEXED_JOB = 100_000
MAX_FAILED_INDEXES_FOR_INDEXED_JOB = 100_000
MAX_CRON_JOB_NAME_LENGTH = validation.DNS1035_LABEL_MAX_LENGTH - 11
_TIME_ZONE_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}", re.ASCII)
_SCHEDULING_FIELDS = ("nodeSelector", "tolerations", "schedulingGates")


def validate_job(job: Mapping[str, Any], *, require_prefixed_labels: bool = True) -> list[FieldError]:
    """``ValidateJob`` without metadata: the generated selector, the spec, and the indexed name length."""
    spec = f.mapping(job.get("spec"))
    metadata = f.mapping(job.get("metadata"))
    errs = _validate_generated_selector(job, require_prefixed_labels)
    errs.extend(_validate_job_spec(spec, "spec"))
    completions = f.integer(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions is not None and completions > 0:
        name = f.text(metadata.get("name"))
        hostname = f"{name}-{completions - 1}"
        if validation.is_dns1123_label(hostname):
            detail = f"will not able to create pod with invalid DNS label: {hostname}"
            errs.append(f.invalid("metadata.name", name, detail))
    return errs


def validate_job_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """The Job strategy's ``ValidateUpdate``: ``ValidateJob`` then ``ValidateJobSpecUpdate``."""
    new_spec, old_spec = f.mapping(new.get("spec")), f.mapping(old.get("spec"))
    old_labels = f.mapping(f.mapping(f.mapping(old_spec.get("template")).get("metadata")).get("labels"))
    prefixed = JOB_NAME_LABEL in old_labels and CONTROLLER_UID_LABEL in old_labels
    errs = validate_job(new, require_prefixed_labels=prefixed)
    errs.extend(_validate_job_spec(new_spec, "spec"))
    errs.extend(_validate_completions_update(new_spec, old_spec))
    errs.extend(
        f.validate_immutable(
            new_spec.get("selector"),
            old_spec.get("selector"),
            "spec.selector",
            value=f.selector_shown(new_spec.get("selector")),
        )
    )
    errs.extend(_validate_template_update(new_spec, old_spec, f.mapping(old.get("status"))))
    for name in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        errs.extend(f.validate_immutable(new_spec.get(name), old_spec.get(name), f.child("spec", name)))
    return errs


def validate_cron_job(cron_job: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateCronJobCreate`` without metadata (the 52-character name limit included)."""
    errs = _validate_cron_job_spec(f.mapping(cron_job.get("spec")), None)
    name = f.text(f.mapping(cron_job.get("metadata")).get("name"))
    if len(name) > MAX_CRON_JOB_NAME_LENGTH:
        errs.append(f.invalid("metadata.name", name, validation.max_len_error(MAX_CRON_JOB_NAME_LENGTH)))
    return errs


def validate_cron_job_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateCronJobUpdate`` without metadata (no name-length check, so old CronJobs stay editable)."""
    return _validate_cron_job_spec(f.mapping(new.get("spec")), f.mapping(old.get("spec")))


def _validate_generated_selector(job: Mapping[str, Any], require_prefixed_labels: bool) -> list[FieldError]:
    spec = f.mapping(job.get("spec"))
    selector = spec.get("selector")
    if spec.get("manualSelector") is True or not isinstance(selector, Mapping):
        return []
    metadata = f.mapping(job.get("metadata"))
    uid, name = f.text(metadata.get("uid")), f.text(metadata.get("name"))
    errs: list[FieldError] = []
    if not uid:
        errs.append(f.required("metadata.uid"))
    expected = {LEGACY_CONTROLLER_UID_LABEL: uid, LEGACY_JOB_NAME_LABEL: name}
    if require_prefixed_labels:
        expected |= {CONTROLLER_UID_LABEL: uid, JOB_NAME_LABEL: name}
    template_labels = f.mapping(f.mapping(f.mapping(spec.get("template")).get("metadata")).get("labels"))
    for label in (LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL, CONTROLLER_UID_LABEL, JOB_NAME_LABEL):
        if label not in expected:
            continue
        at = f.key("spec.template.metadata.labels", label)
        if label not in template_labels:
            errs.append(f.required(at, f"must be '{expected[label]}'"))
        elif template_labels[label] != expected[label]:
            errs.append(f.invalid(at, f.labels_shown(template_labels), f"must be '{expected[label]}'"))
    try:
        matches = labels.from_label_selector(selector).matches(expected)
    except SelectorError:
        matches = True  # reported by the selector's own validation
    if not matches:
        errs.append(f.invalid("spec.selector", f.selector_shown(selector), "`selector` not auto-generated"))
    return errs


def _validate_job_spec(spec: Mapping[str, Any], path: str) -> list[FieldError]:
    """``ValidateJobSpec``: the spec, then a selector that exists, parses and matches the template."""
    errs = _validate_job_spec_body(spec, path)
    selector = spec.get("selector")
    if not isinstance(selector, Mapping):
        errs.append(f.required(f.child(path, "selector")))
    else:
        errs.extend(f.validate_label_selector(selector, f.child(path, "selector")))
    try:
        parsed = labels.from_label_selector(selector if isinstance(selector, Mapping) else None)
    except SelectorError:
        return errs
    template_labels = f.mapping(f.mapping(f.mapping(spec.get("template")).get("metadata")).get("labels"))
    if not parsed.matches({str(k): f.text(v) for k, v in template_labels.items()}):
        at = f.child(path, "template", "metadata", "labels")
        errs.append(
            f.invalid(at, f.labels_shown(template_labels), "`selector` does not match template `labels`")
        )
    return errs


def _validate_job_spec_body(spec: Mapping[str, Any], path: str) -> list[FieldError]:
    """``validateJobSpec``: counts, completion mode, replacement policy, template and restart policy."""
    errs: list[FieldError] = []
    for name in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit"):
        errs.extend(f.validate_nonnegative(spec.get(name), f.child(path, name)))
    for name in ("ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        errs.extend(f.validate_nonnegative(spec.get(name), f.child(path, name)))
    per_index, max_failed = (
        f.integer(spec.get("backoffLimitPerIndex")),
        f.integer(spec.get("maxFailedIndexes")),
    )
    completions, parallelism = f.integer(spec.get("completions")), f.integer(spec.get("parallelism"))
    if max_failed is not None and per_index is None:
        errs.append(f.required(f.child(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.append(f.not_supported(f.child(path, "completionMode"), mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed":
        if completions is None:
            errs.append(f.required(f.child(path, "completions"), "when completion mode is Indexed"))
        if parallelism is not None and parallelism > MAX_PARALLELISM_FOR_INDEXED_JOB:
            limit = MAX_PARALLELISM_FOR_INDEXED_JOB
            detail = f"must be less than or equal to {limit} when completion mode is Indexed"
            errs.append(f.invalid(f.child(path, "parallelism"), parallelism, detail))
        if completions is not None and max_failed is not None and max_failed > completions:
            errs.append(
                f.invalid(
                    f.child(path, "maxFailedIndexes"), max_failed, "must be less than or equal to completions"
                )
            )
        if max_failed is not None and max_failed > MAX_FAILED_INDEXES_FOR_INDEXED_JOB:
            detail = f"must be less than or equal to {MAX_FAILED_INDEXES_FOR_INDEXED_JOB}"
            errs.append(f.invalid(f.child(path, "maxFailedIndexes"), max_failed, detail))
    elif mode in (None, "NonIndexed"):
        for name, value in (("backoffLimitPerIndex", per_index), ("maxFailedIndexes", max_failed)):
            if value is not None:
                errs.append(f.invalid(f.child(path, name), value, "requires indexed completion mode"))
    if spec.get("successPolicy") is not None and mode != "Indexed":
        at = f.child(path, "successPolicy")
        errs.append(f.invalid(at, spec.get("successPolicy"), "requires indexed completion mode"))
    replacement = spec.get("podReplacementPolicy")
    has_failure_policy = spec.get("podFailurePolicy") is not None
    if replacement is not None:
        valid = ["Failed"] if has_failure_policy else ["Failed", "TerminatingOrFailed"]
        if replacement not in valid:
            errs.append(f.not_supported(f.child(path, "podReplacementPolicy"), replacement, valid))
    template = f.mapping(spec.get("template"))
    errs.extend(vp.validate_pod_template_spec(template, f.child(path, "template")))
    restart = f.mapping(template.get("spec")).get("restartPolicy") or ""
    at = f.child(path, "template", "spec", "restartPolicy")
    if restart in ("Always", ""):
        errs.append(f.required(at, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(f.not_supported(at, restart, ["OnFailure", "Never"]))
    elif has_failure_policy and restart != "Never":
        errs.append(f.invalid(at, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _validate_completions_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``completions`` is immutable, except for Indexed Jobs scaled together with ``parallelism``."""
    at = "spec.completions"
    if new.get("completionMode") != "Indexed":
        return f.validate_immutable(new.get("completions"), old.get("completions"), at)
    completions = f.integer(new.get("completions"))
    if completions is None or f.semantic_equal(new.get("completions"), old.get("completions")):
        return []
    if completions != f.integer(new.get("parallelism")):
        return [f.invalid(at, completions, "can only be modified in tandem with spec.parallelism")]
    return []


def _validate_template_update(
    new: Mapping[str, Any], old: Mapping[str, Any], old_status: Mapping[str, Any]
) -> list[FieldError]:
    """The template is immutable; a suspended Job that never started may change scheduling directives."""
    template, old_template = (
        f.mapping(new.get("template")),
        meta.deep_copy(dict(f.mapping(old.get("template")))),
    )
    if old.get("suspend") is True and old_status.get("startTime") is None:
        old_template["metadata"] = dict(f.mapping(old_template.get("metadata")))
        new_metadata = f.mapping(template.get("metadata"))
        for name in ("labels", "annotations"):
            old_template["metadata"][name] = new_metadata.get(name)
        old_spec = dict(f.mapping(old_template.get("spec")))
        new_spec = f.mapping(template.get("spec"))
        for name in _SCHEDULING_FIELDS:
            old_spec[name] = new_spec.get(name)
        affinity = dict(f.mapping(old_spec.get("affinity")))
        affinity["nodeAffinity"] = f.mapping(new_spec.get("affinity")).get("nodeAffinity")
        old_spec["affinity"] = affinity
        old_template["spec"] = old_spec
    return f.validate_immutable(template, old_template, "spec.template")


def _validate_cron_job_spec(spec: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    errs: list[FieldError] = []
    schedule = f.text(spec.get("schedule"))
    if not schedule:
        errs.append(f.required("spec.schedule"))
    else:
        allow_tz = old is not None and "TZ" in f.text(old.get("schedule"))
        errs.extend(_validate_schedule(schedule, allow_tz, spec.get("timeZone")))
    errs.extend(f.validate_nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds"))
    if old is None or old.get("timeZone") != spec.get("timeZone"):
        errs.extend(_validate_time_zone(spec.get("timeZone")))
    policy = spec.get("concurrencyPolicy")
    if not policy:
        errs.append(f.required("spec.concurrencyPolicy"))
    elif policy not in CONCURRENCY_POLICIES:
        errs.append(f.not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES))
    job_spec = f.mapping(f.mapping(spec.get("jobTemplate")).get("spec"))
    errs.extend(_validate_job_spec_body(job_spec, "spec.jobTemplate.spec"))
    if job_spec.get("selector") is not None:
        shown = f.selector_shown(job_spec.get("selector"))
        errs.append(f.invalid("spec.jobTemplate.spec.selector", shown, "`selector` will be auto-generated"))
    if job_spec.get("manualSelector") is True:
        errs.append(f.not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"]))
    for name in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs.extend(f.validate_nonnegative(spec.get(name), f.child("spec", name)))
    return errs


def _validate_schedule(schedule: str, allow_tz: bool, time_zone: object) -> list[FieldError]:
    errs: list[FieldError] = []
    try:
        cron.parse_standard(schedule)
    except cron.CronError as e:
        errs.append(f.invalid("spec.schedule", schedule, str(e)))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(
            f.invalid(
                "spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"
            )
        )
    elif not allow_tz and "TZ" in schedule:
        detail = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        errs.append(f.invalid("spec.schedule", schedule, detail))
    return errs


def _validate_time_zone(time_zone: object) -> list[FieldError]:
    if time_zone is None:
        return []
    name = f.text(time_zone)
    at = "spec.timeZone"
    if not name:
        return [f.invalid(at, name, "timeZone must be nil or non-empty string")]
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TIME_ZONE_PART.fullmatch(part):
            return [f.invalid(at, name, f"unknown time zone {name}")]
    if name.lower() == "local":
        return [
            f.invalid(
                at,
                name,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        ]
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [f.invalid(at, name, f"unknown time zone {name}")]
    return []
