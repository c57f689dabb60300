"""The HPA's replica calculator for Resource metrics: metrics.k8s.io PodMetrics in, a replica count out.

A pure port of upstream's ``pkg/controller/podautoscaler/replica_calculator.go`` and the resource half of
its metrics client, for ``Utilization`` (percentage of the pods' requests) and ``AverageValue`` targets:

- metrics come from the ``podmetrics`` objects in the cache whose labels match the target's selector (the
  pod's labels, as metrics-server serves them); a pod's value is the sum over its containers in
  milli-units, and a pod with a container lacking the resource has no value;
- pods being deleted or Failed are ignored; Pending pods, and for ``cpu`` pods not yet Ready or still in
  their first ``cpu_initialization_period`` (5 min) with a sample taken before they turned Ready, are
  *unready*; Running pods without a sample are *missing*;
- the usage ratio (current / target) within the tolerance (0.1 either side) keeps the current count. With
  missing pods, they count as using 100% of their request (or the target, if above 100%) on a scale-down
  and 0% on a scale-up; on a scale-up unready pods count as 0%. If that flips the direction, or the
  recomputed ratio falls within the tolerance, the count stays.

Errors are ``MetricsError`` with upstream's text, so the controller can word its events and conditions
exactly as upstream does (``unable to get metrics for resource cpu: no metrics returned from resource
metrics API``, ``did not receive metrics for targeted pods (pods might be unready)``, ``missing request
for cpu in container app of Pod web-1``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from actors.controllers import framework as fw
from kube import cron, labels, meta, quantity

Obj = dict[str, Any]

DEFAULT_TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay


class MetricsError(Exception):
    """A replica count that cannot be computed; ``str()`` is upstream's error text."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PodMetric:
    value: int  # milli-units
    timestamp: float
    window: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Tolerances:
    """Usage ratios within [1 - down, 1 + up] keep the current count."""

    down: float = DEFAULT_TOLERANCE
    up: float = DEFAULT_TOLERANCE

    def within(self, ratio: float) -> bool:
        return 1.0 - self.down <= ratio <= 1.0 + self.up


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Calculation:
    replicas: int
    utilization: int | None  # percent of request, for Utilization targets
    raw: int  # average usage in milli-units
    timestamp: float


def resource_metrics(
    cache: fw.Cache, namespace: str, selector: labels.Selector, resource: str, container: str = ""
) -> tuple[dict[str, PodMetric], float]:
    """The pods' usage of ``resource`` by pod name, and the first sample's time (``GetResourceMetric``)."""
    items = [m for m in cache.objects("podmetrics", namespace) if selector.matches(meta.labels_of(m))]
    if not items:
        raise MetricsError(
            f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        )
    result: dict[str, PodMetric] = {}
    for item in items:
        total, missing = 0, not item.get("containers")
        for c in item.get("containers") or []:
            if container and c.get("name") != container:
                continue
            usage = (c.get("usage") or {}).get(resource)
            if usage is None:
                missing = True
                break
            total += quantity.parse(str(usage)).milli_value()
        if not missing:
            result[str(item["metadata"]["name"])] = PodMetric(
                value=total, timestamp=_time(item.get("timestamp")), window=_window(item.get("window"))
            )
    return result, _time(items[0].get("timestamp"))


def _time(text: Any) -> float:
    return meta.parse_rfc3339(str(text)) if text else 0.0


def _window(text: Any) -> float:
    try:
        return cron.parse_go_duration(str(text)) / 1e9 if text else 0.0
    except cron.CronError:
        return 0.0


def pod_requests(pods: list[Obj], resource: str, container: str = "") -> dict[str, int]:
    """Each pod's request of ``resource`` in milli-units: the pod-level request when set, else the sum over
    its containers and restartable init containers, or the one named ``container`` (``calculateRequests``)."""
    return {str(pod["metadata"]["name"]): _pod_request(pod, resource, container) for pod in pods}


