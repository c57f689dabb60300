"""The ReplicaSet and ReplicationController controllers: keep ``spec.replicas`` active pods per owner.

One core serves both kinds, as upstream's ``pkg/controller/replicaset`` serves ReplicationControllers through
an adapter (``ReplicationManager``); they differ only in their resource, kind, component name and selector
shape (a LabelSelector, or a plain map for the v1 kind).

What ``reconcile`` does for one owner, as ``syncReplicaSet``:

- it reads the owner's candidate pods (those it controls, and the orphans of its namespace), keeps the
  active ones (not terminating, phase neither Succeeded nor Failed), adopts matching orphans and releases
  owned pods that no longer match (``ClaimPods``: strategic merge patches on ``ownerReferences``, the pod's
  uid in the patch as upstream's precondition);
- when the key's expectations are satisfied and the owner is not being deleted, it creates the missing pods
  from the template (``generateName: <owner>-``, controller ownerReference, ``expect=True``) or deletes the
  surplus, ranked as ``ActivePodsWithRanks`` (unscheduled, Pending, not ready, cheaper
  ``controller.kubernetes.io/pod-deletion-cost``, more siblings on the node, ready for less time
  (logarithmic buckets), more restarts, younger (logarithmic buckets) go first); at most ``burst_replicas``
  (500) either way per sync;
- it writes ``status`` (``replicas``, ``fullyLabeledReplicas``, ``readyReplicas``, ``availableReplicas``,
  ``observedGeneration``, conditions) through the status subresource, guarded by the cached
  ``resourceVersion``, only when it changed; and it asks to be looked at again when a ready pod will pass
  ``minReadySeconds``.

Events: upstream's ``RealPodControl`` records ``SuccessfulCreate`` ("Created pod: <name>") and
``SuccessfulDelete`` ("Deleted pod: <name>") after each write, and ``FailedCreate`` / ``FailedDelete``
("Error creating: <err>", "Error deleting: <err>") on failure. A created pod's name is only known once the
apiserver has generated it, so the pod writes are ``framework.create_pod``/``delete_pod``, whose events the
runner records on the owner with the real name or error. For the same reason the ``ReplicaFailure``
condition cannot be *set* here (the failure is seen by the runner); this controller keeps one that is
present while the pod count still differs from ``spec.replicas`` and drops it once it matches.

Pure: no clock (``ctx.now``), no I/O; objects from the cache are never changed (copied first). Claiming is
``ownership``'s, the pod predicates ``framework``'s; ``status_patch`` is shared with the Deployment
controller. A sync costs what changed since the owner's last one: the claim and the counts the status is
made of are kept in step with the cache (``ownership.Claims``), with what each pod version says read once
(``_PodFacts``); ranking pods for deletion reads them all, as it must.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors.controllers import framework, ownership
from actors.controllers.framework import Action, Cache, Context, Obj, Patch, Result
from kube import errors, labels, meta

BURST_REPLICAS = 500
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
REPLICA_FAILURE = "ReplicaFailure"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
# Status fields Go writes even when zero (no ``omitempty``); every other zero int is left out.
_REQUIRED_STATUS_FIELDS = frozenset({"replicas"})


# -- pods ---------------------------------------------------------------------------------------------------


def _restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _template_labels(owner: Mapping[str, Any]) -> Mapping[str, str]:
    template = ((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return template.get("labels") or {}


def _is_ready(pod: Mapping[str, Any]) -> bool:
    """``framework.is_pod_ready`` without parsing the Ready condition's time (a status of every pod, every
    sync)."""
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


@dataclasses.dataclass(slots=True, kw_only=True)
class _PodFacts:
    """What a sync reads of a pod besides what claiming does (``ownership.View.extra``), for one version of
    the owner's selector and template labels."""

    active: bool  # framework.is_pod_active
    ready: bool  # framework.is_pod_ready
    matches: bool  # the owner's selector matches its labels
    fully_labeled: bool  # it has every label of the owner's template
    rankable: _Rankable | None = None  # read the first time pods are ranked for deletion


