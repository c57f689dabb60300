"""Probes on a manual timeline: readiness flips Ready at the probe ticks, a startup probe gates the
others, liveness failures kill and restart with back-off, and healthy probes cost no wake-ups."""

from __future__ import annotations

import json
from typing import Any

from actors.kubelet import behaviour, probes
from actors.kubelet.engine import FOREVER, EngineEvent, ImageCache, PodRun

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
IP = "10.244.1.2"


def web(declared: dict[str, Any] | None = None, restart: str = "Always", **container: Any) -> PodRun:
    spec = {
        "name": "web",
        "image": "nginx:1.25",
        "ports": [{"name": "http", "containerPort": 8080}],
        **container,
    }
    metadata: dict[str, Any] = {"name": "p", "namespace": "default", "uid": "u1"}
    if declared is not None:
        metadata["annotations"] = {behaviour.ANNOTATION: json.dumps({"web": declared})}
    pod = {"metadata": metadata, "spec": {"containers": [spec], "restartPolicy": restart}}
    return PodRun(pod, T0, ImageCache(pull_seconds=0), pod_ip=IP)


def at(run: PodRun, when: float) -> dict[str, Any]:
    run.advance(T0 + when)
    status: dict[str, Any] = run.status(T0 + when, pod_ip=IP, host_ip="172.18.0.2")
    return status


def ready(status: dict[str, Any]) -> tuple[bool, str]:
    """The pod's Ready condition: its status and the seconds after T0 it last changed."""
    condition = next(c for c in status["conditions"] if c["type"] == "Ready")
    return condition["status"] == "True", condition["lastTransitionTime"]


def stamp(seconds: float) -> str:
    from kube import meta

    return meta.now_rfc3339(T0 + seconds)


def messages(events: list[EngineEvent], reason: str) -> list[tuple[float, str]]:
    return [(e.at - T0, e.message) for e in events if e.reason == reason]


HTTP = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}


def test_a_readiness_probe_failing_between_60_and_90_seconds_flips_ready_at_its_ticks() -> None:
    run = web({"notReadyBetween": ["60s", "90s"]}, readinessProbe=HTTP)
    assert ready(at(run, 0)) == (True, stamp(0))  # the first probe, at the start, succeeds
    assert run.advance(T0 + 1) == T0 + 60  # healthy ticks are skipped: the next one that can differ
    assert ready(at(run, 79)) == (True, stamp(0))  # failing at 60 and 70: below failureThreshold 3
    status = at(run, 80)
    assert ready(status) == (False, stamp(80))
    assert status["containerStatuses"][0]["ready"] is False
    condition = next(c for c in status["conditions"] if c["type"] == "ContainersReady")
    assert condition["reason"] == "ContainersNotReady"
    assert condition["message"] == "containers with unready status: [web]"
    assert status["phase"] == "Running"
    assert ready(at(run, 89)) == (False, stamp(80))
    assert ready(at(run, 90)) == (True, stamp(90))  # successThreshold 1
    assert messages(run.take_events(), "Unhealthy") == [
        (60, "Readiness probe failed: HTTP probe failed with statuscode: 500"),
        (70, "Readiness probe failed: HTTP probe failed with statuscode: 500"),
        (80, "Readiness probe failed: HTTP probe failed with statuscode: 500"),
    ]
    assert run.advance(T0 + 91) == FOREVER


def test_a_container_with_a_readiness_probe_is_not_ready_before_its_first_success() -> None:
    run = web(readinessProbe={**HTTP, "initialDelaySeconds": 5, "successThreshold": 2})
    status = at(run, 4)
    assert status["containerStatuses"][0]["state"].keys() == {"running"}
    assert ready(status) == (False, stamp(0))
    assert ready(at(run, 5)) == (False, stamp(0))  # one success of the two needed
    assert ready(at(run, 15)) == (True, stamp(15))


def test_without_a_readiness_probe_declared_readiness_flips_at_its_own_times() -> None:
    run = web({"readyAfter": "12s"})
    assert ready(at(run, 11.5)) == (False, stamp(0))
    assert ready(at(run, 12)) == (True, stamp(12))


def test_a_startup_probe_gates_liveness_and_readiness() -> None:
    run = web(
        {"startupAfter": "25s", "livenessFailsAfter": "0s"},
        startupProbe={"exec": {"command": ["cat", "/ready"]}, "periodSeconds": 10, "failureThreshold": 5},
        livenessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 10},
        readinessProbe=HTTP,
    )
    container = at(run, 29)["containerStatuses"][0]
    assert (container["started"], container["ready"]) == (False, False)
    status = at(run, 30)  # the fourth startup probe passes; readiness and liveness probe at once
    assert (status["containerStatuses"][0]["started"], ready(status)) == (True, (True, stamp(30)))
    events = run.take_events()
    assert messages(events, "Unhealthy") == [
        (0, "Startup probe failed: "),
        (10, "Startup probe failed: "),
        (20, "Startup probe failed: "),
        (30, f"Liveness probe failed: dial tcp {IP}:8080: connect: connection refused"),
    ]
    at(run, 50)  # liveness failed at 30, 40, 50
    assert messages(run.take_events(), "Killing")[-1] == (
        50,
        "Container web failed liveness probe, will be restarted",
    )


