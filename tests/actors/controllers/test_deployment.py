"""The Deployment controller on an in-memory cluster (``sim.Sim``): the first ReplicaSet, rolling updates
that keep within maxSurge and maxUnavailable at every step, Recreate, rollback by template, pausing,
proportional scaling, the progress deadline, history clean-up and hash collisions."""

from __future__ import annotations

from typing import Any

import pytest

from actors.controllers import deployment_util as util
from actors.controllers import framework, history
from actors.controllers.deployment import DeploymentController
from actors.controllers.framework import Context, Create, Delete, Event, Patch
from actors.controllers.replicaset import ReplicaSetController
from kube import meta
from tests.actors.controllers import sim
from tests.actors.controllers.sim import T0

DC, RSC = DeploymentController(), ReplicaSetController()
KEY = "default/web"


def rolling(surge: int | str, unavailable: int | str) -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}


def deploy(s: sim.Sim, replicas: int, **kwargs: Any) -> dict[str, Any]:
    return s.add("deployments", sim.deployment("web", replicas, **kwargs))


def d_of(s: sim.Sim) -> dict[str, Any]:
    return s.get("deployments", KEY)


def update_spec(s: sim.Sim, **changes: Any) -> None:
    """What ``kubectl`` does: change the spec (the generation moves)."""
    s.apply([Patch(resource="deployments", namespace="default", name="web", patch={"spec": changes})])


def set_image(s: sim.Sim, image: str) -> None:
    update_spec(s, template={"spec": {"containers": [{"name": "app", "image": image}]}})


def replica_sets(s: sim.Sim) -> dict[str, dict[str, Any]]:
    """ReplicaSets by revision."""
    return {util.meta_annotation(rs, util.REVISION) or "": rs for rs in s.objects("replicasets")}


def running_pods(s: sim.Sim) -> list[dict[str, Any]]:
    return [p for p in s.objects("pods") if not framework.is_terminating(p)]


def available_pods(s: sim.Sim, min_ready: int = 0) -> int:
    return sum(1 for p in running_pods(s) if framework.is_pod_available(p, min_ready, s.now))


def bring_up(s: sim.Sim) -> None:
    """Settle the controllers with every pod started and ready."""
    for _ in range(20):
        s.settle([DC, RSC])
        if not s.start_pods():
            return
    raise AssertionError("pods keep coming")


def owned_rs(
    s: sim.Sim, d: dict[str, Any], name: str, size: int, revision: str, image: str, **status: int
) -> dict[str, Any]:
    """A ReplicaSet of ``d`` as the controller would have made it, for ``image``, with the given status."""
    rs_template = meta.deep_copy(d["spec"]["template"])
    rs_template["spec"]["containers"][0]["image"] = image
    pod_hash = history.compute_hash(rs_template, None)
    rs_template["metadata"]["labels"][util.POD_TEMPLATE_HASH] = pod_hash
    rs = sim.replica_set(name, size, {"app": "web", util.POD_TEMPLATE_HASH: pod_hash})
    rs["spec"]["template"] = rs_template
    rs["metadata"]["ownerReferences"] = [framework.owner_reference(d)]
    desired, maximum = util.replicas(d), util.replicas(d) + util.max_surge(d)
    rs["metadata"]["annotations"] = {
        util.REVISION: revision,
        util.DESIRED_REPLICAS: str(desired),
        util.MAX_REPLICAS: str(maximum),
    }
    rs["status"] = {"replicas": size, "observedGeneration": 1, **status}
    added = s.add("replicasets", rs)
    s.tick(10)
    return added


def rollout_done(s: sim.Sim, replicas: int) -> bool:
    status = d_of(s)["status"]
    progressing = util.get_condition(status, util.PROGRESSING) or {}
    counts = [status.get(f) for f in ("replicas", "updatedReplicas", "availableReplicas")]
    observed = status.get("observedGeneration") == d_of(s)["metadata"]["generation"]
    return observed and progressing.get("reason") == util.NEW_RS_AVAILABLE and counts == [replicas] * 3


