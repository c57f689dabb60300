"""Cron schedules as Kubernetes reads ``CronJob.spec.schedule``: robfig/cron v3's ``ParseStandard``.

A standard spec has five fields, ``minute hour day-of-month month day-of-week``; each field is a comma list
of ``*``, ``?``, ``N``, ``N-M``, optionally ``/step``; months and weekdays also take names (``jan``,
``mon``). Descriptors stand for whole specs: ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``,
``@daily`` (``@midnight``), ``@hourly``, and ``@every <Go duration>``. A ``TZ=`` or ``CRON_TZ=`` prefix
names a time zone (the CronJob validator rejects it in favour of ``spec.timeZone``).

``parse_standard`` raises ``CronError`` with robfig's message, which the apiserver prints after
``spec.schedule: Invalid value: "...":``. ``Schedule.next`` is the next activation strictly after a time,
as robfig's ``Next`` (day-of-month and day-of-week are OR-ed unless one of them is ``*``); it is pure and
takes the time zone from its argument, so the CronJob controller can drive it from the cluster clock.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import zoneinfo

from kube import errors

_STAR = 1 << 63
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
_WEEKDAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_MAX_INT64 = 2**63 - 1


class CronError(errors.KubeError):
    """A schedule that does not parse; the message is robfig/cron's."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int] | None = None


_MINUTES, _HOURS = _Bounds(0, 59), _Bounds(0, 23)
_DOM, _MONTH_BOUNDS, _DOW = _Bounds(1, 31), _Bounds(1, 12, _MONTHS), _Bounds(0, 6, _WEEKDAYS)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A parsed schedule: bit sets per field (bit 63 marks a ``*``), or a fixed delay for ``@every``."""

    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    every_seconds: int = 0  # non-zero for "@every"
    time_zone: str = ""  # from a TZ= / CRON_TZ= prefix

    def next(self, after: datetime.datetime) -> datetime.datetime | None:
        """The first activation strictly after ``after`` (``None`` if none within five years)."""
        if self.every_seconds:
            return after.replace(microsecond=0) + datetime.timedelta(seconds=self.every_seconds)
        zone = zoneinfo.ZoneInfo(self.time_zone) if self.time_zone else after.tzinfo
        t = (after.astimezone(zone) if zone else after).replace(second=0, microsecond=0)
        t += datetime.timedelta(minutes=1)
        year_limit = t.year + 5
        while t.year <= year_limit:
            if not (1 << t.month) & self.month:
                t = (t.replace(day=1, hour=0, minute=0) + datetime.timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + datetime.timedelta(days=1)
            elif not (1 << t.hour) & self.hour:
                t = t.replace(minute=0) + datetime.timedelta(hours=1)
            elif not (1 << t.minute) & self.minute:
                t += datetime.timedelta(minutes=1)
            else:
                return t.astimezone(after.tzinfo) if after.tzinfo else t
        return None

    def _day_matches(self, t: datetime.datetime) -> bool:
        dom_match = bool((1 << t.day) & self.dom)
        dow_match = bool((1 << ((t.weekday() + 1) % 7)) & self.dow)
        if self.dom & _STAR or self.dow & _STAR:
            return dom_match and dow_match
        return dom_match or dow_match


def _bits(low: int, high: int, step: int) -> int:
    return sum(1 << i for i in range(low, high + 1, step))


def _all(bounds: _Bounds) -> int:
    return _bits(bounds.low, bounds.high, 1) | _STAR


# descriptor -> (minute, hour, day of month, month, day of week) bit sets
_EVERY_DOW, _EVERY_MONTH, _EVERY_DOM = _all(_DOW), _all(_MONTH_BOUNDS), _all(_DOM)
_DESCRIPTORS: dict[str, tuple[int, int, int, int, int]] = {
    "@yearly": (1, 1, 1 << 1, 1 << 1, _EVERY_DOW),
    "@annually": (1, 1, 1 << 1, 1 << 1, _EVERY_DOW),
    "@monthly": (1, 1, 1 << 1, _EVERY_MONTH, _EVERY_DOW),
    "@weekly": (1, 1, _EVERY_DOM, _EVERY_MONTH, 1),
    "@daily": (1, 1, _EVERY_DOM, _EVERY_MONTH, _EVERY_DOW),
    "@midnight": (1, 1, _EVERY_DOM, _EVERY_MONTH, _EVERY_DOW),
    "@hourly": (1, _all(_HOURS), _EVERY_DOM, _EVERY_MONTH, _EVERY_DOW),
}


def parse_standard(spec: str) -> Schedule:
    """Parse a schedule as ``cron.ParseStandard``; raises ``CronError`` with robfig's message."""
    if not spec:
        raise CronError("empty spec string")
    time_zone = ""
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        time_zone = spec[spec.index("=") + 1 : space if space >= 0 else len(spec)]
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
            raise CronError(f"provided bad location {time_zone}: unknown time zone {time_zone}") from e
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        return _parse_descriptor(spec, time_zone)
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    minute, hour, dom, month, dow = (
        _field(text, bounds)
        for text, bounds in zip(fields, (_MINUTES, _HOURS, _DOM, _MONTH_BOUNDS, _DOW), strict=True)
    )
    return Schedule(minute=minute, hour=hour, dom=dom, month=month, dow=dow, time_zone=time_zone)


