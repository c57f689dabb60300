"""Call deadlines for a whole host with one clock timer, not one timer per call.

A call registers (deadline, its task) on entry and unregisters on exit. Calls that share a timeout arrive
with non-decreasing deadlines, so each timeout value keeps an insertion-ordered queue whose front is its
earliest deadline; a single timer on the clock is armed for the earliest front. When it fires, every expired
call's task is cancelled and marked, and the caller turns that cancellation into ``CallTimeout``.

Cost per call: one ``OrderedDict`` insert and delete, against a timer handle, a heap push and a cancel with
``loop.call_later``; the local backend's call rate depends on it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict

from actors.runtime.clock import Clock, Timer


class Deadlines:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._queues: dict[float, OrderedDict[int, tuple[float, asyncio.Task[object]]]] = {}
        self._ids = itertools.count()
        self._timer: Timer | None = None
        self.expired: set[int] = set()

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def add(self, timeout: float, task: asyncio.Task[object]) -> int:
        """Register ``task`` to be cancelled ``timeout`` cluster seconds from now; returns its ticket."""
        ticket = next(self._ids)
        deadline = self._clock.now() + timeout
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = OrderedDict()
        queue[ticket] = (deadline, task)
        timer = self._timer
        if timer is None or timer.cancelled or deadline < timer.deadline:
            self._arm(deadline)
        return ticket

    def discard(self, timeout: float, ticket: int) -> None:
        queue = self._queues.get(timeout)
        if queue is not None:
            queue.pop(ticket, None)

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._clock.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.now()
        earliest: float | None = None
        for timeout, queue in list(self._queues.items()):
            while queue:
                ticket, (deadline, task) = next(iter(queue.items()))
                if deadline > now:
                    earliest = deadline if earliest is None else min(earliest, deadline)
                    break
                del queue[ticket]
                self.expired.add(ticket)
                task.cancel()
            if not queue:
                del self._queues[timeout]
        if earliest is not None:
            self._arm(earliest)
