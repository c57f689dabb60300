"""The scheduling queue: priority order, back-off 1 s doubling to 10 s, unschedulable pods parked until a
cluster event or five minutes."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from actors.scheduler.queue import SchedulingQueue

T = 1000.0


def pod(name: str, priority: int = 0) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"priority": priority}}


def names(queue: SchedulingQueue, now: float) -> list[str]:
    out = []
    while (p := queue.pop(now)) is not None:
        out.append(p["metadata"]["name"])
    return out


def test_higher_priority_first_then_first_come_first_served() -> None:
    queue = SchedulingQueue()
    queue.add(pod("a"), T)
    queue.add(pod("b", priority=10), T + 1)
    queue.add(pod("c"), T + 2)
    assert names(queue, T + 3) == ["b", "a", "c"]


def test_a_failed_binding_backs_off_one_second_then_two_up_to_ten() -> None:
    queue = SchedulingQueue()
    queue.add(pod("a"), T)
    waits = []
    now = T
    for _ in range(6):
        popped = queue.pop(now)
        assert popped is not None
        queue.failed(popped, now, unschedulable=False)
        wakeup = queue.next_wakeup()
        assert wakeup is not None
        assert queue.pop(wakeup - 0.001) is None
        waits.append(wakeup - now)
        now = wakeup
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_an_unschedulable_pod_waits_for_a_cluster_event_or_five_minutes() -> None:
    queue = SchedulingQueue()
    queue.add(pod("a"), T)
    popped = queue.pop(T)
    assert popped is not None
    queue.failed(popped, T, unschedulable=True)
    assert queue.counts()["unschedulable"] == 1
    assert queue.pop(T + 100) is None
    queue.move_all(T + 100)  # a node was added: back to active (its 1 s back-off is over)
    assert names(queue, T + 100) == ["a"]
    queue.failed(pod("a"), T + 100, unschedulable=True)
    assert queue.next_wakeup() == T + 400
    assert names(queue, T + 400) == ["a"]


def test_an_event_during_back_off_waits_out_the_back_off_and_deleted_pods_vanish() -> None:
    queue = SchedulingQueue()
    queue.add(pod("a"), T)
    queue.add(pod("b"), T)
    for _ in range(2):
        popped = queue.pop(T)
        assert popped is not None
        queue.failed(popped, T, unschedulable=True)
    queue.move_all(T + 0.5)
    assert queue.counts()["backoff"] == 2 and queue.pop(T + 0.5) is None
    queue.delete("default/b")
    assert names(queue, T + 1) == ["a"] and len(queue) == 1
    queue.done(pod("a"))
    assert len(queue) == 0 and queue.next_wakeup() is None


def test_counts_follow_every_move() -> None:
    rng = random.Random(2)
    queue = SchedulingQueue()
    now = T
    for step in range(2000):
        now += rng.choice([0.0, 0.5, 3.0])
        action = rng.randrange(6)
        name = f"p{rng.randrange(40)}"
        if action == 0:
            queue.add(pod(name, priority=rng.randrange(3)), now)
        elif action == 1:
            queue.delete(f"default/{name}")
        elif action == 2 and (popped := queue.pop(now)) is not None:
            queue.failed(popped, now, unschedulable=rng.random() < 0.5)
        elif action == 3 and (popped := queue.pop(now)) is not None:
            queue.done(popped)
        elif action == 4:
            queue.move_all(now)
        else:
            queue.pop(now)
        recount = Counter(entry.where for entry in queue._entries.values())
        assert queue.counts() == {where: recount[where] for where in queue.counts()}, step
        assert sum(queue.counts().values()) == len(queue)
