"""Who controls what: upstream's ``ControllerRefManager`` (``pkg/controller/controller_ref_manager.go``).

A controller works only on the objects its controller ownerReference names. Each sync it *claims* them from
the candidates (``candidates``: what refers to the owner, and what its selector may match):

- owned and still matching (and, where the caller says so, still a ``member``): kept;
- owned but no longer matching: released, unless the owner is being deleted;
- an orphan that matches, is not being deleted and lives in the owner's namespace: adopted, unless the owner
  is being deleted. It counts as claimed at once, as upstream after a successful patch; a failed patch
  shows it as an orphan again on the next sync;
- controlled by another owner: ignored. An empty selector adopts and keeps nothing.

Adoption and release are strategic merge patches of ``ownerReferences`` (merged by ``uid``: the reference
added, or removed with ``$patch: delete``) that carry the object's own uid, so a replaced object of the same
name fails the patch instead of being taken, as upstream's ``AdoptPod``/``ReleasePod`` patches.

``claim`` decides object by object (``outcome``), reading each through a ``View`` (its key, controller,
labels, ... read once). ``Claims`` keeps a claim in step with the cache from one sync to the next, for a
controller that claims many objects often (the ReplicaSet controller): with an informer's change log a sync
reads only the objects stored since the last one, and its result is what ``candidates`` then ``claim``
would give.

Pure: cached objects are read, never changed; the patches are returned as actions.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from actors.controllers import framework, informer
from kube import labels, meta

Obj = framework.Obj
T = TypeVar("T")

STRATEGIC = "application/strategic-merge-patch+json"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    objects: list[Obj]  # what the owner controls after this sync (adopted orphans included)
    actions: list[framework.Action]  # the adoptions and releases


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class View(Generic[T]):
    """What claiming reads of one version of an object, read once (``view``), and what the caller's ``extra``
    reads of it for its own use."""

    obj: Obj
    key: str  # framework.key_of
    namespace: str  # metadata.namespace, "" when absent or empty
    listed_namespace: Any  # metadata.namespace as stored ("" when absent): what an orphan is looked up by
    controller: Mapping[str, Any] | None  # its controller ownerReference
    labels: Mapping[str, str]
    terminating: bool
    extra: T


def view(obj: Obj) -> View[None]:
    """The ``View`` of an object, nothing ``extra``."""
    return _view(obj, None)


def _view(obj: Obj, extra: T) -> View[T]:
    md = obj.get("metadata") or {}
    namespace, name = md.get("namespace") or "", md.get("name") or ""
    return View(
        obj=obj,
        key=f"{namespace}/{name}" if namespace else name,
        namespace=namespace,
        listed_namespace=md.get("namespace", ""),
        controller=_controller(obj),
        labels=meta.labels_of(obj),
        terminating=framework.is_terminating(obj),
        extra=extra,
    )


def controller_ref(owner: Mapping[str, Any], *, api_version: str, kind: str) -> Obj:
    """``metav1.NewControllerRef``: controller and blockOwnerDeletion set, the group/version/kind given."""
    return {**framework.owner_reference(owner), "apiVersion": api_version, "kind": kind}


def candidates(
    cache: framework.Cache, resource: str, owner: Mapping[str, Any], selector: labels.Selector
) -> list[Obj]:
    """What ``claim`` must look at, in key order: the objects the owner controls, and the orphans of its
    namespace that it might adopt. Orphans are found through the label index by a ``key=value`` the
    selector requires (upstream keeps an orphan index), else by scanning the namespace."""
    return [v.obj for v in candidate_views(cache, resource, owner, selector, view)]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Terms:
    """What claiming depends on, of an owner and its selector: read once per sync (``terms``)."""

    uid: str  # metadata.uid ("" when absent or empty): whose objects are candidates
    claim_uid: Any  # metadata.uid as ``claim`` compares it ("" when absent)
    namespace: str
    deleting: bool
    pool: str | None  # the label index value that finds the orphans (None: the namespace does)


def terms(owner: Mapping[str, Any], selector: labels.Selector) -> Terms:
    md = owner.get("metadata") or {}
    pool = None
    for requirement in selector.requirements:
        value = selector.requires_exact_match(requirement.key)
        if value is not None:
            pool = f"{requirement.key}={value}"
            break
    return Terms(
        uid=md.get("uid") or "",
        claim_uid=md.get("uid", ""),
        namespace=md.get("namespace") or "",
        deleting=framework.is_terminating(owner),
        pool=pool,
    )


def candidate_views(
    cache: framework.Cache,
    resource: str,
    owner: Mapping[str, Any],
    selector: labels.Selector,
    views: Callable[[Obj], View[T]],
) -> list[View[T]]:
    """``candidates`` as views (``views`` makes them: ``view``, or what remembers them)."""
    owner_terms = terms(owner, selector)
    uid, namespace = owner_terms.uid, owner_terms.namespace
    found: dict[str, View[T]] = {}
    if uid:
        for obj in cache.by_index(resource, framework.OWNER, uid):
            v = views(obj)
            if v.controller is not None and (v.controller.get("uid") or "") == uid:
                found[v.key] = v
    if owner_terms.pool is None:
        pool = cache.objects(resource, namespace)
    else:
        pool = cache.by_index(resource, framework.LABEL, owner_terms.pool)
    for obj in pool:
        v = views(obj)
        if v.listed_namespace == namespace and v.controller is None:
            found.setdefault(v.key, v)
    return [found[k] for k in sorted(found)]


def is_candidate(v: View[Any], owner_terms: Terms) -> bool:
    """Whether ``candidate_views`` lists the object (for a caller that looks at one object at a time)."""
    if v.controller is not None:
        return bool(owner_terms.uid) and (v.controller.get("uid") or "") == owner_terms.uid
    if v.listed_namespace != owner_terms.namespace:
        return False
    if owner_terms.pool is None:
        return v.namespace == owner_terms.namespace
    return owner_terms.pool in framework.index_values(framework.LABEL, v.obj)


KEEP, RELEASE, ADOPT = "keep", "release", "adopt"


def outcome(v: View[Any], owner_terms: Terms, fits: bool) -> str | None:
    """What ``claim`` does with one object, given whether it ``fits`` (the selector matches it, and it is a
    member): ``KEEP``, ``RELEASE``, ``ADOPT``, or None (left alone)."""
    current = v.controller
    if current is not None:
        if (current.get("uid") or "") != owner_terms.claim_uid:
            return None
        if fits:
            return KEEP
        return None if owner_terms.deleting else RELEASE
    if owner_terms.deleting or not fits or v.terminating or v.namespace != owner_terms.namespace:
        return None
    return ADOPT


def claim(
    owner: Mapping[str, Any],
    ref: Obj,
    selector: labels.Selector,
    resource: str,
    objects: Iterable[Obj],
    *,
    member: Callable[[Obj], bool] | None = None,
) -> Claimed:
    """``ClaimObject`` over ``objects`` for ``owner``, whose controller reference ``ref`` adoption adds."""
    return claim_views(owner, ref, selector, resource, map(view, objects), member=member)


def claim_views(
    owner: Mapping[str, Any],
    ref: Obj,
    selector: labels.Selector,
    resource: str,
    views: Iterable[View[T]],
    *,
    member: Callable[[Obj], bool] | None = None,
    matches: Callable[[View[T]], bool] | None = None,
) -> Claimed:
    """``claim`` over views of the objects; ``matches``: whether ``selector`` matches a view's labels, if
    the caller remembers it."""
    owner_terms = terms(owner, selector)
    claimed: list[Obj] = []
    actions: list[framework.Action] = []
    for v in views:
        selected = selector.matches(v.labels) if matches is None else matches(v)
        fits = not selector.empty and selected and (member is None or member(v.obj))
        done = outcome(v, owner_terms, fits)
        if done is not None:
            if done != KEEP:
                actions.append(patch(resource, v, owner_terms, ref, done))
            if done != RELEASE:
                claimed.append(v.obj)
    return Claimed(objects=claimed, actions=actions)


def patch(resource: str, v: View[Any], owner_terms: Terms, ref: Obj, done: str) -> framework.Patch:
    """The patch that adopts (``ADOPT``) or releases (``RELEASE``) the object."""
    if done == ADOPT:
        return _patch(resource, v.obj, [ref])
    return _patch(resource, v.obj, [{"$patch": "delete", "uid": owner_terms.claim_uid}])


class Claims(Generic[T]):
    """``candidate_views`` then ``claim_views`` for one owner, kept in step with the cache from one sync to
    the next: with a cache that keeps a change log (``informer.ChangeLog``), a sync looks at the objects
    stored since the last one; otherwise, or when much changed, at every candidate (objects of the same
    version keep their view). It holds for one version of the owner's ``Terms`` and of what ``extra`` and
    ``fits`` read of the owner: the caller starts a new one when those change.

    ``extra`` reads what the caller needs of an object (``View.extra``); ``fits`` says whether one fits the
    owner (its selector matches, and it is a member); ``eligible``, whether it is claimed at all (a
    ReplicaSet claims its active pods only); ``tally``, what it adds to ``totals`` while claimed."""

    def __init__(
        self,
        resource: str,
        owner_terms: Terms,
        extra: Callable[[Obj], T],
        *,
        fits: Callable[[View[T]], bool],
        eligible: Callable[[View[T]], bool],
        tally: Callable[[View[T]], tuple[int, ...]],
    ) -> None:
        self.resource = resource
        self.terms = owner_terms
        self._extra, self._fits, self._eligible, self._tally = extra, fits, eligible, tally
        self._views: dict[str, View[T]] = {}  # candidate key -> its view
        self._outcomes: dict[str, str] = {}  # key -> its outcome, for the claimed and the ones to patch
        self.claimed: list[str] = []  # keys of what the owner controls after this sync, in order
        self.acting: list[str] = []  # keys of what to adopt or release, in order
        self.totals: list[int] = []  # the tally of the claimed
        self._cursor = informer.Cursor(resource)
        self._looked_at = 0  # the objects the last full look read

    def sync(self, cache: framework.Cache, owner: Mapping[str, Any], selector: labels.Selector) -> None:
        """Bring it up to date with ``cache``, for ``owner`` (of the same ``Terms``) and its ``selector``."""
        changed = self._cursor.read(cache)
        if changed is not None and len(changed) <= self._looked_at // 4 + 64:  # cheaper than a full look
            for key in dict.fromkeys(changed):
                self._update(cache, key)
            return
        self._looked_at = 0
        views = candidate_views(cache, self.resource, owner, selector, self._remembered)
        self._views, self._outcomes, self.claimed, self.acting, self.totals = {}, {}, [], [], []
        for v in views:  # in key order: appending keeps the lists in order
            self._add(v, ordered=False)

    def view(self, key: str) -> View[T]:
        return self._views[key]

    def objects(self) -> list[Obj]:
        """What the owner controls after this sync, in key order (``Claimed.objects``)."""
        return [self._views[k].obj for k in self.claimed]

    def actions(self, ref: Obj) -> list[framework.Action]:
        """The adoptions and releases, in key order (``Claimed.actions``)."""
        return [patch(self.resource, self._views[k], self.terms, ref, self._outcomes[k]) for k in self.acting]

    def _remembered(self, obj: Obj) -> View[T]:
        self._looked_at += 1
        md = obj.get("metadata") or {}
        namespace, name = md.get("namespace") or "", md.get("name") or ""
        known = self._views.get(f"{namespace}/{name}" if namespace else name)
        return known if known is not None and known.obj is obj else _view(obj, self._extra(obj))

    def _update(self, cache: framework.Cache, key: str) -> None:
        known = self._views.get(key)
        namespace, name = framework.split_key(key)
        obj = cache.get(self.resource, namespace, name)
        if known is not None and known.obj is obj:
            return
        if known is not None:
            self._remove(known)
        if obj is not None:
            v = _view(obj, self._extra(obj))
            if is_candidate(v, self.terms):
                self._add(v, ordered=True)

    def _add(self, v: View[T], *, ordered: bool) -> None:
        self._views[v.key] = v
        done = outcome(v, self.terms, self._fits(v)) if self._eligible(v) else None
        if done is None:
            return
        self._outcomes[v.key] = done
        if done != RELEASE:
            _insert(self.claimed, v.key, ordered)
            self._count(v, 1)
        if done != KEEP:
            _insert(self.acting, v.key, ordered)

    def _remove(self, v: View[T]) -> None:
        del self._views[v.key]
        done = self._outcomes.pop(v.key, None)
        if done is None:
            return
        if done != RELEASE:
            del self.claimed[bisect.bisect_left(self.claimed, v.key)]
            self._count(v, -1)
        if done != KEEP:
            del self.acting[bisect.bisect_left(self.acting, v.key)]

    def _count(self, v: View[T], sign: int) -> None:
        tally = self._tally(v)
        if len(self.totals) < len(tally):
            self.totals.extend([0] * (len(tally) - len(self.totals)))
        for i, n in enumerate(tally):
            self.totals[i] += sign * n


def _insert(keys: list[str], key: str, ordered: bool) -> None:
    if ordered:
        bisect.insort(keys, key)
    else:
        keys.append(key)


def _controller(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object's controller ownerReference as stored (``meta.controller_of`` without building an
    ``OwnerReference``: this runs for every candidate of every sync)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") is True:
            return ref  # type: ignore[no-any-return]
    return None


def _patch(resource: str, obj: Mapping[str, Any], references: list[Obj]) -> framework.Patch:
    md = obj.get("metadata") or {}
    return framework.Patch(
        resource=resource,
        namespace=md.get("namespace") or None,
        name=md.get("name", ""),
        patch={"metadata": {"ownerReferences": references, "uid": md.get("uid", "")}},
        patch_type=STRATEGIC,
    )
