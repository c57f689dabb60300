"""The Deployment controller: roll a Deployment's pod template out through ReplicaSets.

As upstream's ``pkg/controller/deployment`` (``syncDeployment`` and the files beside it), for one key:

- the ReplicaSets of the namespace are claimed through the Deployment's selector and their controller
  ownerReferences (orphans that match are adopted, owned ones that stopped matching are released);
- the new ReplicaSet is the one whose template equals the Deployment's (``pod-template-hash`` aside); when
  there is none the sync creates ``<name>-<hash>`` with the hash in its labels, selector and template, the
  next ``deployment.kubernetes.io/revision`` and the ``desired-replicas``/``max-replicas`` annotations.
  Rolling back is ``kubectl rollout undo`` writing an old ReplicaSet's template into the Deployment (client
  side, as upstream's kubectl does): the controller then finds that ReplicaSet as the new one and moves its
  revision to the top (``revision-history`` keeps the old numbers). ``kubectl rollout restart`` is a
  template annotation, hence a new template. The pre-apps/v1 ``rollbackTo`` field
  (``deprecated.deployment.rollback.to``) is not served by kubemu, so it is ignored;
- a Deployment being deleted only reports status; a paused one, or one whose size changed (a scaling event:
  an active ReplicaSet's ``desired-replicas`` differs from ``spec.replicas``), is scaled (proportionally
  across ReplicaSets mid-rollout) without the rollout moving; otherwise ``Recreate`` (old ReplicaSets to 0,
  wait until none of their pods runs, then the new one to full size) or ``RollingUpdate`` (new ReplicaSet up
  to ``replicas + maxSurge`` pods in all, old ones down while at least ``replicas - maxUnavailable`` stay
  available, unhealthy old replicas first);
- history past ``revisionHistoryLimit`` is deleted (empty old ReplicaSets, lowest revision first) once a
  rollout is complete;
- the status (counts, ``collisionCount``, conditions ``Available``, ``Progressing``, ``ReplicaFailure``) is
  written when it changed; ``Progressing`` turns ``ProgressDeadlineExceeded`` when no progress was seen
  for ``progressDeadlineSeconds`` of cluster time, and the key asks to be looked at again then.

A failed ReplicaSet create is recorded by the runner as upstream records it, a Warning event
``ReplicaSetCreateError`` "Failed to create new replica set "<name>": <err>" (the create's ``on_failure``);
the ``Progressing`` False condition upstream also sets then is not (the failure is the runner's to see).
An ``AlreadyExists`` on that create is not announced and only needs the key retried (the next sync sees
the ReplicaSet, or records a hash collision).

Pure: time is ``ctx.now``; nothing read from the cache is changed. This module picks the strategy and
holds them (``rolling.go``, ``recreate.go``, the scaling and clean-up of ``sync.go``); the planning state, the
writes it turns into and the status logic live in ``deployment_rollout``, the arithmetic in
``deployment_util``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from actors.controllers import deployment_rollout as rollout
from actors.controllers import deployment_util as util
from actors.controllers import framework, ownership
from actors.controllers.framework import Cache, Context, Event, Obj, Patch, Result
from kube import errors, labels, meta


class DeploymentController:
    name: str = "deployment-controller"
    resource: str = "deployments"
    kind: str = "Deployment"
    watches: tuple[str, ...] = ("deployments", "replicasets", "pods")

    # -- event handlers --------------------------------------------------------------------------------------

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        """The Deployment itself; for a ReplicaSet its controller (and former one), or for an orphan every
        Deployment of the namespace that selects it; for a pod going away, the Recreate Deployment that
        may be waiting for its old pods to be gone."""
        if resource == self.resource:
            return [framework.key_of(obj)]
        if resource == "replicasets":
            return self._keys_for_replica_set(obj, old, cache)
        if resource == "pods":
            return self._keys_for_pod(obj, cache)
        return []

    def _keys_for_replica_set(self, rs: Obj, old: Obj | None, cache: Cache) -> list[str]:
        namespace = (rs.get("metadata") or {}).get("namespace") or ""
        current = meta.controller_of(rs)
        previous = meta.controller_of(old) if old is not None else None
        keys: list[str] = []
        if previous is not None and previous != current:
            keys.extend(self._resolve(namespace, previous, cache))
        if current is not None:
            keys.extend(self._resolve(namespace, current, cache))
        elif old is None or meta.labels_of(old) != meta.labels_of(rs) or previous is not None:
            rs_labels = meta.labels_of(rs)
            for d in cache.objects(self.resource, namespace):
                selector = _selector(d)
                if selector is not None and selector.matches(rs_labels):
                    keys.append(framework.key_of(d))
        return list(dict.fromkeys(keys))

    def _keys_for_pod(self, pod: Obj, cache: Cache) -> list[str]:
        md = pod.get("metadata") or {}
        namespace = md.get("namespace") or ""
        gone = cache.get("pods", namespace or None, md.get("name", "")) is None
        if not (gone or not framework.is_pod_active(pod)):
            return []
        ref = meta.controller_of(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return []
        rs = cache.get("replicasets", namespace or None, ref.name)
        if rs is None or (rs.get("metadata") or {}).get("uid") != ref.uid:
            return []
        parent = meta.controller_of(rs)
        if parent is None:
            return []
        for key in self._resolve(namespace, parent, cache):
            d = cache.get(self.resource, namespace or None, framework.split_key(key)[1])
            if d is not None and util.strategy_type(d) == "Recreate":
                return [key]
        return []

    def _resolve(self, namespace: str, ref: meta.OwnerReference, cache: Cache) -> list[str]:
        if ref.kind != self.kind:
            return []
        d = cache.get(self.resource, namespace or None, ref.name)
        if d is None or (d.get("metadata") or {}).get("uid") != ref.uid:
            return []
        return [framework.key_of(d)]

    # -- sync ----------------------------------------------------------------------------------------------

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result:
        namespace, name = framework.split_key(key)
        d = cache.get(self.resource, namespace, name)
        if d is None:
            return Result()
        raw = (d.get("spec") or {}).get("selector") or {}
        if not (raw.get("matchLabels") or raw.get("matchExpressions")):
            return _selecting_all(d)
        selector = _selector(d)
        if selector is None:
            return Result()  # an invalid selector: upstream logs and gives up on the key
        all_rss = cache.objects("replicasets", namespace)
        ref = ownership.controller_ref(d, api_version="apps/v1", kind="Deployment")
        claimed = ownership.claim(d, ref, selector, "replicasets", all_rss)
        rss, claims = claimed.objects, claimed.actions
        adopted = frozenset(_name(rs) for rs in rss if meta.controller_of(rs) is None)
        taken = frozenset(_name(rs) for rs in all_rss)
        s = rollout.Sync(d, rss, ctx.now, taken=taken, adopted=adopted)
        if framework.is_terminating(d):
            _status_only(s)
        else:
            rollout.check_paused_conditions(s)
            if (d.get("spec") or {}).get("paused") or _is_scaling_event(s):
                _scale_only(s)
            elif util.strategy_type(d) == "Recreate":
                _recreate(s, _pods_by_replica_set(d, selector, rss, cache))
            else:
                _rolling(s)
        return Result(actions=[*claims, *s.actions()], requeue_after=s.requeue_after)


# -- the strategies (rolling.go, recreate.go, sync.go) -------------------------------------------------------


def _rolling(s: rollout.Sync) -> None:
    """``rolloutRolling``: scale the new ReplicaSet up, else the old ones down, else clean up history."""
    new_rs, old, ok = s.new_and_old(create=True)
    if not ok or new_rs is None:
        return
    all_rss: list[Obj | None] = [*old, new_rs]
    if _reconcile_new(s, all_rss, new_rs) or _reconcile_old(s, all_rss, util.active(old), new_rs):
        rollout.rollout_status(s, all_rss, new_rs)
        return
    if util.deployment_complete(s.d, s.status):
        _cleanup(s, old)
    rollout.rollout_status(s, all_rss, new_rs)


def _reconcile_new(s: rollout.Sync, all_rss: list[Obj | None], new_rs: Obj) -> bool:
    want = util.replicas(s.d)
    if util.replicas(new_rs) == want:
        return False
    if util.replicas(new_rs) > want:
        return s.scale(new_rs, want)
    return s.scale(new_rs, util.new_rs_new_replicas(s.d, all_rss, new_rs))


def _reconcile_old(s: rollout.Sync, all_rss: list[Obj | None], old: list[Obj], new_rs: Obj) -> bool:
    """``reconcileOldReplicaSets``: never below ``replicas - maxUnavailable`` available, counting the new
    ReplicaSet's unavailable pods against what may go; unhealthy old replicas go first."""
    if util.total_replicas(old) == 0:
        return False
    min_available = util.replicas(s.d) - util.max_unavailable(s.d)
    new_unavailable = util.replicas(new_rs) - util.status_int(new_rs, "availableReplicas")
    max_scaled_down = util.total_replicas(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    cleaned = _cleanup_unhealthy(s, old, max_scaled_down)
    if cleaned is None:
        return False  # upstream gives up this sync when an old ReplicaSet has more available than wanted
    return cleaned + _scale_down_old(s, [*old, new_rs], old) > 0


def _cleanup_unhealthy(s: rollout.Sync, old: list[Obj], max_cleanup: int) -> int | None:
    old.sort(key=util.by_creation)
    total = 0
    for rs in old:
        if total >= max_cleanup:
            break
        available = util.status_int(rs, "availableReplicas")
        if util.replicas(rs) == 0 or util.replicas(rs) == available:
            continue
        count = min(max_cleanup - total, util.replicas(rs) - available)
        if count < 0:
            return None
        s.scale(rs, util.replicas(rs) - count)
        total += count
    return total


def _scale_down_old(s: rollout.Sync, all_rss: list[Obj], old: list[Obj]) -> int:
    min_available = util.replicas(s.d) - util.max_unavailable(s.d)
    available = util.total_status(all_rss, "availableReplicas")
    if available <= min_available:
        return 0
    old.sort(key=util.by_creation)
    total, wanted = 0, available - min_available
    for rs in old:
        if total >= wanted:
            break
        if util.replicas(rs) == 0:
            continue
        count = min(util.replicas(rs), wanted - total)
        s.scale(rs, util.replicas(rs) - count)
        total += count
    return total


def _recreate(s: rollout.Sync, pods_by_rs: Mapping[str, list[Obj]]) -> None:
    """``rolloutRecreate``: old ReplicaSets to zero, wait until none of their pods runs, then the new one."""
    new_rs, old, _ = s.new_and_old(create=False)
    all_rss: list[Obj | None] = [*old, new_rs]
    scaled = False
    for rs in util.active(old):
        scaled = s.scale(rs, 0) or scaled
    if scaled or _old_pods_running(new_rs, old, pods_by_rs):
        rollout.rollout_status(s, all_rss, new_rs)
        return
    if new_rs is None:
        new_rs, old, ok = s.new_and_old(create=True)
        if not ok or new_rs is None:
            return
        all_rss = [*old, new_rs]
    s.scale(new_rs, util.replicas(s.d))
    if util.deployment_complete(s.d, s.status):
        _cleanup(s, old)
    rollout.rollout_status(s, all_rss, new_rs)


def _old_pods_running(new_rs: Obj | None, old: list[Obj], pods_by_rs: Mapping[str, list[Obj]]) -> bool:
    if util.total_status(old, "replicas") > 0:
        return True
    new_uid = (new_rs.get("metadata") or {}).get("uid") if new_rs is not None else None
    for uid, pods in pods_by_rs.items():
        if uid == new_uid:
            continue
        # Terminating pods count: Recreate waits until the old ones are gone, Unknown ones included.
        if any((pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded") for pod in pods):
            return True
    return False


def _scale_only(s: rollout.Sync) -> None:
    """``sync``: a paused Deployment or a scaling event; sizes change, the rollout does not move."""
    new_rs, old, _ = s.new_and_old(create=False)
    _scale(s, new_rs, old)
    if (s.d.get("spec") or {}).get("paused"):
        _cleanup(s, old)
    rollout.deployment_status(s, [*old, new_rs], new_rs)


def _status_only(s: rollout.Sync) -> None:
    """``syncStatusOnly``: a Deployment being deleted only reports."""
    new_rs, old, _ = s.new_and_old(create=False)
    rollout.deployment_status(s, [*old, new_rs], new_rs)


def _scale(s: rollout.Sync, new_rs: Obj | None, old: list[Obj]) -> None:
    """``scale``: one active ReplicaSet takes the whole size; a saturated new one empties the old ones;
    otherwise (RollingUpdate) the difference is spread in proportion to the sizes, leftovers to the first."""
    want = util.replicas(s.d)
    only = _active_or_latest(new_rs, old)
    if only is not None:
        if util.replicas(only) != want:
            s.scale(only, want)
        return
    if util.is_saturated(s.d, new_rs):
        for rs in util.active(old):
            s.scale(rs, 0)
        return
    if not util.is_rolling_update(s.d):
        return
    rss = util.active([*old, new_rs])
    allowed = want + util.max_surge(s.d) if want > 0 else 0
    to_add = allowed - util.total_replicas(rss)
    if to_add > 0:
        rss = util.sorted_by_size_newer(rss)
    elif to_add < 0:
        rss.sort(key=util.by_size_older)
    added = 0
    sizes: list[int] = []
    for rs in rss:
        share = util.proportion(rs, s.d, to_add, added) if to_add else 0
        sizes.append(util.replicas(rs) + share)
        added += share
    for i, rs in enumerate(rss):
        size = max(sizes[i] + (to_add - added), 0) if i == 0 and to_add else sizes[i]
        s.set_size(rs, size)


def _active_or_latest(new_rs: Obj | None, old: list[Obj]) -> Obj | None:
    """``FindActiveOrLatest``: the only active ReplicaSet, or the newest when none is active."""
    if new_rs is None and not old:
        return None
    newest_first = sorted(old, key=util.by_creation, reverse=True)
    rss = util.active([*newest_first, new_rs])
    if not rss:
        return new_rs if new_rs is not None else newest_first[0]
    return rss[0] if len(rss) == 1 else None


def _cleanup(s: rollout.Sync, old: list[Obj]) -> None:
    """``cleanupDeployment``: delete the oldest revisions past ``revisionHistoryLimit`` that are empty,
    settled (observedGeneration caught up) and not already going."""
    limit = util.revision_history_limit(s.d)
    if limit is None:
        return
    cleanable = [rs for rs in old if not framework.is_terminating(rs)]
    for rs in util.sorted_by_revision(cleanable)[: max(len(cleanable) - limit, 0)]:
        md = rs.get("metadata") or {}
        settled = int(md.get("generation") or 0) <= util.status_int(rs, "observedGeneration")
        if (
            util.status_int(rs, "replicas") == 0
            and s.cached_replicas(rs) == 0
            and util.replicas(rs) == 0
            and settled
        ):
            s.deleted.append(rs)


def _selector(d: Mapping[str, Any]) -> labels.Selector | None:
    """The Deployment's selector; ``None`` for an empty or invalid one (which selects nothing)."""
    try:
        selector = framework.selector_of(d)
    except errors.SelectorError:
        return None
    return None if selector.empty or selector.nothing else selector


def _selecting_all(d: Obj) -> Result:
    """An empty selector would take every pod of the namespace: upstream refuses, says so, and only
    records that it saw the generation."""
    md = d.get("metadata") or {}
    event = Event(
        obj=d,
        type="Warning",
        reason="SelectingAll",
        message="This deployment is selecting all pods. A non-empty selector is required.",
    )
    actions: list[Any] = [event]
    generation = int(md.get("generation") or 0)
    if util.status_int(d, "observedGeneration") < generation:
        body: Obj = {"status": {"observedGeneration": generation}}
        if md.get("resourceVersion"):
            body["metadata"] = {"resourceVersion": md["resourceVersion"]}
        patch = Patch(
            resource="deployments",
            namespace=md.get("namespace") or None,
            name=md.get("name", ""),
            patch=body,
            subresource="status",
        )
        actions.insert(0, patch)
    return Result(actions=actions)


def _is_scaling_event(s: rollout.Sync) -> bool:
    """``isScalingEvent``: an active ReplicaSet was sized for another ``spec.replicas``."""
    new_rs, old, _ = s.new_and_old(create=False)
    want = util.replicas(s.d)
    for rs in util.active([*old, new_rs]):
        desired = util.int_annotation(rs, util.DESIRED_REPLICAS)
        if desired is not None and desired != want:
            return True
    return False


def _pods_by_replica_set(
    d: Obj, selector: labels.Selector, rss: list[Obj], cache: Cache
) -> dict[str, list[Obj]]:
    """``getPodMapForDeployment``: the Deployment's pods by the uid of the ReplicaSet controlling them."""
    namespace = (d.get("metadata") or {}).get("namespace") or ""
    by_uid: dict[str, list[Obj]] = {}
    for rs in rss:
        uid = (rs.get("metadata") or {}).get("uid", "")
        by_uid[uid] = [
            pod
            for pod in cache.by_index("pods", framework.OWNER, uid)
            if (ref := meta.controller_of(pod)) is not None
            and ref.uid == uid
            and (pod.get("metadata") or {}).get("namespace", "") == namespace
            and selector.matches(meta.labels_of(pod))
        ]
    return by_uid


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
