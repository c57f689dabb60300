"""The ReplicaSet and ReplicationController controllers, called directly on a ``DictCache``: the pods they
create and delete, which ones they delete first, adoption and release, and the status they report."""

from __future__ import annotations

import random
from typing import Any

import pytest

from actors.controllers import framework, ownership, replicaset
from actors.controllers.framework import Context, Create, Delete, DictCache, Event, Patch, Pending
from actors.controllers.informer import DELETED, MODIFIED, Informer, InformerCache
from actors.controllers.replicaset import ReplicaSetController, ReplicationManager
from kube import meta
from tests.actors.controllers import sim
from tests.actors.controllers.sim import T0

WEB = {"app": "web"}


def rs_in(s: sim.Sim, replicas: int, **spec: Any) -> dict[str, Any]:
    return s.add("replicasets", sim.replica_set("web", replicas, WEB, **spec))


def creates(actions: list[Any]) -> list[Create]:
    return [a for a in actions if isinstance(a, Create)]


def deletes(actions: list[Any]) -> list[Delete]:
    return [a for a in actions if isinstance(a, Delete)]


def patches(actions: list[Any], subresource: str = "") -> list[Patch]:
    return [a for a in actions if isinstance(a, Patch) and a.subresource == subresource]


# -- creating and deleting -----------------------------------------------------------------------------------


def test_scale_up_from_zero_creates_the_missing_pods_from_the_template() -> None:
    s = sim.Sim()
    rs = rs_in(s, 3)
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    made = creates(result.actions)
    assert len(made) == 3
    for create in made:
        assert create.resource == "pods" and create.namespace == "default" and create.expect
        md = create.body["metadata"]
        assert md["generateName"] == "web-"
        assert md["namespace"] == "default"
        assert md["labels"] == WEB
        assert md["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web",
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert create.body["spec"] == rs["spec"]["template"]["spec"]
    # The status says it saw the generation, with no pods yet.
    (status,) = patches(result.actions, "status")
    assert status.patch["status"] == {"replicas": 0, "observedGeneration": 1}
    assert status.patch["metadata"] == {"resourceVersion": rs["metadata"]["resourceVersion"]}


def test_template_annotations_and_finalizers_reach_the_pod() -> None:
    s = sim.Sim()
    spec_template = sim.template(WEB, note="x")
    spec_template["metadata"]["finalizers"] = ["example.com/keep"]
    s.add("replicasets", sim.replica_set("web", 1, WEB, template=spec_template))
    (create,) = creates(ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0)).actions)
    assert create.body["metadata"]["annotations"] == {"note": "x"}
    assert create.body["metadata"]["finalizers"] == ["example.com/keep"]


def test_at_most_burst_replicas_pods_are_created_per_sync() -> None:
    s = sim.Sim()
    rs_in(s, 600)
    assert (
        len(creates(ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0)).actions)) == 500
    )
    small = ReplicaSetController(burst_replicas=7)
    assert len(creates(small.reconcile("default/web", s.cache, Context(now=T0)).actions)) == 7


@pytest.mark.parametrize("pending", [Pending(adds=2), Pending(deletes=1)], ids=["creates-out", "deletes-out"])
def test_outstanding_expectations_hold_back_creates_and_deletes_but_not_status(pending: Pending) -> None:
    s = sim.Sim()
    rs_in(s, 3)
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0, pending=pending))
    assert not creates(result.actions) and not deletes(result.actions)
    assert patches(result.actions, "status")


def test_surplus_pods_are_deleted_with_a_uid_precondition_and_expectations() -> None:
    s = sim.Sim()
    rs = rs_in(s, 1)
    for i in range(3):
        s.add(
            "pods",
            sim.pod(f"web-{i}", WEB, owner=rs, node="n1", ready_since=T0 - 100 * (i + 1), created=T0 - 1000),
        )
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    gone = deletes(result.actions)
    assert len(gone) == 2
    assert all(d.expect and d.resource == "pods" and d.uid == f"uid-{d.name}" for d in gone)
    # The most recently ready go first; the one ready longest stays.
    assert sorted(d.name for d in gone) == ["web-0", "web-1"]


def test_nothing_is_created_for_a_replica_set_being_deleted() -> None:
    s = sim.Sim()
    obj = sim.replica_set("web", 3, WEB)
    obj["metadata"]["deletionTimestamp"] = meta.now_rfc3339(T0)
    s.add("replicasets", obj)
    assert not creates(ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0)).actions)


