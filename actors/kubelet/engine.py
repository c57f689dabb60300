"""The emulated container engine: what one pod's containers do over cluster time, and what the kubelet sees.

Pure and deterministic: ``PodRun`` is built from a pod and a start time; ``advance(now)`` plays everything
that happens up to ``now``, in time order, and returns when it next needs to be looked at; ``status(...)``
gives the pod status upstream's kubelet would report (phase, conditions, container states, restart counts);
``take_events()`` the events it would record; ``logs(...)`` and ``usage(...)`` what ``pods/log`` and
``metrics.k8s.io`` serve. The kubelet actor owns the clock, the writes and the event objects.

What a container does comes from ``behaviour`` (its command, or what ``kubemu.io/behaviour`` declares);
its images from the node's ``images.ImageCache``; its probes from ``probes``. As upstream's kubelet:

- images are ensured before each start (``Pulling``/``Pulled``, or "already present"); a failed pull waits
  in ``ErrImagePull``, then ``ImagePullBackOff`` (from the kubelet's next sync, 10 s later) until the image
  back-off (10 s doubling to 300 s, per container) ends and it pulls again; ``Never`` waits in
  ``ErrImageNeverPull`` until the image is on the node; a malformed reference waits in ``InvalidImageName``;
- a malformed declaration waits in ``CreateContainerConfigError`` once the image is there;
- init containers run in order, each to success, before the app containers start;
- a container that exits is restarted as ``restartPolicy`` says: at once the first time, then after the
  crash back-off (10 s doubling to 300 s; forgotten after 10 minutes of running), waiting in
  ``CrashLoopBackOff``; ``restartCount`` counts the runs started after the first;
- probes: a startup probe gates liveness and readiness; a liveness (or startup) failure past its threshold
  kills the container (SIGTERM, then SIGKILL at the probe's or pod's grace period) and restarts it unless
  ``restartPolicy`` is ``Never``; readiness flips the container's ``ready`` and the pod's ``Ready`` and
  ``ContainersReady`` conditions, whose ``lastTransitionTime`` is the flip's;
- deletion (``stop``) sends SIGTERM to every running container: a server exits at once with 0, a shell in
  ``sleep`` is killed at the grace period's end with 137; the deleted pod's final phase is Succeeded when
  every container exited 0, else Failed.

Simplified: probe ticks are anchored at a container's start, not at the prober's own jittered ticker; a
pod's sync after an error is exactly 10 s later; events that upstream repeats on every sync (back-off) are
recorded once per back-off; a pod's behaviour is read once, when its ``PodRun`` is made; sidecar (restartable
init) containers run as plain init containers; no probes during a deletion; a liveness kill's first two
restarts are at once upstream (its back-off looks at the run before), here only the first.

This module is past 600 lines on purpose: the container state machine, the status built from it and the
queries on it (logs, usage) share one private per-container state. Everything pure lives beside it:
``behaviour`` and ``scripts`` (what a container does), ``logs``, ``probes``, ``images``, ``pod_status``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections import deque
from typing import Any

from actors.kubelet import behaviour, images, logs, pod_status, probes
from kube import defaults_pod, errors, meta, quantity

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0  # running this long without a crash forgets the back-off
RESYNC_AFTER_ERROR = 10.0  # upstream kubelet's backOffPeriod: a pod whose sync failed is synced again then
EVENT_LIMIT = 1_000  # events kept until taken (the oldest go first)
FOREVER = behaviour.FOREVER

# The names this module has always had.
Behaviour = behaviour.Behaviour
behaviour_of = behaviour.of_container
ImageCache = images.ImageCache


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EngineEvent:
    """An event upstream's kubelet records about a pod's container (``involvedObject`` the pod,
    ``fieldPath`` the container), at cluster time ``at``."""

    at: float
    type: str  # Normal or Warning
    reason: str
    message: str
    container: str
    field_path: str  # spec.containers{web}


class LogsUnavailable(Exception):
    """No logs to show, with the message upstream's kubelet gives (the apiserver answers 400 with it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Phase(enum.Enum):
    IDLE = "idle"  # its turn has not come (init containers before it)
    PULLING = "pulling"  # its image is being ensured until ``until``
    IMAGE_BACKOFF = "image-backoff"  # a pull failed; pulls again at ``until``
    CRASH_BACKOFF = "crash-backoff"  # restarts at ``until``
    BLOCKED = "blocked"  # waits for something no timer brings (Never pull, bad name, bad declaration)
    RUNNING = "running"
    STOPPING = "stopping"  # SIGTERM sent: exits at ``until``
    EXITED = "exited"  # terminated and not restarted (or never started, the pod being deleted)


