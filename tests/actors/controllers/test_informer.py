"""Informers: an indexed store kept by events, handlers told of every change, a re-list turned into the
difference, watch routing by id; and against a real apiserver, a closed watch resumed or re-listed."""

from __future__ import annotations

import asyncio
import copy
import pathlib
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.apiserver import status
from actors.controllers import framework
from actors.controllers.informer import ADDED, DELETED, MODIFIED, Informer, InformerSet
from actors.runtime.actor import Actor
from tests.actors.apiserver.conftest import Cluster, eventually, start_cluster

Seen = list[tuple[str, str, str, str | None]]  # (resource, type, key, old resourceVersion)


def pod(name: str, rv: int, *, ns: str = "default", node: str = "", owner: str = "", **labels: str) -> Any:
    md: dict[str, Any] = {"name": name, "namespace": ns, "resourceVersion": str(rv), "labels": labels}
    if owner:
        md["ownerReferences"] = [
            {"kind": "ReplicaSet", "name": owner, "uid": f"uid-{owner}", "controller": True}
        ]
    return {"metadata": md, "spec": {"nodeName": node} if node else {}}


def watched(informer: Informer) -> Seen:
    seen: Seen = []

    def handler(resource: str, kind: str, obj: Any, old: Any) -> None:
        assert informer.get_by_key(framework.key_of(obj)) == (None if kind == DELETED else obj)  # store first
        seen.append(
            (
                resource,
                kind,
                framework.key_of(obj),
                None if old is None else old["metadata"]["resourceVersion"],
            )
        )

    informer.add_handler(handler)
    return seen


def test_a_first_list_adds_everything_and_the_informer_is_synced() -> None:
    informer = Informer("pods")
    seen = watched(informer)
    assert not informer.has_synced
    informer.replace([pod("b", 1), pod("a", 2, ns="kube-system")], "7")
    assert informer.has_synced and informer.resource_version == "7"
    assert seen == [("pods", ADDED, "default/b", None), ("pods", ADDED, "kube-system/a", None)]
    assert [framework.key_of(o) for o in informer.objects()] == ["default/b", "kube-system/a"]
    assert [framework.key_of(o) for o in informer.objects("kube-system")] == ["kube-system/a"]


def test_watch_events_update_the_store_and_every_index_incrementally() -> None:
    informer = Informer("pods")
    informer.replace([], "1")
    seen = watched(informer)
    informer.apply([(ADDED, pod("web", 2, node="n1", owner="rs1", app="web"))])
    informer.apply([(MODIFIED, pod("web", 3, node="n2", owner="rs2", app="api"))])

    def index(name: str, value: str) -> list[str]:
        return [framework.key_of(o) for o in informer.by_index(name, value)]

    assert index(framework.LABEL, "app=api") == ["default/web"] and index(framework.LABEL, "app=web") == []
    assert index(framework.NODE, "n2") == ["default/web"] and index(framework.NODE, "n1") == []
    assert index(framework.OWNER, "uid-rs2") == ["default/web"] and index(framework.OWNER, "uid-rs1") == []
    assert index(framework.NAMESPACE, "default") == ["default/web"]
    informer.apply([(DELETED, pod("web", 4, node="n2", owner="rs2", app="api"))])
    assert all(not index(i, v) for i, v in [("label", "app=api"), ("node", "n2"), ("namespace", "default")])
    assert informer.resource_version == "4"
    assert seen == [
        ("pods", ADDED, "default/web", None),
        ("pods", MODIFIED, "default/web", "2"),
        ("pods", DELETED, "default/web", "3"),
    ]
    assert len(informer) == 0 and informer.objects() == []


def test_a_relist_raises_the_difference_and_nothing_for_unchanged_objects() -> None:
    informer = Informer("pods")
    informer.replace([pod("same", 1), pod("changed", 2), pod("gone", 3, app="x")], "3")
    seen = watched(informer)
    informer.replace([pod("same", 1), pod("changed", 5), pod("new", 6)], "6")
    assert seen == [
        ("pods", MODIFIED, "default/changed", "2"),
        ("pods", ADDED, "default/new", None),
        ("pods", DELETED, "default/gone", "3"),
    ]
    assert informer.by_index(framework.LABEL, "app=x") == []
    assert [framework.key_of(o) for o in informer.objects()] == [
        "default/changed",
        "default/new",
        "default/same",
    ]


def test_stored_objects_are_never_mutated() -> None:
    objects = [pod("a", 1, node="n", owner="o", app="a"), pod("b", 2)]
    pristine = copy.deepcopy(objects)
    informer = Informer("pods")
    informer.replace(objects, "2")
    informer.apply([(MODIFIED, objects[0]), (DELETED, objects[1])])
    informer.replace(objects, "3")
    assert objects == pristine


