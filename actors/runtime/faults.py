"""The fault layer: what happens to a message between two actors, and the record of every fault.

Every message (a call, its reply, a tell) asks ``LinkTable.verdict(source, destination)`` before it
travels. A verdict drops it, delays it, or lets it pass. Rules name *sets* of actors by shell-style patterns
(``kubelet/*``, ``store-0``), so one rule partitions a whole group. The external caller (a test, the CLI, an
experiment script) is the actor named ``DRIVER``; ``*`` matches it too.

- drop: lose each message with ``probability`` (from the table's seeded generator);
- delay: hold each message ``delay`` seconds plus uniform jitter in ``[-jitter, +jitter]`` (never negative);
- partition: drop everything from one set to the other, and back unless ``one_way``.

Actor faults (pause, resume, kill, restart) are carried out by the host that runs the actor; this module
only describes them. ``FaultEvent`` records each injected fault (cluster time, kind, targets, parameters), and
``FaultEvent.to_dict``/``from_dict`` let an experiment print a run's faults and replay them on another.

The table is identical on both backends: the Ray backend gives each host a copy of the same rules.
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import random
import time
from collections.abc import Iterable
from typing import Any

DRIVER = "driver"


class FaultKind(enum.StrEnum):
    DROP = "drop"
    DELAY = "delay"
    PARTITION = "partition"
    PAUSE = "pause"
    RESUME = "resume"
    KILL = "kill"
    RESTART = "restart"
    HEAL = "heal"
    # Observed by the runtime rather than injected; recorded in the same log.
    CRASHED = "crashed"
    DIED = "died"


LINK_KINDS = frozenset({FaultKind.DROP, FaultKind.DELAY, FaultKind.PARTITION})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LinkRule:
    """One network fault between a set of sources and a set of destinations."""

    id: int
    kind: FaultKind
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    probability: float = 1.0
    delay: float = 0.0
    jitter: float = 0.0
    one_way: bool = False

    def __post_init__(self) -> None:
        if self.kind not in LINK_KINDS:
            raise ValueError(f"{self.kind} is not a link fault")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {self.probability}")
        if self.delay < 0 or self.jitter < 0:
            raise ValueError("delay and jitter must not be negative")
        if not self.sources or not self.destinations:
            raise ValueError("a link fault needs at least one source and one destination pattern")

    def applies(self, source: str, destination: str) -> bool:
        if _matches(source, self.sources) and _matches(destination, self.destinations):
            return True
        symmetric = self.kind is FaultKind.PARTITION and not self.one_way
        return symmetric and _matches(source, self.destinations) and _matches(destination, self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "sources": list(self.sources),
            "destinations": list(self.destinations),
            "probability": self.probability,
            "delay": self.delay,
            "jitter": self.jitter,
            "one_way": self.one_way,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkRule:
        return cls(
            id=int(data["id"]),
            kind=FaultKind(data["kind"]),
            sources=tuple(data["sources"]),
            destinations=tuple(data["destinations"]),
            probability=float(data.get("probability", 1.0)),
            delay=float(data.get("delay", 0.0)),
            jitter=float(data.get("jitter", 0.0)),
            one_way=bool(data.get("one_way", False)),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """What happens to one message: lost, or delivered after ``delay`` seconds of cluster time."""

    drop: bool = False
    delay: float = 0.0


PASS = Verdict()
DROPPED = Verdict(drop=True)


class LinkTable:
    """The link rules in force and the decision for each message.

    Invariant: ``_by_pair`` caches, for each (source, destination) seen since the rules last changed, exactly
    the rules that apply to it, so a message costs one dict lookup plus its own draws.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._rules: dict[int, LinkRule] = {}
        self._by_pair: dict[tuple[str, str], tuple[LinkRule, ...]] = {}
        self.active = False  # any rule in force: the one attribute a message's hot path reads

    def __bool__(self) -> bool:
        return self.active

    @property
    def rules(self) -> list[LinkRule]:
        return list(self._rules.values())

    def add(self, rule: LinkRule) -> None:
        self._rules[rule.id] = rule
        self._by_pair.clear()
        self.active = True

    def remove(self, rule_id: int) -> bool:
        found = self._rules.pop(rule_id, None) is not None
        self._by_pair.clear()
        self.active = bool(self._rules)
        return found

    def replace(self, rules: Iterable[LinkRule]) -> None:
        self._rules = {rule.id: rule for rule in rules}
        self._by_pair.clear()
        self.active = bool(self._rules)

    def verdict(self, source: str, destination: str) -> Verdict:
        if not self._rules:
            return PASS
        pair = (source, destination)
        rules = self._by_pair.get(pair)
        if rules is None:
            rules = self._by_pair[pair] = tuple(
                r for r in self._rules.values() if r.applies(source, destination)
            )
        if not rules:
            return PASS
        delay = 0.0
        for rule in rules:
            if rule.kind is FaultKind.DELAY:
                jitter = self._rng.uniform(-rule.jitter, rule.jitter) if rule.jitter else 0.0
                delay += max(0.0, rule.delay + jitter)
            elif rule.probability >= 1.0 or self._rng.random() < rule.probability:
                return DROPPED
        return Verdict(delay=delay) if delay else PASS


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FaultEvent:
    """One fault, injected or observed: when (cluster time), what, to whom, with which parameters."""

    time: float
    kind: FaultKind
    targets: tuple[str, ...]
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        """One line, e.g. ``2026-01-01T00:00:05.000Z partition a <-> b (rule 1)``."""
        stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.time))
            + f".{int(self.time * 1000) % 1000:03d}Z"
        )
        return f"{stamp} {self.describe()}"

    def describe(self) -> str:
        """The event without its time, e.g. ``kill kubelet/node-0``."""
        p = self.params
        if self.kind in LINK_KINDS:
            arrow = "<->" if self.kind is FaultKind.PARTITION and not p.get("one_way") else "->"
            what = f"{','.join(p.get('sources', []))} {arrow} {','.join(p.get('destinations', []))}"
            if self.kind is FaultKind.DROP:
                what += f" probability={p.get('probability', 1.0):g}"
            if self.kind is FaultKind.DELAY:
                what += f" delay={p.get('delay', 0.0):g}s jitter={p.get('jitter', 0.0):g}s"
            if "rule" in p:
                what += f" (rule {p['rule']})"
        elif self.kind is FaultKind.HEAL:
            what = f"rule {p['rule']}" if "rule" in p else "all"
        elif self.kind is FaultKind.DIED:
            what = f"{','.join(self.targets)} ({p.get('reason', '')})"
        elif self.kind is FaultKind.CRASHED:
            what = f"{','.join(self.targets)} in {p.get('where', '?')}: {p.get('error', '')}"
        else:
            what = ",".join(self.targets)
        return f"{self.kind.value} {what}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "kind": self.kind.value,
            "targets": list(self.targets),
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultEvent:
        return cls(
            time=float(data["time"]),
            kind=FaultKind(data["kind"]),
            targets=tuple(data["targets"]),
            params=dict(data.get("params", {})),
        )


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name == p or fnmatch.fnmatchcase(name, p) for p in patterns)