def of_type(actions: list[Any], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


# -- the first rollout ---------------------------------------------------------------------------------------


def test_first_sync_creates_revision_one() -> None:
    s = sim.Sim()
    d = deploy(s, 4, strategy=rolling(1, 0))
    result = DC.reconcile(KEY, s.cache, Context(now=T0))
    (create,) = of_type(result.actions, Create)
    rs = create.body
    pod_hash = history.compute_hash(d["spec"]["template"], None)
    assert create.resource == "replicasets" and not create.expect
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": pod_hash}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["spec"] == d["spec"]["template"]["spec"]
    assert rs["spec"]["replicas"] == 4
    assert rs["metadata"]["annotations"] == {
        util.REVISION: "1",
        util.DESIRED_REPLICAS: "4",
        util.MAX_REPLICAS: "5",
    }
    (ref,) = rs["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("Deployment", "web", "uid-web", True)
    refused = framework.failure_event(
        create, "replicasets.apps is forbidden: exceeded quota", reason="Forbidden"
    )
    assert refused is not None and (refused.obj, refused.type, refused.reason, refused.message) == (
        d,
        "Warning",
        "ReplicaSetCreateError",
        f'Failed to create new replica set "web-{pod_hash}": replicasets.apps is forbidden: exceeded quota',
    )
    assert framework.failure_event(create, "taken", reason="AlreadyExists") is None  # a collision, not news
    (event,) = of_type(result.actions, Event)
    assert (event.reason, event.message) == (
        "ScalingReplicaSet",
        f"Scaled up replica set web-{pod_hash} from 0 to 4",
    )
    status, annotation = of_type(result.actions, Patch)
    assert status.subresource == "status"
    progressing = util.get_condition(status.patch["status"], util.PROGRESSING)
    assert progressing is not None and progressing["reason"] == util.NEW_REPLICA_SET
    assert progressing["message"] == f'Created new replica set "web-{pod_hash}"'
    assert annotation.patch == {"metadata": {"annotations": {util.REVISION: "1"}}}


def test_a_finished_rollout_reports_available_and_complete_and_then_writes_nothing() -> None:
    s = sim.Sim()
    deploy(s, 3)
    bring_up(s)
    status = d_of(s)["status"]
    assert {
        k: status.get(k) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    } == {
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    assert "unavailableReplicas" not in status and status["observedGeneration"] == 1
    available = util.get_condition(status, util.AVAILABLE)
    progressing = util.get_condition(status, util.PROGRESSING)
    assert available is not None and available["reason"] == util.MINIMUM_REPLICAS_AVAILABLE
    assert progressing is not None and progressing["reason"] == util.NEW_RS_AVAILABLE
    assert util.meta_annotation(d_of(s), util.REVISION) == "1"
    again = DC.reconcile(KEY, s.cache, Context(now=s.now + 5))
    assert again.actions == [] and again.requeue_after is None


# -- rolling updates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable"),
    [(10, "25%", "25%"), (4, 1, 0), (4, 0, 1), (5, "30%", "0%"), (3, 0, "50%"), (1, "1%", "1%"), (6, 3, 2)],
    ids=["default-25%", "surge-only", "unavailable-only", "percent-surge", "half-down", "rounding-1", "wide"],
)
def test_rolling_update_stays_within_surge_and_unavailability(
    replicas: int, surge: Any, unavailable: Any
) -> None:
    s = sim.Sim()
    deploy(s, replicas, strategy=rolling(surge, unavailable))
    bring_up(s)
    max_surge, max_unavailable = util.fenceposts(d_of(s))
    set_image(s, "nginx:1.26")

    def check() -> None:
        assert len(running_pods(s)) <= replicas + max_surge
        assert available_pods(s) >= replicas - max_unavailable

    steps = 0
    while not rollout_done(s, replicas):
        steps += 1
        assert steps < 100, "the rollout did not finish"
        s.reconcile(DC, KEY)  # the deployment moves one step
        s.settle([RSC])  # the ReplicaSets create and delete pods, then report
        check()
        s.start_pods()  # the kubelet runs the new pods; they turn ready
        s.settle([RSC])
        check()
        s.tick(1)
    assert steps > 1
    revisions = replica_sets(s)
    assert set(revisions) == {"1", "2"}
    assert revisions["1"]["spec"]["replicas"] == 0 and revisions["2"]["spec"]["replicas"] == replicas
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.26" for p in running_pods(s))
    assert util.meta_annotation(d_of(s), util.REVISION) == "2"
    messages = [e.message for e in s.events if e.reason == "ScalingReplicaSet"]
    assert any(m.startswith("Scaled down replica set") for m in messages)


def test_an_unready_new_pod_holds_the_rollout() -> None:
    s = sim.Sim()
    deploy(s, 4, strategy=rolling(0, 1))
    bring_up(s)
    set_image(s, "nginx:1.26")
    s.reconcile(DC, KEY)
    s.settle([RSC])
    # maxSurge 0: one old pod went first; the new ReplicaSet may only take its place.
    assert sorted(rs["spec"]["replicas"] for rs in s.objects("replicasets")) == [0, 3]
    s.reconcile(DC, KEY)
    assert sorted(rs["spec"]["replicas"] for rs in s.objects("replicasets")) == [1, 3]
    s.settle([RSC])
    s.start_pods(ready=False)  # the new pod never turns ready
    s.settle([RSC])
    for _ in range(3):
        result = s.reconcile(DC, KEY)
        assert not [a for a in result.actions if isinstance(a, Patch) and a.resource == "replicasets"]


def test_unavailable_new_pods_count_against_scaling_down_old_ones() -> None:
    # Upstream's own example (rolling.go): 10 replicas, maxUnavailable 2, maxSurge 3; the new ReplicaSet's
    # 5 pods crash-loop and a node failure takes one old pod: 13 - 8 - 5 = 0 may go, so nothing does.
    s = sim.Sim()
    d = deploy(s, 10, strategy=rolling(3, 2), image="nginx:1.26")
    owned_rs(s, d, "web-old", 8, "1", "nginx:1.25", availableReplicas=7, readyReplicas=7)
    owned_rs(s, d, "web-new", 5, "2", "nginx:1.26", availableReplicas=0)
    result = DC.reconcile(KEY, s.cache, Context(now=s.now))
    assert not [a for a in result.actions if isinstance(a, Patch) and a.resource == "replicasets"]
    # Once the new pods are available, the unhealthy old replica goes first, then healthy ones down to 8.
    new = s.get("replicasets", "default/web-new")
    s.cache.put("replicasets", {**new, "status": {**new["status"], "availableReplicas": 5}})
    s.reconcile(DC, KEY)
    assert s.get("replicasets", "default/web-old")["spec"]["replicas"] == 3


# -- Recreate ------------------------------------------------------------------------------------------------


def test_recreate_scales_the_old_replica_set_to_zero_before_the_new_one_starts() -> None:
    s = sim.Sim()
    deploy(s, 3, strategy={"type": "Recreate"})
    bring_up(s)
    set_image(s, "nginx:1.26")
    first = s.reconcile(DC, KEY)
    assert not of_type(first.actions, Create)
    assert replica_sets(s)["1"]["spec"]["replicas"] == 0
    # The old pods are going but not gone: the deployment waits.
    for p in running_pods(s):
        p = meta.deep_copy(p)
        p["metadata"]["deletionTimestamp"] = meta.now_rfc3339(s.now)
        s.cache.put("pods", p)
    s.settle([RSC])
    assert not of_type(s.reconcile(DC, KEY).actions, Create)
    terminating = s.objects("pods")
    assert all(DC.keys_for("pods", p, p, s.cache) == [KEY] for p in terminating)
    for p in terminating:
        s.cache.remove("pods", p)
    second = s.reconcile(DC, KEY)
    (create,) = of_type(second.actions, Create)
    assert create.body["spec"]["replicas"] == 3
    assert create.body["metadata"]["annotations"][util.REVISION] == "2"
    bring_up(s)
    assert len(running_pods(s)) == 3
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.26" for p in running_pods(s))


# -- rollback, restart, pause --------------------------------------------------------------------------------


def test_rollback_by_template_reuses_the_old_replica_set_with_a_new_revision() -> None:
    s = sim.Sim()
    deploy(s, 2, strategy=rolling(1, 0))
    bring_up(s)
    set_image(s, "nginx:1.26")
    bring_up(s)
    assert set(replica_sets(s)) == {"1", "2"}
    # kubectl rollout undo: the old ReplicaSet's template, without its pod-template-hash label.
    old = replica_sets(s)["1"]
    undo = meta.deep_copy(old["spec"]["template"])
    del undo["metadata"]["labels"][util.POD_TEMPLATE_HASH]
    update_spec(s, template=undo)
    bring_up(s)
    assert len(s.objects("replicasets")) == 2  # no third ReplicaSet
    reused = s.get("replicasets", f"default/{old['metadata']['name']}")
    assert util.meta_annotation(reused, util.REVISION) == "3"
    assert util.meta_annotation(reused, util.REVISION_HISTORY) == "1"
    assert reused["spec"]["replicas"] == 2
    assert util.meta_annotation(d_of(s), util.REVISION) == "3"
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.25" for p in running_pods(s))


def test_restart_annotation_is_a_new_template() -> None:
    s = sim.Sim()
    deploy(s, 1)
    bring_up(s)
    restart = {"kubectl.kubernetes.io/restartedAt": "2023-11-14T22:14:00Z"}
    update_spec(s, template={"metadata": {"annotations": restart}})
    bring_up(s)
    assert set(replica_sets(s)) == {"1", "2"}
    assert running_pods(s)[0]["metadata"]["annotations"] == restart


def test_paused_deployment_scales_but_does_not_roll_out() -> None:
    s = sim.Sim()
    deploy(s, 2)
    bring_up(s)
    update_spec(s, paused=True)
    set_image(s, "nginx:1.26")
    result = s.reconcile(DC, KEY)
    assert not of_type(result.actions, Create)
    progressing = util.get_condition(d_of(s)["status"], util.PROGRESSING)
    assert progressing is not None
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "Unknown",
        util.PAUSED,
        "Deployment is paused",
    )
    update_spec(s, replicas=4)
    bring_up(s)
    assert [rs["spec"]["replicas"] for rs in s.objects("replicasets")] == [4]
    assert len(running_pods(s)) == 4
    update_spec(s, paused=False)
    bring_up(s)
    assert set(replica_sets(s)) == {"1", "2"}
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.26" for p in running_pods(s))


def test_a_long_pause_does_not_count_against_the_progress_deadline() -> None:
    s = sim.Sim()
    deploy(s, 2, strategy=rolling(1, 0), progressDeadlineSeconds=60)
    bring_up(s)
    set_image(s, "nginx:1.26")
    s.reconcile(DC, KEY)
    s.settle([RSC])
    s.start_pods(ready=False)
    s.settle([RSC])
    update_spec(s, paused=True)
    s.reconcile(DC, KEY)
    s.tick(3600)
    assert s.reconcile(DC, KEY).requeue_after is None  # paused: no deadline to wait for
    update_spec(s, paused=False)
    result = s.reconcile(DC, KEY)
    progressing = util.get_condition(d_of(s)["status"], util.PROGRESSING)
    assert progressing is not None
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "Unknown",
        util.RESUMED,
        "Deployment is resumed",
    )
    assert result.requeue_after == pytest.approx(61.0)  # the deadline runs from the resume


