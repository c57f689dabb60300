"""The Ray backend: hosts are Ray actors, each running many logical actors on its own event loop.

This module and nothing else in kubemu imports ``ray`` (Ray Serve's "all Ray API calls are made here").

- ``RaySystem`` (the driver side) starts or joins Ray (``address=None`` starts a local Ray; ``"auto"`` or a
  ``ray://``/``host:port`` address joins one; a ``ray.cluster_utils.Cluster``'s address works the same),
  creates
  ``hosts`` host actors (``host_options[i]`` are Ray ``.options`` for host i: resources, scheduling strategy),
  and places actors on them: an explicit ``host=`` at spawn, else a stable hash of the name.
- ``HostProcess`` (inside each Ray actor) wraps one ``Host`` and is its ``Router``: a message for an actor on
  another host goes into that host's outbox; everything queued in one loop turn leaves as one Ray call
  carrying msgpack bytes (``batching=False`` sends each message alone, for comparison). Replies travel back
  the same way. Every host has the same link rules, so faults behave as on the local backend.
- Host loss (a Ray node removed, a worker killed) is seen by the driver through each host's never-ending
  ``wait_forever`` call; every actor placed there is reported dead (``FaultKind.DIED``, reason ``host lost``),
  pending calls to it fail with ``ActorDead``, and so does every later call.

The clock is a ``WallClock`` shared through one epoch; a manual clock is a local-backend feature.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

import ray

from actors.runtime import errors, seeding, wire
from actors.runtime.actor import Actor, ActorState
from actors.runtime.clock import WallClock
from actors.runtime.faults import DRIVER, FaultEvent, FaultKind, LinkRule, LinkTable
from actors.runtime.host import LOST, ActorInfo, Host
from actors.runtime.ref import ActorRef
from actors.runtime.system import ActorSystem, SystemConfig

log = logging.getLogger("kubemu.runtime.ray")

_HOST_LOST = "host lost"


class HostProcess:
    """One Ray host: a ``Host`` plus the batched transport to its peers. Wrapped by ``ray.remote`` below."""

    def __init__(self, host_id: str, config: dict[str, Any], batching: bool) -> None:
        self.host_id = host_id
        self.batching = batching
        self.clock = WallClock(time_scale=config["time_scale"], epoch=config["epoch"])
        self.events: list[FaultEvent] = []
        self.host = Host(
            host_id=host_id,
            clock=self.clock,
            seed=config["seed"],
            links=LinkTable(seeding.derive(config["seed"], f"faults@{host_id}")),
            call_timeout=config["call_timeout"],
            record=self.events.append,
            router=self,
        )
        self.peers: dict[str, Any] = {}
        self.hosts: list[str] = []
        self.pinned: dict[str, str] = {}
        self.lost: set[str] = set()
        self._outbox: dict[str, list[Any]] = {}
        self._flush_scheduled = False
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._ids = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.counters = {"batches_sent": 0, "messages_sent": 0}

    # -- control, from the driver ------------------------------------------------------------------------

    async def connect(self, peers: dict[str, Any], hosts: list[str]) -> None:
        self.peers = {h: handle for h, handle in peers.items() if h != self.host_id}
        self.hosts = hosts

    async def pin(self, entries: dict[str, str]) -> None:
        self.pinned.update(entries)

    async def spawn(self, name: str, cls_path: str, payload: bytes) -> bytes:
        args, kwargs = wire.unpack(payload)
        try:
            await self.host.spawn(name, wire._resolve(cls_path), tuple(args), dict(kwargs))
        except Exception as error:
            return wire.pack(error)
        return wire.pack(None)

    async def control(self, op: str, name: str) -> bytes:
        try:
            if op == "stop":
                await self.host.stop(name)
            elif op == FaultKind.PAUSE:
                self.host.pause(name)
            elif op == FaultKind.RESUME:
                self.host.resume(name)
            elif op == FaultKind.KILL:
                await self.host.kill(name)
            elif op == FaultKind.RESTART:
                await self.host.restart(name)
        except Exception as error:
            return wire.pack(error)
        return wire.pack(None)

    async def set_rules(self, payload: bytes) -> None:
        self.host.links.replace(LinkRule.from_dict(d) for d in wire.unpack(payload))

    async def host_lost(self, host_id: str) -> None:
        self.lost.add(host_id)
        for call_id, (where, future) in list(self._pending.items()):
            if where == host_id and not future.done():
                future.set_exception(errors.CallInterrupted.named(f"<on {host_id}>", _HOST_LOST))
                self._pending.pop(call_id, None)

    async def info(self) -> bytes:
        return wire.pack(self.host.info())

    async def drain_events(self) -> bytes:
        events, self.events = self.events, []
        return wire.pack(events)

    async def stats(self) -> dict[str, int]:
        return {**self.host.counters, **self.counters}

    async def shutdown(self) -> None:
        await self.host.shutdown()

    async def wait_forever(self) -> None:
        await asyncio.get_running_loop().create_future()

    async def driver_call(self, payload: bytes) -> bytes:
        """A call from the driver: runs through this host's fault layer and deadline like any other."""
        source, target, method, args, kwargs, timeout = wire.unpack(payload)
        try:
            return wire.pack((True, await self.host.call(source, target, method, args, kwargs, timeout)))
        except Exception as error:
            return wire.pack((False, error))

    async def driver_tell(self, payload: bytes) -> None:
        source, target, method, args, kwargs = wire.unpack(payload)
        self.host.tell(source, target, method, args, kwargs)

    # -- Router ------------------------------------------------------------------------------------------

    def locate(self, name: str) -> str | None:
        where = self.pinned.get(name) or place(name, self.hosts)
        return None if where == self.host_id else where

    async def call(
        self,
        host_id: str,
        source: str,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if host_id in self.lost:
            raise errors.ActorDead.named(target, _HOST_LOST)
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = (host_id, future)
        self._send(host_id, ["call", call_id, self.host_id, source, target, method, list(args), kwargs])
        try:
            return await future
        finally:
            self._pending.pop(call_id, None)

    def tell(
        self,
        host_id: str,
        source: str,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        if host_id not in self.lost:
            self._send(host_id, ["tell", 0, self.host_id, source, target, method, list(args), kwargs])

    # -- transport ---------------------------------------------------------------------------------------

    def _send(self, host_id: str, message: list[Any]) -> None:
        if not self.batching:
            self._ship(host_id, [message])
            return
        self._outbox.setdefault(host_id, []).append(message)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        outbox, self._outbox = self._outbox, {}
        for host_id, messages in outbox.items():
            self._ship(host_id, messages)

    def _ship(self, host_id: str, messages: list[Any]) -> None:
        peer = self.peers.get(host_id)
        if peer is None or host_id in self.lost:
            return
        self.counters["batches_sent"] += 1
        self.counters["messages_sent"] += len(messages)
        peer.deliver.remote(wire.pack(messages))

    async def deliver(self, payload: bytes) -> None:
        """A batch from a peer: requests run as tasks here, replies complete pending calls."""
        loop = asyncio.get_running_loop()
        for message in wire.unpack(payload):
            kind = message[0]
            if kind == "reply":
                _, call_id, ok, value = message
                entry = self._pending.pop(call_id, None)
                if entry is not None and not entry[1].done():
                    if ok:
                        entry[1].set_result(value)
                    else:
                        entry[1].set_exception(value)
            else:
                self._start_eagerly(loop, self._serve(message))

    def _start_eagerly(self, loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a message's handler at once; only one that has to wait gets a task (for the rest of it).

        Most handlers answer without waiting, and a task per message was the receiving host's largest cost.
        This is what Python 3.12's eager task factory does.
        """
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return
        task = loop.create_task(_finish(coroutine, waiting_on))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: list[Any]) -> None:
        kind, call_id, origin, source, target, method, args, kwargs = message
        try:
            value = await self.host.deliver(source, target, method, tuple(args), kwargs)
        except Exception as error:
            if kind == "call":
                self._send(origin, ["reply", call_id, False, error])
            return
        if kind == "call" and value is not LOST:
            self._send(origin, ["reply", call_id, True, value])


async def _finish(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Drive a coroutine that was started eagerly and suspended on ``waiting_on`` (a future, or None)."""
    while True:
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait([waiting_on])  # the coroutine reads the outcome itself when resumed
        except asyncio.CancelledError as cancelled:
            try:
                waiting_on = coroutine.throw(cancelled)
            except (StopIteration, asyncio.CancelledError):
                return
            continue
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return


_RemoteHost = ray.remote(HostProcess)


def place(name: str, hosts: Sequence[str]) -> str:
    """The host of an actor with no explicit placement: a stable hash of its name over the hosts."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return hosts[int.from_bytes(digest, "big") % len(hosts)]


class _DriverGateway:
    """Sends the driver's calls to the host that runs the target."""

    def __init__(self, system: RaySystem) -> None:
        self._system = system

    async def call(
        self,
        source: str,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any:
        handle = self._system._handle_for(target)
        try:
            reply = await handle.driver_call.remote(
                wire.pack((source, target, method, args, kwargs, timeout))
            )
        except ray.exceptions.RayActorError:
            raise errors.CallInterrupted.named(target, _HOST_LOST) from None
        ok, value = wire.unpack(reply)
        if not ok:
            raise value
        return value

    def tell(
        self, source: str, target: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._system._handle_for(target).driver_tell.remote(wire.pack((source, target, method, args, kwargs)))


class RaySystem(ActorSystem):
    backend = "ray"

    def __init__(
        self,
        config: SystemConfig | None = None,
        *,
        hosts: int = 2,
        address: str | None = None,
        num_cpus: int | None = None,
        batching: bool = True,
        host_options: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        config = config or SystemConfig()
        if config.manual_clock:
            raise ValueError("the ray backend runs on wall time; a manual clock needs the local backend")
        super().__init__(config)
        if hosts < 1:
            raise ValueError(f"hosts must be at least 1, got {hosts}")
        self.clock = self.wall_clock = WallClock(time_scale=config.time_scale, epoch=config.epoch)
        self.host_ids = [f"host-{i}" for i in range(hosts)]
        self.address = address
        self.num_cpus = num_cpus
        self.batching = batching
        self.host_options = list(host_options or [{} for _ in range(hosts)])
        if len(self.host_options) != hosts:
            raise ValueError("host_options needs one entry per host")
        self._handles: dict[str, Any] = {}
        self._directory: dict[str, str] = {}
        self._pinned: dict[str, str] = {}
        self._lost: set[str] = set()
        self._started_ray = False
        self._watchers: list[asyncio.Task[None]] = []
        self._gateway = _DriverGateway(self)
        self._death_events: list[FaultEvent] = []
        self.host_lost = asyncio.Event()

    async def start(self) -> None:
        if not ray.is_initialized():
            ray.init(
                address=self.address,
                num_cpus=self.num_cpus,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
            self._started_ray = True
        config = {
            "time_scale": self.config.time_scale,
            "epoch": self.wall_clock.epoch,
            "seed": self.seed,
            "call_timeout": self.config.call_timeout,
        }
        for host_id, options in zip(self.host_ids, self.host_options, strict=True):
            self._handles[host_id] = _RemoteHost.options(
                max_concurrency=100_000, num_cpus=0, **options
            ).remote(host_id, config, self.batching)
        await asyncio.gather(
            *(h.connect.remote(self._handles, self.host_ids) for h in self._handles.values())
        )
        for host_id, handle in self._handles.items():
            self._watchers.append(asyncio.get_running_loop().create_task(self._watch(host_id, handle)))

    async def shutdown(self) -> None:
        for task in self._watchers:
            task.cancel()
        live = [h for host_id, h in self._handles.items() if host_id not in self._lost]
        try:
            await asyncio.wait_for(asyncio.gather(*(h.shutdown.remote() for h in live)), timeout=10)
        except Exception as error:  # shutting down: a host that cannot answer is killed below anyway
            log.warning("host shutdown: %s", error)
        for handle in live:
            ray.kill(handle)
        self._handles.clear()
        if self._started_ray:
            ray.shutdown()

    async def spawn(
        self,
        name: str,
        cls: type[Actor],
        *,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        host: str | None = None,
    ) -> ActorRef:
        if host is not None and host not in self._handles:
            raise ValueError(f'unknown host "{host}": hosts are {", ".join(self.host_ids)}')
        where = host or self._pinned.get(name) or place(name, self.host_ids)
        if host is not None and host != place(name, self.host_ids):
            self._pinned[name] = host
            await asyncio.gather(*(h.pin.remote({name: host}) for h in self._live_handles()))
        if where in self._lost:
            raise errors.ActorDead.named(name, _HOST_LOST)
        payload = wire.pack((list(args), dict(kwargs or {})))
        error = wire.unpack(await self._handles[where].spawn.remote(name, wire._path(cls), payload))
        if error is not None:
            raise error
        self._directory[name] = where
        return self.ref(name)

    def ref(self, name: str) -> ActorRef:
        return ActorRef(self._gateway, name, source=DRIVER)

    async def stop(self, name: str) -> None:
        await self._control("stop", name)

    async def actors(self) -> list[ActorInfo]:
        infos: list[ActorInfo] = []
        for host_id, handle in self._handles.items():
            if host_id in self._lost:
                infos.extend(
                    ActorInfo(name=n, host=host_id, state=ActorState.DEAD, restarts=0, reason=_HOST_LOST)
                    for n, h in self._directory.items()
                    if h == host_id
                )
            else:
                infos.extend(wire.unpack(await handle.info.remote()))
        return infos

    async def stats(self) -> dict[str, dict[str, int]]:
        return {h: await self._handles[h].stats.remote() for h in self._live_ids()}

    def placement(self, name: str) -> str:
        """The host that runs (or would run) ``name``."""
        return self._directory.get(name) or self._pinned.get(name) or place(name, self.host_ids)

    async def _actor_fault(self, kind: FaultKind, name: str) -> None:
        await self._control(kind.value, name)

    async def _install_rules(self, rules: list[LinkRule]) -> None:
        payload = wire.pack([r.to_dict() for r in rules])
        await asyncio.gather(*(h.set_rules.remote(payload) for h in self._live_handles()))

    async def _observed_events(self) -> list[FaultEvent]:
        events, self._death_events = self._death_events, []
        for handle in self._live_handles():
            events.extend(wire.unpack(await handle.drain_events.remote()))
        return events

    async def _control(self, op: str, name: str) -> None:
        where = self.placement(name)
        if where in self._lost:
            raise errors.ActorDead.named(name, _HOST_LOST)
        error = wire.unpack(await self._handles[where].control.remote(op, name))
        if error is not None:
            raise error

    async def _watch(self, host_id: str, handle: Any) -> None:
        try:
            await handle.wait_forever.remote()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._on_host_lost(host_id, error)

    def _on_host_lost(self, host_id: str, error: Exception) -> None:
        log.warning("host %s lost: %s", host_id, type(error).__name__)
        self._lost.add(host_id)
        now = self.clock.now()
        for name, where in self._directory.items():
            if where == host_id:
                self._death_events.append(
                    FaultEvent(time=now, kind=FaultKind.DIED, targets=(name,), params={"reason": _HOST_LOST})
                )
        for handle in self._live_handles():
            handle.host_lost.remote(host_id)
        self.host_lost.set()

    def _handle_for(self, name: str) -> Any:
        where = self.placement(name)
        if where in self._lost:
            raise errors.ActorDead.named(name, _HOST_LOST)
        return self._handles[where]

    def _live_ids(self) -> list[str]:
        return [h for h in self.host_ids if h not in self._lost and h in self._handles]

    def _live_handles(self) -> list[Any]:
        return [self._handles[h] for h in self._live_ids()]
