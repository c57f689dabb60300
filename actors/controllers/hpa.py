"""The horizontal pod autoscaler (``horizontal-pod-autoscaler``) for autoscaling/v2, as a pure reconciler.

Each HPA is synced every ``--horizontal-pod-autoscaler-sync-period`` (15 s; ``requeue_after``), as
upstream's ``reconcileAutoscaler``:

- the target's scale is read from the cache (``scaleTargetRef`` kind to resource: Deployment, ReplicaSet,
  StatefulSet, ReplicationController; ``spec.replicas``, and ``spec.selector`` as the scale's selector) and
  written as ``Patch(subresource="scale", {"spec": {"replicas": N}})``. A missing or unknown target is a
  ``FailedGetScale`` event and ``AbleToScale=False`` (``deployments.apps "web" not found``);
- ``Resource`` and ``ContainerResource`` metrics (``Utilization`` of the pods' requests, or
  ``AverageValue``) come from metrics.k8s.io ``PodMetrics`` objects the runner keeps in the cache under
  ``podmetrics``; the count per metric is ``replica_calculator``'s, the largest wins. Pods, Object and
  External metrics have no metrics API here and fail as upstream does without one;
- the count is clamped to ``[minReplicas, maxReplicas]`` and, without ``spec.behavior``, to at most
  ``max(2 * current, 4)``, with the highest recommendation of the last 5 minutes winning on a scale-down;
  with ``spec.behavior``, its stabilisation windows and rate policies apply (the apiserver defaults them:
  up 0 s and max(100 %, 4 pods) per 15 s, down 300 s and 100 % per 15 s);
- ``status``: ``currentReplicas``, ``desiredReplicas``, ``currentMetrics``, ``lastScaleTime`` and the
  conditions ``AbleToScale`` (``SucceededGetScale``, ``SucceededRescale``, ``ReadyForNewScale``,
  ``ScaleDownStabilized``, ``ScaleUpStabilized``, ``FailedGetScale``), ``ScalingActive``
  (``ValidMetricFound``, ``FailedGetResourceMetric``, ``InvalidSelector``, ``AmbiguousSelector``,
  ``ScalingDisabled``) and ``ScalingLimited`` (``DesiredWithinRange``, ``TooManyReplicas``,
  ``TooFewReplicas``, ``ScaleUpLimit``, ``ScaleDownLimit``); events ``SuccessfulRescale`` ("New size: 4;
  reason: cpu resource utilization (percentage of request) above target"), ``FailedGetResourceMetric``,
  ``FailedComputeMetricsReplicas``, ``FailedGetScale``, ``SelectorRequired``.

State: as upstream, the recommendations and the scale events of each HPA live on the controller instance
(keyed ``namespace/name``), timed by ``ctx.now``; so does the time of the last sync, so a reconcile that
comes early (an HPA edit) computes nothing unless the spec's generation moved. Scale events are recorded
when the scale patch is returned, as upstream records them once its update call returned.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

from actors.controllers import framework as fw
from actors.controllers import replica_calculator as rc
from kube import errors, labels, meta, quantity

Obj = dict[str, Any]

SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
DOWNSCALE_STABILISATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR, SCALE_UP_LIMIT_MINIMUM = 2.0, 4.0
TARGETS = {
    ("apps", "Deployment"): "deployments",
    ("apps", "ReplicaSet"): "replicasets",
    ("apps", "StatefulSet"): "statefulsets",
    ("", "ReplicationController"): "replicationcontrollers",
}
MESSAGES = {  # the fixed condition messages, by reason
    "ReadyForNewScale": "recommended size matches current size",
    "ScaleUpStabilized": (
        "recent recommendations were lower than current one, applying the lowest recent recommendation"
    ),
    "ScaleDownStabilized": (
        "recent recommendations were higher than current one, applying the highest recent recommendation"
    ),
    "DesiredWithinRange": "the desired count is within the acceptable range",
    "ScaleUpLimit": "the desired replica count is increasing faster than the maximum scale rate",
    "ScaleDownLimit": "the desired replica count is decreasing faster than the maximum scale rate",
    "TooManyReplicas": "the desired replica count is more than the maximum replica count",
    "TooFewReplicas": "the desired replica count is less than the minimum replica count",
}
_NO_CUSTOM_METRICS = {
    "Pods": ("FailedGetPodsMetric", "custom metrics API (custom.metrics.k8s.io)"),
    "Object": ("FailedGetObjectMetric", "custom metrics API (custom.metrics.k8s.io)"),
    "External": ("FailedGetExternalMetric", "external metrics API (external.metrics.k8s.io)"),
}


@dataclasses.dataclass(slots=True)
class _State:
    recommendations: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    up_events: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    down_events: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    last_sync: float | None = None
    generation: Any = None


class _Failure(Exception):
    """A metric that yielded no count: ``str()`` is the error upstream reports as the "first error", and
    ``condition`` the ``ScalingActive`` reason and message to set when no metric works."""

    def __init__(self, error: str, reason: str, detail: str) -> None:
        super().__init__(error)
        self.condition = (reason, f"the HPA was unable to compute the replica count: {detail}")


def resolve_target(cache: fw.Cache, namespace: str, ref: Obj) -> tuple[str, Obj] | str:
    """(resource, object) of a ``scaleTargetRef``, or upstream's error text for it."""
    api_version, kind, name = (str(ref.get(k) or "") for k in ("apiVersion", "kind", "name"))
    if api_version.count("/") > 1:
        return f"unexpected GroupVersion string: {api_version}"
    group = api_version.split("/")[0] if "/" in api_version else ""
    resource = TARGETS.get((group, kind))
    if resource is None:
        return f'no matches for kind "{kind}" in group "{group}"'
    target = cache.get(resource, namespace, name)
    if target is None:
        return f'{resource}.{group} "{name}" not found' if group else f'{resource} "{name}" not found'
    return resource, target


