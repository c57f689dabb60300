"""The garbage collector: dependents whose owners are gone are deleted, and deletions that propagate wait.

Upstream's ``pkg/controller/garbagecollector`` keeps a graph of every object's ``ownerReferences`` and
works two queues over it (``attemptToDelete``, ``attemptToOrphan``). This controller makes the same
decisions from the informer cache, one object per key:

- **background**: an object none of whose owners exists is deleted, with its own uid as a precondition and
  the propagation its finalizers ask for (``orphan``: Orphan, ``foregroundDeletion``: Foreground, else
  Background). An owner is looked up by name in the dependent's namespace (cluster-wide for a cluster-scoped
  kind); one found with another uid is a new object of the same name and counts as gone. An object with at
  least one live owner stays, but its references to owners that are gone or that are deleting their
  dependents in the foreground are removed (upstream's "solid" owners keep it; "dangling" and "waiting"
  references would otherwise block those owners forever);
- **foreground**: an owner with ``deletionTimestamp`` and the ``foregroundDeletion`` finalizer has its
  dependents deleted (each dependent is decided as above: with no other live owner it is deleted, in the
  Foreground itself when it has dependents of its own). Once no dependent with ``blockOwnerDeletion: true``
  is left in the cache, the finalizer is removed and the apiserver deletes the owner;
- **orphan**: an owner with ``deletionTimestamp`` and the ``orphan`` finalizer has its reference removed
  from every dependent; once none refers to it any more, the finalizer is removed.

Keys: the garbage collector acts on objects of many resources, so its keys are ``"<resource>|<ns>/<name>"``
(``"<resource>|<name>"`` for cluster-scoped objects), e.g. ``"pods|default/web-7d4b9-abcde"``; ``gc_key``
and ``split_gc_key`` make and read them. ``keys_for`` enqueues an object whose references change (or that
appears), an owner whose deletion this controller finishes, the dependents of an owner that is deleted or
starts a propagating deletion, and the owners waiting on a dependent that goes or drops its reference.

Writes: references are removed and unblocked with strategic merge patches keyed on the owner's uid
(``{"$patch": "delete", "uid": ...}``), as upstream does, so a concurrent change of the dependent does not
conflict; finalizers are removed with a JSON merge patch carrying the whole remaining list and the
``resourceVersion`` it was computed from (a stale one is a 409 and the key is retried from the cache).

Deviations: upstream confirms an owner's absence with a live GET before deleting a dependent; this
controller trusts the cache, so the runner must not reconcile before every watched informer has synced
(else every dependent of a not-yet-listed owner looks orphaned). Only the resources in ``RESOURCES`` are
watched: a reference to another kind, or a cluster-scoped object's reference to a namespaced kind, cannot be
judged, and an object carrying one is left alone (upstream retries such an object, or drops it, without
acting). Orphaning and the foreground finalizer take one more round than upstream (the finalizer goes once
the cache shows the dependents released or gone), so a failed patch never loses a dependent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from actors.controllers import framework
from actors.controllers.framework import Action, Cache, Context, Obj, Result
from kube import kinds

# The resources whose objects carry ownerReferences (or own such objects) in an emulated cluster.
RESOURCES: tuple[str, ...] = (
    "pods",
    "nodes",
    "services",
    "endpointslices",
    "replicationcontrollers",
    "replicasets",
    "deployments",
    "statefulsets",
    "daemonsets",
    "controllerrevisions",
    "jobs",
    "cronjobs",
    "persistentvolumeclaims",
    "configmaps",
    "secrets",
    "leases",
)
ORPHAN = "orphan"  # metav1.FinalizerOrphanDependents
FOREGROUND = "foregroundDeletion"  # metav1.FinalizerDeleteDependents
SEPARATOR = "|"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def gc_key(resource: str, obj: Mapping[str, Any]) -> str:
    """``"<resource>|<namespace>/<name>"`` (``"<resource>|<name>"`` when cluster-scoped)."""
    return f"{resource}{SEPARATOR}{framework.key_of(obj)}"


def split_gc_key(key: str) -> tuple[str, str | None, str]:
    """(resource, namespace or None, name) of a key made by ``gc_key``."""
    resource, _, rest = key.partition(SEPARATOR)
    namespace, name = framework.split_key(rest)
    return resource, namespace, name


def _md(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md: Mapping[str, Any] = obj.get("metadata") or {}
    return md


def _refs(obj: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if obj is None:
        return []
    return [ref for ref in _md(obj).get("ownerReferences") or () if isinstance(ref, Mapping)]


def _finalizers(obj: Mapping[str, Any]) -> list[str]:
    return [f for f in _md(obj).get("finalizers") or () if isinstance(f, str)]


def is_deleting_dependents(obj: Mapping[str, Any]) -> bool:
    """Terminating with ``foregroundDeletion``: its dependents go first (``isDeletingDependents``)."""
    return framework.is_terminating(obj) and FOREGROUND in _finalizers(obj)


def _propagating(obj: Mapping[str, Any]) -> bool:
    """Terminating with a finalizer this controller must remove (``orphan`` or ``foregroundDeletion``)."""
    return framework.is_terminating(obj) and bool({ORPHAN, FOREGROUND} & set(_finalizers(obj)))


class GarbageCollector:
    """See the module docstring. Stateless: every decision is made from the cache."""

    name = "garbage-collector-controller"
    kind = ""  # owns nothing itself: no expectations

    def __init__(
        self, *, resources: Iterable[str] = RESOURCES, registry: kinds.Registry = kinds.DEFAULT
    ) -> None:
        self.watches: tuple[str, ...] = tuple(dict.fromkeys(resources))
        # Keys name their own resource ("<resource>|<ns>/<name>"); ``resource`` is only the first watched
        # one, for a runner that starts an informer for it.
        self.resource = self.watches[0]
        watched = set(self.watches)
        self._by_gvk: dict[tuple[str, str], kinds.Kind] = {}
        self._by_kind: dict[str, kinds.Kind] = {}  # any version of a kind (an owner written by an old client)
        self._namespaced: dict[str, bool] = {}
        for kind in registry:
            if kind.resource not in watched:
                continue
            self._namespaced.setdefault(kind.resource, kind.namespaced)
            if self._namespaced[kind.resource] != kind.namespaced:
                continue  # another group's resource of the same name (metrics.k8s.io pods)
            self._by_gvk.setdefault((kind.api_version, kind.kind), kind)
            self._by_kind.setdefault(kind.kind, kind)

    # -- events ------------------------------------------------------------------------------------------

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        if resource not in self._namespaced:
            return []
        md = _md(obj)
        namespace = md.get("namespace") or None
        current = cache.get(resource, namespace, md.get("name") or "")
        deleted = current is None or _md(current).get("uid") != md.get("uid")
        resync = old is not None and _md(old).get("resourceVersion") == md.get("resourceVersion")
        refs, old_refs = _refs(obj), _refs(old)
        refs_changed = old is None or refs != old_refs
        deletion_changed = old is None or (
            framework.is_terminating(obj) != framework.is_terminating(old)
            or _finalizers(obj) != _finalizers(old)
        )
        keys: list[str] = []
        if not deleted and (
            (refs and (refs_changed or resync)) or (_propagating(obj) and (deletion_changed or resync))
        ):
            keys.append(gc_key(resource, obj))
        if deleted or (_propagating(obj) and deletion_changed):
            keys.extend(gc_key(res, dep) for res, dep in self._dependents(md.get("uid") or "", cache))
        if deleted or refs_changed or deletion_changed:
            for ref in [*refs, *(r for r in old_refs if r not in refs)]:
                found = self._owner(ref, namespace, cache)
                if found is not None and found[1] is not None and _propagating(found[1]):
                    keys.append(gc_key(found[0], found[1]))
        return list(dict.fromkeys(keys))

    # -- reconcile -----------------------------------------------------------------------------------------

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result:
        resource, namespace, name = split_gc_key(key)
        if resource not in self._namespaced:
            return Result()
        obj = cache.get(resource, namespace, name)
        if obj is None:
            return Result()
        if framework.is_terminating(obj):
            finalizers = _finalizers(obj)
            if ORPHAN in finalizers:
                return Result(actions=self._orphan_dependents(resource, obj, cache))
            if FOREGROUND in finalizers:
                return Result(actions=self._delete_dependents(resource, obj, cache))
            return Result()  # on its way out: its dependents are looked at once it is gone
        return Result(actions=self._attempt_to_delete(resource, obj, cache))

    def _attempt_to_delete(self, resource: str, obj: Obj, cache: Cache) -> list[Action]:
        """Upstream's ``attemptToDeleteItem`` for a live object."""
        refs = _refs(obj)
        if not refs:
            return []
        namespace = _md(obj).get("namespace") or None
        solid: list[Mapping[str, Any]] = []
        dangling: list[Mapping[str, Any]] = []
        waiting: list[Mapping[str, Any]] = []
        for ref in refs:
            found = self._owner(ref, namespace, cache)
            if found is None:
                return []  # an owner this controller cannot look up: leave the object alone
            owner = found[1]
            if owner is None:
                dangling.append(ref)
            elif is_deleting_dependents(owner):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if not dangling and not waiting:
                return []
            gone = [ref.get("uid", "") for ref in [*dangling, *waiting]]
            return [self._remove_refs(resource, obj, gone)]
        if waiting:
            dependents = self._dependents(_md(obj).get("uid") or "", cache)
            if dependents:
                actions: list[Action] = []
                # A dependent of its own deleting its dependents could wait on it while it waits on its
                # owner: release its owners first (upstream's cycle guard).
                if any(is_deleting_dependents(dep) for _, dep in dependents):
                    unblock = self._unblock_refs(resource, obj)
                    if unblock is not None:
                        actions.append(unblock)
                actions.append(self._delete(resource, obj, "Foreground"))
                return actions
        finalizers = _finalizers(obj)
        if ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        return [self._delete(resource, obj, policy)]

    def _delete_dependents(self, resource: str, owner: Obj, cache: Cache) -> list[Action]:
        """Upstream's ``processDeletingDependentsItem``: the finalizer goes once no dependent blocks."""
        uid = _md(owner).get("uid") or ""
        blocking = [
            (res, dep)
            for res, dep in self._dependents(uid, cache)
            if any(ref.get("uid") == uid and ref.get("blockOwnerDeletion") is True for ref in _refs(dep))
        ]
        if not blocking:
            return [self._remove_finalizer(resource, owner, FOREGROUND)]
        actions: list[Action] = []
        for res, dep in blocking:
            if not framework.is_terminating(dep):  # one already going is waited for
                actions.extend(self._attempt_to_delete(res, dep, cache))
        return actions

    def _orphan_dependents(self, resource: str, owner: Obj, cache: Cache) -> list[Action]:
        """Upstream's ``attemptToOrphanWorker``: release every dependent, then drop the finalizer."""
        uid = _md(owner).get("uid") or ""
        dependents = self._dependents(uid, cache)
        if dependents:
            return [self._remove_refs(res, dep, [uid]) for res, dep in dependents]
        return [self._remove_finalizer(resource, owner, ORPHAN)]

    # -- lookups -------------------------------------------------------------------------------------------

    def _owner(
        self, ref: Mapping[str, Any], namespace: str | None, cache: Cache
    ) -> tuple[str, Obj | None] | None:
        """(resource, the owner or None when it is gone), or None when the reference cannot be judged."""
        kind = self._by_gvk.get((ref.get("apiVersion") or "", ref.get("kind") or "")) or self._by_kind.get(
            ref.get("kind") or ""
        )
        if kind is None:
            return None
        if kind.namespaced and namespace is None:
            return None  # a cluster-scoped object cannot be owned by a namespaced one
        owner = cache.get(kind.resource, namespace if kind.namespaced else None, ref.get("name") or "")
        if owner is not None and _md(owner).get("uid") != ref.get("uid"):
            owner = None  # a new object of the same name
        return kind.resource, owner

    def _dependents(self, uid: str, cache: Cache) -> list[tuple[str, Obj]]:
        if not uid:
            return []
        return [(res, dep) for res in self.watches for dep in cache.by_index(res, framework.OWNER, uid)]

    # -- writes --------------------------------------------------------------------------------------------

    def _delete(self, resource: str, obj: Obj, policy: str) -> framework.Delete:
        md = _md(obj)
        return framework.Delete(
            resource=resource,
            namespace=md.get("namespace") or None,
            name=md.get("name") or "",
            uid=md.get("uid"),
            propagation=policy,
        )

    def _remove_refs(self, resource: str, obj: Obj, owner_uids: list[str]) -> framework.Patch:
        md = _md(obj)
        patch = {
            "metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": uid} for uid in owner_uids],
                "uid": md.get("uid"),
            }
        }
        return framework.Patch(
            resource=resource,
            namespace=md.get("namespace") or None,
            name=md.get("name") or "",
            patch=patch,
            patch_type=STRATEGIC_MERGE_PATCH,
        )

    def _unblock_refs(self, resource: str, obj: Obj) -> framework.Patch | None:
        md = _md(obj)
        blocked = [ref.get("uid", "") for ref in _refs(obj) if ref.get("blockOwnerDeletion") is True]
        if not blocked:
            return None
        patch = {
            "metadata": {
                "ownerReferences": [{"uid": uid, "blockOwnerDeletion": False} for uid in blocked],
                "uid": md.get("uid"),
            }
        }
        return framework.Patch(
            resource=resource,
            namespace=md.get("namespace") or None,
            name=md.get("name") or "",
            patch=patch,
            patch_type=STRATEGIC_MERGE_PATCH,
        )

    def _remove_finalizer(self, resource: str, obj: Obj, finalizer: str) -> framework.Patch:
        md = _md(obj)
        remaining = [f for f in _finalizers(obj) if f != finalizer]
        return framework.Patch(
            resource=resource,
            namespace=md.get("namespace") or None,
            name=md.get("name") or "",
            patch={
                "metadata": {"finalizers": remaining or None, "resourceVersion": md.get("resourceVersion")}
            },
        )
