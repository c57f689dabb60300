"""The cluster clock: the one source of time for every emulated timer.

Heartbeats, grace periods, back-offs, CronJob schedules and call deadlines all read a ``Clock`` and sleep on
it; no component calls ``time.time()`` or ``asyncio.sleep`` itself. Two clocks keep that promise:

- ``WallClock`` follows the machine's monotonic time scaled by ``time_scale`` (``time_scale=60`` makes a
  cluster minute pass in a wall second). Every host of a cluster shares one ``epoch`` so their readings agree.
- ``ManualClock`` stands still until a test calls ``advance``; timers then fire in deadline order, ties in
  the order they were set, and the loop is let run until it is quiet after each one. With seeded randomness
  this makes a run on the local backend replay event for event (trio's ``MockClock`` is the model).

Cluster time is in seconds since the Unix epoch, so it formats as a Kubernetes timestamp directly.
"""

from __future__ import annotations

import abc
import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Timer:
    """A pending callback on a clock; ``cancel()`` stops it if it has not fired."""

    __slots__ = ("_cancel", "cancelled", "deadline")

    def __init__(self, deadline: float, cancel: Callable[[], None]) -> None:
        self.deadline = deadline
        self.cancelled = False
        self._cancel = cancel

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._cancel()


class Clock(abc.ABC):
    """Cluster time: read it, sleep on it, set timers on it, bound an await by it."""

    time_scale: float = 1.0

    @abc.abstractmethod
    def now(self) -> float:
        """Cluster seconds since the Unix epoch."""

    @abc.abstractmethod
    def call_at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` (on the running loop) once cluster time reaches ``deadline``."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self.now() + max(0.0, delay), callback)

    async def sleep(self, delay: float) -> None:
        """Sleep ``delay`` cluster seconds (zero or less just yields to the loop)."""
        if delay <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await future
        finally:
            timer.cancel()

    async def sleep_until(self, deadline: float) -> None:
        await self.sleep(deadline - self.now())

    async def timeout(self, delay: float, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` for at most ``delay`` cluster seconds; raise ``TimeoutError`` past that."""
        task = asyncio.ensure_future(awaitable)
        if task.done():
            return task.result()
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        timer = self.call_later(delay, expire)
        try:
            return await task
        except asyncio.CancelledError:
            if not expired:
                raise  # we were cancelled from outside, not by the deadline
            raise TimeoutError(f"timed out after {delay:g}s of cluster time") from None
        finally:
            timer.cancel()


class WallClock(Clock):
    """Monotonic wall time scaled by ``time_scale``, starting from ``epoch`` (default: now)."""

    def __init__(self, *, time_scale: float = 1.0, epoch: float | None = None) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.time_scale = time_scale
        self.epoch = time.time() if epoch is None else epoch
        # cluster(wall) = epoch + (wall - epoch) * scale, with wall read through the monotonic clock so it
        # never jumps; hosts sharing an epoch therefore agree on cluster time.
        wall, mono = time.time(), time.monotonic()
        self._base = self.epoch + (wall - self.epoch) * time_scale - mono * time_scale

    def now(self) -> float:
        return self._base + time.monotonic() * self.time_scale

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (deadline - self.now()) / self.time_scale)
        handle = loop.call_later(delay, callback)
        return Timer(deadline, handle.cancel)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay) / self.time_scale)


class ManualClock(Clock):
    """A clock that moves only when ``advance`` is awaited; for tests and reproducible experiments."""

    def __init__(self, *, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._timers: list[tuple[float, int, Timer, Callable[[], None]]] = []
        self._sequence = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(deadline, lambda: None)
        heapq.heappush(self._timers, (deadline, next(self._sequence), timer, callback))
        return timer

    @property
    def pending(self) -> int:
        """Timers set and not yet fired or cancelled."""
        return sum(1 for _, _, timer, _ in self._timers if not timer.cancelled)

    def next_deadline(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way, in order."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        target = self._now + seconds
        await settle()
        while (deadline := self.next_deadline()) is not None and deadline <= target:
            _, _, timer, callback = heapq.heappop(self._timers)
            self._now = max(self._now, deadline)
            timer.cancelled = True
            callback()
            await settle()
        self._now = target
        await settle()

    async def run_until_idle(self, *, limit: float = 86_400.0) -> None:
        """Jump from timer to timer until none is left (or ``limit`` cluster seconds have passed)."""
        end = self._now + limit
        while (deadline := self.next_deadline()) is not None and deadline <= end:
            await self.advance(deadline - self._now)


async def settle(max_rounds: int = 10_000) -> None:
    """Yield until no other callback is ready on this loop: everything the last event woke has run.

    Reads the ready queue of CPython's event loop; on a loop without one it yields a fixed number of times.
    """
    loop = asyncio.get_running_loop()
    ready = getattr(loop, "_ready", None)
    if ready is None:
        for _ in range(100):
            await asyncio.sleep(0)
        return
    for _ in range(max_rounds):
        await asyncio.sleep(0)
        if not ready:
            return
