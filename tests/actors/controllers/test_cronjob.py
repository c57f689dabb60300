"""The CronJob controller as a user sees it: Jobs appear at schedule times with upstream's names and
annotations, concurrency policies hold, history is trimmed, and bad schedules or zones are reported.

The pure controller runs against a ``DictCache``; its actions are applied by a tiny in-test apiserver and
the clock moves only when a test moves it."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest

from actors.controllers import cronjob as cronctl
from actors.controllers import framework as fw
from kube import meta

CREATED = meta.parse_rfc3339("2023-11-14T22:13:20Z")
Obj = dict[str, Any]


def at(text: str) -> float:
    return meta.parse_rfc3339(text)


def make_cronjob(schedule: str = "* * * * *", **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": "hello",
            "namespace": "default",
            "uid": "uid-hello",
            "resourceVersion": "1",
            "creationTimestamp": meta.now_rfc3339(CREATED),
        },
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"labels": {"app": "hello"}, "annotations": {"team": "a"}},
                "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c"}]}}},
            },
            **spec,
        },
    }


@dataclasses.dataclass
class Sim:
    cache: fw.DictCache
    controller: cronctl.CronJobController = dataclasses.field(default_factory=cronctl.CronJobController)
    now: float = CREATED
    events: list[fw.Event] = dataclasses.field(default_factory=list)
    rv: int = 10

    def reconcile(self, pending: fw.Pending | None = None) -> fw.Result:
        ctx = fw.Context(now=self.now, pending=pending or fw.Pending())
        result = self.controller.reconcile("default/hello", self.cache, ctx)
        for action in result.actions:
            self.apply(action)
        return result

    def apply(self, action: fw.Action) -> None:
        self.rv += 1
        if isinstance(action, fw.Event):
            self.events.append(action)
        elif isinstance(action, fw.Create):
            body = meta.deep_copy(action.body)
            assert self.cache.get("jobs", "default", body["metadata"]["name"]) is None, "AlreadyExists"
            body["metadata"].update(uid=f"uid-{body['metadata']['name']}", resourceVersion=str(self.rv))
            body["metadata"]["creationTimestamp"] = meta.now_rfc3339(self.now)
            body["status"] = {"startTime": meta.now_rfc3339(self.now)}
            self.cache.put("jobs", body)
            self.events.extend(e for e in [fw.success_event(action, body["metadata"]["name"])] if e)
        elif isinstance(action, fw.Delete):
            assert action.propagation == "Background"
            obj = self.cache.get("jobs", action.namespace, action.name)
            assert obj is not None
            self.cache.remove("jobs", obj)
            self.events.extend(e for e in [fw.success_event(action, action.name)] if e)
        elif isinstance(action, fw.Update):
            current = self.cronjob()
            assert current["metadata"]["resourceVersion"] == action.body["metadata"]["resourceVersion"]
            current["status"] = meta.deep_copy(action.body["status"])
            current["metadata"]["resourceVersion"] = str(self.rv)
        else:
            raise AssertionError(action)

    def cronjob(self) -> Obj:
        cj = self.cache.get("cronjobs", "default", "hello")
        assert cj is not None
        return cj

    def jobs(self) -> list[Obj]:
        return self.cache.objects("jobs", "default")

    def finish(self, job: Obj, kind: str = "Complete") -> None:
        stamp = meta.now_rfc3339(self.now)
        job["status"]["conditions"] = [{"type": kind, "status": "True", "lastTransitionTime": stamp}]
        if kind == "Complete":
            job["status"]["completionTime"] = stamp
        self.rv += 1
        job["metadata"]["resourceVersion"] = str(self.rv)

    def said(self, reason: str) -> list[str]:
        return [e.message for e in self.events if e.reason == reason]


def new_sim(cj: Obj, **kw: Any) -> Sim:
    return Sim(cache=fw.DictCache({"cronjobs": [cj]}), **kw)


def minutes(text: str) -> int:
    return int(at(text)) // 60


def test_every_minute_creates_jobs_named_by_their_scheduled_minute() -> None:
    sim = new_sim(make_cronjob())
    sim.now = CREATED + 5
    first = sim.reconcile()
    assert first.actions == [] and first.requeue_after == pytest.approx(
        at("2023-11-14T22:14:00Z") + 0.1 - sim.now
    )
    sim.now = at("2023-11-14T22:14:00Z") + 0.1
    created = sim.reconcile()
    name = f"hello-{minutes('2023-11-14T22:14:00Z')}"
    (job,) = sim.jobs()
    md = job["metadata"]
    assert md["name"] == name
    assert md["labels"] == {"app": "hello"}
    assert md["annotations"] == {"team": "a", cronctl.SCHEDULED_TIMESTAMP: "2023-11-14T22:14:00Z"}
    assert md["ownerReferences"][0] == {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "name": "hello",
        "uid": "uid-hello",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert sim.said("SuccessfulCreate") == [f"Created job {name}"]
    (create,) = [a for a in created.actions if isinstance(a, fw.Create)]
    refused = fw.failure_event(create, 'jobs.batch "x" is forbidden: exceeded quota', reason="Forbidden")
    assert refused is not None and (refused.type, refused.reason, refused.message) == (
        "Warning",
        "FailedCreate",
        'Error creating job: jobs.batch "x" is forbidden: exceeded quota',
    )
    assert created.requeue_after == pytest.approx(60.0)
    sim.reconcile()  # the informer shows the Job: it joins `active`
    status = sim.cronjob()["status"]
    assert status["lastScheduleTime"] == "2023-11-14T22:14:00Z"
    assert [(r["name"], r["uid"], r["kind"]) for r in status["active"]] == [(name, f"uid-{name}", "Job")]
    sim.now += 60
    sim.reconcile()
    assert len(sim.jobs()) == 2  # Allow: the first still runs


def test_nothing_is_created_twice_while_a_create_is_outstanding() -> None:
    sim = new_sim(make_cronjob())
    sim.now = at("2023-11-14T22:14:30Z")
    waiting = sim.reconcile(pending=fw.Pending(adds=1))
    assert waiting.actions == [] and waiting.requeue_after == cronctl.PENDING_RETRY
    sim.reconcile()
    again = sim.reconcile()
    assert [a for a in again.actions if isinstance(a, fw.Create)] == [] and len(sim.jobs()) == 1


def test_a_job_finished_before_it_was_seen_still_counts_as_scheduled() -> None:
    sim = new_sim(make_cronjob())
    sim.now = at("2023-11-14T22:14:00Z")
    sim.reconcile()
    sim.finish(sim.jobs()[0])
    result = sim.reconcile()
    status = sim.cronjob()["status"]
    assert status["lastScheduleTime"] == "2023-11-14T22:14:00Z" and "active" not in status
    assert status["lastSuccessfulTime"] == "2023-11-14T22:14:00Z"
    assert result.requeue_after == pytest.approx(60.1) and len(sim.jobs()) == 1


def test_forbid_skips_while_a_job_runs_then_resumes() -> None:
    sim = new_sim(make_cronjob(concurrencyPolicy="Forbid"))
    sim.now = at("2023-11-14T22:14:00Z")
    sim.reconcile()
    sim.reconcile()
    sim.now = at("2023-11-14T22:15:00Z")
    sim.reconcile()
    assert len(sim.jobs()) == 1
    assert sim.said("JobAlreadyActive") == [
        "Not starting job because prior execution is running and concurrency policy is Forbid"
    ]
    sim.now = at("2023-11-14T22:15:30Z")
    (job,) = sim.jobs()
    sim.finish(job)
    sim.reconcile()
    assert sim.said("SawCompletedJob") == [
        f"Saw completed job: {job['metadata']['name']}, condition: Complete"
    ]
    assert sim.cronjob()["status"]["lastSuccessfulTime"] == "2023-11-14T22:15:30Z"
    assert f"hello-{minutes('2023-11-14T22:15:00Z')}" in [j["metadata"]["name"] for j in sim.jobs()]


def test_replace_deletes_the_running_job_and_starts_a_new_one() -> None:
    sim = new_sim(make_cronjob(concurrencyPolicy="Replace"))
    sim.now = at("2023-11-14T22:14:00Z")
    sim.reconcile()
    sim.reconcile()
    old = sim.jobs()[0]["metadata"]["name"]
    sim.now = at("2023-11-14T22:15:00Z")
    sim.reconcile()
    new = f"hello-{minutes('2023-11-14T22:15:00Z')}"
    assert [j["metadata"]["name"] for j in sim.jobs()] == [new]
    assert sim.said("SuccessfulDelete") == [f"Deleted job {old}"]
    sim.reconcile()
    assert [r["name"] for r in sim.cronjob()["status"]["active"]] == [new]
    assert sim.said("MissingJob") == []


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    sim = new_sim(make_cronjob(suspend=True))
    for minute in range(7):
        sim.now = at("2023-11-14T22:14:00Z") + 60 * minute
        name = f"hello-{int(sim.now) // 60}"
        job = {
            "metadata": {
                "name": name,
                "namespace": "default",
                "uid": f"uid-{name}",
                "annotations": {cronctl.SCHEDULED_TIMESTAMP: meta.now_rfc3339(sim.now)},
                "ownerReferences": [
                    {"kind": "CronJob", "name": "hello", "uid": "uid-hello", "controller": True}
                ],
            },
            "status": {"startTime": meta.now_rfc3339(sim.now)},
        }
        sim.cache.put("jobs", job)
        sim.finish(job, "Failed" if minute in (1, 4) else "Complete")
    sim.reconcile()
    left = [j["metadata"]["name"] for j in sim.jobs()]
    minute0 = minutes("2023-11-14T22:14:00Z")
    # Complete at minutes 0, 2, 3, 5, 6 keep the newest 3; Failed at 1 and 4 keep the newest 1
    assert left == [f"hello-{minute0 + m}" for m in (3, 4, 5, 6)]
    assert len(sim.said("SuccessfulDelete")) == 3


def test_invalid_time_zone_starts_nothing_and_warns() -> None:
    sim = new_sim(make_cronjob(timeZone="Mars/Olympus"))
    sim.now = at("2023-11-14T22:20:00Z")
    result = sim.reconcile()
    assert result.requeue_after is None and sim.jobs() == []
    (event,) = [e for e in sim.events if e.reason == "UnknownTimeZone"]
    assert (event.type, event.message) == (
        "Warning",
        'invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus',
    )


def test_time_zone_drives_the_schedule_and_the_annotation() -> None:
    sim = new_sim(make_cronjob("0 9 * * *", timeZone="America/New_York"))
    sim.now = at("2023-11-15T13:59:00Z")
    assert sim.reconcile().requeue_after == pytest.approx(60.1)
    sim.now = at("2023-11-15T14:00:00Z")
    sim.reconcile()
    (job,) = sim.jobs()
    assert job["metadata"]["annotations"][cronctl.SCHEDULED_TIMESTAMP] == "2023-11-15T09:00:00-05:00"
    assert job["metadata"]["name"] == f"hello-{minutes('2023-11-15T14:00:00Z')}"


def test_too_many_missed_start_times_warns_and_runs_the_latest() -> None:
    sim = new_sim(make_cronjob())
    sim.now = CREATED + 3 * 3600 + 10
    sim.reconcile()
    assert sim.said("TooManyMissedTimes") == [cronctl.TOO_MANY_MISSED_MESSAGE]
    (job,) = sim.jobs()
    assert job["metadata"]["annotations"][cronctl.SCHEDULED_TIMESTAMP] == "2023-11-15T01:13:00Z"


def test_starting_deadline_skips_schedule_times_too_old_to_start() -> None:
    sim = new_sim(make_cronjob("*/5 * * * *", startingDeadlineSeconds=30))
    sim.now = at("2023-11-14T22:20:45Z")
    late = sim.reconcile()
    assert sim.jobs() == [] and late.requeue_after == pytest.approx(
        at("2023-11-14T22:25:00Z") + 0.1 - sim.now
    )
    sim.now = at("2023-11-14T22:25:20Z")
    sim.reconcile()
    assert [j["metadata"]["name"] for j in sim.jobs()] == [f"hello-{minutes('2023-11-14T22:25:00Z')}"]


def test_suspended_cronjob_starts_nothing() -> None:
    sim = new_sim(make_cronjob(suspend=True))
    sim.now = at("2023-11-14T22:30:00Z")
    assert sim.reconcile() == fw.Result(actions=[], requeue_after=None) and sim.jobs() == []


@pytest.mark.parametrize(
    ("schedule", "reason", "message"),
    [
        (
            "bogus",
            "UnparseableSchedule",
            'unparseable schedule: "bogus" : expected exactly 5 fields, found 1: [bogus]',
        ),
        (
            "59 23 31 2 *",
            "InvalidSchedule",
            "invalid schedule: 59 23 31 2 * : time difference between two schedules is less than 1 second",
        ),
    ],
    ids=["unparseable", "never"],
)
def test_bad_schedules_are_reported(schedule: str, reason: str, message: str) -> None:
    sim = new_sim(make_cronjob(schedule))
    sim.now = at("2023-11-14T22:30:00Z")
    assert sim.reconcile().requeue_after is None
    assert sim.said(reason) == [message] and sim.jobs() == []


def test_unexpected_and_missing_jobs_are_reported() -> None:
    cj = make_cronjob(suspend=True)
    cj["status"] = {"active": [{"kind": "Job", "name": "gone", "namespace": "default", "uid": "uid-gone"}]}
    sim = new_sim(cj)
    stranger = {
        "metadata": {
            "name": "adopted",
            "namespace": "default",
            "uid": "uid-adopted",
            "ownerReferences": [{"kind": "CronJob", "name": "hello", "uid": "uid-hello", "controller": True}],
        },
        "status": {},
    }
    sim.cache.put("jobs", stranger)
    sim.reconcile()
    assert sim.said("UnexpectedJob") == ["Saw a job that the controller did not create or forgot: adopted"]
    assert sim.said("MissingJob") == ["Active job went missing: gone"]
    assert "active" not in sim.cronjob()["status"]


def test_keys_for_jobs_map_to_their_cronjob() -> None:
    controller = cronctl.CronJobController()
    job = {
        "metadata": {
            "namespace": "default",
            "ownerReferences": [{"kind": "CronJob", "name": "hello", "controller": True}],
        }
    }
    assert list(controller.keys_for("jobs", job, None, fw.DictCache())) == ["default/hello"]
    assert (
        list(controller.keys_for("jobs", {"metadata": {"namespace": "default"}}, None, fw.DictCache())) == []
    )


@pytest.mark.parametrize(
    ("epoch", "zone", "expected"),
    [
        (at("2023-11-14T22:14:00Z"), "UTC", "2023-11-14T22:14:00Z"),
        (at("2023-07-01T12:00:00Z"), "Europe/Berlin", "2023-07-01T14:00:00+02:00"),
    ],
    ids=["utc", "offset"],
)
def test_scheduled_timestamp_is_rfc3339_in_the_zone(epoch: float, zone: str, expected: str) -> None:
    assert cronctl.rfc3339_in(epoch, cronctl.load_zone(zone, datetime.UTC)) == expected
