"""``Host``: one event loop's worth of actors, and the one place a message is delivered.

A host owns a table of actor slots and does, for every actor it runs: build the instance, start it, deliver
calls and tells through the fault layer, supervise it by its restart policy, and pause, resume, kill, restart
or stop it on request. The local backend has one host; on Ray every host process wraps one of these, and a
``Router`` carries messages for actors placed elsewhere. Everything here runs on one loop; nothing blocks.

Delivery contract, for a call from ``source`` to ``target``:

1. the request passes ``links.verdict(source, target)`` on the sender's host: dropped (the caller then waits
   out its deadline, as over a real network), delayed on the cluster clock, or passed;
2. a paused or restarting target holds the message until it can run it (messages queue, in order); a dead,
   stopped or unknown target fails it at once with ``ActorDead`` or ``UnknownActor``;
3. the handler runs in the caller's task when the target is local (a direct await, no copy);
4. the reply passes ``links.verdict(target, source)``;
5. the whole call is bounded by its deadline: ``CallTimeout`` past it, never a hang.

A tell runs its handler in a task of its own, in the order the tells were sent. A handler declared with a
plain ``def`` (it cannot wait: an informer's event handler, a watch sink) is cheaper to tell: while no fault
is active and the target is open, the message goes into the host's mailbox and one loop callback runs every
queued handler in order, with no task per message (a watch event fanned out to 10,000 local actors is
10,000 function calls, not 10,000 tasks). A synchronous handler is never run inside its sender's own
call stack; anything else (a fault, a paused target) takes the ordinary path.

Invariant: ``slot.open`` is true exactly when the slot is ``Running`` and not paused; every change of state
sets and drops ``slot.changed`` so that held messages re-examine the slot. ``slot.changed`` exists only while
a message waits on it, and ``slot.resumed`` only while the actor is paused and something waits for it: an
idle actor holds no event (each holds a deque of 600 bytes, which 10,000 kubelets felt).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import gc
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from actors.runtime import errors
from actors.runtime.actor import Actor, ActorState, RestartPolicy
from actors.runtime.clock import Clock, Timer
from actors.runtime.deadlines import Deadlines
from actors.runtime.faults import FaultEvent, FaultKind, LinkTable
from actors.runtime.ref import ActorRef

log = logging.getLogger("kubemu.runtime")

_RESERVED = frozenset(
    {"on_start", "on_stop", "on_pause", "on_resume", "on_kill", "run", "ref", "sleep", "start_task"}
)
_CRASH_MEMORY = 60.0  # cluster seconds without a crash after which back-off starts over
# The cyclic collector, tuned for a process that allocates fast: the youngest generation is collected
# every 50,000 allocations instead of 700, and a full collection happens at most every 20 * 100 of those.
# With the defaults a full collection (tens of milliseconds over a large heap) came every few thousand
# watch deliveries and was the tail of every latency we measure. Almost all of our garbage (JSON dicts,
# messages) is freed by reference counting; the collector only finds cycles.
_GC_THRESHOLDS = (50_000, 20, 100)


class Router(Protocol):
    """Carries messages to actors that live on other hosts (the Ray backend implements it)."""

    def locate(self, name: str) -> str | None:
        """The id of the host that runs ``name`` if it is not this one, else None."""

    async def call(
        self,
        host_id: str,
        source: str,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any: ...

    def tell(
        self,
        host_id: str,
        source: str,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ActorInfo:
    """What ``kubemu fault`` and ``ActorSystem.actors()`` show for one actor."""

    name: str
    host: str
    state: ActorState
    restarts: int
    reason: str = ""


class _Slot:
    __slots__ = (
        "args",
        "changed",
        "cls",
        "crashes",
        "generation",
        "inflight",
        "instance",
        "kwargs",
        "last_crash",
        "name",
        "open",
        "paused",
        "reason",
        "restart_timer",
        "restarts",
        "resumed",
        "state",
        "tasks",
    )

    def __init__(self, name: str, cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.name = name
        self.cls = cls
        self.args = args
        self.kwargs = kwargs
        self.instance: Actor | None = None
        self.state = ActorState.STARTING
        self.open = False
        self.paused = False
        self.changed: asyncio.Event | None = None  # made by the first waiter, set and dropped by a change
        self.resumed: asyncio.Event | None = None  # made by the first waiter while paused, set on resume
        self.generation = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.inflight: dict[asyncio.Task[Any], int] = {}
        self.crashes = 0
        self.last_crash = 0.0
        self.restarts = 0
        self.reason = ""
        self.restart_timer: Timer | None = None

    def transition(self, state: ActorState, reason: str = "") -> None:
        self.state = state
        self.reason = reason
        self.open = state is ActorState.RUNNING and not self.paused
        changed, self.changed = self.changed, None
        if changed is not None:
            changed.set()

    async def wait_changed(self) -> None:
        """Until the next change of state."""
        if self.changed is None:
            self.changed = asyncio.Event()
        await self.changed.wait()

    async def wait_resumed(self) -> None:
        """Until a paused actor is resumed (at once if it is not paused)."""
        if not self.paused:
            return
        if self.resumed is None:
            self.resumed = asyncio.Event()
        await self.resumed.wait()

    def visible_state(self) -> ActorState:
        return ActorState.PAUSED if self.paused and self.state is ActorState.RUNNING else self.state


class Host:
    """Runs actors on the current event loop. Not thread-safe: call it from its loop only."""

    def __init__(
        self,
        *,
        host_id: str,
        clock: Clock,
        seed: int,
        links: LinkTable,
        call_timeout: float,
        record: Callable[[FaultEvent], None],
        router: Router | None = None,
    ) -> None:
        _tune_collector()
        self.host_id = host_id
        self.clock = clock
        self.seed = seed
        self.links = links
        self.call_timeout = call_timeout
        self.router = router
        self._record = record
        self._slots: dict[str, _Slot] = {}
        self._deadlines = Deadlines(clock)
        self._interrupted: set[asyncio.Task[Any]] = set()  # handler tasks cancelled because their actor died
        self._background: set[asyncio.Task[Any]] = set()
        self._mailbox: collections.deque[tuple[str, str, str, tuple[Any, ...], dict[str, Any]]] = (
            collections.deque()
        )
        self._mailbox_scheduled = False
        self.counters = {"calls": 0, "tells": 0, "dropped": 0, "delayed": 0, "crashes": 0, "timeouts": 0}

    # -- references and lookups ------------------------------------------------------------------------

    def ref(self, name: str, *, source: str) -> ActorRef:
        return ActorRef(self, name, source=source)

    def has(self, name: str) -> bool:
        return name in self._slots

    def info(self) -> list[ActorInfo]:
        return [
            ActorInfo(
                name=s.name, host=self.host_id, state=s.visible_state(), restarts=s.restarts, reason=s.reason
            )
            for s in self._slots.values()
        ]

    def instance(self, name: str) -> Actor | None:
        """The live object behind ``name``, for tests and in-process inspection only."""
        slot = self._slots.get(name)
        return slot.instance if slot is not None else None

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def spawn(self, name: str, cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Create and start ``name``.

        Raises ``ActorExists`` for a live name and ``ActorCrashed`` if it fails to start.
        """
        old = self._slots.get(name)
        if old is not None and old.state not in (ActorState.DEAD, ActorState.STOPPED):
            raise errors.ActorExists.named(name)
        slot = self._slots[name] = _Slot(name, cls, args, kwargs)
        error = await self._incarnate(slot)
        if error is not None:
            self._bury(slot, f"failed to start: {type(error).__name__}: {error}")
            raise errors.ActorCrashed.named(name, "on_start", error) from error

    async def stop(self, name: str) -> None:
        """Graceful stop: no more messages, ``on_stop`` runs, the actor's tasks are cancelled."""
        slot = self._slot(name)
        if slot.state in (ActorState.DEAD, ActorState.STOPPED):
            return
        instance = slot.instance
        slot.generation += 1
        slot.transition(ActorState.STOPPED, "stopped")
        if instance is not None:
            try:
                await instance.on_stop()
            except Exception:
                log.exception("actor %s raised in on_stop", name)
        self._cancel_tasks(slot, graceful=True)

    async def kill(self, name: str, *, reason: str = "killed") -> None:
        """Abrupt death: no ``on_stop``; held and future messages fail with ``ActorDead``."""
        self._bury(self._slot(name), reason)

    async def restart(self, name: str) -> None:
        """Kill (if alive) and start a fresh instance now, whatever the restart policy says."""
        slot = self._slot(name)
        self._cancel_tasks(slot)
        slot.generation += 1
        slot.restarts += 1
        error = await self._incarnate(slot)
        if error is not None:
            self._crash(slot, "on_start", error)

    def pause(self, name: str) -> None:
        slot = self._slot(name)
        slot.paused = True
        slot.transition(slot.state, slot.reason)
        _hook(slot, "on_pause")

    def resume(self, name: str) -> None:
        slot = self._slot(name)
        slot.paused = False
        resumed, slot.resumed = slot.resumed, None
        if resumed is not None:
            resumed.set()
        slot.transition(slot.state, slot.reason)
        _hook(slot, "on_resume")

    async def wait_resumed(self, name: str) -> None:
        slot = self._slots.get(name)
        if slot is not None:
            await slot.wait_resumed()

    async def shutdown(self) -> None:
        for name, slot in list(self._slots.items()):
            if slot.state not in (ActorState.DEAD, ActorState.STOPPED):
                await self.stop(name)
        for task in list(self._background):
            task.cancel()

    def start_task(
        self, name: str, coroutine: Coroutine[Any, Any, Any], *, name_hint: str = ""
    ) -> asyncio.Task[Any]:
        slot = self._slot(name)
        task = asyncio.get_running_loop().create_task(coroutine, name=f"{name}:{name_hint or 'task'}")
        generation = slot.generation
        slot.tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(slot, generation, t))
        return task

    # -- messages ----------------------------------------------------------------------------------------

    async def call(
        self,
        source: str,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any:
        self.counters["calls"] += 1
        timeout = self.call_timeout if timeout is None else timeout
        task = asyncio.current_task()
        assert task is not None, "ActorRef.call must be awaited inside a task"
        ticket = self._deadlines.add(timeout, task)
        try:
            sender = self._slots.get(source)
            if sender is not None and sender.paused:
                await sender.wait_resumed()
            if self.links.active:
                verdict = self.links.verdict(source, target)
                if verdict.drop:
                    self.counters["dropped"] += 1
                    await _forever()
                if verdict.delay:
                    self.counters["delayed"] += 1
                    await self.clock.sleep(verdict.delay)
            if target not in self._slots and self.router is not None:
                host_id = self.router.locate(target)
                if host_id is not None:
                    return await self.router.call(host_id, source, target, method, args, kwargs)
            reply = await self.deliver(source, target, method, args, kwargs, task)
            if reply is _LOST:
                await _forever()
            return reply
        except asyncio.CancelledError:
            if ticket in self._deadlines.expired:
                self._deadlines.expired.discard(ticket)
                task.uncancel()
                self.counters["timeouts"] += 1
                raise errors.CallTimeout.named(target, method, timeout) from None
            raise
        finally:
            self._deadlines.discard(timeout, ticket)

    def tell(
        self, source: str, target: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.counters["tells"] += 1
        if not self.links.active:
            slot = self._slots.get(target)
            if slot is not None and slot.open and _is_sync(slot.cls, method):
                sender = self._slots.get(source)
                if sender is None or not sender.paused:
                    self._mailbox.append((source, target, method, args, kwargs))
                    if not self._mailbox_scheduled:
                        self._mailbox_scheduled = True
                        asyncio.get_running_loop().call_soon(self._run_mailbox)
                    return
        self._spawn_background(self._tell(source, target, method, args, kwargs))

    def _run_mailbox(self) -> None:
        """Run every queued synchronous tell in order (including those the handlers send meanwhile)."""
        mailbox = self._mailbox
        slots = self._slots
        try:
            while mailbox:
                source, target, method, args, kwargs = mailbox.popleft()
                slot = slots.get(target)
                if slot is None or not slot.open or self.links.active:  # changed since: the ordinary path
                    self._spawn_background(self._tell(source, target, method, args, kwargs))
                    continue
                try:
                    getattr(slot.instance, method)(*args, **kwargs)
                except Exception as error:
                    if isinstance(error, (errors.ActorError, *slot.cls.expected_errors)):
                        log.warning("tell %s.%s from %s failed: %s", target, method, source, error)
                    else:
                        self._crash(slot, method, error)
        finally:
            self._mailbox_scheduled = False

    async def _tell(
        self, source: str, target: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        sender = self._slots.get(source)
        if sender is not None and sender.paused:
            await sender.wait_resumed()
        if self.links.active:
            verdict = self.links.verdict(source, target)
            if verdict.drop:
                self.counters["dropped"] += 1
                return
            if verdict.delay:
                self.counters["delayed"] += 1
                await self.clock.sleep(verdict.delay)
        if target not in self._slots and self.router is not None:
            host_id = self.router.locate(target)
            if host_id is not None:
                self.router.tell(host_id, source, target, method, args, kwargs)
                return
        try:
            await self.deliver(source, target, method, args, kwargs)
        except Exception as error:  # a tell has nobody to answer to: log it
            log.warning("tell %s.%s from %s failed: %s", target, method, source, error)

    async def deliver(
        self,
        source: str,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        task: asyncio.Task[Any] | None = None,
    ) -> Any:
        """Run one message on a local actor and return its reply, or ``LOST`` if the reply is dropped."""
        slot = self._slots.get(target)
        if slot is None:
            raise errors.UnknownActor.named(target)
        while not slot.open:
            if slot.state in (ActorState.DEAD, ActorState.STOPPED):
                raise errors.ActorDead.named(target, slot.reason)
            await slot.wait_changed()
        instance = slot.instance
        handler = getattr(instance, method, None) if method[:1] != "_" and method not in _RESERVED else None
        if handler is None or not callable(handler):
            raise errors.UnknownMethod.named(target, method)
        generation = slot.generation
        if task is None:
            task = asyncio.current_task()
            assert task is not None
        inflight = slot.inflight
        inflight[task] = inflight.get(task, 0) + 1
        try:
            reply = handler(*args, **kwargs)
            if inspect.isawaitable(reply):
                reply = await reply
        except asyncio.CancelledError:
            if slot.generation != generation and task in self._interrupted:
                self._interrupted.discard(task)
                task.uncancel()
                raise errors.CallInterrupted.named(target, slot.reason or "restarted") from None
            raise
        except Exception as error:
            if slot.generation != generation:
                raise errors.CallInterrupted.named(target, slot.reason) from None
            if isinstance(error, (errors.ActorError, *slot.cls.expected_errors)):
                raise  # an answer: the handler's own, or a failed call of its own passed on
            self._crash(slot, method, error)
            raise errors.ActorCrashed.named(target, method, error) from error
        finally:
            count = inflight.get(task, 0)
            if count <= 1:
                inflight.pop(task, None)
            else:
                inflight[task] = count - 1
        if slot.generation != generation:  # killed or restarted while handling: the reply never left
            raise errors.CallInterrupted.named(target, slot.reason or "restarted")
        if self.links.active:
            verdict = self.links.verdict(target, source)
            if verdict.drop:
                self.counters["dropped"] += 1
                return _LOST
            if verdict.delay:
                self.counters["delayed"] += 1
                await self.clock.sleep(verdict.delay)
        return reply

    # -- supervision -------------------------------------------------------------------------------------

    async def _incarnate(self, slot: _Slot) -> Exception | None:
        """Build a fresh instance and start it; returns the exception if ``on_start`` failed."""
        slot.restart_timer = None
        slot.transition(ActorState.STARTING)
        instance = slot.cls(*slot.args, **slot.kwargs)
        instance.name = slot.name
        instance.clock = self.clock
        instance._rng_name = f"{slot.name}#{slot.restarts}"  # the generator is made at first use
        instance._host = self
        slot.instance = instance
        generation = slot.generation
        try:
            await instance.on_start()
        except Exception as error:
            return error
        if slot.generation != generation:
            return None  # killed while starting; whoever killed it owns the slot now
        slot.transition(ActorState.RUNNING)
        if type(instance).run is not Actor.run:
            self.start_task(slot.name, self._main(slot, instance), name_hint="run")
        return None

    async def _main(self, slot: _Slot, instance: Actor) -> None:
        generation = slot.generation
        await instance.run()
        if slot.generation == generation and slot.cls.restart_policy is RestartPolicy.ALWAYS:
            self._schedule_restart(slot, "run() returned")

    def _task_done(self, slot: _Slot, generation: int, task: asyncio.Task[Any]) -> None:
        slot.tasks.discard(task)
        if task.cancelled() or slot.generation != generation:
            return
        error = task.exception()
        if error is not None and isinstance(error, Exception):
            self._crash(slot, task.get_name(), error)

    def _crash(self, slot: _Slot, where: str, error: Exception) -> None:
        self.counters["crashes"] += 1
        log.error("actor %s crashed in %s: %s: %s", slot.name, where, type(error).__name__, error)
        self._record(
            FaultEvent(
                time=self.clock.now(),
                kind=FaultKind.CRASHED,
                targets=(slot.name,),
                params={"where": where, "error": f"{type(error).__name__}: {error}"},
            )
        )
        policy = slot.cls.restart_policy
        limit = slot.cls.max_restarts
        if policy is RestartPolicy.NEVER or (limit is not None and slot.restarts >= limit):
            self._bury(slot, f"crashed in {where}: {type(error).__name__}: {error}")
            return
        self._schedule_restart(slot, f"crashed in {where}")

    def _schedule_restart(self, slot: _Slot, why: str) -> None:
        now = self.clock.now()
        slot.crashes = 1 if now - slot.last_crash > _CRASH_MEMORY else slot.crashes + 1
        slot.last_crash = now
        delay = 0.0 if slot.crashes == 1 else slot.cls.restart_backoff * 2 ** (slot.crashes - 2)
        delay = min(delay, slot.cls.restart_backoff_max)
        slot.generation += 1
        self._cancel_tasks(slot)
        slot.transition(ActorState.BACKOFF, why)
        generation = slot.generation

        def restart() -> None:
            if slot.generation == generation:
                self._spawn_background(self._restart_after_backoff(slot))

        slot.restart_timer = self.clock.call_later(delay, restart)

    async def _restart_after_backoff(self, slot: _Slot) -> None:
        slot.restarts += 1
        error = await self._incarnate(slot)
        if error is not None:
            self._crash(slot, "on_start", error)

    def _bury(self, slot: _Slot, reason: str) -> None:
        if slot.restart_timer is not None:
            slot.restart_timer.cancel()
            slot.restart_timer = None
        slot.generation += 1
        self._cancel_tasks(slot)
        slot.transition(ActorState.DEAD, reason)
        self._record(
            FaultEvent(
                time=self.clock.now(), kind=FaultKind.DIED, targets=(slot.name,), params={"reason": reason}
            )
        )

    def _cancel_tasks(self, slot: _Slot, *, graceful: bool = False) -> None:
        """End an incarnation: its tasks are cancelled, calls it is handling fail with ActorDead, and
        (unless it stopped gracefully) ``on_kill`` lets it drop what a dead process would lose."""
        if not graceful:
            _hook(slot, "on_kill")
        slot.instance = None
        current = asyncio.current_task()
        for task in list(slot.tasks):
            if task is not current:
                task.cancel()
        slot.tasks.clear()
        for task in list(slot.inflight):
            if task is not current and not task.done():
                self._interrupted.add(task)
                task.cancel()
        slot.inflight.clear()

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            raise errors.UnknownActor.named(name)
        return slot

    def _spawn_background(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _tune_collector() -> None:
    """Once per process: what exists now (modules, classes) is frozen out of the collector's walks, and
    the thresholds are raised (see ``_GC_THRESHOLDS``)."""
    if gc.get_threshold() != _GC_THRESHOLDS:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*_GC_THRESHOLDS)


_SYNC: dict[tuple[type[Actor], str], bool] = {}


def _is_sync(cls: type[Actor], method: str) -> bool:
    """Whether ``cls.method`` is a public handler declared with a plain ``def`` (cached per class)."""
    key = (cls, method)
    known = _SYNC.get(key)
    if known is None:
        handler = getattr(cls, method, None) if method[:1] != "_" and method not in _RESERVED else None
        known = _SYNC[key] = (
            handler is not None and inspect.isfunction(handler) and not inspect.iscoroutinefunction(handler)
        )
    return known


class _Lost:
    """The reply was dropped by the fault layer: the caller waits out its deadline."""

    __repr__ = lambda self: "LOST"  # noqa: E731


_LOST: Any = _Lost()
LOST = _LOST


def _hook(slot: _Slot, name: str) -> None:
    """Call a synchronous lifecycle hook of the live instance; a failing hook is logged, never raised."""
    if slot.instance is None:
        return
    try:
        getattr(slot.instance, name)()
    except Exception:
        log.exception("actor %s raised in %s", slot.name, name)


async def _forever() -> None:
    await asyncio.get_running_loop().create_future()
