"""Validation of workloads (apps, batch, autoscaling) through ``kube.validate``, worded as upstream; and the
cron schedules CronJobs use."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from typing import Any

import pytest

from kube import cron, defaults, kinds, validate

K = kinds.DEFAULT
Mutation = Callable[[dict[str, Any]], None]
MISMATCH = "`selector` does not match template `labels`"


def kind(api_version: str, name: str) -> kinds.Kind:
    found = K.by_kind(api_version, name)
    assert found is not None
    return found


DEPLOYMENT, REPLICA_SET = kind("apps/v1", "Deployment"), kind("apps/v1", "ReplicaSet")
STATEFUL_SET, DAEMON_SET = kind("apps/v1", "StatefulSet"), kind("apps/v1", "DaemonSet")
RC = kind("v1", "ReplicationController")
JOB, CRON_JOB = kind("batch/v1", "Job"), kind("batch/v1", "CronJob")
HPA = kind("autoscaling/v2", "HorizontalPodAutoscaler")


def create_errors(k: kinds.Kind, obj: dict[str, Any]) -> list[str]:
    defaults.default(k, obj)
    defaults.prepare_for_create(k, obj)
    return [e.message() for e in validate.validate_create(k, obj)]


def update_errors(k: kinds.Kind, old: dict[str, Any], mutate: Mutation) -> list[str]:
    defaults.default(k, old)
    defaults.prepare_for_create(k, old)
    new = copy.deepcopy(old)
    mutate(new)
    defaults.default(k, new)
    return [e.message() for e in validate.validate_update(k, new, old)]


def meta(name: str = "web") -> dict[str, Any]:
    return {"name": name, "namespace": "default", "uid": "uid-1", "resourceVersion": "5"}


def template(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"} if labels is None else labels},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}], **spec},
    }


def workload(selector: Any = None, tmpl: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"template": template() if tmpl is None else tmpl, **spec}
    body["selector"] = {"matchLabels": {"app": "web"}} if selector is None else selector
    if selector == "missing":
        del body["selector"]
    return {"metadata": meta(), "spec": body}


def setter(path: str, value: Any) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        target: Any = obj
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        target[parts[-1]] = value

    return mutate


# --- Deployment and ReplicaSet ------------------------------------------------------------------------------

DEPLOYMENT_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", workload(), []),
    (
        "selector-required",
        workload(selector="missing"),
        [
            "spec.selector: Required value",
            f'spec.template.metadata.labels: Invalid value: {{"app":"web"}}: {MISMATCH}',
        ],
    ),
    (
        "selector-empty",
        workload(selector={}),
        ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
    ),
    (
        "selector-mismatch",
        workload(tmpl=template({"app": "api", "tier": "x"})),
        [f'spec.template.metadata.labels: Invalid value: {{"app":"api","tier":"x"}}: {MISMATCH}'],
    ),
    (
        "selector-operator",
        workload(selector={"matchExpressions": [{"key": "app", "operator": "Near", "values": ["web"]}]}),
        [
            'spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector '
            "operator",
            "spec.selector: Invalid value: "
            '{"matchExpressions":[{"key":"app","operator":"Near","values":["web"]}]}: invalid label '
            "selector",
        ],
    ),
    (
        "restart-policy",
        workload(tmpl=template(restartPolicy="Never")),
        ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'],
    ),
    (
        "active-deadline",
        workload(tmpl=template(activeDeadlineSeconds=10)),
        [
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is "
            "not Supported"
        ],
    ),
    (
        "negative-replicas",
        workload(replicas=-1),
        ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
    ),
    (
        "template-containers-required",
        workload(tmpl=template(containers=[])),
        ["spec.template.spec.containers: Required value"],
    ),
    (
        "strategy-type",
        workload(strategy={"type": "BlueGreen"}),
        [
            'spec.strategy: Unsupported value: {"Type":"BlueGreen","RollingUpdate":null}: supported '
            'values: "Recreate", "RollingUpdate"'
        ],
    ),
    (
        "recreate-with-rolling-update",
        workload(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
        ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
    ),
    (
        "rolling-update-zeroes",
        workload(
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}
        ),
        ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"],
    ),
    (
        "rolling-update-percent",
        workload(
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "a%"}}
        ),
        [
            'spec.strategy.rollingUpdate.maxSurge: Invalid value: "a%": a valid percent string must be a '
            "numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is "
            "'[0-9]+%')",
            'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than '
            "100%",
        ],
    ),
    (
        "progress-deadline",
        workload(minReadySeconds=600),
        ["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"],
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in DEPLOYMENT_CASES], ids=[c[0] for c in DEPLOYMENT_CASES]
)
def test_deployment_create(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(DEPLOYMENT, obj) == expected


@pytest.mark.parametrize(
    "k", [DEPLOYMENT, REPLICA_SET, DAEMON_SET], ids=["deployment", "replicaset", "daemonset"]
)
def test_apps_selector_is_immutable(k: kinds.Kind) -> None:
    old = workload()
    old["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    selector = {"matchLabels": {"app": "web", "tier": "web"}}
    assert update_errors(k, old, setter("spec.selector", selector)) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"web"}}: field is immutable'
    ]
    assert update_errors(k, workload(), setter("spec.template.spec.containers.0.image", "nginx:1.26")) == []


def test_template_labels_are_checked_at_upstream_s_path() -> None:
    obj = workload(tmpl=template({"app": "web", "bad key": "x"}))
    defaults.default(DEPLOYMENT, obj)
    [error] = validate.validate_create(DEPLOYMENT, obj)
    assert (error.field, error.bad_value) == ("spec.template.labels", "bad key")
    assert error.message().startswith(
        'spec.template.labels: Invalid value: "bad key": name part must consist of'
    )


def test_replica_set_uses_upstream_wording() -> None:
    assert create_errors(REPLICA_SET, workload(selector={})) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
    ]


# --- ReplicationController ----------------------------------------------------------------------------------


def test_replication_controller() -> None:
    assert create_errors(RC, {"metadata": meta(), "spec": {"template": template()}}) == []
    no_template = {"metadata": meta(), "spec": {"selector": {"app": "web"}}}
    assert create_errors(RC, no_template) == ["spec.template: Required value"]
    mismatch = {"metadata": meta(), "spec": {"selector": {"app": "api"}, "template": template()}}
    assert create_errors(RC, mismatch) == [
        f'spec.template.metadata.labels: Invalid value: {{"app":"web"}}: {MISMATCH}'
    ]
    unselected = {"metadata": meta(), "spec": {"template": template(labels={})}}
    assert create_errors(RC, unselected) == ["spec.selector: Required value"]


# --- StatefulSet --------------------------------------------------------------------------------------------

STATEFUL_SET_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", workload(serviceName="web"), []),
    (
        "selector-required",
        workload(selector="missing"),
        [
            "spec.selector: Required value",
            f'spec.template.metadata.labels: Invalid value: {{"app":"web"}}: {MISMATCH}',
        ],
    ),
    (
        "selector-empty",
        workload(selector={}),
        ["spec.selector: Invalid value: {}: empty selector is invalid for statefulset"],
    ),
    (
        "pod-management-policy",
        workload(podManagementPolicy="Random"),
        ["spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"],
    ),
    (
        "update-strategy",
        workload(updateStrategy={"type": "Manual"}),
        [
            'spec.updateStrategy: Invalid value: {"Type":"Manual","RollingUpdate":null}: must be '
            "'RollingUpdate' or 'OnDelete'"
        ],
    ),
    (
        "negative-partition",
        workload(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}),
        [
            "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or "
            "equal to 0"
        ],
    ),
    (
        "retention-policy",
        workload(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Keep"}),
        [
            'spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported '
            'values: "Retain", "Delete"'
        ],
    ),
    (
        "restart-policy",
        workload(tmpl=template(restartPolicy="OnFailure")),
        ['spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"'],
    ),
    # as upstream, the pod spec of a StatefulSet template is not validated (only its labels and annotations)
    ("template-pod-spec-not-checked", workload(tmpl=template(containers=[])), []),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in STATEFUL_SET_CASES], ids=[c[0] for c in STATEFUL_SET_CASES]
)
def test_stateful_set_create(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(STATEFUL_SET, obj) == expected


STATEFUL_SET_FORBIDDEN = (
    "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
    "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
    "forbidden"
)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (setter("spec.replicas", 5), []),
        (setter("spec.template.spec.containers.0.image", "nginx:1.26"), []),
        (setter("spec.updateStrategy", {"type": "OnDelete"}), []),
        (setter("spec.minReadySeconds", 10), []),
        (setter("spec.serviceName", "other"), [STATEFUL_SET_FORBIDDEN]),
        (setter("spec.selector", {"matchLabels": {"app": "web", "x": "y"}}), [STATEFUL_SET_FORBIDDEN]),
        (setter("spec.volumeClaimTemplates", [{"metadata": {"name": "data"}}]), [STATEFUL_SET_FORBIDDEN]),
    ],
    ids=[
        "replicas",
        "template",
        "update-strategy",
        "min-ready",
        "service-name",
        "selector",
        "claim-templates",
    ],
)
def test_stateful_set_update(mutate: Mutation, expected: list[str]) -> None:
    old = workload(serviceName="web")
    got = update_errors(STATEFUL_SET, old, mutate)
    # a changed selector also stops matching the template; only the spec-wide rule matters here
    assert [e for e in got if not e.startswith("spec.template.metadata.labels")] == expected


# --- DaemonSet ----------------------------------------------------------------------------------------------

DAEMON_SET_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", workload(), []),
    # upstream has no "Required" for a DaemonSet's selector: nothing matches a missing one
    (
        "selector-missing",
        workload(selector="missing"),
        [f'spec.template.metadata.labels: Invalid value: {{"app":"web"}}: {MISMATCH}'],
    ),
    (
        "selector-empty",
        workload(selector={}),
        ["spec.selector: Invalid value: {}: empty selector is invalid for daemonset"],
    ),
    (
        "strategy-type",
        workload(updateStrategy={"type": "Surge"}),
        [
            'spec.updateStrategy: Unsupported value: {"Type":"Surge","RollingUpdate":null}: supported '
            'values: "RollingUpdate", "OnDelete"'
        ],
    ),
    (
        "both-unavailable-and-surge",
        workload(
            updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
        ),
        [
            "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when "
            "maxUnavailable is non-zero"
        ],
    ),
    (
        "neither-unavailable-nor-surge",
        workload(
            updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}
        ),
        ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"],
    ),
    (
        "active-deadline",
        workload(tmpl=template(activeDeadlineSeconds=5)),
        [
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is "
            "not Supported"
        ],
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in DAEMON_SET_CASES], ids=[c[0] for c in DAEMON_SET_CASES]
)
def test_daemon_set_create(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(DAEMON_SET, obj) == expected


# --- Job ----------------------------------------------------------------------------------------------------


def job(tmpl: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body = {"template": template(labels={}, restartPolicy="Never") if tmpl is None else tmpl, **spec}
    return {"metadata": meta("pi"), "spec": body}


JOB_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", job(), []),
    (
        "restart-policy-left-always",
        job(tmpl=template(labels={})),
        ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'],
    ),
    (
        "restart-policy-unknown",
        job(tmpl=template(labels={}, restartPolicy="Sometimes")),
        [
            # the pod spec check first, then the Job's own, as upstream
            'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
            '"Always", "OnFailure", "Never"',
            'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
            '"OnFailure", "Never"',
        ],
    ),
    (
        "negative-counts",
        job(parallelism=-1, completions=-2, backoffLimit=-3),
        [
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            "spec.completions: Invalid value: -2: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0",
        ],
    ),
    (
        "completion-mode",
        job(completionMode="Sequential"),
        ['spec.completionMode: Unsupported value: "Sequential": supported values: "NonIndexed", "Indexed"'],
    ),
    (
        "per-index-needs-indexed",
        job(backoffLimitPerIndex=1),
        ["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"],
    ),
    (
        "manual-selector-without-selector",
        job(manualSelector=True),
        ["spec.selector: Required value", f"spec.template.metadata.labels: Invalid value: {{}}: {MISMATCH}"],
    ),
    (
        "manual-selector-mismatch",
        job(
            manualSelector=True, selector={"matchLabels": {"app": "db"}}, tmpl=template(restartPolicy="Never")
        ),
        [f'spec.template.metadata.labels: Invalid value: {{"app":"web"}}: {MISMATCH}'],
    ),
    (
        "conflicting-generated-label",
        job(tmpl=template(labels={"controller-uid": "someone-else"}, restartPolicy="Never")),
        [
            "spec.template.metadata.labels[controller-uid]: Invalid value: "
            '{"batch.kubernetes.io/controller-uid":"uid-1","batch.kubernetes.io/job-name":"pi",'
            '"controller-uid":"someone-else","job-name":"pi"}: must be \'uid-1\'',
        ],
    ),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in JOB_CASES], ids=[c[0] for c in JOB_CASES])
def test_job_create(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(JOB, obj) == expected


def test_job_without_uid_is_refused() -> None:
    obj = job()
    del obj["metadata"]["uid"]
    assert create_errors(JOB, obj) == ["metadata.uid: Required value"]


@pytest.mark.parametrize(
    ("spec", "mutate", "expected"),
    [
        ({}, setter("spec.parallelism", 4), []),
        ({}, setter("metadata.labels", {"team": "a"}), []),
        ({}, setter("spec.completions", 3), ["spec.completions: Invalid value: 3: field is immutable"]),
        (
            {},
            setter("spec.completionMode", "Indexed"),
            ['spec.completionMode: Invalid value: "Indexed": field is immutable'],
        ),
        (
            {"completionMode": "Indexed", "completions": 2, "parallelism": 2},
            lambda o: o["spec"].update(completions=4, parallelism=4),
            [],
        ),
        (
            {"completionMode": "Indexed", "completions": 2, "parallelism": 2},
            setter("spec.completions", 4),
            ["spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism"],
        ),
        ({"suspend": True}, setter("spec.template.spec.nodeSelector", {"zone": "a"}), []),
    ],
    ids=[
        "parallelism",
        "labels",
        "completions",
        "completion-mode",
        "indexed-scale",
        "indexed-scale-alone",
        "suspended-scheduling",
    ],
)
def test_job_update(spec: dict[str, Any], mutate: Mutation, expected: list[str]) -> None:
    assert update_errors(JOB, job(**spec), mutate) == expected


def test_job_template_and_selector_are_immutable() -> None:
    got = update_errors(JOB, job(), setter("spec.template.spec.containers.0.image", "busybox"))
    assert len(got) == 1
    assert got[0].startswith('spec.template: Invalid value: {"metadata":{"labels":{')
    assert got[0].endswith(": field is immutable")
    selector = {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1", "job-name": "pi"}}
    assert update_errors(JOB, job(), setter("spec.selector", selector)) == [
        "spec.selector: Invalid value: "
        '{"matchLabels":{"batch.kubernetes.io/controller-uid":"uid-1","job-name":"pi"}}: field is '
        "immutable"
    ]


# --- CronJob ------------------------------------------------------------------------------------------------


def cron_job(name: str = "nightly", **spec: Any) -> dict[str, Any]:
    job_template = {"spec": {"template": template(restartPolicy="OnFailure")}}
    return {"metadata": meta(name), "spec": {"schedule": "0 3 * * *", "jobTemplate": job_template, **spec}}


CRON_JOB_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", cron_job(), []),
    ("descriptor", cron_job(schedule="@hourly"), []),
    ("every", cron_job(schedule="@every 1h30m"), []),
    ("names", cron_job(schedule="*/15 9-17 * jan-mar MON-FRI"), []),
    ("schedule-required", cron_job(schedule=""), ["spec.schedule: Required value"]),
    (
        "schedule-fields",
        cron_job(schedule="* * * *"),
        ['spec.schedule: Invalid value: "* * * *": expected exactly 5 fields, found 4: [* * * *]'],
    ),
    (
        "schedule-range",
        cron_job(schedule="61 * * * *"),
        ['spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'],
    ),
    (
        "schedule-descriptor",
        cron_job(schedule="@fortnightly"),
        ['spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly'],
    ),
    (
        "schedule-tz",
        cron_job(schedule="CRON_TZ=UTC 0 3 * * *"),
        [
            'spec.schedule: Invalid value: "CRON_TZ=UTC 0 3 * * *": cannot use TZ or CRON_TZ in schedule, '
            "use timeZone field instead"
        ],
    ),
    ("time-zone", cron_job(timeZone="Europe/Paris"), []),
    (
        "time-zone-unknown",
        cron_job(timeZone="Mars/Olympus"),
        ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'],
    ),
    (
        "concurrency-policy",
        cron_job(concurrencyPolicy="Queue"),
        [
            'spec.concurrencyPolicy: Unsupported value: "Queue": supported values: "Allow", "Forbid", '
            '"Replace"'
        ],
    ),
    (
        "job-template-selector",
        cron_job(
            jobTemplate={
                "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": template(restartPolicy="Never")}
            }
        ),
        [
            'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `selector` will be '
            "auto-generated"
        ],
    ),
    (
        "job-template-restart-policy",
        cron_job(jobTemplate={"spec": {"template": template()}}),
        [
            "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "
            '"OnFailure", "Never"'
        ],
    ),
    (
        "name-too-long",
        cron_job(name="n" * 53),
        [f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters'],
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in CRON_JOB_CASES], ids=[c[0] for c in CRON_JOB_CASES]
)
def test_cron_job_create(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(CRON_JOB, obj) == expected


def test_cron_job_update_skips_the_name_length_limit() -> None:
    assert update_errors(CRON_JOB, cron_job(name="n" * 53), setter("spec.suspend", True)) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty spec string"),
        ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("-1 * * * *", 'failed to parse int from : strconv.Atoi: parsing "": invalid syntax'),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/2/3 * * * *", "too many slashes: */2/3"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("* * * 13 * ", "end of range (13) above maximum (12): 13"),
        ("@every 10", 'failed to parse duration @every 10: time: missing unit in duration "10"'),
        ("@every 5x", 'failed to parse duration @every 5x: time: unknown unit "x" in duration "5x"'),
        ("TZ=Nowhere/City * * * * *", "provided bad location Nowhere/City: unknown time zone Nowhere/City"),
    ],
    ids=[
        "empty",
        "six-fields",
        "not-a-number",
        "negative",
        "backwards",
        "hyphens",
        "slashes",
        "zero-step",
        "dom-zero",
        "month-13",
        "every-no-unit",
        "every-bad-unit",
        "bad-tz",
    ],
)
def test_cron_parse_errors_are_robfig_s(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as info:
        cron.parse_standard(spec)
    assert str(info.value) == message


UTC = datetime.UTC


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        (
            "*/15 * * * *",
            datetime.datetime(2026, 1, 1, 10, 7, 30, tzinfo=UTC),
            datetime.datetime(2026, 1, 1, 10, 15, tzinfo=UTC),
        ),
        (
            "0 3 * * *",
            datetime.datetime(2026, 1, 1, 3, 0, tzinfo=UTC),
            datetime.datetime(2026, 1, 2, 3, 0, tzinfo=UTC),
        ),
        (
            "@hourly",
            datetime.datetime(2026, 1, 1, 23, 59, tzinfo=UTC),
            datetime.datetime(2026, 1, 2, 0, 0, tzinfo=UTC),
        ),
        ("0 0 29 2 *", datetime.datetime(2026, 1, 1, tzinfo=UTC), datetime.datetime(2028, 2, 29, tzinfo=UTC)),
        # day-of-month and day-of-week are OR-ed when neither is "*": the 13th, or any Friday
        (
            "0 12 13 * fri",
            datetime.datetime(2026, 2, 1, tzinfo=UTC),
            datetime.datetime(2026, 2, 6, 12, 0, tzinfo=UTC),
        ),
        (
            "@every 90s",
            datetime.datetime(2026, 1, 1, 0, 0, 0, 500, tzinfo=UTC),
            datetime.datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC),
        ),
        ("0 0 30 2 *", datetime.datetime(2026, 1, 1, tzinfo=UTC), None),
    ],
    ids=[
        "quarter-hour",
        "daily-strictly-after",
        "hourly-wraps-day",
        "leap-day",
        "dom-or-dow",
        "every",
        "never",
    ],
)
def test_cron_next(spec: str, after: datetime.datetime, expected: datetime.datetime | None) -> None:
    assert cron.parse_standard(spec).next(after) == expected


# --- HorizontalPodAutoscaler --------------------------------------------------------------------------------


def hpa(**spec: Any) -> dict[str, Any]:
    base = {
        "maxReplicas": 5,
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
    }
    return {"metadata": meta(), "spec": {**base, **spec}}


HPA_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", hpa(), []),
    (
        "min-replicas",
        hpa(minReplicas=0),
        [
            "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
            "spec.metrics: Forbidden: must specify at least one Object or External metric to support "
            "scaling to zero replicas",
        ],
    ),
    (
        "max-below-min",
        hpa(minReplicas=6),
        ["spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"],
    ),
    (
        "max-zero",
        hpa(maxReplicas=0),
        [
            "spec.maxReplicas: Invalid value: 0: must be greater than 0",
            "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
        ],
    ),
    (
        "scale-target-ref",
        hpa(scaleTargetRef={"kind": "Deployment", "name": "a/b"}),
        ["spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'"],
    ),
    (
        "scale-target-ref-required",
        hpa(scaleTargetRef={}),
        ["spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value"],
    ),
    (
        "metric-source-missing",
        hpa(metrics=[{"type": "Pods"}]),
        ["spec.metrics[0].pods: Required value: must populate information for the given metric source"],
    ),
    (
        "resource-target",
        hpa(
            metrics=[
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}},
                }
            ]
        ),
        ["spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"],
    ),
    (
        "behavior-policy",
        hpa(behavior={"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}]}}),
        [
            "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
            "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or "
            "equal to 1800",
        ],
    ),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in HPA_CASES], ids=[c[0] for c in HPA_CASES])
def test_hpa_create(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(HPA, obj) == expected


def test_hpa_update_keeps_an_existing_zero_min_replicas() -> None:
    old = hpa(
        minReplicas=0,
        metrics=[
            {
                "type": "External",
                "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "10"}},
            }
        ],
    )
    old_errors = create_errors(HPA, copy.deepcopy(old))
    assert old_errors == ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"]
    assert update_errors(HPA, old, setter("spec.maxReplicas", 10)) == []
