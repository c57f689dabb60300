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

Pure: cached objects are read, never changed; the patches are returned as actions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors.controllers import framework
from kube import labels, meta

Obj = framework.Obj

STRATEGIC = "application/strategic-merge-patch+json"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    objects: list[Obj]  # what the owner controls after this sync (adopted orphans included)
    actions: list[framework.Action]  # the adoptions and releases


def controller_ref(owner: Mapping[str, Any], *, api_version: str, kind: str) -> Obj:
    """``metav1.NewControllerRef``: controller and blockOwnerDeletion set, the group/version/kind given."""
    return {**framework.owner_reference(owner), "apiVersion": api_version, "kind": kind}


def candidates(
    cache: framework.Cache, resource: str, owner: Mapping[str, Any], selector: labels.Selector
) -> list[Obj]:
    """What ``claim`` must look at, in key order: the objects the owner controls, and the orphans of its
    namespace that it might adopt. Orphans are found through the label index by a ``key=value`` the
    selector requires (upstream keeps an orphan index), else by scanning the namespace."""
    md = owner.get("metadata") or {}
    uid = md.get("uid") or ""
    namespace = md.get("namespace") or ""
    found: dict[str, Obj] = {}
    if uid:
        for obj in cache.by_index(resource, framework.OWNER, uid):
            ref = meta.controller_of(obj)
            if ref is not None and ref.uid == uid:
                found[framework.key_of(obj)] = obj
    pool = cache.objects(resource, namespace)
    for requirement in selector.requirements:
        value = selector.requires_exact_match(requirement.key)
        if value is not None:
            pool = cache.by_index(resource, framework.LABEL, f"{requirement.key}={value}")
            break
    for obj in pool:
        if (obj.get("metadata") or {}).get("namespace", "") == namespace and meta.controller_of(obj) is None:
            found.setdefault(framework.key_of(obj), obj)
    return [found[k] for k in sorted(found)]


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
    owner_md = owner.get("metadata") or {}
    uid = owner_md.get("uid", "")
    namespace = owner_md.get("namespace") or ""
    deleting = framework.is_terminating(owner)
    claimed: list[Obj] = []
    actions: list[framework.Action] = []
    for obj in objects:
        md = obj.get("metadata") or {}
        current = meta.controller_of(obj)
        matches = (
            not selector.empty and selector.matches(meta.labels_of(obj)) and (member is None or member(obj))
        )
        if current is not None:
            if current.uid != uid:
                continue
            if matches:
                claimed.append(obj)
            elif not deleting:
                actions.append(_patch(resource, obj, [{"$patch": "delete", "uid": uid}]))
            continue
        if deleting or not matches or framework.is_terminating(obj):
            continue
        if (md.get("namespace") or "") != namespace:
            continue
        actions.append(_patch(resource, obj, [ref]))
        claimed.append(obj)
    return Claimed(objects=claimed, actions=actions)


def _patch(resource: str, obj: Mapping[str, Any], references: list[Obj]) -> framework.Patch:
    md = obj.get("metadata") or {}
    return framework.Patch(
        resource=resource,
        namespace=md.get("namespace") or None,
        name=md.get("name", ""),
        patch={"metadata": {"ownerReferences": references, "uid": md.get("uid", "")}},
        patch_type=STRATEGIC,
    )