def test_a_failing_handler_is_counted_and_the_others_still_run() -> None:
    informer = Informer("pods")

    def broken(*_: Any) -> None:
        raise RuntimeError("bug")

    informer.add_handler(broken)
    seen = watched(informer)
    informer.replace([pod("a", 1)], "1")
    assert len(seen) == 1 and informer.counters["handler_errors"] == 1


def test_reading_an_index_gives_key_order_as_objects_come_and_go() -> None:
    rng = random.Random(7)
    informer = Informer("pods")
    informer.replace([pod(f"p{i:03d}", i, app="web") for i in range(0, 40, 2)], "40")
    assert informer.keys() == sorted(informer.keys())
    rv = 100
    for _ in range(60):  # each read keeps the index's order; later events keep it in step
        rv += 1
        name = f"p{rng.randrange(40):03d}"
        if informer.get("default", name) is not None and rng.random() < 0.5:
            informer.apply([(DELETED, pod(name, rv, app="web"))])
        else:
            informer.apply([(ADDED, pod(name, rv, app=rng.choice(["web", "api"])))])
        for value in ("app=web", "app=api"):
            expected = sorted(
                framework.key_of(o)
                for o in informer.objects()
                if f"app={o['metadata']['labels']['app']}" == value
            )
            assert [framework.key_of(o) for o in informer.by_index(framework.LABEL, value)] == expected
        assert [framework.key_of(o) for o in informer.objects()] == sorted(informer.keys())
        assert [framework.key_of(o) for o in informer.objects("default")] == sorted(informer.keys())
    keys = informer.keys()
    keys.clear()  # a copy: the informer's own order is not the caller's to change
    assert informer.keys()