def _parse_descriptor(spec: str, time_zone: str) -> Schedule:
    if spec in _DESCRIPTORS:
        minute, hour, dom, month, dow = _DESCRIPTORS[spec]
        return Schedule(minute=minute, hour=hour, dom=dom, month=month, dow=dow, time_zone=time_zone)
    if spec.startswith("@every "):
        try:
            nanos = parse_go_duration(spec[len("@every ") :])
        except CronError as e:
            raise CronError(f"failed to parse duration {spec}: {e}") from None
        return Schedule(every_seconds=max(1, nanos // 10**9), time_zone=time_zone)
    raise CronError(f"unrecognized descriptor: {spec}")


def _field(text: str, bounds: _Bounds) -> int:
    bits = 0
    for expr in (part for part in text.split(",") if part):
        bits |= _range(expr, bounds)
    return bits


def _range(expr: str, bounds: _Bounds) -> int:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    extra = 0
    if low_and_high[0] in ("*", "?"):
        start, end, extra = bounds.low, bounds.high, _STAR
    else:
        start = _int_or_name(low_and_high[0], bounds.names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], bounds.names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _uint(range_and_step[1])
        if len(low_and_high) == 1:
            end = bounds.high  # "N/step" means "N-max/step"
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < bounds.low:
        raise CronError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return _bits(start, end, step) | extra


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _uint(expr)


def _uint(expr: str) -> int:
    """``mustParseInt``: Go's ``strconv.Atoi`` wording, then no negatives."""
    if not re.fullmatch(r"[+-]?[0-9]+", expr, re.ASCII):
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    number = int(expr)
    if not -_MAX_INT64 - 1 <= number <= _MAX_INT64:
        raise CronError(
            f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": value out of range'
        )
    if number < 0:
        raise CronError(f"negative number ({number}) not allowed: {expr}")
    return number


_DURATION_UNITS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds (``1h30m``, ``1.5s``); ``CronError`` with Go's text."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    rest = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    if rest == "0":
        return 0
    if not rest:
        raise CronError(f"time: invalid duration {quoted}")
    total = 0
    while rest:
        match = _DURATION_PART.match(rest)
        number, unit = match.groups() if match else ("", "")
        if number in ("", "."):
            raise CronError(f"time: invalid duration {quoted}")
        if not unit:
            raise CronError(f"time: missing unit in duration {quoted}")
        if unit not in _DURATION_UNITS:
            unit_quoted = '"' + unit + '"'
            raise CronError(f"time: unknown unit {unit_quoted} in duration {quoted}")
        whole, _, frac = number.partition(".")
        scale = _DURATION_UNITS[unit]
        total += int(whole or "0") * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        rest = rest[len(number) + len(unit) :]
    return sign * total