def set_condition(status: Obj, kind: str, value: str, reason: str, message: str, now: float) -> None:
    """Upstream's ``setCondition``: add or update; the transition time moves only when the status does."""
    conditions: list[Obj] = status.setdefault("conditions", [])
    existing = next((c for c in conditions if c.get("type") == kind), None)
    if existing is None:
        existing = {"type": kind}
        conditions.append(existing)
    if existing.get("status") != value:
        existing["lastTransitionTime"] = meta.now_rfc3339(now)
    existing.update(status=value, reason=reason, message=message)


class HorizontalPodAutoscalerController:
    """``horizontal-pod-autoscaler``: see the module docstring. Keys are ``namespace/name`` of HPAs."""

    name: str = "horizontal-pod-autoscaler"
    resource: str = "horizontalpodautoscalers"
    kind: str = "HorizontalPodAutoscaler"
    watches: tuple[str, ...] = (
        "horizontalpodautoscalers",
        "pods",
        "deployments",
        "replicasets",
        "statefulsets",
        "replicationcontrollers",
        "podmetrics",
    )

    def __init__(
        self,
        *,
        sync_period: float = SYNC_PERIOD,
        downscale_stabilisation: float = DOWNSCALE_STABILISATION,
        tolerance: float = rc.DEFAULT_TOLERANCE,
    ) -> None:
        self.sync_period = sync_period
        self.downscale_stabilisation = downscale_stabilisation
        self.tolerance = tolerance
        self.states: dict[str, _State] = {}

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: fw.Cache) -> Iterable[str]:
        """Only HPA events: pods, metrics and targets are read at the next periodic sync, as upstream."""
        if resource != self.resource:
            return []
        key = fw.key_of(obj)
        if (
            old is None
            or _generation(old) != _generation(obj)
            or cache.get(self.resource, *fw.split_key(key)) is None
        ):
            return [key]  # added, spec changed, or deleted (to forget its history)
        return []

    def reconcile(self, key: str, cache: fw.Cache, ctx: fw.Context) -> fw.Result:
        namespace, name = fw.split_key(key)
        hpa = cache.get(self.resource, namespace, name)
        if hpa is None:
            self.states.pop(key, None)
            return fw.Result()
        state = self.states.setdefault(key, _State())
        generation = (hpa.get("metadata") or {}).get("generation")
        if state.last_sync is not None and state.generation == generation:
            wait = self.sync_period - (ctx.now - state.last_sync)
            if wait > 0:
                return fw.Result(requeue_after=wait)
        state.last_sync, state.generation = ctx.now, generation
        actions = _Sync(self, key, state, hpa, cache, ctx.now).run()
        return fw.Result(actions=actions, requeue_after=self.sync_period)