@dataclasses.dataclass(slots=True)
class _Instance:
    """One run of a container (upstream: one container, attempt N)."""

    attempt: int
    started: float
    behaviour: behaviour.Behaviour
    finished: float | None = None
    exit_code: int = 0
    reason: str = ""


@dataclasses.dataclass(slots=True)
class _Container:
    spec: dict[str, Any]
    init: bool
    behaviour: behaviour.Behaviour
    probe_specs: dict[probes.Kind, probes.ProbeSpec]
    cpu_limit: int | None
    memory_limit: int | None
    phase: _Phase = _Phase.IDLE
    until: float = FOREVER
    waiting: tuple[str, str] | None = None  # the (reason, message) upstream's reason cache holds
    current: _Instance | None = None
    previous: _Instance | None = None
    backoff: float = 0.0  # the crash back-off (0: none yet)
    backoff_at: float = 0.0  # when it was last moved on
    image_backoff: float = 0.0
    image_backoff_at: float = 0.0
    notice_at: float = FOREVER  # when ImagePullBackOff shows
    pull: images.Pull | None = None
    exit: tuple[float, int, str] = (FOREVER, 0, "")  # how the run ends by itself: when, code, reason
    stop: tuple[int, str] = (0, "")  # STOPPING: the code and reason at ``until``
    restart_after_stop: bool = False  # killed by a probe: started again whatever the exit code
    workers: dict[probes.Kind, probes.Worker] = dataclasses.field(default_factory=dict)
    started_at: float | None = None  # passed its startup probe (or had none)
    ready: bool = False  # the readiness result (declared readiness without a probe)
    flip_at: float = FOREVER  # declared readiness without a probe changes then

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def image(self) -> str:
        return str(self.spec.get("image", ""))

    @property
    def policy(self) -> str:
        return str(self.spec.get("imagePullPolicy") or defaults_pod.image_pull_policy(self.image))

    @property
    def running(self) -> bool:
        return self.phase in (_Phase.RUNNING, _Phase.STOPPING)