@pytest.mark.parametrize(
    "how",
    [
        {"status": {"phase": "Succeeded"}},
        {"status": {"phase": "Failed"}},
        {"metadata": {"deletionTimestamp": "2023-11-14T22:13:00Z"}},
    ],
    ids=["succeeded", "failed", "terminating"],
)
def test_inactive_pods_do_not_count_and_are_replaced(how: dict[str, Any]) -> None:
    s = sim.Sim()
    rs = rs_in(s, 1)
    dead = sim.pod("web-old", WEB, owner=rs, node="n1")
    for part, fields in how.items():
        dead[part].update(fields)
    s.add("pods", dead)
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    assert len(creates(result.actions)) == 1
    assert patches(result.actions, "status")[0].patch["status"]["replicas"] == 0


# -- which pods go first -------------------------------------------------------------------------------------

OLD, NEW = T0 - 10_000, T0 - 10


def two(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return a, b


@pytest.mark.parametrize(
    ("doomed", "kept"),
    [
        two({"node": ""}, {"node": "n1"}),
        two({"phase": "Pending"}, {"phase": "Running"}),
        two({"phase": "Unknown"}, {"phase": "Running"}),
        two({"ready_since": None}, {"ready_since": OLD}),
        two({"cost": "-5"}, {"cost": "10"}),
        two({"ready_since": NEW}, {"ready_since": OLD}),
        two({"restarts": 3}, {"restarts": 0}),
        two({"created": NEW}, {"created": OLD}),
    ],
    ids=[
        "unscheduled-first",
        "pending-before-running",
        "unknown-before-running",
        "not-ready-first",
        "cheaper-deletion-cost-first",
        "recently-ready-first",
        "more-restarts-first",
        "younger-first",
    ],
)
def test_deletion_ranking(doomed: dict[str, Any], kept: dict[str, Any]) -> None:
    s = sim.Sim()
    rs = rs_in(s, 1)
    for name, traits in (("doomed", doomed), ("kept", kept)):
        # Everything else equal: scheduled, Running, ready for a long time, old, no restarts.
        base = {
            "node": "n1",
            "phase": "Running",
            "ready_since": OLD,
            "created": OLD,
            "restarts": 0,
            "cost": None,
        }
        t = {**base, **traits}
        p = sim.pod(
            name,
            WEB,
            owner=rs,
            node=t["node"],
            phase=t["phase"],
            ready_since=t["ready_since"],
            created=t["created"],
        )
        p["status"]["containerStatuses"] = [{"name": "app", "restartCount": t["restarts"]}]
        if t["cost"] is not None:
            p["metadata"]["annotations"] = {replicaset.DELETION_COST: t["cost"]}
        s.add("pods", p)
    (gone,) = deletes(ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0)).actions)
    assert gone.name == "doomed"


def test_pods_doubled_up_on_a_node_with_their_siblings_go_first() -> None:
    s = sim.Sim()
    parent = {"metadata": {"name": "dep", "uid": "uid-dep"}, "apiVersion": "apps/v1", "kind": "Deployment"}
    rs = sim.replica_set("web", 2, WEB)
    rs["metadata"]["ownerReferences"] = [framework.owner_reference(parent)]
    rs = s.add("replicasets", rs)
    sibling = sim.replica_set("web-old", 1, {"app": "web-old"})
    sibling["metadata"]["ownerReferences"] = [framework.owner_reference(parent)]
    sibling = s.add("replicasets", sibling)
    s.add(
        "pods", sim.pod("old-on-a", {"app": "web-old"}, owner=sibling, node="a", ready_since=OLD, created=OLD)
    )
    for name, node in (("on-a", "a"), ("on-b", "b"), ("on-c", "c")):
        s.add("pods", sim.pod(name, WEB, owner=rs, node=node, ready_since=OLD, created=OLD))
    (gone,) = deletes(ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0)).actions)
    assert gone.name == "on-a"


def test_log_scale_buckets_treat_similar_ages_alike_and_break_ties_by_uid() -> None:
    now = T0
    a = sim.pod("a", WEB, node="n", ready_since=now - 1000, created=OLD)
    b = sim.pod("b", WEB, node="n", ready_since=now - 1001, created=OLD)
    a["metadata"]["uid"], b["metadata"]["uid"] = "uid-2", "uid-1"
    # 1000 s and 1001 s fall in the same power-of-two bucket of nanoseconds: the smaller uid goes first.
    assert [p["metadata"]["name"] for p in replicaset.pods_to_delete([a, b], [], 1, now)] == ["b"]