def test_min_ready_seconds_is_carried_to_the_replica_set_without_a_new_revision() -> None:
    s = sim.Sim()
    deploy(s, 1, minReadySeconds=5)
    bring_up(s)
    (rs,) = s.objects("replicasets")
    assert rs["spec"]["minReadySeconds"] == 5
    update_spec(s, minReadySeconds=30)
    result = s.reconcile(DC, KEY)
    (patch,) = [a for a in of_type(result.actions, Patch) if a.resource == "replicasets"]
    assert patch.patch["spec"] == {"minReadySeconds": 30}
    assert patch.patch["metadata"] == {"resourceVersion": rs["metadata"]["resourceVersion"]}
    assert [r["spec"]["minReadySeconds"] for r in s.objects("replicasets")] == [30]


def test_deployment_annotations_are_copied_to_its_replica_sets() -> None:
    s = sim.Sim()
    d = sim.deployment("web", 1)
    d["metadata"]["annotations"] = {"team": "blue", util.LAST_APPLIED: "{}"}
    s.add("deployments", d)
    (create,) = of_type(DC.reconcile(KEY, s.cache, Context(now=T0)).actions, Create)
    annotations = create.body["metadata"]["annotations"]
    assert annotations["team"] == "blue" and util.LAST_APPLIED not in annotations


