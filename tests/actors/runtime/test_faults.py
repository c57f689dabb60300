"""The link table: which rule applies to which message, and what it decides."""

from __future__ import annotations

import random

import pytest

from actors.runtime.faults import DROPPED, PASS, FaultEvent, FaultKind, LinkRule, LinkTable


def rule(kind: FaultKind, src: tuple[str, ...], dst: tuple[str, ...], **extra: object) -> LinkRule:
    return LinkRule(id=1, kind=kind, sources=src, destinations=dst, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("link", "source", "destination", "cut"),
    [
        (rule(FaultKind.PARTITION, ("a",), ("b",)), "a", "b", True),
        (rule(FaultKind.PARTITION, ("a",), ("b",)), "b", "a", True),
        (rule(FaultKind.PARTITION, ("a",), ("b",), one_way=True), "b", "a", False),
        (rule(FaultKind.PARTITION, ("a",), ("b",)), "a", "c", False),
        (rule(FaultKind.PARTITION, ("kubelet/*",), ("apiserver",)), "kubelet/node-9", "apiserver", True),
        (rule(FaultKind.PARTITION, ("store-0",), ("*",)), "driver", "store-0", True),
        (rule(FaultKind.DROP, ("a",), ("b",)), "b", "a", False),
    ],
    ids=["a-to-b", "b-to-a", "one-way-back", "bystander", "pattern", "star-has-driver", "drop-is-one-way"],
)
def test_which_messages_a_rule_cuts(link: LinkRule, source: str, destination: str, cut: bool) -> None:
    table = LinkTable(random.Random(0))
    table.add(link)
    assert (table.verdict(source, destination) is DROPPED) is cut


def test_delays_add_up_and_jitter_stays_within_bounds() -> None:
    table = LinkTable(random.Random(0))
    table.add(
        LinkRule(id=1, kind=FaultKind.DELAY, sources=("a",), destinations=("b",), delay=0.2, jitter=0.05)
    )
    table.add(LinkRule(id=2, kind=FaultKind.DELAY, sources=("*",), destinations=("b",), delay=0.1))
    delays = [table.verdict("a", "b").delay for _ in range(200)]
    assert all(0.25 - 1e-9 <= d <= 0.35 + 1e-9 for d in delays)
    assert len(set(delays)) > 100


def test_removing_the_last_rule_lets_everything_pass() -> None:
    table = LinkTable(random.Random(0))
    table.add(rule(FaultKind.PARTITION, ("a",), ("b",)))
    assert table.verdict("a", "b") is DROPPED
    assert table.remove(1) and not table.remove(1)
    assert table.verdict("a", "b") is PASS


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"probability": 1.5}, "probability must be within"),
        ({"delay": -1.0}, "must not be negative"),
    ],
    ids=["probability", "negative-delay"],
)
def test_bad_rules_are_refused(extra: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LinkRule(id=1, kind=FaultKind.DROP, sources=("a",), destinations=("b",), **extra)  # type: ignore[arg-type]


def test_an_event_prints_and_survives_a_dict_round_trip() -> None:
    params = {"sources": ["a"], "destinations": ["b"], "delay": 0.2, "rule": 4}
    event = FaultEvent(time=1_767_225_612.5, kind=FaultKind.DELAY, targets=("a", "b"), params=params)
    assert str(event) == "2026-01-01T00:00:12.500Z delay a -> b delay=0.2s jitter=0s (rule 4)"
    assert FaultEvent.from_dict(event.to_dict()) == event
