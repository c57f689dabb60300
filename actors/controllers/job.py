"""The Job controller (``job-controller``) and the TTL-after-finished controller, as pure reconcilers.

Behaviour follows upstream's ``pkg/controller/job`` with the v1.31+ feature gates on (pod replacement
policy, delayed terminal conditions):

- a Job runs at most ``parallelism`` active pods (never more than the completions still missing; in work
  queue mode, ``completions`` unset, it stops creating after the first success). Pods are made from the
  template with ``generateName: <job>-``, the template's labels (``batch.kubernetes.io/job-name``,
  ``batch.kubernetes.io/controller-uid`` and the legacy keys, put there by the apiserver's defaulting),
  a controller ownerReference and the ``batch.kubernetes.io/job-tracking`` finalizer. Indexed Jobs give
  each pod ``batch.kubernetes.io/job-completion-index`` (annotation and label), ``JOB_COMPLETION_INDEX``,
  hostname ``<job>-<index>`` and ``generateName: <job>-<index>-``; ``status.completedIndexes`` is the
  compressed interval list (``"0-2,5"``, with ``"0,1"`` for two neighbours, as upstream prints it);
- finished pods are counted through the tracking finalizer, as upstream: a newly finished pod's UID goes
  into ``status.uncountedTerminatedPods`` (an Indexed success straight into ``completedIndexes``); once that
  status is in the cache the finalizer is patched away; once the pod shows no finalizer (or is gone) the UID
  moves into ``succeeded``/``failed``. A finalizer is only removed for a pod already recorded in the cached
  status, so the actions are safe in any order and a lost write loses no count. A deleted, unfinished pod
  counts as failed (``podReplacementPolicy: TerminatingOrFailed``) and is replaced at once; with
  ``Failed`` (the default under a ``podFailurePolicy``) the replacement waits until it has terminated;
- failures beyond ``backoffLimit`` (or container restarts reaching it under ``restartPolicy: OnFailure``),
  ``activeDeadlineSeconds`` and a ``podFailurePolicy`` ``FailJob`` rule fail the Job: the interim
  ``FailureTarget`` condition first, active pods deleted, then ``Failed`` once no pod is terminating or
  uncounted (reasons ``BackoffLimitExceeded``, ``DeadlineExceeded``, ``PodFailurePolicy``; a Warning event
  with the condition's reason and message). Success goes ``SuccessCriteriaMet`` then ``Complete`` with
  ``completionTime`` (reason ``CompletionsReached``; event ``Completed`` "Job completed");
- after a failure, new pods wait a back-off of 10 s doubling per failure since the last success, capped at
  10 minutes (upstream's ``MaxJobPodFailureBackOff``; the docs' "six minutes" is older): ``requeue_after``;
- ``suspend`` deletes the active pods (finalizer removed first, they are not counted) and sets the
  ``Suspended`` condition (events ``Suspended``/``Resumed``; resuming resets ``startTime``).

State: the back-off records (failures since the last success, time of the last one; ``job_backoff``) live
on the controller instance, keyed by Job UID, as upstream keeps them in memory; pods already folded in are
remembered by UID so a reconcile that runs twice counts nothing twice. Pods are created and deleted through
``framework.create_pod``/``delete_pod`` (upstream's ``RealPodControl``), so the runner records
``SuccessfulCreate`` "Created pod: <the generated name>", ``SuccessfulDelete`` "Deleted pod: <name>" and
their ``FailedCreate``/``FailedDelete`` on the Job.

Not emulated: ``backoffLimitPerIndex``/``maxFailedIndexes``, ``successPolicy``, ``managedBy`` other than
ours (such Jobs are skipped), adopting orphan pods by selector, the ``FailIndex`` action.

Layout: a Job's pods (the new pod, their state, which go first) are ``job_pods``'s, the completed-index
intervals ``job_indexed``'s, the pod failure policy ``job_failure_policy``'s, the back-off ``job_backoff``'s.
Here: the controller, whose ``_sync``/``_manage``/``_track`` follow upstream's ``syncJob``, ``manageJob``
and ``trackJobStatusAndRemoveFinalizers``, and the TTL controller (the controller registry names both here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from actors.controllers import framework as fw
from actors.controllers import job_backoff as backoff_
from actors.controllers import job_failure_policy as failure_policy
from actors.controllers import job_indexed as indexed_
from actors.controllers import job_pods as pods_
from kube import meta

Obj = dict[str, Any]

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
SYNC_BATCH_PERIOD = 1.0  # syncJobBatchPeriod: the shortest delayed re-sync
MAX_UNCOUNTED = 500  # MaxUncountedPods
MAX_CREATE_DELETE = 500  # MaxPodCreateDeletePerSync
OUR_MANAGER = "kubernetes.io/job-controller"
_COMPLETE_REASON, _COMPLETE_MESSAGE = "CompletionsReached", "Reached expected number of succeeded pods"

# -- small readers ---------------------------------------------------------------------------------------


def find_condition(obj: Obj, kind: str) -> Obj | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def finished_type(job: Obj) -> str | None:
    """``Complete`` or ``Failed`` when the Job has finished (upstream's ``IsJobFinished``), else None."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _deleting(obj: Obj) -> bool:
    return fw.is_terminating(obj)


# -- the controllers -------------------------------------------------------------------------------------


def _condition(kind: str, status: str, reason: str, message: str, now: float) -> Obj:
    stamp = meta.now_rfc3339(now)
    condition: Obj = {"type": kind, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def ensure_condition(status: Obj, kind: str, value: str, reason: str, message: str, now: float) -> bool:
    """Upstream's ``ensureJobConditionStatus``: set or add the condition; a new False one is not added."""
    conditions: list[Obj] = status.setdefault("conditions", [])
    for i, condition in enumerate(conditions):
        if condition.get("type") == kind:
            if (condition.get("status"), condition.get("reason", ""), condition.get("message", "")) == (
                value,
                reason,
                message,
            ):
                return False
            conditions[i] = _condition(kind, value, reason, message, now)
            return True
    if value == "False":
        return False
    conditions.append(_condition(kind, value, reason, message, now))
    return True


@dataclasses.dataclass(slots=True)
class _Sync:
    """One reconcile's working set (upstream's ``syncJobCtx``)."""

    job: Obj  # a deep copy whose status is edited
    cached_status: Obj
    pods: list[Obj]
    active_pods: list[Obj]
    now: float
    succeeded: int = 0
    failed: int = 0
    ready: int = 0
    terminating: int = 0
    finished: Obj | None = None  # the condition to reach
    prev_indexes: indexed_.Intervals = dataclasses.field(default_factory=list)
    indexes: indexed_.Intervals = dataclasses.field(default_factory=list)
    pod_actions: list[fw.Action] = dataclasses.field(default_factory=list)
    events: list[fw.Event] = dataclasses.field(default_factory=list)
    requeue: list[float] = dataclasses.field(default_factory=list)


class JobController:
    """``job-controller``: see the module docstring. Keys are ``namespace/name`` of Jobs."""

    name: str = "job-controller"
    resource: str = "jobs"
    kind: str = "Job"
    watches: tuple[str, ...] = ("jobs", "pods")

    def __init__(self) -> None:
        self.backoff: dict[str, backoff_.BackoffRecord] = {}  # by Job key

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: fw.Cache) -> Iterable[str]:
        if resource == "jobs":
            return [fw.key_of(obj)]
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        keys = {k for p in (obj, old) if p is not None and (k := fw.controller_key(p, "Job"))}
        if not keys and pods_.has_finalizer(obj) and (name := meta.labels_of(obj).get(JOB_NAME_LABEL)):
            keys.add(f"{namespace}/{name}")  # an orphan whose finalizer someone must remove
        return sorted(keys)

    def reconcile(self, key: str, cache: fw.Cache, ctx: fw.Context) -> fw.Result:
        namespace, name = fw.split_key(key)
        job = cache.get("jobs", namespace, name)
        labelled = [
            p for p in cache.by_index("pods", fw.LABEL, f"{JOB_NAME_LABEL}={name}") if _ns(p) == namespace
        ]
        if job is None:  # gone: release what it left (pods the apiserver labelled with its name)
            self.backoff.pop(key, None)
            return fw.Result(actions=_release(cache, labelled))
        uid = _uid(job)
        owned = [p for p in cache.by_index("pods", fw.OWNER, uid) if _controlled_by(p, uid)]
        strays = _release(cache, [p for p in labelled if not _controlled_by(p, uid)])
        manager = (job.get("spec") or {}).get("managedBy")
        if manager not in (None, OUR_MANAGER):
            return fw.Result()
        if finished_type(job) is not None:
            self.backoff.pop(key, None)
            return fw.Result(
                actions=strays + [pods_.drop_finalizer(p) for p in owned if pods_.has_finalizer(p)]
            )
        mode = (job.get("spec") or {}).get("completionMode")
        if mode not in (None, "NonIndexed", "Indexed"):
            message = "Skipped Job sync because completion mode is unknown"
            return fw.Result(
                actions=[fw.Event(obj=job, type="Warning", reason="UnknownCompletionMode", message=message)]
            )
        result = self._sync(key, job, owned, ctx)
        result.actions.extend(strays)
        return result

    # -- syncJob -----------------------------------------------------------------------------------------

    def _sync(self, key: str, cached: Obj, pods: list[Obj], ctx: fw.Context) -> fw.Result:
        job = meta.deep_copy(cached)
        spec, status = job.setdefault("spec", {}), job.setdefault("status", {})
        s = _Sync(
            job=job,
            cached_status=cached.get("status") or {},
            pods=pods,
            active_pods=[p for p in pods if fw.is_pod_active(p)],
            now=ctx.now,
        )
        completions: int | None = spec.get("completions")
        indexed = spec.get("completionMode") == "Indexed"
        uncounted = status.get("uncountedTerminatedPods") or {}
        unc_succeeded, unc_failed = set(uncounted.get("succeeded") or ()), set(uncounted.get("failed") or ())
        s.ready = sum(1 for p in s.active_pods if fw.is_pod_ready(p))
        s.terminating = sum(1 for p in pods if _deleting(p) and pods_.phase(p) not in ("Succeeded", "Failed"))

        def new(pod: Obj, seen: set[str]) -> bool:
            ix = indexed_.completion_index(pod)
            valid = not indexed or 0 <= ix < (completions or 0)
            return pods_.has_finalizer(pod) and _uid(pod) not in seen and valid

        new_succeeded = [p for p in pods if new(p, unc_succeeded) and pods_.phase(p) == "Succeeded"]
        new_failed = [p for p in pods if new(p, unc_failed) and pods_.is_pod_failed(p, job)]
        counted_failures = sum(1 for p in new_failed if failure_policy.match_failure_policy(job, p)[1])
        s.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(unc_succeeded)
        s.failed = int(status.get("failed") or 0) + counted_failures + len(unc_failed)
        suspended = bool(spec.get("suspend"))
        if not status.get("startTime") and not suspended:
            status["startTime"] = meta.now_rfc3339(ctx.now)
        record = self.backoff.get(key)
        if record is None or record.uid != _uid(job):  # a new Job of the same name starts afresh
            record = self.backoff[key] = backoff_.BackoffRecord(uid=_uid(job))
        record.observe(new_succeeded, new_failed)
        record.seen &= {_uid(p) for p in pods}

        s.finished = find_condition(job, "SuccessCriteriaMet")
        if s.finished is not None and s.finished.get("status") != "True":
            s.finished = None
        if s.finished is None:
            target = find_condition(job, "FailureTarget")
            if target is not None and target.get("status") == "True":
                s.finished = _condition(
                    "Failed", "True", target.get("reason", ""), target.get("message", ""), ctx.now
                )
            elif message := next(
                (
                    m
                    for p in pods
                    if pods_.is_pod_failed(p, job) and (m := failure_policy.match_failure_policy(job, p)[0])
                ),
                None,
            ):
                s.finished = _condition("FailureTarget", "True", "PodFailurePolicy", message, ctx.now)
        deadline = spec.get("activeDeadlineSeconds")
        if s.finished is None:
            if s.failed > int(spec.get("backoffLimit", 6)) or _past_backoff_on_failure(job, pods):
                message = "Job has reached the specified backoff limit"
                s.finished = _condition("FailureTarget", "True", "BackoffLimitExceeded", message, ctx.now)
            elif deadline is not None and not suspended and status.get("startTime"):
                left = float(deadline) - (ctx.now - meta.parse_rfc3339(status["startTime"]))
                if left <= 0:
                    message = "Job was active longer than specified deadline"
                    s.finished = _condition("FailureTarget", "True", "DeadlineExceeded", message, ctx.now)
                else:
                    s.requeue.append(left)
        if indexed:
            s.prev_indexes = indexed_.parse_intervals(
                str(status.get("completedIndexes") or ""), completions or 0
            )
            fresh = {
                indexed_.completion_index(p)
                for p in pods
                if pods_.phase(p) == "Succeeded" and pods_.has_finalizer(p)
            }
            s.indexes = indexed_.with_indexes(
                s.prev_indexes, (i for i in fresh if 0 <= i < (completions or 0))
            )
            s.succeeded = indexed_.intervals_total(s.indexes)

        active = len(s.active_pods)
        if s.finished is not None:
            for pod in s.active_pods:
                s.pod_actions.append(fw.delete_pod(s.job, pod, expect=False))
            s.terminating += active
            s.ready = 0
            active = 0
            if not ctx.pending.satisfied:
                s.finished = None  # pods may exist that the cache does not show yet
        else:
            managed = ctx.pending.satisfied and not _deleting(job)
            if managed:
                active = self._manage(s, record)
            if completions is None:
                complete = s.succeeded > 0 and active == 0
            else:
                complete = s.succeeded >= completions and active == 0
            if complete:
                s.finished = _condition(
                    "SuccessCriteriaMet", "True", _COMPLETE_REASON, _COMPLETE_MESSAGE, ctx.now
                )
            elif managed:
                self._suspend_condition(s, suspended)
        if active:
            status["active"] = active
        else:
            status.pop("active", None)
        status["ready"] = s.ready
        status["terminating"] = s.terminating
        return self._track(s)

    def _manage(self, s: _Sync, record: backoff_.BackoffRecord) -> int:
        """Create or delete pods toward the wanted number of active ones; returns the active count."""
        spec = s.job["spec"]
        active = len(s.active_pods)
        if spec.get("suspend"):
            return active - self._remove(s, pods_.pods_for_removal(s.job, s.active_pods, active))
        parallelism = int(spec.get("parallelism", 1))
        completions: int | None = spec.get("completions")
        if completions is None:
            want = active if s.succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - s.succeeded, parallelism))
        excess = pods_.pods_for_removal(s.job, s.active_pods, max(0, active - want))[:MAX_CREATE_DELETE]
        if excess:
            return active - self._remove(s, excess)
        terminating = s.terminating if pods_.only_replace_failed(s.job) else 0
        diff = want - terminating - active
        if diff <= 0:
            return active
        if (wait := record.remaining(s.now)) > 0:
            s.requeue.append(max(wait, SYNC_BATCH_PERIOD))
            return active  # upstream reports 0 active here; the pods that run are still active
        diff = min(diff, MAX_CREATE_DELETE)
        indexes: list[int | None] = [None] * diff
        if spec.get("completionMode") == "Indexed":
            pending = indexed_.first_pending_indexes(s.active_pods, s.indexes, diff, int(completions or 0))
            indexes = list[int | None](pending)
        for index in indexes:
            s.pod_actions.append(fw.create_pod(s.job, pods_.new_pod(s.job, index)))
        return active + len(indexes)

    def _remove(self, s: _Sync, pods: list[Obj]) -> int:
        """Delete active pods without counting them: finalizer off first, as upstream's ``deleteJobPods``."""
        s.pod_actions.extend(pods_.drop_finalizer(p) for p in pods if pods_.has_finalizer(p))
        s.pod_actions.extend(fw.delete_pod(s.job, p) for p in pods)  # one run: deleted concurrently
        s.terminating += len(pods)
        s.ready -= sum(1 for p in pods if fw.is_pod_ready(p))
        return len(pods)

    def _suspend_condition(self, s: _Sync, suspended: bool) -> None:
        status = s.job["status"]
        if suspended:
            if ensure_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", s.now):
                s.events.append(
                    fw.Event(obj=s.job, type="Normal", reason="Suspended", message="Job suspended")
                )
        elif ensure_condition(status, "Suspended", "False", "JobResumed", "Job resumed", s.now):
            s.events.append(fw.Event(obj=s.job, type="Normal", reason="Resumed", message="Job resumed"))
            status["startTime"] = meta.now_rfc3339(s.now)  # the deadline counts from the resume

    # -- trackJobStatusAndRemoveFinalizers ---------------------------------------------------------------

    def _track(self, s: _Sync) -> fw.Result:
        job, status = s.job, s.job["status"]
        spec = job["spec"]
        indexed, completions = spec.get("completionMode") == "Indexed", int(spec.get("completions") or 0)
        cached_unc = s.cached_status.get("uncountedTerminatedPods") or {}
        recorded_s, recorded_f = set(cached_unc.get("succeeded") or ()), set(cached_unc.get("failed") or ())
        with_fin = {_uid(p) for p in s.pods if pods_.has_finalizer(p)}
        unc_s = [u for u in cached_unc.get("succeeded") or () if u in with_fin]
        unc_f = [u for u in cached_unc.get("failed") or () if u in with_fin]
        status["succeeded"] = (
            int(status.get("succeeded") or 0) + len(cached_unc.get("succeeded") or ()) - len(unc_s)
        )
        status["failed"] = int(status.get("failed") or 0) + len(cached_unc.get("failed") or ()) - len(unc_f)
        release: list[Obj] = []
        new_indexes: list[int] = []
        full = False
        terminal = s.finished is not None and s.finished["type"] not in ("SuccessCriteriaMet", "Complete")
        pods = sorted(s.pods, key=indexed_.completion_index) if indexed else s.pods
        for pod in pods:
            if not pods_.has_finalizer(pod):
                continue
            uid, failed = _uid(pod), pods_.is_pod_failed(pod, job)
            if not (_deleting(job) or s.finished is not None or pods_.phase(pod) == "Succeeded" or failed):
                continue
            recorded = True  # the finalizer may go: the cached status already holds what this pod counts
            ix = indexed_.completion_index(pod)
            if pods_.phase(pod) == "Succeeded" and uid not in recorded_f:
                if indexed and 0 <= ix < completions and not indexed_.has_index(s.prev_indexes, ix):
                    new_indexes.append(ix)
                    recorded = False
                elif not indexed and uid not in recorded_s:
                    if uid not in unc_s:
                        unc_s.append(uid)
                    recorded = False
            elif (
                (failed or terminal)
                and uid not in recorded_f
                and (not indexed or 0 <= ix < completions)
                and failure_policy.match_failure_policy(job, pod)[1]  # an ignored failure is not counted
            ):
                if uid not in unc_f:
                    unc_f.append(uid)
                recorded = False
            if recorded:
                release.append(pod)
            if len(new_indexes) + len(unc_s) + len(unc_f) >= MAX_UNCOUNTED:
                full = True
                break
        status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_s), ("failed", unc_f)) if v}
        if indexed:
            s.indexes = indexed_.with_indexes(s.indexes, new_indexes)
            status["completedIndexes"] = indexed_.intervals_text(s.indexes)
            status["succeeded"] = indexed_.intervals_total(s.indexes)
        for counter in ("succeeded", "failed"):
            if not status[counter]:
                del status[counter]
        events = s.events
        finished = s.finished
        if finished is not None and finished["type"] == "FailureTarget":
            status.setdefault("conditions", []).append(finished)
            finished = _condition(
                "Failed", "True", finished.get("reason", ""), finished.get("message", ""), s.now
            )
        elif finished is not None and finished["type"] == "SuccessCriteriaMet":
            if find_condition(job, "SuccessCriteriaMet") is None:
                status.setdefault("conditions", []).append(finished)
            finished = _condition(
                "Complete", "True", finished.get("reason", ""), finished.get("message", ""), s.now
            )
        if finished is not None and not full and not unc_s and not unc_f and s.terminating == 0:
            ensure_condition(
                status,
                finished["type"],
                "True",
                finished.get("reason", ""),
                finished.get("message", ""),
                s.now,
            )
            if finished["type"] == "Complete":
                status["completionTime"] = finished["lastTransitionTime"]
                if spec.get("completions") is not None and int(status.get("succeeded") or 0) > completions:
                    message = "Too many succeeded pods running after completion count reached"
                    events.append(
                        fw.Event(obj=job, type="Warning", reason="TooManySucceededPods", message=message)
                    )
                events.append(fw.Event(obj=job, type="Normal", reason="Completed", message="Job completed"))
            else:
                events.append(
                    fw.Event(
                        obj=job,
                        type="Warning",
                        reason=finished.get("reason", ""),
                        message=finished.get("message", ""),
                    )
                )
        actions: list[fw.Action] = list(s.pod_actions)
        if status != s.cached_status:
            actions.append(fw.Update(resource="jobs", body=job, subresource="status"))
        actions.extend(pods_.drop_finalizer(p) for p in release)
        actions.extend(events)
        return fw.Result(actions=actions, requeue_after=min(s.requeue) if s.requeue else None)


