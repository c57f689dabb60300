"""The emulated container engine on a manual timeline: what a pod's containers do and the status the
kubelet reports, for ordinary manifests."""

from __future__ import annotations

from typing import Any

import pytest

from actors.kubelet import engine
from actors.kubelet.engine import FOREVER, ImageCache, PodRun

T0 = 1_700_000_000.0


def pod(
    *containers: dict[str, Any],
    restart: str = "Always",
    init: tuple[dict[str, Any], ...] = (),
    grace: int = 30,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": list(containers),
        "restartPolicy": restart,
        "terminationGracePeriodSeconds": grace,
    }
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1"}, "spec": spec}


def container(name: str = "app", *command: str, image: str = "busybox:1.36", **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image, **extra}
    if command:
        c["command"] = list(command)
    return c


def state(run: PodRun, at: float, which: str = "containerStatuses", index: int = 0) -> dict[str, Any]:
    run.advance(at)
    status = run.status(at, pod_ip="10.244.1.2", host_ip="172.18.0.2")
    found: dict[str, Any] = status[which][index]
    return found


def phase(run: PodRun, at: float) -> str:
    run.advance(at)
    return str(run.status(at, pod_ip="", host_ip="")["phase"])


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), engine.Behaviour(FOREVER)),
        (("sleep", "5"), engine.Behaviour(5.0, 0, handles_sigterm=False)),
        (("sh", "-c", "sleep 2; exit 3"), engine.Behaviour(2.0, 3, handles_sigterm=False)),
        (("sh", "-c", "exit 1"), engine.Behaviour(0.0, 1)),
        (("true",), engine.Behaviour(0.0, 0)),
        (("false",), engine.Behaviour(0.0, 1)),
        (("nginx", "-g", "daemon off;"), engine.Behaviour(FOREVER)),
        (("sh", "-c", "while true; do date; sleep 1; done"), engine.Behaviour(FOREVER)),
    ],
)
def test_what_a_command_makes_a_container_do(command: tuple[str, ...], expected: engine.Behaviour) -> None:
    assert engine.behaviour_of(container("c", *command)) == expected


