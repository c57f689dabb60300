"""The StatefulSet controller, step by step: reconcile against a DictCache, carry out its actions as the
apiserver would, let the kubelet bring pods up (Running and Ready), reconcile again."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from actors.controllers import framework, history, statefulset
from actors.controllers.framework import Context, Create, Delete, DictCache, Event, Patch, Pending, Result
from actors.controllers.statefulset import StatefulSetController
from kube import meta
from tests.actors.controllers.sim import patched

T0 = 1_700_000_000.0
NONE_PENDING = Pending()
KEY = "default/web"
Obj = dict[str, Any]


def make_set(
    replicas: int = 3,
    *,
    policy: str = "OrderedReady",
    image: str = "nginx:1",
    strategy: Obj | None = None,
    retention: Obj | None = None,
    min_ready: int = 0,
    claims: bool = True,
) -> Obj:
    spec: Obj = {
        "replicas": replicas,
        "serviceName": "nginx",
        "selector": {"matchLabels": {"app": "web"}},
        "podManagementPolicy": policy,
        "minReadySeconds": min_ready,
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": image}]},
        },
        "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    }
    if claims:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "www", "labels": {"tier": "data"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                "status": {"phase": "Pending"},
            }
        ]
    if retention:
        spec["persistentVolumeClaimRetentionPolicy"] = retention
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default", "uid": "set-uid", "generation": 1},
        "spec": spec,
    }


class Sim:
    """A tiny apiserver + kubelet around a DictCache. Creating a name that exists fails the test: that
    would be two pods for one ordinal. Pods on ``unreachable`` nodes stay Terminating when deleted."""

    def __init__(self, sts: Obj, *, controller: StatefulSetController | None = None) -> None:
        self.cache = DictCache({"statefulsets": [sts]})
        self.controller = controller or StatefulSetController()
        self.now = T0
        self.events: list[tuple[str, str]] = []
        self.unreachable: set[str] = set()
        self._uids = itertools.count(1)

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
                assert self.cache.get(action.resource, action.namespace, md["name"]) is None, (
                    f"AlreadyExists: {action.resource} {md['name']}"
                )
                md.update(uid=f"uid-{next(self._uids)}", creationTimestamp=meta.now_rfc3339(self.now))
                if action.resource == "pods":
                    body["status"] = {"phase": "Pending"}
                self.cache.put(action.resource, body)
                self._record(framework.success_event(action, md["name"]))
            elif isinstance(action, Delete):
                obj = self.cache.get(action.resource, action.namespace, action.name)
                if obj is None or (action.uid and obj["metadata"]["uid"] != action.uid):
                    continue
                if (obj.get("spec") or {}).get("nodeName") in self.unreachable:
                    obj = meta.deep_copy(obj)
                    obj["metadata"]["deletionTimestamp"] = meta.now_rfc3339(self.now)
                    self.cache.put(action.resource, obj)
                else:
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
            self.events.append((event.reason, event.message))

    def edit_set(self, change: Callable[[Obj], None]) -> None:
        sts = meta.deep_copy(self.set())
        change(sts)
        sts["metadata"]["generation"] += 1
        self.cache.put("statefulsets", sts)

    def set(self) -> Obj:
        sts = self.cache.get("statefulsets", "default", "web")
        assert sts is not None
        return sts

    def pod(self, name: str) -> Obj:
        pod = self.cache.get("pods", "default", name)
        assert pod is not None, name
        return pod

    def pods(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.cache.objects("pods")]

    def claims(self) -> list[str]:
        return [c["metadata"]["name"] for c in self.cache.objects("persistentvolumeclaims")]

    def set_pod(self, name: str, *, phase: str = "Running", ready: bool = True, node: str = "node-1") -> None:
        pod = meta.deep_copy(self.pod(name))
        pod["spec"]["nodeName"] = node
        condition = {"type": "Ready", "status": "True" if ready else "False"}
        condition["lastTransitionTime"] = meta.now_rfc3339(self.now)
        pod["status"] = {"phase": phase, "conditions": [condition]}
        self.cache.put("pods", pod)

    def run_all(self) -> None:
        """The kubelet: every Pending pod starts and turns Ready."""
        for pod in self.cache.objects("pods"):
            if pod["status"].get("phase") == "Pending":
                self.set_pod(pod["metadata"]["name"])

    def converge(self, *, limit: int = 50) -> None:
        for _ in range(limit):
            result = self.step()
            self.run_all()
            if not any(isinstance(a, (Create, Delete)) for a in result.actions):
                return
        raise AssertionError("did not converge")

    def status(self) -> Obj:
        return dict(self.set().get("status") or {})


def creates(result: Result, resource: str = "pods") -> list[str]:
    return [
        a.body["metadata"]["name"] for a in result.actions if isinstance(a, Create) and a.resource == resource
    ]


def deletes(result: Result, resource: str = "pods") -> list[str]:
    return [a.name for a in result.actions if isinstance(a, Delete) and a.resource == resource]


# -- ordered creation ---------------------------------------------------------------------------------------


def test_ordered_ready_creates_one_pod_at_a_time_waiting_for_each_to_be_ready() -> None:
    sim = Sim(make_set(3))
    assert creates(sim.step()) == ["web-0"]
    assert creates(sim.step()) == []  # web-0 is Pending
    sim.set_pod("web-0", ready=False)
    assert creates(sim.step()) == []  # Running but not Ready
    sim.set_pod("web-0")
    assert creates(sim.step()) == ["web-1"]
    sim.set_pod("web-1")
    assert creates(sim.step()) == ["web-2"]
    sim.set_pod("web-2")
    assert creates(sim.step()) == []
    assert sim.pods() == ["web-0", "web-1", "web-2"]
    status = sim.status()
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 3
    assert status["currentReplicas"] == status["updatedReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"]
    assert status["observedGeneration"] == 1 and status["collisionCount"] == 0


def test_a_pod_has_its_stable_identity_storage_and_owner() -> None:
    sim = Sim(make_set(1))
    result = sim.step()
    kinds = [
        (type(a).__name__, getattr(a, "resource", "")) for a in result.actions if not isinstance(a, Patch)
    ]
    # The revision first, then the claim before the pod, each announcing its outcome on the set.
    assert kinds == [
        ("Create", "controllerrevisions"),
        ("Create", "persistentvolumeclaims"),
        ("Create", "pods"),
    ]
    pod_create = next(a for a in result.actions if isinstance(a, Create) and a.resource == "pods")
    assert pod_create.expect and (pod_create.owner or {})["metadata"]["uid"] == sim.set()["metadata"]["uid"]
    failed = framework.failure_event(pod_create, 'pods "web-0" is forbidden: exceeded quota')
    assert failed is not None and (failed.type, failed.reason, failed.message) == (
        "Warning",
        "FailedCreate",
        'create Pod web-0 in StatefulSet web failed error: pods "web-0" is forbidden: exceeded quota',
    )
    assert framework.failure_event(pod_create, "taken", reason="AlreadyExists") is None  # sunk, as upstream
    claim_create = next(
        a for a in result.actions if isinstance(a, Create) and a.resource.startswith("persist")
    )
    failed = framework.failure_event(claim_create, "no")
    assert failed is not None and failed.message == (
        "create Claim www-web-0 for Pod web-0 in StatefulSet web failed error: no"
    )
    pod = sim.pod("web-0")
    revision = sim.cache.objects("controllerrevisions")[0]
    assert pod["metadata"]["labels"] == {
        "app": "web",
        statefulset.POD_NAME_LABEL: "web-0",
        statefulset.POD_INDEX_LABEL: "0",
        history.CONTROLLER_REVISION_HASH_LABEL: revision["metadata"]["name"],
    }
    assert "generateName" not in pod["metadata"]
    assert pod["spec"]["hostname"] == "web-0" and pod["spec"]["subdomain"] == "nginx"
    assert pod["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}]
    assert pod["metadata"]["ownerReferences"] == [framework.owner_reference(sim.set())]
    claim = sim.cache.get("persistentvolumeclaims", "default", "www-web-0")
    assert claim is not None
    assert claim["metadata"]["labels"] == {"tier": "data", "app": "web"}
    assert "ownerReferences" not in claim["metadata"] and "status" not in claim
    assert sim.events == [
        ("SuccessfulCreate", "create Claim www-web-0 Pod web-0 in StatefulSet web success"),
        ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful"),
    ]


def test_parallel_creates_every_pod_at_once() -> None:
    sim = Sim(make_set(3, policy="Parallel"))
    result = sim.step()
    assert creates(result) == ["web-0", "web-1", "web-2"]
    assert creates(result, "persistentvolumeclaims") == ["www-web-0", "www-web-1", "www-web-2"]


def test_ordinals_start() -> None:
    sts = make_set(2, policy="Parallel", claims=False)
    sts["spec"]["ordinals"] = {"start": 5}
    assert creates(Sim(sts).step()) == ["web-5", "web-6"]


# -- one pod per ordinal ------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["OrderedReady", "Parallel"])
def test_never_a_second_pod_while_one_of_that_name_is_terminating_on_an_unreachable_node(policy: str) -> None:
    sim = Sim(make_set(3, policy=policy))
    sim.converge()
    sim.unreachable.add("node-1")
    sim.apply(Result(actions=[Delete(resource="pods", namespace="default", name="web-1")]))  # eviction
    assert framework.is_terminating(sim.pod("web-1"))
    for _ in range(3):
        result = sim.step()
        assert creates(result) == []
        assert deletes(result) == []
    assert sim.status()["replicas"] == 3  # the terminating pod still counts as created
    sim.unreachable.clear()
    sim.cache.remove("pods", sim.pod("web-1"))  # the node came back and the kubelet finished it
    assert creates(sim.step()) == ["web-1"]


def test_never_a_pod_over_one_of_that_name_owned_by_someone_else() -> None:
    sim = Sim(make_set(1, claims=False))
    stranger = {
        "metadata": {
            "name": "web-0",
            "namespace": "default",
            "uid": "other",
            "labels": {"app": "web"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "x", "uid": "rs", "controller": True}],
        },
        "spec": {},
        "status": {"phase": "Running"},
    }
    sim.cache.put("pods", stranger)
    assert creates(sim.step()) == []


def test_an_orphan_of_that_name_is_adopted_not_duplicated() -> None:
    sim = Sim(make_set(1, claims=False))
    orphan = {
        "metadata": {"name": "web-0", "namespace": "default", "uid": "orphan", "labels": {"app": "web"}},
        "spec": {"nodeName": "node-1"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    sim.cache.put("pods", orphan)
    result = sim.step()
    assert creates(result) == []
    adopt = [a for a in result.actions if isinstance(a, Patch) and a.resource == "pods" and a.name == "web-0"]
    assert adopt[0].patch["metadata"]["ownerReferences"][0]["uid"] == "set-uid"
    assert adopt[0].patch["metadata"]["uid"] == "orphan"


@pytest.mark.parametrize("phase", ["Failed", "Succeeded"])
def test_a_finished_pod_is_deleted_then_created_again(phase: str) -> None:
    sim = Sim(make_set(2))
    sim.converge()
    sim.set_pod("web-0", phase=phase, ready=False)
    result = sim.step()
    assert deletes(result) == ["web-0"] and creates(result) == []
    assert ("SuccessfulDelete", "delete Pod web-0 in StatefulSet web successful") in sim.events
    assert creates(sim.step()) == ["web-0"]
    assert creates(sim.step(), "persistentvolumeclaims") == []  # its claim survived


def test_nothing_is_written_while_expectations_are_outstanding() -> None:
    sim = Sim(make_set(3, policy="Parallel"))
    result = sim.reconcile(pending=Pending(adds=1))
    assert creates(result) == [] and deletes(result) == []


# -- scale down ---------------------------------------------------------------------------------------------


def test_scale_down_removes_the_highest_ordinal_first_one_at_a_time_and_keeps_claims() -> None:
    sim = Sim(make_set(3))
    sim.converge()
    sim.unreachable.add("node-1")  # deletions stay Terminating until we finish them by hand
    sim.edit_set(lambda s: s["spec"].update(replicas=1))
    assert deletes(sim.step()) == ["web-2"]
    assert deletes(sim.step()) == []  # waits for web-2 to terminate
    sim.cache.remove("pods", sim.pod("web-2"))
    assert deletes(sim.step()) == ["web-1"]
    sim.cache.remove("pods", sim.pod("web-1"))
    result = sim.step()
    assert deletes(result) == [] and deletes(result, "persistentvolumeclaims") == []
    assert sim.pods() == ["web-0"]
    assert sim.claims() == ["www-web-0", "www-web-1", "www-web-2"]  # Retain: the claims stay
    sim.edit_set(lambda s: s["spec"].update(replicas=3))
    sim.unreachable.clear()
    sim.converge()
    assert sim.pod("web-2")["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "www-web-2"
    assert sim.claims() == ["www-web-0", "www-web-1", "www-web-2"]


def test_scale_down_waits_while_another_pod_is_unhealthy() -> None:
    sim = Sim(make_set(3))
    sim.converge()
    sim.edit_set(lambda s: s["spec"].update(replicas=2))
    sim.set_pod("web-0", ready=False)
    assert deletes(sim.step()) == []
    sim.set_pod("web-0")
    assert deletes(sim.step()) == ["web-2"]


def test_scale_down_waits_while_a_lower_condemned_pod_is_unhealthy() -> None:
    sim = Sim(make_set(3))
    sim.converge()
    sim.edit_set(lambda s: s["spec"].update(replicas=1))
    sim.set_pod("web-1", ready=False)
    sim.set_pod("web-2", ready=False)
    assert deletes(sim.step()) == []  # web-1 is the first unhealthy pod; web-2 may not go before it
    sim.set_pod("web-1")
    assert deletes(sim.step()) == ["web-2"]


def test_scale_down_may_remove_the_first_unhealthy_pod_itself() -> None:
    sim = Sim(make_set(3))
    sim.converge()
    sim.edit_set(lambda s: s["spec"].update(replicas=2))
    sim.set_pod("web-2", ready=False)
    assert deletes(sim.step()) == ["web-2"]


def test_parallel_scale_down_removes_all_at_once() -> None:
    sim = Sim(make_set(4, policy="Parallel"))
    sim.converge()
    sim.edit_set(lambda s: s["spec"].update(replicas=1))
    assert sorted(deletes(sim.step())) == ["web-1", "web-2", "web-3"]


def test_when_scaled_delete_hands_the_claim_to_the_pod_before_deleting_it() -> None:
    sim = Sim(make_set(2, retention={"whenDeleted": "Retain", "whenScaled": "Delete"}))
    sim.converge()
    assert (
        "ownerReferences" not in sim.cache.get("persistentvolumeclaims", "default", "www-web-1")["metadata"]
    )
    sim.edit_set(lambda s: s["spec"].update(replicas=1))
    result = sim.step()
    claim_patch = [
        a for a in result.actions if isinstance(a, Patch) and a.resource == "persistentvolumeclaims"
    ]
    assert [a.name for a in claim_patch] == ["www-web-1"]
    pod_uid = claim_patch[0].patch["metadata"]["ownerReferences"][0]["uid"]
    assert deletes(result) == ["web-1"]
    order = [a for a in result.actions if not isinstance(a, Event)]
    assert order.index(claim_patch[0]) < next(i for i, a in enumerate(order) if isinstance(a, Delete))
    # the garbage collector removes the claim later; until then a new web-1 would be blocked by it
    sim.edit_set(lambda s: s["spec"].update(replicas=2))
    assert creates(sim.step()) == []
    claim = sim.cache.get("persistentvolumeclaims", "default", "www-web-1")
    assert claim is not None and claim["metadata"]["ownerReferences"][0]["uid"] == pod_uid
    sim.cache.remove("persistentvolumeclaims", claim)
    assert creates(sim.step()) == ["web-1"]


def test_when_deleted_delete_makes_the_set_own_its_claims() -> None:
    sim = Sim(make_set(1, retention={"whenDeleted": "Delete", "whenScaled": "Retain"}))
    sim.step()
    claim = sim.cache.get("persistentvolumeclaims", "default", "www-web-0")
    assert claim is not None
    assert claim["metadata"]["ownerReferences"] == [framework.owner_reference(sim.set())]


def test_a_claim_being_deleted_blocks_its_pod() -> None:
    sim = Sim(make_set(1))
    claim = {"metadata": {"name": "www-web-0", "namespace": "default", "uid": "c", "deletionTimestamp": "x"}}
    sim.cache.put("persistentvolumeclaims", claim)
    assert creates(sim.step()) == []


def test_a_pending_pod_gets_its_missing_claim_again() -> None:
    sim = Sim(make_set(1))
    sim.step()
    sim.cache.remove("persistentvolumeclaims", sim.cache.objects("persistentvolumeclaims")[0])
    assert creates(sim.step(), "persistentvolumeclaims") == ["www-web-0"]


# -- updates ------------------------------------------------------------------------------------------------


def new_image(image: str) -> Callable[[Obj], None]:
    def change(sts: Obj) -> None:
        sts["spec"]["template"]["spec"]["containers"][0]["image"] = image

    return change


def images(sim: Sim) -> dict[str, str]:
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in sim.cache.objects("pods")}


def test_partitioned_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() -> None:
    sim = Sim(make_set(4, strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}))
    sim.converge()
    old_revision = sim.status()["currentRevision"]
    sim.edit_set(new_image("nginx:2"))
    deleted: list[str] = []
    for _ in range(10):
        result = sim.step()
        deleted += deletes(result)
        assert len(deletes(result)) <= 1
        sim.run_all()
    assert deleted == ["web-3", "web-2"]
    assert images(sim) == {"web-0": "nginx:1", "web-1": "nginx:1", "web-2": "nginx:2", "web-3": "nginx:2"}
    status = sim.status()
    assert status["currentRevision"] == old_revision != status["updateRevision"]
    assert status["updatedReplicas"] == 2 and status["currentReplicas"] == 2
    # a recreated pod below the partition keeps the current revision
    sim.cache.remove("pods", sim.pod("web-1"))
    sim.converge()
    assert images(sim)["web-1"] == "nginx:1"
    # lowering the partition finishes the rollout, and the update revision becomes current
    sim.edit_set(lambda s: s["spec"]["updateStrategy"]["rollingUpdate"].update(partition=0))
    sim.converge()
    assert set(images(sim).values()) == {"nginx:2"}
    sim.step()
    status = sim.status()
    assert status["currentRevision"] == status["updateRevision"] != old_revision
    assert status["currentReplicas"] == status["updatedReplicas"] == 4


def test_rolling_update_waits_for_each_replacement_to_be_ready() -> None:
    sim = Sim(make_set(3))
    sim.converge()
    sim.edit_set(new_image("nginx:2"))
    assert deletes(sim.step()) == ["web-2"]
    assert creates(sim.step()) == ["web-2"]
    assert deletes(sim.step()) == []  # the new web-2 is Pending
    sim.run_all()
    assert deletes(sim.step()) == ["web-1"]


def test_rolling_update_with_max_unavailable_replaces_several_at_once() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 2}}
    sim = Sim(make_set(4, policy="Parallel", strategy=strategy))
    sim.converge()
    sim.edit_set(new_image("nginx:2"))
    assert deletes(sim.step()) == ["web-3", "web-2"]
    assert sorted(creates(sim.step())) == ["web-2", "web-3"]
    assert deletes(sim.step()) == []  # two unavailable already
    sim.run_all()
    assert deletes(sim.step()) == ["web-1", "web-0"]


def test_on_delete_replaces_only_deleted_pods() -> None:
    sim = Sim(make_set(2, strategy={"type": "OnDelete"}))
    sim.converge()
    sim.edit_set(new_image("nginx:2"))
    assert deletes(sim.step()) == []
    sim.cache.remove("pods", sim.pod("web-1"))
    sim.converge()
    assert images(sim) == {"web-0": "nginx:1", "web-1": "nginx:2"}


def test_revision_history_is_trimmed_to_the_limit_keeping_live_revisions() -> None:
    sts = make_set(1, strategy={"type": "OnDelete"}, claims=False)
    sts["spec"]["revisionHistoryLimit"] = 1
    sim = Sim(sts)
    sim.converge()
    for n in range(2, 5):
        sim.edit_set(new_image(f"nginx:{n}"))
        sim.step()
    revisions = sim.cache.objects("controllerrevisions")
    numbers = sorted(r["revision"] for r in revisions)
    # the pod's (1), the update one (4) and one more of history (3)
    assert numbers == [1, 3, 4]


def test_min_ready_seconds_holds_the_next_pod_and_asks_to_look_again() -> None:
    sim = Sim(make_set(2, min_ready=10))
    sim.step()
    sim.set_pod("web-0")
    result = sim.step()
    assert creates(result) == []
    assert result.requeue_after == pytest.approx(10.0, abs=0.01)
    assert sim.status()["readyReplicas"] == 1 and sim.status()["availableReplicas"] == 0
    sim.now += 10.5
    assert creates(sim.step()) == ["web-1"]


def test_status_is_not_written_again_when_unchanged() -> None:
    sim = Sim(make_set(1))
    sim.converge()
    sim.step()
    result = sim.step()
    assert not [a for a in result.actions if isinstance(a, Patch)]


# -- keys ---------------------------------------------------------------------------------------------------


def test_keys_for_events_on_what_the_set_owns() -> None:
    c = StatefulSetController()
    sim = Sim(make_set(1))
    sim.step()
    pod = sim.pod("web-0")
    claim = sim.cache.objects("persistentvolumeclaims")[0]
    revision = sim.cache.objects("controllerrevisions")[0]
    assert list(c.keys_for("pods", pod, None, sim.cache)) == [KEY]
    assert list(c.keys_for("persistentvolumeclaims", claim, None, sim.cache)) == [KEY]
    assert list(c.keys_for("controllerrevisions", revision, None, sim.cache)) == [KEY]
    assert list(c.keys_for("statefulsets", sim.set(), None, sim.cache)) == [KEY]
    orphan = {"metadata": {"name": "web-7", "namespace": "default", "labels": {"app": "web"}}}
    assert list(c.keys_for("pods", orphan, None, sim.cache)) == [KEY]
    stranger = {"metadata": {"name": "db-0", "namespace": "default", "labels": {"app": "web"}}}
    assert list(c.keys_for("pods", stranger, None, sim.cache)) == []


def test_a_deleted_set_is_a_no_op() -> None:
    assert StatefulSetController().reconcile(KEY, DictCache(), Context(now=T0)).actions == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [("web-0", ("web", 0)), ("my-db-12", ("my-db", 12)), ("web", ("", -1)), ("web-x", ("", -1))],
    ids=["simple", "dashes", "no-ordinal", "not-a-number"],
)
def test_parent_and_ordinal(name: str, expected: tuple[str, int]) -> None:
    assert statefulset.parent_and_ordinal(name) == expected


@pytest.mark.parametrize(
    ("retention", "claim_expected"),
    [(None, False), ({"whenDeleted": "Delete", "whenScaled": "Retain"}, True)],
    ids=["retain: claim not ours", "when-deleted-delete: claim carries our controller ref"],
)
def test_creates_of_objects_with_our_controller_ref_are_expected(
    retention: Obj | None, claim_expected: bool
) -> None:
    # The manager settles a creation for every watched object that appears with the set's controller ref.
    result = Sim(make_set(1, retention=retention)).reconcile()
    expect = {a.resource: a.expect for a in result.actions if isinstance(a, Create)}
    assert expect == {"controllerrevisions": True, "persistentvolumeclaims": claim_expected, "pods": True}
