"""The controller-manager with a real apiserver and store, running a small controller that keeps ConfigMaps
owned by each Secret: events enqueue keys, conflicts and crashes are retried, expectations stop double
creates while the cache lags, and of two managers only the lease holder acts. The ``Writer``'s batching and
expectation settling are checked against a scripted API. The cluster clock runs 50x."""

from __future__ import annotations

import asyncio
import base64
import pathlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from actors.apiserver import status
from actors.controllers import framework, manager
from actors.controllers.expectations import EXPECTATIONS_TIMEOUT, ControllerExpectations
from actors.controllers.framework import Cache, Context, Obj, Result
from actors.controllers.manager import ControllerManager, Writer
from actors.runtime.clock import ManualClock
from tests.actors.apiserver.conftest import Cluster, eventually, restart_apiserver, start_cluster

SCALE = 50.0
MANAGER = "kube-controller-manager"


class ConfigMapsPerSecret:
    """Keeps ``copies`` ConfigMaps (``generateName: <secret>-``) owned by each Secret, holding its data."""

    name = "mirror-controller"
    resource = "secrets"
    kind = "Secret"
    watches = ("secrets", "configmaps")

    def __init__(
        self, *, copies: int = 1, expect: bool = True, requeue_after: float | None = None, stale: int = 0
    ) -> None:
        self.copies = copies
        self.expect = expect
        self.requeue_after = requeue_after
        self.stale = stale  # this many updates carry a stale resourceVersion (a conflict each)
        self.crash = 0  # this many reconciles raise
        self.reconciles = 0
        self.pending: list[framework.Pending] = []

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        if resource == "secrets":
            return [framework.key_of(obj)]
        owner = framework.controller_key(obj, self.kind)
        return [owner] if owner else []

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result:
        self.reconciles += 1
        self.pending.append(ctx.pending)
        if self.crash:
            self.crash -= 1
            raise RuntimeError("a bug in reconcile")
        namespace, name = framework.split_key(key)
        secret = cache.get("secrets", namespace, name)
        if secret is None:
            return Result()
        owned = cache.by_index("configmaps", framework.OWNER, secret["metadata"]["uid"])
        data = dict(secret.get("data") or {})
        actions: list[framework.Action] = []
        if ctx.pending.satisfied and len(owned) < self.copies:
            for _ in range(self.copies - len(owned)):
                body = {
                    "metadata": {
                        "generateName": f"{name}-",
                        "ownerReferences": [framework.owner_reference(secret)],
                    },
                    "data": data,
                }
                actions.append(
                    framework.Create(
                        resource="configmaps", namespace=namespace, body=body, expect=self.expect
                    )
                )
            message = f"Created {self.copies - len(owned)} config maps"
            actions.append(
                framework.Event(obj=secret, type="Normal", reason="SuccessfulCreate", message=message)
            )
        for configmap in owned:
            if configmap.get("data") != data:
                body = {**configmap, "data": data}
                if self.stale:
                    self.stale -= 1
                    body["metadata"] = {**configmap["metadata"], "resourceVersion": "1"}
                actions.append(framework.Update(resource="configmaps", body=body))
        return Result(actions=actions, requeue_after=self.requeue_after)


def a_secret(name: str, value: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {"v": base64.b64encode(value.encode()).decode()}}


async def configmaps(cluster: Cluster, prefix: str) -> list[dict[str, Any]]:
    listed = await cluster.apiserver.call("list_objects", "configmaps", "default")
    return [c for c in listed["items"] if c["metadata"]["name"].startswith(prefix)]


async def manager_stats(cluster: Cluster, name: str = MANAGER) -> dict[str, Any]:
    stats: dict[str, Any] = await cluster.system.ref(name).call("stats")
    return stats


@pytest.fixture
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, time_scale=SCALE)
    try:
        yield running
    finally:
        await system.shutdown()


async def start_manager(cluster: Cluster, controller: ConfigMapsPerSecret, name: str = MANAGER) -> None:
    await cluster.system.spawn(name, ControllerManager, kwargs={"controllers": [controller]})

    async def ready() -> bool:
        stats = await manager_stats(cluster, name)
        return bool(stats["leading"] and stats["synced"])

    await eventually(ready)