def test_a_server_pulls_its_image_then_runs_and_is_ready() -> None:
    run = PodRun(pod(container(image="nginx:1.25")), T0, ImageCache(pull_seconds=2))
    assert state(run, T0)["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert phase(run, T0 + 1) == "Pending"
    assert state(run, T0 + 2)["state"] == {"running": {"startedAt": "2023-11-14T22:13:22Z"}}
    status = run.status(T0 + 2, pod_ip="10.244.1.2", host_ip="172.18.0.2")
    assert status["phase"] == "Running" and status["podIP"] == "10.244.1.2"
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert ready == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert run.advance(T0 + 1000) == FOREVER


def test_a_cached_image_is_not_pulled_again_unless_the_policy_says_always() -> None:
    images = ImageCache(pull_seconds=5)
    PodRun(pod(container(image="redis:7")), T0, images).advance(T0 + 10)
    second = PodRun(pod(container(image="redis:7")), T0 + 20, images)
    assert state(second, T0 + 20)["state"]["running"]["startedAt"] == "2023-11-14T22:13:40Z"
    third = PodRun(pod(container(image="redis:7", imagePullPolicy="Always")), T0 + 30, images)
    assert "waiting" in state(third, T0 + 30)["state"]
    assert "running" in state(third, T0 + 35)["state"]


def test_never_pull_without_the_image_waits_with_upstreams_reason() -> None:
    run = PodRun(pod(container(image="private/app:1", imagePullPolicy="Never")), T0, ImageCache())
    waiting = state(run, T0 + 60)["state"]["waiting"]
    assert waiting == {
        "reason": "ErrImageNeverPull",
        "message": 'Container image "private/app:1" is not present with pull policy of Never',
    }


def test_a_job_style_pod_completes_with_restart_policy_never() -> None:
    run = PodRun(pod(container("work", "sleep", "30"), restart="Never"), T0, ImageCache(pull_seconds=0))
    assert phase(run, T0 + 29) == "Running"
    assert phase(run, T0 + 30) == "Succeeded"
    terminated = state(run, T0 + 30)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    failing = PodRun(pod(container("work", "false"), restart="Never"), T0, ImageCache(pull_seconds=0))
    assert phase(failing, T0 + 1) == "Failed"
    assert state(failing, T0 + 1)["state"]["terminated"]["reason"] == "Error"


def test_a_crashing_container_backs_off_10_20_40_seconds_in_crash_loop() -> None:
    run = PodRun(pod(container("app", "sh", "-c", "exit 1")), T0, ImageCache(pull_seconds=0))
    run.advance(T0)
    first = state(run, T0 + 1)
    assert first["restartCount"] == 1
    assert first["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert (
        first["state"]["waiting"]["message"]
        == "back-off 10s restarting failed container=app pod=p_default(u1)"
    )
    assert first["lastState"]["terminated"]["exitCode"] == 1
    assert state(run, T0 + 10)["restartCount"] == 2  # restarted at +10 and crashed again
    assert state(run, T0 + 29)["restartCount"] == 2  # now waiting 20 s
    assert state(run, T0 + 30)["restartCount"] == 3
    assert "back-off 40s" in state(run, T0 + 31)["state"]["waiting"]["message"]
    assert phase(run, T0 + 31) == "Running"  # upstream: restarting containers keep the pod Running


def test_on_failure_restarts_a_failure_but_not_a_success() -> None:
    ok = PodRun(pod(container("a", "sleep", "5"), restart="OnFailure"), T0, ImageCache(pull_seconds=0))
    assert phase(ok, T0 + 5) == "Succeeded"
    bad = PodRun(
        pod(container("a", "sh", "-c", "sleep 5; exit 2"), restart="OnFailure"),
        T0,
        ImageCache(pull_seconds=0),
    )
    assert state(bad, T0 + 6)["restartCount"] == 1


def test_init_containers_run_in_order_before_the_app() -> None:
    inits = (container("first", "sleep", "3"), container("second", "sleep", "4"))
    run = PodRun(pod(container("app"), init=inits), T0, ImageCache(pull_seconds=0))
    assert state(run, T0 + 1, "initContainerStatuses", 0)["state"].keys() == {"running"}
    assert state(run, T0 + 1, "initContainerStatuses", 1)["state"] == {
        "waiting": {"reason": "ContainerCreating"}
    }
    assert state(run, T0 + 1)["state"] == {"waiting": {"reason": "PodInitializing"}}
    status = run.status(T0 + 1, pod_ip="", host_ip="")
    initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert initialized["reason"] == "ContainersNotInitialized"
    assert initialized["message"] == "containers with incomplete status: [first second]"
    assert "running" in state(run, T0 + 5, "initContainerStatuses", 1)["state"]
    assert "running" in state(run, T0 + 7)["state"]
    assert phase(run, T0 + 7) == "Running"


def test_a_failed_init_container_fails_a_never_restarting_pod() -> None:
    run = PodRun(
        pod(container("app"), init=(container("setup", "false"),), restart="Never"),
        T0,
        ImageCache(pull_seconds=0),
    )
    assert phase(run, T0 + 1) == "Failed"


def test_deletion_stops_a_server_at_once_and_kills_a_sleeper_at_the_grace_period() -> None:
    server = PodRun(pod(container("web")), T0, ImageCache(pull_seconds=0))
    server.advance(T0 + 10)
    server.stop(T0 + 10)
    server.advance(T0 + 10)
    assert server.stopped()
    assert state(server, T0 + 10)["state"]["terminated"]["exitCode"] == 0
    sleeper = PodRun(pod(container("s", "sleep", "3600"), grace=30), T0, ImageCache(pull_seconds=0))
    sleeper.advance(T0 + 10)
    sleeper.stop(T0 + 10)
    assert sleeper.advance(T0 + 10) == T0 + 40
    assert not sleeper.stopped()
    sleeper.advance(T0 + 40)
    assert sleeper.stopped()
    assert state(sleeper, T0 + 40)["state"]["terminated"]["exitCode"] == 137


def test_the_qos_class_follows_requests_and_limits() -> None:
    both = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
    classes = []
    for resources in ({}, {"requests": {"cpu": "100m"}}, both):
        run = PodRun(pod(container(resources=resources)), T0, ImageCache())
        classes.append(run.status(T0, pod_ip="", host_ip="")["qosClass"])
    assert classes == ["BestEffort", "Burstable", "Guaranteed"]