def test_replica_set_writes_are_guarded_by_the_cached_resource_version() -> None:
    s = sim.Sim()
    deploy(s, 2)
    bring_up(s)
    update_spec(s, replicas=3)
    stale = DC.reconcile(KEY, s.cache, Context(now=s.now))
    (rs,) = s.objects("replicasets")
    s.apply([Patch(resource="replicasets", namespace="default", name=rs["metadata"]["name"], patch={"x": 1})])
    failure = s.apply(stale.actions)
    assert failure is not None and failure.reason == "Conflict"
    assert [e.message for e in s.events if "from 2 to 3" in e.message] == []  # the runner stopped there


# -- scaling -------------------------------------------------------------------------------------------------


def test_scaling_a_finished_deployment_resizes_its_replica_set() -> None:
    s = sim.Sim()
    deploy(s, 3)
    bring_up(s)
    update_spec(s, replicas=5)
    result = s.reconcile(DC, KEY)
    ((rs_name, rs),) = [(r["metadata"]["name"], r) for r in s.objects("replicasets")]
    assert rs["spec"]["replicas"] == 5
    assert util.meta_annotation(rs, util.DESIRED_REPLICAS) == "5"
    assert util.meta_annotation(rs, util.MAX_REPLICAS) == "7"  # 5 + 25% rounded up
    assert [e.message for e in of_type(result.actions, Event)] == [
        f"Scaled up replica set {rs_name} from 3 to 5"
    ]