class FakeApi:
    """The internal API's list and watch: watch ids count up; a watch from below ``oldest`` is 410; events
    can be delivered before the ``watch`` reply, as a delayed reply would."""

    def __init__(self, target: InformerSet) -> None:
        self.target = target
        self.items: list[Any] = [pod("a", 5)]
        self.oldest = 0
        self.list_rv = 5
        self.next_id = 10
        self.early: list[tuple[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        self.stopped: list[int] = []

    def tell(self, method: str, /, *args: Any) -> None:
        assert method == "stop_watch"
        self.stopped.append(args[0])

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        rv = kwargs.get("resource_version", "")
        self.calls.append((method, rv))
        if method == "list_objects":
            return {"items": list(self.items), "metadata": {"resourceVersion": str(self.list_rv)}}
        assert method == "watch"
        if rv and int(rv) < self.oldest:
            raise status.ApiError({"code": 410, "reason": "Expired", "message": "too old resource version"})
        watch_id, self.next_id = self.next_id, self.next_id + 1
        if self.early:
            self.target.deliver(watch_id, self.early)
            self.target.deliver(watch_id - 1, [(ADDED, pod("stale", 1))])  # a closed watch's last word
        return watch_id


async def test_a_set_lists_watches_routes_by_id_holds_events_that_beat_the_reply_and_stops_strays() -> None:
    informers = InformerSet(["pods", "pods"], watcher="me", method="on_events")
    api = FakeApi(informers)
    api.early = [(ADDED, pod("b", 6))]
    await informers.sync(api)  # type: ignore[arg-type]
    pods = informers["pods"]
    assert informers.has_synced and informers.watching and pods.watch_id == 10
    assert [framework.key_of(o) for o in pods.objects()] == ["default/a", "default/b"]
    assert informers.deliver(3, [(ADDED, pod("ignored", 9))])  # an unknown id: ignored
    assert informers.deliver(10, [(MODIFIED, pod("a", 7))])
    assert pods.resource_version == "7" and pods.get("default", "ignored") is None
    assert api.calls == [("list_objects", "0"), ("watch", "5")]
    assert api.stopped == [9, 3]  # watches nobody here reads are stopped, once each
    informers.deliver(3, [(ADDED, pod("ignored", 10))])
    assert api.stopped == [9, 3]


async def test_a_closed_watch_resumes_from_the_last_version_and_relists_only_when_it_is_too_old() -> None:
    informers = InformerSet(["pods"], watcher="me", method="on_events")
    api = FakeApi(informers)
    await informers.sync(api)  # type: ignore[arg-type]
    informers.deliver(10, [(ADDED, pod("b", 8))])
    assert not informers.deliver(10, [])  # closed
    assert not informers.watching and informers["pods"].watch_id is None
    await informers.sync(api)  # type: ignore[arg-type]
    assert api.calls[-1] == ("watch", "8") and informers["pods"].counters["lists"] == 1
    informers.deliver(11, [])
    api.oldest = api.list_rv = 20  # the history is gone: 410, then a re-list that removes what is gone
    await informers.sync(api)  # type: ignore[arg-type]
    assert api.calls[-3:] == [("watch", "8"), ("list_objects", "0"), ("watch", "20")]
    assert [framework.key_of(o) for o in informers["pods"].objects()] == ["default/a"]


def test_the_cache_refuses_a_resource_no_informer_holds() -> None:
    informers = InformerSet(["pods"], watcher="me", method="on_events")
    with pytest.raises(KeyError, match="no informer for services"):
        informers.cache.objects("services")


# -- against a real apiserver -------------------------------------------------------------------------------


class SecretWatcher(Actor):
    """An actor owning an informer set, as the controller-manager does."""

    def __init__(self) -> None:
        self.informers = InformerSet(["secrets"], watcher="", method="on_events")
        self.seen: list[tuple[str, str]] = []
        self._closed = asyncio.Event()

    async def on_start(self) -> None:
        self.informers.watcher = self.name
        self.informers.add_handler(lambda _r, kind, obj, _o: self.seen.append((kind, framework.key_of(obj))))

    def on_events(self, watch_id: int, events: list[tuple[str, Any]]) -> None:
        if not self.informers.deliver(watch_id, events):
            self._closed.set()

    async def run(self) -> None:
        api = self.ref("apiserver-0")
        while True:
            self._closed.clear()
            if not self.informers.watching:
                await self.informers.sync(api)
            await self._closed.wait()


@pytest.fixture
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, time_scale=100)
    await system.spawn("watcher", SecretWatcher)
    try:
        yield running
    finally:
        await system.shutdown()


def secret(name: str, value: str = "x") -> dict[str, Any]:
    return {"metadata": {"name": name}, "stringData": {"v": value}}


def close_secret_watches(cluster: Cluster) -> None:
    """The apiserver re-lists its secrets cache (as after a compacted gap), which closes every watch on it."""
    server: Any = cluster.system.instance("apiserver-0")
    cache = server.caches[server.kind("secrets")]
    cache.replace(list(cache.objects.values()), cache.revision)


async def test_a_closed_watch_with_nothing_missed_is_resumed_without_a_list(cluster: Cluster) -> None:
    watcher: Any = cluster.system.instance("watcher")
    await cluster.apiserver.call("create", "secrets", "default", secret("a"))
    await eventually(lambda: _has(watcher, "default/a"))
    close_secret_watches(cluster)
    await eventually(lambda: _counter(watcher, "watches", 2))
    await cluster.apiserver.call("create", "secrets", "default", secret("b"))
    await eventually(lambda: _has(watcher, "default/b"))
    assert watcher.informers["secrets"].counters["lists"] == 1


async def test_events_lost_before_a_watch_closes_come_back_as_the_difference_of_a_relist(
    cluster: Cluster,
) -> None:
    watcher: Any = cluster.system.instance("watcher")
    api = cluster.apiserver
    for name in ("keep", "change", "remove"):
        await api.call("create", "secrets", "default", secret(name))
    await eventually(lambda: _has(watcher, "default/remove"))
    rule = await cluster.system.drop(["apiserver-0"], ["watcher"])  # the watch's events are lost
    await api.call("create", "secrets", "default", secret("add"))
    await api.call("delete", "secrets", "default", "remove")
    changed = await api.call("get", "secrets", "default", "change")
    await api.call("update", "secrets", "default", {**changed, "stringData": {"v": "new"}})
    await asyncio.sleep(0.1)
    await cluster.system.heal(rule)
    assert watcher.informers["secrets"].get("default", "add") is None  # the informer is behind
    watcher.seen.clear()
    close_secret_watches(cluster)
    await eventually(lambda: _counter(watcher, "lists", 2))  # too old to resume: listed again
    assert sorted(watcher.seen) == [
        (ADDED, "default/add"),
        (DELETED, "default/remove"),
        (MODIFIED, "default/change"),
    ]
    keys = watcher.informers["secrets"].keys()
    assert [k for k in keys if k.startswith("default/")] == ["default/add", "default/change", "default/keep"]


async def _has(watcher: Any, key: str) -> bool:
    return watcher.informers["secrets"].get_by_key(key) is not None


async def _counter(watcher: Any, name: str, value: int) -> bool:
    return bool(watcher.informers["secrets"].counters[name] >= value and watcher.informers.watching)