class PodRun:
    """One pod's containers on one node (see the module docstring)."""

    def __init__(
        self, pod: dict[str, Any], now: float, images: images.ImageCache, *, pod_ip: str = ""
    ) -> None:
        spec = pod.get("spec") or {}
        self.namespace = pod["metadata"].get("namespace", "")
        self.name = pod["metadata"]["name"]
        self.uid = pod["metadata"].get("uid", "")
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.grace = float(spec.get("terminationGracePeriodSeconds", 30))
        self.accepted = now
        self.now = now  # the latest time advanced to
        self.images = images
        self.pod_ip = pod_ip  # probes' failure messages name it
        declared = behaviour.of_pod(pod)
        self.containers = [
            self._container(c, init, declared[str(c.get("name", ""))])
            for init, group in ((True, spec.get("initContainers")), (False, spec.get("containers")))
            for c in group or []
        ]
        self.initialized_at: float | None = None if self._inits() else now
        self.stopping_at: float | None = None  # deletion asked: containers stop
        self._stop_applied = False
        self._ready = (False, now)  # the pod's readiness and when it last changed
        self._events: deque[EngineEvent] = deque(maxlen=EVENT_LIMIT)
        self._settle(now)

    def _container(self, spec: dict[str, Any], init: bool, declared: behaviour.Behaviour) -> _Container:
        return _Container(
            spec=spec,
            init=init,
            behaviour=declared,
            probe_specs={} if init else probes.specs(spec),
            cpu_limit=_limit(spec, "cpu"),
            memory_limit=_limit(spec, "memory"),
        )

    # -- driving -------------------------------------------------------------------------------------------

    def stop(self, now: float, grace: float | None = None) -> None:
        """The pod is being deleted (with ``grace`` seconds, default the pod's own): every container stops
        (see the module docstring)."""
        if self.stopping_at is None:
            self.stopping_at = now
            if grace is not None:
                self.grace = grace

    def advance(self, now: float) -> float:
        """Play everything up to ``now``, in time order; returns the next time something happens
        (``FOREVER``: only a deletion, or an image arriving on the node, will change it)."""
        self.now = max(self.now, now)
        while True:
            at = self._due()
            if at <= now:
                self._fire(at)
                self._settle(at)
            elif not self._recheck(now):
                return at

    def stopped(self) -> bool:
        """Everything has stopped after a deletion: the kubelet may remove the pod."""
        return self._stop_applied and not any(c.running for c in self.containers)

    def take_events(self) -> list[EngineEvent]:
        """The events recorded since the last call, oldest first."""
        out = list(self._events)
        self._events.clear()
        return out

    def _inits(self) -> list[_Container]:
        return [c for c in self.containers if c.init]

    def _due(self) -> float:
        pending = self.stopping_at if self.stopping_at is not None and not self._stop_applied else FOREVER
        return min([pending, *(self._container_due(c) for c in self.containers)])

    def _container_due(self, c: _Container) -> float:
        if c.phase in (_Phase.PULLING, _Phase.CRASH_BACKOFF, _Phase.STOPPING):
            return c.until
        if c.phase is _Phase.IMAGE_BACKOFF:
            return min(c.until, c.notice_at)
        if c.phase is _Phase.RUNNING:
            return min([c.exit[0], c.flip_at, *(w.due() for w in c.workers.values())])
        return FOREVER

    def _fire(self, at: float) -> None:
        if self.stopping_at == at and not self._stop_applied:
            self._apply_stop(at)
        for c in self.containers:
            if self._container_due(c) != at:
                continue
            if c.phase is _Phase.PULLING:
                self._pulled(c, at)
            elif c.phase is _Phase.IMAGE_BACKOFF:
                if c.notice_at == at:
                    self._notice(c, at)
                if c.until == at:
                    self._ensure(c, at)
            elif c.phase is _Phase.CRASH_BACKOFF:
                c.backoff, c.backoff_at = min(c.backoff * 2, BACKOFF_MAX), at
                self._ensure(c, at)
            elif c.phase is _Phase.STOPPING:
                self._exited(c, at, *c.stop)
            elif c.exit[0] == at:
                self._exited(c, at, c.exit[1], c.exit[2])
            else:
                self._probe_all(c, at)

    def _settle(self, at: float) -> None:
        """Start what may start now; note the pod's readiness."""
        if not self._stop_applied:
            if self.initialized_at is None:
                for c in self._inits():
                    if self._done(c):
                        continue
                    if c.phase is _Phase.IDLE:
                        self._ensure(c, at)
                    break
                else:
                    self.initialized_at = at
            if self.initialized_at is not None:
                for c in self.containers:
                    if not c.init and c.phase is _Phase.IDLE:
                        self._ensure(c, at)
        ready = self.initialized_at is not None and all(
            self._ready_now(c) for c in self.containers if not c.init
        )
        if ready != self._ready[0]:
            self._ready = (ready, at)

    def _recheck(self, now: float) -> bool:
        """Containers waiting for an image with policy Never start once it is on the node."""
        waiting = [
            c
            for c in self.containers
            if c.phase is _Phase.BLOCKED
            and c.waiting is not None
            and c.waiting[0] == "ErrImageNeverPull"
            and self.images.present(c.image, now)
        ]
        for c in waiting:
            self._ensure(c, now)
        if waiting:
            self._settle(now)
        return bool(waiting)

    @staticmethod
    def _done(c: _Container) -> bool:
        return c.phase is _Phase.EXITED and c.current is not None and c.current.exit_code == 0

    @staticmethod
    def _ready_now(c: _Container) -> bool:
        return c.running and c.started_at is not None and c.ready

    # -- images and starts -------------------------------------------------------------------------------

    def _ensure(self, c: _Container, at: float) -> None:
        """Upstream's ``EnsureImageExists`` before a start."""
        if self._stop_applied:
            c.phase, c.until = _Phase.EXITED, FOREVER
            return
        b = c.behaviour
        pull = self.images.ensure(c.image, now=at, policy=c.policy, seconds=b.image_pull, fail=b.image_fails)
        image = _quote(c.image)
        if pull.outcome is images.Outcome.INVALID:
            self._block(c, at, "InvalidImageName", pull.message, "InspectFailed")
        elif pull.outcome is images.Outcome.NEVER:
            self._block(c, at, "ErrImageNeverPull", pull.message, "ErrImageNeverPull")
        elif pull.outcome is images.Outcome.PRESENT:
            self._event(c, at, "Normal", "Pulled", f"Container image {image} already present on machine")
            self._create(c, at)
        else:
            self._event(c, at, "Normal", "Pulling", f"Pulling image {image}")
            c.phase, c.until, c.pull = _Phase.PULLING, pull.done, pull

    def _block(self, c: _Container, at: float, reason: str, message: str, event: str) -> None:
        c.phase, c.until, c.waiting = _Phase.BLOCKED, FOREVER, (reason, message)
        self._event(c, at, "Warning", event, message)
        self._event(c, at, "Warning", "Failed", f"Error: {reason}")

    def _pulled(self, c: _Container, at: float) -> None:
        pull = c.pull
        assert pull is not None
        image = _quote(c.image)
        if pull.outcome is images.Outcome.FAILED:
            self._event(c, at, "Warning", "Failed", f"Failed to pull image {image}: {pull.message}")
            self._event(c, at, "Warning", "Failed", "Error: ErrImagePull")
            fresh = not c.image_backoff or at - c.image_backoff_at > BACKOFF_RESET
            c.image_backoff = BACKOFF_INITIAL if fresh else min(c.image_backoff * 2, BACKOFF_MAX)
            c.image_backoff_at = at
            c.waiting = ("ErrImagePull", pull.message)
            c.phase, c.until = _Phase.IMAGE_BACKOFF, at + c.image_backoff
            resync = at + RESYNC_AFTER_ERROR
            c.notice_at = resync if resync < c.until else FOREVER
            return
        took, waited = behaviour.go_duration(_ms(pull.seconds)), behaviour.go_duration(_ms(at - pull.asked))
        message = f"Successfully pulled image {image} in {took} ({waited} including waiting)."
        self._event(c, at, "Normal", "Pulled", f"{message} Image size: {pull.size} bytes.")
        self._create(c, at)

    def _notice(self, c: _Container, at: float) -> None:
        """The kubelet's next sync finds the image in back-off."""
        assert c.pull is not None
        image = _quote(c.image)
        c.waiting = ("ImagePullBackOff", f"Back-off pulling image {image}: ErrImagePull: {c.pull.message}")
        c.notice_at = FOREVER
        self._event(c, at, "Normal", "BackOff", f"Back-off pulling image {image}")
        self._event(c, at, "Warning", "Failed", "Error: ImagePullBackOff")

    def _create(self, c: _Container, at: float) -> None:
        if c.behaviour.error:
            c.phase, c.until, c.waiting = (
                _Phase.BLOCKED,
                FOREVER,
                ("CreateContainerConfigError", c.behaviour.error),
            )
            self._event(c, at, "Warning", "Failed", f"Error: {c.behaviour.error}")
            return
        b = c.behaviour
        attempt = c.current.attempt + 1 if c.current is not None else 0
        c.previous, c.current = c.current, _Instance(attempt, at, b)
        c.phase, c.until, c.waiting = _Phase.RUNNING, FOREVER, None
        oom = b.usage.oom_after(c.memory_limit)
        if oom < b.runs_for:
            c.exit = (at + oom, 137, "OOMKilled")
        else:
            c.exit = (at + b.runs_for, b.exit_code, "Completed" if b.exit_code == 0 else "Error")
        self._event(c, at, "Normal", "Created", f"Created container: {c.name}")
        self._event(c, at, "Normal", "Started", f"Started container {c.name}")
        answers = {
            probes.Kind.STARTUP: b.startup,
            probes.Kind.LIVENESS: b.liveness,
            probes.Kind.READINESS: b.readiness,
        }
        c.workers = {kind: probes.Worker.new(spec, answers[kind], at) for kind, spec in c.probe_specs.items()}
        c.ready, c.started_at, c.flip_at = False, None, FOREVER
        if probes.Kind.STARTUP in c.workers:
            c.workers[probes.Kind.STARTUP].begin(at)
        else:
            self._started(c, at)

    def _started(self, c: _Container, at: float) -> None:
        """The container passed its startup probe (or has none): liveness and readiness begin."""
        c.started_at = at
        for kind in (probes.Kind.LIVENESS, probes.Kind.READINESS):
            if kind in c.workers:
                c.workers[kind].begin(at)
        if probes.Kind.READINESS not in c.workers:
            self._declared_readiness(c, at)

    def _declared_readiness(self, c: _Container, at: float) -> None:
        assert c.current is not None
        elapsed = at - c.current.started
        c.ready = c.behaviour.readiness.at(elapsed)
        c.flip_at = c.current.started + c.behaviour.readiness.next_flip(elapsed)

    # -- probes, exits, restarts --------------------------------------------------------------------------

    def _probe_all(self, c: _Container, at: float) -> None:
        for kind in (probes.Kind.STARTUP, probes.Kind.LIVENESS, probes.Kind.READINESS):
            worker = c.workers.get(kind)
            if worker is None or worker.due() != at:
                continue
            tick = worker.tick()
            if not tick.ok:
                failure = worker.spec.failure(self.pod_ip)
                self._event(c, at, "Warning", "Unhealthy", f"{kind} probe failed: {failure}")
            if tick.decided is None:
                continue
            if kind is probes.Kind.READINESS:
                c.ready = tick.decided
            elif tick.decided and kind is probes.Kind.STARTUP:
                self._started(c, at)
            elif not tick.decided:
                self._kill(c, at, kind, worker.spec.grace)
                return
        if c.flip_at == at:
            self._declared_readiness(c, at)

    def _kill(self, c: _Container, at: float, kind: probes.Kind, grace: float | None) -> None:
        """A liveness or startup probe failed past its threshold."""
        c.restart_after_stop = self.restart_policy != "Never"
        message = f"Container {c.name} failed {kind.value.lower()} probe"
        self._event(
            c, at, "Normal", "Killing", message + (", will be restarted" if c.restart_after_stop else "")
        )
        self._sigterm(c, at, self.grace if grace is None else grace)

    def _sigterm(self, c: _Container, at: float, grace: float) -> None:
        assert c.current is not None
        b = c.current.behaviour
        for worker in c.workers.values():
            worker.hold()
        c.flip_at = FOREVER
        if b.handles_sigterm and b.stop_seconds <= grace:
            end, code, reason = at + b.stop_seconds, 0, "Completed"
        else:
            end, code, reason = at + grace, 137, "Error"
        if c.exit[0] <= end:
            end, code, reason = c.exit
        c.phase, c.until, c.stop = _Phase.STOPPING, max(end, at), (code, reason)

    def _apply_stop(self, at: float) -> None:
        self._stop_applied = True
        for c in self.containers:
            c.restart_after_stop = False
            if c.phase is _Phase.RUNNING:
                self._event(c, at, "Normal", "Killing", f"Stopping container {c.name}")
                self._sigterm(c, at, self.grace)
            elif c.phase is not _Phase.STOPPING:
                c.phase, c.until, c.notice_at = _Phase.EXITED, FOREVER, FOREVER

    def _exited(self, c: _Container, at: float, code: int, reason: str) -> None:
        assert c.current is not None
        c.current.finished, c.current.exit_code, c.current.reason = at, code, reason
        c.workers, c.ready, c.started_at, c.flip_at = {}, False, None, FOREVER
        c.exit = (FOREVER, 0, "")
        restart = c.restart_after_stop or self._restarts(c, code)
        c.restart_after_stop = False
        if self._stop_applied or not restart:
            c.phase, c.until = _Phase.EXITED, FOREVER
            return
        if not c.backoff or at - c.backoff_at > BACKOFF_RESET:
            c.backoff, c.backoff_at = BACKOFF_INITIAL, at  # the first restart is at once
            self._ensure(c, at)
            return
        pod = self._pod_name()
        message = (
            f"back-off {behaviour.go_duration(c.backoff)} restarting failed container={c.name} pod={pod}"
        )
        c.phase, c.until, c.waiting = _Phase.CRASH_BACKOFF, at + c.backoff, ("CrashLoopBackOff", message)
        self._event(
            c, at, "Warning", "BackOff", f"Back-off restarting failed container {c.name} in pod {pod}"
        )

    def _restarts(self, c: _Container, code: int) -> bool:
        if c.init:
            return code != 0 and self.restart_policy != "Never"
        return self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and code != 0)

    def _event(self, c: _Container, at: float, kind: str, reason: str, message: str) -> None:
        path = f"spec.{'initContainers' if c.init else 'containers'}{{{c.name}}}"
        self._events.append(
            EngineEvent(at=at, type=kind, reason=reason, message=message, container=c.name, field_path=path)
        )

    def _pod_name(self) -> str:
        return f"{self.name}_{self.namespace}({self.uid})"

    # -- reporting -----------------------------------------------------------------------------------------

    def status(self, now: float, *, pod_ip: str, host_ip: str) -> dict[str, Any]:
        """The pod status as upstream's kubelet reports it (``generateAPIPodStatus``)."""
        apps = [c for c in self.containers if not c.init]
        inits = self._inits()
        app_statuses = [self._container_status(c) for c in apps]
        init_statuses = [self._container_status(c) for c in inits]
        phase = pod_status.phase(
            init_statuses, app_statuses, restart_policy=self.restart_policy, terminal=self.stopped()
        )
        ready, since = self._ready
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": pod_status.conditions(
                phase=phase,
                accepted=self.accepted,
                initialized_at=self.initialized_at,
                incomplete=[c.name for c in inits if not self._done(c)],
                ready=ready,
                ready_since=since,
                unready=[c.name for c in apps if not self._ready_now(c)],
            ),
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}] if host_ip else [],
            "startTime": meta.now_rfc3339(self.accepted),
            "qosClass": pod_status.qos_class([c.spec for c in self.containers]),
            "containerStatuses": app_statuses,
        }
        if pod_ip:
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
        if inits:
            status["initContainerStatuses"] = init_statuses
        return status

    def _container_status(self, c: _Container) -> dict[str, Any]:
        run = c.current
        last = c.previous
        state: dict[str, Any]
        if c.running:
            assert run is not None
            state = {"running": {"startedAt": meta.now_rfc3339(run.started)}}
        elif c.waiting is not None:
            state = {"waiting": {"reason": c.waiting[0], "message": c.waiting[1]}}
            if run is not None and run.finished is not None:
                last = run
        elif run is not None and run.finished is not None:
            state = {"terminated": self._terminated(c, run)}
        else:
            state = {
                "waiting": {
                    "reason": "PodInitializing" if not c.init and self._inits() else "ContainerCreating"
                }
            }
        return {
            "name": c.name,
            "image": c.image,
            "imageID": images.image_id(c.image) if run is not None else "",
            "containerID": self._container_id(c, run) if run is not None else "",
            "ready": self._done(c) if c.init else self._ready_now(c),
            "restartCount": run.attempt if run is not None else 0,
            "started": c.running and c.started_at is not None,
            "state": state,
            "lastState": {"terminated": self._terminated(c, last)} if last is not None else {},
        }

    def _container_id(self, c: _Container, run: _Instance) -> str:
        return f"kubemu://{self.uid}-{c.name}-{run.attempt}"

    def _terminated(self, c: _Container, run: _Instance) -> dict[str, Any]:
        assert run.finished is not None
        return {
            "exitCode": run.exit_code,
            "reason": run.reason,
            "startedAt": meta.now_rfc3339(run.started),
            "finishedAt": meta.now_rfc3339(run.finished),
            "containerID": self._container_id(c, run),
        }

    # -- logs and usage ------------------------------------------------------------------------------------

    def logs(
        self,
        container: str,
        *,
        previous: bool = False,
        since: float | None = None,
        tail: int | None = None,
        now: float | None = None,
    ) -> list[tuple[float, str]]:
        """The (time, line) pairs the container wrote, oldest first (``kubectl logs``): its current run, or
        with ``previous`` the one before (``-p``); only lines at or after ``since`` (cluster time), the last
        ``tail`` of them; a run still going is read up to ``now`` (default: the last ``advance``).
        ``LogsUnavailable`` with upstream's message when there is nothing to read."""
        c = next((c for c in self.containers if c.name == container), None)
        if c is None:
            raise LogsUnavailable(f'container "{container}" in pod "{self.name}" is not available')
        run = self._log_run(c, previous)
        until = run.finished if run.finished is not None else (self.now if now is None else now)
        return logs.lines(
            run.behaviour.lines, run.behaviour.loop, started=run.started, until=until, since=since, tail=tail
        )

    def _log_run(self, c: _Container, previous: bool) -> _Instance:
        """Upstream's ``validateContainerLogStatus``: which run's logs a request reads."""
        status = self._container_status(c)
        terminated = c.current if c.current is not None and c.current.finished is not None else None
        last = c.previous if c.running or (c.waiting is None and terminated) else terminated
        where = f'container "{c.name}" in pod "{self.name}"'
        if previous:
            if last is None:
                raise LogsUnavailable(
                    f'previous terminated container "{c.name}" in pod "{self.name}" not found'
                )
            return last
        if c.running or (terminated is not None and c.waiting is None):
            assert c.current is not None
            return c.current
        if last is not None:
            return last
        reason = status["state"]["waiting"]["reason"]
        if reason == "ErrImagePull":
            raise LogsUnavailable(f"{where} is waiting to start: image can't be pulled")
        if reason == "ImagePullBackOff":
            raise LogsUnavailable(f"{where} is waiting to start: trying and failing to pull image")
        raise LogsUnavailable(f"{where} is waiting to start: {reason}")

    def usage(self, now: float, *, request_rate: float = 0.0) -> dict[str, tuple[int, int]]:
        """(CPU nanocores, memory bytes) of each running container at ``now``, for ``metrics.k8s.io``.
        ``request_rate`` (requests per second routed to the pod) adds each container's ``cpuPerRequest``;
        without any declared, the pod's first container takes the default. CPU is capped at the limit."""
        running = [c for c in self.containers if c.running and c.current is not None]
        declared = any(c.behaviour.usage.cpu_per_request is not None for c in running if not c.init)
        first = next((c for c in self.containers if not c.init), None)
        out: dict[str, tuple[int, int]] = {}
        for c in running:
            assert c.current is not None
            model = c.current.behaviour.usage
            per_request = model.cpu_per_request
            if per_request is None:
                per_request = behaviour.DEFAULT_CPU_PER_REQUEST if c is first and not declared else 0
            rate = 0.0 if c.init else request_rate
            cpu, memory = model.at(now - c.current.started, rate, per_request)
            if c.cpu_limit is not None:
                cpu = min(cpu, c.cpu_limit)
            out[c.name] = (cpu, memory)
        return out


def _limit(spec: dict[str, Any], name: str) -> int | None:
    """A container's cpu limit in nanocores, or memory limit in bytes."""
    value = ((spec.get("resources") or {}).get("limits") or {}).get(name)
    if value is None:
        return None
    try:
        parsed = quantity.parse(str(value))
    except errors.QuantityError:
        return None
    return parsed.nanos if name == "cpu" else parsed.value()


def _ms(seconds: float) -> float:
    """Truncated to the millisecond, as upstream's pull durations."""
    return math.floor(round(seconds * 1000, 6)) / 1000


def _quote(text: str) -> str:
    """Go's ``%q`` for plain text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
