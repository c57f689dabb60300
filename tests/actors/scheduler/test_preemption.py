"""DefaultPreemption: eligibility, the minimal victims on a node, the node picked, the messages, the candidate
sampling, and the two dry runs (over the columns, on the table) agreeing and leaving the table as it was."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from actors.scheduler.core import Decision, schedule_one
from actors.scheduler.plugins import (
    FilterPlugin,
    FilterResult,
    PodInfo,
    Profile,
    default_profile,
)
from actors.scheduler.preemption import (
    NodePods,
    Preemption,
    num_candidates,
    pod_start_time,
    preempt,
    terminating_by_preemption,
    victim_notice,
)
from actors.scheduler.table import NodeTable
from kube import labels
from tests.actors.scheduler.test_plugins import node, pod, table_of, taint

HOST = "kubernetes.io/hostname"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def prio(
    name: str,
    priority: int | None = None,
    *,
    cpu: str = "1",
    memory: str | None = None,
    start: str | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A pod with a priority (``None``: unset), a cpu request, optionally a start time and labels."""
    p = pod(name, cpu=cpu, memory=memory, **spec)
    if priority is not None:
        p["spec"]["priority"] = priority
    if start is not None:
        p["status"] = {"startTime": start}
    if labels:
        p["metadata"]["labels"] = dict(labels)
    return p


def hosts(*names: str, cpu: str = "4", **kwargs: Any) -> list[dict[str, Any]]:
    return [node(n, cpu=cpu, labels={HOST: n}, **kwargs) for n in names]


def cluster(
    nodes: list[dict[str, Any]], pods: list[tuple[dict[str, Any], str]]
) -> tuple[NodeTable, NodePods]:
    table = table_of(nodes)
    placed = NodePods()
    for p, where in pods:
        table.add_pod(p, where)
        placed.add(p, where)
    return table, placed


def attempt(
    spec: dict[str, Any], table: NodeTable, placed: NodePods, seed: int = 0, **kwargs: Any
) -> tuple[Decision, Preemption]:
    decision = schedule_one(spec, table, rng=random.Random(seed), profile=kwargs.get("profile"))
    return decision, preempt(spec, decision, table, placed, rng=random.Random(seed), **kwargs)


def names(result: Preemption, placed: NodePods) -> list[str]:
    out = []
    for key in result.victims:
        found = placed.get(key)
        assert found is not None
        out.append(found.pod["metadata"]["name"])
    return out


# --- victims on one node ------------------------------------------------------------------------------------

VICTIMS: list[tuple[str, str, list[dict[str, Any]], dict[str, Any], list[str]]] = [
    (
        "one lower-priority pod makes room",
        "110",
        [prio("low", 0, cpu="3"), prio("high", 1000, cpu="1")],
        prio("p", 100, cpu="2"),
        ["low"],
    ),
    (
        "the most important pods are reprieved first: higher priority, then earlier start",
        "110",
        [
            prio("old", 0, start="2024-01-01T00:00:00Z"),
            prio("new", 0, start="2024-01-02T00:00:00Z"),
            prio("mid", 5),
            prio("top", 10),
        ],
        prio("p", 100, cpu="1"),
        ["new"],
    ),
    (
        "reprieving the most important first may cost two less important victims",
        "110",
        [prio("ten", 10, cpu="1"), prio("five", 5, cpu="1"), prio("one", 1, cpu="1")],
        prio("p", 20, cpu="3"),
        ["five", "one"],
    ),
    (
        "a pod without priority counts 0, below a positive preemptor",
        "110",
        [prio("unset", None, cpu="4")],
        prio("p", 1, cpu="1"),
        ["unset"],
    ),
    (
        "a pod without startTime counts as started last",
        "110",
        [prio("started", 0, start="2024-01-01T00:00:00Z", cpu="2"), prio("pending", 0, cpu="2")],
        prio("p", 1, cpu="2"),
        ["pending"],
    ),
    (
        "the pod slot counts: too many pods",
        "2",
        [prio("a", 0, cpu="0"), prio("b", 0, cpu="0")],
        prio("p", 1, cpu="0"),
        ["b"],
    ),
]