def test_a_startup_probe_that_never_passes_kills_the_container() -> None:
    run = web({"startupAfter": "1h"}, startupProbe={"httpGet": {"port": 80}, "periodSeconds": 10})
    status = at(run, 20)
    container = status["containerStatuses"][0]
    assert container["restartCount"] == 1 and "running" in container["state"]
    assert container["lastState"]["terminated"]["finishedAt"] == stamp(20)
    assert messages(run.take_events(), "Killing") == [
        (20, "Container web failed startup probe, will be restarted")
    ]


def test_a_liveness_failure_kills_and_restarts_with_back_off() -> None:
    run = web(
        {"livenessFailsAfter": "120s"}, livenessProbe={"tcpSocket": {"port": "http"}, "periodSeconds": 10}
    )
    assert at(run, 139)["containerStatuses"][0]["restartCount"] == 0
    container = at(run, 140)["containerStatuses"][0]
    assert container["restartCount"] == 1  # the first restart is at once
    assert container["state"]["running"]["startedAt"] == stamp(140)
    terminated = container["lastState"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")  # a server exits on SIGTERM
    events = run.take_events()
    assert messages(events, "Killing") == [(140, "Container web failed liveness probe, will be restarted")]
    assert messages(events, "Unhealthy")[0] == (
        120,
        f"Liveness probe failed: dial tcp {IP}:8080: connect: connection refused",
    )
    assert [e.reason for e in events if e.at == T0 + 140] == [
        "Unhealthy",
        "Killing",
        "Pulled",
        "Created",
        "Started",
    ]
    waiting = at(run, 281)["containerStatuses"][0]  # killed again at 280: now the back-off
    assert waiting["restartCount"] == 1
    assert waiting["state"]["waiting"] == {
        "reason": "CrashLoopBackOff",
        "message": "back-off 10s restarting failed container=web pod=p_default(u1)",
    }
    assert messages(run.take_events(), "BackOff") == [
        (280, "Back-off restarting failed container web in pod p_default(u1)")
    ]
    assert at(run, 290)["containerStatuses"][0]["restartCount"] == 2


def test_a_container_that_ignores_sigterm_is_killed_at_the_probes_grace_period() -> None:
    run = web(
        {"livenessFailsAfter": "30s", "onSigterm": "ignore"},
        livenessProbe={
            "exec": {"command": ["true"]},
            "periodSeconds": 5,
            "failureThreshold": 1,
            "terminationGracePeriodSeconds": 7,
        },
    )
    assert "running" in at(run, 36)["containerStatuses"][0]["state"]  # SIGTERM at 30, ignored
    terminated = at(run, 37)["containerStatuses"][0]["lastState"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"], terminated["finishedAt"]) == (
        137,
        "Error",
        stamp(37),
    )


def test_with_restart_policy_never_a_liveness_failure_is_final() -> None:
    run = web({"livenessFailsAfter": "5s"}, restart="Never", livenessProbe={**HTTP, "failureThreshold": 1})
    status = at(run, 10)
    assert status["phase"] == "Succeeded"  # the server exited 0 on SIGTERM
    assert messages(run.take_events(), "Killing") == [(10, "Container web failed liveness probe")]
    assert ready(status)[0] is False
    condition = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert condition["reason"] == "PodCompleted" and "message" not in condition


def test_healthy_probes_cost_no_wake_ups() -> None:
    run = web(
        startupProbe={"grpc": {"port": 9090}},
        livenessProbe=HTTP,
        readinessProbe={"tcpSocket": {"port": 8080}},
    )
    assert run.advance(T0) == FOREVER
    assert ready(at(run, 3600)) == (True, stamp(0))


def test_a_worker_needs_its_thresholds_in_a_row() -> None:
    spec = probes.ProbeSpec(kind=probes.Kind.LIVENESS, period=1, failure_threshold=2)
    answers = behaviour.Timeline(True, (2.0, 3.0, 4.0))  # fails at 2, passes at 3, fails from 4
    worker = probes.Worker.new(spec, answers, started=0.0)
    worker.begin(0.0)
    ticks = []
    while worker.due() != FOREVER:
        ticks.append(worker.tick())
    assert [(t.at, t.ok, t.decided) for t in ticks] == [
        (0.0, True, True),  # 1.0 would pass and change nothing: skipped
        (2.0, False, None),  # one failure: below the threshold
        (3.0, True, True),
        (4.0, False, None),
        (5.0, False, False),  # two in a row: failed, and on hold until a new run
    ]


def test_probe_specs_take_upstreams_defaults_and_name_their_port() -> None:
    container = {
        "ports": [{"name": "grpc", "containerPort": 9090}],
        "readinessProbe": {"grpc": {"port": 9090}},
        "livenessProbe": {"tcpSocket": {"port": "grpc"}, "terminationGracePeriodSeconds": 3},
    }
    found = probes.specs(container)
    assert found[probes.Kind.READINESS] == probes.ProbeSpec(
        kind=probes.Kind.READINESS, handler="grpc", port=9090
    )
    liveness = found[probes.Kind.LIVENESS]
    assert (liveness.period, liveness.failure_threshold, liveness.grace, liveness.port) == (
        10.0,
        3,
        3.0,
        9090,
    )
    assert liveness.failure("10.0.0.9") == "dial tcp 10.0.0.9:9090: connect: connection refused"
    assert found[probes.Kind.READINESS].failure("") == 'service unhealthy (responded with "NOT_SERVING")'
