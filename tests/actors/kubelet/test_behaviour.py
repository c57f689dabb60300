"""Declared behaviour: what commands imply, what ``kubemu.io/behaviour`` declares (and the errors a
malformed declaration gives), the logs a run writes and the usage it reports, all as plain data."""

from __future__ import annotations

import time
from typing import Any

import pytest

from actors.kubelet import behaviour, logs, scripts
from actors.kubelet.behaviour import FOREVER, Behaviour, Timeline

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def pod(annotation: str | None = None, *containers: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "p", "namespace": "default"}
    if annotation is not None:
        metadata["annotations"] = {behaviour.ANNOTATION: annotation}
    spec = {"containers": list(containers) or [{"name": "web", "image": "nginx:1.25"}]}
    return {"metadata": metadata, "spec": spec}


def declared(annotation: str, **container: Any) -> Behaviour:
    c = {"name": "web", "image": "nginx:1.25", **container}
    return behaviour.of_pod(pod(annotation, c))["web"]


# -- commands -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param([], scripts.Script(FOREVER), id="entrypoint"),
        pytest.param(["sleep", "5s"], scripts.Script(5.0, 0, False), id="sleep-with-unit"),
        pytest.param(["sleep", "1m"], scripts.Script(60.0, 0, False), id="sleep-minutes"),
        pytest.param(["sleep", "infinity"], scripts.Script(FOREVER, 0, False), id="sleep-infinity"),
        pytest.param(["/bin/sh", "-ec", "sleep 2 && exit 4"], scripts.Script(2.0, 4, False), id="bash-ec"),
        pytest.param(["sh", "-c", "false && sleep 9"], scripts.Script(0.0, 1), id="and-short-circuits"),
        pytest.param(["sh", "-c", "false || exit 7"], scripts.Script(0.0, 7), id="or-runs-on-failure"),
        pytest.param(["sh", "-c", "exec nginx -g 'daemon off;'"], scripts.Script(FOREVER), id="exec-server"),
        pytest.param(["sh", "-c", "echo 'oops"], scripts.Script(0.0, 2), id="unbalanced-quote"),
        pytest.param(["sh", "-c", "yes | head"], scripts.Script(FOREVER), id="pipe-is-real-work"),
        pytest.param(["sh", "-c", "while true; do :; done"], scripts.Script(FOREVER), id="busy-loop"),
    ],
)
def test_what_a_command_makes_a_container_do(words: list[str], expected: scripts.Script) -> None:
    assert scripts.of_command(words) == expected


def test_echo_lines_come_when_the_script_reaches_them() -> None:
    script = scripts.of_command(["sh", "-c", 'echo "hello; world"; sleep 5; echo -n done; date; exit 3'])
    assert (script.runs_for, script.exit_code) == (5.0, 3)
    assert script.lines == (
        logs.LogLine(0.0, "hello; world"),
        logs.LogLine(5.0, "done"),
        logs.LogLine(5.0, date=True),
    )


def test_a_while_loop_writes_its_lines_every_period_forever() -> None:
    script = scripts.of_command(
        ["sh", "-c", "echo start; while true; do echo tick; sleep 2; date; sleep 3; done"]
    )
    assert script.runs_for == FOREVER and not script.handles_sigterm  # a shell in sleep ignores SIGTERM
    assert script.loop == logs.LogLoop(0.0, 5.0, (logs.LogLine(0.0, "tick"), logs.LogLine(2.0, date=True)))
    lines = logs.lines(script.lines, script.loop, started=T0, until=T0 + 7)
    assert lines == [
        (T0, "start"),
        (T0, "tick"),
        (T0 + 2, "Tue Nov 14 22:13:22 UTC 2023"),
        (T0 + 5, "tick"),
        (T0 + 7, "Tue Nov 14 22:13:27 UTC 2023"),
    ]


# -- declarations -------------------------------------------------------------------------------------------


def test_declared_fields_override_the_command() -> None:
    b = declared(
        "web: {exitAfter: 1m30s, exitCode: 3, onSigterm: ignore, readyAfter: 10, notReadyBetween: [60s, 90s],"
        " livenessFailsAfter: 2m, startupAfter: 20s, imagePull: 45s}",
        command=["sleep", "5"],
    )
    assert (b.runs_for, b.exit_code, b.handles_sigterm, b.image_pull, b.error) == (90.0, 3, False, 45.0, "")
    assert b.readiness == Timeline(False, (10.0, 60.0, 90.0))
    assert b.liveness == Timeline(True, (120.0,))
    assert b.startup == Timeline(False, (20.0,))


