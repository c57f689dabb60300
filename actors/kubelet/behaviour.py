"""What an emulated container does: read from its command, and declared with ``kubemu.io/behaviour``.

Pure data and pure functions: ``of_pod(pod)`` gives every container's ``Behaviour``, the one its command
implies (``scripts``: ordinary manifests behave without kubemu markup) overridden by what is declared. The
engine (``engine.PodRun``) plays it on cluster time; ``logs`` reads back what it wrote.

**Declared behaviour** overrides what the command implies. The pod annotation ``kubemu.io/behaviour`` holds
YAML (JSON is YAML) mapping a container name, or ``"*"`` for every container (init containers included), to
fields; a container's own entry overrides ``"*"`` field by field (its ``exitAfter`` replaces a ``"*"``
``crashAfter``, and the other way round). A container's env var
``KUBEMU_BEHAVIOUR`` may hold the same fields for that container alone, and overrides both. Durations are
Go durations (``30s``, ``1m30s``, ``500ms``) or numbers of seconds; quantities are Kubernetes quantities
(``250m``, ``64Mi``). Times are measured from the start of each run of the container (a restart starts
the clock again). Example::

    metadata:
      annotations:
        kubemu.io/behaviour: |
          web: {readyAfter: 10s, notReadyBetween: [60s, 90s], logs: ["listening on :80"], logEvery: 5s,
                cpu: 50m, memory: 64Mi, cpuPerRequest: 2m}
          "*": {imagePull: 20s}

Fields:

- ``exitAfter`` (duration or ``never``): the container exits after running this long (``never``: it runs
  until stopped, whatever its command);
- ``exitCode`` (0-255): the code it then exits with (default 0; also overrides a command's own code);
- ``crashAfter`` (duration): exits after this long with ``exitCode``, 1 unless given; not with ``exitAfter``;
- ``onSigterm`` (``exit``, ``ignore`` or a duration): what SIGTERM does (deletion, a failed liveness probe):
  ``exit`` at once with 0 (the default for servers), ``ignore`` it until SIGKILL (137) at the end of the grace
  period, or exit 0 after the duration (killed if that is longer than the grace period);
- ``readyAfter`` (duration): readiness fails until then;
- ``notReadyBetween`` (``[from, to]`` or a list of them; ``to`` may be ``never``): readiness fails then;
- ``livenessFailsAfter`` (duration): the liveness probe fails from then on;
- ``startupAfter`` (duration): the startup probe fails until then;
  (readiness, liveness and startup fields give what the container's probes of that kind answer, at the
  probes' own times and thresholds; a container without a readiness probe is ready exactly when the
  declared readiness says so);
- ``logs`` (list of lines): written when the container starts;
- ``logEvery`` (duration): one more line every period, cycling through ``logRepeat``, else ``logs``, else
  the date as ``date`` prints it;
- ``logRepeat`` (list of lines): the lines ``logEvery`` cycles through;
- ``cpu``, ``memory`` (quantities): constant usage (default ``1m`` and ``8Mi``, capped at the limits);
- ``usage`` (list of ``[at, cpu, memory]`` or ``{at, cpu, memory}``): usage from ``at`` on, a step script
  (a mapping may leave ``cpu`` or ``memory`` out to keep the previous value);
- ``cpuPerRequest`` (quantity): CPU per request per second routed to the container (default ``1m``, for the
  first container of the pod only); usage is capped at ``limits.cpu``. Declared memory above
  ``limits.memory`` gets the container ``OOMKilled`` (137) when it is reached;
- ``imagePull`` (``fail`` or a duration): pulling the image fails (``ErrImagePull``, then
  ``ImagePullBackOff``), or takes this long on this node.

A malformed annotation does not stop the kubelet: the containers it concerns wait with reason
``CreateContainerConfigError`` and a message naming the annotation and the field.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import yaml

from actors.kubelet import logs, scripts
from kube import cron, errors, quantity

ANNOTATION = "kubemu.io/behaviour"
ENV = "KUBEMU_BEHAVIOUR"
FOREVER = scripts.FOREVER
DEFAULT_CPU = 1_000_000  # nanocores: 1m, an idle process
DEFAULT_MEMORY = 8 * 2**20  # bytes: 8Mi
DEFAULT_CPU_PER_REQUEST = 1_000_000  # nanocores per request per second: 1 ms of CPU a request

_NEVER = "never"
_RIVALS = {"exitAfter": ("crashAfter",), "crashAfter": ("exitAfter",)}
_FIELDS = (
    "exitAfter",
    "exitCode",
    "crashAfter",
    "onSigterm",
    "readyAfter",
    "notReadyBetween",
    "livenessFailsAfter",
    "startupAfter",
    "logs",
    "logEvery",
    "logRepeat",
    "cpu",
    "memory",
    "usage",
    "cpuPerRequest",
    "imagePull",
)


class BehaviourError(ValueError):
    """A declared field that cannot be used; the message names where it is (``web.exitAfter: ...``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Timeline:
    """A yes/no over the time since a container started: ``initial`` until ``flips[0]``, the opposite
    until ``flips[1]``, and so on (``flips`` ascending)."""

    initial: bool = True
    flips: tuple[float, ...] = ()

    @classmethod
    def failing(cls, intervals: list[tuple[float, float]]) -> Timeline:
        """No during the ``[from, to)`` intervals, yes otherwise."""
        merged: list[list[float]] = []
        for start, end in sorted(i for i in intervals if i[1] > i[0]):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        flips = [t for pair in merged for t in pair if t != FOREVER]
        if merged and merged[0][0] <= 0:
            return cls(False, tuple(flips[1:]))
        return cls(True, tuple(flips))

    def at(self, elapsed: float) -> bool:
        return self.initial ^ (bisect.bisect_right(self.flips, elapsed) % 2 == 1)

    def next_flip(self, elapsed: float) -> float:
        """The first flip after ``elapsed`` (``FOREVER`` when none)."""
        index = bisect.bisect_right(self.flips, elapsed)
        return self.flips[index] if index < len(self.flips) else FOREVER


ALWAYS = Timeline()


@dataclasses.dataclass(frozen=True, slots=True)
class Usage:
    """Declared usage: ``steps`` of (seconds since start, CPU nanocores, memory bytes), the first at 0; plus
    ``cpu_per_request`` nanocores per request per second."""

    steps: tuple[tuple[float, int, int], ...] = ((0.0, DEFAULT_CPU, DEFAULT_MEMORY),)
    cpu_per_request: int | None = None  # None: the default, for the pod's first container
    declared_memory: bool = False  # memory was declared: going over the limit is an OOM kill

    def at(self, elapsed: float, request_rate: float = 0.0, per_request: int = 0) -> tuple[int, int]:
        """(CPU nanocores, memory bytes) ``elapsed`` seconds after the start."""
        index = max(0, bisect.bisect_right([s[0] for s in self.steps], elapsed) - 1)
        _, cpu, memory = self.steps[index]
        return cpu + int(per_request * max(request_rate, 0.0)), memory

    def oom_after(self, limit: int | None) -> float:
        """When declared memory first goes over ``limit`` bytes (``FOREVER``: never)."""
        if limit is None or not self.declared_memory:
            return FOREVER
        return next((at for at, _, memory in self.steps if memory > limit), FOREVER)


@dataclasses.dataclass(frozen=True, slots=True)
class Behaviour:
    """How long a container runs (``FOREVER``: until stopped), the code it then exits with, and the rest of
    what it does (see the module docstring). ``error`` is set when its declaration is malformed."""

    runs_for: float
    exit_code: int = 0
    handles_sigterm: bool = True
    stop_seconds: float = 0.0  # handling SIGTERM takes this long
    lines: tuple[logs.LogLine, ...] = ()  # written once, each at its time after the start
    loop: logs.LogLoop | None = None  # written again and again
    readiness: Timeline = ALWAYS
    liveness: Timeline = ALWAYS
    startup: Timeline = ALWAYS
    usage: Usage = Usage()
    image_pull: float | None = None  # seconds a pull takes (None: the node's default)
    image_fails: bool = False
    error: str = ""


def of_container(container: Mapping[str, Any]) -> Behaviour:
    """What the container's command and args make it do (``scripts``), nothing declared."""
    words = [str(w) for w in (container.get("command") or [])] + [
        str(w) for w in (container.get("args") or [])
    ]
    script = scripts.of_command(words)
    return Behaviour(
        script.runs_for, script.exit_code, script.handles_sigterm, lines=script.lines, loop=script.loop
    )


# -- declarations ----------------------------------------------------------------------------------------


def of_pod(pod: Mapping[str, Any]) -> dict[str, Behaviour]:
    """Every container's behaviour (init containers too), by name: its command's, overridden by what the
    annotation and its ``KUBEMU_BEHAVIOUR`` env declare. A malformed declaration sets ``error``."""
    spec = pod.get("spec") or {}
    containers = [c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]
    names = [str(c.get("name", "")) for c in containers]
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    declared, pod_error = _annotation(annotations.get(ANNOTATION), names)
    out: dict[str, Behaviour] = {}
    for name, container in zip(names, containers, strict=True):
        base = of_container(container)
        if pod_error:
            out[name] = dataclasses.replace(base, error=pod_error)
            continue
        env_fields, env_error = _env(container)
        if env_error:
            out[name] = dataclasses.replace(base, error=env_error)
            continue
        fields: dict[str, Any] = {}
        origin: dict[str, str] = {}
        sources = [(declared.get("*") or {}, f"invalid annotation {ANNOTATION}: *.")]
        sources += [(declared.get(name) or {}, f"invalid annotation {ANNOTATION}: {name}.")]
        sources += [(env_fields, f"invalid env {ENV} of container {name}: ")]
        for entry, where in sources:
            for field in entry:
                for rival in _RIVALS.get(field, ()):  # a later source's exitAfter replaces crashAfter
                    fields.pop(rival, None)
            fields.update(entry)
            origin.update(dict.fromkeys(entry, where))
        try:
            out[name] = _declared(base, fields, container)
        except BehaviourError as error:
            field, _, problem = str(error).partition(": ")
            out[name] = dataclasses.replace(base, error=f"{origin.get(field, '')}{field}: {problem}")
    return out


def _annotation(text: object, names: list[str]) -> tuple[dict[str, dict[str, Any]], str]:
    """The annotation's entries by container name (or ``*``), or the error that spoils all of them."""
    if text is None:
        return {}, ""
    prefix = f"invalid annotation {ANNOTATION}: "
    document, problem = _yaml(text)
    if problem:
        return {}, prefix + problem
    if document is None:
        return {}, ""
    if not isinstance(document, dict):
        return {}, prefix + 'want a mapping of container names (or "*") to behaviours'
    entries: dict[str, dict[str, Any]] = {}
    for key, value in document.items():
        if key != "*" and key not in names:
            return {}, prefix + f'no container named "{key}" (containers: {", ".join(names)})'
        if value is not None and not isinstance(value, dict):
            return {}, prefix + f"{key}: want a mapping of fields"
        entries[str(key)] = value or {}
    return entries, ""


def _env(container: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    for env in container.get("env") or []:
        if isinstance(env, dict) and env.get("name") == ENV:
            prefix = f"invalid env {ENV} of container {container.get('name', '')}: "
            document, problem = _yaml(env.get("value") or "")
            if problem:
                return {}, prefix + problem
            if document is not None and not isinstance(document, dict):
                return {}, prefix + "want a mapping of fields"
            return document or {}, ""
    return {}, ""


def _yaml(text: object) -> tuple[Any, str]:
    try:
        return yaml.safe_load(str(text)), ""
    except yaml.YAMLError as error:
        first = " ".join(str(error).split())
        return None, f"not YAML: {first}"


def _declared(base: Behaviour, fields: Mapping[str, Any], container: Mapping[str, Any]) -> Behaviour:
    """``base`` with the declared ``fields`` applied; ``BehaviourError`` ("field: problem") otherwise."""
    for field in fields:
        if field not in _FIELDS:
            raise BehaviourError(f"{field}: unknown field (known: {', '.join(_FIELDS)})")
    if "exitAfter" in fields and "crashAfter" in fields:
        raise BehaviourError("crashAfter: give exitAfter or crashAfter, not both")
    out = base
    if "exitCode" in fields:
        out = dataclasses.replace(out, exit_code=_integer("exitCode", fields["exitCode"], 0, 255))
    if "exitAfter" in fields:
        out = dataclasses.replace(out, runs_for=_duration("exitAfter", fields["exitAfter"], never=True))
    if "crashAfter" in fields:
        code = out.exit_code if "exitCode" in fields and out.exit_code else 1
        out = dataclasses.replace(out, runs_for=_duration("crashAfter", fields["crashAfter"]), exit_code=code)
    if "onSigterm" in fields:
        value = fields["onSigterm"]
        if value == "exit":
            out = dataclasses.replace(out, handles_sigterm=True, stop_seconds=0.0)
        elif value == "ignore":
            out = dataclasses.replace(out, handles_sigterm=False)
        else:
            seconds = _duration("onSigterm", value, words="exit, ignore or a duration")
            out = dataclasses.replace(out, handles_sigterm=True, stop_seconds=seconds)
    out = _probes(out, fields)
    out = _logs(out, fields)
    out = dataclasses.replace(out, usage=_usage(fields, container))
    if "imagePull" in fields:
        value = fields["imagePull"]
        if value == "fail":
            out = dataclasses.replace(out, image_fails=True)
        else:
            seconds = _duration("imagePull", value, words="fail or a duration")
            out = dataclasses.replace(out, image_pull=seconds)
    return out


def _probes(out: Behaviour, fields: Mapping[str, Any]) -> Behaviour:
    unready: list[tuple[float, float]] = []
    if "readyAfter" in fields:
        unready.append((0.0, _duration("readyAfter", fields["readyAfter"])))
    if "notReadyBetween" in fields:
        value = fields["notReadyBetween"]
        windows = value if isinstance(value, list) and value and isinstance(value[0], list) else [value]
        for window in windows:
            if not isinstance(window, list) or len(window) != 2:
                raise BehaviourError("notReadyBetween: want [from, to] or a list of them")
            start = _duration("notReadyBetween", window[0])
            end = _duration("notReadyBetween", window[1], never=True)
            if end <= start:
                raise BehaviourError(f"notReadyBetween: {window[1]} is not after {window[0]}")
            unready.append((start, end))
    if unready:
        out = dataclasses.replace(out, readiness=Timeline.failing(unready))
    if "livenessFailsAfter" in fields:
        after = _duration("livenessFailsAfter", fields["livenessFailsAfter"])
        out = dataclasses.replace(out, liveness=Timeline.failing([(after, FOREVER)]))
    if "startupAfter" in fields:
        after = _duration("startupAfter", fields["startupAfter"])
        out = dataclasses.replace(out, startup=Timeline.failing([(0.0, after)]))
    return out


def _logs(out: Behaviour, fields: Mapping[str, Any]) -> Behaviour:
    declared = _lines("logs", fields["logs"]) if "logs" in fields else None
    repeat = _lines("logRepeat", fields["logRepeat"]) if "logRepeat" in fields else None
    if declared is not None:
        out = dataclasses.replace(out, lines=tuple(logs.LogLine(0.0, text) for text in declared))
    if "logEvery" in fields:
        every = _duration("logEvery", fields["logEvery"])
        if every <= 0:
            raise BehaviourError("logEvery: want a duration above 0")
        cycle = repeat or declared
        looped = tuple(logs.LogLine(i * every, text) for i, text in enumerate(cycle or []))
        looped = looped or (logs.LogLine(0.0, date=True),)
        out = dataclasses.replace(out, loop=logs.LogLoop(every, every * len(looped), looped))
    elif repeat is not None:
        raise BehaviourError("logRepeat: needs logEvery")
    return out


def _usage(fields: Mapping[str, Any], container: Mapping[str, Any]) -> Usage:
    limits = ((container.get("resources") or {}).get("limits")) or {}
    cpu = _cpu("cpu", fields["cpu"]) if "cpu" in fields else DEFAULT_CPU
    memory = _memory("memory", fields["memory"]) if "memory" in fields else DEFAULT_MEMORY
    declared_memory = "memory" in fields
    if not declared_memory and "memory" in limits:
        with contextlib.suppress(errors.QuantityError):
            memory = min(memory, quantity.parse(str(limits["memory"])).value())
    steps: list[tuple[float, int, int]] = [(0.0, cpu, memory)]
    script = fields.get("usage")
    if script is not None:
        if not isinstance(script, list):
            raise BehaviourError("usage: want a list of [at, cpu, memory] or {at, cpu, memory}")
        for entry in script:
            if isinstance(entry, list) and len(entry) == 3:
                at, step_cpu, step_memory = entry
            elif isinstance(entry, dict) and "at" in entry and set(entry) <= {"at", "cpu", "memory"}:
                at, step_cpu, step_memory = entry["at"], entry.get("cpu"), entry.get("memory")
            else:
                raise BehaviourError(f"usage: want [at, cpu, memory] or {{at, cpu, memory}}, not {entry!r}")
            seconds = _duration("usage", at)
            if seconds < steps[-1][0]:
                raise BehaviourError(f"usage: {at} comes before an earlier step")
            cpu = cpu if step_cpu is None else _cpu("usage", step_cpu)
            if step_memory is not None:
                memory, declared_memory = _memory("usage", step_memory), True
            if seconds == steps[-1][0]:
                steps[-1] = (seconds, cpu, memory)
            else:
                steps.append((seconds, cpu, memory))
    per_request = _cpu("cpuPerRequest", fields["cpuPerRequest"]) if "cpuPerRequest" in fields else None
    return Usage(tuple(steps), per_request, declared_memory)


def _duration(field: str, value: object, *, never: bool = False, words: str = "") -> float:
    if never and value == _NEVER:
        return FOREVER
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0 or math.isnan(value):
            raise BehaviourError(f"{field}: want a duration of 0 or more, not {value}")
        return float(value)
    if isinstance(value, str):
        try:
            seconds = cron.parse_go_duration(value) / 1e9
        except errors.KubeError as error:
            raise BehaviourError(f"{field}: {error}") from None
        if seconds < 0:
            raise BehaviourError(f"{field}: want a duration of 0 or more, not {value}")
        return seconds
    wanted = words or ("a duration or never" if never else "a duration")
    raise BehaviourError(f"{field}: want {wanted}, not {value!r}")


def _integer(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BehaviourError(f"{field}: want a whole number from {low} to {high}, not {value!r}")
    return value


def _quantity(field: str, value: object) -> quantity.Quantity:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BehaviourError(f"{field}: want a quantity, not {value!r}")
    try:
        parsed = quantity.parse(str(value))
    except errors.QuantityError as error:
        raise BehaviourError(f"{field}: {value}: {error}") from None
    if parsed.nanos < 0:
        raise BehaviourError(f"{field}: want a quantity of 0 or more, not {value}")
    return parsed


def _cpu(field: str, value: object) -> int:
    return _quantity(field, value).nanos  # nano-units of a core: nanocores


def _memory(field: str, value: object) -> int:
    return _quantity(field, value).value()


def _lines(field: str, value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
        raise BehaviourError(f"{field}: want a list of lines")
    return ["" if v is None else str(v) for v in value]


# -- Go durations ----------------------------------------------------------------------------------------


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration`` text: ``0s``, ``500ms``, ``1.5s``, ``2m40s``, ``5m0s``, ``1h0m0s``."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _decimal(nanos, size) + unit
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    return f"{sign}{minutes}m{text}" if minutes else sign + text


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"
