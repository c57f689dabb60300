"""The CronJob controller (``cronjob-controller``, upstream's ``ControllerV2``) as a pure reconciler.

What a user sees, as upstream:

- the schedule (``kube/cron.py``, robfig's ``ParseStandard``) runs in ``spec.timeZone``, else in the
  controller's local zone (``UTC`` unless the controller is built with another). The most recent unmet
  schedule time since ``lastScheduleTime`` (else the creation time), but not before ``now -
  startingDeadlineSeconds``, starts a Job; older misses are skipped. More than 100 missed times give a
  ``TooManyMissedTimes`` warning and the most recent still runs; a time past its starting deadline gives
  ``MissSchedule``;
- the Job is named ``<cronjob>-<scheduled time in minutes since the epoch>``, so a time is never started
  twice; it carries the template's labels and annotations, ``batch.kubernetes.io/cronjob-scheduled-timestamp``
  (RFC 3339 in the CronJob's zone) and a controller ownerReference. ``concurrencyPolicy``: ``Allow``,
  ``Forbid`` (skip with ``JobAlreadyActive`` while one runs) or ``Replace`` (delete the running ones,
  ``SuccessfulDelete``, then start);
- ``status.active`` holds object references of running Jobs; a finished one leaves it (``SawCompletedJob``)
  and a successful one moves ``lastSuccessfulTime``. Finished Jobs beyond ``successfulJobsHistoryLimit``
  / ``failedJobsHistoryLimit`` are deleted oldest first (by ``startTime``), in the background;
- ``suspend``, a bad ``spec.timeZone`` (``UnknownTimeZone``) or an unparseable schedule
  (``UnparseableSchedule``) start nothing; ``Result.requeue_after`` is the time to the next schedule time
  plus upstream's 100 ms.

The Job creates and deletes carry their events (``SuccessfulCreate`` "Created job <name>", ``FailedCreate``
"Error creating job: <error>", ``SuccessfulDelete`` "Deleted job <name>", ``FailedDelete``), which the runner
records on the CronJob once it knows the outcome.

One deliberate difference, because reconcile cannot learn a created Job's UID: a new Job enters
``status.active`` (and ``lastScheduleTime`` moves) when the informer shows it, in the next reconcile,
instead of in the same sync. A Job the controller itself named (its name matches its scheduled-timestamp
annotation) is therefore adopted into ``active`` rather than reported as ``UnexpectedJob``. Creates are
expected (``Create(expect=True)``), and nothing new starts while one is outstanding; the runner settles
the expectation by the Job's controller ownerReference.
"""

from __future__ import annotations

import datetime
import time
import zoneinfo
from collections.abc import Iterable
from typing import Any

from actors.controllers import framework as fw
from actors.controllers.job import finished_type
from kube import cron, meta

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # nextScheduleDelta: a margin against clock skew
PENDING_RETRY = 1.0  # how soon to look again while a created Job has not shown up
TOO_MANY_MISSED = 100
TOO_MANY_MISSED_MESSAGE = (
    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
)

# The Job writes' events, in upstream's words (``FailedDelete``'s "Deleted job: <error>" included).
JOB_CREATED = fw.EventTemplate(type="Normal", reason="SuccessfulCreate", message="Created job {name}")
JOB_CREATE_FAILED = fw.EventTemplate(
    type="Warning", reason="FailedCreate", message="Error creating job: {error}"
)
JOB_DELETED = fw.EventTemplate(type="Normal", reason="SuccessfulDelete", message="Deleted job {name}")
JOB_DELETE_FAILED = fw.EventTemplate(type="Warning", reason="FailedDelete", message="Deleted job: {error}")


def job_name(cronjob_name: str, scheduled: float) -> str:
    """``<cronjob>-<minutes since the epoch>`` (upstream's ``getJobName``)."""
    return f"{cronjob_name}-{int(scheduled) // 60}"