# -- adoption and release ------------------------------------------------------------------------------------


def test_matching_orphans_are_adopted_and_count_towards_replicas() -> None:
    s = sim.Sim()
    rs = rs_in(s, 2)
    s.add("pods", sim.pod("stray", WEB, node="n1"))
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    (adopt,) = patches(result.actions)
    assert adopt.resource == "pods" and adopt.name == "stray" and adopt.patch_type == ownership.STRATEGIC
    ref = {**framework.owner_reference(rs), "apiVersion": "apps/v1", "kind": "ReplicaSet"}
    assert adopt.patch == {"metadata": {"ownerReferences": [ref], "uid": "uid-stray"}}
    assert len(creates(result.actions)) == 1  # the adopted pod is one of the two
    s.apply(result.actions)
    assert meta.controller_of(s.get("pods", "default/stray")).uid == rs["metadata"]["uid"]  # type: ignore[union-attr]


def test_owned_pods_that_stop_matching_are_released() -> None:
    s = sim.Sim()
    rs = rs_in(s, 1)
    s.add("pods", sim.pod("relabelled", {"app": "other"}, owner=rs, node="n1"))
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    (release,) = patches(result.actions)
    assert release.patch == {
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": rs["metadata"]["uid"]}],
            "uid": "uid-relabelled",
        }
    }
    assert len(creates(result.actions)) == 1
    s.apply(result.actions)
    assert meta.controller_of(s.get("pods", "default/relabelled")) is None


@pytest.mark.parametrize(
    "case",
    ["other-controller", "terminating-orphan", "other-namespace", "owner-deleting"],
)
def test_what_is_neither_adopted_nor_released(case: str) -> None:
    s = sim.Sim()
    rs_obj = sim.replica_set("web", 0, WEB)
    if case == "owner-deleting":
        rs_obj["metadata"]["deletionTimestamp"] = meta.now_rfc3339(T0)
    rs = s.add("replicasets", rs_obj)
    if case == "other-controller":
        other = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "x", "uid": "uid-x"}}
        s.add("pods", sim.pod("p", WEB, owner=other))
    elif case == "terminating-orphan":
        p = sim.pod("p", WEB)
        p["metadata"]["deletionTimestamp"] = meta.now_rfc3339(T0)
        s.add("pods", p)
    elif case == "other-namespace":
        s.add("pods", sim.pod("p", WEB, namespace="elsewhere"))
    else:
        s.add("pods", sim.pod("p", {"app": "other"}, owner=rs))
        s.add("pods", sim.pod("q", WEB))
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    assert not [p for p in patches(result.actions) if p.resource == "pods"]


# -- status --------------------------------------------------------------------------------------------------


def test_status_counts_ready_and_available_pods_and_asks_to_come_back_for_min_ready_seconds() -> None:
    s = sim.Sim()
    rs = rs_in(s, 4, minReadySeconds=10)
    s.add("pods", sim.pod("available", WEB, owner=rs, node="n1", ready_since=T0 - 20))
    s.add("pods", sim.pod("soon", WEB, owner=rs, node="n1", ready_since=T0 - 4))
    s.add("pods", sim.pod("later", WEB, owner=rs, node="n1", ready_since=T0 - 1))
    s.add("pods", sim.pod("unready", {**WEB, "extra": "x"}, owner=rs, node="n1"))
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    (status,) = patches(result.actions, "status")
    assert status.patch["status"] == {
        "replicas": 4,
        "fullyLabeledReplicas": 4,
        "readyReplicas": 3,
        "availableReplicas": 1,
        "observedGeneration": 1,
    }
    # "soon" passes minReadySeconds 6 s from now (plus upstream's second against skew).
    assert result.requeue_after == pytest.approx(7.0)
    s.apply(result.actions)
    s.tick(7)
    later = ReplicaSetController().reconcile("default/web", s.cache, Context(now=s.now))
    assert patches(later.actions, "status")[0].patch["status"] == {"availableReplicas": 2}


def test_fully_labeled_counts_only_pods_with_every_template_label() -> None:
    s = sim.Sim()
    rs_obj = sim.replica_set("web", 2, WEB)
    rs_obj["spec"]["template"]["metadata"]["labels"] = {**WEB, "tier": "front"}
    rs = s.add("replicasets", rs_obj)
    s.add("pods", sim.pod("full", {**WEB, "tier": "front"}, owner=rs, node="n1"))
    s.add("pods", sim.pod("partial", WEB, owner=rs, node="n1"))
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    assert patches(result.actions, "status")[0].patch["status"]["fullyLabeledReplicas"] == 1


