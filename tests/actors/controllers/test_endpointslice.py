"""The EndpointSlice controller, pure: what a slice holds, how endpoints are packed (100 a slice) and kept
in place across syncs, and when the controller waits. ``apply`` stands in for the apiserver: it names the
created slices and stores the writes, so a test can sync again on the result."""

from __future__ import annotations

import random
from typing import Any

import pytest

from actors.controllers import endpointslice, framework
from actors.controllers.endpointslice import EndpointSliceController
from actors.controllers.framework import Context, DictCache, Obj, Pending
from actors.controllers.informer import DELETED, MODIFIED, Informer, InformerCache
from kube import meta

CTX = Context(now=1_700_000_000.0)
SERVICE_LABEL = "kubernetes.io/service-name=web"


def service(**spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-web", "labels": {"team": "a"}},
        "spec": {
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "ipFamilies": ["IPv4"],
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            **spec,
        },
    }


def pod(name: str, ip: str = "10.0.0.1", *, ready: bool = True, node: str = "n1", **md: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": {"app": "web"},
            **md,
        },
        "spec": {"nodeName": node, "containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pods(count: int, start: int = 0) -> list[Obj]:
    return [pod(f"p{i:03d}", f"10.0.{i // 200}.{i % 200 + 1}") for i in range(start, start + count)]


NODE: Obj = {"metadata": {"name": "n1", "uid": "uid-n1", "labels": {endpointslice.LABEL_ZONE: "zone-a"}}}


class World:
    def __init__(self, svc: Obj, members: list[Obj], *, nodes: list[Obj] | None = None) -> None:
        self.cache = DictCache(
            {"services": [svc], "pods": members, "nodes": [NODE] if nodes is None else nodes}
        )
        self.controller = EndpointSliceController()
        self.serial = 0

    def sync(self, ctx: Context = CTX) -> framework.Result:
        return self.controller.reconcile("default/web", self.cache, ctx)

    def apply(self, result: framework.Result) -> None:
        for action in result.actions:
            if isinstance(action, framework.Create):
                self.serial += 1
                body = meta.deep_copy(action.body)
                body["metadata"] |= {
                    "name": f"web-{self.serial:03d}",
                    "uid": f"s{self.serial}",
                    "resourceVersion": "1",
                }
                self.cache.put("endpointslices", body)
            elif isinstance(action, framework.Update):
                body = meta.deep_copy(action.body)
                body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
                self.cache.put("endpointslices", body)
            elif isinstance(action, framework.Delete):
                self.cache.remove(
                    "endpointslices", {"metadata": {"name": action.name, "namespace": "default"}}
                )

    def settle(self) -> None:
        self.apply(self.sync())
        assert self.sync().actions == []

    def slices(self) -> dict[str, list[str]]:
        return {
            s["metadata"]["name"]: [e["targetRef"]["name"] for e in s["endpoints"]]
            for s in self.cache.objects("endpointslices")
        }


def test_a_slice_for_the_service() -> None:
    world = World(service(), [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False)])
    result = world.sync()
    [create] = result.actions
    assert isinstance(create, framework.Create) and create.expect and create.resource == "endpointslices"
    body = create.body
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["labels"] == {
        "team": "a",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": "uid-web",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert body["addressType"] == "IPv4"
    assert body["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert body["endpoints"][0] == {
        "addresses": ["10.0.0.1"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": "n1",
        "zone": "zone-a",
        "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"},
    }
    assert body["endpoints"][1]["conditions"] == {"ready": False, "serving": False, "terminating": False}


def test_terminating_pod_stays_as_terminating_endpoint() -> None:
    going = pod("a", deletionTimestamp="2023-11-14T22:13:20Z")
    [create] = World(service(), [going]).sync().actions
    assert isinstance(create, framework.Create)
    assert create.body["endpoints"][0]["conditions"] == {"ready": False, "serving": True, "terminating": True}


def test_more_than_a_hundred_endpoints_are_split() -> None:
    world = World(service(), pods(250))
    creates = world.sync().actions
    assert [len(c.body["endpoints"]) for c in creates if isinstance(c, framework.Create)] == [100, 100, 50]
    world.apply(world.sync())
    assert world.sync().actions == []  # synced again on what it wrote: nothing to do


def test_changes_stay_in_place() -> None:
    members = pods(150)
    world = World(service(), members)
    world.settle()
    before = world.slices()
    world.cache.remove("pods", members[10])  # p010 leaves the first slice
    world.cache.put("pods", pod("p120", "10.0.0.121", ready=False))  # p120 changes in the second
    result = world.sync()
    assert [
        (type(a).__name__, a.body["metadata"]["name"])
        for a in result.actions
        if isinstance(a, framework.Update)
    ] == [
        ("Update", "web-001"),
        ("Update", "web-002"),
    ]
    world.apply(result)
    after = world.slices()
    assert after["web-001"] == [n for n in before["web-001"] if n != "p010"]
    assert after["web-002"] == before["web-002"]
    assert world.sync().actions == []


def test_a_new_endpoint_fills_the_slice_with_room() -> None:
    world = World(service(), pods(150))
    world.settle()
    world.cache.put("pods", pod("new", "10.0.9.9"))
    [update] = world.sync().actions
    assert isinstance(update, framework.Update) and update.body["metadata"]["name"] == "web-002"
    assert update.body["endpoints"][-1]["targetRef"]["name"] == "new"


def test_emptied_slice_is_deleted() -> None:
    members = pods(101)
    world = World(service(), members)
    world.settle()
    world.cache.remove("pods", members[100])
    [delete] = world.sync().actions
    assert delete == framework.Delete(
        resource="endpointslices", namespace="default", name="web-002", uid="s2"
    )


def test_service_without_endpoints_keeps_one_placeholder() -> None:
    world = World(service(), [])
    [create] = world.sync().actions
    assert (
        isinstance(create, framework.Create) and create.body["endpoints"] == [] and create.body["ports"] == []
    )
    world.settle()
    members = [pod("a")]
    world.cache.put("pods", members[0])
    [update] = world.sync().actions  # the placeholder becomes the slice
    assert isinstance(update, framework.Update) and update.body["metadata"]["name"] == "web-001"
    world.apply(world.sync())
    world.cache.remove("pods", members[0])
    [update] = world.sync().actions  # and back
    assert isinstance(update, framework.Update) and update.body["endpoints"] == []


def test_pod_on_an_unknown_node_is_skipped_and_retried() -> None:
    world = World(service(), [pod("a"), pod("b", "10.0.0.2", node="n2")])
    result = world.sync()
    [create] = result.actions
    assert isinstance(create, framework.Create)
    assert [e["targetRef"]["name"] for e in create.body["endpoints"]] == ["a"]
    assert result.requeue_after == endpointslice.MISSING_NODE_RETRY


def test_waits_for_its_creates_to_show() -> None:
    world = World(service(), [pod("a")])
    assert world.sync(Context(now=CTX.now, pending=Pending(adds=1))).actions == []


def test_slice_of_an_earlier_service_is_replaced() -> None:
    world = World(service(), [pod("a")])
    world.settle()
    [old] = world.cache.objects("endpointslices")
    old["metadata"]["ownerReferences"][0]["uid"] = "uid-earlier"
    result = world.sync()
    assert [type(a).__name__ for a in result.actions] == ["Create", "Delete"]  # not ours: not reused


def test_ports_change_rewrites_the_slice() -> None:
    world = World(service(), [pod("a")])
    world.settle()
    world.cache.put(
        "services", service(ports=[{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"}])
    )
    [update] = world.sync().actions
    assert isinstance(update, framework.Update) and update.body["metadata"]["name"] == "web-001"
    assert update.body["ports"][0]["port"] == 9090 and update.body["metadata"]["resourceVersion"] == "1"


def test_services_it_does_not_manage_and_terminating_services() -> None:
    for svc in (service(selector=None), service(type="ExternalName")):
        assert World(svc, [pod("a")]).sync().actions == []
    going = service()
    going["metadata"]["deletionTimestamp"] = "2023-11-14T22:13:20Z"
    assert World(going, [pod("a")]).sync().actions == []


# -- keys_for ------------------------------------------------------------------------------------------------


def test_keys_for_slices_pods_and_nodes() -> None:
    world = World(service(), [pod("a")])
    world.settle()
    controller, cache = world.controller, world.cache
    [mine] = cache.by_index("endpointslices", framework.LABEL, SERVICE_LABEL)
    assert list(controller.keys_for("endpointslices", mine, None, cache)) == ["default/web"]
    foreign = meta.deep_copy(mine)
    foreign["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] = "someone-else"
    assert list(controller.keys_for("endpointslices", foreign, None, cache)) == []
    assert list(controller.keys_for("pods", pod("b"), None, cache)) == ["default/web"]
    rezoned = meta.deep_copy(NODE)
    rezoned["metadata"]["labels"][endpointslice.LABEL_ZONE] = "zone-b"
    assert list(controller.keys_for("nodes", rezoned, NODE, cache)) == ["default/web"]
    assert list(controller.keys_for("nodes", NODE, NODE, cache)) == []


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
    """Pods and slices that did not change are not looked at again; those that did are, nodes included."""
    rng = random.Random(seed)
    members = {p["metadata"]["name"]: p for p in pods(230)}
    world = World(service(), list(members.values()))
    logging = EndpointSliceController()
    informers = {r: Informer(r) for r in ("services", "pods", "endpointslices", "nodes")}
    for step in range(20):
        result = world.sync()
        assert result == EndpointSliceController().reconcile("default/web", world.cache, CTX), f"step {step}"
        logged = mirrored(world.cache, informers)
        assert result == logging.reconcile("default/web", logged, CTX), f"step {step}"
        world.apply(result)
        for name in rng.sample(sorted(members), 6):
            changed = pod(name, f"10.0.{rng.randrange(3)}.{rng.randrange(1, 200)}", ready=rng.random() < 0.6)
            if rng.random() < 0.2:
                changed["metadata"]["deletionTimestamp"] = "2023-11-14T22:13:20Z"
            if rng.random() < 0.2:
                world.cache.remove("pods", changed)
                del members[name]
                continue
            world.cache.put("pods", changed)
            members[name] = changed
        for i in range(rng.randrange(4)):
            name = f"q{step:02d}{i}"
            members[name] = pod(name, f"10.0.9.{step * 4 + i + 1}")
            world.cache.put("pods", members[name])
        if step == 10:  # the node moves to another zone: every endpoint on it says so
            node = meta.deep_copy(NODE)
            node["metadata"]["labels"][endpointslice.LABEL_ZONE] = "zone-b"
            world.cache.put("nodes", node)
