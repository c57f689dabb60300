"""The namespace controller: a namespace being deleted is emptied, then finalized, as upstream's.

``kubectl delete namespace x`` only marks the namespace (``deletionTimestamp``, phase ``Terminating``); its
``spec.finalizers`` still holds ``kubernetes``, so the apiserver keeps it. Upstream's
``pkg/controller/namespace`` (``NamespacedResourcesDeleter``) then, for every namespaced resource the
apiserver serves, deletes everything in the namespace, lists what is left, writes what it found into the
namespace's conditions, and once nothing is left removes ``kubernetes`` through the ``finalize``
subresource, after which the apiserver deletes the namespace. While something remains (a pod in its grace
period, an object with a finalizer) it looks again after an estimate: the longest grace period left, else
``FINALIZER_ESTIMATE_SECONDS``. With the controller-manager stopped, a deleted namespace stays
``Terminating``, as it would upstream.

The conditions and their words are upstream's: ``NamespaceDeletionDiscoveryFailure``,
``NamespaceDeletionGroupVersionParsingFailure``, ``NamespaceDeletionContentFailure``,
``NamespaceContentRemaining`` ("Some resources are remaining: pods. has 2 resource instances") and
``NamespaceFinalizersRemaining`` ("Some content in the namespace has finalizers remaining: x in 1 resource
instances").

The deleting needs the apiserver's answers as it goes (what is left after the deletes), so ``reconcile``
decides from the cache that a namespace needs emptying and returns one ``framework.Run`` action; ``empty``
does the work through the internal API. The namespaced resources are the apiserver's stored kinds (its
registry stands in for discovery, which therefore cannot fail). Each resource is listed and its objects
deleted one by one (upstream tries ``deletecollection`` first and falls back to that).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.apiserver import status
from actors.controllers import framework
from actors.controllers.framework import Api, Cache, Context, Obj, Result
from kube import kinds, meta

FINALIZER = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15.0  # upstream's wait when what remains has finalizers and no grace period

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
CONDITION_TYPES = (
    DISCOVERY_FAILURE,
    PARSING_FAILURE,
    CONTENT_FAILURE,
    CONTENT_REMAINING,
    FINALIZERS_REMAINING,
)


@dataclasses.dataclass(slots=True)
class Remaining:
    """What one pass left in the namespace."""

    resources: dict[str, int] = dataclasses.field(default_factory=dict)  # "pods." -> count
    finalizers: dict[str, int] = dataclasses.field(default_factory=dict)  # finalizer -> objects holding it
    failures: list[str] = dataclasses.field(default_factory=list)  # deletes or lists that failed
    estimate: float = 0.0  # seconds until the graceful deletions should be over

    def empty(self) -> bool:
        return not self.resources and not self.failures


def conditions(remaining: Remaining, old: Sequence[Mapping[str, Any]], now: str) -> list[Obj]:
    """The namespace's deletion conditions after a pass (``lastTransitionTime`` kept while a status holds)."""
    content_failed = bool(remaining.failures)
    wanted: list[tuple[str, bool, str, str]] = [
        (DISCOVERY_FAILURE, False, "ResourcesDiscovered", "All resources successfully discovered"),
        (PARSING_FAILURE, False, "ParsedGroupVersions", "All legacy kube types successfully parsed"),
        (
            CONTENT_FAILURE,
            content_failed,
            "ContentDeletionFailed" if content_failed else "ContentDeleted",
            f"Failed to delete all resource types, {len(remaining.failures)} remaining: "
            + ", ".join(remaining.failures)
            if content_failed
            else "All content successfully deleted, may be waiting on finalization",
        ),
        (
            CONTENT_REMAINING,
            bool(remaining.resources),
            "SomeResourcesRemain" if remaining.resources else "ContentRemoved",
            "Some resources are remaining: "
            + ", ".join(f"{r} has {n} resource instances" for r, n in sorted(remaining.resources.items()))
            if remaining.resources
            else "All content successfully removed",
        ),
        (
            FINALIZERS_REMAINING,
            bool(remaining.finalizers),
            "SomeFinalizersRemain" if remaining.finalizers else "ContentHasNoFinalizers",
            "Some content in the namespace has finalizers remaining: "
            + ", ".join(f"{f} in {n} resource instances" for f, n in sorted(remaining.finalizers.items()))
            if remaining.finalizers
            else "All content-preserving finalizers finished",
        ),
    ]
    before = {c.get("type"): c for c in old if isinstance(c, Mapping)}
    out: list[Obj] = []
    for type_, holds, reason, message in wanted:
        value = "True" if holds else "False"
        previous = before.get(type_) or {}
        since = previous.get("lastTransitionTime") if previous.get("status") == value else None
        out.append(
            {
                "type": type_,
                "status": value,
                "lastTransitionTime": since or now,
                "reason": reason,
                "message": message,
            }
        )
    out += [dict(c) for t, c in before.items() if t not in CONDITION_TYPES]
    return out