def _pod_facts(
    pod: Obj, *, template_labels: Mapping[str, str], selector: labels.Selector | None = None
) -> _PodFacts:
    pod_labels = meta.labels_of(pod)
    return _PodFacts(
        active=framework.is_pod_active(pod),
        ready=_is_ready(pod),
        matches=selector is not None and selector.matches(pod_labels),
        fully_labeled=all(pod_labels.get(k) == v for k, v in template_labels.items()),
    )


def _claimed_rankables(claims: ownership.Claims[_PodFacts]) -> list[_Rankable]:
    ranked = []
    for key in claims.claimed:
        v = claims.view(key)
        if v.extra.rankable is None:
            v.extra.rankable = _rankable(v.obj)
        ranked.append(v.extra.rankable)
    return ranked


def _tally(v: ownership.View[_PodFacts]) -> tuple[int, int]:
    return int(v.extra.fully_labeled), int(v.extra.ready)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Memo:
    """One owner's pods as its last sync claimed them, kept while what claiming reads of the owner stays."""

    selector: labels.Selector
    template_labels: Mapping[str, str]
    claims: ownership.Claims[_PodFacts]

    @classmethod
    def of(cls, owner: Mapping[str, Any], selector: labels.Selector) -> _Memo:
        template_labels = _template_labels(owner)
        facts = functools.partial(_pod_facts, template_labels=template_labels, selector=selector)
        claims = ownership.Claims(
            "pods",
            ownership.terms(owner, selector),
            facts,
            fits=lambda v: not selector.empty and v.extra.matches,
            eligible=lambda v: v.extra.active,
            tally=_tally,
        )
        return cls(selector=selector, template_labels=template_labels, claims=claims)

    def holds_for(self, owner: Mapping[str, Any], selector: labels.Selector) -> bool:
        return (
            self.selector == selector
            and self.template_labels == _template_labels(owner)
            and self.claims.terms == ownership.terms(owner, selector)
        )


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    try:
        return int(meta.annotations_of(pod).get(DELETION_COST, "0"))
    except ValueError:
        return 0


def _log_rank(t: float, now: float) -> int:
    """``logarithmicRankDiff``'s bucket: floor(log2(age in nanoseconds)), -1 for no age."""
    age = round((now - t) * 1e9)
    return int(math.log2(age)) if age > 0 else -1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Rankable:
    """What ``ActivePodsWithRanks.Less`` reads of a pod version, besides its rank and the time: read once."""

    pod: Obj
    node: str
    phase: int
    ready: bool
    since: float | None  # the Ready condition's lastTransitionTime
    cost: int
    uid: str
    restarts: int
    created: float | None