@pytest.mark.parametrize(
    ("case", "slots", "present", "spec", "expected"), VICTIMS, ids=[c[0] for c in VICTIMS]
)
def test_minimal_victims(
    case: str, slots: str, present: list[dict[str, Any]], spec: dict[str, Any], expected: list[str]
) -> None:
    table, placed = cluster([node("n", cpu="4", pods=slots)], [(p, "n") for p in present])
    decision, result = attempt(spec, table, placed)
    assert decision.node is None
    assert result.node == "n"
    assert result.nominated_node_name == "n"
    assert names(result, placed) == expected
    # preemption found a node: the message is the cycle's, without a preemption part
    assert result.message == decision.filter_message
    assert result.post_filter_message == ""


# --- which node ---------------------------------------------------------------------------------------------

PICKS: list[tuple[str, list[tuple[dict[str, Any], str]], str]] = [
    (
        "the lowest highest-victim priority",
        [(prio("a5", 5, cpu="4"), "a"), (prio("b3", 3, cpu="4"), "b")],
        "b",
    ),
    (
        "then the smallest sum of priorities",
        [
            (prio("a3", 3, cpu="2"), "a"),
            (prio("a1", 1, cpu="2"), "a"),
            (prio("b3", 3, cpu="2"), "b"),
            (prio("b2", 2, cpu="2"), "b"),
        ],
        "a",
    ),
    (
        "negative priorities: more victims still weigh more",
        [
            (prio("a-1", -5, cpu="2"), "a"),
            (prio("a-2", -5, cpu="2"), "a"),
            (prio("b-1", -5, cpu="4"), "b"),
        ],
        "b",
    ),
    (
        "then the latest start among the highest-priority victims",
        [
            (prio("a", 0, cpu="4", start="2024-01-01T00:00:00Z"), "a"),
            (prio("b", 0, cpu="4", start="2024-03-01T00:00:00Z"), "b"),
        ],
        "b",
    ),
]


@pytest.mark.parametrize(("case", "present", "expected"), PICKS, ids=[c[0] for c in PICKS])
def test_pick_one_node(case: str, present: list[tuple[dict[str, Any], str]], expected: str) -> None:
    table, placed = cluster(hosts("a", "b"), present)
    for seed in range(6):  # whatever node the dry runs start from
        _, result = attempt(prio("p", 100, cpu="4"), table, placed, seed=seed)
        assert result.node == expected, seed
        assert result.candidates == 2


def test_a_full_tie_goes_to_the_first_candidate_from_the_seeded_offset() -> None:
    table, placed = cluster(hosts("a", "b", "c"), [(prio(f"{n}-low", 0, cpu="4"), n) for n in "abc"])
    picks = [attempt(prio("p", 1, cpu="4"), table, placed, seed=s)[1].node for s in range(30)]
    assert picks == [attempt(prio("p", 1, cpu="4"), table, placed, seed=s)[1].node for s in range(30)]
    assert set(picks) == {"a", "b", "c"}


# --- messages and eligibility -------------------------------------------------------------------------------


def test_no_lower_priority_pod_anywhere_reads_as_the_cycle_said() -> None:
    table, placed = cluster(hosts("a", "b", cpu="1"), [(prio("x", 0), "a"), (prio("y", 5), "b")])
    spec = prio("p", 0, cpu="1")
    rng = random.Random(7)
    decision = schedule_one(spec, table, rng=random.Random(7))
    before = rng.getstate()
    result = preempt(spec, decision, table, placed, rng=rng)
    assert result == Preemption(
        message=decision.message or "",
        post_filter_message=f"preemption: 0/2 nodes are available: 2 {NO_VICTIMS}.",
        nominated_node_name="",
    )
    assert rng.getstate() == before  # nothing to evict: no offset drawn


FAILURES: list[tuple[str, list[dict[str, Any]], list[tuple[dict[str, Any], str]], dict[str, Any], str]] = [
    (
        "evicting every lower-priority pod is not enough",
        hosts("a", "b", cpu="2"),
        [(prio("big", 100, cpu="2"), "a"), (prio("small", 0, cpu="1"), "b"), (prio("keep", 100), "b")],
        prio("p", 50, cpu="2"),
        "0/2 nodes are available: 2 Insufficient cpu. "
        f"preemption: 0/2 nodes are available: 1 Insufficient cpu, 1 {NO_VICTIMS}.",
    ),
    (
        "unresolvable nodes are not dry-run",
        [*hosts("a", cpu="1"), node("t", cpu="8", taints=[taint("k", "v")])],
        [(prio("same", 10), "a"), (prio("low", 0), "t")],
        prio("p", 10, cpu="2"),
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {k: v}. "
        f"preemption: 0/2 nodes are available: 1 {NO_VICTIMS}, 1 {NOT_HELPFUL}.",
    ),
    (
        "preemptionPolicy Never",
        hosts("a", cpu="1"),
        [(prio("low", 0), "a")],
        prio("p", 10, preemptionPolicy="Never"),
        "0/1 nodes are available: 1 Insufficient cpu. "
        "preemption: not eligible due to preemptionPolicy=Never.",
    ),
    (
        "several reasons on one node are each counted",
        [node("a", cpu="2", memory="1Gi")],
        [(prio("hog", 100, cpu="2"), "a"), (prio("low", 0, cpu="0"), "a")],
        prio("p", 50, cpu="1", memory="2Gi"),
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "
        "preemption: 0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
    ),
]