def test_a_second_sync_with_nothing_new_writes_nothing() -> None:
    s = sim.Sim()
    rs_in(s, 2)
    controller = ReplicaSetController()
    s.reconcile(controller, "default/web")
    s.start_pods()
    s.reconcile(controller, "default/web")
    assert s.reconcile(controller, "default/web").actions == []


def test_replica_failure_stays_until_the_count_is_right() -> None:
    s = sim.Sim()
    rs_obj = sim.replica_set("web", 1, WEB)
    failure = replicaset.replica_failure("FailedCreate", "pods is forbidden: exceeded quota", T0 - 5)
    rs_obj["status"] = {"replicas": 0, "observedGeneration": 1, "conditions": [failure]}
    s.add("replicasets", rs_obj)
    controller = ReplicaSetController()
    first = s.reconcile(controller, "default/web")
    assert not patches(first.actions, "status")  # still short of a pod: the failure stands
    s.start_pods()
    second = s.reconcile(controller, "default/web")
    assert patches(second.actions, "status")[0].patch["status"]["conditions"] is None


# -- event handlers ------------------------------------------------------------------------------------------


def test_keys_for_pods() -> None:
    s = sim.Sim()
    rs = rs_in(s, 1)
    other = s.add("replicasets", sim.replica_set("api", 1, {"app": "api"}))
    s.add("replicasets", sim.replica_set("web-too", 1, WEB))
    c = ReplicaSetController()
    owned = sim.pod("p", WEB, owner=rs)
    assert list(c.keys_for("replicasets", rs, None, s.cache)) == ["default/web"]
    assert list(c.keys_for("pods", owned, None, s.cache)) == ["default/web"]
    # An orphan wakes every owner whose selector matches it, to see whether one adopts it.
    orphan = sim.pod("o", WEB)
    assert sorted(c.keys_for("pods", orphan, None, s.cache)) == ["default/web", "default/web-too"]
    # An orphan whose labels did not change wakes nobody.
    assert list(c.keys_for("pods", orphan, orphan, s.cache)) == []
    # A controller reference that moved wakes both controllers.
    moved = sim.pod("p", WEB, owner=other)
    assert sorted(c.keys_for("pods", moved, owned, s.cache)) == ["default/api", "default/web"]
    # A reference to a ReplicaSet of the same name but another uid (deleted and re-created) resolves to none.
    stale = sim.pod("p", WEB, owner={"metadata": {"name": "web", "uid": "gone"}, "kind": "ReplicaSet"})
    assert list(c.keys_for("pods", stale, None, s.cache)) == []


# -- ReplicationControllers ----------------------------------------------------------------------------------


def test_replication_manager_uses_the_map_selector_and_the_v1_owner() -> None:
    cache = DictCache()
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "legacy", "namespace": "default", "uid": "uid-rc", "generation": 2},
        "spec": {"replicas": 2, "selector": {"app": "legacy"}, "template": sim.template({"app": "legacy"})},
    }
    cache.put("replicationcontrollers", rc)
    cache.put("pods", sim.pod("stray", {"app": "legacy"}, node="n1"))
    controller = ReplicationManager()
    assert controller.name == "replication-controller"
    assert controller.watches == ("replicationcontrollers", "pods")
    result = controller.reconcile("default/legacy", cache, Context(now=T0))
    (adopt,) = patches(result.actions)
    (create,) = creates(result.actions)
    for ref in (adopt.patch["metadata"]["ownerReferences"][0], create.body["metadata"]["ownerReferences"][0]):
        assert (ref["apiVersion"], ref["kind"], ref["uid"]) == ("v1", "ReplicationController", "uid-rc")
    (status,) = patches(result.actions, "status")
    assert status.resource == "replicationcontrollers"
    assert status.patch["status"] == {"replicas": 1, "fullyLabeledReplicas": 1, "observedGeneration": 2}
    assert list(controller.keys_for("pods", sim.pod("x", {"app": "legacy"}), None, cache)) == [
        "default/legacy"
    ]


