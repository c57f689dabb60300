"""The horizontal pod autoscaler as a user sees it: the target's scale follows CPU use within the tolerance,
the limits and the stabilisation window, and what goes wrong shows in conditions and events worded as
upstream's.

The pure controller runs against a ``DictCache`` holding a Deployment, its pods and their PodMetrics; a
tiny in-test apiserver applies the scale patches and status updates, and the test plays the Deployment
controller and metrics-server by resetting the pods and their usage between syncs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actors.controllers import framework as fw
from actors.controllers import hpa as hpactl
from actors.controllers import replica_calculator as rc
from kube import defaults, kinds, labels, meta

T0 = 1_700_000_000.0
Obj = dict[str, Any]


def make_hpa(name: str = "web", target: str = "web", **spec: Any) -> Obj:
    hpa: Obj = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "resourceVersion": "1",
            "generation": 1,
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                }
            ],
            **spec,
        },
    }
    kind = kinds.DEFAULT.by_kind("autoscaling/v2", "HorizontalPodAutoscaler")
    assert kind is not None
    defaults.default(kind, hpa)
    return hpa


def make_deployment(replicas: int, name: str = "web", app: str = "web") -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}},
        "status": {"replicas": replicas},
    }


def make_pod(name: str, *, app: str = "web", phase: str = "Running", started: float = T0 - 3600) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
        "spec": {
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]
        },
        "status": {
            "phase": phase,
            "startTime": meta.now_rfc3339(started),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if phase == "Running" else "False",
                    "lastTransitionTime": meta.now_rfc3339(started + 10),
                }
            ],
        },
    }


def make_metrics(pod: str, cpu: str, at: float, *, app: str = "web") -> Obj:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": pod, "namespace": "default", "labels": {"app": app}},
        "timestamp": meta.now_rfc3339(at),
        "window": "15s",
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": "32Mi"}}],
    }


@dataclasses.dataclass
class Sim:
    cache: fw.DictCache
    controller: hpactl.HorizontalPodAutoscalerController = dataclasses.field(
        default_factory=hpactl.HorizontalPodAutoscalerController
    )
    now: float = T0
    events: list[fw.Event] = dataclasses.field(default_factory=list)
    patches: list[int] = dataclasses.field(default_factory=list)

    def sync(self, key: str = "default/web") -> fw.Result:
        result = self.controller.reconcile(key, self.cache, fw.Context(now=self.now))
        for action in result.actions:
            if isinstance(action, fw.Event):
                self.events.append(action)
            elif isinstance(action, fw.Patch):
                assert action.subresource == "scale"
                target = self.cache.get(action.resource, action.namespace, action.name)
                assert target is not None
                target["spec"]["replicas"] = action.patch["spec"]["replicas"]
                self.patches.append(action.patch["spec"]["replicas"])
            elif isinstance(action, fw.Update):
                assert action.subresource == "status"
                hpa = self.cache.get("horizontalpodautoscalers", "default", action.body["metadata"]["name"])
                assert hpa is not None
                hpa["status"] = meta.deep_copy(action.body["status"])
            else:
                raise AssertionError(action)
        return result

    def load(self, cpu: str, *, replicas: int | None = None) -> None:
        """The Deployment's pods (as many as it asks for) all using ``cpu``, sampled now."""
        deployment = self.cache.get("deployments", "default", "web")
        assert deployment is not None
        count = replicas if replicas is not None else deployment["spec"]["replicas"]
        for resource in ("pods", "podmetrics"):
            for obj in self.cache.objects(resource, "default"):
                if meta.labels_of(obj).get("app") == "web":
                    self.cache.remove(resource, obj)
        for i in range(count):
            self.cache.put("pods", make_pod(f"web-{i}"))
            self.cache.put("podmetrics", make_metrics(f"web-{i}", cpu, self.now))

    def hpa(self, name: str = "web") -> Obj:
        hpa = self.cache.get("horizontalpodautoscalers", "default", name)
        assert hpa is not None
        return hpa

    def said(self, reason: str) -> list[str]:
        return [e.message for e in self.events if e.reason == reason]