@pytest.mark.parametrize(
    ("case", "nodes", "present", "spec", "message"), FAILURES, ids=[c[0] for c in FAILURES]
)
def test_failure_messages(
    case: str,
    nodes: list[dict[str, Any]],
    present: list[tuple[dict[str, Any], str]],
    spec: dict[str, Any],
    message: str,
) -> None:
    table, placed = cluster(nodes, present)
    decision, result = attempt(spec, table, placed)
    assert result.node is None
    assert result.victims == ()
    assert result.message == message
    assert result.message.startswith(decision.filter_message or "?")
    never = case == "preemptionPolicy Never"
    assert result.nominated_node_name == (None if never else "")
    if never:
        assert result.message == decision.message  # the cycle already said it


def test_the_cycle_and_preemption_agree_when_nothing_can_be_evicted() -> None:
    # nodes of every kind of status; no pod of lower priority anywhere
    nodes = [
        *hosts("fit-a", "fit-b", cpu="1"),
        node("tainted", taints=[taint("k")]),
        node("cordoned", unschedulable=True),
    ]
    table, placed = cluster(nodes, [(prio("x", 5), "fit-a")])
    spec = prio("p", 5, cpu="2")
    decision, result = attempt(spec, table, placed)
    assert result.message == decision.message
    assert result.nominated_node_name == ""


def test_the_cycle_names_the_nodes_where_preemption_may_help() -> None:
    nodes = [
        node("cordoned", unschedulable=True),
        *hosts("small", cpu="1"),
        node("tainted", taints=[taint("k")]),
        *hosts("full", cpu="2"),
    ]
    table, placed = cluster(nodes, [(prio("x", 0, cpu="2"), "full")])
    decision = schedule_one(prio("p", 5, cpu="2"), table, rng=random.Random(0))
    assert decision.potential_nodes == ("small", "full")
    assert decision.filter_message == (
        "0/4 nodes are available: 1 node(s) had untolerated taint {k: }, 1 node(s) were unschedulable, "
        "2 Insufficient cpu."
    )
    assert decision.message == (
        f"{decision.filter_message} preemption: 0/4 nodes are available: 2 {NO_VICTIMS}, 2 {NOT_HELPFUL}."
    )
    result = preempt(prio("p", 5, cpu="2"), decision, table, placed, rng=random.Random(0))
    assert (result.node, names(result, placed), result.evaluated) == ("full", ["x"], 2)


