"""``ActorSystem``: spawn, reach, fault and stop actors, the same way on every backend.

Two backends sit behind this one interface (httpx's transport seam is the model):

- ``local`` (``actors.runtime.local.LocalSystem``): every actor on this process's event loop; the default.
- ``ray`` (``actors.runtime.ray_system.RaySystem``): hosts are Ray actors, each running many actors on its
  own loop; cross-host messages are batched msgpack.

The fault API lives here, once, so both backends inject faults identically. Every fault goes through
``apply(FaultEvent)``, which carries it out and records it with the cluster time; ``schedule`` applies one
later on the cluster clock, and ``replay`` re-applies a recorded run's faults at the same relative times.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from actors.runtime.actor import Actor
from actors.runtime.clock import Clock
from actors.runtime.faults import LINK_KINDS, FaultEvent, FaultKind, LinkRule
from actors.runtime.host import ActorInfo
from actors.runtime.ref import ActorRef


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SystemConfig:
    """How a system runs: its seed, its clock, and the default call deadline (cluster seconds)."""

    seed: int = 0
    time_scale: float = 1.0
    manual_clock: bool = False
    call_timeout: float = 30.0
    epoch: float | None = None


class ActorSystem(abc.ABC):
    """The runtime seen from outside the actors: by tests, the cluster, experiments and the CLI."""

    backend: str
    clock: Clock

    def __init__(self, config: SystemConfig) -> None:
        self.config = config
        self.seed = config.seed
        self._rules: dict[int, LinkRule] = {}
        self._rule_ids = itertools.count(1)
        self._log: list[FaultEvent] = []
        self._scheduled: set[asyncio.Task[Any]] = set()

    # -- backend hooks -----------------------------------------------------------------------------------

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def shutdown(self) -> None: ...

    @abc.abstractmethod
    async def spawn(
        self,
        name: str,
        cls: type[Actor],
        *,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        host: str | None = None,
    ) -> ActorRef:
        """Start actor ``name`` (on ``host`` if given, else where placement puts it) and return a ref."""

    @abc.abstractmethod
    def ref(self, name: str) -> ActorRef:
        """A ref whose messages leave from the driver (the code outside the actors)."""

    @abc.abstractmethod
    async def stop(self, name: str) -> None: ...

    @abc.abstractmethod
    async def actors(self) -> list[ActorInfo]: ...

    @abc.abstractmethod
    async def _actor_fault(self, kind: FaultKind, name: str) -> None:
        """Pause, resume, kill or restart one actor wherever it runs."""

    @abc.abstractmethod
    async def _install_rules(self, rules: list[LinkRule]) -> None:
        """Make ``rules`` the link rules in force on every host."""

    async def _observed_events(self) -> list[FaultEvent]:
        """Events the hosts recorded themselves (crashes, deaths) since the last call."""
        return []

    # -- context management ------------------------------------------------------------------------------

    async def __aenter__(self) -> ActorSystem:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.shutdown()

    # -- faults ------------------------------------------------------------------------------------------

    async def apply(self, event: FaultEvent) -> FaultEvent:
        """Carry out one fault now and record it (with the current cluster time); returns the record."""
        params = dict(event.params)
        when, mark = self.clock.now(), len(self._log)  # the fault goes before what it causes
        if event.kind in LINK_KINDS:
            rule = LinkRule(
                id=next(self._rule_ids),
                kind=event.kind,
                sources=tuple(params["sources"]),
                destinations=tuple(params["destinations"]),
                probability=float(params.get("probability", 1.0)),
                delay=float(params.get("delay", 0.0)),
                jitter=float(params.get("jitter", 0.0)),
                one_way=bool(params.get("one_way", False)),
            )
            self._rules[rule.id] = rule
            await self._install_rules(list(self._rules.values()))
            params["rule"] = rule.id
        elif event.kind is FaultKind.HEAL:
            rule_id = params.get("rule")
            if rule_id is None:
                self._rules.clear()
            elif self._rules.pop(int(rule_id), None) is None:
                raise KeyError(f"no fault rule {rule_id} is in force")
            await self._install_rules(list(self._rules.values()))
            if rule_id is None:
                for info in await self.actors():
                    if info.state == "Paused":
                        await self._actor_fault(FaultKind.RESUME, info.name)
        elif event.kind in (FaultKind.PAUSE, FaultKind.RESUME, FaultKind.KILL, FaultKind.RESTART):
            for name in event.targets:
                await self._actor_fault(event.kind, name)
        else:
            raise ValueError(f"{event.kind} is observed, not injected")
        record = FaultEvent(time=when, kind=event.kind, targets=event.targets, params=params)
        self._log.insert(mark, record)
        return record

    async def drop(
        self, sources: Iterable[str], destinations: Iterable[str], probability: float = 1.0
    ) -> int:
        """Lose messages from ``sources`` to ``destinations`` with ``probability``; returns the rule id."""
        return await self._link(FaultKind.DROP, sources, destinations, probability=probability)

    async def delay(
        self, sources: Iterable[str], destinations: Iterable[str], delay: float, jitter: float = 0.0
    ) -> int:
        return await self._link(FaultKind.DELAY, sources, destinations, delay=delay, jitter=jitter)

    async def partition(self, side_a: Iterable[str], side_b: Iterable[str], *, one_way: bool = False) -> int:
        """Cut ``side_a`` from ``side_b`` (both ways unless ``one_way``: then only a -> b is cut)."""
        return await self._link(FaultKind.PARTITION, side_a, side_b, one_way=one_way)

    async def heal(self, rule: int | None = None) -> None:
        """Remove one link fault, or (``None``) every link fault, resuming paused actors too."""
        params: dict[str, Any] = {} if rule is None else {"rule": rule}
        await self.apply(FaultEvent(time=self.clock.now(), kind=FaultKind.HEAL, targets=(), params=params))

    async def pause(self, name: str) -> None:
        await self._actor(FaultKind.PAUSE, name)

    async def resume(self, name: str) -> None:
        await self._actor(FaultKind.RESUME, name)

    async def kill(self, name: str) -> None:
        await self._actor(FaultKind.KILL, name)

    async def restart(self, name: str) -> None:
        await self._actor(FaultKind.RESTART, name)

    def schedule(self, at: float, event: FaultEvent) -> None:
        """Apply ``event`` when the cluster clock reaches ``at``."""

        def fire() -> None:
            task = asyncio.get_running_loop().create_task(self.apply(event))
            self._scheduled.add(task)
            task.add_done_callback(self._scheduled.discard)

        self.clock.call_at(at, fire)

    def replay(self, events: Iterable[FaultEvent], *, start: float | None = None) -> None:
        """Schedule recorded faults again at the same offsets, from ``start`` (default: now)."""
        injected = [e for e in events if e.kind not in (FaultKind.CRASHED, FaultKind.DIED)]
        if not injected:
            return
        begin = self.clock.now() if start is None else start
        first = injected[0].time
        for event in injected:
            params = {k: v for k, v in event.params.items() if k != "rule" or event.kind is FaultKind.HEAL}
            self.schedule(begin + event.time - first, dataclasses.replace(event, params=params))

    async def events(self) -> list[FaultEvent]:
        """Every fault so far, injected and observed, in cluster-time order."""
        self._log.extend(await self._observed_events())
        self._log.sort(key=lambda e: e.time)
        return list(self._log)

    @property
    def rules(self) -> list[LinkRule]:
        return list(self._rules.values())

    async def _link(
        self, kind: FaultKind, sources: Iterable[str], destinations: Iterable[str], **params: Any
    ) -> int:
        srcs, dsts = _names(sources), _names(destinations)
        params.update(sources=list(srcs), destinations=list(dsts))
        record = await self.apply(
            FaultEvent(time=self.clock.now(), kind=kind, targets=srcs + dsts, params=params)
        )
        return int(record.params["rule"])

    async def _actor(self, kind: FaultKind, name: str) -> None:
        await self.apply(FaultEvent(time=self.clock.now(), kind=kind, targets=(name,)))


def create_system(backend: str = "local", config: SystemConfig | None = None, **options: Any) -> ActorSystem:
    """The system for ``backend`` (``local`` or ``ray``); ``options`` go to the Ray backend."""
    config = config or SystemConfig()
    if backend == "local":
        if options:
            raise TypeError(f"the local backend takes no options, got {sorted(options)}")
        from actors.runtime.local import LocalSystem

        return LocalSystem(config)
    if backend == "ray":
        from actors.runtime.ray_system import RaySystem

        return RaySystem(config, **options)
    raise ValueError(f'unknown backend "{backend}": choose "local" or "ray"')


def _names(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        return (names,)
    return tuple(names)
