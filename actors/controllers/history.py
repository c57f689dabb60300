"""ControllerRevision history, and the template hash and int-or-percent arithmetic the rollouts share.

As upstream's ``pkg/controller/history`` and the revision parts of ``statefulset`` and ``daemon``:

- a revision snapshots an owner's pod template as upstream's ``getPatch`` does: ``data`` is the strategic
  merge patch ``{"spec": {"template": {..., "$patch": "replace"}}}`` that restores it, ``revision`` a number
  that grows with every change (a roll back renumbers the old revision instead of copying it);
- a StatefulSet revision is named ``<set>-<hash>``, the hash being FNV-1 over the patch (plus the
  collision count), safe-encoded as upstream's ``rand.SafeEncodeString``, and labelled
  ``controller.kubernetes.io/hash``; its pods carry the revision *name* in ``controller-revision-hash``.
  A DaemonSet revision is named ``<ds>-<hash>`` with the hash of the template (FNV-1a, upstream's
  ``controller.ComputeHash``, ``compute_hash``, which also names a Deployment's ReplicaSets) in
  ``controller-revision-hash``, which is also the label its pods carry. Hashes are over canonical JSON
  (sorted keys; for ``compute_hash`` empty values left out), so they are deterministic but not byte-equal
  to upstream's;
- ``plan_stateful`` and ``plan_daemon`` find the current and update revisions from the cache and return
  the revision writes to make (create, renumber, relabel, de-duplicate). A name taken by a revision with
  other data is a hash collision: the collision count goes up until the name is free, and the caller
  records it in ``status.collisionCount``. A revision create is *expected* (``expect=True``): the manager
  settles a creation for every watched object that appears with the owner's controller reference, so
  counting it keeps the owner's pod expectations exact;
- ``stale_revisions`` trims history to ``revisionHistoryLimit`` (default 10), oldest first, never touching
  a live revision (the current and update ones, and any a pod still runs);
- int-or-percent scaling (``intstr.GetScaledValueFromIntOrPercent``), for ``maxSurge``/``maxUnavailable``
  of every rollout (Deployment, DaemonSet, StatefulSet).

Claiming revisions and pods is ``ownership``'s; pod readiness and availability are ``framework``'s.

Everything here is pure: it reads cached objects (never changing them) and returns values and actions.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.controllers import framework
from kube import errors, meta

Obj = framework.Obj

CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"  # apps.ControllerRevisionHashLabelKey
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"  # history.ControllerRevisionHashLabel
DEFAULT_REVISION_HISTORY_LIMIT = 10
REVISIONS = "controllerrevisions"
_MAX_PREFIX = 223  # ControllerRevisionName keeps names within 253 characters
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery util/rand: no vowels, no 0, 1, 3
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MAX_COLLISIONS = 1000


# -- hashing ------------------------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces: the same data gives the same bytes (as Go's ``json.Marshal`` of a map)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fnv32(data: bytes) -> int:
    """FNV-1, 32 bits (Go's ``hash/fnv.New32``)."""
    h = _FNV_OFFSET
    for byte in data:
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
        h ^= byte
    return h


def fnv32a(data: bytes) -> int:
    """FNV-1a, 32 bits (Go's ``hash/fnv.New32a``)."""
    h = _FNV_OFFSET
    for byte in data:
        h ^= byte
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: each byte mapped into an alphabet that cannot spell words."""
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in text.encode())


def hash_revision(data: Any, collision_count: int | None) -> str:
    """``history.HashControllerRevision``: FNV-1 over the data, then the collision count's digits."""
    raw = canonical_json(data)
    if collision_count is not None:
        raw += str(collision_count).encode()
    return safe_encode(str(fnv32(raw)))


def compute_hash(template: Any, collision_count: int | None) -> str:
    """``controller.ComputeHash``, the ``pod-template-hash`` of a Deployment's ReplicaSets and the
    ``controller-revision-hash`` of a DaemonSet's revisions: FNV-1a over the template's canonical JSON
    (empty values left out, ``omit_empty``), then the collision count (uint32, little endian)."""
    raw = canonical_json(omit_empty(template))
    if collision_count is not None:
        raw += (collision_count & 0xFFFFFFFF).to_bytes(4, "little")
    return safe_encode(str(fnv32a(raw)))


def omit_empty(value: Any) -> Any:
    """A value with empty maps, empty lists and nulls left out, as Go's ``omitempty`` prints it: templates
    that differ only there hash (and compare) the same."""
    if isinstance(value, dict):
        out = {k: omit_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [omit_empty(v) for v in value]
    return value


# -- revisions ----------------------------------------------------------------------------------------------


def template_patch(owner: Mapping[str, Any]) -> Obj:
    """``getPatch``: the patch that restores ``owner``'s pod template, replacing it whole."""
    template = meta.deep_copy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: Mapping[str, Any]) -> Obj:
    """The pod template a revision restores (``ApplyRevision`` for the only field revisions record)."""
    template = meta.deep_copy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def revision_name(prefix: str, hash_value: str) -> str:
    return f"{prefix[:_MAX_PREFIX]}-{hash_value}"


def number_of(revision: Mapping[str, Any]) -> int:
    return int(revision.get("revision") or 0)


def new_revision(
    owner: Mapping[str, Any], *, data: Obj, number: int, hash_value: str, hash_label: str, name: str
) -> Obj:
    """A ControllerRevision owned (controller reference) by ``owner``: template labels plus the hash label,
    the owner's annotations, ``data`` and ``revision``."""
    md = owner.get("metadata") or {}
    template_md = ((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": name,
            "namespace": md.get("namespace", ""),
            "labels": {**(template_md.get("labels") or {}), hash_label: hash_value},
            "annotations": dict(md.get("annotations") or {}),
            "ownerReferences": [framework.owner_reference(owner)],
        },
        "data": data,
        "revision": number,
    }


def sorted_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """By ``revision``, then creation time, then name (upstream's ``byRevision``)."""

    def key(r: Obj) -> tuple[int, str, str]:
        md = r.get("metadata") or {}
        return number_of(r), str(md.get("creationTimestamp") or ""), str(md.get("name") or "")

    return sorted(revisions, key=key)


def next_revision(revisions: Sequence[Obj]) -> int:
    """One more than the highest ``revision`` of a sorted list (1 for none)."""
    return number_of(revisions[-1]) + 1 if revisions else 1


def history_limit(owner: Mapping[str, Any]) -> int:
    limit = (owner.get("spec") or {}).get("revisionHistoryLimit")
    return DEFAULT_REVISION_HISTORY_LIMIT if limit is None else int(limit)


def stale_revisions(revisions: Sequence[Obj], live: set[str], limit: int) -> list[Obj]:
    """``truncateHistory``: the oldest revisions not in ``live`` beyond ``limit`` (``revisions`` sorted)."""
    history = [r for r in revisions if _name(r) not in live]
    if limit < 0 or len(history) <= limit:
        return []
    return history[: len(history) - limit]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RevisionPlan:
    """The revisions a sync works with, and the writes that make the history agree with the spec."""

    current: Obj  # what pods at status.currentRevision run (the update revision when there is none)
    update: Obj  # what the spec's template is, as a revision (maybe not created yet: see actions)
    old: list[Obj]  # every listed revision but the update one, sorted
    collision_count: int
    actions: list[framework.Action]


def plan_stateful(owner: Obj, revisions: Sequence[Obj], cache: framework.Cache) -> RevisionPlan:
    """``getStatefulSetRevisions`` over a sorted list of the set's revisions."""
    status = owner.get("status") or {}
    namespace = _namespace(owner)
    collision = int(status.get("collisionCount") or 0)
    data = template_patch(owner)
    number = next_revision(revisions)
    actions: list[framework.Action] = []
    equal = [r for r in revisions if r.get("data") == data]
    if equal and equal[-1] is revisions[-1]:
        update = revisions[-1]  # the template has not changed since the latest revision
    elif equal:  # a roll back: the older revision becomes the newest
        update = meta.deep_copy(equal[-1])
        update["revision"] = number
        actions.append(_renumber(update, number))
    else:
        for _ in range(_MAX_COLLISIONS):
            hash_value = hash_revision(data, collision)
            name = revision_name(_name(owner), hash_value)
            existing = cache.get(REVISIONS, namespace, name)
            if existing is None or existing.get("data") == data:
                break
            collision += 1
        update = existing or new_revision(
            owner, data=data, number=number, hash_value=hash_value, hash_label=REVISION_HASH_LABEL, name=name
        )
        if existing is None:
            actions.append(
                framework.Create(resource=REVISIONS, namespace=namespace, body=update, expect=True)
            )
    current = next((r for r in revisions if _name(r) == status.get("currentRevision")), update)
    old = [r for r in revisions if _name(r) != _name(update)]
    return RevisionPlan(current=current, update=update, old=old, collision_count=collision, actions=actions)


def plan_daemon(
    owner: Obj, revisions: Sequence[Obj], pods: Sequence[Obj], cache: framework.Cache
) -> RevisionPlan:
    """``constructHistory``: the revision matching the template is current (created when missing, renumbered
    past every other one); duplicates are deleted after their pods are relabelled."""
    namespace = _namespace(owner)
    data = template_patch(owner)
    actions: list[framework.Action] = []
    revisions = [_with_hash_label(r, actions) for r in revisions]
    matching = [r for r in revisions if r.get("data") == data]
    old = [r for r in revisions if r.get("data") != data]
    number = max((number_of(r) for r in old), default=0) + 1
    collision = int((owner.get("status") or {}).get("collisionCount") or 0)
    if not matching:
        template = (owner.get("spec") or {}).get("template") or {}
        for _ in range(_MAX_COLLISIONS):
            hash_value = compute_hash(template, collision)
            name = f"{_name(owner)}-{hash_value}"
            existing = cache.get(REVISIONS, namespace, name)
            if existing is None or existing.get("data") == data:
                break
            collision += 1
        current = existing or new_revision(
            owner,
            data=data,
            number=number,
            hash_value=hash_value,
            hash_label=CONTROLLER_REVISION_HASH_LABEL,
            name=name,
        )
        if existing is None:
            actions.append(
                framework.Create(resource=REVISIONS, namespace=namespace, body=current, expect=True)
            )
    else:
        current = max(reversed(matching), key=number_of)  # the highest; the last listed on a tie
        keep_hash = meta.labels_of(current)[CONTROLLER_REVISION_HASH_LABEL]
        for dup in matching:
            if dup is current:
                continue
            dup_hash = meta.labels_of(dup)[CONTROLLER_REVISION_HASH_LABEL]
            for pod in pods:
                if meta.labels_of(pod).get(CONTROLLER_REVISION_HASH_LABEL) == dup_hash:
                    patch = {"metadata": {"labels": {CONTROLLER_REVISION_HASH_LABEL: keep_hash}}}
                    actions.append(
                        framework.Patch(resource="pods", namespace=namespace, name=_name(pod), patch=patch)
                    )
            actions.append(
                framework.Delete(resource=REVISIONS, namespace=namespace, name=_name(dup), uid=_uid(dup))
            )
        if number_of(current) < number:
            current = meta.deep_copy(current)
            current["revision"] = number
            actions.append(_renumber(current, number))
    return RevisionPlan(current=current, update=current, old=old, collision_count=collision, actions=actions)


def _with_hash_label(revision: Obj, actions: list[framework.Action]) -> Obj:
    """A DaemonSet revision without the hash label gets its own name as the label, as upstream."""
    if CONTROLLER_REVISION_HASH_LABEL in meta.labels_of(revision):
        return revision
    revision = meta.deep_copy(revision)
    revision["metadata"].setdefault("labels", {})[CONTROLLER_REVISION_HASH_LABEL] = _name(revision)
    patch = {"metadata": {"labels": {CONTROLLER_REVISION_HASH_LABEL: _name(revision)}}}
    actions.append(
        framework.Patch(resource=REVISIONS, namespace=_namespace(revision), name=_name(revision), patch=patch)
    )
    return revision


def _renumber(revision: Obj, number: int) -> framework.Patch:
    return framework.Patch(
        resource=REVISIONS, namespace=_namespace(revision), name=_name(revision), patch={"revision": number}
    )


# -- rollout arithmetic -------------------------------------------------------------------------------------


def scaled_value(value: object, total: int, *, round_up: bool, default: int | None = None) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"25%"`` of ``total`` rounded as asked, a
    string of digits as its number. Anything else (``None`` included) raises ``KubeError``, or reads as
    ``default`` when the caller gives one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.endswith("%") and value[:-1].lstrip("-").isdigit():
            percent = int(value[:-1])
            return -(-percent * total // 100) if round_up else percent * total // 100
        if value.isdigit():
            return int(value)
    if default is not None:
        return default
    if not isinstance(value, str):
        raise errors.KubeError(f"invalid value for IntOrString: {value!r}")
    raise errors.KubeError(
        f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}"
    )


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")