def test_a_terminating_victim_on_the_nominated_node_holds_preemption_back() -> None:
    victim = prio("victim", 0, cpu="4")
    victim["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    victim["status"] = {"conditions": [victim_notice(prio("p", 10), "a").condition("2024-01-01T00:00:00Z")]}
    assert terminating_by_preemption(victim)
    table, placed = cluster(hosts("a", "b"), [(victim, "a"), (prio("other", 0, cpu="4"), "b")])
    spec = prio("p", 10, cpu="2") | {"status": {"nominatedNodeName": "a"}}
    decision, result = attempt(spec, table, placed)
    assert result.node is None
    assert result.nominated_node_name is None  # left as it is
    assert result.message == (
        f"{decision.filter_message} preemption: not eligible due to a terminating pod on the nominated node."
    )
    # a victim deleted for another reason does not hold it back
    victim["status"] = {}
    placed.add(victim, "a")
    assert not terminating_by_preemption(victim)
    assert attempt(spec, table, placed)[1].node is not None


def test_a_nominated_node_that_became_unresolvable_does_not_hold_preemption_back() -> None:
    victim = prio("victim", 0, cpu="4")
    victim["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    victim["status"] = {"conditions": [victim_notice(prio("p", 10), "a").condition("2024-01-01T00:00:00Z")]}
    nodes = [node("a", taints=[taint("k")]), *hosts("b")]
    table, placed = cluster(nodes, [(victim, "a"), (prio("other", 0, cpu="4"), "b")])
    spec = prio("p", 10, cpu="2") | {"status": {"nominatedNodeName": "a"}}
    _, result = attempt(spec, table, placed)
    assert (result.node, names(result, placed)) == ("b", ["other"])


def test_no_fit_error_no_preemption() -> None:
    table, placed = cluster(hosts("a"), [])
    decision, result = attempt(prio("p", 10), table, placed)
    assert decision.node == "a"
    assert result == Preemption(message="")
    empty = schedule_one(prio("p", 10), NodeTable(), rng=random.Random(0))
    assert preempt(prio("p", 10), empty, NodeTable(), placed, rng=random.Random(0)).message == empty.message


# --- candidates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "expected"), [(0, 0), (5, 5), (100, 100), (150, 100), (1000, 100), (2000, 200), (5000, 500)]
)
def test_num_candidates(nodes: int, expected: int) -> None:
    assert num_candidates(nodes) == expected


def test_dry_runs_stop_at_the_number_of_candidates() -> None:
    count = 250
    present = [(prio(f"low-{i}", 0, cpu="4"), f"n{i}") for i in range(count)]
    table, placed = cluster(hosts(*(f"n{i}" for i in range(count))), present)
    _, result = attempt(prio("p", 1, cpu="1"), table, placed)
    assert (result.candidates, result.evaluated) == (100, 100)
    _, result = attempt(prio("p", 1, cpu="1"), table, placed, min_candidate_nodes_absolute=10)
    assert (result.candidates, result.evaluated) == (25, 64)  # 10 % of 250; the columns go 64 nodes at a time


# --- the dry run on the table: filters that read the pods ---------------------------------------------------


def anti(**match: str) -> dict[str, Any]:
    return {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": match}, "topologyKey": HOST}
            ]
        }
    }


def snapshot(table: NodeTable, placed: NodePods, pods: list[dict[str, Any]]) -> Any:
    columns = [
        c.copy() for c in (table.req_cpu, table.req_memory, table.req_pods, table.nz_cpu, table.nz_memory)
    ]
    bookkeeping = [(table.node_of(p), table.is_assumed(p)) for p in pods]
    counts = table.count_pods(table.pod_mask(labels.EVERYTHING))
    return columns, bookkeeping, counts.tolist(), len(placed)


def test_evicting_a_pod_the_preemptor_has_anti_affinity_to() -> None:
    web = prio("web", 0, cpu="1", labels={"app": "web"})
    filler = prio("filler", 0, cpu="3")
    table, placed = cluster(hosts("a", "b"), [(web, "a"), (filler, "b")])
    spec = prio("p", 10, cpu="2", affinity=anti(app="web"))
    decision, result = attempt(spec, table, placed)
    assert decision.message is not None and "didn't match pod anti-affinity rules" in decision.message
    # a: evicting web clears the anti-affinity (1 victim of priority 0); b: evicting filler frees cpu; tie on
    # everything but the seeded order
    assert {(attempt(spec, table, placed, seed=s)[1].node) for s in range(10)} == {"a", "b"}
    assert result.node in ("a", "b")
    assert names(result, placed) == (["web"] if result.node == "a" else ["filler"])


def test_evicting_an_existing_pod_whose_anti_affinity_rejects_the_preemptor() -> None:
    loner = prio("loner", 0, cpu="0", affinity=anti(app="web"))
    keep = prio("keep", 100, cpu="0", affinity=anti(app="web"))
    table, placed = cluster(hosts("a", "b"), [(loner, "a"), (keep, "b")])
    spec = prio("p", 10, cpu="1", labels={"app": "web"})
    decision, result = attempt(spec, table, placed)
    assert (result.node, names(result, placed)) == ("a", ["loner"])
    assert decision.potential_nodes == ("a", "b")


def test_pod_affinity_misses_are_not_helped_by_preemption() -> None:
    table, placed = cluster(hosts("a"), [(prio("low", 0), "a")])
    affinity = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": HOST}
            ]
        }
    }
    _, result = attempt(prio("p", 10, affinity=affinity), table, placed)
    assert result.node is None
    assert result.post_filter_message == f"preemption: 0/1 nodes are available: 1 {NOT_HELPFUL}."