def test_proportional_scaling_mid_rollout() -> None:
    s = sim.Sim()
    d = deploy(s, 10, strategy=rolling(3, 2))
    owned_rs(s, d, "web-old", 8, "1", "nginx:1.25")
    owned_rs(s, d, "web-new", 5, "2", "nginx:1.26")
    set_image(s, "nginx:1.26")
    update_spec(s, replicas=15)
    result = s.reconcile(DC, KEY)
    sizes = {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in s.objects("replicasets")}
    # 15 + 3 allowed, 13 there: the 5 more split 8:5 -> +3 / +2.
    assert sizes == {"web-old": 11, "web-new": 7}
    for rs in s.objects("replicasets"):
        assert util.meta_annotation(rs, util.DESIRED_REPLICAS) == "15"
        assert util.meta_annotation(rs, util.MAX_REPLICAS) == "18"
    assert [e.message for e in of_type(result.actions, Event)] == [
        "Scaled up replica set web-old from 8 to 11",
        "Scaled up replica set web-new from 5 to 7",
    ]
    update_spec(s, replicas=5)
    s.reconcile(DC, KEY)
    sizes = {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in s.objects("replicasets")}
    # 5 + 3 allowed, 18 there: 10 fewer, taken 11:7 -> -6 / -4.
    assert sizes == {"web-old": 5, "web-new": 3}


# -- progress deadline ---------------------------------------------------------------------------------------


def test_progress_deadline_exceeded_when_new_pods_never_become_ready() -> None:
    s = sim.Sim()
    deploy(s, 2, strategy=rolling(1, 0), progressDeadlineSeconds=60)
    bring_up(s)
    set_image(s, "broken:latest")
    for _ in range(3):
        s.reconcile(DC, KEY)
        s.settle([RSC])
        s.start_pods(ready=False)
        s.settle([RSC])
    result = s.reconcile(DC, KEY)
    assert result.requeue_after is not None and 0 < result.requeue_after <= 61
    s.tick(61)
    s.reconcile(DC, KEY)
    progressing = util.get_condition(d_of(s)["status"], util.PROGRESSING)
    assert progressing is not None
    new_rs = replica_sets(s)["2"]["metadata"]["name"]
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "False",
        util.TIMED_OUT,
        f'ReplicaSet "{new_rs}" has timed out progressing.',
    )
    # Timed out stays timed out, and does not ask to come back for it.
    s.tick(100)
    again = s.reconcile(DC, KEY)
    assert again.requeue_after is None
    assert util.get_condition(d_of(s)["status"], util.PROGRESSING)["reason"] == util.TIMED_OUT  # type: ignore[index]