def test_star_applies_to_every_container_and_a_named_entry_or_env_overrides_it() -> None:
    annotation = '{"*": {crashAfter: 10s, exitCode: 2}, "side": {exitAfter: never}}'
    web = {"name": "web", "image": "nginx", "env": [{"name": behaviour.ENV, "value": "{crashAfter: 3s}"}]}
    side = {"name": "side", "image": "busybox", "command": ["sleep", "5"]}
    init = {"name": "setup", "image": "busybox"}
    p = pod(annotation, web, side)
    p["spec"]["initContainers"] = [init]
    found = behaviour.of_pod(p)
    assert (found["web"].runs_for, found["web"].exit_code) == (3.0, 2)
    assert (found["side"].runs_for, found["side"].exit_code) == (FOREVER, 2)
    assert (found["setup"].runs_for, found["setup"].exit_code) == (10.0, 2)


def test_crash_after_exits_with_one_unless_a_code_is_given() -> None:
    assert declared("web: {crashAfter: 5s}").exit_code == 1
    assert declared("web: {crashAfter: 5s, exitCode: 42}").exit_code == 42


def test_on_sigterm_can_take_time() -> None:
    b = declared("web: {onSigterm: 5s}")
    assert (b.handles_sigterm, b.stop_seconds) == (True, 5.0)


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        pytest.param(
            "web: {exitAfter: 3x}", 'web.exitAfter: time: unknown unit "x" in duration "3x"', id="duration"
        ),
        pytest.param("web: {exitAfer: 3s}", "web.exitAfer: unknown field (known: exitAfter,", id="typo"),
        pytest.param(
            "web: {exitCode: 300}", "web.exitCode: want a whole number from 0 to 255, not 300", id="code"
        ),
        pytest.param("web: {cpu: lots}", "web.cpu: lots: quantities must match", id="quantity"),
        pytest.param(
            "web: {exitAfter: 1s, crashAfter: 2s}", "web.crashAfter: give exitAfter or crashAfter", id="both"
        ),
        pytest.param(
            "web: {notReadyBetween: [9s, 3s]}", "web.notReadyBetween: 3s is not after 9s", id="window"
        ),
        pytest.param("web: {imagePull: sometimes}", "web.imagePull: time: invalid duration", id="pull"),
        pytest.param("web: {logRepeat: [a]}", "web.logRepeat: needs logEvery", id="repeat-alone"),
        pytest.param("web: {usage: [[0s, 1m]]}", "web.usage: want [at, cpu, memory]", id="usage-shape"),
        pytest.param(
            "wbe: {exitAfter: 1s}", 'no container named "wbe" (containers: web)', id="unknown-container"
        ),
        pytest.param("web: [1, 2]", "web: want a mapping of fields", id="not-fields"),
        pytest.param("- web", 'want a mapping of container names (or "*") to behaviours', id="not-mapping"),
        pytest.param("web: {exitAfter: [}", "not YAML:", id="yaml"),
    ],
)
def test_a_malformed_annotation_names_itself_and_the_field(annotation: str, message: str) -> None:
    error = declared(annotation).error
    assert error.startswith(f"invalid annotation {behaviour.ANNOTATION}: ")
    assert message in error


def test_a_malformed_env_names_the_container() -> None:
    b = declared("", env=[{"name": behaviour.ENV, "value": "{readyAfter: soon}"}])
    assert (
        b.error == 'invalid env KUBEMU_BEHAVIOUR of container web: readyAfter: time: invalid duration "soon"'
    )


def test_an_empty_annotation_declares_nothing() -> None:
    assert declared("") == behaviour.of_container({"name": "web"})


# -- logs ---------------------------------------------------------------------------------------------------


def test_declared_logs_then_every_period_cycling_through_them() -> None:
    b = declared('web: {logs: ["starting", "listening on :80"], logEvery: 5s}')
    lines = logs.lines(b.lines, b.loop, started=T0, until=T0 + 16)
    assert lines == [
        (T0, "starting"),
        (T0, "listening on :80"),
        (T0 + 5, "starting"),
        (T0 + 10, "listening on :80"),
        (T0 + 15, "starting"),
    ]