def rfc3339_in(epoch: float, zone: datetime.tzinfo) -> str:
    """Go's ``t.In(zone).Format(time.RFC3339)``: ``Z`` for UTC, else the offset."""
    text = datetime.datetime.fromtimestamp(int(epoch), tz=zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def load_zone(name: str, local: datetime.tzinfo) -> datetime.tzinfo:
    """Go's ``time.LoadLocation``: "" and "UTC" are UTC, "Local" the controller's zone; raises ValueError
    worded as Go ("unknown time zone X")."""
    if name in ("", "UTC"):
        return datetime.UTC
    if name == "Local":
        return local
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name}") from e


class _Schedule:
    """A parsed schedule driven in epoch seconds, in the zone it was parsed for."""

    def __init__(self, spec: cron.Schedule, zone: datetime.tzinfo) -> None:
        self.spec, self.zone = spec, zone

    def next(self, after: float) -> float | None:
        t = self.spec.next(datetime.datetime.fromtimestamp(after, tz=self.zone))
        return t.timestamp() if t is not None else None


def most_recent_schedule_time(
    cj: Obj, now: float, schedule: _Schedule, *, with_deadline: bool
) -> tuple[float, float | None, int, str | None]:
    """(earliest time considered, most recent unmet schedule time or None, how many were missed, error),
    as upstream's ``mostRecentScheduleTime``: the count is approximate once more than one was missed."""
    md, spec, status = cj.get("metadata") or {}, cj.get("spec") or {}, cj.get("status") or {}
    earliest = meta.parse_rfc3339(md["creationTimestamp"]) if md.get("creationTimestamp") else now
    if status.get("lastScheduleTime"):
        earliest = meta.parse_rfc3339(status["lastScheduleTime"])
    deadline = spec.get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        earliest = max(earliest, now - float(deadline))
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is not None and now < t1:
        return earliest, None, 0, None
    if t1 is not None and t2 is not None and now < t2:
        return earliest, t1, 0, None
    between = round(t2 - t1) if t1 is not None and t2 is not None else 0
    if t1 is None or between < 1:
        return earliest, None, 0, "time difference between two schedules is less than 1 second"
    missed = int(now - t1) // between + 1
    most_recent: float | None = None
    t = schedule.next(t1 + (missed - 2) * between)
    while t is not None and t <= now:
        most_recent, t = t, schedule.next(t)
    return earliest, most_recent, missed, None


def next_schedule_delay(cj: Obj, now: float, schedule: _Schedule) -> float | None:
    """Seconds until the next schedule time plus the margin (upstream's ``nextScheduleTimeDuration``)."""
    earliest, most_recent, missed, error = most_recent_schedule_time(cj, now, schedule, with_deadline=False)
    if error is not None:
        most_recent = now
    elif most_recent is None:
        most_recent = earliest if missed == 0 else now
    following = schedule.next(most_recent)
    return None if following is None else max(0.0, following + NEXT_SCHEDULE_DELTA - now)


def _ref(job: Obj) -> Obj:
    md = job.get("metadata") or {}
    return {
        "kind": "Job",
        "namespace": md.get("namespace", ""),
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
        "apiVersion": "batch/v1",
        "resourceVersion": md.get("resourceVersion", ""),
    }


def _start_order(job: Obj) -> tuple[bool, float, str]:
    """Upstream's ``byJobStartTime``: by ``startTime`` (none last), then name."""
    start = (job.get("status") or {}).get("startTime")
    return (start is None, meta.parse_rfc3339(start) if start else 0.0, job["metadata"]["name"])


