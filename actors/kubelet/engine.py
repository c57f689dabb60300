"""The emulated container engine: what one pod's containers do over cluster time, and the status it gives.

Pure and deterministic: ``PodRun`` is built from a pod and a start time, ``advance(now)`` moves every
container through its life up to ``now`` and returns when it next needs to be looked at, ``status(...)``
gives the pod status upstream's kubelet would report (phase, conditions, container states, restart counts).
The kubelet actor owns the clock and the writes.

What an emulated container does is read from the manifest, as a real one would behave:

- no command (an image's own entrypoint: nginx, redis, ...): runs until the pod is deleted;
- ``sleep N`` (also ``sh -c "sleep N"`` and ``["sleep", "N"]`` in args): runs N seconds, exits 0;
- ``true`` exits 0, ``false`` exits 1, ``sh -c "exit N"`` exits N, at once;
- ``sh -c "sleep N; exit M"`` (or ``&&``): runs N seconds, exits M;
- anything else runs until the pod is deleted.

Images are pulled one after another (upstream's ``serializeImagePulls``) taking ``pull_seconds`` each, once
per image per node (the ``ImageCache`` is the node's): ``imagePullPolicy: Always`` pulls again, ``Never``
uses only what is cached (``ErrImageNeverPull`` otherwise). Init containers run in order, each to success,
before the app containers start. A container that exits is restarted as ``restartPolicy`` says, after
upstream's crash back-off (10 s doubling to 300 s, reset after 10 minutes of running), waiting in
``CrashLoopBackOff`` meanwhile. Deleting the pod stops its containers: one that would run forever stops at
once with exit code 0 (as a process that handles SIGTERM); a ``sleep`` (which ignores SIGTERM as PID 1) is
killed at the grace period's end with 137.

Not emulated yet: probes, logs, resource usage, bad images (the rest of the node issue).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from typing import Any

from kube import meta

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0  # running this long without a crash forgets the back-off
FOREVER = float("inf")

_SLEEP = re.compile(r"^sleep\s+(\d+(?:\.\d+)?)$")
_EXIT = re.compile(r"^exit\s+(\d+)$")


@dataclasses.dataclass(frozen=True, slots=True)
class Behaviour:
    """How long a container runs (``FOREVER``: until stopped) and the code it then exits with."""

    runs_for: float
    exit_code: int = 0
    handles_sigterm: bool = True


def behaviour_of(container: dict[str, Any]) -> Behaviour:
    """What the container's command and args make it do (see the module docstring)."""
    words = [str(w) for w in (container.get("command") or [])] + [
        str(w) for w in (container.get("args") or [])
    ]
    if not words:
        return Behaviour(FOREVER)
    if len(words) >= 3 and words[0] in ("sh", "/bin/sh", "bash", "/bin/bash") and words[1] == "-c":
        return _script(words[2])
    return (
        _script(shlex.join(words)) if words[0] in ("sleep", "true", "false", "exit") else Behaviour(FOREVER)
    )


def _script(text: str) -> Behaviour:
    runs_for, code, handles = 0.0, 0, True
    steps = [s.strip() for s in re.split(r";|&&", text) if s.strip()]
    if not steps:
        return Behaviour(FOREVER)
    for step in steps:
        if match := _SLEEP.match(step):
            runs_for += float(match.group(1))
            handles = False  # a shell waiting in sleep as PID 1 ignores SIGTERM
        elif step == "true":
            code = 0
        elif step == "false":
            code = 1
        elif match := _EXIT.match(step):
            return Behaviour(runs_for, int(match.group(1)), handles)
        else:
            return Behaviour(FOREVER)  # some real work: it runs until stopped
    return Behaviour(runs_for, code, handles)