def conditions(hpa: Obj) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in hpa["status"].get("conditions", [])}


def new_sim(replicas: int = 2, **hpa_spec: Any) -> Sim:
    return Sim(
        cache=fw.DictCache(
            {"horizontalpodautoscalers": [make_hpa(**hpa_spec)], "deployments": [make_deployment(replicas)]}
        )
    )


def test_scale_up_when_utilization_is_above_target() -> None:
    sim = new_sim(replicas=2)
    sim.load("100m")  # 100% of the request, target 50%
    result = sim.sync()
    assert result.requeue_after == 15.0
    assert sim.patches == [4]
    assert sim.said("SuccessfulRescale") == [
        "New size: 4; reason: cpu resource utilization (percentage of request) above target"
    ]
    status = sim.hpa()["status"]
    assert (status["currentReplicas"], status["desiredReplicas"]) == (2, 4)
    assert status["lastScaleTime"] == meta.now_rfc3339(T0)
    assert status["currentMetrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": 100, "averageValue": "100m"}},
        }
    ]
    assert conditions(sim.hpa()) == {
        "AbleToScale": ("True", "SucceededRescale"),
        "ScalingActive": ("True", "ValidMetricFound"),
        "ScalingLimited": ("False", "DesiredWithinRange"),
    }
    messages = {c["type"]: c["message"] for c in status["conditions"]}
    assert messages["AbleToScale"] == "the HPA controller was able to update the target scale to 4"
    assert messages["ScalingActive"] == (
        "the HPA was able to successfully calculate a replica count from "
        "cpu resource utilization (percentage of request)"
    )


def test_within_tolerance_nothing_changes() -> None:
    sim = new_sim(replicas=4)
    sim.load("54m")  # 108% of target: inside the 10% band
    sim.sync()
    assert sim.patches == [] and sim.said("SuccessfulRescale") == []
    assert sim.hpa()["status"]["desiredReplicas"] == 4
    assert conditions(sim.hpa())["AbleToScale"] == ("True", "ReadyForNewScale")


def test_scale_up_is_limited_to_twice_or_four_without_behavior() -> None:
    sim = new_sim(replicas=1)
    sim.load("1")  # 1000% of the request: 20 replicas wanted
    sim.sync()
    assert sim.patches == [4]
    assert conditions(sim.hpa())["ScalingLimited"] == ("True", "ScaleUpLimit")


def test_max_replicas_caps_the_count() -> None:
    sim = new_sim(replicas=4, maxReplicas=5)
    sim.load("100m")
    sim.sync()
    assert sim.patches == [5]
    status = sim.hpa()["status"]
    assert conditions(sim.hpa())["ScalingLimited"] == ("True", "TooManyReplicas")
    assert [c["message"] for c in status["conditions"] if c["type"] == "ScalingLimited"] == [
        "the desired replica count is more than the maximum replica count"
    ]


def test_below_min_replicas_is_raised_at_once() -> None:
    sim = new_sim(replicas=1, minReplicas=3)
    sim.load("10m")
    sim.sync()
    assert sim.patches == [3]
    assert sim.said("SuccessfulRescale") == [
        "New size: 3; reason: Current number of replicas below Spec.MinReplicas"
    ]


def test_scale_down_waits_for_the_stabilisation_window() -> None:
    sim = new_sim(replicas=4)
    sim.load("100m")
    sim.sync()  # up to 8
    steps = 0
    while len(sim.patches) < 2 and steps < 40:
        sim.now += 15
        sim.load("10m")  # 20% of the request: 2 replicas would do
        sim.sync()
        steps += 1
        if len(sim.patches) < 2:
            assert conditions(sim.hpa())["AbleToScale"] == ("True", "ScaleDownStabilized")
    assert sim.patches == [8, 2]
    assert sim.now - T0 > hpactl.DOWNSCALE_STABILISATION
    assert sim.said("SuccessfulRescale")[-1] == "New size: 2; reason: All metrics below target"


