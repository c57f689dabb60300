"""Indexed Jobs' completion indexes (upstream's ``pkg/controller/job/indexed_job_utils.go``).

A pod of an Indexed Job carries its index in the ``batch.kubernetes.io/job-completion-index`` annotation;
``status.completedIndexes`` lists the succeeded ones as compressed intervals (``"0-2,5"``, and ``"0,1"`` for
two neighbours, as upstream prints them). Here those intervals are ``Intervals``: sorted, disjoint,
non-adjacent ``(first, last)`` runs. Pure functions over plain data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kube import meta

Obj = dict[str, Any]

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"

Intervals = list[tuple[int, int]]  # sorted, disjoint, non-adjacent [first, last] runs of indexes


def completion_index(pod: Obj) -> int:
    """The pod's completion index, or -1 when it has none (or a malformed one)."""
    text = meta.annotations_of(pod).get(COMPLETION_INDEX)
    return int(text) if text is not None and text.isdigit() else -1


def parse_intervals(text: str, completions: int) -> Intervals:
    """``status.completedIndexes`` as intervals, dropping indexes at or past ``completions``."""
    result: Intervals = []
    for part in text.split(",") if text else ():
        first_text, _, last_text = part.partition("-")
        if not first_text.isdigit() or (last_text and not last_text.isdigit()):
            continue  # corrupted: ignored, as upstream
        first = int(first_text)
        if first >= completions:
            break
        last = min(int(last_text), completions - 1) if last_text else first
        if result and result[-1][1] == first - 1:
            result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def with_indexes(intervals: Intervals, indexes: Iterable[int]) -> Intervals:
    """The union of ``intervals`` and ``indexes``, merged."""
    runs = sorted([*intervals, *((i, i) for i in indexes)])
    merged: Intervals = []
    for first, last in runs:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def intervals_text(intervals: Intervals) -> str:
    return ",".join(str(a) if a == b else f"{a},{b}" if b == a + 1 else f"{a}-{b}" for a, b in intervals)


def intervals_total(intervals: Intervals) -> int:
    return sum(b - a + 1 for a, b in intervals)


def has_index(intervals: Intervals, index: int) -> bool:
    return any(a <= index <= b for a, b in intervals)


def first_pending_indexes(active: list[Obj], done: Intervals, count: int, completions: int) -> list[int]:
    """The ``count`` lowest indexes below ``completions`` neither succeeded nor held by an active pod."""
    taken = with_indexes(done, (i for i in map(completion_index, active) if i >= 0))
    result: list[int] = []
    candidate = 0
    for first, last in [*taken, (completions, completions)]:
        while candidate < min(first, completions) and len(result) < count:
            result.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    return result
