"""One Deployment sync as upstream's ``sync.go``, ``rolling.go``, ``recreate.go`` and ``progress.go`` do it,
planned against private copies and turned into actions at the end.

Upstream writes as it goes (create the new ReplicaSet, update a size, update the status several times) and
keeps using what each write returned. ``Sync`` does the same against copies: every ReplicaSet the sync looks
at is a private copy that the steps change in place, the Deployment's status and revision annotation are
changed on a private copy of the Deployment, and ``actions()`` then emits at most one write per object:

1. the ReplicaSet to create (named ``<deployment>-<pod-template-hash>``, so a retried create is idempotent;
   the runner records ``ReplicaSetCreateError`` on the Deployment if it fails),
2. one merge patch per changed ReplicaSet (``spec.replicas``, ``spec.minReadySeconds``, annotations),
   guarded by the cached ``resourceVersion`` like upstream's ``Update``: a stale cache is a conflict and
   the key is retried from fresh data,
3. the history deletions (``revisionHistoryLimit``), with a uid precondition,
4. the Deployment's status (one patch of the status subresource, guarded the same way) and, separately,
   its ``deployment.kubernetes.io/revision`` annotation (kubemu's status subresource keeps metadata, so the
   annotation upstream writes along with the status is a patch of the main resource here),
5. the ``ScalingReplicaSet`` events, last, so that a write that fails (the runner stops at the first
   failure and retries the key) is not announced.

Besides ``Sync`` this module holds the status side of a sync (``progress.go``): the counts and the
``Available`` condition, ``Progressing`` against the deadline (and when to look again), ``ReplicaFailure``
copied up from the ReplicaSets, and the paused/resumed conditions. The strategies that move ReplicaSets
live in ``deployment``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.controllers import deployment_util as util
from actors.controllers import history, ownership, replicaset
from actors.controllers.framework import Action, Create, Delete, Event, EventTemplate, Obj, Patch
from kube import errors, meta

# ``getNewReplicaSet``'s Warning when the create fails (an ``AlreadyExists`` is no failure: a name taken by
# another template is a hash collision, found on the next sync).
RS_CREATE_FAILED = EventTemplate(
    type="Warning", reason=util.FAILED_RS_CREATE, message='Failed to create new replica set "{name}": {error}'
)
_NO_REQUIRED: frozenset[str] = (
    frozenset()
)  # every DeploymentStatus int is omitempty (collisionCount: a pointer)


class Sync:
    """The state of one sync: the Deployment's copy, its ReplicaSets' copies, and what was done to them.

    ``rss`` are the ReplicaSets the Deployment controls (after adoption); ``taken`` the names of every
    ReplicaSet of the namespace (a new one's name being taken is a hash collision); ``adopted`` those
    adopted this very sync, whose size patch therefore goes without a ``resourceVersion`` guard.
    """

    def __init__(
        self,
        d: Obj,
        rss: list[Obj],
        now: float,
        *,
        taken: frozenset[str] = frozenset(),
        adopted: frozenset[str] = frozenset(),
    ) -> None:
        self.original = d
        self.d = _copy(d)
        if not isinstance(self.d.get("status"), dict):
            self.d["status"] = {}
        self.now = now
        self.rss = [_copy(rs) for rs in rss]
        self._cached = {_name(rs): rs for rs in rss}
        self._taken = taken
        self._adopted = adopted
        self.created: Obj | None = None
        self.deleted: list[Obj] = []
        self.events: list[Event] = []
        self.requeue_after: float | None = None

    @property
    def status(self) -> Obj:
        status: Obj = self.d["status"]
        return status

    # -- the ReplicaSets -------------------------------------------------------------------------------------

    def new_and_old(self, *, create: bool) -> tuple[Obj | None, list[Obj], bool]:
        """``getAllReplicaSetsAndSyncRevision``: the new ReplicaSet (created when asked and missing) and the
        old ones. The flag is False when the sync must stop (a hash collision was recorded)."""
        new_rs = self.created or util.find_new_replica_set(self.d, self.rss)
        old = [rs for rs in self.rss if rs is not new_rs]
        if new_rs is self.created and new_rs is not None:
            return new_rs, old, True
        new_revision = util.max_revision(old) + 1
        if new_rs is not None:
            changed = util.set_new_replica_set_annotations(self.d, new_rs, new_revision, exists=True)
            min_ready = (self.d.get("spec") or {}).get("minReadySeconds") or 0
            if changed or ((new_rs.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
                new_rs.setdefault("spec", {})["minReadySeconds"] = min_ready
                return new_rs, old, True  # as upstream: the Deployment's revision follows on the next sync
            self._set_revision(util.meta_annotation(new_rs, util.REVISION) or "")
            if (
                util.progress_deadline(self.d) is not None
                and util.get_condition(self.status, util.PROGRESSING) is None
            ):
                message = f'Found new replica set "{_name(new_rs)}"'
                condition = util.new_condition(util.PROGRESSING, "True", util.FOUND_NEW_RS, message, self.now)
                util.set_condition(self.status, condition)
            return new_rs, old, True
        if not create:
            return None, old, True
        return self._create_new(old, new_revision)

    def _create_new(self, old: list[Obj], new_revision: int) -> tuple[Obj | None, list[Obj], bool]:
        spec = self.d.get("spec") or {}
        collision = self.status.get("collisionCount")
        template = _copy(spec.get("template") or {})
        pod_hash = history.compute_hash(template, collision)
        template_meta = template.setdefault("metadata", {})
        template_meta["labels"] = {**(template_meta.get("labels") or {}), util.POD_TEMPLATE_HASH: pod_hash}
        selector = _copy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), util.POD_TEMPLATE_HASH: pod_hash}
        md = self.d.get("metadata") or {}
        name = f"{md.get('name', '')}-{pod_hash}"
        if name in self._taken:
            # Another ReplicaSet (not this template's) has the name: upstream bumps collisionCount, which
            # changes the hash, and tries again on the next sync.
            self.status["collisionCount"] = int(collision or 0) + 1
            return None, old, False
        new_rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": md.get("namespace") or "",
                "labels": dict(template_meta["labels"]),
                "ownerReferences": [
                    ownership.controller_ref(self.d, api_version="apps/v1", kind="Deployment")
                ],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": spec.get("minReadySeconds") or 0,
                "selector": selector,
            },
        }
        new_rs["spec"]["template"] = template
        new_rs["spec"]["replicas"] = util.new_rs_new_replicas(self.d, [*old, new_rs], new_rs)
        util.set_new_replica_set_annotations(self.d, new_rs, new_revision, exists=False)
        self.created = new_rs
        self.rss.append(new_rs)
        if util.replicas(new_rs) > 0:
            self._event(f"Scaled up replica set {name} from 0 to {util.replicas(new_rs)}")
        self._set_revision(str(new_revision))
        if util.progress_deadline(self.d) is not None:
            message = f'Created new replica set "{name}"'
            condition = util.new_condition(util.PROGRESSING, "True", util.NEW_REPLICA_SET, message, self.now)
            util.set_condition(self.status, condition)
        return new_rs, old, True

    def scale(self, rs: Obj, new_scale: int) -> bool:
        """``scaleReplicaSetAndRecordEvent``: nothing at all when the size is already right."""
        return util.replicas(rs) != new_scale and self.set_size(rs, new_scale)

    def set_size(self, rs: Obj, new_scale: int) -> bool:
        """``scaleReplicaSet``: the size and the replica annotations; an event when the size changed."""
        old_scale = util.replicas(rs)
        desired, maximum = util.replicas(self.d), util.replicas(self.d) + util.max_surge(self.d)
        if old_scale != new_scale or util.replicas_annotations_need_update(rs, desired, maximum):
            rs.setdefault("spec", {})["replicas"] = new_scale
            util.set_replicas_annotations(rs, desired, maximum)
            if old_scale != new_scale:
                direction = "up" if old_scale < new_scale else "down"
                self._event(f"Scaled {direction} replica set {_name(rs)} from {old_scale} to {new_scale}")
        return old_scale != new_scale

    def cached_replicas(self, rs: Obj) -> int:
        cached = self._cached.get(_name(rs))
        return util.replicas(cached if cached is not None else rs)

    # -- the Deployment --------------------------------------------------------------------------------------

    def _set_revision(self, value: str) -> None:
        md = self.d.setdefault("metadata", {})
        if not isinstance(md.get("annotations"), dict):
            md["annotations"] = {}
        md["annotations"][util.REVISION] = value

    def _event(self, message: str) -> None:
        self.events.append(
            Event(obj=self.original, type="Normal", reason="ScalingReplicaSet", message=message)
        )

    # -- the writes ------------------------------------------------------------------------------------------

    def actions(self) -> list[Action]:
        actions: list[Action] = []
        namespace = (self.original.get("metadata") or {}).get("namespace") or None
        if self.created is not None:
            actions.append(
                Create(
                    resource="replicasets",
                    namespace=namespace,
                    body=self.created,
                    owner=self.original,
                    on_failure=RS_CREATE_FAILED,
                )
            )
        deleted = {_name(rs) for rs in self.deleted}
        for rs in self.rss:
            cached = self._cached.get(_name(rs))
            patch = _rs_patch(cached, rs) if cached is not None and _name(rs) not in deleted else {}
            if cached is not None and patch:
                rv = (cached.get("metadata") or {}).get("resourceVersion")
                if rv and _name(rs) not in self._adopted:
                    patch.setdefault("metadata", {})["resourceVersion"] = rv
                actions.append(
                    Patch(resource="replicasets", namespace=namespace, name=_name(rs), patch=patch)
                )
        for rs in self.deleted:
            uid = (rs.get("metadata") or {}).get("uid") or None
            actions.append(Delete(resource="replicasets", namespace=namespace, name=_name(rs), uid=uid))
        actions.extend(self._deployment_writes(namespace))
        actions.extend(self.events)
        return actions

    def _deployment_writes(self, namespace: str | None) -> list[Action]:
        writes: list[Action] = []
        md = self.original.get("metadata") or {}
        name = md.get("name", "")
        old = replicaset.normalized_status(self.original.get("status"), _NO_REQUIRED)
        patch = replicaset.status_patch(old, replicaset.normalized_status(self.status, _NO_REQUIRED))
        if patch:
            body: Obj = {"status": patch}
            if md.get("resourceVersion"):
                body["metadata"] = {"resourceVersion": md["resourceVersion"]}
            writes.append(
                Patch(
                    resource="deployments", namespace=namespace, name=name, patch=body, subresource="status"
                )
            )
        revision = util.meta_annotation(self.d, util.REVISION)
        if revision is not None and revision != util.meta_annotation(self.original, util.REVISION):
            body = {"metadata": {"annotations": {util.REVISION: revision}}}
            writes.append(Patch(resource="deployments", namespace=namespace, name=name, patch=body))
        return writes


def _copy(obj: Mapping[str, Any]) -> Obj:
    copy: Obj = meta.deep_copy(dict(obj))
    return copy


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _rs_patch(cached: Mapping[str, Any], rs: Mapping[str, Any]) -> Obj:
    """The merge patch from the cached ReplicaSet to its changed copy (size, minReadySeconds, annotations)."""
    patch: Obj = {}
    old_spec, new_spec = cached.get("spec") or {}, rs.get("spec") or {}
    spec = {f: new_spec.get(f) for f in ("replicas", "minReadySeconds") if new_spec.get(f) != old_spec.get(f)}
    if spec:
        patch["spec"] = spec
    annotations = replicaset.status_patch(
        (cached.get("metadata") or {}).get("annotations") or {},
        (rs.get("metadata") or {}).get("annotations") or {},
    )
    if annotations:
        patch["metadata"] = {"annotations": annotations}
    return patch


# -- status and progress -------------------------------------------------------------------------------------


def deployment_status(s: Sync, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
    """``syncDeploymentStatus``: counts and the Available condition."""
    s.d["status"] = util.calculate_status(all_rss, new_rs, s.d, s.now)


def rollout_status(s: Sync, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
    """``syncRolloutStatus``: counts, Available, and Progressing measured against the deadline."""
    status = util.calculate_status(all_rss, new_rs, s.d, s.now)
    deadline = util.progress_deadline(s.d)
    if deadline is None:
        util.remove_condition(status, util.PROGRESSING)
    current = util.get_condition(s.status, util.PROGRESSING)
    complete = (
        int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
        and current is not None
        and current.get("reason") == util.NEW_RS_AVAILABLE
    )
    name = (s.d.get("metadata") or {}).get("name", "")
    subject = f'ReplicaSet "{_name(new_rs)}"' if new_rs is not None else f'Deployment "{name}"'
    if deadline is not None and not complete:
        if util.deployment_complete(s.d, status):
            message = f"{subject} has successfully progressed."
            condition = util.new_condition(util.PROGRESSING, "True", util.NEW_RS_AVAILABLE, message, s.now)
            util.set_condition(status, condition)
        elif util.deployment_progressing(s.d, status):
            message = f"{subject} is progressing."
            condition = util.new_condition(util.PROGRESSING, "True", util.REPLICA_SET_UPDATED, message, s.now)
            if current is not None:
                if current.get("status") == "True":
                    condition["lastTransitionTime"] = current.get("lastTransitionTime")
                util.remove_condition(status, util.PROGRESSING)
            util.set_condition(status, condition)
        elif util.deployment_timed_out(s.d, status, s.now):
            message = f"{subject} has timed out progressing."
            condition = util.new_condition(util.PROGRESSING, "False", util.TIMED_OUT, message, s.now)
            util.set_condition(status, condition)
    failure = _replica_failure(all_rss, new_rs)
    if failure is not None:
        util.set_condition(status, failure)
    else:
        util.remove_condition(status, util.REPLICA_FAILURE)
    _requeue_stuck(s, status, current, deadline)
    s.d["status"] = status


def _replica_failure(all_rss: list[Obj | None], new_rs: Obj | None) -> Obj | None:
    """The new ReplicaSet's ReplicaFailure condition (else any old one's), as a Deployment condition."""
    for rs in [new_rs, *all_rss]:
        for c in ((rs or {}).get("status") or {}).get("conditions") or ():
            if c.get("type") == util.REPLICA_FAILURE:
                when = c.get("lastTransitionTime")
                return {**c, "lastUpdateTime": when, "lastTransitionTime": when}
    return None


def _requeue_stuck(s: Sync, status: Obj, current: Obj | None, deadline: int | None) -> None:
    """``requeueStuckDeployment``: look again when the deadline would pass without progress."""
    if deadline is None or current is None:
        return
    if util.deployment_complete(s.d, status) or current.get("reason") == util.TIMED_OUT:
        return
    try:
        since = meta.parse_rfc3339(str(current.get("lastUpdateTime") or ""))
    except errors.ValidationError:  # an unreadable time: nothing to wait for
        return
    after = since + deadline - s.now
    s.requeue_after = 1.0 if after < 1.0 else after + 1.0  # upstream adds a second against clock skew


def check_paused_conditions(s: Sync) -> None:
    """``checkPausedConditions``: Progressing Unknown while paused (so the deadline does not run), and
    ``DeploymentResumed`` when resumed; a timed-out rollout keeps its condition."""
    if util.progress_deadline(s.d) is None:
        return
    current = util.get_condition(s.status, util.PROGRESSING)
    if current is not None and current.get("reason") == util.TIMED_OUT:
        return
    paused = bool((s.d.get("spec") or {}).get("paused"))
    paused_recorded = current is not None and current.get("reason") == util.PAUSED
    if paused and not paused_recorded:
        condition = util.new_condition(
            util.PROGRESSING, "Unknown", util.PAUSED, "Deployment is paused", s.now
        )
        util.set_condition(s.status, condition)
    elif not paused and paused_recorded:
        condition = util.new_condition(
            util.PROGRESSING, "Unknown", util.RESUMED, "Deployment is resumed", s.now
        )
        util.set_condition(s.status, condition)
