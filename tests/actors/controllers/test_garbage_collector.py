"""The garbage collector, pure: dependents of a gone owner are deleted, foreground deletion deletes the
dependents before the owner, orphaning releases them. A small in-memory apiserver (``Sim``) carries out the
actions the way kubemu's apiserver does, so whole cascades can be followed to the end."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from actors.controllers import framework
from actors.controllers.framework import Context, DictCache, Obj
from actors.controllers.garbage_collector import FOREGROUND, ORPHAN, GarbageCollector, gc_key, split_gc_key
from kube import meta
from kube import patch as merge_patches
from kube import strategic_merge_patch as smp

CTX = Context(now=1_700_000_000.0)
STAMP = "2023-11-14T22:13:20Z"

_KINDS = {
    "deployments": ("apps/v1", "Deployment"),
    "replicasets": ("apps/v1", "ReplicaSet"),
    "pods": ("v1", "Pod"),
    "configmaps": ("v1", "ConfigMap"),
    "nodes": ("v1", "Node"),
    "leases": ("coordination.k8s.io/v1", "Lease"),
}


def obj(resource: str, name: str, *owners: Obj, namespace: str | None = "default", **md: Any) -> Obj:
    api_version, kind = _KINDS[resource]
    metadata: Obj = {"name": name, "uid": f"uid-{name}", "resourceVersion": "1", **md}
    if namespace:
        metadata["namespace"] = namespace
    if owners:
        metadata["ownerReferences"] = [ref(o) for o in owners]
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def ref(owner: Obj, *, block: bool = True) -> Obj:
    return framework.owner_reference(owner) | {"blockOwnerDeletion": block}


def deleting(o: Obj, *finalizers: str) -> Obj:
    o = meta.deep_copy(o)
    o["metadata"]["deletionTimestamp"] = STAMP
    o["metadata"]["finalizers"] = list(finalizers)
    return o


def resource_of(o: Obj) -> str:
    return next(r for r, (_, kind) in _KINDS.items() if kind == o["kind"])


def cache_of(*objects: Obj) -> DictCache:
    cache = DictCache()
    for o in objects:
        cache.put(resource_of(o), o)
    return cache


def reconcile(o: Obj, cache: DictCache) -> list[framework.Action]:
    return GarbageCollector().reconcile(gc_key(resource_of(o), o), cache, CTX).actions


def delete_of(o: Obj, propagation: str = "Background") -> framework.Delete:
    md = o["metadata"]
    return framework.Delete(
        resource=resource_of(o),
        namespace=md.get("namespace"),
        name=md["name"],
        uid=md["uid"],
        propagation=propagation,
    )


DEPLOY = obj("deployments", "web")
RS = obj("replicasets", "web-1", DEPLOY)
POD = obj("pods", "web-1-a", RS)


def test_keys_name_their_resource() -> None:
    assert gc_key("pods", POD) == "pods|default/web-1-a"
    assert split_gc_key("pods|default/web-1-a") == ("pods", "default", "web-1-a")
    assert split_gc_key("nodes|n1") == ("nodes", None, "n1")
    gc = GarbageCollector(resources=["replicasets", "pods"])
    assert (gc.resource, gc.watches) == ("replicasets", ("replicasets", "pods"))


# -- background ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cache_objects", "expected"),
    [
        pytest.param([RS], [], id="owner-present"),
        pytest.param([], [delete_of(POD)], id="owner-gone"),
        pytest.param(
            [obj("replicasets", "web-1", DEPLOY, uid="other")], [delete_of(POD)], id="owner-replaced"
        ),
        pytest.param([deleting(RS)], [], id="owner-terminating-without-foreground"),
        pytest.param([deleting(RS, ORPHAN)], [], id="owner-orphaning-keeps-it"),
    ],
)
def test_dependent_lives_while_its_owner_does(
    cache_objects: list[Obj], expected: list[framework.Action]
) -> None:
    assert reconcile(POD, cache_of(POD, *cache_objects)) == expected


@pytest.mark.parametrize(
    ("finalizers", "propagation"),
    [([], "Background"), ([ORPHAN], "Orphan"), ([FOREGROUND], "Foreground")],
    ids=["none", "orphan", "foreground"],
)
def test_orphan_is_deleted_with_the_propagation_its_finalizers_ask(
    finalizers: list[str], propagation: str
) -> None:
    rs = obj("replicasets", "web-1", DEPLOY, finalizers=finalizers)
    assert reconcile(rs, cache_of(rs)) == [delete_of(rs, propagation)]


def test_dangling_reference_is_removed_while_another_owner_lives() -> None:
    other = obj("configmaps", "cfg")
    pod = obj("pods", "p", RS, other)
    [patch] = reconcile(pod, cache_of(pod, other))
    assert isinstance(patch, framework.Patch) and patch.patch_type == "application/strategic-merge-patch+json"
    patched = smp.strategic_merge_patch(pod, patch.patch, "Pod")
    assert [r["uid"] for r in patched["metadata"]["ownerReferences"]] == ["uid-cfg"]


def test_reference_the_collector_cannot_judge_leaves_the_object_alone() -> None:
    pod = obj("pods", "p")
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "w"}
    ]
    assert reconcile(pod, cache_of(pod)) == []
    lease = obj("leases", "l", obj("pods", "gone"), namespace=None)  # cluster-scoped owned by namespaced
    assert reconcile(lease, cache_of(lease)) == []


def test_cluster_scoped_owner_is_looked_up_without_namespace() -> None:
    node = obj("nodes", "n1", namespace=None)
    lease = obj("leases", "n1", node, namespace="kube-node-lease")
    assert reconcile(lease, cache_of(lease, node)) == []
    assert reconcile(lease, cache_of(lease)) == [delete_of(lease)]


def test_terminating_object_is_left_to_finish() -> None:
    pod = deleting(POD)
    assert reconcile(pod, cache_of(pod)) == []


# -- foreground ----------------------------------------------------------------------------------------------


def test_foreground_owner_deletes_blocking_dependents_then_drops_its_finalizer() -> None:
    rs = deleting(RS, FOREGROUND, "example.com/keep")
    pod_a, pod_b = obj("pods", "a", rs), obj("pods", "b", rs)
    cache = cache_of(DEPLOY, rs, pod_a, pod_b)
    assert reconcile(rs, cache) == [delete_of(pod_a), delete_of(pod_b)]
    assert reconcile(pod_a, cache) == [delete_of(pod_a)]  # the dependent itself sees its owner waiting
    cache.put("pods", deleting(pod_a))  # graceful: still there, still blocking
    cache.remove("pods", pod_b)
    assert reconcile(rs, cache) == []
    cache.remove("pods", pod_a)
    [patch] = reconcile(rs, cache)
    assert patch == framework.Patch(
        resource="replicasets",
        namespace="default",
        name="web-1",
        patch={"metadata": {"finalizers": ["example.com/keep"], "resourceVersion": "1"}},
    )


def test_non_blocking_dependents_do_not_hold_the_owner() -> None:
    rs = deleting(RS, FOREGROUND)
    loose = obj("pods", "loose")
    loose["metadata"]["ownerReferences"] = [ref(rs, block=False)]
    [patch] = reconcile(rs, cache_of(rs, loose))
    assert isinstance(patch, framework.Patch) and patch.patch["metadata"]["finalizers"] is None
    assert reconcile(loose, cache_of(rs, loose)) == [delete_of(loose)]  # yet it goes too


def test_dependent_with_dependents_of_its_own_is_deleted_in_the_foreground() -> None:
    deploy = deleting(DEPLOY, FOREGROUND)
    assert reconcile(RS, cache_of(deploy, RS, POD)) == [delete_of(RS, "Foreground")]


def test_cycle_guard_unblocks_references_before_the_foreground_delete() -> None:
    deploy = deleting(DEPLOY, FOREGROUND)
    pod = deleting(POD, FOREGROUND)
    unblock, delete = reconcile(RS, cache_of(deploy, RS, pod))
    assert isinstance(unblock, framework.Patch)
    patched = smp.strategic_merge_patch(RS, unblock.patch, "ReplicaSet")
    assert patched["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is False
    assert delete == delete_of(RS, "Foreground")


def test_waiting_reference_is_removed_when_another_owner_lives() -> None:
    deploy = deleting(DEPLOY, FOREGROUND)
    other = obj("configmaps", "cfg")
    rs = obj("replicasets", "rs", deploy, other)
    [patch] = reconcile(rs, cache_of(deploy, other, rs))
    assert isinstance(patch, framework.Patch)
    assert patch.patch["metadata"]["ownerReferences"] == [{"$patch": "delete", "uid": "uid-web"}]


# -- orphan --------------------------------------------------------------------------------------------------


def test_orphaning_releases_every_dependent_then_drops_its_finalizer() -> None:
    rs = deleting(RS, ORPHAN)
    other = obj("configmaps", "cfg")
    pod_a, pod_b = obj("pods", "a", rs), obj("pods", "b", rs, other)
    cache = cache_of(rs, other, pod_a, pod_b)
    patches = reconcile(rs, cache)
    assert [(p.resource, p.name) for p in patches if isinstance(p, framework.Patch)] == [
        ("pods", "a"),
        ("pods", "b"),
    ]
    released = [
        smp.strategic_merge_patch(p, a.patch, "Pod")
        for p, a in zip([pod_a, pod_b], patches, strict=True)
        if isinstance(a, framework.Patch)
    ]
    assert [[r["uid"] for r in p["metadata"].get("ownerReferences") or []] for p in released] == [
        [],
        ["uid-cfg"],
    ]
    for pod in released:
        cache.put("pods", pod)
    [patch] = reconcile(rs, cache)
    assert isinstance(patch, framework.Patch) and patch.patch["metadata"]["finalizers"] is None


# -- keys_for ------------------------------------------------------------------------------------------------


def test_keys_for_the_events_that_matter() -> None:
    gc = GarbageCollector()
    cache = cache_of(DEPLOY, RS, POD)
    assert list(gc.keys_for("pods", POD, None, cache)) == ["pods|default/web-1-a"]  # a new dependent
    running = meta.deep_copy(POD)
    running["metadata"]["resourceVersion"] = "2"
    running["status"] = {"phase": "Running"}
    assert list(gc.keys_for("pods", running, POD, cache)) == []  # status changes do not concern it
    cache.remove("replicasets", RS)  # the informer drops it, then notifies
    assert list(gc.keys_for("replicasets", RS, None, cache)) == ["pods|default/web-1-a"]


def test_keys_for_a_propagating_deletion_and_its_waiting_owner() -> None:
    gc = GarbageCollector()
    rs = deleting(RS, FOREGROUND)
    rs["metadata"]["resourceVersion"] = "2"
    cache = cache_of(DEPLOY, rs, POD)
    assert list(gc.keys_for("replicasets", rs, RS, cache)) == [
        "replicasets|default/web-1",
        "pods|default/web-1-a",
    ]
    cache.remove("pods", POD)
    assert list(gc.keys_for("pods", POD, None, cache)) == ["replicasets|default/web-1"]


# -- whole cascades ------------------------------------------------------------------------------------------


class Sim:
    """Informers, a work queue and an apiserver in a few lines: actions are applied to the cache as kubemu's
    apiserver applies them (a propagating delete marks the object; a finalizer-less terminating object
    goes), and every change is fed back through ``keys_for``."""

    def __init__(self, *objects: Obj) -> None:
        self.gc = GarbageCollector()
        self.cache = DictCache()
        self.queue: collections.deque[str] = collections.deque()
        self.deleted: list[str] = []
        self.rv = 10
        for o in objects:
            self._put(resource_of(o), o)

    def _put(self, resource: str, o: Obj) -> None:
        old = self.cache.get(resource, o["metadata"].get("namespace"), o["metadata"]["name"])
        self.rv += 1
        o = meta.deep_copy(o)
        o["metadata"]["resourceVersion"] = str(self.rv)
        self.cache.put(resource, o)
        self.queue.extend(self.gc.keys_for(resource, o, old, self.cache))

    def _remove(self, resource: str, o: Obj) -> None:
        self.cache.remove(resource, o)
        self.deleted.append(o["metadata"]["name"])
        self.queue.extend(self.gc.keys_for(resource, o, None, self.cache))

    def delete(self, resource: str, namespace: str | None, name: str, propagation: str) -> None:
        o = self.cache.get(resource, namespace, name)
        assert o is not None
        finalizer = {"Foreground": FOREGROUND, "Orphan": ORPHAN}.get(propagation)
        if finalizer is None:
            self._remove(resource, o)
        else:
            self._put(resource, deleting(o, finalizer))

    def apply(self, action: framework.Action) -> None:
        if isinstance(action, framework.Delete):
            o = self.cache.get(action.resource, action.namespace, action.name)
            if o is not None and o["metadata"]["uid"] == action.uid and not framework.is_terminating(o):
                self.delete(
                    action.resource, action.namespace, action.name, action.propagation or "Background"
                )
        elif isinstance(action, framework.Patch):
            o = self.cache.get(action.resource, action.namespace, action.name)
            if o is None:
                return
            if action.patch_type == "application/merge-patch+json":
                wanted = action.patch["metadata"].get("resourceVersion")
                if wanted and wanted != o["metadata"]["resourceVersion"]:
                    self.queue.append(gc_key(action.resource, o))  # a conflict: retried
                    return
                new = merge_patches.merge_patch(o, action.patch)
            else:
                new = smp.strategic_merge_patch(o, action.patch, o["kind"])
            if framework.is_terminating(new) and not new["metadata"].get("finalizers"):
                self._remove(action.resource, new)
            else:
                self._put(action.resource, new)

    def run(self) -> None:
        for _ in range(1000):
            if not self.queue:
                return
            for action in self.gc.reconcile(self.queue.popleft(), self.cache, CTX).actions:
                self.apply(action)
        raise AssertionError("the collector never settled")


def test_foreground_cascade_deletes_bottom_up() -> None:
    sim = Sim(DEPLOY, RS, POD, obj("pods", "web-1-b", RS))
    sim.delete("deployments", "default", "web", "Foreground")
    sim.run()
    assert sim.deleted == ["web-1-a", "web-1-b", "web-1", "web"]
    assert (
        sim.cache.objects("pods")
        == sim.cache.objects("replicasets")
        == sim.cache.objects("deployments")
        == []
    )


def test_background_cascade_deletes_everything_below() -> None:
    sim = Sim(DEPLOY, RS, POD)
    sim.delete("deployments", "default", "web", "Background")
    sim.run()
    assert sim.deleted == ["web", "web-1", "web-1-a"]


def test_orphan_cascade_keeps_the_dependents_without_the_reference() -> None:
    sim = Sim(DEPLOY, RS, POD)
    sim.delete("deployments", "default", "web", "Orphan")
    sim.run()
    assert sim.deleted == ["web"]
    [rs] = sim.cache.objects("replicasets")
    assert not rs["metadata"].get("ownerReferences")
    [pod] = sim.cache.objects("pods")
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "uid-web-1"