def _rankable(pod: Obj) -> _Rankable:
    ready, since = framework.ready_since(pod)
    return _Rankable(
        pod=pod,
        node=(pod.get("spec") or {}).get("nodeName") or "",
        phase=_PHASE_ORDINAL.get((pod.get("status") or {}).get("phase") or "", 0),
        ready=ready,
        since=since,
        cost=_deletion_cost(pod),
        uid=(pod.get("metadata") or {}).get("uid", ""),
        restarts=_restarts(pod),
        created=framework.parse_time((pod.get("metadata") or {}).get("creationTimestamp")),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Ranked:
    """A pod as one sync ranks it: with its rank (active pods of the owner's controller on its node) and its
    times' log2 buckets at the sync's time (0 when unset)."""

    of: _Rankable
    rank: int
    since_bucket: int
    created_bucket: int


def _ranked(of: _Rankable, rank: int, now: float) -> _Ranked:
    return _Ranked(
        of,
        rank,
        _log_rank(of.since, now) if of.since is not None else 0,
        _log_rank(of.created, now) if of.created is not None else 0,
    )


def _newer_first(t1: float | None, t2: float | None, b1: int, b2: int, uid1: str, uid2: str) -> int:
    """-1 when the first time sorts first: zero times first, then younger (by log2 bucket ``b``, uid
    tie-break)."""
    if t1 is None or t2 is None:
        return -1 if t1 is None else 1  # afterOrZero: the zero time is "after" any other
    diff = b1 - b2
    if diff == 0:
        return -1 if uid1 < uid2 else (1 if uid1 > uid2 else 0)
    return -1 if diff < 0 else 1


def _compare_for_deletion(x: _Ranked, y: _Ranked) -> int:
    """``ActivePodsWithRanks.Less`` as a comparison: negative when ``x`` should be deleted first."""
    a, b = x.of, y.of
    if a.node != b.node and (not a.node or not b.node):
        return -1 if not a.node else 1
    if a.phase != b.phase:
        return -1 if a.phase < b.phase else 1
    if a.ready != b.ready:
        return -1 if not a.ready else 1
    if a.cost != b.cost:
        return -1 if a.cost < b.cost else 1
    if x.rank != y.rank:
        return -1 if x.rank > y.rank else 1
    if a.ready and b.ready and a.since != b.since:
        order = _newer_first(a.since, b.since, x.since_bucket, y.since_bucket, a.uid, b.uid)
        if order:
            return order
    if a.restarts != b.restarts:
        return -1 if a.restarts > b.restarts else 1
    if a.created != b.created:
        return _newer_first(a.created, b.created, x.created_bucket, y.created_bucket, a.uid, b.uid)
    return 0


def pods_to_delete(pods: list[Obj], related: Iterable[Obj], count: int, now: float) -> list[Obj]:
    """``getPodsToDelete``: the ``count`` pods to remove first; each pod's rank is the number of active
    ``related`` pods (every pod of the owner's controller) on its node."""
    if count >= len(pods):
        return pods[:count]
    return _to_delete([_rankable(pod) for pod in pods], related, count, now)


def _to_delete(pods: list[_Rankable], related: Iterable[Obj], count: int, now: float) -> list[Obj]:
    """``pods_to_delete`` of pods read already."""
    if count >= len(pods):
        return [r.pod for r in pods[:count]]
    on_node: dict[str, int] = {}
    for pod in related:
        if framework.is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [_ranked(r, on_node.get(r.node, 0), now) for r in pods]
    ranked.sort(key=functools.cmp_to_key(_compare_for_deletion))
    return [r.of.pod for r in ranked[:count]]


def pod_from_template(owner: Mapping[str, Any], controller_ref: Obj) -> Obj:
    """``GetPodFromTemplate``: a pod to create for ``owner`` from its ``spec.template``."""
    template = (owner.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    md = owner.get("metadata") or {}
    pod_meta: Obj = {
        "generateName": f"{md.get('name', '')}-",
        "namespace": md.get("namespace") or "",
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [dict(controller_ref)],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        pod_meta["finalizers"] = list(tmeta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": meta.deep_copy(template.get("spec") or {}),
    }


# -- status --------------------------------------------------------------------------------------------------


def normalized_status(status: Mapping[str, Any] | None, required: frozenset[str] = frozenset()) -> Obj:
    """A status as Go serialises it: zero ints and empty lists left out (``omitempty``) unless required."""
    out: Obj = {}
    for key, value in (status or {}).items():
        if value is None or (key not in required and (value == 0 or value == []) and type(value) is not bool):
            continue
        out[key] = value
    for key in required:
        out.setdefault(key, 0)
    return out


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Obj:
    """The merge patch that turns status ``old`` into ``new`` (removed fields set to null); {} when equal."""
    old = old or {}
    patch: Obj = {key: value for key, value in new.items() if old.get(key) != value}
    patch.update({key: None for key in old if key not in new})
    return patch


def replica_failure(reason: str, message: str, now: float) -> Obj:
    """The ``ReplicaFailure`` condition upstream sets when creating (``FailedCreate``) or deleting
    (``FailedDelete``) pods failed: for a runner that reports a failed sync on the owner."""
    return {
        "type": REPLICA_FAILURE,
        "status": "True",
        "lastTransitionTime": meta.now_rfc3339(now),
        "reason": reason,
        "message": message,
    }


def calculate_status(owner: Mapping[str, Any], pods: list[Obj], now: float) -> tuple[Obj, float | None]:
    """``calculateStatus``: the owner's new status from its claimed active pods, and the earliest time a
    ready pod becomes available (``None`` when no pod is waiting out ``minReadySeconds``)."""
    min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
    template_labels = _template_labels(owner)
    fully_labeled = ready = available = 0
    next_available: float | None = None
    for pod in pods:
        pod_labels = meta.labels_of(pod)
        if all(pod_labels.get(k) == v for k, v in template_labels.items()):
            fully_labeled += 1
        if min_ready <= 0:  # available_at without reading the transition time it would not use
            at = -math.inf if _is_ready(pod) else None
        else:
            at = framework.available_at(pod, min_ready)
        if at is None:
            continue
        ready += 1
        if at == -math.inf or at < now:
            available += 1
        elif at != math.inf:
            next_available = at if next_available is None else min(next_available, at)
    return status_of(owner, len(pods), fully_labeled, ready, available), next_available


def status_of(owner: Mapping[str, Any], replicas: int, fully_labeled: int, ready: int, available: int) -> Obj:
    """The status ``calculate_status`` writes, from its counts of the claimed active pods."""
    conditions = list((owner.get("status") or {}).get("conditions") or ())
    if replicas == int((owner.get("spec") or {}).get("replicas", 1)):
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    status: Obj = {
        "replicas": replicas,
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": int((owner.get("metadata") or {}).get("generation") or 0),
        "conditions": conditions,
    }
    return normalized_status(status, _REQUIRED_STATUS_FIELDS)


# -- the controllers -----------------------------------------------------------------------------------------


class ReplicaManager:
    """The shared core; ``ReplicaSetController`` and ``ReplicationManager`` only name their kind."""

    name: str = ""
    resource: str = ""
    kind: str = ""
    api_version: str = ""
    watches: tuple[str, ...] = ()

    def __init__(self, *, burst_replicas: int = BURST_REPLICAS) -> None:
        self.burst_replicas = burst_replicas
        self._memos: dict[str, _Memo] = {}  # owner key -> what its last sync read of each candidate pod

    # -- event handlers --------------------------------------------------------------------------------------

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        """The owner itself; for a pod, its controller (and its former one), or for an orphan every owner
        of its namespace whose selector matches it (on add, or when its labels or controller changed)."""
        if resource == self.resource:
            return [framework.key_of(obj)]
        if resource != "pods":
            return []
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        keys: list[str] = []
        current = meta.controller_of(obj)
        previous = meta.controller_of(old) if old is not None else None
        if previous is not None and previous != current:
            keys.extend(self._resolve(namespace, previous, cache))
        if current is not None:
            keys.extend(self._resolve(namespace, current, cache))
            return list(dict.fromkeys(keys))
        if old is None or meta.labels_of(old) != meta.labels_of(obj) or previous is not None:
            pod_labels = meta.labels_of(obj)
            for owner in cache.objects(self.resource, namespace):
                selector = self._selector(owner)
                if selector is not None and selector.matches(pod_labels):
                    keys.append(framework.key_of(owner))
        return list(dict.fromkeys(keys))

    def _resolve(self, namespace: str, ref: meta.OwnerReference, cache: Cache) -> list[str]:
        if ref.kind != self.kind:
            return []
        owner = cache.get(self.resource, namespace or None, ref.name)
        if owner is None or (owner.get("metadata") or {}).get("uid") != ref.uid:
            return []
        return [framework.key_of(owner)]

    @staticmethod
    def _selector(owner: Mapping[str, Any]) -> labels.Selector | None:
        """The owner's selector; ``None`` for an empty or invalid one, which must select nothing."""
        try:
            selector = framework.selector_of(owner)
        except errors.SelectorError:
            return None
        return None if selector.empty or selector.nothing else selector

    # -- sync ----------------------------------------------------------------------------------------------

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result:
        namespace, name = framework.split_key(key)
        owner = cache.get(self.resource, namespace, name)
        selector = self._selector(owner) if owner is not None else None
        if owner is None or selector is None:
            self._memos.pop(key, None)
            return Result()
        md = owner.get("metadata") or {}
        ref = ownership.controller_ref(owner, api_version=self.api_version, kind=self.kind)
        memo = self._memos.get(key)
        if memo is None or not memo.holds_for(owner, selector):
            memo = self._memos[key] = _Memo.of(owner, selector)
        claims = memo.claims
        claims.sync(cache, owner, selector)
        actions = claims.actions(ref)
        if ctx.pending.satisfied and not framework.is_terminating(owner):
            pods = functools.partial(_claimed_rankables, claims)
            actions.extend(self._manage_replicas(owner, ref, len(claims.claimed), pods, cache, ctx.now))
        if int((owner.get("spec") or {}).get("minReadySeconds") or 0) > 0:
            status, next_available = calculate_status(owner, claims.objects(), ctx.now)
        else:  # every ready pod is available: the counts kept with the claims are the status
            fully_labeled, ready = claims.totals or (0, 0)
            status, next_available = status_of(owner, len(claims.claimed), fully_labeled, ready, ready), None
        stored = owner.get("status") or {}
        before = normalized_status(stored, _REQUIRED_STATUS_FIELDS)
        for field in _REQUIRED_STATUS_FIELDS - stored.keys():
            before.pop(field)  # never written yet: write it, as Go always serialises it
        patch = status_patch(before, status)
        if patch:
            body: Obj = {"status": patch}
            if md.get("resourceVersion"):
                body["metadata"] = {"resourceVersion": md["resourceVersion"]}
            actions.append(
                Patch(
                    resource=self.resource, namespace=namespace, name=name, patch=body, subresource="status"
                )
            )
        # Upstream adds a second to a minReadySeconds wait against clock skew; so do we.
        requeue = None if next_available is None else max(next_available - ctx.now, 0.0) + 1.0
        return Result(actions=actions, requeue_after=requeue)

    def _manage_replicas(
        self,
        owner: Obj,
        ref: Obj,
        claimed: int,
        pods: Callable[[], list[_Rankable]],
        cache: Cache,
        now: float,
    ) -> list[Action]:
        """``manageReplicas``: create the missing pods or delete the surplus, ``burst_replicas`` at most,
        through ``RealPodControl`` (its events on the owner). ``claimed`` pods are the owner's (``pods()``
        lists them)."""
        diff = claimed - int((owner.get("spec") or {}).get("replicas", 1))
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            return [framework.create_pod(owner, pod_from_template(owner, ref)) for _ in range(count)]
        if diff > 0:
            count = min(diff, self.burst_replicas)
            doomed = _to_delete(pods(), self._related_pods(owner, cache), count, now)
            return [framework.delete_pod(owner, pod) for pod in doomed]
        return []

    def _related_pods(self, owner: Mapping[str, Any], cache: Cache) -> list[Obj]:
        """``getIndirectlyRelatedPods``: the pods of every owner that shares this one's controller."""
        parent = meta.controller_of(owner)
        if parent is None:
            return []
        related: dict[str, Obj] = {}
        for sibling in cache.by_index(self.resource, framework.OWNER, parent.uid):
            sibling_parent = meta.controller_of(sibling)
            selector = self._selector(sibling)
            if sibling_parent is None or sibling_parent.uid != parent.uid or selector is None:
                continue
            namespace = (sibling.get("metadata") or {}).get("namespace") or ""
            for pod in cache.objects("pods", namespace):
                if selector.matches(meta.labels_of(pod)):
                    related.setdefault((pod.get("metadata") or {}).get("uid") or framework.key_of(pod), pod)
        return list(related.values())


class ReplicaSetController(ReplicaManager):
    """apps/v1 ReplicaSets (``kube-controller-manager``'s ``replicaset-controller``)."""

    name: str = "replicaset-controller"
    resource: str = "replicasets"
    kind: str = "ReplicaSet"
    api_version: str = "apps/v1"
    watches: tuple[str, ...] = ("replicasets", "pods")


class ReplicationManager(ReplicaManager):
    """v1 ReplicationControllers: the same core; events come from ``replication-controller``."""

    name: str = "replication-controller"
    resource: str = "replicationcontrollers"
    kind: str = "ReplicationController"
    api_version: str = "v1"
    watches: tuple[str, ...] = ("replicationcontrollers", "pods")
