"""Each plugin's filter and score as tables of (pod, nodes, expected), in upstream's words and arithmetic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from actors.scheduler.plugins import (
    DEFAULT_WEIGHTS,
    ERR_REASON_AFFINITY_CONFLICT,
    ERR_REASON_CPU,
    ERR_REASON_EPHEMERAL,
    ERR_REASON_MEMORY,
    ERR_REASON_NODE_AFFINITY,
    ERR_REASON_NODE_NAME,
    ERR_REASON_TOO_MANY_PODS,
    ERR_REASON_UNSCHEDULABLE,
    MOST_ALLOCATED,
    FilterPlugin,
    NodeAffinity,
    NodeName,
    NodeResourcesBalancedAllocation,
    NodeResourcesFit,
    NodeUnschedulable,
    PodInfo,
    ScorePlugin,
    TaintToleration,
    Toleration,
    default_normalize,
    default_profile,
    untolerated_taint_reason,
)
from actors.scheduler.table import NodeTable

Mi = 1024 * 1024
Gi = 1024 * Mi


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    storage: str = "100Gi",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": spec,
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": storage}},
    }


def pod(
    name: str = "p",
    *,
    cpu: str | None = None,
    memory: str | None = None,
    storage: str | None = None,
    uid: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    requests = {
        k: v for k, v in (("cpu", cpu), ("memory", memory), ("ephemeral-storage", storage)) if v is not None
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "resources": {"requests": requests}}],
            **spec,
        },
    }


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


def table_of(nodes: list[dict[str, Any]], pods: list[tuple[dict[str, Any], str]] | None = None) -> NodeTable:
    table = NodeTable(capacity=4)
    for n in nodes:
        table.upsert_node(n)
    for p, where in pods or ():
        table.add_pod(p, where)
    return table


def verdicts(plugin: FilterPlugin, spec: dict[str, Any], table: NodeTable) -> list[tuple[str, ...]]:
    """Per node, in table order: the reasons it is rejected for, ``()`` if it passes (PreFilter honoured)."""
    info = PodInfo.from_pod(spec)
    pre = plugin.pre_filter(info, table)
    rows = table.rows()
    if pre.skip:
        return [()] * len(rows)
    return plugin.filter(info, table).reasons_at(list(rows))


def scores(plugin: ScorePlugin, spec: dict[str, Any], table: NodeTable) -> list[int] | None:
    result = plugin.score(PodInfo.from_pod(spec), table, table.rows())
    return None if result is None else [int(x) for x in result]


NONE: tuple[str, ...] = ()

# --- NodeUnschedulable -------------------------------------------------------------------------------------

UNSCHEDULABLE_NODES = [node("a"), node("b", unschedulable=True)]
UNSCHEDULABLE = [
    ("no toleration", pod(), [NONE, (ERR_REASON_UNSCHEDULABLE,)]),
    (
        "tolerates the unschedulable taint",
        pod(
            tolerations=[
                {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
            ]
        ),
        [NONE, NONE],
    ),
    ("tolerates everything", pod(tolerations=[{"operator": "Exists"}]), [NONE, NONE]),
    (
        "a NoExecute toleration does not do",
        pod(
            tolerations=[
                {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}
            ]
        ),
        [NONE, (ERR_REASON_UNSCHEDULABLE,)],
    ),
    (
        "Equal with the empty value tolerates it",
        pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
        [NONE, NONE],
    ),
]


@pytest.mark.parametrize(("case", "spec", "expected"), UNSCHEDULABLE, ids=[c[0] for c in UNSCHEDULABLE])
def test_node_unschedulable(case: str, spec: dict[str, Any], expected: list[tuple[str, ...]]) -> None:
    assert verdicts(NodeUnschedulable(), spec, table_of(UNSCHEDULABLE_NODES)) == expected


# --- NodeName ----------------------------------------------------------------------------------------------

NAMED_NODES = [node("a"), node("b"), node("c")]
NODE_NAME = [
    ("no nodeName", pod(), [NONE, NONE, NONE]),
    ("nodeName b", pod(nodeName="b"), [(ERR_REASON_NODE_NAME,), NONE, (ERR_REASON_NODE_NAME,)]),
    ("an unknown node", pod(nodeName="zz"), [(ERR_REASON_NODE_NAME,)] * 3),
]


@pytest.mark.parametrize(("case", "spec", "expected"), NODE_NAME, ids=[c[0] for c in NODE_NAME])
def test_node_name(case: str, spec: dict[str, Any], expected: list[tuple[str, ...]]) -> None:
    assert verdicts(NodeName(), spec, table_of(NAMED_NODES)) == expected


# --- NodeResourcesFit: Filter ------------------------------------------------------------------------------

FIT_NODES = [
    node("big", cpu="4", memory="8Gi", pods="110"),
    node("small", cpu="1", memory="1Gi", pods="110", storage="1Gi"),
    node("one-pod", cpu="4", memory="8Gi", pods="1"),
]
FIT_PODS = [(pod("existing", cpu="500m", memory="512Mi"), "one-pod"), (pod("used", cpu="500m"), "small")]
FIT = [
    ("fits everywhere it can", pod(cpu="100m", memory="100Mi"), [NONE, NONE, (ERR_REASON_TOO_MANY_PODS,)]),
    ("exactly the free cpu fits", pod(cpu="500m"), [NONE, NONE, (ERR_REASON_TOO_MANY_PODS,)]),
    ("one millicore more does not", pod(cpu="501m"), [NONE, (ERR_REASON_CPU,), (ERR_REASON_TOO_MANY_PODS,)]),
    (
        "every reason, in upstream's order",
        pod(cpu="2", memory="2Gi", storage="2Gi"),
        [NONE, (ERR_REASON_CPU, ERR_REASON_MEMORY, ERR_REASON_EPHEMERAL), (ERR_REASON_TOO_MANY_PODS,)],
    ),
    (
        "too many pods comes first",
        pod(cpu="8", memory="16Gi"),
        [
            (ERR_REASON_CPU, ERR_REASON_MEMORY),
            (ERR_REASON_CPU, ERR_REASON_MEMORY),
            (ERR_REASON_TOO_MANY_PODS, ERR_REASON_CPU, ERR_REASON_MEMORY),
        ],
    ),
    ("no requests: only the pod count", pod(), [NONE, NONE, (ERR_REASON_TOO_MANY_PODS,)]),
]


@pytest.mark.parametrize(("case", "spec", "expected"), FIT, ids=[c[0] for c in FIT])
def test_node_resources_fit_filter(case: str, spec: dict[str, Any], expected: list[tuple[str, ...]]) -> None:
    assert verdicts(NodeResourcesFit(), spec, table_of(FIT_NODES, FIT_PODS)) == expected


def test_fit_does_not_check_a_resource_the_pod_does_not_request() -> None:
    # the node is over-committed on cpu (its allocatable shrank), but this pod asks for memory only
    table = table_of([node("n", cpu="1")], [(pod("hog", cpu="2"), "n")])
    assert verdicts(NodeResourcesFit(), pod(memory="1Gi"), table) == [NONE]
    assert verdicts(NodeResourcesFit(), pod(cpu="1m"), table) == [(ERR_REASON_CPU,)]


# --- NodeAffinity: Filter ----------------------------------------------------------------------------------

AFFINITY_NODES = [
    node("n1", labels={"zone": "a", "disk": "ssd", "gen": "3"}),
    node("n2", labels={"zone": "b", "gen": "5"}),
    node("n3", labels={"zone": "c", "gen": "x"}),
    node("n4"),
]
NO = (ERR_REASON_NODE_AFFINITY,)


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    }


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        e["values"] = list(values)
    return e


AFFINITY = [
    ("nothing asked", pod(), [NONE, NONE, NONE, NONE]),
    ("nodeSelector", pod(nodeSelector={"zone": "b"}), [NO, NONE, NO, NO]),
    ("nodeSelector, all pairs", pod(nodeSelector={"zone": "a", "disk": "ssd"}), [NONE, NO, NO, NO]),
    ("an empty nodeSelector", pod(nodeSelector={}), [NONE, NONE, NONE, NONE]),
    (
        "In",
        pod(affinity=required({"matchExpressions": [expr("zone", "In", "a", "c")]})),
        [NONE, NO, NONE, NO],
    ),
    (
        "NotIn passes a node without the label",
        pod(affinity=required({"matchExpressions": [expr("zone", "NotIn", "a")]})),
        [NO, NONE, NONE, NONE],
    ),
    ("Exists", pod(affinity=required({"matchExpressions": [expr("disk", "Exists")]})), [NONE, NO, NO, NO]),
    (
        "DoesNotExist",
        pod(affinity=required({"matchExpressions": [expr("disk", "DoesNotExist")]})),
        [NO, NONE, NONE, NONE],
    ),
    (
        "Gt compares integers; a value that is not one never matches",
        pod(affinity=required({"matchExpressions": [expr("gen", "Gt", "4")]})),
        [NO, NONE, NO, NO],
    ),
    ("Lt", pod(affinity=required({"matchExpressions": [expr("gen", "Lt", "4")]})), [NONE, NO, NO, NO]),
    (
        "expressions are ANDed",
        pod(affinity=required({"matchExpressions": [expr("zone", "In", "a", "b"), expr("gen", "Gt", "4")]})),
        [NO, NONE, NO, NO],
    ),
    (
        "terms are ORed",
        pod(
            affinity=required(
                {"matchExpressions": [expr("zone", "In", "a")]},
                {"matchExpressions": [expr("zone", "In", "c")]},
            )
        ),
        [NONE, NO, NONE, NO],
    ),
    (
        "nodeSelector and affinity must both match",
        pod(nodeSelector={"zone": "a"}, affinity=required({"matchExpressions": [expr("zone", "In", "b")]})),
        [NO, NO, NO, NO],
    ),
    (
        "matchFields on metadata.name",
        pod(affinity=required({"matchFields": [expr("metadata.name", "In", "n3")]})),
        [NO, NO, NONE, NO],
    ),
    (
        "matchFields NotIn",
        pod(affinity=required({"matchFields": [expr("metadata.name", "NotIn", "n3")]})),
        [NONE, NONE, NO, NONE],
    ),
    (
        "matchFields and matchExpressions are ANDed",
        pod(
            affinity=required(
                {
                    "matchExpressions": [expr("zone", "In", "a", "b")],
                    "matchFields": [expr("metadata.name", "NotIn", "n1")],
                }
            )
        ),
        [NO, NONE, NO, NO],
    ),
    (
        "an invalid term never matches, the others still do",
        pod(
            affinity=required(
                {"matchExpressions": [expr("gen", "Gt", "three")]},
                {"matchExpressions": [expr("zone", "In", "b")]},
            )
        ),
        [NO, NONE, NO, NO],
    ),
    (
        "an unknown operator makes the term invalid",
        pod(affinity=required({"matchExpressions": [expr("zone", "Equals", "a")]})),
        [NO, NO, NO, NO],
    ),
    (
        "matchFields In takes exactly one value",
        pod(affinity=required({"matchFields": [expr("metadata.name", "In", "n1", "n2")]})),
        [NO, NO, NO, NO],
    ),
    ("empty terms select nothing", pod(affinity=required({})), [NO, NO, NO, NO]),
    ("no terms select nothing", pod(affinity=required()), [NO, NO, NO, NO]),
]


@pytest.mark.parametrize(("case", "spec", "expected"), AFFINITY, ids=[c[0] for c in AFFINITY])
def test_node_affinity_filter(case: str, spec: dict[str, Any], expected: list[tuple[str, ...]]) -> None:
    assert verdicts(NodeAffinity(), spec, table_of(AFFINITY_NODES)) == expected


PREFILTER = [
    ("no affinity: skipped", pod(), True, None, None),
    ("nodeSelector only: all nodes", pod(nodeSelector={"zone": "a"}), False, None, None),
    (
        "every term names nodes: their union",
        pod(
            affinity=required(
                {"matchFields": [expr("metadata.name", "In", "n1")]},
                {"matchFields": [expr("metadata.name", "In", "n2")]},
            )
        ),
        False,
        frozenset({"n1", "n2"}),
        None,
    ),
    (
        "a term without names lets every node through",
        pod(
            affinity=required(
                {"matchFields": [expr("metadata.name", "In", "n1")]},
                {"matchExpressions": [expr("zone", "Exists")]},
            )
        ),
        False,
        None,
        None,
    ),
    (
        "names within a term intersect",
        pod(
            affinity=required(
                {"matchFields": [expr("metadata.name", "In", "n1"), expr("metadata.name", "In", "n2")]}
            )
        ),
        False,
        None,
        ERR_REASON_AFFINITY_CONFLICT,
    ),
]


@pytest.mark.parametrize(
    ("case", "spec", "skip", "names", "rejection"), PREFILTER, ids=[c[0] for c in PREFILTER]
)
def test_node_affinity_prefilter(
    case: str, spec: dict[str, Any], skip: bool, names: frozenset[str] | None, rejection: str | None
) -> None:
    result = NodeAffinity().pre_filter(PodInfo.from_pod(spec), table_of(AFFINITY_NODES))
    assert (result.skip, result.node_names, result.rejection) == (skip, names, rejection)


# --- TaintToleration: Filter -------------------------------------------------------------------------------

TAINT_NODES = [
    node("clean"),
    node("ns", taints=[taint("dedicated", "gpu", "NoSchedule")]),
    node("ne", taints=[taint("evict", "", "NoExecute")]),
    node("pref", taints=[taint("soft", "x", "PreferNoSchedule")]),
    node("two", taints=[taint("soft", "x", "PreferNoSchedule"), taint("b", "2"), taint("a", "1")]),
]
GPU = (untolerated_taint_reason("dedicated", "gpu"),)
EVICT = (untolerated_taint_reason("evict", ""),)
B2 = (untolerated_taint_reason("b", "2"),)
TAINTS = [
    ("no tolerations", pod(), [NONE, GPU, EVICT, NONE, B2]),
    (
        "Equal with the value",
        pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]),
        [NONE, NONE, EVICT, NONE, B2],
    ),
    (
        "Equal with another value",
        pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "cpu", "effect": "NoSchedule"}]),
        [NONE, GPU, EVICT, NONE, B2],
    ),
    (
        "an empty operator is Equal",
        pod(tolerations=[{"key": "dedicated", "value": "gpu"}]),
        [NONE, NONE, EVICT, NONE, B2],
    ),
    (
        "Exists with the key, any effect",
        pod(tolerations=[{"key": "evict", "operator": "Exists"}]),
        [NONE, GPU, NONE, NONE, B2],
    ),
    (
        "the effect must match",
        pod(tolerations=[{"key": "evict", "operator": "Exists", "effect": "NoSchedule"}]),
        [NONE, GPU, EVICT, NONE, B2],
    ),
    ("an empty key with Exists tolerates everything", pod(tolerations=[{"operator": "Exists"}]), [NONE] * 5),
    (
        "the first untolerated taint is named",
        pod(tolerations=[{"key": "b", "operator": "Exists"}]),
        [NONE, GPU, EVICT, NONE, (untolerated_taint_reason("a", "1"),)],
    ),
]


@pytest.mark.parametrize(("case", "spec", "expected"), TAINTS, ids=[c[0] for c in TAINTS])
def test_taint_toleration_filter(case: str, spec: dict[str, Any], expected: list[tuple[str, ...]]) -> None:
    assert verdicts(TaintToleration(), spec, table_of(TAINT_NODES)) == expected


def test_taint_reason_wording() -> None:
    assert untolerated_taint_reason("node.kubernetes.io/not-ready", "") == (
        "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    )


TOLERATES = [
    (Toleration(key="k", operator="Equal", value="v", effect="NoSchedule"), ("k", "v", "NoSchedule"), True),
    (Toleration(key="k", operator="Equal", value="v"), ("k", "v", "NoExecute"), True),
    (Toleration(key="k", operator="Equal", value="v"), ("k", "w", "NoExecute"), False),
    (Toleration(key="k", operator="Exists"), ("k", "w", "PreferNoSchedule"), True),
    (Toleration(key="j", operator="Exists"), ("k", "w", "NoSchedule"), False),
    (Toleration(operator="Exists"), ("k", "w", "NoSchedule"), True),
    (Toleration(operator="Exists", effect="NoSchedule"), ("k", "w", "NoExecute"), False),
    (Toleration(key="k", operator="Gt", value="1"), ("k", "2", "NoSchedule"), False),
]


@pytest.mark.parametrize(("toleration", "taint_", "expected"), TOLERATES)
def test_toleration_matching(toleration: Toleration, taint_: tuple[str, str, str], expected: bool) -> None:
    assert toleration.tolerates(*taint_) is expected


# --- scores ------------------------------------------------------------------------------------------------

SCORE_NODES = [
    node("a", cpu="4", memory="8Gi"),
    node("b", cpu="2", memory="4Gi"),
    node("c", cpu="1", memory="1000Mi"),
]
# (case, pod, LeastAllocated, MostAllocated)
FIT_SCORES = [
    # a: cpu (3000*100)//4000 = 75, memory 75; b: 50 and 50; c: the pod overflows it: 0 (least), 100 (most)
    ("1 cpu 2Gi", pod(cpu="1", memory="2Gi"), [75, 50, 0], [25, 50, 100]),
    # no requests: 100m and 200Mi count; c: cpu 900*100//1000 = 90, memory 800*100//1000 = 80 -> (90+80)//2
    ("no requests", pod(), [97, 95, 85], [2, 4, 15]),
    # memory defaults to 200Mi. a: cpu 87, memory 97 -> 92; b: 75, 95 -> 85; c: 50, 80 -> 65
    # most: a: 12, 2 -> 7; b: 25, 4 -> 14; c: 50, 20 -> 35 (integer division throughout)
    ("500m", pod(cpu="500m"), [92, 85, 65], [7, 14, 35]),
]


@pytest.mark.parametrize(("case", "spec", "least", "most"), FIT_SCORES, ids=[c[0] for c in FIT_SCORES])
def test_node_resources_fit_score(case: str, spec: dict[str, Any], least: list[int], most: list[int]) -> None:
    table = table_of(SCORE_NODES)
    assert scores(NodeResourcesFit(), spec, table) == least
    assert scores(NodeResourcesFit(MOST_ALLOCATED), spec, table) == most


def test_fit_score_counts_what_is_already_requested() -> None:
    # a pod without requests already on "a" counts 100m and 200Mi there
    table = table_of(SCORE_NODES, [(pod("idle"), "a")])
    # a: cpu (4000-100-1000)*100//4000 = 72, memory (8192-200-2048)*100//8192 = 72
    assert scores(NodeResourcesFit(), pod(cpu="1", memory="2Gi"), table) == [72, 50, 0]


def test_fit_score_skips_a_resource_a_node_has_none_of() -> None:
    table = table_of([node("no-cpu", cpu="0", memory="8Gi")])
    assert scores(NodeResourcesFit(), pod(memory="2Gi"), table) == [75]


BALANCED = [
    # fractions 0.25 and 0.125: std 0.0625 -> int((1 - 0.0625) * 100) = 93
    ("1 cpu 1Gi on a", [node("a", cpu="4", memory="8Gi")], [], pod(cpu="1", memory="1Gi"), [93]),
    ("no requests: perfectly balanced", [node("a")], [], pod(), [100]),
    # cpu 1.0, memory 0: std 0.5
    ("all cpu", [node("a", cpu="1", memory="1Gi")], [], pod(cpu="1"), [50]),
    # fractions clip at 1
    ("over-committed", [node("a", cpu="1", memory="1Gi")], [], pod(cpu="4"), [50]),
    # plain requests, not the non-zero ones: the idle pod counts nothing
    (
        "existing pods",
        [node("a", cpu="4", memory="8Gi")],
        [(pod("x", cpu="1"), "a"), (pod("idle"), "a")],
        pod(memory="2Gi"),
        [100],
    ),
    # 0.3 / 0.1 -> std 0.1 -> int(90.00000000000001) = 90, with float64 arithmetic as upstream
    ("float arithmetic", [node("a", cpu="10", memory="10Gi")], [], pod(cpu="3", memory="1Gi"), [90]),
]


@pytest.mark.parametrize(
    ("case", "nodes", "pods", "spec", "expected"), BALANCED, ids=[c[0] for c in BALANCED]
)
def test_balanced_allocation(
    case: str,
    nodes: list[dict[str, Any]],
    pods: list[tuple[dict[str, Any], str]],
    spec: dict[str, Any],
    expected: list[int],
) -> None:
    assert scores(NodeResourcesBalancedAllocation(), spec, table_of(nodes, pods)) == expected


BALANCED_3 = [
    # fractions .25 each: std 0
    ("even", pod(cpu="1", memory="2Gi", storage="25Gi"), [100]),
    # .5, .25, 0: mean .25, std sqrt(.125 / 3) = .2041 -> 79
    ("three fractions", pod(cpu="2", memory="2Gi"), [79]),
]


@pytest.mark.parametrize(("case", "spec", "expected"), BALANCED_3, ids=[c[0] for c in BALANCED_3])
def test_balanced_allocation_over_three_resources(
    case: str, spec: dict[str, Any], expected: list[int]
) -> None:
    plugin = NodeResourcesBalancedAllocation(("cpu", "memory", "ephemeral-storage"))
    assert scores(plugin, spec, table_of([node("a", cpu="4", memory="8Gi", storage="100Gi")])) == expected


def test_balanced_allocation_with_a_resource_a_node_lacks() -> None:
    # no ephemeral storage on the node: two fractions remain, .5 and .25 -> std .125 -> 87
    plugin = NodeResourcesBalancedAllocation(("cpu", "memory", "ephemeral-storage"))
    table = table_of([node("a", cpu="4", memory="8Gi", storage="0")])
    assert scores(plugin, pod(cpu="2", memory="2Gi", storage="1Gi"), table) == [87]


def test_resource_scores_are_the_same_with_a_node_lacking_a_resource_among_the_rows() -> None:
    # rows that all have cpu and memory take a shorter path than rows with one lacking them: same scores
    nodes = [node(f"n{i}", cpu=str(1 + i % 4), memory=f"{1 + i % 3}Gi") for i in range(12)]
    table = table_of(
        [*nodes, node("bare", cpu="0", memory="0")], [(pod(f"x{i}", cpu="300m"), f"n{i}") for i in range(5)]
    )
    rows = table.rows()
    present = rows[:-1]
    plugins: list[ScorePlugin] = [
        NodeResourcesFit(),
        NodeResourcesFit(MOST_ALLOCATED),
        NodeResourcesFit(resources=(("cpu", 3), ("memory", 2))),
        NodeResourcesBalancedAllocation(),
    ]
    for spec in (pod(cpu="500m", memory="512Mi"), pod(), pod(cpu="3")):
        info = PodInfo.from_pod(spec)
        for plugin in plugins:
            alone = plugin.score(info, table, present)
            among = plugin.score(info, table, rows)
            assert alone is not None and among is not None
            assert alone.tolist() == among[:-1].tolist(), plugin.name


def test_filter_rows_agrees_with_filter() -> None:
    nodes = [
        node(
            f"n{i}",
            cpu=str(1 + i % 3),
            pods=str(1 + i % 2),
            unschedulable=i % 5 == 0,
            taints=[taint("t")] * (i % 4 == 0),
        )
        for i in range(20)
    ]
    table = table_of(nodes, [(pod(f"x{i}", cpu="600m"), f"n{i}") for i in range(0, 20, 3)])
    table.remove_node("n7")
    specs = [
        pod(cpu="1"),
        pod(nodeName="n4"),
        pod(nodeName="gone"),
        pod(tolerations=[{"operator": "Exists"}]),
    ]
    plugins: list[FilterPlugin] = [NodeUnschedulable(), NodeName(), TaintToleration(), NodeResourcesFit()]
    for spec in specs:
        info = PodInfo.from_pod(spec)
        for plugin in plugins:
            assert plugin.judges_rows
            whole = plugin.filter(info, table).failed
            for rows in (table.rows(), table.rows()[3:9], slice(2, 11)):
                part = plugin.filter_rows(info, table, rows)
                expected = None if whole is None else whole[rows].tolist()
                assert (None if part is None else part.tolist()) == expected, plugin.name


def test_only_cpu_memory_and_ephemeral_storage_are_scored() -> None:
    with pytest.raises(ValueError, match=r"nvidia\.com/gpu"):
        NodeResourcesBalancedAllocation(("cpu", "nvidia.com/gpu"))
    with pytest.raises(ValueError, match=r"nvidia\.com/gpu"):
        NodeResourcesFit(resources=(("nvidia.com/gpu", 1),))


PREFER_NODES = [
    node("zero"),
    node("one", taints=[taint("a", "1", "PreferNoSchedule")]),
    node("two", taints=[taint("a", "1", "PreferNoSchedule"), taint("b", "2", "PreferNoSchedule")]),
    node("hard", taints=[taint("c", "3", "NoSchedule")]),
]
TAINT_SCORES = [
    ("fewer intolerable taints score higher", pod(), [100, 50, 0, 100]),
    (
        "a tolerated taint does not count",
        pod(tolerations=[{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}]),
        [100, 100, 0, 100],
    ),
    (
        "an empty effect tolerates it too",
        pod(tolerations=[{"key": "b", "operator": "Exists"}]),
        [100, 0, 0, 100],
    ),
    (
        "a NoSchedule toleration does not",
        pod(tolerations=[{"key": "a", "operator": "Exists", "effect": "NoSchedule"}]),
        [100, 50, 0, 100],
    ),
    ("all tolerated: all 100", pod(tolerations=[{"operator": "Exists"}]), [100, 100, 100, 100]),
]


@pytest.mark.parametrize(("case", "spec", "expected"), TAINT_SCORES, ids=[c[0] for c in TAINT_SCORES])
def test_taint_toleration_score(case: str, spec: dict[str, Any], expected: list[int]) -> None:
    assert scores(TaintToleration(), spec, table_of(PREFER_NODES)) == expected


def preferred(*terms: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    entries = [{"weight": w, "preference": t} for w, t in terms]
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": entries}}


AFFINITY_SCORES = [
    ("no preferences: skipped", pod(), None),
    # raw 2+8, 2, 0, 0 -> normalised by 10
    (
        "weights sum and normalise",
        pod(
            affinity=preferred(
                (2, {"matchExpressions": [expr("zone", "In", "a", "b")]}),
                (8, {"matchExpressions": [expr("disk", "In", "ssd")]}),
            )
        ),
        [100, 20, 0, 0],
    ),
    (
        "integer division",
        pod(
            affinity=preferred(
                (3, {"matchExpressions": [expr("zone", "In", "a")]}),
                (1, {"matchExpressions": [expr("zone", "In", "b")]}),
            )
        ),
        [100, 33, 0, 0],
    ),
    (
        "nothing matches: all 0",
        pod(affinity=preferred((5, {"matchExpressions": [expr("zone", "In", "q")]}))),
        [0, 0, 0, 0],
    ),
    (
        "weight 0, empty and invalid terms are ignored",
        pod(
            affinity=preferred(
                (0, {"matchExpressions": [expr("zone", "In", "a")]}),
                (7, {}),
                (9, {"matchExpressions": [expr("gen", "Gt", "x")]}),
                (1, {"matchFields": [expr("metadata.name", "In", "n2")]}),
            )
        ),
        [0, 100, 0, 0],
    ),
]


@pytest.mark.parametrize(("case", "spec", "expected"), AFFINITY_SCORES, ids=[c[0] for c in AFFINITY_SCORES])
def test_node_affinity_score(case: str, spec: dict[str, Any], expected: list[int] | None) -> None:
    assert scores(NodeAffinity(), spec, table_of(AFFINITY_NODES)) == expected


NORMALIZE = [
    ([0, 5, 10], False, [0, 50, 100]),
    ([0, 5, 10], True, [100, 50, 0]),
    ([1, 2, 3], False, [33, 66, 100]),
    ([0, 0], False, [0, 0]),
    ([0, 0], True, [100, 100]),
    ([], True, []),
]


@pytest.mark.parametrize(("raw", "reverse", "expected"), NORMALIZE)
def test_default_normalize(raw: list[int], reverse: bool, expected: list[int]) -> None:
    assert default_normalize(np.array(raw, np.int64), reverse).tolist() == expected


def test_default_profile_order_and_weights() -> None:
    profile = default_profile()
    assert [p.name for p in profile.filters] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert [(p.name, w) for p, w in profile.scores] == [
        ("TaintToleration", 3),
        ("NodeAffinity", 2),
        ("NodeResourcesFit", 1),
        ("PodTopologySpread", 2),
        ("InterPodAffinity", 2),
        ("NodeResourcesBalancedAllocation", 1),
    ]
    assert DEFAULT_WEIGHTS["InterPodAffinity"] == 2
    assert DEFAULT_WEIGHTS["PodTopologySpread"] == 2


def test_default_profile_takes_extra_plugins_at_their_upstream_place() -> None:
    class FakeInterPodAffinity(ScorePlugin):
        name = "InterPodAffinity"

        def score(self, pod: PodInfo, table: NodeTable, rows: Any) -> Any:
            return None

    extra = FakeInterPodAffinity()
    profile = default_profile(extra={"InterPodAffinity": extra})
    assert [p.name for p, _ in profile.scores] == [
        "TaintToleration",
        "NodeAffinity",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
        "NodeResourcesBalancedAllocation",
    ]
    assert (extra, 2) in profile.scores
    assert "InterPodAffinity" not in [p.name for p in profile.filters]  # the fake only scores


def test_most_allocated_profile() -> None:
    fit = next(
        p for p, _ in default_profile(scoring_strategy=MOST_ALLOCATED).scores if p.name == "NodeResourcesFit"
    )
    assert isinstance(fit, NodeResourcesFit)
    assert fit.strategy == MOST_ALLOCATED
    with pytest.raises(ValueError, match="RequestedToCapacityRatio"):
        NodeResourcesFit("RequestedToCapacityRatio")