async def test_events_enqueue_keys_whose_reconciles_keep_the_configmap_like_the_secret(
    cluster: Cluster,
) -> None:
    await start_manager(cluster, ConfigMapsPerSecret())
    await cluster.apiserver.call("create", "secrets", "default", a_secret("db", "one"))

    async def mirrored(value: str) -> bool:
        found = await configmaps(cluster, "db-")
        return len(found) == 1 and base64.b64decode(found[0]["data"]["v"]).decode() == value

    await eventually(lambda: mirrored("one"))
    (configmap,) = await configmaps(cluster, "db-")
    assert framework.controller_key(configmap, "Secret") == "default/db"
    server: Any = cluster.system.instance("apiserver-0")
    secrets = server.caches[server.kind("secrets")]
    secrets.replace(list(secrets.objects.values()), secrets.revision)  # closes the manager's watch
    secret = await cluster.apiserver.call("get", "secrets", "default", "db")
    await cluster.apiserver.call(
        "update", "secrets", "default", {**secret, "data": a_secret("db", "two")["data"]}
    )
    await eventually(lambda: mirrored("two"))  # a Secret's change enqueues its key, on the new watch

    async def recorded() -> list[dict[str, Any]]:
        events = await cluster.apiserver.call("list_objects", "events", "default")
        return [e for e in events["items"] if e["reason"] == "SuccessfulCreate"]

    (event,) = await eventually(recorded)
    assert event["source"]["component"] == "mirror-controller"
    assert event["involvedObject"]["name"] == "db" and event["message"] == "Created 1 config maps"
    stats = await manager_stats(cluster)
    mirror = stats["controllers"]["mirror-controller"]
    assert mirror["syncs"] >= 2 and mirror["errors"] == 0 and mirror["workers"] == manager.DEFAULT_WORKERS
    assert stats["metrics"]['workqueue_adds_total{name="mirror-controller"}'] >= 2
    assert stats["informers"]["secrets"]["watches"] == 2 and stats["informers"]["secrets"]["watching"]


async def test_a_conflict_and_a_raising_reconcile_are_retried_with_back_off(cluster: Cluster) -> None:
    controller = ConfigMapsPerSecret(stale=1)
    await start_manager(cluster, controller)
    await cluster.apiserver.call("create", "secrets", "default", a_secret("api", "one"))
    await eventually(lambda: configmaps(cluster, "api-"))
    controller.crash = 2
    secret = await cluster.apiserver.call("get", "secrets", "default", "api")
    await cluster.apiserver.call(
        "update", "secrets", "default", {**secret, "data": a_secret("api", "two")["data"]}
    )

    async def mirrored() -> bool:
        (found,) = await configmaps(cluster, "api-")
        return base64.b64decode(found["data"]["v"]).decode() == "two"

    await eventually(mirrored)  # two crashes, then a 409 Conflict, then the write from the fresh cache
    mirror = (await manager_stats(cluster))["controllers"]["mirror-controller"]
    assert mirror["reconcile_errors"] == 2 and mirror["errors"] == 3
    assert mirror["queue"]["workqueue_retries_total"] >= 3


@pytest.mark.parametrize("expect", [True, False], ids=["with-expectations", "without"])
async def test_expectations_prevent_double_creates_while_the_cache_lags(
    cluster: Cluster, expect: bool
) -> None:
    controller = ConfigMapsPerSecret(copies=3, expect=expect, requeue_after=0.5)
    await start_manager(cluster, controller)
    instance: Any = cluster.system.instance(MANAGER)
    deliver = instance.on_watch_events
    held: list[tuple[int, Any]] = []

    def lagging(watch_id: int, events: Any) -> None:  # the configmaps informer hears nothing for now
        if watch_id == instance.informers["configmaps"].watch_id:
            held.append((watch_id, events))
        else:
            deliver(watch_id, events)

    instance.on_watch_events = lagging
    await cluster.apiserver.call("create", "secrets", "default", a_secret("web", "x"))
    start = controller.reconciles
    await eventually(lambda: _true(controller.reconciles >= start + 8))  # requeued every 0.5 s
    made = await configmaps(cluster, "web-")
    if not expect:
        assert len(made) > 3  # each reconcile counted from the lagging cache: the test can fail
        return
    assert len(made) == 3
    assert framework.Pending(adds=3) in controller.pending
    instance.on_watch_events = deliver
    for watch_id, events in held:
        deliver(watch_id, events)
    seen, released = controller.reconciles, cluster.system.clock.now()
    await eventually(lambda: _true(controller.reconciles >= seen + 3 and controller.pending[-1].satisfied))
    assert cluster.system.clock.now() - released < EXPECTATIONS_TIMEOUT / 2  # observed, not expired
    assert len(await configmaps(cluster, "web-")) == 3