class _Sync:
    """One ``reconcileAutoscaler``: works on a copy of the HPA and collects the actions."""

    def __init__(
        self,
        ctl: HorizontalPodAutoscalerController,
        key: str,
        state: _State,
        hpa: Obj,
        cache: fw.Cache,
        now: float,
    ) -> None:
        self.ctl, self.key, self.state, self.cache, self.now = ctl, key, state, cache, now
        self.original = meta.deep_copy(hpa.get("status") or {})
        self.hpa = meta.deep_copy(hpa)
        self.spec: Obj = self.hpa.get("spec") or {}
        self.status: Obj = self.hpa.setdefault("status", {})
        self.namespace = str(self.hpa["metadata"].get("namespace") or "")
        self.actions: list[fw.Action] = []
        self.events: list[fw.Action] = []

    def event(self, kind: str, reason: str, message: str) -> None:
        self.events.append(fw.Event(obj=self.hpa, type=kind, reason=reason, message=message))

    def condition(self, kind: str, value: str, reason: str, message: str) -> None:
        set_condition(self.status, kind, value, reason, message, self.now)

    def finish(self) -> list[fw.Action]:
        if self.status != self.original:
            self.actions.append(fw.Update(resource=self.ctl.resource, body=self.hpa, subresource="status"))
        return self.actions + self.events

    def set_status(self, current: int, desired: int, metrics: list[Obj] | None, rescaled: bool) -> None:
        status: Obj = {"currentReplicas": current, "desiredReplicas": desired}
        if self.status.get("lastScaleTime"):
            status["lastScaleTime"] = self.status["lastScaleTime"]
        if rescaled:
            status["lastScaleTime"] = meta.now_rfc3339(self.now)
        if metrics:
            status["currentMetrics"] = metrics
        if not status["currentReplicas"]:
            del status["currentReplicas"]
        status["conditions"] = self.status.get("conditions") or []
        self.status.clear()
        self.status.update(status)

    def run(self) -> list[fw.Action]:
        ref = self.spec.get("scaleTargetRef") or {}
        found = resolve_target(self.cache, self.namespace, ref)
        if isinstance(found, str):
            self.event("Warning", "FailedGetScale", found)
            message = f"the HPA controller was unable to get the target's current scale: {found}"
            self.condition("AbleToScale", "False", "FailedGetScale", message)
            return self.finish()
        resource, target = found
        self.condition(
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = int((target.get("spec") or {}).get("replicas", 1))
        if not self.state.recommendations:
            self.state.recommendations.append((current, self.now))
        minimum = int(self.spec["minReplicas"]) if self.spec.get("minReplicas") is not None else 1
        maximum = int(self.spec.get("maxReplicas", 0))
        metrics: list[Obj] | None = None
        reason = ""
        rescale = True
        if current == 0 and minimum != 0:
            desired, rescale = 0, False
            message = "scaling is disabled since the replica count of the target is zero"
            self.condition("ScalingActive", "False", "ScalingDisabled", message)
        elif current > maximum:
            desired, reason = maximum, "Current number of replicas above Spec.MaxReplicas"
        elif current < minimum:
            desired, reason = minimum, "Current number of replicas below Spec.MinReplicas"
        else:
            proposed, metric_name, metrics, error = self.compute_metrics(target, current)
            if proposed == -1:
                self.set_status(current, int(self.status.get("desiredReplicas") or 0), metrics, False)
                self.event("Warning", "FailedComputeMetricsReplicas", error or "")
                return self.finish()
            desired = max(proposed, 0)
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
            if self.spec.get("behavior") is None:
                desired = self.normalize(current, desired, minimum, maximum)
            else:
                desired = self.normalize_with_behaviors(current, desired, minimum, maximum)
            rescale = desired != current
        if rescale:
            md = target["metadata"]
            patch = {"spec": {"replicas": desired}}
            self.actions.append(
                fw.Patch(
                    resource=resource,
                    namespace=md.get("namespace"),
                    name=md["name"],
                    patch=patch,
                    subresource="scale",
                )
            )
            self.condition(
                "AbleToScale",
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            )
            self.event("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            self.store_scale_event(current, desired)
        else:
            desired = current
        self.set_status(current, desired, metrics, rescale)
        return self.finish()

    # -- the target and its pods -------------------------------------------------------------------------

    def selector(self, target: Obj) -> tuple[labels.Selector, list[Obj]] | str:
        """The scale's selector and the pods it selects, or upstream's error text (with the event and
        condition set): missing, unparseable, or selecting pods another HPA also selects."""
        raw = (target.get("spec") or {}).get("selector")
        if not raw or (isinstance(raw, dict) and not any(raw.values())):
            self.event("Warning", "SelectorRequired", "selector is required")
            self.condition(
                "ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector"
            )
            return "selector is required"
        try:
            selector = fw.selector_of(target)
        except errors.KubeError as e:
            message = f"couldn't convert selector into a corresponding internal selector object: {e}"
            self.event("Warning", "InvalidSelector", message)
            self.condition("ScalingActive", "False", "InvalidSelector", message)
            return message
        pods = self.pods(selector)
        controlling = sorted({self.key, *self.other_hpas_selecting(pods)})
        if len(controlling) > 1:
            message = (
                f"pods by selector {selector} are controlled by multiple HPAs: [{' '.join(controlling)}]"
            )
            self.event("Warning", "AmbiguousSelector", message)
            self.condition("ScalingActive", "False", "AmbiguousSelector", message)
            return message
        return selector, pods

    def pods(self, selector: labels.Selector) -> list[Obj]:
        exact = next(
            (
                (r.key, v)
                for r in selector.requirements
                if (v := selector.requires_exact_match(r.key)) is not None
            ),
            None,
        )
        if exact is not None:
            candidates = self.cache.by_index("pods", fw.LABEL, f"{exact[0]}={exact[1]}")
        else:
            candidates = self.cache.objects("pods", self.namespace)
        ns = self.namespace
        return [
            p
            for p in candidates
            if (p.get("metadata") or {}).get("namespace") == ns and selector.matches(meta.labels_of(p))
        ]

    def other_hpas_selecting(self, pods: list[Obj]) -> Iterable[str]:
        """Keys of the other HPAs in the namespace whose target's selector matches one of ``pods``
        (upstream keeps a reverse index of HPA selectors; here a label-pair prefilter keeps it cheap)."""
        if not pods:
            return
        pairs = {f"{k}={v}" for p in pods for k, v in meta.labels_of(p).items()}
        for other in self.cache.objects(self.ctl.resource, self.namespace):
            key = fw.key_of(other)
            ref = (other.get("spec") or {}).get("scaleTargetRef") or {}
            found = resolve_target(self.cache, self.namespace, ref) if key != self.key else ""
            if isinstance(found, str) or not (found[1].get("spec") or {}).get("selector"):
                continue
            try:
                theirs = fw.selector_of(found[1])
            except errors.KubeError:
                continue
            exact = next(
                (f"{r.key}={v}" for r in theirs.requirements if (v := theirs.requires_exact_match(r.key))),
                None,
            )
            if exact is not None and exact not in pairs:
                continue
            if any(theirs.matches(meta.labels_of(p)) for p in pods):
                yield key

    # -- metrics -----------------------------------------------------------------------------------------

    def compute_metrics(self, target: Obj, current: int) -> tuple[int, str, list[Obj] | None, str | None]:
        """(replicas or -1, the winning metric's description, metric statuses, error), as upstream's
        ``computeReplicasForMetrics``."""
        selected = self.selector(target)
        if isinstance(selected, str):
            return -1, "", None, selected
        selector, pods = selected
        specs: list[Obj] = self.spec.get("metrics") or []
        statuses: list[Obj] = []
        replicas, metric = 0, ""
        failures: list[_Failure] = []
        for spec in specs:
            try:
                proposal, name, status = self.compute_metric(spec, current, selector, pods)
            except _Failure as failure:
                failures.append(failure)
                statuses.append({"type": ""})
                continue
            statuses.append(status)
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        error = None
        if failures:
            count = f"{len(failures)} invalid out of {len(specs)}"
            error = f"invalid metrics ({count}), first error is: {failures[0]}"
        if (failures and len(failures) >= len(specs)) or (failures and replicas < current):
            reason, message = failures[0].condition
            self.condition("ScalingActive", "False", reason, message)
            return -1, "", statuses, error
        message = f"the HPA was able to successfully calculate a replica count from {metric}"
        self.condition("ScalingActive", "True", "ValidMetricFound", message)
        return replicas, metric, statuses, error

    def compute_metric(
        self, spec: Obj, current: int, selector: labels.Selector, pods: list[Obj]
    ) -> tuple[int, str, Obj]:
        kind = str(spec.get("type") or "")
        if kind in ("Resource", "ContainerResource"):
            field = "resource" if kind == "Resource" else "containerResource"
            source = spec.get(field) or {}
            container = str(source.get("container") or "")
            resource = str(source.get("name") or "")
            reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
            try:
                proposal, name, value = self.resource_metric(
                    source, resource, container, current, selector, pods
                )
            except rc.MetricsError as e:
                self.event("Warning", reason, str(e))
                subject = f"{resource} resource" if kind == "Resource" else f"{container} container"
                raise _Failure(f"failed to get {subject} metric value: {e}", reason, str(e)) from e
            if kind == "ContainerResource":
                name = name.replace(" resource ", " container resource ")
            status_body: Obj = {"name": resource, "current": value}
            if container:
                status_body["container"] = container
            return proposal, name, {"type": kind, field: status_body}
        if kind in _NO_CUSTOM_METRICS:
            reason, api = _NO_CUSTOM_METRICS[kind]
            metric_name = ((spec.get(kind[0].lower() + kind[1:]) or {}).get("metric") or {}).get("name", "")
            message = (
                f"unable to get metric {metric_name}: unable to fetch metrics from {api}: no {api} registered"
            )
            self.event("Warning", reason, message)
            subject = f"{metric_name} external" if kind == "External" else kind.lower()
            raise _Failure(f"failed to get {subject} metric value: {message}", reason, message)
        message = f'unknown metric source type "{kind}"'
        self.event("Warning", "InvalidMetricSourceType", message)
        raise _Failure(message, "InvalidMetricSourceType", message)

    def resource_metric(
        self,
        source: Obj,
        resource: str,
        container: str,
        current: int,
        selector: labels.Selector,
        pods: list[Obj],
    ) -> tuple[int, str, Obj]:
        """(replicas, description, ``current`` of the metric status) for a Resource metric."""
        target = source.get("target") or {}
        if target.get("averageValue") is not None:
            kwargs: dict[str, Any] = {
                "target_value": quantity.parse(str(target["averageValue"])).milli_value()
            }
            what, name = "usage", f"{resource} resource"
        elif target.get("averageUtilization") is not None:
            kwargs = {"target_utilization": int(target["averageUtilization"])}
            what, name = "utilization", f"{resource} resource utilization (percentage of request)"
        else:
            raise rc.MetricsError(
                "invalid resource metric source: neither an average utilization target nor an average value "
                "(usage) target was set"
            )
        try:
            metrics, stamp = rc.resource_metrics(self.cache, self.namespace, selector, resource, container)
            calc = rc.resource_replicas(
                current=current,
                pods=pods,
                metrics=metrics,
                timestamp=stamp,
                resource=resource,
                now=self.now,
                tolerances=self.tolerances(),
                container=container,
                **kwargs,
            )
        except rc.MetricsError as e:
            raise rc.MetricsError(f"failed to get {resource} {what}: {e}") from e
        value: Obj = {"averageValue": str(quantity.Quantity.from_milli(calc.raw))}
        if calc.utilization is not None:
            value = {"averageUtilization": calc.utilization, **value}
        return calc.replicas, name, value

    def tolerances(self) -> rc.Tolerances:
        behavior = self.spec.get("behavior") or {}

        def of(direction: str) -> float:
            given = (behavior.get(direction) or {}).get("tolerance")
            return quantity.parse(str(given)).as_float() if given is not None else self.ctl.tolerance

        return rc.Tolerances(down=of("scaleDown"), up=of("scaleUp"))

    # -- normalisation -----------------------------------------------------------------------------------

    def normalize(self, current: int, desired: int, minimum: int, maximum: int) -> int:
        """Without ``behavior``: downscale stabilisation, then min/max and the 2x-or-4 scale-up limit."""
        cutoff, stabilized, old = self.now - self.ctl.downscale_stabilisation, desired, None
        for i, (replicas, at) in enumerate(self.state.recommendations):
            if at < cutoff:
                old = i
            elif replicas > stabilized:
                stabilized = replicas
        self.record(desired, old)
        self.able_to_scale("ScaleDownStabilized" if stabilized != desired else "ReadyForNewScale")
        limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
        allowed, reason = (limit, "ScaleUpLimit") if maximum > limit else (maximum, "TooManyReplicas")
        if stabilized < minimum:
            result, reason = minimum, "TooFewReplicas"
        elif stabilized > allowed:
            result = allowed
        else:
            result, reason = stabilized, "DesiredWithinRange"
        return self.limited(result, stabilized, reason)

    def normalize_with_behaviors(self, current: int, desired: int, minimum: int, maximum: int) -> int:
        """With ``behavior``: both stabilisation windows, then min/max and the rate policies."""
        behavior = self.spec["behavior"]
        up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
        up_cutoff = self.now - float(up.get("stabilizationWindowSeconds", 0))
        window = down.get("stabilizationWindowSeconds")
        down_cutoff = self.now - (float(window) if window is not None else self.ctl.downscale_stabilisation)
        up_rec, down_rec, old = desired, desired, None
        for i, (replicas, at) in enumerate(self.state.recommendations):
            if at > up_cutoff:
                up_rec = min(up_rec, replicas)
            if at > down_cutoff:
                down_rec = max(down_rec, replicas)
            if at < up_cutoff and at < down_cutoff:
                old = i
        stabilized = min(max(current, up_rec), down_rec)
        self.record(desired, old)
        if stabilized == desired:
            self.able_to_scale("ReadyForNewScale")
        else:
            self.able_to_scale("ScaleUpStabilized" if desired >= current else "ScaleDownStabilized")
        result, reason = stabilized, "DesiredWithinRange"
        if stabilized > current:
            limit = max(self.scale_limit(current, up, up=True), current)
            allowed, why = (limit, "ScaleUpLimit") if maximum > limit else (maximum, "TooManyReplicas")
            if stabilized > allowed:
                result, reason = allowed, why
        elif stabilized < current:
            limit = min(self.scale_limit(current, down, up=False), current)
            allowed, why = (limit, "ScaleDownLimit") if minimum < limit else (minimum, "TooFewReplicas")
            if stabilized < allowed:
                result, reason = allowed, why
        return self.limited(result, stabilized, reason)

    def able_to_scale(self, reason: str) -> None:
        self.condition("AbleToScale", "True", reason, MESSAGES[reason])

    def limited(self, result: int, stabilized: int, reason: str) -> int:
        self.condition(
            "ScalingLimited", "False" if result == stabilized else "True", reason, MESSAGES[reason]
        )
        return result

    def record(self, desired: int, old: int | None) -> None:
        """Keep the unstabilised recommendation, in place of one that has left every window."""
        if old is not None:
            self.state.recommendations[old] = (desired, self.now)
        else:
            self.state.recommendations.append((desired, self.now))

    def scale_limit(self, current: int, rules: Obj, *, up: bool) -> int:
        """The most (up) or fewest (down) replicas the rate policies allow now
        (``calculateScaleUpLimitWithScalingRules`` / ``calculateScaleDownLimitWithBehaviors``)."""
        select = rules.get("selectPolicy") or "Max"
        if select == "Disabled":
            return current
        proposals = []
        for policy in rules.get("policies") or []:
            period = float(policy.get("periodSeconds") or 0)
            added = sum(c for c, at in self.state.up_events if at > self.now - period)
            removed = sum(c for c, at in self.state.down_events if at > self.now - period)
            start = current - added + removed
            value = int(policy.get("value") or 0)
            if policy.get("type") == "Pods":
                proposals.append(start + value if up else start - value)
            elif up:
                proposals.append(math.ceil(start * (1 + value / 100)))
            else:
                proposals.append(int(start * (1 - value / 100)))
        if not proposals:
            return current
        # "Max" picks the largest change: the highest count up, the lowest down
        largest_change = select != "Min"
        return max(proposals) if largest_change == up else min(proposals)

    def store_scale_event(self, previous: int, new: int) -> None:
        behavior = self.spec.get("behavior")
        if behavior is None:
            return
        up = new > previous
        rules = behavior.get("scaleUp" if up else "scaleDown") or {}
        longest = max((float(p.get("periodSeconds") or 0) for p in rules.get("policies") or []), default=0.0)
        events = self.state.up_events if up else self.state.down_events
        events[:] = [e for e in events if e[1] >= self.now - longest]  # outdated ones are replaced
        events.append((abs(new - previous), self.now))


def _generation(obj: Obj) -> Any:
    return (obj.get("metadata") or {}).get("generation")