def _past_backoff_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """Under ``restartPolicy: OnFailure``, container restarts of running pods reaching the limit."""
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if pods_.phase(pod) in ("Running", "Pending"):
            status = pod.get("status") or {}
            for cs in [
                *(status.get("initContainerStatuses") or []),
                *(status.get("containerStatuses") or []),
            ]:
                restarts += int(cs.get("restartCount") or 0)
    limit = int(spec.get("backoffLimit", 6))
    return restarts > 0 if limit == 0 else restarts >= limit


def _ns(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _controlled_by(pod: Obj, uid: str) -> bool:
    ref = meta.controller_of(pod)
    return ref is not None and ref.uid == uid


def _release(cache: fw.Cache, pods: list[Obj]) -> list[fw.Action]:
    """Finalizer removals for pods no unfinished Job of ours owns any more (upstream's orphan worker)."""
    actions: list[fw.Action] = []
    for pod in pods:
        if not pods_.has_finalizer(pod):
            continue
        ref = meta.controller_of(pod)
        if ref is not None:
            if ref.kind != "Job" or ref.api_version != "batch/v1":
                continue
            owner = cache.get("jobs", _ns(pod), ref.name)
            if owner is not None and _uid(owner) == ref.uid and finished_type(owner) is None:
                continue
        actions.append(pods_.drop_finalizer(pod))
    return actions


class TTLAfterFinishedController:
    """``ttl-after-finished-controller``: deletes a finished Job ``ttlSecondsAfterFinished`` after the
    ``Complete``/``Failed`` condition's transition, with a UID precondition and ``Foreground`` propagation
    as upstream (its pods go first, through the garbage collector)."""

    name: str = "ttl-after-finished-controller"
    resource: str = "jobs"
    kind: str = "Job"
    watches: tuple[str, ...] = ("jobs",)

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: fw.Cache) -> Iterable[str]:
        return [fw.key_of(obj)] if _needs_cleanup(obj) else []

    def reconcile(self, key: str, cache: fw.Cache, ctx: fw.Context) -> fw.Result:
        namespace, name = fw.split_key(key)
        job = cache.get("jobs", namespace, name)
        if job is None or _deleting(job) or not _needs_cleanup(job):
            return fw.Result()
        finished = next(
            c
            for c in job["status"]["conditions"]
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        )
        if not finished.get("lastTransitionTime"):
            return fw.Result()
        expire = meta.parse_rfc3339(finished["lastTransitionTime"]) + float(
            job["spec"]["ttlSecondsAfterFinished"]
        )
        if ctx.now < expire:
            return fw.Result(requeue_after=expire - ctx.now)
        delete = fw.Delete(
            resource="jobs", namespace=namespace, name=name, uid=_uid(job), propagation="Foreground"
        )
        return fw.Result(actions=[delete])


def _needs_cleanup(job: Obj) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and finished_type(
        job
    ) is not None