def test_min_replicas_floors_a_scale_down() -> None:
    sim = new_sim(replicas=4, minReplicas=3)
    sim.now = T0
    sim.load("1m")
    sim.sync()
    sim.now += 301
    sim.load("1m")
    sim.sync()
    assert sim.patches == [3]
    assert conditions(sim.hpa())["ScalingLimited"] == ("True", "TooFewReplicas")


def test_behavior_policies_pace_the_scale_up() -> None:
    sim = new_sim(replicas=1, behavior={})  # the apiserver fills in the default policies
    sim.load("1")
    sim.sync()
    assert sim.patches == [5]  # max(+4 pods, +100%) per 15 s
    assert conditions(sim.hpa())["ScalingLimited"] == ("True", "ScaleUpLimit")
    sim.now += 15
    sim.load("1")
    sim.sync()
    assert sim.patches == [5, 10]


def test_behavior_scale_down_policy_removes_one_pod_per_minute() -> None:
    down = {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}
    sim = new_sim(replicas=4, behavior={"scaleDown": down})
    for _ in range(5):
        sim.load("1m")
        sim.sync()
        sim.now += 15
    assert sim.patches == [3, 2]
    assert conditions(sim.hpa())["ScalingLimited"] == ("True", "ScaleDownLimit")


def test_missing_target_sets_failed_get_scale() -> None:
    sim = Sim(cache=fw.DictCache({"horizontalpodautoscalers": [make_hpa()]}))
    result = sim.sync()
    assert sim.patches == [] and result.requeue_after == 15.0
    assert sim.said("FailedGetScale") == ['deployments.apps "web" not found']
    (able,) = [c for c in sim.hpa()["status"]["conditions"] if c["type"] == "AbleToScale"]
    assert (able["status"], able["reason"], able["message"]) == (
        "False",
        "FailedGetScale",
        'the HPA controller was unable to get the target\'s current scale: deployments.apps "web" not found',
    )


def test_unknown_target_kind_is_reported() -> None:
    sim = new_sim(scaleTargetRef={"apiVersion": "apps/v1", "kind": "Widget", "name": "web"})
    sim.sync()
    assert sim.said("FailedGetScale") == ['no matches for kind "Widget" in group "apps"']


def test_missing_metrics_set_failed_get_resource_metric() -> None:
    sim = new_sim(replicas=2)
    for i in range(2):
        sim.cache.put("pods", make_pod(f"web-{i}"))
    sim.sync()
    inner = (
        "failed to get cpu utilization: unable to get metrics for resource cpu: "
        "no metrics returned from resource metrics API"
    )
    assert sim.said("FailedGetResourceMetric") == [inner]
    assert sim.said("FailedComputeMetricsReplicas") == [
        "invalid metrics (1 invalid out of 1), first error is: "
        f"failed to get cpu resource metric value: {inner}"
    ]
    status = sim.hpa()["status"]
    (active,) = [c for c in status["conditions"] if c["type"] == "ScalingActive"]
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == f"the HPA was unable to compute the replica count: {inner}"
    assert status["currentMetrics"] == [{"type": ""}] and status["currentReplicas"] == 2 and sim.patches == []


def test_zero_replicas_disable_scaling() -> None:
    sim = new_sim(replicas=0)
    sim.sync()
    assert sim.patches == [] and conditions(sim.hpa())["ScalingActive"] == ("False", "ScalingDisabled")


def test_target_without_selector_is_reported() -> None:
    sim = new_sim(replicas=2)
    deployment = sim.cache.get("deployments", "default", "web")
    assert deployment is not None
    deployment["spec"]["selector"] = {"matchLabels": {}}
    sim.sync()
    assert sim.said("SelectorRequired") == ["selector is required"]
    assert conditions(sim.hpa())["ScalingActive"] == ("False", "InvalidSelector")