def test_log_repeat_and_the_default_date_line() -> None:
    repeat = declared("web: {logs: [up], logEvery: 1s, logRepeat: [GET /]}")
    assert logs.lines(repeat.lines, repeat.loop, started=T0, until=T0 + 2) == [
        (T0, "up"),
        (T0 + 1, "GET /"),
        (T0 + 2, "GET /"),
    ]
    dated = declared("web: {logEvery: 1m}")
    assert logs.lines(dated.lines, dated.loop, started=T0, until=T0 + 60) == [(T0 + 60, logs.date(T0 + 60))]


def test_since_and_tail_read_a_year_of_lines_without_playing_them() -> None:
    b = declared("web: {logs: [boot], logEvery: 1s, logRepeat: [a, b]}")
    year = 365 * 86400.0
    began = time.perf_counter()
    tail = logs.lines(b.lines, b.loop, started=T0, until=T0 + year, tail=3)
    since = logs.lines(b.lines, b.loop, started=T0, until=T0 + year, since=T0 + year - 1.5)
    everything = logs.lines(b.lines, b.loop, started=T0, until=T0 + year)
    assert time.perf_counter() - began < 0.5
    assert tail == [(T0 + year - 2, "b"), (T0 + year - 1, "a"), (T0 + year, "b")]
    assert since == tail[1:]
    assert len(everything) == logs.LIMIT and everything[-1] == tail[-1]  # the oldest are rotated away
    assert logs.lines(b.lines, b.loop, started=T0, until=T0 + 10, tail=0) == []


# -- usage --------------------------------------------------------------------------------------------------


def test_usage_is_constant_a_step_script_and_driven_by_requests() -> None:
    b = declared(
        "web: {cpu: 100m, memory: 32Mi, usage: [[60s, 800m, 200Mi], {at: 2m, cpu: 50m}], cpuPerRequest: 2m}"
    )
    usage = b.usage
    assert usage.at(0) == (100_000_000, 32 * 2**20)
    assert usage.at(59.9) == (100_000_000, 32 * 2**20)
    assert usage.at(60) == (800_000_000, 200 * 2**20)
    assert usage.at(130) == (50_000_000, 200 * 2**20)  # memory kept from the step before
    per_request = usage.cpu_per_request or 0
    assert usage.at(0, request_rate=50, per_request=per_request) == (200_000_000, 32 * 2**20)


def test_undeclared_usage_is_the_idle_default_within_the_memory_limit() -> None:
    plain = behaviour.of_pod(pod(None))["web"].usage
    assert plain.at(10) == (behaviour.DEFAULT_CPU, behaviour.DEFAULT_MEMORY)
    small = {"name": "web", "image": "nginx", "resources": {"limits": {"memory": "4Mi"}}}
    capped = behaviour.of_pod(pod(None, small))["web"].usage
    assert capped.at(10) == (behaviour.DEFAULT_CPU, 4 * 2**20)
    assert capped.oom_after(4 * 2**20) == FOREVER  # the default never gets a container killed


def test_declared_memory_over_the_limit_is_an_oom_kill_when_reached() -> None:
    b = declared("web: {memory: 64Mi, usage: [[30s, 10m, 300Mi]]}")
    assert b.usage.oom_after(256 * 2**20) == 30.0
    assert b.usage.oom_after(None) == FOREVER


# -- timelines and durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        pytest.param([], Timeline(True, ()), id="always"),
        pytest.param([(0.0, 10.0)], Timeline(False, (10.0,)), id="from-the-start"),
        pytest.param([(5.0, FOREVER)], Timeline(True, (5.0,)), id="for-ever-after"),
        pytest.param(
            [(0.0, 10.0), (5.0, 20.0), (30.0, 40.0)], Timeline(False, (20.0, 30.0, 40.0)), id="merged"
        ),
        pytest.param([(3.0, 3.0)], Timeline(True, ()), id="empty"),
    ],
)
def test_a_timeline_fails_during_its_intervals(
    intervals: list[tuple[float, float]], expected: Timeline
) -> None:
    timeline = Timeline.failing(intervals)
    assert timeline == expected
    for start, end in intervals:
        if end > start:
            assert not timeline.at(start)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (0.0015, "1.5ms"),
        (1.5, "1.5s"),
        (10, "10s"),
        (160, "2m40s"),
        (300, "5m0s"),
        (3600, "1h0m0s"),
        (3725.25, "1h2m5.25s"),
    ],
)
def test_go_duration_text(seconds: float, text: str) -> None:
    assert behaviour.go_duration(seconds) == text
