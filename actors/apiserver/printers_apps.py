"""Table printers of workload controllers: deployments, replica sets, replication controllers, stateful sets,
daemon sets and controller revisions (``apps``), jobs and cron jobs (``batch``), and horizontal pod
autoscalers (``autoscaling``).

Columns and cells follow upstream's ``pkg/printers/internalversion/printers.go`` (Kubernetes 1.32): a
Deployment's READY is ``readyReplicas/replicas``; a Job's STATUS is the first of ``Complete``, ``Failed``,
``Terminating``, ``Suspended``, ``FailureTarget`` that holds, else ``Running``, and its DURATION runs from
``startTime`` to ``completionTime`` (or to now while it runs); an HPA's TARGETS reads ``cpu: 30%/50%``.
Counts are integers, as upstream's cells are ``int64``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.apiserver.printers_common import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    Column,
    Printer,
    age,
    condition_status,
    container_cells,
    field,
    format_label_selector,
    format_labels,
    human_duration,
    int_or,
    items,
    name_of,
    parse_time,
    print_bool,
    quantity_string,
    selector_string,
    since,
)
from kube import errors, meta

_RC_REPLICAS = "replicationcontroller#what-is-a-replicationcontroller"
_RS_REPLICAS = "replicationcontroller/#what-is-a-replicationcontroller"
_DOCS = "More info: https://kubernetes.io/docs/concepts/workloads/controllers/"
_READY = Column(name="Ready", description="Number of the pod with ready state")


def _replicas(obj: Mapping[str, Any]) -> int:
    """``spec.replicas``, defaulted to 1 as the apps and core APIs default it."""
    return int_or(field(obj, "spec", "replicas"), 1)


def _status(obj: Mapping[str, Any], name: str) -> int:
    return int_or(field(obj, "status", name))


def _replication_columns(owner: str, link: str, selector: str) -> tuple[Column, ...]:
    return (
        NAME,
        Column(
            name="Desired",
            type="integer",
            description="Replicas is the number of desired replicas. This is a pointer to distinguish "
            f"between explicit zero and unspecified. Defaults to 1. {_DOCS}{link}",
        ),
        Column(
            name="Current",
            type="integer",
            description=f"Replicas is the most recently observed number of replicas. {_DOCS}{link}",
        ),
        Column(name="Ready", type="integer", description=f"The number of ready replicas for this {owner}."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column(name="Selector", priority=1, description=selector),
    )


def _replication_controller_cells(rc: Mapping[str, Any], now: float) -> list[Any]:
    names, images = container_cells(items(rc, "spec", "template", "spec", "containers"))
    return [
        name_of(rc),
        _replicas(rc),
        _status(rc, "replicas"),
        _status(rc, "readyReplicas"),
        age(rc, now),
        names,
        images,
        format_labels(field(rc, "spec", "selector")),
    ]


def _replica_set_cells(rs: Mapping[str, Any], now: float) -> list[Any]:
    names, images = container_cells(items(rs, "spec", "template", "spec", "containers"))
    return [
        name_of(rs),
        _replicas(rs),
        _status(rs, "replicas"),
        _status(rs, "readyReplicas"),
        age(rs, now),
        names,
        images,
        format_label_selector(field(rs, "spec", "selector")),
    ]


def _deployment_cells(deployment: Mapping[str, Any], now: float) -> list[Any]:
    try:
        selector = selector_string(field(deployment, "spec", "selector"))
    except errors.SelectorError:
        selector = "<invalid>"
    names, images = container_cells(items(deployment, "spec", "template", "spec", "containers"))
    return [
        name_of(deployment),
        f"{_status(deployment, 'readyReplicas')}/{_replicas(deployment)}",
        _status(deployment, "updatedReplicas"),
        _status(deployment, "availableReplicas"),
        age(deployment, now),
        names,
        images,
        selector,
    ]


def _stateful_set_cells(sts: Mapping[str, Any], now: float) -> list[Any]:
    names, images = container_cells(items(sts, "spec", "template", "spec", "containers"))
    return [name_of(sts), f"{_status(sts, 'readyReplicas')}/{_replicas(sts)}", age(sts, now), names, images]


def _daemon_set_cells(ds: Mapping[str, Any], now: float) -> list[Any]:
    names, images = container_cells(items(ds, "spec", "template", "spec", "containers"))
    return [
        name_of(ds),
        _status(ds, "desiredNumberScheduled"),
        _status(ds, "currentNumberScheduled"),
        _status(ds, "numberReady"),
        _status(ds, "updatedNumberScheduled"),
        _status(ds, "numberAvailable"),
        format_labels(field(ds, "spec", "template", "spec", "nodeSelector")),
        age(ds, now),
        names,
        images,
        format_label_selector(field(ds, "spec", "selector")),
    ]


def _controller_revision_cells(revision: Mapping[str, Any], now: float) -> list[Any]:
    controller = "<none>"
    ref = meta.controller_of(revision)
    if ref is not None:
        group = ref.api_version.rpartition("/")[0]
        kind = f"{ref.kind}.{group}" if group else ref.kind
        controller = f"{kind.lower()}/{ref.name}" if kind else ref.name
    return [name_of(revision), controller, int_or(revision.get("revision")), age(revision, now)]


# ---------------------------------------------------------------------------------------------------------
# batch


def _job_cells(job: Mapping[str, Any], now: float) -> list[Any]:
    spec = job.get("spec") or {}
    succeeded = _status(job, "succeeded")
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{int_or(spec['completions'])}"
    elif int_or(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {int_or(spec['parallelism'])}"
    else:
        completions = f"{succeeded}/1"
    started = parse_time(field(job, "status", "startTime"))
    completed = parse_time(field(job, "status", "completionTime"))
    duration = ""
    if started is not None:
        duration = human_duration((now if completed is None else completed) - started)
    conditions = items(job, "status", "conditions")
    if condition_status(conditions, "Complete") == "True":
        status = "Complete"
    elif condition_status(conditions, "Failed") == "True":
        status = "Failed"
    elif field(job, "metadata", "deletionTimestamp") is not None:
        status = "Terminating"
    elif condition_status(conditions, "Suspended") == "True":
        status = "Suspended"
    elif condition_status(conditions, "FailureTarget") == "True":
        status = "FailureTarget"
    else:
        status = "Running"
    names, images = container_cells(items(spec, "template", "spec", "containers"))
    return [
        name_of(job),
        status,
        completions,
        duration,
        age(job, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _cron_job_cells(cron_job: Mapping[str, Any], now: float) -> list[Any]:
    spec = cron_job.get("spec") or {}
    last = field(cron_job, "status", "lastScheduleTime")
    names, images = container_cells(items(spec, "jobTemplate", "spec", "template", "spec", "containers"))
    return [
        name_of(cron_job),
        spec.get("schedule") or "",
        spec.get("timeZone") or "<none>",
        print_bool(spec.get("suspend", False)),  # defaulted to false by the batch API
        len(items(cron_job, "status", "active")),
        "<none>" if last is None else since(last, now),
        age(cron_job, now),
        names,
        images,
        format_label_selector(field(spec, "jobTemplate", "spec", "selector")),
    ]


# ---------------------------------------------------------------------------------------------------------
# autoscaling


def _metric(kind: str, source: Mapping[str, Any], status: Mapping[str, Any] | None) -> str:
    """One ``formatHPAMetrics`` entry: ``current/target``; a missing status reads ``<unknown>``."""
    target = source.get("target") or {}
    current = (status or {}).get("current") or {}
    if kind in ("Resource", "ContainerResource"):
        label = f"{source.get('name', '')}: "
        if target.get("averageValue") is not None:
            value = "<unknown>" if status is None else quantity_string(current.get("averageValue"))
            return f"{label}{value}/{quantity_string(target['averageValue'])}"
        utilization, wanted = current.get("averageUtilization"), target.get("averageUtilization")
        value = "<unknown>" if status is None or utilization is None else f"{utilization}%"
        return f"{label}{value}/{'<auto>' if wanted is None else f'{wanted}%'}"
    if kind == "Pods":
        value = "<unknown>" if status is None else quantity_string(current.get("averageValue"))
        return f"{value}/{quantity_string(target.get('averageValue'))}"
    if target.get("averageValue") is not None:  # Object and External metrics
        average = current.get("averageValue")
        value = "<unknown>" if status is None or average is None else quantity_string(average)
        return f"{value}/{quantity_string(target['averageValue'])} (avg)"
    value = "<unknown>" if status is None else quantity_string(current.get("value"))
    return f"{value}/{quantity_string(target.get('value'))}"


_METRIC_FIELD = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Object": "object",
    "External": "external",
    "Pods": "pods",
}


def format_hpa_metrics(specs: list[Any], statuses: list[Any]) -> str:
    """``formatHPAMetrics``: each metric as ``current/target``, two at most, then `` + N more...``."""
    if not specs:
        return "<none>"
    shown: list[str] = []
    for i, spec in enumerate(specs):
        kind = str(spec.get("type") or "")
        key = _METRIC_FIELD.get(kind)
        if key is None:
            shown.append("<unknown type>")
            continue
        status = statuses[i].get(key) if i < len(statuses) else None
        shown.append(_metric(kind, spec.get(key) or {}, status))
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def _hpa_cells(hpa: Mapping[str, Any], now: float) -> list[Any]:
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    minimum = spec.get("minReplicas")
    return [
        name_of(hpa),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        format_hpa_metrics(items(spec, "metrics"), items(hpa, "status", "currentMetrics")),
        "<unset>" if minimum is None else str(minimum),
        int_or(spec.get("maxReplicas")),
        _status(hpa, "currentReplicas"),
        age(hpa, now),
    ]


_DAEMON_SET_DOCS = f"{_DOCS}daemonset/"
_LABEL_SELECTORS = (
    "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)

PRINTERS: dict[tuple[str, str], Printer] = {
    ("apps", "deployments"): Printer(
        columns=(
            NAME,
            _READY,
            Column(
                name="Up-to-date",
                description="Total number of non-terminated pods targeted by this deployment that have the "
                "desired template spec.",
            ),
            Column(
                name="Available",
                description="Total number of available pods (ready for at least minReadySeconds) targeted by "
                "this deployment.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            Column(
                name="Selector",
                priority=1,
                description="Label selector for pods. Existing ReplicaSets whose pods are selected by this "
                "will be the ones affected by this deployment.",
            ),
        ),
        cells=_deployment_cells,
    ),
    ("apps", "replicasets"): Printer(
        columns=_replication_columns(
            "ReplicaSet",
            _RS_REPLICAS,
            f"Selector is a label query over pods that should match the replica count. {_LABEL_SELECTORS}",
        ),
        cells=_replica_set_cells,
    ),
    ("", "replicationcontrollers"): Printer(
        columns=_replication_columns(
            "replication controller",
            _RC_REPLICAS,
            "Selector is a label query over pods that should match the Replicas count.",
        ),
        cells=_replication_controller_cells,
    ),
    ("apps", "statefulsets"): Printer(
        columns=(NAME, _READY, AGE, CONTAINERS, IMAGES), cells=_stateful_set_cells
    ),
    ("apps", "daemonsets"): Printer(
        columns=(
            NAME,
            Column(
                name="Desired",
                type="integer",
                description="The total number of nodes that should be running the daemon pod (including "
                f"nodes correctly running the daemon pod). {_DAEMON_SET_DOCS}",
            ),
            Column(
                name="Current",
                type="integer",
                description="The number of nodes that are running at least 1 daemon pod and are supposed to "
                f"run the daemon pod. {_DAEMON_SET_DOCS}",
            ),
            Column(
                name="Ready",
                type="integer",
                description="numberReady is the number of nodes that should be running the daemon pod and "
                "have one or more of the daemon pod running with a Ready Condition.",
            ),
            Column(
                name="Up-to-date",
                type="integer",
                description="The total number of nodes that are running updated daemon pod",
            ),
            Column(
                name="Available",
                type="integer",
                description="The number of nodes that should be running the daemon pod and have one or more "
                "of the daemon pod running and available (ready for at least spec.minReadySeconds)",
            ),
            Column(
                name="Node Selector",
                description="NodeSelector is a selector which must be true for the pod to fit on a node.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            Column(
                name="Selector",
                priority=1,
                description="A label query over pods that are managed by the daemon set. Must match in order "
                f"to be controlled. It must match the pod template's labels. {_LABEL_SELECTORS}",
            ),
        ),
        cells=_daemon_set_cells,
    ),
    ("apps", "controllerrevisions"): Printer(
        columns=(
            NAME,
            Column(name="Controller", description="Controller of the object"),
            Column(
                name="Revision",
                description="Revision indicates the revision of the state represented by Data.",
            ),
            AGE,
        ),
        cells=_controller_revision_cells,
    ),
    ("batch", "jobs"): Printer(
        columns=(
            NAME,
            Column(name="Status", description="Status of the job."),
            Column(name="Completions", description="The number of pods which reached phase Succeeded."),
            Column(name="Duration", description="Time required to complete the job."),
            AGE,
            CONTAINERS,
            IMAGES,
            Column(
                name="Selector",
                priority=1,
                description="A label query over pods that should match the pod count. Normally, the system "
                f"sets this field for you. {_LABEL_SELECTORS}",
            ),
        ),
        cells=_job_cells,
    ),
    ("batch", "cronjobs"): Printer(
        columns=(
            NAME,
            Column(
                name="Schedule",
                description="The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
            ),
            Column(name="Timezone", description="The time zone name for the given schedule."),
            Column(
                name="Suspend",
                type="boolean",
                description="This flag tells the controller to suspend subsequent executions, it does not "
                "apply to already started executions.  Defaults to false.",
            ),
            Column(
                name="Active", type="integer", description="A list of pointers to currently running jobs."
            ),
            Column(
                name="Last Schedule",
                description="Information when was the last time the job was successfully scheduled.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            Column(
                name="Selector",
                priority=1,
                description="A label query over pods that should match the pod count. Normally, the system "
                f"sets this field for you. {_LABEL_SELECTORS}",
            ),
        ),
        cells=_cron_job_cells,
    ),
    ("autoscaling", "horizontalpodautoscalers"): Printer(
        columns=(
            NAME,
            Column(
                name="Reference",
                description="scaleTargetRef points to the target resource to scale, and is used to the pods "
                "for which metrics should be collected, as well as to actually change the replica count.",
            ),
            Column(
                name="Targets",
                description="metrics contains the specifications for which to use to calculate the desired "
                "replica count (the maximum replica count across all metrics will be used).",
            ),
            Column(
                name="MinPods",
                description="minReplicas is the lower limit for the number of replicas to which the "
                "autoscaler can scale down.",
            ),
            Column(
                name="MaxPods",
                description="maxReplicas is the upper limit for the number of replicas to which the "
                "autoscaler can scale up.",
            ),
            Column(
                name="Replicas",
                description="currentReplicas is current number of replicas of pods managed by this "
                "autoscaler, as last seen by the autoscaler.",
            ),
            AGE,
        ),
        cells=_hpa_cells,
    ),
}