class CronJobController:
    """``cronjob-controller``: see the module docstring. Keys are ``namespace/name`` of CronJobs."""

    name: str = "cronjob-controller"
    resource: str = "cronjobs"
    kind: str = "CronJob"
    watches: tuple[str, ...] = ("cronjobs", "jobs")

    def __init__(self, *, local_zone: str = "UTC") -> None:
        self.local_zone: datetime.tzinfo = load_zone(local_zone, datetime.UTC)

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: fw.Cache) -> Iterable[str]:
        if resource == "cronjobs":
            return [fw.key_of(obj)]
        return sorted({k for j in (obj, old) if j is not None and (k := fw.controller_key(j, "CronJob"))})

    def reconcile(self, key: str, cache: fw.Cache, ctx: fw.Context) -> fw.Result:
        namespace, name = fw.split_key(key)
        cached = cache.get("cronjobs", namespace, name)
        if cached is None:
            return fw.Result()
        cj = meta.deep_copy(cached)
        uid = cj["metadata"].get("uid", "")
        jobs = [
            j
            for j in cache.by_index("jobs", fw.OWNER, uid)
            if (ref := meta.controller_of(j)) is not None and ref.kind == "CronJob" and ref.name == name
        ]
        actions: list[fw.Action] = []
        events: list[fw.Action] = []
        self._cleanup_finished(cj, jobs, actions)
        requeue = self._sync(cj, jobs, cache, ctx, actions, events)
        if (cj.get("status") or {}) != (cached.get("status") or {}):
            actions.append(fw.Update(resource="cronjobs", body=cj, subresource="status"))
        return fw.Result(actions=actions + events, requeue_after=requeue)

    # -- cleanupFinishedJobs -----------------------------------------------------------------------------

    def _cleanup_finished(self, cj: Obj, jobs: list[Obj], actions: list[fw.Action]) -> None:
        spec = cj.get("spec") or {}
        for kind, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit")),
            ("Failed", spec.get("failedJobsHistoryLimit")),
        ):
            if limit is None:
                continue
            done = sorted(
                (j for j in jobs if finished_type(j) == kind and not fw.is_terminating(j)), key=_start_order
            )
            for job in done[: max(0, len(done) - int(limit))]:
                self._delete(cj, job, actions)

    def _delete(self, cj: Obj, job: Obj, actions: list[fw.Action]) -> None:
        md = job["metadata"]
        actions.append(
            fw.Delete(
                resource="jobs",
                namespace=md.get("namespace"),
                name=md["name"],
                uid=md.get("uid"),
                propagation="Background",
                owner=cj,
                on_success=JOB_DELETED,
                on_failure=JOB_DELETE_FAILED,
            )
        )
        _drop_active(cj, md.get("uid", ""))

    # -- syncCronJob -------------------------------------------------------------------------------------

    def _sync(
        self,
        cj: Obj,
        jobs: list[Obj],
        cache: fw.Cache,
        ctx: fw.Context,
        actions: list[fw.Action],
        events: list[fw.Action],
    ) -> float | None:
        md, spec = cj["metadata"], cj.get("spec") or {}
        status = cj.setdefault("status", {})

        def warn(reason: str, message: str) -> None:
            events.append(fw.Event(obj=cj, type="Warning", reason=reason, message=message))

        def note(reason: str, message: str) -> None:
            events.append(fw.Event(obj=cj, type="Normal", reason=reason, message=message))

        children = {j["metadata"].get("uid") for j in jobs}
        for job in jobs:
            juid, jname = job["metadata"].get("uid", ""), job["metadata"]["name"]
            found = any(ref.get("uid") == juid for ref in status.get("active") or [])
            kind = finished_type(job)
            scheduled = _scheduled_time(job)
            ours = scheduled is not None and jname == job_name(md["name"], scheduled)
            if scheduled is not None and ours:
                last = status.get("lastScheduleTime")  # the time's Job exists: it is scheduled
                if not last or meta.parse_rfc3339(last) < scheduled:
                    status["lastScheduleTime"] = meta.now_rfc3339(scheduled)
            if kind is None and not found:
                if ours and not fw.is_terminating(job):
                    status.setdefault("active", []).append(_ref(job))  # a Job this controller created
                elif not ours:
                    warn("UnexpectedJob", f"Saw a job that the controller did not create or forgot: {jname}")
            elif kind is not None:
                if found:
                    _drop_active(cj, juid)
                    note("SawCompletedJob", f"Saw completed job: {jname}, condition: {kind}")
                completed = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if (
                    kind == "Complete"
                    and completed
                    and (not last or meta.parse_rfc3339(completed) > meta.parse_rfc3339(last))
                ):
                    status["lastSuccessfulTime"] = completed
        for ref in list(status.get("active") or []):
            if ref.get("uid") not in children:
                note("MissingJob", f"Active job went missing: {ref.get('name')}")
                _drop_active(cj, ref.get("uid", ""))

        if md.get("deletionTimestamp"):
            return None
        zone_name = spec.get("timeZone")
        try:
            zone = load_zone(zone_name, self.local_zone) if zone_name is not None else self.local_zone
        except ValueError as e:
            warn("UnknownTimeZone", f'invalid timeZone: "{zone_name}": {e}')
            return None
        if spec.get("suspend"):
            return None
        text = str(spec.get("schedule") or "")
        if "TZ" in text:
            message = (
                f'CRON_TZ or TZ used in schedule "{text}" is not officially supported, see '
                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details"
            )
            warn("UnsupportedSchedule", message)
        try:
            schedule = _Schedule(cron.parse_standard(text), zone)
        except cron.CronError as e:
            warn("UnparseableSchedule", f'unparseable schedule: "{text}" : {e}')
            return None
        _, scheduled, missed, error = most_recent_schedule_time(cj, ctx.now, schedule, with_deadline=True)
        if scheduled is not None and missed > TOO_MANY_MISSED:
            warn("TooManyMissedTimes", TOO_MANY_MISSED_MESSAGE)
        if error is not None:
            warn("InvalidSchedule", f"invalid schedule: {text} : {error}")
            return None
        later = next_schedule_delay(cj, ctx.now, schedule)
        if scheduled is None:
            return later
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + float(deadline) < ctx.now:
            stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(scheduled))
            warn("MissSchedule", f"Missed scheduled time to start a job: {stamp}")
            return later
        name = job_name(md["name"], scheduled)
        last = status.get("lastScheduleTime")
        if any(ref.get("name") == name for ref in status.get("active") or []) or (
            last and meta.parse_rfc3339(last) == scheduled
        ):
            return later
        if not ctx.pending.satisfied:
            return PENDING_RETRY  # a created Job has not shown up yet: it joins `active` when it does
        if cache.get("jobs", md.get("namespace"), name) is not None:
            return later  # someone else's Job holds the name (upstream's AlreadyExists, not ours)
        if spec.get("concurrencyPolicy") == "Forbid" and status.get("active"):
            note(
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            return later
        if spec.get("concurrencyPolicy") == "Replace":
            by_uid = {j["metadata"].get("uid"): j for j in jobs}
            for ref in list(status.get("active") or []):
                self._delete(cj, by_uid[ref.get("uid")], actions)
        body = _job_from_template(cj, scheduled, load_zone(zone_name or "", self.local_zone))
        actions.append(
            fw.Create(
                resource="jobs",
                namespace=md.get("namespace"),
                body=body,
                expect=True,
                owner=cj,
                on_success=JOB_CREATED,
                on_failure=JOB_CREATE_FAILED,
            )
        )
        return later


def _drop_active(cj: Obj, uid: str) -> None:
    status = cj.setdefault("status", {})
    remaining = [ref for ref in status.get("active") or [] if ref.get("uid") != uid]
    if remaining:
        status["active"] = remaining
    else:
        status.pop("active", None)


def _scheduled_time(job: Obj) -> float | None:
    text = meta.annotations_of(job).get(SCHEDULED_TIMESTAMP)
    try:
        return meta.parse_rfc3339(text) if text else None
    except ValueError:
        return None


def _job_from_template(cj: Obj, scheduled: float, zone: datetime.tzinfo) -> Obj:
    """Upstream's ``getJobFromTemplate2``."""
    md = cj["metadata"]
    template = meta.deep_copy((cj.get("spec") or {}).get("jobTemplate") or {})
    tmd = template.get("metadata") or {}
    annotations = dict(tmd.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = rfc3339_in(scheduled, zone)
    owner = {
        "apiVersion": cj.get("apiVersion", "batch/v1"),
        "kind": "CronJob",
        "name": md["name"],
        "uid": md.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    job_md: Obj = {
        "name": job_name(md["name"], scheduled),
        "namespace": md.get("namespace"),
        "labels": dict(tmd.get("labels") or {}),
        "annotations": annotations,
        "creationTimestamp": meta.now_rfc3339(scheduled),
        "ownerReferences": [owner],
    }
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_md, "spec": template.get("spec") or {}}