class ImageCache:
    """The images a node has pulled, and when each pull finishes (pulls are serial, as upstream's)."""

    def __init__(self, pull_seconds: float = 0.5) -> None:
        self.pull_seconds = pull_seconds
        self.ready: dict[str, float] = {}  # image -> when it is (or will be) on the node
        self.busy_until = 0.0

    def pull(self, image: str, now: float, policy: str) -> float | None:
        """When ``image`` is usable for a container starting at ``now``; None when policy ``Never`` and it
        is not on the node."""
        cached = self.ready.get(image)
        if policy == "Never":
            return cached if cached is not None and cached <= now else None
        if cached is not None and policy != "Always":
            return max(cached, now)
        done = max(now, self.busy_until) + self.pull_seconds
        self.busy_until = done
        self.ready[image] = done if cached is None else min(cached, done)
        return done


@dataclasses.dataclass(slots=True)
class _Container:
    spec: dict[str, Any]
    init: bool
    behaviour: Behaviour
    image_at: float | None = None  # when its image is ready (None: not asked yet)
    started: float | None = None  # the current run's start
    finished: float | None = None  # the current run's end (set when it exits)
    exit_code: int = 0
    restarts: int = 0
    backoff: float = 0.0
    retry_at: float | None = None  # restart after a crash, not before
    last: dict[str, Any] | None = None  # ``lastState.terminated`` of upstream
    never_pull: bool = False

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))


