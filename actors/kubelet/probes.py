"""Liveness, readiness and startup probes of emulated containers: upstream's prober workers, on cluster time.

No traffic is ever sent: what a probe answers is the container's declared behaviour (``behaviour.Timeline``,
a yes/no over the time since the container started), for every handler kind (``exec``, ``httpGet``,
``tcpSocket``, ``grpc``); the handler only shapes the failure text, as upstream's probers word it.

A ``Worker`` is one probe of one run of a container, as upstream's ``prober/worker.go``:

- it probes at ``begin`` (not before ``initialDelaySeconds`` after the start), then every ``periodSeconds``
  (upstream's ticker is anchored at the worker's creation and jittered; here at its first probe);
- a result is set once ``successThreshold`` successes or ``failureThreshold`` failures come in a row; before
  that, the result stays: readiness starts as failure (not ready until the first success), liveness as
  success, startup as unknown;
- a liveness or startup failure puts the worker on hold: the container is killed and a new run gets new
  workers; a startup success ends the startup worker;
- every failed probe is an ``Unhealthy`` event, ``<Kind> probe failed: <output>``.

Successful ticks that change nothing are skipped (``due`` jumps to the first tick at which the answer can
change), so an idle healthy pod costs no wake-ups; failing ticks are not, since each one is an event.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any

from actors.kubelet import behaviour

FOREVER = behaviour.FOREVER


class Kind(enum.StrEnum):
    """Upstream's ``probeType``, as it prints in events."""

    STARTUP = "Startup"
    LIVENESS = "Liveness"
    READINESS = "Readiness"


FIELDS = {Kind.STARTUP: "startupProbe", Kind.LIVENESS: "livenessProbe", Kind.READINESS: "readinessProbe"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProbeSpec:
    """A container's probe with upstream's defaults filled in."""

    kind: Kind
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0  # emulated answers are instant: kept for completeness
    success_threshold: int = 1
    failure_threshold: int = 3
    grace: float | None = None  # the probe's terminationGracePeriodSeconds (liveness, startup)
    handler: str = "exec"  # exec, httpGet, tcpSocket or grpc
    port: int | str = 0

    def failure(self, pod_ip: str) -> str:
        """What a failed probe reports, as upstream's prober for the handler words it."""
        if self.handler == "httpGet":
            return "HTTP probe failed with statuscode: 500"
        if self.handler == "tcpSocket":
            return f"dial tcp {pod_ip or '127.0.0.1'}:{self.port}: connect: connection refused"
        if self.handler == "grpc":
            return 'service unhealthy (responded with "NOT_SERVING")'
        return ""  # an exec probe reports the command's output: the emulated command prints nothing


def specs(container: Mapping[str, Any]) -> dict[Kind, ProbeSpec]:
    """The container's probes, by kind."""
    out: dict[Kind, ProbeSpec] = {}
    for kind, field in FIELDS.items():
        probe = container.get(field)
        if isinstance(probe, dict):
            out[kind] = _spec(kind, probe, container)
    return out


def _spec(kind: Kind, probe: Mapping[str, Any], container: Mapping[str, Any]) -> ProbeSpec:
    handler = next((h for h in ("httpGet", "tcpSocket", "grpc", "exec") if h in probe), "exec")
    port: int | str = 0
    action = probe.get(handler)
    if isinstance(action, dict):
        port = _port(action.get("port", 0), container)
    grace = probe.get("terminationGracePeriodSeconds")
    return ProbeSpec(
        kind=kind,
        initial_delay=float(probe.get("initialDelaySeconds") or 0),
        period=float(probe.get("periodSeconds") or 10),
        timeout=float(probe.get("timeoutSeconds") or 1),
        success_threshold=int(probe.get("successThreshold") or 1),
        failure_threshold=int(probe.get("failureThreshold") or 3),
        grace=float(grace) if grace is not None and kind is not Kind.READINESS else None,
        handler=handler,
        port=port,
    )


def _port(port: object, container: Mapping[str, Any]) -> int | str:
    """A named port resolved through the container's ports, as upstream's ``findPortByName``."""
    if isinstance(port, str) and not port.isdigit():
        for declared in container.get("ports") or []:
            if isinstance(declared, dict) and declared.get("name") == port:
                return int(declared.get("containerPort") or 0)
        return port
    return int(str(port)) if str(port).isdigit() else 0


@dataclasses.dataclass(frozen=True, slots=True)
class Tick:
    """One probe: when, what it answered, and the result it set (None: below the threshold, unchanged)."""

    at: float
    ok: bool
    decided: bool | None


@dataclasses.dataclass(slots=True)
class Worker:
    """One probe of one run of a container (see the module docstring)."""

    spec: ProbeSpec
    answers: behaviour.Timeline  # what the probe answers, over the time since the container started
    started: float  # the run's start
    result: bool | None  # the result manager's value (None: unknown)
    base: float = FOREVER  # the first tick (FOREVER: not probing)
    index: int = 0  # the next tick is base + index * period
    last: bool | None = None
    run: int = 0  # how many probes in a row gave ``last``

    @classmethod
    def new(cls, spec: ProbeSpec, answers: behaviour.Timeline, started: float) -> Worker:
        initial = {Kind.READINESS: False, Kind.LIVENESS: True, Kind.STARTUP: None}[spec.kind]
        return cls(spec, answers, started, initial)

    def begin(self, at: float) -> None:
        """Start probing from ``at`` (the container started, or passed its startup probe)."""
        self.base, self.index = max(at, self.started + self.spec.initial_delay), 0
        self._skip()

    def hold(self) -> None:
        self.base = FOREVER

    def due(self) -> float:
        return FOREVER if self.base == FOREVER else self.base + self.index * self.spec.period

    def tick(self) -> Tick:
        """Probe at ``due()`` and move on to the next tick."""
        at = self.due()
        ok = self.answers.at(at - self.started)
        self.run = self.run + 1 if ok == self.last else 1
        self.last = ok
        threshold = self.spec.success_threshold if ok else self.spec.failure_threshold
        decided = ok if self.run >= threshold else None
        if decided is not None:
            self.result = decided
        self.index += 1
        failed = decided is False and self.spec.kind is not Kind.READINESS  # the container is killed
        if failed or (decided is True and self.spec.kind is Kind.STARTUP):
            self.hold()  # a new run gets new workers; a startup probe that passed is done
        else:
            self._skip()
        return Tick(at, ok, decided)

    def _skip(self) -> None:
        """Jump over ticks that would succeed and change nothing."""
        if self.base == FOREVER:
            return
        settled = self.last is True and self.result is True and self.run >= self.spec.success_threshold
        if not settled or not self.answers.at(self.due() - self.started):
            return
        flip = self.started + self.answers.next_flip(self.due() - self.started)
        if flip == FOREVER:
            self.base = FOREVER  # it will answer yes for ever: nothing left to see
            return
        self.index = max(self.index, math.ceil((flip - self.base) / self.spec.period - 1e-9))