def test_the_dry_run_leaves_the_table_as_it_found_it() -> None:
    web = prio("web", 0, cpu="1", labels={"app": "web"})
    others = [prio(f"o{i}", i, cpu="1", affinity=anti(app="web")) for i in range(3)]
    table, placed = cluster(hosts("a", "b", cpu="4"), [(web, "a"), *((o, "b") for o in others)])
    assumed = prio("assumed", 1, cpu="1")
    table.assume(assumed, "a")
    placed.add(assumed, "a")
    everyone = [web, *others, assumed]
    before = snapshot(table, placed, everyone)
    spec = prio("p", 10, cpu="3", affinity=anti(app="web"))
    for seed in range(5):
        _, result = attempt(spec, table, placed, seed=seed)
        assert result.node is not None
        after = snapshot(table, placed, everyone)
        assert all(np.array_equal(x, y) for x, y in zip(before[0], after[0], strict=True))
        assert before[1:] == after[1:]
    assert table.is_assumed(assumed)


class ReadsPods(FilterPlugin):
    """Passes every node, but says it reads pods: forces the dry run on the table."""

    name = "ReadsPods"

    def filter(self, pod: PodInfo, table: NodeTable) -> FilterResult:
        return FilterResult()


def test_the_columnar_and_table_dry_runs_agree() -> None:
    base = default_profile()
    on_table = Profile(filters=(*base.filters, ReadsPods()), scores=base.scores)
    outcomes = []
    for trial in range(60):
        rng = random.Random(trial)
        nodes = hosts(*(f"n{i}" for i in range(8)), cpu="4", pods="6")
        present = []
        for i in range(40):
            start = f"2024-01-{rng.randint(1, 28):02d}T00:00:00Z" if rng.random() < 0.8 else None
            cpu = rng.choice(["0", "500m", "1", "2"])
            present.append(
                (prio(f"p{i}", rng.choice([-3, 0, 1, 5, 10]), cpu=cpu, start=start), f"n{rng.randrange(8)}")
            )
        table = table_of(nodes)
        placed = NodePods()
        for p, where in present:
            table.add_pod(p, where)
            placed.add(p, where)
        spec = prio("hi", rng.choice([0, 1, 5, 11]), cpu=rng.choice(["1", "3", "4"]))
        decision = schedule_one(spec, table, rng=random.Random(trial))
        if decision.node is not None:
            continue
        columns = preempt(spec, decision, table, placed, rng=random.Random(trial))
        rows = preempt(spec, decision, table, placed, rng=random.Random(trial), profile=on_table)
        assert columns == rows, trial
        outcomes.append(columns.node is not None)
    assert outcomes.count(True) >= 10 and outcomes.count(False) >= 5  # both kinds of outcome were compared


# --- what the actor writes ----------------------------------------------------------------------------------


def test_victim_notice_uses_upstream_words() -> None:
    preemptor = prio("p", 10) | {"metadata": {"name": "p", "namespace": "default", "uid": "1234"}}
    notice = victim_notice(preemptor, "node-1")
    assert notice.event_type == "Normal"
    assert (notice.event_reason, notice.event_action) == ("Preempted", "Preempting")
    assert notice.event_message == "Preempted by pod 1234 on node node-1"
    assert notice.condition("2024-01-01T00:00:00Z") == {
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": "2024-01-01T00:00:00Z",
        "reason": "PreemptionByScheduler",
        "message": "default-scheduler: preempting to accommodate a higher priority pod",
    }
    preemptor["spec"]["schedulerName"] = "batch"
    assert victim_notice(preemptor, "n").condition_message.startswith("batch: ")


def test_node_pods_bookkeeping() -> None:
    placed = NodePods()
    assert placed.lowest_priority() is None
    a, b = prio("a", 5), prio("b", -2)
    placed.add(a, "n1")
    placed.add(b, "n1")
    assert [p.key for p in placed.on("n1")] == ["uid-a", "uid-b"]
    assert placed.lowest_priority() == -2
    placed.add(b, "n2")  # moved
    assert [p.key for p in placed.on("n1")] == ["uid-a"]
    assert [p.node for p in placed.on("n2")] == ["n2"]
    placed.add(prio("b", 7), "n2")  # updated in place: its priority changes
    assert placed.lowest_priority() == 5
    assert placed.remove(a) and not placed.remove(a)
    assert placed.lowest_priority() == 7
    assert len(placed) == 1 and "uid-b" in placed
    assert placed.on("n1") == []


def test_start_time_parsing() -> None:
    assert pod_start_time(prio("x", start="1970-01-01T00:01:00Z")) == 60.0
    assert pod_start_time(prio("x")) == float("inf")
    assert pod_start_time(prio("x", start="yesterday")) == float("inf")
