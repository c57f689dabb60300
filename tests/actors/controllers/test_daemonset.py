"""The DaemonSet controller, step by step: reconcile against a DictCache, carry out its actions as the
apiserver would, let the scheduler bind each pod to the node its affinity names and the kubelet run it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from actors.controllers import daemonset, framework, history
from actors.controllers.daemonset import DaemonSetController
from actors.controllers.framework import Context, Create, Delete, DictCache, Event, Patch, Pending, Result
from kube import meta
from tests.actors.controllers.sim import patched

T0 = 1_700_000_000.0
NONE_PENDING = Pending()
KEY = "default/agent"
Obj = dict[str, Any]


def make_node(name: str, *, labels: Obj | None = None, taints: list[Obj] | None = None, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"node-{name}",
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
        },
        "spec": {"taints": taints or [], **spec},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def make_ds(
    *, image: str = "agent:1", strategy: Obj | None = None, pod_spec: Obj | None = None, **spec: Any
) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid", "generation": 1},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": image}], **(pod_spec or {})},
            },
            "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            **spec,
        },
    }


class Sim:
    """A tiny apiserver + scheduler + kubelet around a DictCache."""

    def __init__(self, ds: Obj, nodes: list[Obj]) -> None:
        self.cache = DictCache({"daemonsets": [ds], "nodes": nodes})
        self.controller = DaemonSetController()
        self.now = T0
        self.events: list[tuple[str, str, str]] = []
        self._ids = itertools.count(1)

    def reconcile(self, pending: Pending = NONE_PENDING) -> Result:
        return self.controller.reconcile(KEY, self.cache, Context(now=self.now, pending=pending))

    def step(self) -> Result:
        result = self.reconcile()
        self.apply(result)
        return result

    def apply(self, result: Result) -> None:
        for action in result.actions:
            if isinstance(action, Create):
                body = meta.deep_copy(action.body)
                md = body["metadata"]
                n = next(self._ids)
                md.setdefault("name", f"{md.get('generateName', '')}{n:05d}")
                assert self.cache.get(action.resource, action.namespace, md["name"]) is None
                md.update(uid=f"uid-{n}", creationTimestamp=meta.now_rfc3339(self.now + n * 1e-3))
                if action.resource == "pods":
                    body["status"] = {"phase": "Pending"}
                self.cache.put(action.resource, body)
                self._record(framework.success_event(action, md["name"]))
            elif isinstance(action, Delete):
                obj = self.cache.get(action.resource, action.namespace, action.name)
                if obj is not None and (not action.uid or obj["metadata"]["uid"] == action.uid):
                    self.cache.remove(action.resource, obj)
                    self._record(framework.success_event(action, action.name))
            elif isinstance(action, Patch):
                obj = self.cache.get(action.resource, action.namespace, action.name)
                assert obj is not None
                self.cache.put(action.resource, patched(obj, action))
            elif isinstance(action, Event):
                self._record(action)

    def _record(self, event: Event | None) -> None:
        if event is not None:
            self.events.append((event.type, event.reason, event.message))

    def edit_ds(self, change: Callable[[Obj], None]) -> None:
        ds = meta.deep_copy(self.ds())
        change(ds)
        ds["metadata"]["generation"] += 1
        self.cache.put("daemonsets", ds)

    def ds(self) -> Obj:
        ds = self.cache.get("daemonsets", "default", "agent")
        assert ds is not None
        return ds

    def pods(self) -> list[Obj]:
        return self.cache.objects("pods")

    def placement(self) -> dict[str, list[str]]:
        """node -> the images of its pods."""
        out: dict[str, list[str]] = {}
        for pod in self.pods():
            node = daemonset.target_node(pod)
            assert node is not None
            out.setdefault(node, []).append(pod["spec"]["containers"][0]["image"])
        return {k: sorted(v) for k, v in sorted(out.items())}

    def set_pod(self, pod: Obj, *, phase: str = "Running", ready: bool = True) -> None:
        pod = meta.deep_copy(pod)
        pod["spec"]["nodeName"] = daemonset.target_node(pod)
        condition = {"type": "Ready", "status": "True" if ready else "False"}
        condition["lastTransitionTime"] = meta.now_rfc3339(self.now)
        pod["status"] = {"phase": phase, "conditions": [condition]}
        self.cache.put("pods", pod)

    def run_all(self) -> None:
        for pod in self.pods():
            if pod["status"].get("phase") == "Pending":
                self.set_pod(pod)

    def converge(self, *, limit: int = 50) -> None:
        for _ in range(limit):
            result = self.step()
            self.run_all()
            if not any(isinstance(a, (Create, Delete)) for a in result.actions):
                return
        raise AssertionError("did not converge")

    def status(self) -> Obj:
        return dict(self.ds().get("status") or {})


def created_on(result: Result) -> list[str]:
    return sorted(
        str(daemonset.target_node(a.body))
        for a in result.actions
        if isinstance(a, Create) and a.resource == "pods"
    )


def deleted(result: Result) -> list[str]:
    return [a.name for a in result.actions if isinstance(a, Delete) and a.resource == "pods"]


TAINT = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}


# -- placement ----------------------------------------------------------------------------------------------


def test_one_pod_per_node_except_a_node_whose_taint_is_not_tolerated() -> None:
    nodes = [make_node("n1"), make_node("n2", taints=[TAINT]), make_node("n3")]
    sim = Sim(make_ds(), nodes)
    result = sim.step()
    assert created_on(result) == ["n1", "n3"]
    assert all(a.expect for a in result.actions if isinstance(a, Create) and a.resource == "pods")
    sim.run_all()
    sim.step()
    assert sim.placement() == {"n1": ["agent:1"], "n3": ["agent:1"]}
    status = sim.status()
    assert status["desiredNumberScheduled"] == status["currentNumberScheduled"] == 2
    assert status["numberReady"] == status["numberAvailable"] == status["updatedNumberScheduled"] == 2
    assert status["numberMisscheduled"] == status["numberUnavailable"] == 0
    assert status["observedGeneration"] == 1
    created = sorted(p["metadata"]["name"] for p in sim.pods())
    assert sorted(sim.events) == [("Normal", "SuccessfulCreate", f"Created pod: {n}") for n in created]
    assert all(n.startswith("agent-") and n != "agent-" for n in created)  # the generated names


def test_a_daemon_pod_is_pinned_by_node_affinity_not_node_name() -> None:
    sim = Sim(make_ds(pod_spec={"tolerations": [{"key": "x", "operator": "Exists"}]}), [make_node("n1")])
    sim.step()
    pod = sim.pods()[0]
    assert "nodeName" not in pod["spec"]
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["spec"]["affinity"] == {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
                ]
            }
        }
    }
    revision = sim.cache.objects("controllerrevisions")[0]
    hash_value = revision["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL]
    assert revision["metadata"]["name"] == f"agent-{hash_value}"
    assert pod["metadata"]["labels"] == {"app": "agent", history.CONTROLLER_REVISION_HASH_LABEL: hash_value}
    assert pod["metadata"]["ownerReferences"] == [framework.owner_reference(sim.ds())]
    keys = [(t.get("key"), t.get("effect")) for t in pod["spec"]["tolerations"]]
    assert keys == [
        ("x", None),
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]


def test_node_selector_and_required_node_affinity() -> None:
    nodes = [
        make_node("n1", labels={"role": "edge", "zone": "a"}),
        make_node("n2", labels={"role": "edge", "zone": "b"}),
        make_node("n3", labels={"role": "core", "zone": "a"}),
    ]
    assert created_on(Sim(make_ds(pod_spec={"nodeSelector": {"role": "edge"}}), nodes).step()) == ["n1", "n2"]
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                ]
            }
        }
    }
    assert created_on(Sim(make_ds(pod_spec={"affinity": affinity}), nodes).step()) == ["n1", "n3"]


def test_unschedulable_and_not_ready_nodes_still_get_their_daemon_pod() -> None:
    not_ready = make_node("n2", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])
    cordoned = make_node(
        "n3", unschedulable=True, taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    )
    assert created_on(Sim(make_ds(), [make_node("n1"), not_ready, cordoned]).step()) == ["n1", "n2", "n3"]


def test_network_unavailable_is_tolerated_only_by_host_network_pods() -> None:
    node = make_node("n1", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}])
    assert created_on(Sim(make_ds(), [node]).step()) == []
    assert created_on(Sim(make_ds(pod_spec={"hostNetwork": True}), [node]).step()) == ["n1"]


def test_a_node_joining_gets_a_pod() -> None:
    sim = Sim(make_ds(), [make_node("n1")])
    sim.converge()
    new = make_node("n2")
    sim.cache.put("nodes", new)
    assert list(sim.controller.keys_for("nodes", new, None, sim.cache)) == [KEY]
    assert created_on(sim.step()) == ["n2"]


def test_a_node_that_stops_matching_loses_its_pod() -> None:
    selected = make_node("n1", labels={"agent": "yes"})
    sim = Sim(make_ds(pod_spec={"nodeSelector": {"agent": "yes"}}), [selected])
    sim.converge()
    [pod] = sim.pods()
    sim.cache.put("nodes", make_node("n1"))
    assert deleted(sim.step()) == [pod["metadata"]["name"]]
    assert sim.pods() == []
    assert ("Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}") in sim.events


def test_a_new_no_schedule_taint_keeps_the_running_pod_a_no_execute_one_evicts_it() -> None:
    sim = Sim(make_ds(), [make_node("n1")])
    sim.converge()
    sim.cache.put("nodes", make_node("n1", taints=[TAINT]))
    assert deleted(sim.step()) == []
    assert sim.status()["numberMisscheduled"] == 1 and sim.status()["desiredNumberScheduled"] == 0
    sim.cache.put("nodes", make_node("n1", taints=[{**TAINT, "effect": "NoExecute"}]))
    assert len(deleted(sim.step())) == 1


def test_extra_pods_on_a_node_are_deleted_keeping_the_oldest() -> None:
    sim = Sim(make_ds(), [make_node("n1")])
    sim.converge()
    extra = meta.deep_copy(sim.pods()[0])
    extra["metadata"]["name"] = "agent-extra"
    sim.now += 10
    sim.apply(Result(actions=[Create(resource="pods", namespace="default", body=extra)]))
    sim.run_all()
    assert deleted(sim.step()) == ["agent-extra"]


def test_unscheduled_pods_for_a_node_that_is_gone_are_deleted() -> None:
    sim = Sim(make_ds(), [make_node("n1"), make_node("n2")])
    sim.step()  # created, not yet bound
    sim.cache.remove("nodes", sim.cache.get("nodes", None, "n2"))
    result = sim.step()
    assert len(deleted(result)) == 1
    assert daemonset.target_node(sim.pods()[0]) == "n1"


def test_a_failed_pod_is_deleted_with_back_off() -> None:
    sim = Sim(make_ds(), [make_node("n1")])
    sim.converge()
    sim.set_pod(sim.pods()[0], phase="Failed", ready=False)
    result = sim.step()
    assert len(deleted(result)) == 1
    warning = [e for e in sim.events if e[1] == "FailedDaemonPod"]
    assert warning and warning[0][0] == "Warning"
    assert (
        warning[0][2].startswith("Found failed daemon pod default/agent-") and "on node n1" in warning[0][2]
    )
    assert created_on(sim.step()) == ["n1"]
    sim.now += 0.5
    sim.set_pod(sim.pods()[0], phase="Failed", ready=False)  # fails again at once
    result = sim.step()
    assert deleted(result) == [] and result.requeue_after == 1.0
    sim.now += 1.0
    assert len(deleted(sim.step())) == 1  # back-off over; the next one is 2 s
    sim.step()
    sim.set_pod(sim.pods()[0], phase="Failed", ready=False)
    assert sim.step().requeue_after == 2.0


def test_a_succeeded_pod_is_deleted() -> None:
    sim = Sim(make_ds(), [make_node("n1")])
    sim.converge()
    sim.set_pod(sim.pods()[0], phase="Succeeded", ready=False)
    assert len(deleted(sim.step())) == 1
    assert any(e[1] == "SucceededDaemonPod" for e in sim.events)


def test_nothing_is_written_while_expectations_are_outstanding() -> None:
    sim = Sim(make_ds(), [make_node("n1")])
    result = sim.reconcile(pending=Pending(adds=1))
    assert created_on(result) == []
    status = next(a for a in result.actions if isinstance(a, Patch) and a.subresource == "status")
    assert status.patch["status"]["observedGeneration"] == 0  # not raised: nothing was done for it
    assert status.patch["status"]["desiredNumberScheduled"] == 1


def test_an_empty_selector_selects_nothing_and_warns() -> None:
    ds = make_ds()
    ds["spec"]["selector"] = {}
    result = Sim(ds, [make_node("n1")]).step()
    assert [(a.reason, a.type) for a in result.actions if isinstance(a, Event)] == [
        ("SelectingAll", "Warning")
    ]
    assert created_on(result) == []


# -- rolling update -----------------------------------------------------------------------------------------


def new_image(image: str) -> Callable[[Obj], None]:
    def change(ds: Obj) -> None:
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = image

    return change


@pytest.mark.parametrize("max_unavailable", [1, 2, "50%"], ids=["one", "two", "half-of-4-rounds-to-2"])
def test_rolling_update_never_has_more_nodes_without_an_available_pod_than_max_unavailable(
    max_unavailable: int | str,
) -> None:
    limit = 1 if max_unavailable == 1 else 2
    nodes = [make_node(f"n{i}") for i in range(1, 5)]
    sim = Sim(
        make_ds(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}}),
        nodes,
    )
    sim.converge()
    sim.edit_ds(new_image("agent:2"))
    for _ in range(40):
        result = sim.step()
        down = [n for n, imgs in _available(sim).items() if not imgs]
        assert len(down) <= limit, down
        sim.run_all()
        if not result.actions or all(isinstance(a, Patch) for a in result.actions):
            break
    assert sim.placement() == {f"n{i}": ["agent:2"] for i in range(1, 5)}
    sim.step()
    assert sim.status()["updatedNumberScheduled"] == 4


def _available(sim: Sim) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n["metadata"]["name"]: [] for n in sim.cache.objects("nodes")}
    for pod in sim.pods():
        if framework.is_pod_available(pod, 0, sim.now):
            out[str(daemonset.target_node(pod))].append(pod["metadata"]["name"])
    return out


def test_rolling_update_replaces_an_unavailable_old_pod_at_once() -> None:
    nodes = [make_node("n1"), make_node("n2"), make_node("n3")]
    sim = Sim(make_ds(), nodes)
    sim.converge()
    broken = next(p for p in sim.pods() if daemonset.target_node(p) == "n2")
    sim.set_pod(broken, ready=False)
    sim.edit_ds(new_image("agent:2"))
    result = sim.step()
    assert deleted(result) == [broken["metadata"]["name"]]  # n2 was down anyway; budget is spent on it


def test_rolling_update_with_surge_starts_the_new_pod_before_stopping_the_old() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    sim = Sim(make_ds(strategy=strategy), [make_node("n1"), make_node("n2")])
    sim.converge()
    sim.edit_ds(new_image("agent:2"))
    result = sim.step()
    assert created_on(result) == ["n1"] and deleted(result) == []
    assert sim.placement() == {"n1": ["agent:1", "agent:2"], "n2": ["agent:1"]}
    assert created_on(sim.step()) == []  # the surge pod is not available yet: no second surge
    sim.run_all()
    result = sim.step()
    assert len(deleted(result)) == 1  # the old pod on n1
    assert sim.placement() == {"n1": ["agent:2"], "n2": ["agent:1"]}
    sim.converge()
    assert sim.placement() == {"n1": ["agent:2"], "n2": ["agent:2"]}


def test_on_delete_replaces_only_deleted_pods() -> None:
    sim = Sim(make_ds(strategy={"type": "OnDelete"}), [make_node("n1"), make_node("n2")])
    sim.converge()
    sim.edit_ds(new_image("agent:2"))
    assert deleted(sim.step()) == []
    victim = next(p for p in sim.pods() if daemonset.target_node(p) == "n2")
    sim.cache.remove("pods", victim)
    sim.converge()
    assert sim.placement() == {"n1": ["agent:1"], "n2": ["agent:2"]}


def test_history_keeps_live_revisions_and_the_limit() -> None:
    sim = Sim(make_ds(strategy={"type": "OnDelete"}, revisionHistoryLimit=1), [make_node("n1")])
    sim.converge()
    for n in range(2, 5):
        sim.edit_ds(new_image(f"agent:{n}"))
        sim.step()
    numbers = sorted(r["revision"] for r in sim.cache.objects("controllerrevisions"))
    # As upstream's cleanupHistory: the live old revision (1, on n1) counts toward the limit of 1, so
    # 2 and 3 go; 4 is current.
    assert numbers == [1, 4]


# -- keys, eligibility --------------------------------------------------------------------------------------


def test_keys_for() -> None:
    sim = Sim(make_ds(), [make_node("n1")])
    sim.step()
    c = sim.controller
    pod = sim.pods()[0]
    assert list(c.keys_for("pods", pod, None, sim.cache)) == [KEY]
    orphan = {"metadata": {"name": "x", "namespace": "default", "labels": {"app": "agent"}}}
    assert list(c.keys_for("pods", orphan, None, sim.cache)) == [KEY]
    node = make_node("n1")
    heartbeat = meta.deep_copy(node)
    heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = "2023-11-14T22:13:20Z"
    assert list(c.keys_for("nodes", heartbeat, node, sim.cache)) == []
    relabelled = make_node("n1", labels={"x": "y"})
    assert list(c.keys_for("nodes", relabelled, node, sim.cache)) == [KEY]
    # a deletion comes as (obj, old) of the same node, already gone from the cache
    sim.cache.remove("nodes", node)
    assert list(c.keys_for("nodes", node, node, sim.cache)) == [KEY]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (make_node("n1"), (True, True)),
        (make_node("n1", taints=[TAINT]), (False, True)),
        (make_node("n1", taints=[{**TAINT, "effect": "NoExecute"}]), (False, False)),
        (make_node("n1", taints=[{**TAINT, "effect": "PreferNoSchedule"}]), (True, True)),
        (make_node("n1", labels={"disk": "ssd"}), (True, True)),
    ],
    ids=["plain", "no-schedule", "no-execute", "prefer-no-schedule", "labelled"],
)
def test_should_run(node: Obj, expected: tuple[bool, bool]) -> None:
    assert daemonset.Eligibility.of(make_ds()).should_run(node) == expected


def test_required_affinity_operators() -> None:
    def eligible(expr: Obj, node_labels: Obj) -> bool:
        affinity = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [expr]}]
                }
            }
        }
        ds = make_ds(pod_spec={"affinity": affinity})
        return daemonset.Eligibility.of(ds).should_run(make_node("n1", labels=node_labels))[0]

    assert eligible({"key": "cpu", "operator": "Gt", "values": ["4"]}, {"cpu": "8"})
    assert not eligible({"key": "cpu", "operator": "Lt", "values": ["4"]}, {"cpu": "8"})
    assert eligible({"key": "gpu", "operator": "DoesNotExist"}, {})
    assert not eligible({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "a"})
    assert eligible({"key": "zone", "operator": "Exists"}, {"zone": "b"})


def test_daemon_tolerations_replace_a_matching_one() -> None:
    spec = {
        "tolerations": [
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 5,
            }
        ]
    }
    out = daemonset.daemon_tolerations(spec)
    unreachable = [t for t in out if t["key"] == "node.kubernetes.io/unreachable"]
    assert unreachable == [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    ]
    assert len(out) == 6
    assert spec["tolerations"][0]["tolerationSeconds"] == 5  # the input is not changed


def test_target_node() -> None:
    assert daemonset.target_node({"spec": {"nodeName": "n9"}}) == "n9"
    assert daemonset.target_node({"spec": {"affinity": daemonset.pin_to_node(None, "n3")}}) == "n3"
    assert daemonset.target_node({"spec": {}}) is None


def test_a_node_whose_only_pod_is_terminating_waits_for_it() -> None:
    sim = Sim(make_ds(), [make_node("n1")])
    sim.converge()
    [pod] = sim.pods()
    pod = meta.deep_copy(pod)
    pod["metadata"]["deletionTimestamp"] = meta.now_rfc3339(sim.now)
    sim.cache.put("pods", pod)  # evicted, its node unreachable: it stays Terminating
    for _ in range(3):
        result = sim.step()
        assert created_on(result) == [] and deleted(result) == []
    sim.cache.remove("pods", pod)
    assert created_on(sim.step()) == ["n1"]


def test_min_ready_seconds_counts_availability_and_asks_to_look_again() -> None:
    sim = Sim(make_ds(minReadySeconds=30), [make_node("n1")])
    sim.converge()
    result = sim.step()
    assert sim.status()["numberReady"] == 1 and sim.status()["numberAvailable"] == 0
    assert result.requeue_after == pytest.approx(30.0, abs=0.01)
    sim.now += 31
    sim.step()
    assert sim.status()["numberAvailable"] == 1 and sim.status()["numberUnavailable"] == 0


def test_a_revision_name_taken_by_other_data_bumps_the_collision_count() -> None:
    ds = make_ds()
    name = f"agent-{history.compute_hash(ds['spec']['template'], 0)}"
    squatter = {"metadata": {"name": name, "namespace": "default", "uid": "sq"}, "data": {}, "revision": 1}
    sim = Sim(ds, [make_node("n1")])
    sim.cache.put("controllerrevisions", squatter)
    result = sim.step()
    [revision] = [
        a.body for a in result.actions if isinstance(a, Create) and a.resource == "controllerrevisions"
    ]
    assert revision["metadata"]["name"] == f"agent-{history.compute_hash(ds['spec']['template'], 1)}"
    assert sim.status()["collisionCount"] == 1
    hash_value = revision["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL]
    assert all(
        p["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL] == hash_value for p in sim.pods()
    )


def test_revision_and_pod_creates_are_expected() -> None:
    result = Sim(make_ds(), [make_node("n1")]).reconcile()
    assert [(a.resource, a.expect) for a in result.actions if isinstance(a, Create)] == [
        ("controllerrevisions", True),
        ("pods", True),
    ]
