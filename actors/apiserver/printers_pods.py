"""The pod table printer: what ``kubectl get pods`` shows, computed as upstream's ``printPod`` (1.32).

STATUS keeps upstream's order of precedence exactly: the pod's own reason (``Evicted``,
``SchedulingGated``), then init containers (``Init:1/3``, ``Init:CrashLoopBackOff``, ``Init:ExitCode:1``),
then app containers from last to first so the first container's state wins (``CrashLoopBackOff``,
``Completed``, ``Error``), then ``Terminating`` for a pod being deleted that has not finished. READY counts
ready app containers and started sidecars (restartable init containers) over both; RESTARTS adds
``(5m ago)`` from the latest ``lastState.terminated.finishedAt``.
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
    human_duration,
    int_or,
    items,
    name_of,
    parse_time,
)

_NODE_UNREACHABLE_POD_REASON = "NodeLost"
_TERMINAL_PHASES = ("Succeeded", "Failed")

_POD_COLUMNS = (
    NAME,
    Column(name="Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    Column(name="Status", description="The aggregate status of the containers in this pod."),
    Column(
        name="Restarts",
        description="The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted.",
    ),
    AGE,
    Column(
        name="IP",
        priority=1,
        description="podIP address allocated to the pod. Routable at least within the cluster. "
        "Empty if not yet allocated.",
    ),
    Column(
        name="Node",
        priority=1,
        description="NodeName is a request to schedule this pod onto a specific node. If it is non-empty, "
        "the scheduler simply schedules this pod onto that node, assuming that it fits resource "
        "requirements.",
    ),
    Column(
        name="Nominated Node",
        priority=1,
        description="nominatedNodeName is set only when this pod preempts other pods on the node, but it "
        "cannot be scheduled right away as preemption victims receive their graceful termination periods. "
        "This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to "
        "place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give "
        "the resources on this node to a higher priority pod that is created after preemption. As a result, "
        "this field may be different than PodSpec.nodeName when the pod is scheduled.",
    ),
    Column(
        name="Readiness Gates",
        priority=1,
        description="If specified, all readiness gates will be evaluated for pod readiness. A pod is ready "
        "when all its containers are ready AND all conditions specified in the readiness gates have status "
        'equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
    ),
)


def _later(current: float | None, status: Mapping[str, Any]) -> float | None:
    """The later of ``current`` and when the container last terminated (``lastState.terminated``)."""
    finished = parse_time(field(status, "lastState", "terminated", "finishedAt"))
    if finished is None or (current is not None and finished <= current):
        return current
    return finished


def _exit_reason(terminated: Mapping[str, Any], prefix: str) -> str:
    """A terminated container's reason, or ``Signal:N`` / ``ExitCode:N`` when it gives none."""
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    signal = int_or(terminated.get("signal"))
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{int_or(terminated.get('exitCode'))}"


def _pod_cells(pod: Mapping[str, Any], now: float) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    conditions = items(status, "conditions")
    init_containers = items(spec, "initContainers")
    restartable = [c for c in init_containers if c.get("restartPolicy") == "Always"]
    sidecars = {c.get("name") for c in restartable}
    total = len(items(spec, "containers")) + len(restartable)
    ready = restarts = sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None
    phase = str(status.get("phase") or "Pending")  # the create strategy always sets a phase
    reason = str(status.get("reason") or phase)
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    for i, cs in enumerate(items(status, "initContainerStatuses")):
        restarts += int_or(cs.get("restartCount"))
        last_restart = _later(last_restart, cs)
        sidecar = cs.get("name") in sidecars
        if sidecar:
            sidecar_restarts += int_or(cs.get("restartCount"))
            last_sidecar_restart = _later(last_sidecar_restart, cs)
        terminated, waiting = field(cs, "state", "terminated"), field(cs, "state", "waiting")
        if terminated is not None and int_or(terminated.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started") is True:
            ready += 1 if cs.get("ready") else 0
            continue
        if terminated is not None:
            reason = _exit_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{len(init_containers)}"
        initializing = True
        break

    if not initializing or condition_status(conditions, "Initialized") == "True":
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(items(status, "containerStatuses")):
            restarts += int_or(cs.get("restartCount"))
            last_restart = _later(last_restart, cs)
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated is not None:
                reason = _exit_reason(terminated, "")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # A pod whose containers completed but one still runs is back to Running (or NotReady).
        if reason == "Completed" and has_running:
            reason = "Running" if condition_status(conditions, "Ready") == "True" else "NotReady"

    if field(pod, "metadata", "deletionTimestamp") is not None:
        if status.get("reason") == _NODE_UNREACHABLE_POD_REASON:
            reason = "Unknown"
        elif phase not in _TERMINAL_PHASES:
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"

    pod_ips = items(status, "podIPs")
    pod_ip = (pod_ips[0].get("ip") if pod_ips else None) or status.get("podIP") or "<none>"
    gates = items(spec, "readinessGates")
    readiness_gates = "<none>"
    if gates:
        true_gates = sum(condition_status(conditions, g.get("conditionType")) == "True" for g in gates)
        readiness_gates = f"{true_gates}/{len(gates)}"
    return [
        name_of(pod),
        f"{ready}/{total}",
        reason,
        restarts_cell,
        age(pod, now),
        pod_ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        readiness_gates,
    ]


def _pod_conditions(pod: Mapping[str, Any]) -> list[dict[str, str]]:
    """Row conditions: a pod that ran to the end is marked ``Completed`` (clients may hide it)."""
    phase = field(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


PRINTER = Printer(columns=_POD_COLUMNS, cells=_pod_cells, conditions=_pod_conditions)