async def test_of_two_managers_only_the_lease_holder_acts_and_the_other_takes_over(cluster: Cluster) -> None:
    first, second = ConfigMapsPerSecret(), ConfigMapsPerSecret()
    await start_manager(cluster, first)
    await cluster.system.spawn("kcm-b", ControllerManager, kwargs={"controllers": [second]})
    await cluster.apiserver.call("create", "secrets", "default", a_secret("one", "x"))
    await eventually(lambda: configmaps(cluster, "one-"))
    await asyncio.sleep(0.2)  # several renewals: b still waits
    standby = await manager_stats(cluster, "kcm-b")
    assert not standby["leading"] and second.reconciles == 0
    await cluster.system.kill(MANAGER)

    async def b_leads() -> bool:
        return bool((await manager_stats(cluster, "kcm-b"))["leading"])

    await eventually(b_leads)  # once the 15 s lease expires
    await cluster.apiserver.call("create", "secrets", "default", a_secret("two", "x"))
    await eventually(lambda: configmaps(cluster, "two-"))
    assert len(await configmaps(cluster, "one-")) == 1  # b's first sync found it made already
    lease = await cluster.apiserver.call("get", "leases", "kube-system", "kube-controller-manager")
    assert lease["spec"]["holderIdentity"].startswith("kcm-b_")
    assert lease["spec"]["leaseTransitions"] == 1


async def _true(value: bool) -> bool:
    return value


async def test_a_restarted_apiserver_is_noticed_and_the_informers_watch_it_again(cluster: Cluster) -> None:
    await start_manager(cluster, ConfigMapsPerSecret())
    await restart_apiserver(cluster)  # its internal watches are gone with it
    await cluster.apiserver.call("create", "secrets", "default", a_secret("after", "x"))
    # the manager finds its watches gone (a check every WATCH_CHECK cluster seconds) and watches again
    await eventually(lambda: configmaps(cluster, "after-"))
    stats = await manager_stats(cluster)
    assert stats["informers"]["secrets"]["watches"] >= 2


def test_controllers_are_resolved_by_name_as_the_controllers_flag() -> None:
    registry = {"mirror": ConfigMapsPerSecret, "other": ConfigMapsPerSecret}
    assert [c.name for c in manager.resolve(["mirror"], registry)] == ["mirror-controller"]
    assert [c.name for c in manager.resolve(["*", "-other"], registry)] == ["mirror-controller"]
    with pytest.raises(ValueError, match="share a name"):
        manager.resolve(["*"], registry)
    with pytest.raises(KeyError, match="unknown controller 'nope'"):
        manager.resolve(["nope"], registry)
    mine = ConfigMapsPerSecret()
    assert manager.resolve([mine], registry) == [mine]