def _pod_request(pod: Obj, resource: str, container: str) -> int:
    name, spec = pod["metadata"]["name"], pod.get("spec") or {}
    pod_level = ((spec.get("resources") or {}).get("requests") or {}).get(resource)
    if pod_level is not None and not container:
        return quantity.parse(str(pod_level)).milli_value()
    containers = [*(spec.get("containers") or [])]
    containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    total = 0
    for c in containers:
        if container and c.get("name") != container:
            continue
        value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
        if value is None:
            raise MetricsError(f"missing request for {resource} in container {c.get('name')} of Pod {name}")
        total += quantity.parse(str(value)).milli_value()
        if container:
            return total
    if container:
        raise MetricsError(f"container {container} not found in Pod {name}")
    return total


def _condition(pod: Obj, kind: str) -> Obj | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def group_pods(
    pods: list[Obj],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now: float,
    *,
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
    initial_readiness_delay: float = INITIAL_READINESS_DELAY,
) -> tuple[int, set[str], set[str], set[str]]:
    """(ready count, unready, missing, ignored) pod names, as upstream's ``groupPods``."""
    ready, unready, missing, ignored = 0, set[str](), set[str](), set[str]()
    for pod in pods:
        name, status = pod["metadata"]["name"], pod.get("status") or {}
        phase = status.get("phase")
        if fw.is_terminating(pod) or phase == "Failed":
            ignored.add(name)
            continue
        if phase == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            condition, started = _condition(pod, "Ready"), status.get("startTime")
            if condition is None or not started:
                not_ready = True
            else:
                start = meta.parse_rfc3339(started)
                changed = _time(condition.get("lastTransitionTime"))
                if start + cpu_initialization_period > now:
                    # in the initialisation period: unready, or no full sample since it turned Ready
                    not_ready = (
                        condition.get("status") == "False" or metric.timestamp < changed + metric.window
                    )
                else:
                    # unready and never Ready since it started
                    not_ready = (
                        condition.get("status") == "False" and start + initial_readiness_delay > changed
                    )
            if not_ready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def utilization_ratio(
    metrics: Mapping[str, PodMetric], requests: Mapping[str, int], target: int
) -> tuple[float, int, int]:
    """(usage ratio, utilization percent, average raw value): upstream's ``GetResourceUtilizationRatio``."""
    used = [(m.value, requests[name]) for name, m in metrics.items() if name in requests]
    requested = sum(r for _, r in used)
    if requested == 0:
        raise MetricsError("no metrics returned matched known pods")
    utilization = sum(v for v, _ in used) * 100 // requested
    return utilization / target, utilization, sum(v for v, _ in used) // len(used)


def usage_ratio(metrics: Mapping[str, PodMetric], target: int) -> tuple[float, int]:
    """(usage ratio, average usage), as upstream's ``GetMetricUsageRatio``."""
    average = sum(m.value for m in metrics.values()) // len(metrics)
    return average / target, average


def resource_replicas(
    *,
    current: int,
    pods: list[Obj],
    metrics: dict[str, PodMetric],
    timestamp: float,
    resource: str,
    now: float,
    target_utilization: int | None = None,
    target_value: int | None = None,
    tolerances: Tolerances = Tolerances(),
    container: str = "",
) -> Calculation:
    """The replica count for a Utilization target (percent) or an AverageValue target (milli-units)."""
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    metrics = dict(metrics)
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    requests = pod_requests(pods, resource, container) if target_utilization is not None else {}

    def ratio_of(values: dict[str, PodMetric]) -> tuple[float, int | None, int]:
        if target_utilization is not None:
            return utilization_ratio(values, requests, target_utilization)
        ratio, average = usage_ratio(values, int(target_value or 0))
        return ratio, None, average

    ratio, utilization, raw = ratio_of(metrics)

    def result(replicas: int) -> Calculation:
        return Calculation(replicas=replicas, utilization=utilization, raw=raw, timestamp=timestamp)

    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        return result(current if tolerances.within(ratio) else math.ceil(ratio * ready))
    if missing and ratio != 1.0:
        for name in missing:
            if ratio > 1.0:
                fill = 0
            elif target_utilization is not None:
                fill = requests[name] * max(100, target_utilization) // 100
            else:
                fill = int(target_value or 0)
            metrics[name] = PodMetric(value=fill, timestamp=timestamp, window=0.0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = PodMetric(value=0, timestamp=timestamp, window=0.0)
    new_ratio = ratio_of(metrics)[0]
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return result(current)
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return result(current)
    return result(replicas)
