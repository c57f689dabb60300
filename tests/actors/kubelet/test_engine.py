"""The emulated container engine on a manual timeline: what a pod's containers do, the status the kubelet
reports, the events it records, and the logs and usage it serves; for ordinary manifests and declared
behaviour (probes have their own tests in test_probes.py)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from actors.kubelet import behaviour, engine, images
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
        (("sh", "-c", "while true; do cat /dev/urandom; sleep 1; done"), engine.Behaviour(FOREVER, 0, False)),
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


# -- images and events --------------------------------------------------------------------------------------


def annotated(spec: dict[str, Any], declared: str) -> dict[str, Any]:
    spec["metadata"]["annotations"] = {behaviour.ANNOTATION: declared}
    return spec


def reasons(run: PodRun) -> list[tuple[float, str, str, str]]:
    return [(e.at - T0, e.type, e.reason, e.message) for e in run.take_events()]


def waiting(run: PodRun, at: float) -> tuple[str, str]:
    found = state(run, T0 + at)["state"]["waiting"]
    return found["reason"], found.get("message", "")


def test_a_normal_start_records_upstreams_events() -> None:
    images = ImageCache(pull_seconds=2)
    run = PodRun(pod(container("web", image="nginx:1.25")), T0, images)
    run.advance(T0 + 2)
    events = run.take_events()
    assert [(e.at - T0, e.type, e.reason, e.message) for e in events] == [
        (0, "Normal", "Pulling", 'Pulling image "nginx:1.25"'),
        (
            2,
            "Normal",
            "Pulled",
            f'Successfully pulled image "nginx:1.25" in 2s (2s including waiting). '
            f"Image size: {events[1].message.split()[-2]} bytes.",
        ),
        (2, "Normal", "Created", "Created container: web"),
        (2, "Normal", "Started", "Started container web"),
    ]
    assert {(e.container, e.field_path) for e in events} == {("web", "spec.containers{web}")}
    assert run.take_events() == []  # drained
    again = PodRun(pod(container("web", image="nginx:1.25")), T0 + 5, images)
    assert reasons(again)[0] == (
        5,
        "Normal",
        "Pulled",
        'Container image "nginx:1.25" already present on machine',
    )


def test_pulls_on_a_node_are_serial() -> None:
    images = ImageCache(pull_seconds=2)
    PodRun(pod(container(image="redis:7")), T0, images)
    second = PodRun(pod(container(image="postgres:16")), T0, images)
    second.advance(T0 + 4)
    assert reasons(second)[1][3].startswith(
        'Successfully pulled image "postgres:16" in 2s (4s including waiting).'
    )
    assert state(second, T0 + 4)["state"]["running"]["startedAt"] == "2023-11-14T22:13:24Z"


@pytest.mark.parametrize(
    ("images", "declared"),
    [
        pytest.param(ImageCache(pull_seconds=1, bad_images=("*:nope",)), "", id="bad-pattern"),
        pytest.param(ImageCache(pull_seconds=1), '{"app": {imagePull: fail}}', id="declared"),
    ],
)
def test_a_bad_image_is_err_image_pull_then_image_pull_back_off_doubling(
    images: ImageCache, declared: str
) -> None:
    spec = pod(container(image="nginx:nope"))
    run = PodRun(annotated(spec, declared) if declared else spec, T0, images)
    assert waiting(run, 0.5) == ("ContainerCreating", "")
    error = (
        'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:nope": '
        'failed to resolve reference "docker.io/library/nginx:nope": docker.io/library/nginx:nope: not found'
    )
    assert waiting(run, 1) == ("ErrImagePull", error)  # the pull took 1 s
    assert waiting(run, 11.5) == ("ErrImagePull", error)  # pulling again after 10 s: the reason stays
    assert waiting(run, 21.9) == ("ErrImagePull", error)  # failed again at 12: back-off 20 s
    back_off = ("ImagePullBackOff", f'Back-off pulling image "nginx:nope": ErrImagePull: {error}')
    assert waiting(run, 22) == back_off  # the kubelet's next sync, 10 s after the failure
    assert waiting(run, 32.5) == back_off
    assert waiting(run, 33) == ("ErrImagePull", error)
    assert phase(run, T0 + 33) == "Pending"
    events = reasons(run)
    assert [e for e in events if e[0] in (1, 22)] == [
        (1, "Warning", "Failed", f'Failed to pull image "nginx:nope": {error}'),
        (1, "Warning", "Failed", "Error: ErrImagePull"),
        (22, "Normal", "BackOff", 'Back-off pulling image "nginx:nope"'),
        (22, "Warning", "Failed", "Error: ImagePullBackOff"),
    ]
    run.advance(T0 + 1000)
    pulls = [e[0] for e in [*events, *reasons(run)] if e[2] == "Pulling"]
    assert [b - a - 1 for a, b in itertools.pairwise(pulls)] == [10, 20, 40, 80, 160, 300, 300]


def test_a_malformed_image_name_is_invalid_image_name() -> None:
    run = PodRun(pod(container(image="Nginx:1.25")), T0, ImageCache())
    message = (
        'Failed to apply default image tag "Nginx:1.25": couldn\'t parse image name "Nginx:1.25": '
        "invalid reference format: repository name (library/Nginx) must be lowercase"
    )
    assert waiting(run, 100) == ("InvalidImageName", message)
    assert reasons(run) == [
        (0, "Warning", "InspectFailed", message),
        (0, "Warning", "Failed", "Error: InvalidImageName"),
    ]
    assert run.advance(T0 + 100) == FOREVER


@pytest.mark.parametrize(
    ("image", "normalized"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36"),
        ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
    ],
)
def test_image_references_are_normalized_as_upstream(image: str, normalized: str) -> None:
    assert images.normalize(image) == normalized


@pytest.mark.parametrize("image", ["nginx:1.2:3", "nginx::", "-nginx", "a" * 64, "nginx@sha256:12"])
def test_malformed_references_do_not_parse(image: str) -> None:
    with pytest.raises(ValueError, match=r"^couldn't parse image name"):
        images.normalize(image)


def test_an_image_pull_can_take_its_declared_or_configured_time() -> None:
    cache = ImageCache(pull_seconds=1, pull_seconds_for={"*/tensorflow/*": 90})
    slow = PodRun(pod(container(image="tensorflow/serving:2")), T0, cache)
    assert "waiting" in state(slow, T0 + 89)["state"] and "running" in state(slow, T0 + 90)["state"]
    declared = PodRun(annotated(pod(container(image="app:2")), "app: {imagePull: 20s}"), T0 + 90, cache)
    assert "waiting" in state(declared, T0 + 109)["state"]
    assert "running" in state(declared, T0 + 110)["state"]


def test_never_pull_starts_once_another_pod_brought_the_image() -> None:
    cache = ImageCache(pull_seconds=5)
    waiting_pod = PodRun(pod(container(image="app:1", imagePullPolicy="Never")), T0, cache)
    assert waiting(waiting_pod, 1)[0] == "ErrImageNeverPull"
    PodRun(pod(container(image="app:1")), T0 + 1, cache)
    assert waiting(waiting_pod, 5.9)[0] == "ErrImageNeverPull"
    assert state(waiting_pod, T0 + 6)["state"]["running"]["startedAt"] == "2023-11-14T22:13:26Z"


def test_policy_always_pulls_again_on_every_restart() -> None:
    run = PodRun(pod(container("app", "sleep", "5", image="busybox:latest")), T0, ImageCache(pull_seconds=1))
    run.advance(T0 + 7)
    assert [e[0] for e in reasons(run) if e[2] == "Pulling"] == [0, 6]
    assert state(run, T0 + 7)["restartCount"] == 1


def test_a_malformed_annotation_waits_in_create_container_config_error() -> None:
    spec = pod(container("web", image="nginx:1.25"), container("side", image="busybox:1.36"))
    run = PodRun(annotated(spec, "web: {exitAfter: soon}"), T0, ImageCache(pull_seconds=1))
    message = 'invalid annotation kubemu.io/behaviour: web.exitAfter: time: invalid duration "soon"'
    assert waiting(run, 2) == ("CreateContainerConfigError", message)
    assert "running" in state(run, T0 + 2, index=1)["state"]  # the other container is fine
    assert phase(run, T0 + 2) == "Pending"
    assert (1, "Warning", "Failed", f"Error: {message}") in reasons(run)  # after its pull


# -- runs, restarts, deletion -------------------------------------------------------------------------------


def test_a_crash_restarts_at_once_then_backs_off_and_counts_restarts_as_runs_start() -> None:
    run = PodRun(pod(container("app", "sh", "-c", "sleep 5; exit 1")), T0, ImageCache(pull_seconds=0))
    assert state(run, T0 + 5)["restartCount"] == 1  # crashed at 5, restarted at once
    crashed = state(run, T0 + 10)
    assert (crashed["restartCount"], crashed["state"]["waiting"]["reason"]) == (1, "CrashLoopBackOff")
    assert crashed["lastState"]["terminated"]["startedAt"] == "2023-11-14T22:13:25Z"
    assert "running" in state(run, T0 + 20)["state"] and state(run, T0 + 20)["restartCount"] == 2
    assert "back-off 20s" in state(run, T0 + 25)["state"]["waiting"]["message"]


def test_the_crash_back_off_is_forgotten_after_ten_minutes_of_running() -> None:
    run = PodRun(pod(container("app", "sh", "-c", "sleep 700; exit 1")), T0, ImageCache(pull_seconds=0))
    assert state(run, T0 + 700)["restartCount"] == 1
    assert state(run, T0 + 1400)["restartCount"] == 2  # ran 700 s: restarted at once again


def test_a_declared_crash_and_an_oom_kill() -> None:
    crash = PodRun(annotated(pod(container("app")), "app: {crashAfter: 30s, exitCode: 3}"), T0, ImageCache(0))
    terminated = state(crash, T0 + 30)["lastState"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    limited = container("app", resources={"limits": {"memory": "256Mi"}})
    spec = annotated(pod(limited, restart="Never"), "app: {memory: 64Mi, usage: [[20s, 10m, 300Mi]]}")
    oom = PodRun(spec, T0, ImageCache(0))
    terminated = state(oom, T0 + 20)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "OOMKilled")
    assert phase(oom, T0 + 20) == "Failed"


def test_deletion_records_killing_and_ends_in_a_terminal_phase() -> None:
    server = PodRun(pod(container("web")), T0, ImageCache(pull_seconds=0))
    server.advance(T0 + 10)
    server.take_events()
    server.stop(T0 + 10)
    server.advance(T0 + 10)
    assert reasons(server) == [(10, "Normal", "Killing", "Stopping container web")]
    assert phase(server, T0 + 10) == "Succeeded"
    sleeper = PodRun(pod(container("s", "sleep", "3600")), T0, ImageCache(pull_seconds=0))
    sleeper.stop(T0 + 1, grace=5)
    sleeper.advance(T0 + 6)
    assert phase(sleeper, T0 + 6) == "Failed"  # killed with 137
    declared = annotated(pod(container("web")), "web: {onSigterm: 3s}")
    slow = PodRun(declared, T0, ImageCache(pull_seconds=0))
    slow.stop(T0 + 1)
    assert slow.advance(T0 + 1) == T0 + 4


# -- logs ---------------------------------------------------------------------------------------------------


def test_logs_of_the_current_and_previous_runs_with_since_and_tail() -> None:
    run = PodRun(
        pod(container("app", "sh", "-c", "echo hello; sleep 5; echo bye; exit 1")), T0, ImageCache(0)
    )
    with pytest.raises(
        engine.LogsUnavailable, match=r'^container "app" in pod "p" is waiting to start: ContainerCreating$'
    ):
        run.logs("app")
    run.advance(T0 + 12)  # run 0: 0-5; run 1: 5-10; back-off until 20
    assert run.logs("app") == [(T0 + 5, "hello"), (T0 + 10, "bye")]  # the last run, as upstream
    assert run.logs("app", previous=True) == [(T0 + 5, "hello"), (T0 + 10, "bye")]
    run.advance(T0 + 21)
    assert run.logs("app") == [(T0 + 20, "hello")]
    assert run.logs("app", previous=True, tail=1) == [(T0 + 10, "bye")]
    assert run.logs("app", previous=True, since=T0 + 6) == [(T0 + 10, "bye")]
    with pytest.raises(engine.LogsUnavailable, match=r'^container "nope" in pod "p" is not available$'):
        run.logs("nope")


def test_declared_log_lines_grow_with_time_and_a_first_run_has_no_previous() -> None:
    spec = annotated(
        pod(container("web")), 'web: {logs: ["listening on :80"], logEvery: 10s, logRepeat: ["GET / 200"]}'
    )
    run = PodRun(spec, T0, ImageCache(0))
    run.advance(T0 + 25)
    assert run.logs("web") == [(T0, "listening on :80"), (T0 + 10, "GET / 200"), (T0 + 20, "GET / 200")]
    assert run.logs("web", now=T0 + 30)[-1] == (T0 + 30, "GET / 200")
    with pytest.raises(
        engine.LogsUnavailable, match=r'^previous terminated container "web" in pod "p" not found$'
    ):
        run.logs("web", previous=True)


def test_logs_of_a_container_whose_image_cannot_be_pulled() -> None:
    run = PodRun(
        pod(container(image="nginx:nope")), T0, ImageCache(pull_seconds=1, bad_images=("nginx:nope",))
    )
    run.advance(T0 + 1)
    with pytest.raises(engine.LogsUnavailable, match=r"is waiting to start: image can't be pulled$"):
        run.logs("app")
    run.advance(T0 + 25)
    with pytest.raises(
        engine.LogsUnavailable, match=r"is waiting to start: trying and failing to pull image$"
    ):
        run.logs("app")


# -- usage --------------------------------------------------------------------------------------------------


def test_usage_follows_the_declared_script_and_requests_within_the_limit() -> None:
    limited = container("web", resources={"limits": {"cpu": "500m"}})
    spec = annotated(
        pod(limited, container("side")), "web: {cpu: 100m, memory: 32Mi, usage: [[60s, 800m, 200Mi]]}"
    )
    run = PodRun(spec, T0, ImageCache(pull_seconds=0))
    run.advance(T0 + 10)
    assert run.usage(T0 + 10) == {"web": (100_000_000, 32 * 2**20), "side": (1_000_000, 8 * 2**20)}
    assert run.usage(T0 + 61)["web"] == (500_000_000, 200 * 2**20)  # capped at limits.cpu
    busy = run.usage(T0 + 10, request_rate=100)
    assert busy["web"] == (200_000_000, 32 * 2**20)  # the first container takes the default 1m a request
    assert busy["side"] == (1_000_000, 8 * 2**20)


def test_only_running_containers_report_usage() -> None:
    run = PodRun(pod(container("a"), container("b", "true")), T0, ImageCache(pull_seconds=1))
    assert run.usage(T0) == {}
    run.advance(T0 + 2)
    assert set(run.usage(T0 + 2)) == {"a"}
