"""The watch cache: what every watcher of a resource sees, fed by the store's changes (no I/O here)."""

from __future__ import annotations

from typing import Any

import pytest

from actors.apiserver import status
from actors.apiserver.watch_cache import ADDED, DELETED, MODIFIED, Filter, WatchCache
from kube import fields, kinds, labels

_PODS = kinds.DEFAULT.by_resource("", "v1", "pods")
assert _PODS is not None
PODS: kinds.Kind = _PODS


def pod(
    name: str, rv: int, *, node: str = "", app: str = "web", namespace: str = "default"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": str(rv),
            "labels": {"app": app},
        },
        "spec": {"nodeName": node} if node else {},
    }


def seen(watcher: Any) -> list[tuple[str, str, int]]:
    return [(e.type, e.object["metadata"]["name"], e.revision) for e in watcher.take()]


def test_changes_apply_in_order_and_lists_come_from_the_cache() -> None:
    cache = WatchCache(PODS)
    cache.replace([pod("a", 5)], 5)
    cache.apply([("PUT", pod("b", 6), 6), ("PUT", pod("a", 7, app="db"), 7), (DELETED, pod("b", 8), 8)])
    assert cache.revision == 8
    assert [p["metadata"]["name"] for p in cache.select(Filter())] == ["a"]
    assert (cache.get("default", "a") or {})["metadata"]["labels"] == {"app": "db"}
    cache.apply([("PUT", pod("c", 8), 8)])  # at or below the cache's revision: a repeat, ignored
    assert cache.get("default", "c") is None


def test_a_watch_without_a_version_starts_with_what_exists_then_follows() -> None:
    cache = WatchCache(PODS)
    cache.replace([pod("a", 3), pod("b", 4)], 4)
    watcher = cache.watch(Filter(), None, lambda: None)
    cache.apply([("PUT", pod("a", 5), 5)])
    assert seen(watcher) == [(ADDED, "a", 4), (ADDED, "b", 4), (MODIFIED, "a", 5)]


def test_a_watch_resumes_from_any_version_the_history_holds() -> None:
    cache = WatchCache(PODS, capacity=10)
    cache.replace([], 1)
    cache.apply([("PUT", pod(f"p{i}", i), i) for i in range(2, 7)])
    watcher = cache.watch(Filter(), 4, lambda: None)
    assert seen(watcher) == [(ADDED, "p5", 5), (ADDED, "p6", 6)]


def test_a_version_older_than_the_history_is_gone() -> None:
    cache = WatchCache(PODS, capacity=2)
    cache.replace([], 1)
    cache.apply([("PUT", pod(f"p{i}", i), i) for i in range(2, 7)])
    with pytest.raises(status.ApiError) as raised:
        cache.watch(Filter(), 2, lambda: None)
    assert (raised.value.code, raised.value.reason) == (410, "Expired")
    assert cache.watch(Filter(), 5, lambda: None).events  # still held: p6


def test_selectors_see_objects_arrive_and_leave_as_upstream_shows_them() -> None:
    cache = WatchCache(PODS)
    cache.replace([], 1)
    web = cache.watch(Filter(label_selector=labels.parse("app=web")), None, lambda: None)
    cache.apply(
        [
            ("PUT", pod("a", 2, app="db"), 2),  # not ours
            ("PUT", pod("a", 3, app="web"), 3),  # starts matching: ADDED
            ("PUT", pod("a", 4, app="web"), 4),  # still matching: MODIFIED
            ("PUT", pod("a", 5, app="db"), 5),  # stops matching: DELETED, at the new version
        ]
    )
    events = web.take()
    assert [(e.type, e.revision) for e in events] == [(ADDED, 3), (MODIFIED, 4), (DELETED, 5)]
    assert events[-1].object["metadata"]["resourceVersion"] == "5"


def test_kubelet_watchers_are_indexed_by_node() -> None:
    cache = WatchCache(PODS)
    cache.replace([], 1)
    woken: list[str] = []

    def waker(node: str) -> Any:
        return lambda: woken.append(node)

    watchers = {
        node: cache.watch(
            Filter(field_selector=fields.convert(fields.parse(f"spec.nodeName={node}"), PODS)),
            None,
            waker(node),
        )
        for node in ("n1", "n2", "n3")
    }
    assert cache.stats()["indexed_watchers"] == 3
    cache.apply([("PUT", pod("a", 2, node="n2"), 2)])
    assert woken == ["n2"]  # the others were not even looked at
    cache.apply([("PUT", pod("a", 3, node="n3"), 3)])  # moved: n2 sees it leave, n3 sees it arrive
    assert seen(watchers["n2"]) == [(ADDED, "a", 2), (DELETED, "a", 3)]
    assert seen(watchers["n3"]) == [(ADDED, "a", 3)]
    assert seen(watchers["n1"]) == []


def test_a_slow_watcher_is_closed_without_holding_up_the_others() -> None:
    cache = WatchCache(PODS)
    cache.replace([], 1)
    slow = cache.watch(Filter(), None, lambda: None, buffer=2)
    fast = cache.watch(Filter(), None, lambda: None)
    cache.apply([("PUT", pod(f"p{i}", i), i) for i in range(2, 6)])
    assert slow.closed and slow.overflowed
    assert len(fast.take()) == 4
    assert cache.stats()["watchers"] == 1


def test_a_relist_closes_every_watcher() -> None:
    cache = WatchCache(PODS)
    cache.replace([], 1)
    watcher = cache.watch(Filter(), None, lambda: None)
    cache.replace([pod("x", 9)], 9)
    assert watcher.closed and cache.stats()["watchers"] == 0


def test_a_list_by_name_finds_the_object_in_its_namespace_or_across_namespaces() -> None:
    cache = WatchCache(PODS)
    cache.replace([pod("a", 2), pod("b", 3)], 3)
    by_name = fields.convert(fields.parse("metadata.name=a"), PODS)
    assert [
        o["metadata"]["name"] for o in cache.select(Filter(namespace="default", field_selector=by_name))
    ] == ["a"]
    assert [o["metadata"]["name"] for o in cache.select(Filter(field_selector=by_name))] == ["a"]
    missing = fields.convert(fields.parse("metadata.name=zz"), PODS)
    assert cache.select(Filter(namespace="default", field_selector=missing)) == []


def test_watchers_of_one_object_by_name_are_indexed() -> None:
    nodes_kind = kinds.DEFAULT.by_resource("", "v1", "nodes")
    assert nodes_kind is not None
    cache = WatchCache(nodes_kind)
    cache.replace([], 1)
    woken: list[str] = []

    def waker(name: str) -> Any:
        return lambda: woken.append(name)

    watchers = {
        f"node-{i}": cache.watch(
            Filter(field_selector=fields.convert(fields.parse(f"metadata.name=node-{i}"), nodes_kind)),
            None,
            waker(f"node-{i}"),
        )
        for i in range(1000)
    }
    assert cache.stats()["indexed_watchers"] == 1000
    cache.apply([("PUT", {"metadata": {"name": "node-5", "resourceVersion": "2"}}, 2)])
    assert woken == ["node-5"]  # the other 999 were not looked at
    assert [e.type for e in watchers["node-5"].take()] == [ADDED]
    assert watchers["node-6"].take() == []