def test_replica_failure_of_the_new_replica_set_shows_on_the_deployment() -> None:
    s = sim.Sim()
    deploy(s, 2)
    s.reconcile(DC, KEY)
    (rs,) = s.objects("replicasets")
    rs = meta.deep_copy(rs)
    rs["status"] = {
        "conditions": [
            {
                "type": "ReplicaFailure",
                "status": "True",
                "lastTransitionTime": meta.now_rfc3339(s.now),
                "reason": "FailedCreate",
                "message": "quota",
            }
        ]
    }
    s.cache.put("replicasets", rs)
    s.reconcile(DC, KEY)
    failure = util.get_condition(d_of(s)["status"], util.REPLICA_FAILURE)
    assert failure is not None and (failure["reason"], failure["message"]) == ("FailedCreate", "quota")


# -- history -------------------------------------------------------------------------------------------------


def test_revision_history_limit_deletes_the_oldest_empty_replica_sets() -> None:
    s = sim.Sim()
    deploy(s, 1, strategy=rolling(1, 0), revisionHistoryLimit=2)
    bring_up(s)
    for i in range(6):
        set_image(s, f"nginx:1.{i}")
        bring_up(s)
    revisions = replica_sets(s)
    assert sorted(revisions, key=int) == ["5", "6", "7"]  # the new one and two old ones


def test_old_replica_sets_with_pods_are_kept_past_the_limit() -> None:
    s = sim.Sim()
    d = deploy(s, 1, revisionHistoryLimit=0)
    bring_up(s)
    (current,) = s.objects("replicasets")
    straggler = sim.replica_set("web-straggler", 0, {"app": "web", util.POD_TEMPLATE_HASH: "x"})
    straggler["metadata"]["ownerReferences"] = [framework.owner_reference(d)]
    straggler["metadata"]["annotations"] = {util.REVISION: "0"}
    straggler["status"] = {"replicas": 1, "observedGeneration": 1}  # its last pod is still going
    s.add("replicasets", straggler)
    result = s.reconcile(DC, KEY)
    assert not of_type(result.actions, Delete)
    s.cache.put(
        "replicasets", {**s.get("replicasets", "default/web-straggler"), "status": {"observedGeneration": 1}}
    )
    s.reconcile(DC, KEY)  # the status catches up: the rollout is complete again
    (delete,) = of_type(s.reconcile(DC, KEY).actions, Delete)
    assert (delete.name, delete.uid) == ("web-straggler", "uid-web-straggler")
    assert [rs["metadata"]["name"] for rs in s.objects("replicasets")] == [current["metadata"]["name"]]


# -- ownership, collisions, odd selectors --------------------------------------------------------------------


def test_a_matching_orphan_replica_set_is_adopted_and_used_as_the_new_one() -> None:
    s = sim.Sim()
    d = sim.deployment("web", 2)
    pod_hash = history.compute_hash(d["spec"]["template"], None)
    orphan = sim.replica_set(f"web-{pod_hash}", 2, {"app": "web", util.POD_TEMPLATE_HASH: pod_hash})
    orphan["spec"]["template"] = meta.deep_copy(d["spec"]["template"])
    orphan["spec"]["template"]["metadata"]["labels"][util.POD_TEMPLATE_HASH] = pod_hash
    s.add("replicasets", orphan)
    s.add("deployments", d)
    assert list(DC.keys_for("replicasets", orphan, None, s.cache)) == [KEY]
    result = DC.reconcile(KEY, s.cache, Context(now=T0))
    assert not of_type(result.actions, Create)
    adopt = next(a for a in result.actions if isinstance(a, Patch) and a.resource == "replicasets")
    assert adopt.patch["metadata"]["ownerReferences"][0]["uid"] == "uid-web"
    s.apply(result.actions)
    assert s.last_failure is None
    assert util.meta_annotation(s.get("replicasets", f"default/web-{pod_hash}"), util.REVISION) == "1"


