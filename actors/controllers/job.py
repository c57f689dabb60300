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

State: the back-off records (failures since the last success, time of the last one) live on the controller
instance, keyed by Job UID, as upstream keeps them in memory; pods already folded in are remembered by UID
so a reconcile that runs twice counts nothing twice. Pod-control events (``SuccessfulCreate`` "Created pod:
<name>", ``SuccessfulDelete``) are the runner's to record when it performs the Create/Delete, since only it
learns the generated names.

Not emulated: ``backoffLimitPerIndex``/``maxFailedIndexes``, ``successPolicy``, ``managedBy`` other than
ours (such Jobs are skipped), adopting orphan pods by selector, the ``FailIndex`` action.

Layout: pure helpers first (pod state, completed-index intervals, the pod failure policy, the back-off
record), then the controller, whose ``_sync``/``_manage``/``_track`` follow upstream's ``syncJob``,
``manageJob`` and ``trackJobStatusAndRemoveFinalizers``; the TTL controller last. At about 850 lines it is
past the usual size because the counting protocol reads best in one place; the helpers are the part to
move out first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from actors.controllers import framework as fw
from kube import meta

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
DEFAULT_BACKOFF = 10.0  # DefaultJobPodFailureBackOff
MAX_BACKOFF = 600.0  # MaxJobPodFailureBackOff
SYNC_BATCH_PERIOD = 1.0  # syncJobBatchPeriod: the shortest delayed re-sync
MAX_UNCOUNTED = 500  # MaxUncountedPods
MAX_CREATE_DELETE = 500  # MaxPodCreateDeletePerSync
OUR_MANAGER = "kubernetes.io/job-controller"
_COMPLETE_REASON, _COMPLETE_MESSAGE = "CompletionsReached", "Reached expected number of succeeded pods"

Intervals = list[tuple[int, int]]  # sorted, disjoint, non-adjacent [first, last] runs of indexes


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


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _deleting(obj: Obj) -> bool:
    return fw.is_terminating(obj)


def is_ready(pod: Obj) -> bool:
    condition = find_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def is_active(pod: Obj) -> bool:
    """Upstream's ``FilterActivePods``: not finished and not being deleted."""
    return _phase(pod) not in ("Succeeded", "Failed") and not _deleting(pod)


def has_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def completion_index(pod: Obj) -> int:
    """The pod's completion index, or -1 when it has none (or a malformed one)."""
    text = meta.annotations_of(pod).get(COMPLETION_INDEX)
    return int(text) if text is not None and text.isdigit() else -1


def _only_replace_failed(job: Obj) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before it succeeded."""
    if _phase(pod) == "Failed":
        return True
    return not _only_replace_failed(job) and _deleting(pod) and _phase(pod) != "Succeeded"


def finish_time(pod: Obj) -> float:
    """When the pod finished: its last container's ``finishedAt``, else the Ready=False transition, else
    deletion time minus grace, else creation (upstream's ``getFinishedTime``)."""
    status = pod.get("status") or {}
    latest: float | None = None
    for cs in status.get("containerStatuses") or []:
        finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if not finished:
            latest = None
            break
        latest = max(latest or 0.0, meta.parse_rfc3339(finished))
    if latest is not None:
        return latest
    ready = find_condition(pod, "Ready")
    if ready and ready.get("status") == "False" and ready.get("lastTransitionTime"):
        return meta.parse_rfc3339(ready["lastTransitionTime"])
    md = pod.get("metadata") or {}
    if md.get("deletionTimestamp"):
        return meta.parse_rfc3339(md["deletionTimestamp"]) - float(md.get("deletionGracePeriodSeconds") or 0)
    return meta.parse_rfc3339(md["creationTimestamp"]) if md.get("creationTimestamp") else 0.0


# -- completed indexes -----------------------------------------------------------------------------------


def parse_intervals(text: str, completions: int) -> Intervals:
    """``status.completedIndexes`` as intervals, dropping indexes at or past ``completions``."""
    result: Intervals = []
    for part in text.split(",") if text else ():
        first_text, _, last_text = part.partition("-")
        if not first_text.isdigit() or (last_text and not last_text.isdigit()):
            continue  # corrupted: ignored, as upstream
        first = int(first_text)
        if first >= completions:
            break
        last = min(int(last_text), completions - 1) if last_text else first
        if result and result[-1][1] == first - 1:
            result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def with_indexes(intervals: Intervals, indexes: Iterable[int]) -> Intervals:
    """The union of ``intervals`` and ``indexes``, merged."""
    runs = sorted([*intervals, *((i, i) for i in indexes)])
    merged: Intervals = []
    for first, last in runs:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def intervals_text(intervals: Intervals) -> str:
    return ",".join(str(a) if a == b else f"{a},{b}" if b == a + 1 else f"{a}-{b}" for a, b in intervals)


def intervals_total(intervals: Intervals) -> int:
    return sum(b - a + 1 for a, b in intervals)


def _has(intervals: Intervals, index: int) -> bool:
    return any(a <= index <= b for a, b in intervals)


def first_pending_indexes(active: list[Obj], done: Intervals, count: int, completions: int) -> list[int]:
    """The ``count`` lowest indexes below ``completions`` neither succeeded nor held by an active pod."""
    taken = with_indexes(done, (i for i in map(completion_index, active) if i >= 0))
    result: list[int] = []
    candidate = 0
    for first, last in [*taken, (completions, completions)]:
        while candidate < min(first, completions) and len(result) < count:
            result.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    return result


# -- pod failure policy ----------------------------------------------------------------------------------


def match_failure_policy(job: Obj, pod: Obj) -> tuple[str | None, bool, str | None]:
    """(FailJob message, whether the failure counts toward ``backoffLimit``, the matched action)."""
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    if not policy:
        return None, True, None
    md, status = pod.get("metadata") or {}, pod.get("status") or {}
    for index, rule in enumerate(policy.get("rules") or []):
        action, message = rule.get("action"), None
        if rule.get("onExitCodes") is not None:
            hit = _exit_code_match(status, rule["onExitCodes"])
            if hit is None:
                continue
            name, code = hit
            message = (
                f"Container {name} for pod {md.get('namespace')}/{md.get('name')} failed with exit code "
                f"{code} matching {action} rule at index {index}"
            )
        elif rule.get("onPodConditions") is not None:
            kind = _condition_match(status, rule["onPodConditions"])
            if kind is None:
                continue
            message = (
                f"Pod {md.get('namespace')}/{md.get('name')} has condition {kind} matching {action} rule "
                f"at index {index}"
            )
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action == "FailJob":
            return message, True, action
        if action == "Count":
            return None, True, action
    return None, True, None


def _exit_code_match(status: Obj, requirement: Obj) -> tuple[str, int] | None:
    wanted, values = requirement.get("containerName"), set(requirement.get("values") or ())
    for cs in [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]:
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is None or (wanted is not None and wanted != cs.get("name")):
            continue
        code = int(terminated.get("exitCode") or 0)
        if code != 0 and (code in values) == (requirement.get("operator") == "In"):
            return str(cs.get("name")), code
    return None


def _condition_match(status: Obj, patterns: list[Obj]) -> str | None:
    for condition in status.get("conditions") or []:
        for pattern in patterns:
            if condition.get("type") == pattern.get("type") and condition.get("status") == pattern.get(
                "status", "True"
            ):
                return str(condition["type"])
    return None


# -- back-off --------------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class BackoffRecord:
    """Failures since the last success and when the latest happened (upstream's ``backoffRecord``);
    ``seen`` holds the finished pods already folded in, so a repeated reconcile adds nothing."""

    uid: str = ""  # the Job's
    failures: int = 0
    last_failure: float | None = None
    seen: set[str] = dataclasses.field(default_factory=set)

    def observe(self, succeeded: list[Obj], failed: list[Obj]) -> None:
        succeeded = [p for p in succeeded if _uid(p) not in self.seen]
        failed = sorted((p for p in failed if _uid(p) not in self.seen), key=finish_time)
        self.seen.update(_uid(p) for p in [*succeeded, *failed])
        if succeeded:
            last_success = max(finish_time(p) for p in succeeded)
            self.failures, self.last_failure = 0, None
            for pod in reversed(failed):
                if finish_time(pod) <= last_success:
                    break
                self.last_failure = self.last_failure or finish_time(pod)
                self.failures += 1
        elif failed:
            self.failures += len(failed)
            self.last_failure = finish_time(failed[-1])

    def remaining(self, now: float) -> float:
        """Seconds before a new pod may be created."""
        if self.failures == 0 or self.last_failure is None:
            return 0.0
        delay = min(DEFAULT_BACKOFF * 2.0 ** (self.failures - 1), MAX_BACKOFF)
        return max(0.0, delay - (now - self.last_failure))


def _active_rank(pod: Obj) -> tuple[Any, ...]:
    """Sort key putting the pods to delete first (upstream's ``controller.ActivePods``)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(_phase(pod), 0)
    ready = find_condition(pod, "Ready")
    ready_since = meta.parse_rfc3339(ready["lastTransitionTime"]) if ready and is_ready(pod) else 0.0
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    newer_first = -meta.parse_rfc3339(created) if created else 0.0
    return (bool(spec.get("nodeName")), phase_rank, is_ready(pod), -ready_since, -restarts, newer_first)


def pods_for_removal(job: Obj, active: list[Obj], at_least: int) -> list[Obj]:
    """Active pods to delete: for Indexed Jobs every duplicate, out-of-range or index-less pod first."""
    remove: list[Obj] = []
    left = active
    spec = job.get("spec") or {}
    if spec.get("completionMode") == "Indexed":
        completions, by_index, left = int(spec.get("completions") or 0), dict[int, list[Obj]](), []
        for pod in active:
            ix = completion_index(pod)
            if ix < 0 or ix >= completions:
                remove.append(pod)
            else:
                by_index.setdefault(ix, []).append(pod)
        for pods in by_index.values():
            ordered = sorted(pods, key=_active_rank)
            remove.extend(ordered[:-1])
            left.append(ordered[-1])
    if len(remove) < at_least:
        remove.extend(sorted(left, key=_active_rank)[: at_least - len(remove)])
    return remove


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
    prev_indexes: Intervals = dataclasses.field(default_factory=list)
    indexes: Intervals = dataclasses.field(default_factory=list)
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
        self.backoff: dict[str, BackoffRecord] = {}  # by Job key

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: fw.Cache) -> Iterable[str]:
        if resource == "jobs":
            return [fw.key_of(obj)]
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        keys = {k for p in (obj, old) if p is not None and (k := fw.controller_key(p, "Job"))}
        if not keys and has_finalizer(obj) and (name := meta.labels_of(obj).get(JOB_NAME_LABEL)):
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
            return fw.Result(actions=strays + [_drop_finalizer(p) for p in owned if has_finalizer(p)])
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
            active_pods=[p for p in pods if is_active(p)],
            now=ctx.now,
        )
        completions: int | None = spec.get("completions")
        indexed = spec.get("completionMode") == "Indexed"
        uncounted = status.get("uncountedTerminatedPods") or {}
        unc_succeeded, unc_failed = set(uncounted.get("succeeded") or ()), set(uncounted.get("failed") or ())
        s.ready = sum(1 for p in s.active_pods if is_ready(p))
        s.terminating = sum(1 for p in pods if _deleting(p) and _phase(p) not in ("Succeeded", "Failed"))

        def new(pod: Obj, seen: set[str]) -> bool:
            ix = completion_index(pod)
            valid = not indexed or 0 <= ix < (completions or 0)
            return has_finalizer(pod) and _uid(pod) not in seen and valid

        new_succeeded = [p for p in pods if new(p, unc_succeeded) and _phase(p) == "Succeeded"]
        new_failed = [p for p in pods if new(p, unc_failed) and is_pod_failed(p, job)]
        counted_failures = sum(1 for p in new_failed if match_failure_policy(job, p)[1])
        s.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(unc_succeeded)
        s.failed = int(status.get("failed") or 0) + counted_failures + len(unc_failed)
        suspended = bool(spec.get("suspend"))
        if not status.get("startTime") and not suspended:
            status["startTime"] = meta.now_rfc3339(ctx.now)
        record = self.backoff.get(key)
        if record is None or record.uid != _uid(job):  # a new Job of the same name starts afresh
            record = self.backoff[key] = BackoffRecord(uid=_uid(job))
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
                (m for p in pods if is_pod_failed(p, job) and (m := match_failure_policy(job, p)[0])), None
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
            s.prev_indexes = parse_intervals(str(status.get("completedIndexes") or ""), completions or 0)
            fresh = {completion_index(p) for p in pods if _phase(p) == "Succeeded" and has_finalizer(p)}
            s.indexes = with_indexes(s.prev_indexes, (i for i in fresh if 0 <= i < (completions or 0)))
            s.succeeded = intervals_total(s.indexes)

        active = len(s.active_pods)
        if s.finished is not None:
            for pod in s.active_pods:
                s.pod_actions.append(_delete(pod, expect=False))
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

    def _manage(self, s: _Sync, record: BackoffRecord) -> int:
        """Create or delete pods toward the wanted number of active ones; returns the active count."""
        spec = s.job["spec"]
        active = len(s.active_pods)
        if spec.get("suspend"):
            return active - self._remove(s, pods_for_removal(s.job, s.active_pods, active))
        parallelism = int(spec.get("parallelism", 1))
        completions: int | None = spec.get("completions")
        if completions is None:
            want = active if s.succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - s.succeeded, parallelism))
        excess = pods_for_removal(s.job, s.active_pods, max(0, active - want))[:MAX_CREATE_DELETE]
        if excess:
            return active - self._remove(s, excess)
        terminating = s.terminating if _only_replace_failed(s.job) else 0
        diff = want - terminating - active
        if diff <= 0:
            return active
        if (wait := record.remaining(s.now)) > 0:
            s.requeue.append(max(wait, SYNC_BATCH_PERIOD))
            return active  # upstream reports 0 active here; the pods that run are still active
        diff = min(diff, MAX_CREATE_DELETE)
        indexes: list[int | None] = [None] * diff
        if spec.get("completionMode") == "Indexed":
            pending = first_pending_indexes(s.active_pods, s.indexes, diff, int(completions or 0))
            indexes = list[int | None](pending)
        for index in indexes:
            s.pod_actions.append(
                fw.Create(resource="pods", namespace=_ns(s.job), body=_new_pod(s.job, index), expect=True)
            )
        return active + len(indexes)

    def _remove(self, s: _Sync, pods: list[Obj]) -> int:
        """Delete active pods without counting them: finalizer off first, as upstream's ``deleteJobPods``."""
        s.pod_actions.extend(_drop_finalizer(p) for p in pods if has_finalizer(p))
        s.pod_actions.extend(_delete(p, expect=True) for p in pods)  # one run: deleted concurrently
        s.terminating += len(pods)
        s.ready -= sum(1 for p in pods if is_ready(p))
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
        with_fin = {_uid(p) for p in s.pods if has_finalizer(p)}
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
        pods = sorted(s.pods, key=completion_index) if indexed else s.pods
        for pod in pods:
            if not has_finalizer(pod):
                continue
            uid, failed = _uid(pod), is_pod_failed(pod, job)
            if not (_deleting(job) or s.finished is not None or _phase(pod) == "Succeeded" or failed):
                continue
            recorded = True  # the finalizer may go: the cached status already holds what this pod counts
            ix = completion_index(pod)
            if _phase(pod) == "Succeeded" and uid not in recorded_f:
                if indexed and 0 <= ix < completions and not _has(s.prev_indexes, ix):
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
                and match_failure_policy(job, pod)[1]  # an ignored failure is not counted
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
            s.indexes = with_indexes(s.indexes, new_indexes)
            status["completedIndexes"] = intervals_text(s.indexes)
            status["succeeded"] = intervals_total(s.indexes)
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
        actions.extend(_drop_finalizer(p) for p in release)
        actions.extend(events)
        return fw.Result(actions=actions, requeue_after=min(s.requeue) if s.requeue else None)


def _past_backoff_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """Under ``restartPolicy: OnFailure``, container restarts of running pods reaching the limit."""
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if _phase(pod) in ("Running", "Pending"):
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


def _delete(pod: Obj, *, expect: bool) -> fw.Delete:
    md = pod.get("metadata") or {}
    return fw.Delete(
        resource="pods",
        namespace=md.get("namespace"),
        name=md.get("name", ""),
        uid=md.get("uid"),
        expect=expect,
    )


def _drop_finalizer(pod: Obj) -> fw.Patch:
    md = pod.get("metadata") or {}
    return fw.Patch(
        resource="pods",
        namespace=md.get("namespace"),
        name=md.get("name", ""),
        patch={"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}},
        patch_type="application/strategic-merge-patch+json",
    )


def _release(cache: fw.Cache, pods: list[Obj]) -> list[fw.Action]:
    """Finalizer removals for pods no unfinished Job of ours owns any more (upstream's orphan worker)."""
    actions: list[fw.Action] = []
    for pod in pods:
        if not has_finalizer(pod):
            continue
        ref = meta.controller_of(pod)
        if ref is not None:
            if ref.kind != "Job" or ref.api_version != "batch/v1":
                continue
            owner = cache.get("jobs", _ns(pod), ref.name)
            if owner is not None and _uid(owner) == ref.uid and finished_type(owner) is None:
                continue
        actions.append(_drop_finalizer(pod))
    return actions


def _new_pod(job: Obj, index: int | None) -> Obj:
    """A pod from the Job's template (upstream's ``GetPodFromTemplate`` plus the index decorations)."""
    md, spec = job.get("metadata") or {}, job.get("spec") or {}
    template = meta.deep_copy(spec.get("template") or {})
    tmd = template.get("metadata") or {}
    pod_spec: Obj = template.get("spec") or {}
    labels, annotations = dict(tmd.get("labels") or {}), dict(tmd.get("annotations") or {})
    finalizers = list(tmd.get("finalizers") or [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    name = str(md.get("name", ""))
    generate_name = f"{name}-"
    if index is not None:
        annotations[COMPLETION_INDEX] = labels[COMPLETION_INDEX] = str(index)
        pod_spec["hostname"] = f"{name}-{index}"
        suffix = f"-{index}-"
        generate_name = name + suffix
        if len(generate_name) > meta.MAX_GENERATED_NAME_LENGTH:
            generate_name = generate_name[: meta.MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
        field = f"metadata.labels['{COMPLETION_INDEX}']"
        for container in [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]:
            env = container.setdefault("env", [])
            if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": field}}})
    owner = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": name,
        "uid": md.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    pod_md: Obj = {
        "generateName": generate_name,
        "namespace": md.get("namespace"),
        "labels": labels,
        "finalizers": finalizers,
        "ownerReferences": [owner],
    }
    if annotations:
        pod_md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_md, "spec": pod_spec}


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
