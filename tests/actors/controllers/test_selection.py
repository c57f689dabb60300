"""A Service's selected pods, remembered across syncs: each pod version is looked at once, what came and went
is told, and the members are those (and in the order) ``endpoints.selected_pods`` gives, whether the cache
keeps a change log (an informer's) or not (a ``DictCache``)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from actors.controllers import endpoints, framework, selection
from actors.controllers.framework import DictCache, Obj
from actors.controllers.informer import ADDED, DELETED, MODIFIED, Informer, InformerCache
from kube import labels

SERVICE: Obj = {
    "metadata": {"name": "web", "namespace": "default", "uid": "uid-web"},
    "spec": {"selector": {"app": "web"}},
}
SELECTOR = labels.from_set({"app": "web"})


class Both:
    """The same pods in a DictCache and in an informer's cache (which keeps a change log)."""

    def __init__(self, pods: list[Obj]) -> None:
        self.plain = DictCache({"pods": pods})
        self.informer = Informer("pods")
        self.informer.replace(pods, "1")
        self.logged = InformerCache({"pods": self.informer})
        self.version = 1

    def put(self, obj: Obj) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        known = self.plain.get("pods", obj["metadata"]["namespace"], obj["metadata"]["name"])
        self.plain.put("pods", obj)
        self.informer.apply([(MODIFIED if known else ADDED, obj)])

    def remove(self, obj: Obj) -> None:
        self.plain.remove("pods", obj)
        self.informer.apply([(DELETED, obj)])


def pod(name: str, *, app: str = "web", namespace: str = "default", **status: Any) -> Obj:
    md = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "labels": {"app": app}}
    return {"metadata": md, "status": status}


def names(members: list[selection.Member[str]]) -> list[str]:
    return [m.name for m in members]


@pytest.mark.parametrize("logged", [False, True], ids=["dict-cache", "informer-cache"])
def test_each_version_is_looked_at_once_and_changes_are_told(logged: bool) -> None:
    looked_at: list[str] = []

    def compute(p: Obj) -> str:
        looked_at.append(p["metadata"]["name"])
        return str(p["status"].get("phase"))

    both = Both([pod("b"), pod("a"), pod("x", app="api"), pod("c", namespace="other")])
    cache = both.logged if logged else both.plain
    chosen = selection.Selection(SERVICE, SELECTOR, compute)
    first = chosen.members(cache)
    assert names(first) == ["a", "b"] and sorted(looked_at) == ["a", "b"]
    assert sorted(names(chosen.added)) == ["a", "b"] and chosen.removed == [] and chosen.generation == 1

    looked_at.clear()
    assert chosen.members(cache) == first  # nothing changed: nothing looked at
    assert looked_at == [] and chosen.added == [] and chosen.removed == [] and chosen.generation == 2

    running = pod("b", phase="Running")
    both.put(running)  # a new version of b
    both.remove(pod("a"))
    both.put(pod("0"))
    now = chosen.members(cache)
    assert sorted(looked_at) == ["0", "b"]
    assert names(now) == ["0", "b"] and now[1].value == "Running" and now[1].pod is running
    assert sorted(names(chosen.added)) == ["0", "b"] and sorted(names(chosen.removed)) == ["a", "b"]
    assert all(m.value == "None" for m in chosen.removed) and chosen.generation == 3


@pytest.mark.parametrize("seed", range(3))
def test_the_members_are_the_selected_pods_as_pods_change(seed: int) -> None:
    rng = random.Random(seed)
    both = Both([pod(f"p{i:02d}", app=rng.choice(["web", "api"])) for i in range(40)])
    plain, logged = (selection.Selection(SERVICE, SELECTOR, lambda p: framework.key_of(p)) for _ in range(2))
    for step in range(30):
        expected = endpoints.selected_pods(both.plain, SERVICE, SELECTOR)
        for chosen, cache in ((plain, both.plain), (logged, both.logged)):
            assert [m.pod for m in chosen.members(cache)] == expected, step
        for _ in range(rng.choice([1, 3, 30])):  # sometimes more than the log is worth: a full look
            name = f"p{rng.randrange(50):02d}"
            if rng.random() < 0.2:
                both.remove(pod(name))
            else:
                both.put(
                    pod(name, app=rng.choice(["web", "api"]), namespace=rng.choice(["default", "other"]))
                )
