"""``Actor``: the base class of every component (apiserver, scheduler, kubelet/node-17, store-1, ...).

An actor is a plain class with async public methods. Other actors reach it only through an ``ActorRef``
(``await ref.call("method", ...)``), never by holding the object. The host that runs it sets ``name``,
``clock``, ``rng`` (its own generator derived from the cluster seed) and its link to the runtime before
``on_start`` runs.

Lifecycle: ``on_start`` -> optional ``run`` main loop (a task) and handlers -> ``on_stop`` on a graceful
stop. A kill skips ``on_stop``. Supervision follows ``restart_policy`` with Kubernetes' own words:

- ``Always``: restarted after a crash and after ``run`` returns;
- ``OnFailure``: restarted after a crash only (the default);
- ``Never``: a crash leaves it dead.

A crash is an exception that escapes ``run``, a task started with ``start_task``, or a handler, unless the
exception's type is listed in ``expected_errors`` or is a runtime ``ActorError`` (a call of the handler's own
that failed): those are answers, passed to the caller untouched.
Restarts back off on the cluster clock (``restart_backoff`` doubling to ``restart_backoff_max``), and a
fresh instance is built from the same constructor arguments: state lives in the store, not in the actor.

Time and randomness come from ``self.clock`` and ``self.rng`` only. ``self.sleep`` also honours a pause.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from actors.runtime import seeding
from actors.runtime.clock import Clock
from actors.runtime.faults import Verdict

if TYPE_CHECKING:
    import asyncio

    from actors.runtime.host import Host
    from actors.runtime.ref import ActorRef


class RestartPolicy(enum.StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class ActorState(enum.StrEnum):
    STARTING = "Starting"
    RUNNING = "Running"
    PAUSED = "Paused"
    BACKOFF = "BackOff"
    STOPPED = "Stopped"
    DEAD = "Dead"


class Actor:
    """Subclass, add async public methods, and spawn it through an ``ActorSystem``."""

    restart_policy: ClassVar[RestartPolicy] = RestartPolicy.ON_FAILURE
    expected_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    restart_backoff: ClassVar[float] = 0.1
    restart_backoff_max: ClassVar[float] = 10.0
    max_restarts: ClassVar[int | None] = None

    name: str
    clock: Clock
    _host: Host
    _actor_rng: random.Random | None = None
    _rng_name: str = ""  # what the generator is derived from: set by the host, "<name>#<restarts>"

    async def on_start(self) -> None:
        """Called once per incarnation before any message is delivered."""

    async def on_stop(self) -> None:
        """Called on a graceful stop (not on a kill or crash)."""

    async def run(self) -> None:
        """The actor's main loop, if it has one; runs as a task after ``on_start``."""

    def on_pause(self) -> None:
        """Called when the actor is paused; an actor with threads or sockets of its own freezes them here."""

    def on_resume(self) -> None:
        """Called when a paused actor resumes."""

    def on_kill(self) -> None:
        """Called when this incarnation dies abruptly (kill, crash, restart): release what a dead process
        would lose (threads, sockets), with no graceful protocol."""

    @property
    def rng(self) -> random.Random:
        """This incarnation's own generator, derived from the cluster seed and its name. Made at first use,
        not at start: a generator's state is 2.5 KB, and most of 10,000 kubelets never draw a number."""
        rng = self._actor_rng
        if rng is None:
            rng = self._actor_rng = seeding.derive(self._host.seed, self._rng_name or self.name)
        return rng

    @rng.setter
    def rng(self, value: random.Random) -> None:
        self._actor_rng = value

    def ref(self, name: str) -> ActorRef:
        """A reference to another actor whose messages leave from this one (so faults see the sender)."""
        return self._host.ref(name, source=self.name)

    def link_verdict(self, destination: str) -> Verdict:
        """What the fault layer does to a message from this actor to ``destination``: for actors that also
        talk to peers over sockets of their own (the store's Raft peer port), so faults reach that traffic."""
        return self._host.links.verdict(self.name, destination)

    async def sleep(self, delay: float) -> None:
        """Sleep on the cluster clock; a paused actor stays asleep until resumed."""
        await self.clock.sleep(delay)
        await self._host.wait_resumed(self.name)

    def start_task(self, coroutine: Coroutine[Any, Any, Any], *, name: str = "") -> asyncio.Task[Any]:
        """Run ``coroutine`` as part of this actor: cancelled when it stops, a crash when it raises."""
        return self._host.start_task(self.name, coroutine, name_hint=name)

    def stats(self) -> dict[str, Any]:
        """A snapshot of counters for observability; actors override to add their own."""
        return {}
