"""What an emulated container writes to its log, and reading it back as ``kubectl logs`` does.

A run's log is a function of its behaviour and its start time, never a buffer: fixed ``LogLine``s (at a
time after the start) and at most one ``LogLoop`` (lines repeated every period, forever). ``lines`` reads a
window of it: the newest ``LIMIT`` lines are kept (as a runtime rotates its log files), then ``since`` and
``tail`` apply, as in ``PodLogOptions``. Reading costs the lines asked for, whatever the run's age; an idle
pod that logs every second costs nothing until someone reads it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator

LIMIT = 10_000  # lines a container run keeps: the newest


@dataclasses.dataclass(frozen=True, slots=True)
class LogLine:
    """A line written ``at`` seconds after the start (of the run, or of a loop's period); ``date`` lines
    print the time as ``date`` does."""

    at: float
    text: str = ""
    date: bool = False

    def render(self, when: float) -> str:
        return date(when) if self.date else self.text


@dataclasses.dataclass(frozen=True, slots=True)
class LogLoop:
    """Lines written every ``period`` from ``start`` seconds after the run started, each at its offset
    within the period."""

    start: float
    period: float
    lines: tuple[LogLine, ...]


def date(when: float) -> str:
    """The time as ``date`` prints it in a container (UTC): ``Tue Nov 14 22:13:20 UTC 2023``."""
    t = time.gmtime(when)
    return time.strftime("%a %b ", t) + f"{t.tm_mday:2d} " + time.strftime("%H:%M:%S UTC %Y", t)


def lines(
    fixed: tuple[LogLine, ...],
    loop: LogLoop | None,
    *,
    started: float,
    until: float,
    since: float | None = None,
    tail: int | None = None,
) -> list[tuple[float, str]]:
    """The (time, line) pairs a run that started at ``started`` wrote up to ``until``, oldest first: of
    the newest ``LIMIT``, those at or after ``since``, then the last ``tail`` of them."""
    wanted = LIMIT if tail is None else min(max(tail, 0), LIMIT)
    floor = started if since is None else max(since, started)
    out: list[tuple[float, str]] = []
    for count, (at, line) in enumerate(_newest_first(fixed, loop, started, until)):
        if count >= LIMIT or len(out) >= wanted or at < floor:
            break
        out.append((at, line.render(at)))
    out.reverse()
    return out


def _newest_first(
    fixed: tuple[LogLine, ...], loop: LogLoop | None, started: float, until: float
) -> Iterator[tuple[float, LogLine]]:
    """Fixed and looped lines merged, newest first; at equal times a fixed line counts as older."""
    written = sorted(
        ((started + line.at, i, line) for i, line in enumerate(fixed) if started + line.at <= until),
        reverse=True,
    )
    looped = _looped_newest_first(loop, started, until)
    pending = next(looped, None)
    for at, _, line in written:
        while pending is not None and pending[0] >= at:
            yield pending
            pending = next(looped, None)
        yield at, line
    while pending is not None:
        yield pending
        pending = next(looped, None)


def _looped_newest_first(
    loop: LogLoop | None, started: float, until: float
) -> Iterator[tuple[float, LogLine]]:
    if loop is None or not loop.lines:
        return
    origin = started + loop.start
    if until < origin:
        return
    period = math.floor((until - origin) / loop.period)
    while period >= 0:
        base = origin + period * loop.period
        for line in reversed(loop.lines):
            if base + line.at <= until:
                yield base + line.at, line
        period -= 1