async def test_informer_events_settle_expectations_by_controller_reference() -> None:
    kcm = ControllerManager(controllers=[ConfigMapsPerSecret()], leader_elect=False)
    kcm.name, kcm.clock = MANAGER, ManualClock()
    await kcm.on_start()
    exp = kcm.expectations_of("mirror-controller")
    configmaps = kcm.informers["configmaps"]
    configmaps.replace([], "1")

    def owned(name: str, rv: int, *, terminating: bool = False) -> Obj:
        md: dict[str, Any] = {"name": name, "namespace": "default", "resourceVersion": str(rv)}
        md["ownerReferences"] = [{"kind": "Secret", "name": "s", "uid": "u", "controller": True}]
        if terminating:
            md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        return {"metadata": md}

    exp.set("default/s", adds=2, deletes=[manager.deleted_key("configmaps", "default/old")])
    configmaps.apply([("ADDED", owned("new", 2)), ("ADDED", owned("old", 3))])
    assert exp.pending("default/s") == framework.Pending(adds=0, deletes=1)
    configmaps.apply([("MODIFIED", owned("old", 4, terminating=True))])  # graceful deletion starts
    configmaps.apply([("MODIFIED", owned("old", 5, terminating=True)), ("DELETED", owned("old", 6))])
    assert exp.pending("default/s") == framework.Pending(adds=0, deletes=0)  # counted once
    exp.set("default/s", adds=1)
    configmaps.apply([("ADDED", owned("dying", 7, terminating=True))])  # not a creation
    assert exp.pending("default/s").adds == 1
    secret = {"metadata": {"name": "s", "namespace": "default", "resourceVersion": "8"}}
    kcm.informers["secrets"].replace([secret], "8")
    kcm.informers["secrets"].apply([("DELETED", secret)])
    assert "default/s" not in exp  # the Secret is gone: so are its expectations


# -- the Writer against a scripted API --------------------------------------------------------------------


class ScriptedApi:
    """Records every call; the ones whose object name is in ``fail`` raise that error. A create with only a
    ``generateName`` gets the next of ``suffixes`` appended, as the apiserver's random five characters."""

    def __init__(
        self, fail: dict[str, status.ApiError] | None = None, suffixes: Iterable[str] = ("abcde", "fghjk")
    ) -> None:
        self.fail = fail or {}
        self.suffixes = iter(suffixes)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        body = args[2] if method in ("create", "update") else {}
        if method == "create" and not body["metadata"].get("name"):
            body = {**body, "metadata": {**body["metadata"], "name": body["metadata"]["generateName"]}}
            body["metadata"]["name"] += next(self.suffixes)
        name = body["metadata"]["name"] if body else args[2]
        self.calls.append((method, name, kwargs))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)
        self.in_flight -= 1
        if name in self.fail:
            raise self.fail[name]
        return body


REASONS = {403: "Forbidden", 404: "NotFound", 409: "Conflict"}


def error(code: int, message: str = "no", reason: str = "") -> status.ApiError:
    return status.ApiError({"code": code, "reason": reason or REASONS.get(code, ""), "message": message})


def create(name: str, *, expect: bool = True) -> framework.Create:
    return framework.Create(resource="pods", namespace="ns", body={"metadata": {"name": name}}, expect=expect)


def delete(name: str, **options: Any) -> framework.Delete:
    return framework.Delete(resource="pods", namespace="ns", name=name, expect=True, **options)


def writer(api: ScriptedApi) -> tuple[Writer, ControllerExpectations, list[tuple[str, str]]]:
    exp = ControllerExpectations(clock=ManualClock())
    events: list[tuple[str, str]] = []
    return Writer(api=api, expectations=exp, record=lambda o, t, r, m: events.append((r, m))), exp, events


async def test_expected_creates_go_in_slow_start_batches_and_stop_at_the_first_failed_batch() -> None:
    api = ScriptedApi(fail={"p5": error(500)})
    write, exp, _ = writer(api)
    with pytest.raises(status.ApiError):
        await write.carry_out("ns/rs", [create(f"p{i}") for i in range(10)])
    assert [name for _, name, _ in api.calls] == [f"p{i}" for i in range(7)]  # batches of 1, 2, 4
    assert api.most_in_flight == 4
    assert exp.pending("ns/rs") == framework.Pending(adds=6)  # the failed one and the 3 never tried lowered


