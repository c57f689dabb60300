"""The local backend: every actor on the running event loop of this process, on one ``Host``.

This is the embedded default, and with ``SystemConfig(manual_clock=True)`` it is fully deterministic: a run
with the same seed and the same clock steps replays event for event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors.runtime import seeding
from actors.runtime.actor import Actor
from actors.runtime.clock import Clock, ManualClock, WallClock
from actors.runtime.faults import DRIVER, FaultKind, LinkRule, LinkTable
from actors.runtime.host import ActorInfo, Host
from actors.runtime.ref import ActorRef
from actors.runtime.system import ActorSystem, SystemConfig


class LocalSystem(ActorSystem):
    backend = "local"

    def __init__(self, config: SystemConfig | None = None) -> None:
        super().__init__(config or SystemConfig())
        self.clock: Clock = (
            ManualClock()
            if self.config.manual_clock
            else WallClock(time_scale=self.config.time_scale, epoch=self.config.epoch)
        )
        self.host = Host(
            host_id="local",
            clock=self.clock,
            seed=self.seed,
            links=LinkTable(seeding.derive(self.seed, "faults")),
            call_timeout=self.config.call_timeout,
            record=self._log.append,
        )

    async def start(self) -> None:
        """Nothing to start: the host runs on the caller's loop."""

    async def shutdown(self) -> None:
        await self.host.shutdown()

    async def spawn(
        self,
        name: str,
        cls: type[Actor],
        *,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        host: str | None = None,
    ) -> ActorRef:
        if host not in (None, "local"):
            raise ValueError(f'the local backend has one host, "local"; got "{host}"')
        await self.host.spawn(name, cls, tuple(args), dict(kwargs or {}))
        return self.ref(name)

    def ref(self, name: str) -> ActorRef:
        return self.host.ref(name, source=DRIVER)

    async def stop(self, name: str) -> None:
        await self.host.stop(name)

    async def actors(self) -> list[ActorInfo]:
        return self.host.info()

    def instance(self, name: str) -> Actor | None:
        """The live actor object (in-process inspection, for tests)."""
        return self.host.instance(name)

    def stats(self) -> dict[str, int]:
        return dict(self.host.counters)

    async def _actor_fault(self, kind: FaultKind, name: str) -> None:
        if kind is FaultKind.PAUSE:
            self.host.pause(name)
        elif kind is FaultKind.RESUME:
            self.host.resume(name)
        elif kind is FaultKind.KILL:
            await self.host.kill(name)
        elif kind is FaultKind.RESTART:
            await self.host.restart(name)

    async def _install_rules(self, rules: list[LinkRule]) -> None:
        self.host.links.replace(rules)
