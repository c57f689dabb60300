"""The Job controller as a user sees it: pods come and go within ``parallelism``, finished pods are counted
through the tracking finalizer, and the Job ends Complete or Failed with upstream's conditions and events.

Each scenario runs the pure controller against a ``DictCache``: the actions it returns are applied to the
cache by a tiny in-test apiserver (``Sim``), a tiny kubelet finishes pods on request, and time moves only
when a test moves it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actors.controllers import framework as fw
from actors.controllers import job as jobctl
from actors.controllers import job_backoff, job_indexed, job_pods
from kube import defaults, kinds, meta

T0 = 1_700_000_000.0
Obj = dict[str, Any]


def make_job(name: str = "pi", **spec: Any) -> Obj:
    job: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "1"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "perl"}]}
            },
            **spec,
        },
    }
    kind = kinds.DEFAULT.by_kind("batch/v1", "Job")
    assert kind is not None
    defaults.default(kind, job)
    defaults.prepare_for_create(kind, job)
    return job


@dataclasses.dataclass
class Sim:
    """An apiserver and kubelet small enough to read: applies actions, finishes pods, keeps the events."""

    controller: Any
    cache: fw.DictCache
    now: float = T0
    events: list[fw.Event] = dataclasses.field(default_factory=list)
    results: list[fw.Result] = dataclasses.field(default_factory=list)
    serial: int = 0
    rv: int = 10

    def reconcile(self, key: str = "default/pi") -> fw.Result:
        result: fw.Result = self.controller.reconcile(key, self.cache, fw.Context(now=self.now))
        self.results.append(result)
        for action in result.actions:
            self.apply(action)
        return result

    def settle(self, key: str = "default/pi", rounds: int = 12) -> fw.Result:
        """Reconcile until a round writes nothing (events aside)."""
        for _ in range(rounds):
            result = self.reconcile(key)
            if all(isinstance(a, fw.Event) for a in result.actions):
                return result
        raise AssertionError("the controller never settled")

    def bump(self, obj: Obj) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def apply(self, action: fw.Action) -> None:
        if isinstance(action, fw.Event):
            self.events.append(action)
        elif isinstance(action, fw.Create):
            body = meta.deep_copy(action.body)
            md = body["metadata"]
            self.serial += 1
            md.setdefault("name", f"{md.get('generateName', '')}{self.serial:05d}")
            md["uid"] = f"uid-{md['name']}"
            md["creationTimestamp"] = meta.now_rfc3339(self.now)
            body.setdefault("status", {"phase": "Pending"} if action.resource == "pods" else {})
            self.bump(body)
            self.cache.put(action.resource, body)
            self.events.extend(e for e in [fw.success_event(action, md["name"])] if e is not None)
        elif isinstance(action, fw.Delete):
            obj = self.cache.get(action.resource, action.namespace, action.name)
            if obj is None or (action.uid and obj["metadata"]["uid"] != action.uid):
                return
            self.events.extend(e for e in [fw.success_event(action, action.name)] if e is not None)
            if obj["metadata"].get("finalizers"):
                obj["metadata"].setdefault("deletionTimestamp", meta.now_rfc3339(self.now))
                self.bump(obj)
            else:
                self.cache.remove(action.resource, obj)
        elif isinstance(action, fw.Patch):
            obj = self.cache.get(action.resource, action.namespace, action.name)
            assert obj is not None, action
            drop = action.patch["metadata"]["$deleteFromPrimitiveList/finalizers"]
            obj["metadata"]["finalizers"] = [
                f for f in obj["metadata"].get("finalizers", []) if f not in drop
            ]
            self.bump(obj)
            self.gc(action.resource, obj)
        elif isinstance(action, fw.Update):
            body = meta.deep_copy(action.body)
            current = self.cache.get(
                action.resource, body["metadata"].get("namespace"), body["metadata"]["name"]
            )
            assert current is not None
            if current["metadata"]["resourceVersion"] != body["metadata"]["resourceVersion"]:
                return  # a conflict: the controller retries from the cache
            current["status"] = body["status"]
            self.bump(current)

    def gc(self, resource: str, obj: Obj) -> None:
        if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
            self.cache.remove(resource, obj)

    # -- the kubelet's side --------------------------------------------------------------------------

    def pods(self) -> list[Obj]:
        return self.cache.objects("pods", "default")

    def active(self) -> list[Obj]:
        return [p for p in self.pods() if fw.is_pod_active(p)]

    def run(self, pod: Obj) -> None:
        pod["status"] = {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": meta.now_rfc3339(self.now)}
            ],
            "containerStatuses": [{"name": "main", "restartCount": 0, "state": {"running": {}}}],
        }
        self.bump(pod)

    def finish(self, pod: Obj, exit_code: int = 0, conditions: list[Obj] | None = None) -> None:
        terminated = {"exitCode": exit_code, "finishedAt": meta.now_rfc3339(self.now)}
        pod["status"] = {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": meta.now_rfc3339(self.now)},
                *(conditions or []),
            ],
            "containerStatuses": [{"name": "main", "restartCount": 0, "state": {"terminated": terminated}}],
        }
        self.bump(pod)

    def kill_terminating(self) -> None:
        """Pods being deleted stop: they turn Failed and go once their finalizers are gone."""
        for pod in self.pods():
            if pod["metadata"].get("deletionTimestamp") and pod["status"].get("phase") not in (
                "Succeeded",
                "Failed",
            ):
                self.finish(pod, exit_code=137)
            self.gc("pods", pod)

    def job(self, name: str = "pi") -> Obj:
        job = self.cache.get("jobs", "default", name)
        assert job is not None
        return job

    def reasons(self) -> list[str]:
        return [e.reason for e in self.events]


def conditions(job: Obj) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in job["status"].get("conditions", [])}


def new_sim(job: Obj, controller: Any | None = None) -> Sim:
    return Sim(controller=controller or jobctl.JobController(), cache=fw.DictCache({"jobs": [job]}))


# -- scenarios ---------------------------------------------------------------------------------------------


def test_parallel_job_never_exceeds_parallelism_and_completes() -> None:
    sim = new_sim(make_job(completions=5, parallelism=2))
    most_active = 0
    for _ in range(30):
        sim.reconcile()
        most_active = max(most_active, len(sim.active()))
        for pod in sim.active():
            sim.run(pod)
        if running := [p for p in sim.active() if p["status"]["phase"] == "Running"]:
            sim.finish(running[0])  # one pod finishes per round
        sim.now += 5
        if jobctl.finished_type(sim.job()):
            break
    status = sim.job()["status"]
    assert most_active == 2
    assert conditions(sim.job())["SuccessCriteriaMet"] == ("True", "CompletionsReached")
    assert conditions(sim.job())["Complete"] == ("True", "CompletionsReached")
    assert status["succeeded"] == 5 and "active" not in status and status["completionTime"]
    assert status["uncountedTerminatedPods"] == {} and status["ready"] == 0 and status["terminating"] == 0
    assert [e.message for e in sim.events if e.reason == "Completed"] == ["Job completed"]
    assert len(sim.pods()) == 5 and not any(job_pods.has_finalizer(p) for p in sim.pods())
    created = [e.message for e in sim.events if e.reason == "SuccessfulCreate"]
    assert sorted(created) == sorted(f"Created pod: {p['metadata']['name']}" for p in sim.pods())


def test_pods_come_from_the_template_with_tracking_finalizer_and_owner() -> None:
    sim = new_sim(make_job(completions=1, parallelism=1))
    sim.reconcile()
    (pod,) = sim.pods()
    md = pod["metadata"]
    assert md["generateName"] == "pi-"
    assert md["finalizers"] == [job_pods.TRACKING_FINALIZER]
    assert md["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "pi",
            "uid": "uid-pi",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert md["labels"] == {
        "batch.kubernetes.io/controller-uid": "uid-pi",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "uid-pi",
        "job-name": "pi",
    }
    status = sim.job()["status"]
    assert status["active"] == 1 and status["startTime"] == meta.now_rfc3339(T0)


def test_finished_pod_is_counted_before_its_finalizer_goes() -> None:
    sim = new_sim(make_job(completions=2, parallelism=1))
    sim.reconcile()
    (pod,) = sim.pods()
    sim.finish(pod)
    sim.reconcile()  # records the UID as uncounted, creates the next pod
    assert sim.job()["status"]["uncountedTerminatedPods"] == {"succeeded": [pod["metadata"]["uid"]]}
    assert job_pods.has_finalizer(pod)
    sim.reconcile()  # the status is in the cache now: the finalizer goes
    assert not job_pods.has_finalizer(pod)
    sim.reconcile()  # and the pod is counted
    assert sim.job()["status"]["succeeded"] == 1 and sim.job()["status"]["uncountedTerminatedPods"] == {}


def test_reconcile_is_idempotent() -> None:
    job = make_job(completions=3, parallelism=3)
    sim = new_sim(job)
    first = sim.controller.reconcile("default/pi", sim.cache, fw.Context(now=T0))
    again = sim.controller.reconcile("default/pi", sim.cache, fw.Context(now=T0))
    assert first.actions == again.actions
    sim.settle()
    assert sim.settle().actions == []


def test_backoff_limit_exceeded_fails_the_job_after_backoff_delays() -> None:
    sim = new_sim(make_job(completions=1, parallelism=1, backoffLimit=2))
    delays = []
    for _ in range(3):
        sim.settle()
        (pod,) = sim.active()
        sim.now += 1
        sim.finish(pod, exit_code=1)
        result = sim.settle()
        delays.append(result.requeue_after)
        if result.requeue_after:
            sim.now += result.requeue_after
    job = sim.job()
    assert delays[:2] == [10.0, 20.0]
    assert conditions(job)["FailureTarget"] == ("True", "BackoffLimitExceeded")
    assert conditions(job)["Failed"] == ("True", "BackoffLimitExceeded")
    assert job["status"]["failed"] == 3 and "completionTime" not in job["status"]
    (failed,) = [e for e in sim.events if e.reason == "BackoffLimitExceeded"]
    assert (failed.type, failed.message) == ("Warning", "Job has reached the specified backoff limit")


def test_backoff_waits_before_recreating_a_failed_pod() -> None:
    sim = new_sim(make_job(completions=1, parallelism=1))
    sim.settle()
    (pod,) = sim.pods()
    sim.finish(pod, exit_code=1)
    result = sim.settle()
    assert result.requeue_after == 10.0 and sim.active() == []
    sim.now += 10
    sim.settle()
    assert len(sim.active()) == 1


def test_indexed_job_gives_each_pod_an_index_and_reports_completed_indexes() -> None:
    sim = new_sim(make_job("idx", completions=4, parallelism=2, completionMode="Indexed"))
    sim.reconcile("default/idx")
    pods = sorted(sim.pods(), key=job_indexed.completion_index)
    assert [job_indexed.completion_index(p) for p in pods] == [0, 1]
    zero = pods[0]
    assert zero["metadata"]["generateName"] == "idx-0-"
    assert zero["metadata"]["labels"][job_indexed.COMPLETION_INDEX] == "0"
    assert zero["spec"]["hostname"] == "idx-0"
    assert zero["spec"]["containers"][0]["env"] == [
        {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}
            },
        }
    ]
    seen = []
    for index in (1, 0, 3, 2):
        sim.settle("default/idx")
        (pod,) = [p for p in sim.active() if job_indexed.completion_index(p) == index]
        sim.finish(pod)
        sim.settle("default/idx")
        seen.append(sim.job("idx")["status"].get("completedIndexes"))
    assert seen == ["1", "0,1", "0,1,3", "0-3"]
    assert conditions(sim.job("idx"))["Complete"][0] == "True"
    assert sim.job("idx")["status"]["succeeded"] == 4


def test_active_deadline_fails_the_job_and_deletes_its_pods() -> None:
    sim = new_sim(make_job(completions=2, parallelism=2, activeDeadlineSeconds=30))
    first = sim.reconcile()
    assert first.requeue_after == 30.0
    for pod in sim.pods():
        sim.run(pod)
    sim.now += 30
    sim.reconcile()
    job = sim.job()
    assert conditions(job) == {"FailureTarget": ("True", "DeadlineExceeded")}
    assert all(p["metadata"].get("deletionTimestamp") for p in sim.pods())
    assert job["status"]["terminating"] == 2 and "active" not in job["status"]
    sim.kill_terminating()
    sim.settle()
    sim.kill_terminating()
    sim.settle()
    job = sim.job()
    assert conditions(job)["Failed"] == ("True", "DeadlineExceeded")
    assert job["status"]["failed"] == 2 and sim.pods() == []
    (event,) = [e for e in sim.events if e.reason == "DeadlineExceeded"]
    assert event.message == "Job was active longer than specified deadline"


def test_suspend_deletes_active_pods_uncounted_and_resume_restarts() -> None:
    sim = new_sim(make_job(completions=2, parallelism=2, suspend=True))
    sim.settle()
    assert sim.pods() == [] and conditions(sim.job())["Suspended"] == ("True", "JobSuspended")
    assert "startTime" not in sim.job()["status"]
    sim.job()["spec"]["suspend"] = False
    sim.now += 100
    sim.settle()
    assert len(sim.active()) == 2 and conditions(sim.job())["Suspended"] == ("False", "JobResumed")
    assert sim.job()["status"]["startTime"] == meta.now_rfc3339(T0 + 100)
    sim.job()["spec"]["suspend"] = True
    sim.settle()
    sim.kill_terminating()
    sim.settle()
    assert sim.pods() == [] and "failed" not in sim.job()["status"]
    made = ["SuccessfulCreate", "SuccessfulCreate"]
    assert sim.reasons() == [
        "Suspended",
        *made,
        "Resumed",
        "SuccessfulDelete",
        "SuccessfulDelete",
        "Suspended",
    ]


def test_work_queue_job_stops_creating_after_first_success() -> None:
    sim = new_sim(make_job(parallelism=3))
    assert sim.job()["spec"].get("completions") is None
    sim.settle()
    first, *others = sim.pods()
    sim.finish(first)
    sim.settle()
    assert len(sim.active()) == 2  # no replacement once one succeeded
    for pod in others:
        sim.finish(pod)
    sim.settle()
    assert conditions(sim.job())["Complete"][0] == "True" and sim.job()["status"]["succeeded"] == 3


def test_pod_failure_policy_fail_job_on_exit_code() -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    sim = new_sim(make_job(completions=1, parallelism=1, podFailurePolicy=policy))
    sim.settle()
    (pod,) = sim.pods()
    sim.finish(pod, exit_code=42)
    sim.settle()
    job = sim.job()
    assert conditions(job)["Failed"] == ("True", "PodFailurePolicy")
    name = pod["metadata"]["name"]
    message = (
        f"Container main for pod default/{name} failed with exit code 42 matching FailJob rule at index 0"
    )
    assert [c["message"] for c in job["status"]["conditions"] if c["type"] == "Failed"] == [message]


def test_pod_failure_policy_ignores_disruptions() -> None:
    policy = {
        "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
    }
    sim = new_sim(make_job(completions=1, parallelism=1, backoffLimit=0, podFailurePolicy=policy))
    sim.settle()
    (pod,) = sim.pods()
    sim.finish(pod, exit_code=137, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    result = sim.settle()
    assert "failed" not in sim.job()["status"] and jobctl.finished_type(sim.job()) is None
    assert result.requeue_after == 10.0  # as upstream, an ignored failure still backs off
    sim.now += 10
    sim.settle()
    assert len(sim.active()) == 1 and jobctl.finished_type(sim.job()) is None


def test_evicted_running_pod_counts_as_failed_and_is_replaced() -> None:
    sim = new_sim(make_job(completions=1, parallelism=1))
    sim.settle()
    (pod,) = sim.pods()
    sim.run(pod)
    sim.apply(fw.Delete(resource="pods", namespace="default", name=pod["metadata"]["name"]))
    result = sim.settle()
    assert sim.job()["status"]["failed"] == 1 and result.requeue_after == 10.0
    sim.now += 10
    sim.settle()
    (replacement,) = sim.active()
    assert replacement is not pod


def test_lower_parallelism_deletes_the_excess_pods_uncounted() -> None:
    sim = new_sim(make_job(completions=4, parallelism=3))
    sim.settle()
    sim.run(sim.pods()[0])  # a running pod is kept before pending ones
    sim.job()["spec"]["parallelism"] = 1
    names = [p["metadata"]["name"] for p in sim.pods()]
    result = sim.reconcile()
    kinds_and_names = [(type(a).__name__, getattr(a, "name", "")) for a in result.actions[:4]]
    assert kinds_and_names == [
        ("Patch", names[1]),
        ("Patch", names[2]),
        ("Delete", names[1]),
        ("Delete", names[2]),
    ]
    sim.kill_terminating()
    sim.settle()
    assert [p["metadata"]["name"] for p in sim.active()] == names[:1] and "failed" not in sim.job()["status"]


def test_deleted_job_releases_its_pods_finalizers() -> None:
    sim = new_sim(make_job(completions=1, parallelism=1))
    sim.settle()
    sim.cache.remove("jobs", sim.job())
    result = sim.reconcile()
    assert [a.name for a in result.actions if isinstance(a, fw.Patch)] == [sim.pods()[0]["metadata"]["name"]]


def test_unknown_completion_mode_is_skipped_with_a_warning() -> None:
    sim = new_sim(make_job(completions=1, completionMode="Sometimes"))
    result = sim.reconcile()
    assert [(a.reason, a.message) for a in result.actions if isinstance(a, fw.Event)] == [
        ("UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
    ]
    assert sim.pods() == []


def test_keys_for_pods_map_to_their_job() -> None:
    controller = jobctl.JobController()
    sim = new_sim(make_job(completions=1))
    sim.reconcile()
    (pod,) = sim.pods()
    assert list(controller.keys_for("pods", pod, None, sim.cache)) == ["default/pi"]
    orphan = meta.deep_copy(pod)
    orphan["metadata"]["ownerReferences"] = []
    assert list(controller.keys_for("pods", orphan, None, sim.cache)) == ["default/pi"]


# -- the pieces --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "completions", "added", "expected"),
    [
        ("", 10, [0, 1, 2, 5], "0-2,5"),
        ("0-2,5", 10, [3, 4], "0-5"),
        ("1", 10, [0], "0,1"),
        ("0,1", 10, [3], "0,1,3"),
        ("0-8", 5, [], "0-4"),  # completions scaled down
        ("x,3", 10, [], "3"),  # corrupt intervals are ignored
    ],
    ids=["compress", "merge", "pair", "pair-and-one", "clipped", "corrupt"],
)
def test_completed_indexes_text(text: str, completions: int, added: list[int], expected: str) -> None:
    intervals = job_indexed.with_indexes(job_indexed.parse_intervals(text, completions), added)
    assert job_indexed.intervals_text(intervals) == expected


def test_first_pending_indexes_skip_done_and_active() -> None:
    active = [{"metadata": {"annotations": {job_indexed.COMPLETION_INDEX: "1"}}}]
    assert job_indexed.first_pending_indexes(active, [(0, 0), (3, 4)], 3, 8) == [2, 5, 6]
    assert job_indexed.first_pending_indexes([], [(0, 2)], 5, 3) == []


def test_backoff_doubles_and_is_capped() -> None:
    record = job_backoff.BackoffRecord(failures=1, last_failure=T0)
    assert record.remaining(T0) == 10.0
    record.failures = 3
    assert record.remaining(T0 + 5) == 35.0
    record.failures = 20
    assert record.remaining(T0) == job_backoff.MAX_BACKOFF


# -- TTL after finished ------------------------------------------------------------------------------------


def test_ttl_after_finished_deletes_the_job_in_foreground_once_expired() -> None:
    job = make_job(completions=1, ttlSecondsAfterFinished=100)
    job["status"] = {
        "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": meta.now_rfc3339(T0)}]
    }
    controller = jobctl.TTLAfterFinishedController()
    cache = fw.DictCache({"jobs": [job]})
    assert list(controller.keys_for("jobs", job, None, cache)) == ["default/pi"]
    early = controller.reconcile("default/pi", cache, fw.Context(now=T0 + 40))
    assert (early.actions, early.requeue_after) == ([], 60.0)
    late = controller.reconcile("default/pi", cache, fw.Context(now=T0 + 100))
    assert late.actions == [
        fw.Delete(resource="jobs", namespace="default", name="pi", uid="uid-pi", propagation="Foreground")
    ]


def test_ttl_ignores_unfinished_jobs() -> None:
    job = make_job(completions=1, ttlSecondsAfterFinished=0)
    controller = jobctl.TTLAfterFinishedController()
    cache = fw.DictCache({"jobs": [job]})
    assert list(controller.keys_for("jobs", job, None, cache)) == []
    assert controller.reconcile("default/pi", cache, fw.Context(now=T0)) == fw.Result()


def test_outstanding_creates_hold_back_new_pods() -> None:
    sim = new_sim(make_job(completions=3, parallelism=3))
    result = sim.controller.reconcile("default/pi", sim.cache, fw.Context(now=T0, pending=fw.Pending(adds=2)))
    assert [a for a in result.actions if isinstance(a, fw.Create)] == []


def test_container_restarts_under_on_failure_count_toward_the_backoff_limit() -> None:
    job = make_job(completions=1, parallelism=1, backoffLimit=2)
    job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    sim = new_sim(job)
    sim.settle()
    (pod,) = sim.pods()
    sim.run(pod)
    pod["status"]["containerStatuses"][0]["restartCount"] = 2
    sim.reconcile()
    assert conditions(sim.job())["FailureTarget"] == ("True", "BackoffLimitExceeded")
    assert pod["metadata"].get("deletionTimestamp")