async def test_expected_deletes_go_together_and_a_404_counts_as_observed() -> None:
    api = ScriptedApi(fail={"gone": error(404)})
    write, exp, events = writer(api)
    actions: list[framework.Action] = [
        delete("a", uid="u-a", propagation="Background"),
        delete("gone"),
        delete("b", grace_period_seconds=0),
        framework.Event(obj={}, type="Normal", reason="SuccessfulDelete", message="Deleted pods"),
    ]
    await write.carry_out("ns/rs", actions)
    assert api.most_in_flight == 3
    assert [(name, kwargs) for _, name, kwargs in api.calls] == [
        ("a", {"precondition_uid": "u-a", "propagation_policy": "Background"}),
        ("gone", {}),
        ("b", {"grace_period_seconds": 0}),
    ]
    assert exp.pending("ns/rs") == framework.Pending(deletes=2)
    exp.deletion_observed("ns/rs", manager.deleted_key("pods", "ns/a"))
    exp.deletion_observed("ns/rs", manager.deleted_key("pods", "ns/a"))  # terminating, then gone: once
    assert exp.pending("ns/rs") == framework.Pending(deletes=1)
    assert events == [("SuccessfulDelete", "Deleted pods")]


async def test_a_failure_before_the_expected_writes_settles_them_all() -> None:
    api = ScriptedApi(fail={"cm": error(409)})
    write, exp, _ = writer(api)
    update = framework.Update(resource="configmaps", body={"metadata": {"name": "cm", "namespace": "ns"}})
    with pytest.raises(status.ApiError):
        await write.carry_out("ns/rs", [create("p0", expect=False), update, create("p1"), delete("old")])
    assert [name for _, name, _ in api.calls] == ["p0", "cm"]  # in order, stopping at the failure
    assert exp.satisfied("ns/rs")


# -- pod-control events -------------------------------------------------------------------------------------

OWNER: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "ns"}}


def recorded(api: ScriptedApi) -> tuple[Writer, list[tuple[str, str, str, str]]]:
    events: list[tuple[str, str, str, str]] = []
    write = Writer(
        api=api,
        expectations=ControllerExpectations(clock=ManualClock()),
        record=lambda o, t, r, m: events.append((o["metadata"]["name"], t, r, m)),
    )
    return write, events


async def test_a_created_pod_is_announced_by_the_name_the_apiserver_chose_and_a_refusal_by_its_error() -> (
    None
):
    quota = 'pods "web-fghjk" is forbidden: exceeded quota: compute-resources'
    api = ScriptedApi(fail={"web-fghjk": error(403, quota)}, suffixes=("abcde", "fghjk", "lmnpq", "rstvw"))
    write, events = recorded(api)
    actions = [framework.create_pod(OWNER, {"metadata": {"generateName": "web-"}}) for _ in range(4)]
    with pytest.raises(status.ApiError):
        await write.carry_out("ns/web", actions)
    assert events[0] == ("web", "Normal", "SuccessfulCreate", "Created pod: web-abcde")
    assert sorted(events[1:]) == [  # the second batch, made together
        ("web", "Normal", "SuccessfulCreate", "Created pod: web-lmnpq"),
        ("web", "Warning", "FailedCreate", f"Error creating: {quota}"),
    ]  # and the slow start stopped there: the fourth was never tried, nor announced
    assert len(api.calls) == 3


async def test_deleted_pods_are_announced_but_not_one_already_gone() -> None:
    api = ScriptedApi(fail={"gone": error(404), "stuck": error(500, "etcdserver: request timed out")})
    write, events = recorded(api)
    pods = [{"metadata": {"name": n, "namespace": "ns", "uid": f"u-{n}"}} for n in ("a", "gone", "stuck")]
    with pytest.raises(status.ApiError):
        await write.carry_out("ns/web", [framework.delete_pod(OWNER, p) for p in pods])
    assert events == [
        ("web", "Normal", "SuccessfulDelete", "Deleted pod: a"),
        ("web", "Warning", "FailedDelete", "Error deleting: etcdserver: request timed out"),
    ]


async def test_a_named_create_that_finds_its_name_taken_is_not_announced_as_a_failure() -> None:
    taken = error(409, 'pods "web-0" already exists', reason="AlreadyExists")
    write, events = recorded(ScriptedApi(fail={"web-0": taken}))
    failed = framework.EventTemplate(type="Warning", reason="FailedCreate", message="create {name}: {error}")
    create = framework.Create(
        resource="pods", namespace="ns", body={"metadata": {"name": "web-0"}}, owner=OWNER, on_failure=failed
    )
    with pytest.raises(status.ApiError):
        await write.carry_out("ns/web", [create])
    assert events == []