def test_a_hash_collision_bumps_collision_count_and_the_next_sync_uses_another_name() -> None:
    s = sim.Sim()
    d = sim.deployment("web", 1)
    pod_hash = history.compute_hash(d["spec"]["template"], None)
    s.add("replicasets", sim.replica_set(f"web-{pod_hash}", 0, {"app": "other"}))
    s.add("deployments", d)
    first = s.reconcile(DC, KEY)
    assert not of_type(first.actions, Create)
    assert d_of(s)["status"]["collisionCount"] == 1
    second = s.reconcile(DC, KEY)
    (create,) = of_type(second.actions, Create)
    assert create.body["metadata"]["name"] == f"web-{history.compute_hash(d['spec']['template'], 1)}"


def test_an_empty_selector_is_refused_with_a_warning() -> None:
    s = sim.Sim()
    d = sim.deployment("web", 1)
    d["spec"]["selector"] = {}
    s.add("deployments", d)
    result = DC.reconcile(KEY, s.cache, Context(now=T0))
    (event,) = of_type(result.actions, Event)
    assert (event.type, event.reason) == ("Warning", "SelectingAll")
    assert event.message == "This deployment is selecting all pods. A non-empty selector is required."
    (status,) = of_type(result.actions, Patch)
    assert status.patch["status"] == {"observedGeneration": 1}


def test_a_deployment_being_deleted_only_reports_status() -> None:
    s = sim.Sim()
    d = sim.deployment("web", 3)
    d["metadata"]["deletionTimestamp"] = meta.now_rfc3339(T0)
    s.add("deployments", d)
    result = DC.reconcile(KEY, s.cache, Context(now=T0))
    assert not of_type(result.actions, Create)
    assert [a.subresource for a in of_type(result.actions, Patch)] == ["status"]


def test_keys_for_replica_sets_and_pods() -> None:
    s = sim.Sim()
    deploy(s, 1)
    s.add("deployments", sim.deployment("api", 1))
    bring_up(s)
    (rs,) = [r for r in s.objects("replicasets") if r["metadata"]["name"].startswith("web-")]
    assert list(DC.keys_for("replicasets", rs, None, s.cache)) == [KEY]
    assert list(DC.keys_for("deployments", d_of(s), None, s.cache)) == [KEY]
    # A rolling deployment does not care about a pod going away: its ReplicaSet will tell.
    web_pod = s.pods_of(rs)[0]
    gone = meta.deep_copy(web_pod)
    s.cache.remove("pods", web_pod)
    assert list(DC.keys_for("pods", gone, None, s.cache)) == []


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (10, "25%", "25%", (3, 2)),
        (10, 0, "0%", (0, 1)),
        (1, "1%", "1%", (1, 0)),
        (2, "0%", "1%", (0, 1)),
        (3, "50%", "50%", (2, 1)),
        (4, 2, 7, (2, 4)),
        (0, "25%", "25%", (0, 0)),
    ],
)
def test_fenceposts(replicas: int, surge: Any, unavailable: Any, expected: tuple[int, int]) -> None:
    d = sim.deployment("web", replicas, strategy=rolling(surge, unavailable))
    assert (util.max_surge(d), util.max_unavailable(d)) == expected


def test_the_template_hash_is_stable_and_readable() -> None:
    t = sim.template({"app": "web"})
    assert history.compute_hash(t, None) == history.compute_hash(meta.deep_copy(t), None)
    assert history.compute_hash(t, None) != history.compute_hash(t, 1)
    assert history.compute_hash(t, None) != history.compute_hash(
        sim.template({"app": "web"}, image="x"), None
    )
    assert set(history.compute_hash(t, 7)) <= set("bcdfghjklmnpqrstvwxz2456789")