def test_pod_writes_record_real_pod_control_events_on_the_owner() -> None:
    s = sim.Sim()
    rs_in(s, 2)
    s.reconcile(ReplicaSetController(), "default/web")
    names = sorted(p["metadata"]["name"] for p in s.objects("pods"))
    assert sorted((e.obj["metadata"]["name"], e.type, e.reason, e.message) for e in s.events) == [
        ("web", "Normal", "SuccessfulCreate", f"Created pod: {name}") for name in names
    ]
    assert all(name.startswith("web-") and len(name) == len("web-") + 5 for name in names)
    s.events.clear()
    rs = meta.deep_copy(s.get("replicasets", "default/web"))
    rs["spec"]["replicas"] = 1
    s.cache.put("replicasets", rs)
    result = s.reconcile(ReplicaSetController(), "default/web")
    (doomed,) = [a.name for a in result.actions if isinstance(a, Delete)]
    assert [(e.reason, e.message) for e in s.events] == [("SuccessfulDelete", f"Deleted pod: {doomed}")]


def test_refused_pod_writes_record_failed_create_and_failed_delete() -> None:
    s = sim.Sim()
    rs_in(s, 1)
    result = ReplicaSetController().reconcile("default/web", s.cache, Context(now=T0))
    assert not [a for a in result.actions if isinstance(a, Event)]  # the runner records them, not reconcile
    (create,) = creates(result.actions)
    refused = framework.failure_event(create, 'pods "web-x" is forbidden: exceeded quota', reason="Forbidden")
    assert refused is not None and (refused.type, refused.reason, refused.message) == (
        "Warning",
        "FailedCreate",
        'Error creating: pods "web-x" is forbidden: exceeded quota',
    )
    delete = framework.delete_pod(s.get("replicasets", "default/web"), sim.pod("web-1", WEB))
    refused = framework.failure_event(delete, "etcdserver: request timed out")
    assert refused is not None and (refused.reason, refused.message) == (
        "FailedDelete",
        "Error deleting: etcdserver: request timed out",
    )


# -- remembering across syncs --------------------------------------------------------------------------------


def mirrored(cache: DictCache, informers: dict[str, Informer]) -> InformerCache:
    """The objects of ``cache`` delivered to ``informers`` as watch events (an object that is not the one an
    informer holds is a new version): an informer's cache, which keeps a change log."""
    for resource, informer in informers.items():
        objects = {framework.key_of(o): o for o in cache.objects(resource)}
        held = {framework.key_of(o): o for o in informer.objects()}
        events = [(DELETED, o) for k, o in held.items() if k not in objects]
        events += [(MODIFIED, o) for k, o in objects.items() if held.get(k) is not o]
        informer.apply(events)
    return InformerCache(informers)


@pytest.mark.parametrize("seed", range(4))
def test_a_controller_that_remembers_syncs_as_a_fresh_one_would(seed: int) -> None:
    """What a sync read of each pod is reused for the pods that did not change, and only for those."""
    rng = random.Random(seed)
    s = sim.Sim()
    rs = rs_in(s, 30)
    remembering, logging = ReplicaSetController(), ReplicaSetController()
    informers = {r: Informer(r) for r in ("pods", "replicasets")}
    for step in range(20):
        ctx = Context(now=s.now)
        result = remembering.reconcile("default/web", s.cache, ctx)
        assert result == ReplicaSetController().reconcile("default/web", s.cache, ctx), f"step {step}"
        logged = mirrored(s.cache, informers)
        assert result == logging.reconcile("default/web", logged, ctx), f"step {step}"
        s.apply(result.actions)
        s.start_pods()
        pods = s.cache.objects("pods")
        for p in rng.sample(pods, min(5, len(pods))):
            changed = meta.deep_copy(p)
            changed["metadata"]["resourceVersion"] += f".{step}"  # a new version, as the apiserver would say
            what = rng.choice(["unready", "failed", "orphan", "relabel", "terminating"])
            if what == "unready":
                changed["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
            elif what == "failed":
                changed["status"]["phase"] = "Failed"
            elif what == "orphan":
                changed["metadata"]["ownerReferences"] = []
            elif what == "relabel":
                changed["metadata"]["labels"] = {"app": rng.choice(["web", "api"])}
            else:
                changed["metadata"]["deletionTimestamp"] = meta.now_rfc3339(s.now)
            s.cache.put("pods", changed)
        if step == 10:
            scaled = meta.deep_copy(s.cache.get("replicasets", "default", "web") or rs)
            scaled["spec"]["replicas"] = 12
            scaled["metadata"]["resourceVersion"] += ".scaled"
            s.cache.put("replicasets", scaled)
        s.tick(5)