def namespaced_resources(registry: kinds.Registry = kinds.DEFAULT) -> list[kinds.Kind]:
    """The namespaced kinds the apiserver stores (what upstream learns from discovery)."""
    from actors.apiserver.server import stored_kinds

    return [k for k in stored_kinds(registry) if k.namespaced]


def _qualified(kind: kinds.Kind) -> str:
    """How upstream names a resource in the conditions: ``pods.``, ``deployments.apps``."""
    return f"{kind.resource}.{kind.group}"


def _grace_left(obj: Mapping[str, Any], now: float) -> float:
    md = obj.get("metadata") or {}
    stamp = md.get("deletionTimestamp")
    if not stamp:
        return 0.0
    try:
        return max(0.0, meta.parse_rfc3339(stamp) - now)
    except ValueError:
        return 0.0


async def empty(
    api: Api, namespace: str, *, now: float, registry: kinds.Registry = kinds.DEFAULT
) -> Remaining:
    """One pass of upstream's ``deleteAllContent``: empty ``namespace``, then say what is left."""
    remaining = Remaining()
    for kind in namespaced_resources(registry):
        resource = f"{kind.resource}.{kind.group}" if kind.group else kind.resource
        try:
            listed = await api.call("list_objects", resource, namespace)
            for item in listed.get("items") or ():
                md = item.get("metadata") or {}
                if md.get("deletionTimestamp"):
                    continue  # already going
                try:
                    await api.call(
                        "delete", resource, namespace, md.get("name", ""), propagation_policy="Background"
                    )
                except status.ApiError as error:
                    if error.code != 404:  # a 404: it went meanwhile
                        raise
            left = (await api.call("list_objects", resource, namespace)).get("items") or []
        except Exception as error:
            remaining.failures.append(f"{_qualified(kind)}: {error}")
            continue
        if left:
            remaining.resources[_qualified(kind)] = len(left)
        for item in left:
            for finalizer in (item.get("metadata") or {}).get("finalizers") or ():
                remaining.finalizers[finalizer] = remaining.finalizers.get(finalizer, 0) + 1
            remaining.estimate = max(remaining.estimate, _grace_left(item, now))
    return remaining


async def finish(api: Api, ns: Obj, *, now: float, registry: kinds.Registry = kinds.DEFAULT) -> None:
    """Empty the namespace ``ns``, record the conditions, and finalize it once nothing is left (else raise
    ``framework.Requeue`` with the estimate)."""
    name = ns["metadata"]["name"]
    remaining = await empty(api, name, now=now, registry=registry)
    reported = ns.get("status") or {}
    new = conditions(remaining, reported.get("conditions") or [], meta.now_rfc3339(now))
    current = ns
    if new != reported.get("conditions"):
        body = meta.deep_copy(ns)
        body.setdefault("status", {})["conditions"] = new
        current = await api.call("update", "namespaces", None, body, subresource="status")
    if not remaining.empty():
        after = remaining.estimate or FINALIZER_ESTIMATE_SECONDS
        raise framework.Requeue(after, f"namespace {name}: content remains, checking again in {after:g} s")
    body = meta.deep_copy(current)
    spec = body.setdefault("spec", {})
    spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != FINALIZER]
    await api.call("update", "namespaces", None, body, subresource="finalize")


def needs_emptying(ns: Mapping[str, Any]) -> bool:
    md = ns.get("metadata") or {}
    return bool(md.get("deletionTimestamp")) and FINALIZER in ((ns.get("spec") or {}).get("finalizers") or ())


class NamespaceController:
    name = "namespace-controller"
    resource = "namespaces"
    kind = "Namespace"
    watches: tuple[str, ...] = ("namespaces",)

    def __init__(self, *, registry: kinds.Registry = kinds.DEFAULT) -> None:
        self.registry = registry

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        return [framework.key_of(obj)] if needs_emptying(obj) else []

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result:
        _, name = framework.split_key(key)
        ns = cache.get("namespaces", None, name)
        if ns is None or not needs_emptying(ns):
            return Result()
        work = functools.partial(finish, ns=ns, now=ctx.now, registry=self.registry)
        return Result(actions=[framework.Run(work=work, what=f"empty namespace {name}")])
