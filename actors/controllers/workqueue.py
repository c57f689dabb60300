"""``WorkQueue``: client-go's rate-limiting work queue (``util/workqueue``), on the cluster clock.

What a controller's workers take keys from. The promises are client-go's:

- a key is queued at most once however often it is added while it waits (the *dirty* set);
- a key being processed (handed out by ``get`` and not yet ``done``) is never handed to a second worker; if
  it is added meanwhile it is marked dirty and queued again when ``done`` is called, so no change is lost;
- keys come out in the order they were first added (FIFO);
- ``add_after`` adds a key once a delay has passed on the injected ``Clock`` (a key already waiting keeps
  the earlier of its two deadlines); ``add_rate_limited`` is ``add_after`` with the rate limiter's delay,
  ``forget`` clears the key's failure history and ``num_requeues`` reads it;
- after ``shut_down`` adds are ignored, waiting timers are cancelled, ``get`` still hands out what was queued
  and then raises ``ShutDown``.

Invariants (on the fields): every key in ``_queue`` is in ``_dirty`` and not in ``_processing``; a key in
both ``_dirty`` and ``_processing`` is queued again by ``done``.

The default rate limiter is upstream's ``DefaultControllerRateLimiter``: the larger of a per-key exponential
back-off (5 ms doubling to 1000 s) and an overall token bucket (10 per second, burst 100) that only paces
retries. Both read the cluster clock, so a test with a ``ManualClock`` steps through back-offs instantly.

Single event loop, no locks: every method but ``get`` is synchronous and may be called from handlers.
Metrics follow client-go's names (``workqueue_depth``, ``workqueue_adds_total``, ``workqueue_retries_total``,
``workqueue_queue_duration_seconds``, ``workqueue_work_duration_seconds``, ...), as sums and counts rather
than histograms.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Protocol

from actors.runtime.clock import Clock, Timer

BASE_DELAY = 0.005  # ItemExponentialFailureRateLimiter(5*time.Millisecond, 1000*time.Second)
MAX_DELAY = 1000.0
BUCKET_QPS = 10.0  # rate.NewLimiter(rate.Limit(10), 100)
BUCKET_BURST = 100


class ShutDown(Exception):
    """``get`` on a queue that is shut down and empty: the worker should return."""


# -- rate limiters ---------------------------------------------------------------------------------------


class RateLimiter(Protocol):
    def when(self, key: str) -> float:
        """How long ``key`` should wait before it is retried (cluster seconds); records one failure."""
        ...

    def forget(self, key: str) -> None:
        """The key succeeded: drop its failure history."""
        ...

    def num_requeues(self, key: str) -> int: ...


class ItemExponentialFailureRateLimiter:
    """``base_delay * 2 ** failures``, capped at ``max_delay``, per key."""

    def __init__(self, *, base_delay: float = BASE_DELAY, max_delay: float = MAX_DELAY) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        exponent = self._failures.get(key, 0)
        self._failures[key] = exponent + 1
        if exponent > 1000:  # 2 ** exponent would overflow a float long before this matters
            return self.max_delay
        return float(min(self.base_delay * 2.0**exponent, self.max_delay))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter:
    """An overall token bucket (golang.org/x/time/rate's ``Reserve().Delay()``): ``burst`` retries at once,
    then ``qps`` per second, whichever key asks. Not per key, so ``forget`` does nothing."""

    def __init__(self, *, clock: Clock, qps: float = BUCKET_QPS, burst: int = BUCKET_BURST) -> None:
        self.clock = clock
        self.qps = qps
        self.burst = burst
        self._tokens = float(burst)
        self._last = clock.now()

    def when(self, key: str) -> float:
        now = self.clock.now()
        self._tokens = min(float(self.burst), self._tokens + max(0.0, now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0  # a reservation may take the bucket below zero: later ones wait longer
        return max(0.0, -self._tokens / self.qps)

    def forget(self, key: str) -> None:
        pass

    def num_requeues(self, key: str) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay of several limiters; every limiter sees every failure."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, key: str) -> float:
        return max((limiter.when(key) for limiter in self.limiters), default=0.0)

    def forget(self, key: str) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return max((limiter.num_requeues(key) for limiter in self.limiters), default=0)


def default_controller_rate_limiter(clock: Clock) -> MaxOfRateLimiter:
    """Upstream's ``DefaultControllerRateLimiter``: per-key exponential back-off and an overall bucket."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(), BucketRateLimiter(clock=clock))


# -- the queue -------------------------------------------------------------------------------------------


class WorkQueue:
    """See the module docstring. ``name`` labels its metrics (client-go's ``NewNamedRateLimitingQueue``)."""

    def __init__(self, *, name: str, clock: Clock, rate_limiter: RateLimiter | None = None) -> None:
        self.name = name
        self.clock = clock
        self.rate_limiter: RateLimiter = rate_limiter or default_controller_rate_limiter(clock)
        self._queue: collections.deque[str] = collections.deque()  # in _dirty, not in _processing
        self._dirty: set[str] = set()  # keys that need processing
        self._processing: set[str] = set()  # keys handed out and not done yet
        self._waiting: dict[str, Timer] = {}  # add_after keys, with the timer that adds them
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutting_down = False
        self._added_at: dict[str, float] = {}  # dirty keys: when they became dirty
        self._started_at: dict[str, float] = {}  # processing keys: when get handed them out
        self.adds_total = 0
        self.retries_total = 0
        self._queue_duration = [0.0, 0]  # sum, count
        self._work_duration = [0.0, 0]

    def __len__(self) -> int:
        """Keys queued for a worker (upstream's ``Len``: neither the processing nor the waiting ones)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: str) -> None:
        """Queue ``key`` unless it is already queued; a key being processed is queued again on ``done``."""
        if self._shutting_down or key in self._dirty:
            return
        self.adds_total += 1
        self._added_at.setdefault(key, self.clock.now())
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._wake_one()

    def add_after(self, key: str, delay: float) -> None:
        """Add ``key`` once ``delay`` cluster seconds have passed (at once when ``delay <= 0``)."""
        if self._shutting_down:
            return
        self.retries_total += 1  # client-go counts every delayed add as a retry
        if delay <= 0:
            self.add(key)
            return
        deadline = self.clock.now() + delay
        waiting = self._waiting.get(key)
        if waiting is not None:
            if waiting.deadline <= deadline:
                return  # already due earlier
            waiting.cancel()
        self._waiting[key] = self.clock.call_at(deadline, lambda: self._ready(key))

    def add_rate_limited(self, key: str) -> None:
        """Add ``key`` after the rate limiter's delay for it (one more failure on its record)."""
        if self._shutting_down:
            return
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        """``key`` succeeded: its next failure starts the back-off again from the base delay."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self.rate_limiter.num_requeues(key)

    async def get(self) -> str:
        """The next key, waiting for one; the caller must call ``done(key)`` when it is finished with it.

        Raises ``ShutDown`` once the queue is shut down and empty.
        """
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._getters:
                    self._getters.remove(waiter)
                elif self._queue:
                    self._wake_one()  # this waiter was woken for a key it will not take: pass it on
                raise
        key = self._queue.popleft()
        now = self.clock.now()
        self._dirty.discard(key)
        self._processing.add(key)
        added = self._added_at.pop(key, None)
        if added is not None:
            self._queue_duration[0] += now - added
            self._queue_duration[1] += 1
        self._started_at[key] = now
        return key

    def done(self, key: str) -> None:
        """The worker finished ``key``; if it was added meanwhile it is queued again now."""
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if started is not None:
            self._work_duration[0] += self.clock.now() - started
            self._work_duration[1] += 1
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()

    def shut_down(self) -> None:
        """Stop accepting keys; waiting workers wake (and get ``ShutDown`` once the queue is empty)."""
        self._shutting_down = True
        for timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def stats(self) -> dict[str, Any]:
        """client-go's workqueue metrics (without the ``name`` label) and the queue's sizes."""
        now = self.clock.now()
        running = [now - started for started in self._started_at.values()]
        return {
            "workqueue_depth": len(self._queue),
            "workqueue_adds_total": self.adds_total,
            "workqueue_retries_total": self.retries_total,
            "workqueue_queue_duration_seconds_sum": self._queue_duration[0],
            "workqueue_queue_duration_seconds_count": self._queue_duration[1],
            "workqueue_work_duration_seconds_sum": self._work_duration[0],
            "workqueue_work_duration_seconds_count": self._work_duration[1],
            "workqueue_unfinished_work_seconds": sum(running),
            "workqueue_longest_running_processor_seconds": max(running, default=0.0),
            "processing": len(self._processing),
            "waiting": len(self._waiting),
        }

    def _ready(self, key: str) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