class PodRun:
    """One pod's containers on one node (see the module docstring)."""

    def __init__(self, pod: dict[str, Any], now: float, images: ImageCache) -> None:
        spec = pod.get("spec") or {}
        self.namespace = pod["metadata"].get("namespace", "")
        self.name = pod["metadata"]["name"]
        self.uid = pod["metadata"].get("uid", "")
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.grace = float(spec.get("terminationGracePeriodSeconds", 30))
        self.accepted = now
        self.images = images
        self.containers = [
            _Container(spec=c, init=True, behaviour=behaviour_of(c)) for c in spec.get("initContainers") or []
        ] + [_Container(spec=c, init=False, behaviour=behaviour_of(c)) for c in spec.get("containers") or []]
        self.initialized_at: float | None = None if self._inits() else now
        self.stopping_at: float | None = None  # deletion asked: containers stop
        self.failed_init = False

    # -- driving -------------------------------------------------------------------------------------------

    def stop(self, now: float, grace: float | None = None) -> None:
        """The pod is being deleted (with ``grace`` seconds, default the pod's own): every container stops
        (see the module docstring)."""
        if self.stopping_at is None:
            self.stopping_at = now
            if grace is not None:
                self.grace = grace

    def advance(self, now: float) -> float:
        """Move every container to ``now``; returns the next time something happens (``FOREVER``: only a
        deletion will change it)."""
        while True:
            changed = self._step(now)
            if not changed:
                break
        return self._next_event(now)

    def stopped(self) -> bool:
        """Everything has stopped after a deletion: the kubelet may remove the pod."""
        return self.stopping_at is not None and all(
            c.started is None or c.finished is not None for c in self.containers
        )

    def _inits(self) -> list[_Container]:
        return [c for c in self.containers if c.init]

    def _step(self, now: float) -> bool:
        changed = False
        for c in self.containers:
            if self.stopping_at is not None:
                changed |= self._stop_one(c, now)
                continue
            if c.init and self.initialized_at is not None:
                continue
            if not c.init and self.initialized_at is None:
                continue
            if c.init and any(
                o.init and o is not c and self._before(o, c) and not self._done(o) for o in self.containers
            ):
                continue  # init containers run one after another
            changed |= self._run_one(c, now)
        if self.initialized_at is None and self._inits() and all(self._done(c) for c in self._inits()):
            self.initialized_at = max(c.finished or 0.0 for c in self._inits())
            changed = True
        return changed

    def _before(self, a: _Container, b: _Container) -> bool:
        return self.containers.index(a) < self.containers.index(b)

    def _done(self, c: _Container) -> bool:
        return c.finished is not None and c.exit_code == 0

    def _run_one(self, c: _Container, now: float) -> bool:
        if c.image_at is None and not c.never_pull:
            policy = c.spec.get("imagePullPolicy") or "IfNotPresent"
            at = self.images.pull(str(c.spec.get("image", "")), self._ready_time(c), policy)
            if at is None:
                c.never_pull = True
                return True
            c.image_at = at
            return True
        if c.never_pull or c.image_at is None:
            return False
        if c.started is None:
            begin = max(c.image_at, c.retry_at or 0.0)
            if begin <= now:
                c.started, c.retry_at = begin, None
                return True
            return False
        if c.finished is None:
            end = c.started + c.behaviour.runs_for
            if end <= now:
                c.finished, c.exit_code = end, c.behaviour.exit_code
                return True
            return False
        if self._restarts(c):
            ran = c.finished - c.started
            c.backoff = (
                BACKOFF_INITIAL if ran >= BACKOFF_RESET or not c.backoff else min(c.backoff * 2, BACKOFF_MAX)
            )
            c.last = self._terminated(c)
            c.retry_at = c.finished + c.backoff
            c.restarts += 1
            c.started = c.finished = None
            c.exit_code = 0
            return True
        return False

    def _ready_time(self, c: _Container) -> float:
        """When a container may start pulling: app containers after the init containers, init containers
        after the one before them."""
        if not c.init:
            return self.initialized_at or self.accepted
        earlier = [o for o in self.containers if o.init and self._before(o, c)]
        return max([o.finished or self.accepted for o in earlier] or [self.accepted])

    def _restarts(self, c: _Container) -> bool:
        if c.init:
            return c.exit_code != 0 and self.restart_policy != "Never"
        return self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and c.exit_code != 0)

    def _stop_one(self, c: _Container, now: float) -> bool:
        assert self.stopping_at is not None
        if c.started is None:
            if c.retry_at is not None or c.image_at is not None:
                c.retry_at = None
            return False
        if c.finished is not None:
            return False
        natural = c.started + c.behaviour.runs_for
        if c.behaviour.handles_sigterm:
            stop_at, code = (
                min(natural, self.stopping_at),
                (c.behaviour.exit_code if natural <= self.stopping_at else 0),
            )
        else:
            killed = self.stopping_at + self.grace
            stop_at, code = (natural, c.behaviour.exit_code) if natural <= killed else (killed, 137)
        if stop_at <= now:
            c.finished, c.exit_code = max(stop_at, c.started), code
            return True
        return False

    def _next_event(self, now: float) -> float:
        times: list[float] = []
        for c in self.containers:
            if c.started is None and c.image_at is not None and self.stopping_at is None:
                times.append(max(c.image_at, c.retry_at or 0.0))
            elif c.started is not None and c.finished is None:
                if self.stopping_at is not None:
                    times.append(
                        self.stopping_at
                        if c.behaviour.handles_sigterm
                        else min(c.started + c.behaviour.runs_for, self.stopping_at + self.grace)
                    )
                times.append(c.started + c.behaviour.runs_for)
        future = [t for t in times if t > now]
        return min(future) if future else (now if any(t <= now for t in times) else FOREVER)

    # -- reporting -----------------------------------------------------------------------------------------

    def status(self, now: float, *, pod_ip: str, host_ip: str) -> dict[str, Any]:
        """The pod status as upstream's kubelet reports it (``generateAPIPodStatus``)."""
        apps = [c for c in self.containers if not c.init]
        inits = self._inits()
        stamp = meta.now_rfc3339(self.accepted)
        running = [c for c in apps if c.started is not None and c.finished is None]
        ready = self.initialized_at is not None and len(running) == len(apps)
        since = self._ready_since(apps) if ready else self.accepted
        unready = " ".join(c.name for c in apps if c not in running)
        not_ready = ("ContainersNotReady", f"containers with unready status: [{unready}]")
        incomplete = " ".join(c.name for c in inits if not self._done(c))
        not_initialized = ("ContainersNotInitialized", f"containers with incomplete status: [{incomplete}]")
        initialized = self.initialized_at is not None
        conditions = [
            _condition("PodReadyToStartContainers", True, self.accepted),
            _condition("Initialized", initialized, self.initialized_at or self.accepted, not_initialized),
            _condition("Ready", ready, since, not_ready),
            _condition("ContainersReady", ready, since, not_ready),
            _condition("PodScheduled", True, self.accepted),
        ]
        status: dict[str, Any] = {
            "phase": self._phase(apps),
            "conditions": conditions,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}] if host_ip else [],
            "startTime": stamp,
            "qosClass": _qos(self.containers),
            "containerStatuses": [self._container_status(c) for c in apps],
        }
        if pod_ip:
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
        if inits:
            status["initContainerStatuses"] = [self._container_status(c) for c in inits]
        return status

    def _ready_since(self, apps: list[_Container]) -> float:
        return max([c.started or self.accepted for c in apps] or [self.accepted])

    def _phase(self, apps: list[_Container]) -> str:
        if self.initialized_at is None:
            if any(
                c.init and c.finished is not None and c.exit_code != 0 and not self._restarts(c)
                for c in self.containers
            ):
                return "Failed"
            return "Pending"
        if any(c.started is None and c.retry_at is None and c.restarts == 0 for c in apps):
            return "Pending"  # not every container has started once yet
        if any(c.started is not None and c.finished is None for c in apps) or any(
            c.retry_at is not None for c in apps
        ):
            return "Running"
        if all(c.finished is not None for c in apps):
            return "Succeeded" if all(c.exit_code == 0 for c in apps) else "Failed"
        return "Running"

    def _container_status(self, c: _Container) -> dict[str, Any]:
        image = str(c.spec.get("image", ""))
        running = c.started is not None and c.finished is None
        state: dict[str, Any]
        if running:
            assert c.started is not None
            state = {"running": {"startedAt": meta.now_rfc3339(c.started)}}
        elif c.finished is not None:
            state = {"terminated": self._terminated(c)}
        elif c.retry_at is not None:
            message = (
                f"back-off {_duration(c.backoff)} restarting failed container={c.name} "
                f"pod={self.name}_{self.namespace}({self.uid})"
            )
            state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        elif c.never_pull:
            message = f'Container image "{image}" is not present with pull policy of Never'
            state = {"waiting": {"reason": "ErrImageNeverPull", "message": message}}
        else:
            state = {
                "waiting": {
                    "reason": "PodInitializing" if not c.init and self._inits() else "ContainerCreating"
                }
            }
        out: dict[str, Any] = {
            "name": c.name,
            "image": image,
            "imageID": f"docker.io/library/{image}@sha256:{'0' * 64}" if c.image_at is not None else "",
            "containerID": f"kubemu://{self.uid}-{c.name}-{c.restarts}"
            if c.started is not None or c.finished is not None
            else "",
            "ready": running and not c.init,
            "restartCount": c.restarts,
            "started": running,
            "state": state,
            "lastState": {"terminated": c.last} if c.last else {},
        }
        return out

    def _terminated(self, c: _Container) -> dict[str, Any]:
        assert c.started is not None and c.finished is not None
        return {
            "exitCode": c.exit_code,
            "reason": "Completed" if c.exit_code == 0 else "Error",
            "startedAt": meta.now_rfc3339(c.started),
            "finishedAt": meta.now_rfc3339(c.finished),
            "containerID": f"kubemu://{self.uid}-{c.name}-{c.restarts}",
        }


def _condition(kind: str, ok: bool, since: float, otherwise: tuple[str, str] | None = None) -> dict[str, Any]:
    """A pod condition; ``otherwise`` is the (reason, message) it carries while False."""
    condition: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": meta.now_rfc3339(since),
    }
    if not ok and otherwise is not None:
        condition["reason"], condition["message"] = otherwise
    return condition


def _qos(containers: list[_Container]) -> str:
    """Upstream's QoS class: Guaranteed when every container's cpu and memory requests equal their limits,
    BestEffort when nothing is requested or limited, Burstable otherwise."""
    requests_any, guaranteed = False, True
    for c in containers:
        resources = c.spec.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            requests_any = True
        for name in ("cpu", "memory"):
            limit = limits.get(name)
            if limit is None or str(requests.get(name, limit)) != str(limit):
                guaranteed = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _duration(seconds: float) -> str:
    """Go's ``time.Duration`` text for whole seconds and minutes (``10s``, ``2m40s``, ``5m0s``)."""
    whole = int(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"