def test_two_hpas_over_the_same_pods_are_ambiguous() -> None:
    sim = new_sim(replicas=2)
    sim.cache.put("horizontalpodautoscalers", make_hpa(name="other"))
    sim.load("100m")
    sim.sync()
    assert sim.said("AmbiguousSelector") == [
        "pods by selector app=web are controlled by multiple HPAs: [default/other default/web]"
    ]
    assert sim.patches == []


def test_syncs_come_once_per_period() -> None:
    sim = new_sim(replicas=2)
    sim.load("100m")
    sim.sync()
    early = sim.sync()
    assert early.actions == [] and early.requeue_after == 15.0
    sim.now += 5
    assert sim.sync().requeue_after == 10.0


def test_keys_for_only_hpa_changes() -> None:
    controller = hpactl.HorizontalPodAutoscalerController()
    hpa = make_hpa()
    cache = fw.DictCache({"horizontalpodautoscalers": [hpa]})
    assert list(controller.keys_for("horizontalpodautoscalers", hpa, None, cache)) == ["default/web"]
    assert list(controller.keys_for("horizontalpodautoscalers", hpa, meta.deep_copy(hpa), cache)) == []
    assert list(controller.keys_for("pods", make_pod("web-0"), None, cache)) == []


def test_average_value_target() -> None:
    metric = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "50m"}},
    }
    sim = new_sim(replicas=2, metrics=[metric])
    sim.load("150m")
    sim.sync()
    assert sim.patches == [4]  # 2 * 150m / 50m = 6, capped at 2x
    assert sim.hpa()["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "150m"}}}
    ]
    assert sim.said("SuccessfulRescale") == ["New size: 4; reason: cpu resource above target"]


# -- the replica calculator ------------------------------------------------------------------------------


def calc(pods: list[Obj], metrics: list[Obj], current: int, target: int = 50) -> int:
    cache = fw.DictCache({"podmetrics": metrics})
    values, stamp = rc.resource_metrics(cache, "default", labels.from_set({"app": "web"}), "cpu")
    return rc.resource_replicas(
        current=current,
        pods=pods,
        metrics=values,
        timestamp=stamp,
        resource="cpu",
        now=T0,
        target_utilization=target,
    ).replicas


@pytest.mark.parametrize(
    ("pods", "usages", "current", "expected"),
    [
        # scale-down with a pod lacking metrics: it counts as 100%, softening the drop (0 otherwise)
        ([make_pod(n) for n in "abcd"], {"a": "0", "b": "0", "c": "0"}, 4, 2),
        # scale-up with pending pods: they count as 0%, which here lands within the tolerance
        (
            [make_pod("a"), make_pod("b"), make_pod("c", phase="Pending"), make_pod("d", phase="Pending")],
            {"a": "100m", "b": "100m"},
            4,
            4,
        ),
        # a pod started 20 s ago, without a full sample window since it turned Ready: unready, so 0%
        ([make_pod("a"), make_pod("b", started=T0 - 20)], {"a": "100m", "b": "100m"}, 2, 2),
        # the same pod past its 5 minute initialisation counts as it is
        ([make_pod("a"), make_pod("b", started=T0 - 400)], {"a": "100m", "b": "100m"}, 2, 4),
        # failed and terminating pods are ignored altogether
        ([make_pod("a"), make_pod("b", phase="Failed")], {"a": "100m", "b": "100m"}, 2, 2),
    ],
    ids=["missing-on-down", "unready-on-up", "cpu-initialization", "initialized", "failed-ignored"],
)
def test_replica_calculator_cases(
    pods: list[Obj], usages: dict[str, str], current: int, expected: int
) -> None:
    metrics = [make_metrics(name, cpu, T0 - 5) for name, cpu in usages.items()]
    assert calc(pods, metrics, current) == expected


def test_missing_request_is_an_error() -> None:
    pod = make_pod("a")
    del pod["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    with pytest.raises(rc.MetricsError, match="missing request for cpu in container app of Pod a"):
        calc([pod], [make_metrics("a", "10m", T0)], 1)


def test_tolerances_band() -> None:
    band = rc.Tolerances()
    assert band.within(0.9) and band.within(1.1) and not band.within(1.11) and not band.within(0.89)
