"""InterPodAffinity and PodTopologySpread: filter verdicts and scores as scenario tables in upstream's words
and arithmetic, then whole scheduling cycles (placements, FailedScheduling messages, seeded runs) and the
table's pod bookkeeping under them."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pytest

from actors.scheduler.core import SchedulerState, schedule_one
from actors.scheduler.plugins import (
    ERR_REASON_EXISTING_ANTI_AFFINITY,
    ERR_REASON_POD_AFFINITY,
    ERR_REASON_POD_ANTI_AFFINITY,
    ERR_REASON_SPREAD,
    ERR_REASON_SPREAD_LABEL,
    FilterResult,
    InterPodAffinity,
    PodInfo,
    PodTopologySpread,
    default_profile,
)
from actors.scheduler.table import REQUIRED_ANTI_AFFINITY, NodeTable
from tests.actors.scheduler.test_plugins import NONE, node, pod, scores, table_of, taint, verdicts

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
AFF = (ERR_REASON_POD_AFFINITY,)
ANTI = (ERR_REASON_POD_ANTI_AFFINITY,)
EXISTING = (ERR_REASON_EXISTING_ANTI_AFFINITY,)
SPREAD = (ERR_REASON_SPREAD,)
NO_LABEL = (ERR_REASON_SPREAD_LABEL,)
NO_VICTIMS = "No preemption victims found for incoming pod"


def labelled(
    name: str,
    labels: dict[str, str] | None = None,
    *,
    namespace: str = "default",
    owner: str | None = None,
    terminating: bool = False,
    cpu: str | None = "100m",
    **spec: Any,
) -> dict[str, Any]:
    """A pod with labels (and optionally a ReplicaSet owner, a namespace, a deletion mark)."""
    p = pod(name, cpu=cpu, uid=f"uid-{namespace}-{name}", **spec)
    meta = p["metadata"]
    meta["namespace"] = namespace
    meta["labels"] = dict(labels or {})
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "uid": f"rs-{owner}",
                "controller": True,
            }
        ]
    if terminating:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return p


def term(topology: str, namespaces: list[str] | None = None, ns_selector: Any = None, **match: str) -> Any:
    raw: dict[str, Any] = {"labelSelector": {"matchLabels": match}, "topologyKey": topology}
    if namespaces is not None:
        raw["namespaces"] = namespaces
    if ns_selector is not None:
        raw["namespaceSelector"] = ns_selector
    return raw


def affinity(
    required: list[Any] | None = None,
    anti: list[Any] | None = None,
    preferred: list[tuple[int, Any]] | None = None,
    preferred_anti: list[tuple[int, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if required or preferred:
        out["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": required or [],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in preferred or []
            ],
        }
    if anti or preferred_anti:
        out["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": anti or [],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in preferred_anti or []
            ],
        }
    return out


def spread(
    key: str, max_skew: int = 1, when: str = "DoNotSchedule", selector: Any = None, **extra: Any
) -> dict[str, Any]:
    return {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}} if selector is None else selector,
        **extra,
    }


def zoned(name: str, zone: str | None, **kwargs: Any) -> dict[str, Any]:
    labels = {HOST: name}
    if zone is not None:
        labels[ZONE] = zone
    return node(name, labels=labels, **kwargs)


# --- InterPodAffinity: filter -------------------------------------------------------------------------------

HOSTS = [zoned("n1", "a"), zoned("n2", "a"), zoned("n3", "b")]
WEB = {"app": "web"}

AFFINITY_FILTER: list[
    tuple[str, list[dict[str, Any]], list[tuple[dict[str, Any], str]], dict[str, Any], Any]
] = [
    (
        "anti-affinity by hostname keeps replicas apart",
        HOSTS,
        [(labelled("web-0", WEB), "n1")],
        labelled("web-1", WEB, affinity=affinity(anti=[term(HOST, app="web")])),
        [ANTI, NONE, NONE],
    ),
    (
        "anti-affinity by zone keeps the whole zone out",
        HOSTS,
        [(labelled("web-0", WEB), "n1")],
        labelled("web-1", WEB, affinity=affinity(anti=[term(ZONE, app="web")])),
        [ANTI, ANTI, NONE],
    ),
    (
        "zone affinity puts a pod with its peer",
        HOSTS,
        [(labelled("db", {"app": "db"}), "n3")],
        labelled("api", affinity=affinity(required=[term(ZONE, app="db")])),
        [AFF, AFF, NONE],
    ),
    (
        "hostname affinity: only the peer's node",
        HOSTS,
        [(labelled("db", {"app": "db"}), "n2")],
        labelled("api", affinity=affinity(required=[term(HOST, app="db")])),
        [AFF, NONE, AFF],
    ),
    (
        "affinity: a node without the topology key never fits",
        [*HOSTS, node("bare")],
        [(labelled("db", {"app": "db"}), "n3")],
        labelled("api", affinity=affinity(required=[term(ZONE, app="db")])),
        [AFF, AFF, NONE, AFF],
    ),
    (
        "affinity counts pods matching every term",
        HOSTS,
        [(labelled("db", {"app": "db"}), "n1"), (labelled("cache", {"tier": "cache"}), "n3")],
        labelled("api", affinity=affinity(required=[term(ZONE, app="db"), term(ZONE, tier="cache")])),
        [AFF, AFF, AFF],
    ),
    (
        "self-affinity with no match anywhere: any node with the keys",
        [*HOSTS, node("bare")],
        [],
        labelled("cache-0", {"app": "cache"}, affinity=affinity(required=[term(ZONE, app="cache")])),
        [NONE, NONE, NONE, AFF],
    ),
    (
        "self-affinity once a peer exists: only its zone",
        HOSTS,
        [(labelled("cache-0", {"app": "cache"}), "n3")],
        labelled("cache-1", {"app": "cache"}, affinity=affinity(required=[term(ZONE, app="cache")])),
        [AFF, AFF, NONE],
    ),
    (
        "no match anywhere and the pod does not match its own term",
        HOSTS,
        [],
        labelled("api", affinity=affinity(required=[term(ZONE, app="db")])),
        [AFF, AFF, AFF],
    ),
    (
        "existing pods' anti-affinity rejects a newcomer",
        HOSTS,
        [(labelled("loner", affinity=affinity(anti=[term(HOST, app="web")])), "n2")],
        labelled("web-0", WEB),
        [NONE, EXISTING, NONE],
    ),
    (
        "existing pods' zone anti-affinity rejects its zone",
        HOSTS,
        [(labelled("loner", affinity=affinity(anti=[term(ZONE, app="web")])), "n3")],
        labelled("web-0", WEB),
        [NONE, NONE, EXISTING],
    ),
    (
        "existing anti-affinity on a node lacking the key has no reach",
        [*HOSTS, node("bare")],
        [(labelled("loner", affinity=affinity(anti=[term(ZONE, app="web")])), "bare")],
        labelled("web-0", WEB),
        [NONE, NONE, NONE, NONE],
    ),
    (
        "the first failing check gives the reason: affinity, then anti-affinity, then existing",
        HOSTS,
        [
            (labelled("db", {"app": "db"}), "n1"),
            (labelled("web-0", WEB, affinity=affinity(anti=[term(HOST, role="x")])), "n2"),
            (labelled("loner", affinity=affinity(anti=[term(HOST, role="x")])), "n1"),
        ],
        labelled(
            "x",
            {"role": "x"},
            affinity=affinity(required=[term(ZONE, app="db")], anti=[term(HOST, app="web")]),
        ),
        [EXISTING, ANTI, AFF],
    ),
    (
        "a term selects pods of the pod's own namespace by default",
        HOSTS,
        [(labelled("web-0", WEB, namespace="other"), "n1")],
        labelled("web-1", WEB, affinity=affinity(anti=[term(HOST, app="web")])),
        [NONE, NONE, NONE],
    ),
    (
        "a term naming namespaces selects there",
        HOSTS,
        [(labelled("web-0", WEB, namespace="other"), "n1")],
        labelled("web-1", WEB, affinity=affinity(anti=[term(HOST, namespaces=["other"], app="web")])),
        [ANTI, NONE, NONE],
    ),
    (
        "namespaceSelector {} selects every namespace",
        HOSTS,
        [(labelled("web-0", WEB, namespace="other"), "n2")],
        labelled("web-1", WEB, affinity=affinity(anti=[term(HOST, ns_selector={}, app="web")])),
        [NONE, ANTI, NONE],
    ),
    (
        "existing pods' terms apply in their own namespace only",
        HOSTS,
        [(labelled("loner", namespace="other", affinity=affinity(anti=[term(HOST, app="web")])), "n1")],
        labelled("web-0", WEB),
        [NONE, NONE, NONE],
    ),
    (
        "terminating pods still count for affinity",
        HOSTS,
        [(labelled("web-0", WEB, terminating=True), "n1")],
        labelled("web-1", WEB, affinity=affinity(anti=[term(HOST, app="web")])),
        [ANTI, NONE, NONE],
    ),
]


@pytest.mark.parametrize(
    ("case", "nodes", "pods", "spec", "expected"), AFFINITY_FILTER, ids=[c[0] for c in AFFINITY_FILTER]
)
def test_inter_pod_affinity_filter(
    case: str,
    nodes: list[dict[str, Any]],
    pods: list[tuple[dict[str, Any], str]],
    spec: dict[str, Any],
    expected: list[tuple[str, ...]],
) -> None:
    assert verdicts(InterPodAffinity(), spec, table_of(nodes, pods)) == expected


def test_inter_pod_affinity_prefilter_skips_pods_without_terms() -> None:
    plugin = InterPodAffinity()
    table = table_of(HOSTS, [(labelled("web-0", WEB), "n1")])
    assert plugin.pre_filter(PodInfo.from_pod(labelled("p")), table).skip
    table.add_pod(labelled("loner", affinity=affinity(anti=[term(HOST, app="web")])), "n2")
    assert not plugin.pre_filter(PodInfo.from_pod(labelled("p")), table).skip


def test_affinity_is_unresolvable_anti_affinity_is_not() -> None:
    table = table_of(HOSTS, [(labelled("web-0", WEB), "n1")])
    spec = labelled("p", affinity=affinity(anti=[term(HOST, app="web")]))
    result = InterPodAffinity().filter(PodInfo.from_pod(spec), table)
    assert result.unresolvable_codes == frozenset({0})
    assert [result.reasons[c] for c in sorted(result.unresolvable_codes)] == [AFF]
    # nothing failing: no verdict at all
    assert InterPodAffinity().filter(PodInfo.from_pod(labelled("q")), table).failed is None


def test_namespace_selector_with_namespace_labels() -> None:
    table = table_of(HOSTS, [(labelled("web-0", WEB, namespace="prod"), "n1")])
    table.add_pod(labelled("web-9", WEB, namespace="dev"), "n3")
    spec = labelled(
        "web-1",
        WEB,
        affinity=affinity(anti=[term(HOST, ns_selector={"matchLabels": {"env": "prod"}}, app="web")]),
    )
    # without namespace labels no namespace carries env=prod
    assert verdicts(InterPodAffinity(), spec, table) == [NONE, NONE, NONE]
    labelled_ns = {"prod": {"env": "prod"}, "dev": {"env": "dev"}}
    assert verdicts(InterPodAffinity(namespace_labels=labelled_ns), spec, table) == [ANTI, NONE, NONE]
    # symmetry: an existing pod's namespaceSelector is matched against the newcomer's namespace labels
    loner = labelled(
        "loner", affinity=affinity(anti=[term(HOST, ns_selector={"matchLabels": {"env": "dev"}}, app="web")])
    )
    table = table_of(HOSTS, [(loner, "n2")])
    newcomer = labelled("web-2", WEB, namespace="dev")
    assert verdicts(InterPodAffinity(), newcomer, table) == [NONE, NONE, NONE]
    assert verdicts(InterPodAffinity(namespace_labels=labelled_ns), newcomer, table) == [NONE, EXISTING, NONE]


# --- InterPodAffinity: namespaces and namespaceSelector, over whole cycles ----------------------------------

NAMESPACES = {
    "default": {"kubernetes.io/metadata.name": "default"},
    "prod": {"env": "prod", "kubernetes.io/metadata.name": "prod"},
    "dev": {"env": "dev", "kubernetes.io/metadata.name": "dev"},
    "team-a": {"team": "a", "kubernetes.io/metadata.name": "team-a"},
}
DB = {"app": "db"}


def db(name: str, namespace: str) -> dict[str, Any]:
    return labelled(name, DB, namespace=namespace)


def passing(spec: dict[str, Any], table: NodeTable, namespace_labels: Any = NAMESPACES) -> set[str]:
    """The nodes ``InterPodAffinity`` lets through for ``spec``, with the cycle's namespace labels."""
    info = PodInfo.from_pod(spec, namespace_labels=namespace_labels)
    plugin = InterPodAffinity()
    result = FilterResult() if plugin.pre_filter(info, table).skip else plugin.filter(info, table)
    return {table.name_at(int(r)) for r in table.rows() if result.failed is None or not result.failed[r]}


def picked(spec: dict[str, Any], table: NodeTable, namespace_labels: Any = NAMESPACES) -> set[str | None]:
    """The nodes whole cycles pick for ``spec`` over a few seeds (``None``: no node fits)."""
    return {
        schedule_one(spec, table, rng=random.Random(seed), namespace_labels=namespace_labels).node
        for seed in range(8)
    }


NAMESPACE_CASES: list[tuple[str, list[tuple[dict[str, Any], str]], dict[str, Any], set[str]]] = [
    (
        "namespaceSelector matchLabels: affinity to the peer in a matching namespace",
        [(db("db-p", "prod"), "n2"), (db("db-d", "dev"), "n3")],
        labelled(
            "api",
            affinity=affinity(required=[term(HOST, ns_selector={"matchLabels": {"env": "prod"}}, app="db")]),
        ),
        {"n2"},
    ),
    (
        "namespaceSelector matchExpressions",
        [(db("db-p", "prod"), "n1"), (db("db-d", "dev"), "n2"), (db("db-a", "team-a"), "n3")],
        labelled(
            "api",
            affinity=affinity(
                anti=[
                    term(
                        HOST,
                        ns_selector={
                            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]
                        },
                        app="db",
                    )
                ]
            ),
        ),
        {"n3"},
    ),
    (
        "namespaceSelector {}: every namespace",
        [(db("db-p", "prod"), "n1"), (db("db-d", "dev"), "n2")],
        labelled("api", affinity=affinity(anti=[term(HOST, ns_selector={}, app="db")])),
        {"n3"},
    ),
    (
        "a namespaces list without a selector: only those",
        [(db("db-p", "prod"), "n2"), (db("db-d", "dev"), "n3")],
        labelled("api", affinity=affinity(required=[term(HOST, namespaces=["dev"], app="db")])),
        {"n3"},
    ),
    (
        "namespaces and namespaceSelector: their union",
        [(db("db-a", "team-a"), "n1"), (db("db-p", "prod"), "n2"), (db("db-d", "dev"), "n3")],
        labelled(
            "api",
            affinity=affinity(
                anti=[
                    term(HOST, namespaces=["team-a"], ns_selector={"matchLabels": {"env": "prod"}}, app="db")
                ]
            ),
        ),
        {"n3"},
    ),
    (
        "neither: the pod's own namespace",
        [(db("db-p", "prod"), "n2"), (db("db-d", "default"), "n3")],
        labelled("api", namespace="prod", affinity=affinity(required=[term(HOST, app="db")])),
        {"n2"},
    ),
    (
        "a selector no namespace matches: no peer anywhere",
        [(db("db-p", "prod"), "n2")],
        labelled(
            "api",
            affinity=affinity(required=[term(HOST, ns_selector={"matchLabels": {"env": "qa"}}, app="db")]),
        ),
        set(),
    ),
]


@pytest.mark.parametrize(
    ("case", "pods", "spec", "expected"), NAMESPACE_CASES, ids=[c[0] for c in NAMESPACE_CASES]
)
def test_affinity_namespaces(
    case: str, pods: list[tuple[dict[str, Any], str]], spec: dict[str, Any], expected: set[str]
) -> None:
    table = table_of(HOSTS, pods)
    assert passing(spec, table) == expected
    assert picked(spec, table) == (set(expected) if len(expected) == 1 else {None})


def test_a_selector_without_namespace_labels_matches_only_what_unlabelled_namespaces_match() -> None:
    table = table_of(HOSTS, [(db("db-p", "prod"), "n2")])
    prod = {"matchLabels": {"env": "prod"}}
    spec = labelled("api", affinity=affinity(required=[term(HOST, ns_selector=prod, app="db")]))
    assert passing(spec, table, namespace_labels=None) == set()
    assert passing(spec, table) == {"n2"}
    absent = {"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}
    spec = labelled("api", affinity=affinity(anti=[term(HOST, ns_selector=absent, app="db")]))
    assert passing(spec, table, namespace_labels=None) == {"n1", "n3"}
    assert passing(spec, table) == {"n1", "n2", "n3"}


def test_an_existing_pods_namespace_selector_reads_the_newcomers_namespace_labels() -> None:
    guard = {"matchLabels": {"env": "prod"}}
    loner = labelled("loner", affinity=affinity(anti=[term(HOST, ns_selector=guard, app="web")]))
    table = table_of(HOSTS, [(loner, "n1")])
    assert passing(web("w", namespace="prod"), table) == {"n2", "n3"}
    assert passing(web("w", namespace="dev"), table) == {"n1", "n2", "n3"}
    message = schedule_one(
        web("w", namespace="prod"),
        table_of([zoned("n1", "a")], [(loner, "n1")]),
        rng=random.Random(0),
        namespace_labels=NAMESPACES,
    ).message
    assert message is not None and message.startswith(
        f"0/1 nodes are available: 1 {ERR_REASON_EXISTING_ANTI_AFFINITY}."
    )


def test_the_cycles_namespace_labels_win_over_the_plugins() -> None:
    stale = {"prod": {"env": "old"}}
    profile = default_profile(extra={"InterPodAffinity": InterPodAffinity(namespace_labels=stale)})
    table = table_of(HOSTS, [(db("db-p", "prod"), "n2")])
    spec = labelled(
        "api",
        affinity=affinity(required=[term(HOST, ns_selector={"matchLabels": {"env": "prod"}}, app="db")]),
    )
    rng = random.Random(0)
    assert schedule_one(spec, table, rng=rng, profile=profile).node is None
    assert schedule_one(spec, table, rng=rng, profile=profile, namespace_labels=NAMESPACES).node == "n2"
    assert PodInfo.from_pod(spec, namespace_labels=NAMESPACES).namespace_labels is NAMESPACES


# --- InterPodAffinity: score --------------------------------------------------------------------------------

SCORE_NODES = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b"), node("bare")]
SCORE_PODS = [
    (labelled("web-0", WEB), "a1"),
    (labelled("web-1", WEB), "a1"),
    (labelled("web-2", WEB), "b1"),
]

AFFINITY_SCORES: list[tuple[str, list[tuple[dict[str, Any], str]], dict[str, Any], list[int] | None]] = [
    ("no terms anywhere: skipped", SCORE_PODS, labelled("p"), None),
    (
        # zone a 2 x 10, zone b 1 x 10, the zone-less node 0: min-max over 20, 20, 10, 0
        "preferred affinity by zone",
        SCORE_PODS,
        labelled("p", affinity=affinity(preferred=[(10, term(ZONE, app="web"))])),
        [100, 100, 50, 0],
    ),
    (
        "preferred anti-affinity by zone: fewer matching pods score higher",
        SCORE_PODS,
        labelled("p", affinity=affinity(preferred_anti=[(10, term(ZONE, app="web"))])),
        [0, 0, 50, 100],
    ),
    (
        # hostname: a1 -2*5 = -10, b1 -5, others 0; zone: a +2*3 = 6, b +3 -> a1 -4, a2 6, b1 -2, bare 0
        "weights add up over terms and keys",
        SCORE_PODS,
        labelled(
            "p",
            affinity=affinity(
                preferred=[(3, term(ZONE, app="web"))], preferred_anti=[(5, term(HOST, app="web"))]
            ),
        ),
        [0, 100, 20, 40],
    ),
    (
        "a preferred term matching no pod: skipped",
        SCORE_PODS,
        labelled("p", affinity=affinity(preferred=[(10, term(ZONE, app="nothing"))])),
        None,
    ),
    (
        # existing required affinity towards the newcomer weighs hardPodAffinityWeight (1) per pod
        "existing pods' required affinity attracts the pods it selects",
        [(labelled("fan", affinity=affinity(required=[term(ZONE, app="web")])), "b1")],
        labelled("web-9", WEB),
        [0, 0, 100, 0],
    ),
    (
        "existing pods' preferred anti-affinity repels",
        [
            (labelled("shy", affinity=affinity(preferred_anti=[(7, term(ZONE, app="web"))])), "a2"),
            (labelled("fan", affinity=affinity(preferred=[(3, term(HOST, app="web"))])), "b1"),
        ],
        labelled("web-9", WEB),
        # a1 -7, a2 -7, b1 +3, bare 0
        [0, 0, 100, 70],
    ),
    (
        "existing pods' terms for other pods do not count",
        [(labelled("shy", affinity=affinity(preferred_anti=[(7, term(ZONE, app="db"))])), "a2")],
        labelled("web-9", WEB),
        None,
    ),
    (
        # raw 0, 0, 1, 3 over the nodes: 100 * (x - 0) / 3, truncated
        "normalisation truncates",
        [
            (labelled("web-0", WEB), "b1"),
            (labelled("web-1", WEB), "bare"),
            (labelled("web-2", WEB), "bare"),
            (labelled("web-3", WEB), "bare"),
        ],
        labelled("p", affinity=affinity(preferred=[(1, term(HOST, app="web"))])),
        [0, 0, 33, 100],
    ),
]


@pytest.mark.parametrize(
    ("case", "pods", "spec", "expected"), AFFINITY_SCORES, ids=[c[0] for c in AFFINITY_SCORES]
)
def test_inter_pod_affinity_score(
    case: str, pods: list[tuple[dict[str, Any], str]], spec: dict[str, Any], expected: list[int] | None
) -> None:
    nodes = SCORE_NODES
    if case == "normalisation truncates":
        nodes = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b"), node("bare", labels={HOST: "bare"})]
    assert scores(InterPodAffinity(), spec, table_of(nodes, pods)) == expected


# --- PodTopologySpread: filter ------------------------------------------------------------------------------

THREE_ZONES = [zoned(f"{z}{i}", z) for z in "abc" for i in (1, 2)]


def web(name: str, **kwargs: Any) -> dict[str, Any]:
    return labelled(name, dict(WEB), **kwargs)


SPREAD_FILTER: list[
    tuple[str, list[dict[str, Any]], list[tuple[dict[str, Any], str]], dict[str, Any], Any]
] = [
    (
        "maxSkew 1 over zones: the fuller zone is out",
        THREE_ZONES,
        [(web("w0"), "a1"), (web("w1"), "a2"), (web("w2"), "b1"), (web("w3"), "c1")],
        web("new", topologySpreadConstraints=[spread(ZONE)]),
        [SPREAD, SPREAD, NONE, NONE, NONE, NONE],
    ),
    (
        "maxSkew 2 allows it",
        THREE_ZONES,
        [(web("w0"), "a1"), (web("w1"), "a2"), (web("w2"), "b1"), (web("w3"), "c1")],
        web("new", topologySpreadConstraints=[spread(ZONE, max_skew=2)]),
        [NONE] * 6,
    ),
    (
        "a node without the topology key: missing required label",
        [*THREE_ZONES[:2], node("bare")],
        [],
        web("new", topologySpreadConstraints=[spread(ZONE)]),
        [NONE, NONE, NO_LABEL],
    ),
    (
        "a pod not matching its own selector adds no self-match",
        THREE_ZONES,
        [(web("w0"), "a1"), (web("w1"), "b1")],
        labelled("other", topologySpreadConstraints=[spread(ZONE)]),
        [NONE] * 6,
    ),
    (
        # two zones, minDomains 3: the global minimum reads 0, so a zone with one pod has skew 2
        "minDomains above the domains makes the minimum 0",
        THREE_ZONES[:4],
        [(web("w0"), "a1")],
        web("new", topologySpreadConstraints=[spread(ZONE, minDomains=3)]),
        [SPREAD, SPREAD, NONE, NONE],
    ),
    (
        "minDomains met: the real minimum",
        THREE_ZONES[:4],
        [(web("w0"), "a1")],
        web("new", topologySpreadConstraints=[spread(ZONE, minDomains=2)]),
        [SPREAD, SPREAD, NONE, NONE],
    ),
    (
        "minDomains met with a pod everywhere",
        THREE_ZONES[:4],
        [(web("w0"), "a1"), (web("w1"), "b1")],
        web("new", topologySpreadConstraints=[spread(ZONE, minDomains=2)]),
        [NONE] * 4,
    ),
    (
        "minDomains unmet with a pod everywhere",
        THREE_ZONES[:4],
        [(web("w0"), "a1"), (web("w1"), "b1")],
        web("new", topologySpreadConstraints=[spread(ZONE, minDomains=3)]),
        [SPREAD] * 4,
    ),
    (
        # nodeAffinityPolicy Honor (default): zone c is outside the nodeSelector, so not a domain; min is 1
        "nodeAffinityPolicy Honor leaves unselected zones out",
        [zoned(f"{z}1", z) for z in "abc"],
        [(web("w0"), "a1"), (web("w1"), "b1")],
        web(
            "new",
            topologySpreadConstraints=[spread(ZONE)],
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["a", "b"]}]}
                        ]
                    }
                }
            },
        ),
        [NONE, NONE, NONE],
    ),
    (
        "nodeAffinityPolicy Ignore counts them: min 0",
        [zoned(f"{z}1", z) for z in "abc"],
        [(web("w0"), "a1"), (web("w1"), "b1")],
        web(
            "new",
            topologySpreadConstraints=[spread(ZONE, nodeAffinityPolicy="Ignore")],
            nodeSelector={"team": "x"},
        ),
        [SPREAD, SPREAD, NONE],
    ),
    (
        "nodeTaintsPolicy Ignore (default) counts tainted zones",
        [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c", taints=[taint("k")])],
        [(web("w0"), "a1"), (web("w1"), "b1")],
        web("new", topologySpreadConstraints=[spread(ZONE)]),
        [SPREAD, SPREAD, NONE],
    ),
    (
        "nodeTaintsPolicy Honor leaves untolerated tainted zones out",
        [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c", taints=[taint("k")])],
        [(web("w0"), "a1"), (web("w1"), "b1")],
        web("new", topologySpreadConstraints=[spread(ZONE, nodeTaintsPolicy="Honor")]),
        [NONE, NONE, NONE],
    ),
    (
        "nodeTaintsPolicy Honor with a toleration counts it",
        [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c", taints=[taint("k")])],
        [(web("w0"), "a1"), (web("w1"), "b1")],
        web(
            "new",
            topologySpreadConstraints=[spread(ZONE, nodeTaintsPolicy="Honor")],
            tolerations=[{"key": "k", "operator": "Exists"}],
        ),
        [SPREAD, SPREAD, NONE],
    ),
    (
        "matchLabelKeys: only the same revision counts",
        [zoned("a1", "a"), zoned("b1", "b")],
        [
            (labelled("old-0", {"app": "web", "rev": "1"}), "a1"),
            (labelled("old-1", {"app": "web", "rev": "1"}), "a1"),
            (labelled("new-0", {"app": "web", "rev": "2"}), "b1"),
        ],
        labelled(
            "new-1",
            {"app": "web", "rev": "2"},
            topologySpreadConstraints=[spread(ZONE, matchLabelKeys=["rev"])],
        ),
        [NONE, SPREAD],
    ),
    (
        "without matchLabelKeys every revision counts",
        [zoned("a1", "a"), zoned("b1", "b")],
        [
            (labelled("old-0", {"app": "web", "rev": "1"}), "a1"),
            (labelled("old-1", {"app": "web", "rev": "1"}), "a1"),
            (labelled("new-0", {"app": "web", "rev": "2"}), "b1"),
        ],
        labelled("new-1", {"app": "web", "rev": "2"}, topologySpreadConstraints=[spread(ZONE)]),
        [SPREAD, NONE],
    ),
    (
        "terminating pods and other namespaces are not counted",
        [zoned("a1", "a"), zoned("b1", "b")],
        [(web("w0", terminating=True), "a1"), (web("w1", namespace="other"), "a1"), (web("w2"), "b1")],
        web("new", topologySpreadConstraints=[spread(ZONE)]),
        [NONE, SPREAD],
    ),
    (
        "constraints are checked in order: a missing label first",
        [zoned("a1", "a"), node("h", labels={HOST: "h"})],
        [],
        web("new", topologySpreadConstraints=[spread(HOST), spread(ZONE)]),
        [NONE, NO_LABEL],
    ),
    (
        "ScheduleAnyway constraints do not filter",
        [*THREE_ZONES[:2], node("bare")],
        [(web("w0"), "a1")],
        web("new", topologySpreadConstraints=[spread(ZONE, when="ScheduleAnyway")]),
        [NONE, NONE, NONE],
    ),
]


@pytest.mark.parametrize(
    ("case", "nodes", "pods", "spec", "expected"), SPREAD_FILTER, ids=[c[0] for c in SPREAD_FILTER]
)
def test_pod_topology_spread_filter(
    case: str,
    nodes: list[dict[str, Any]],
    pods: list[tuple[dict[str, Any], str]],
    spec: dict[str, Any],
    expected: list[tuple[str, ...]],
) -> None:
    assert verdicts(PodTopologySpread(), spec, table_of(nodes, pods)) == expected


def test_missing_label_is_unresolvable() -> None:
    result = PodTopologySpread().filter(
        PodInfo.from_pod(web("new", topologySpreadConstraints=[spread(ZONE)])), table_of(THREE_ZONES)
    )
    assert [result.reasons[c] for c in sorted(result.unresolvable_codes or ())] == [NO_LABEL]


# --- PodTopologySpread: score -------------------------------------------------------------------------------

SPREAD_SCORES: list[
    tuple[str, list[dict[str, Any]], list[tuple[dict[str, Any], str]], dict[str, Any], list[int] | None]
] = [
    ("no constraints, no controller: skipped", THREE_ZONES[::2], [], web("new"), None),
    (
        # zones a 2, b 1, c 0 pods; 3 domains: weight ln 5; raw round(2 ln 5) = 3, round(ln 5) = 2, 0
        "fewer matching pods in the zone score higher",
        [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c")],
        [(web("w0"), "a1"), (web("w1"), "a1"), (web("w2"), "b1")],
        web("new", topologySpreadConstraints=[spread(ZONE, when="ScheduleAnyway")]),
        [0, 33, 100],
    ),
    (
        # maxSkew 3 adds 2 to every raw score: 5, 4, 2 -> 100 * (5 + 2 - x) / 5
        "maxSkew waters differences down",
        [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c")],
        [(web("w0"), "a1"), (web("w1"), "a1"), (web("w2"), "b1")],
        web("new", topologySpreadConstraints=[spread(ZONE, max_skew=3, when="ScheduleAnyway")]),
        [40, 60, 100],
    ),
    (
        "a node lacking the key is ignored and scores 0",
        [zoned("a1", "a"), zoned("b1", "b"), node("bare")],
        [(web("w0"), "a1")],
        web("new", topologySpreadConstraints=[spread(ZONE, when="ScheduleAnyway")]),
        [0, 100, 0],
    ),
    (
        "no matching pods anywhere: every node 100",
        [zoned("a1", "a"), zoned("b1", "b")],
        [],
        web("new", topologySpreadConstraints=[spread(ZONE, when="ScheduleAnyway")]),
        [100, 100],
    ),
    (
        # hostname: per-node counts 2, 0, 1 over 3 nodes (weight ln 5): raw 3, 0, 2
        "hostname spreading counts per node",
        [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")],
        [(web("w0"), "a1"), (web("w1"), "a1"), (web("w2"), "b1")],
        web("new", topologySpreadConstraints=[spread(HOST, when="ScheduleAnyway")]),
        [0, 100, 33],
    ),
    (
        # system defaults: hostname maxSkew 3 (ln 5) + zone maxSkew 5 (ln 4, two zones):
        # a1 2*1.609+2 + 2*1.386+4 = 11.99 -> 12; a2 0+2 + 2.772+4 = 8.77 -> 9; b1 1.609+2 + 1.386+4 = 8.99
        # -> 9 (x0 has another owner, x1 none). min 9, max 12: 100 * (21 - x) / 12
        "system defaults select the pods of the same controller",
        [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")],
        [
            (web("w0", owner="web"), "a1"),
            (web("w1", owner="web"), "a1"),
            (web("w2", owner="web"), "b1"),
            (web("x0", owner="other"), "b1"),
            (web("x1"), "b1"),
        ],
        web("new", owner="web"),
        [75, 100, 100],
    ),
    (
        # system defaults do not need every key: a zone-less node still spreads by hostname
        "system defaults do not ignore zone-less nodes",
        [zoned("a1", "a"), node("bare", labels={HOST: "bare"})],
        [(web("w0", owner="web"), "a1"), (web("w1", owner="web"), "bare")],
        web("new", owner="web"),
        # a1: 1*ln4 + 2 + 1*ln4 + 4 = 8.77 -> 9; bare: 1*ln4 + 2 = 3.39 -> 3 (no zone term): 100*(12-x)/9
        [33, 100],
    ),
]


@pytest.mark.parametrize(
    ("case", "nodes", "pods", "spec", "expected"), SPREAD_SCORES, ids=[c[0] for c in SPREAD_SCORES]
)
def test_pod_topology_spread_score(
    case: str,
    nodes: list[dict[str, Any]],
    pods: list[tuple[dict[str, Any], str]],
    spec: dict[str, Any],
    expected: list[int] | None,
) -> None:
    assert scores(PodTopologySpread(), spec, table_of(nodes, pods)) == expected


def test_system_defaults_can_be_turned_off() -> None:
    table = table_of([zoned("a1", "a"), zoned("b1", "b")], [(web("w0", owner="web"), "a1")])
    assert scores(PodTopologySpread(system_defaults=False), web("new", owner="web"), table) is None


# --- whole cycles -------------------------------------------------------------------------------------------


def place(
    table: NodeTable, pods: list[dict[str, Any]], seed: int = 0, **kwargs: Any
) -> list[tuple[str | None, str | None]]:
    rng = random.Random(seed)
    state = SchedulerState()
    out: list[tuple[str | None, str | None]] = []
    for spec in pods:
        decision = schedule_one(spec, table, rng=rng, state=state, **kwargs)
        if decision.node is not None:
            table.assume(spec, decision.node)
        out.append((decision.node, decision.message))
    return out


def zone_of(table: NodeTable, name: str | None) -> str:
    assert name is not None
    row = table.index(name)
    assert row is not None
    return table.labels_at(row)[ZONE]


def test_anti_affinity_replicas_land_on_distinct_nodes_then_fail() -> None:
    table = table_of([zoned(f"n{i}", "a") for i in range(3)])
    replicas = [web(f"web-{i}", affinity=affinity(anti=[term(HOST, app="web")])) for i in range(4)]
    placed = place(table, replicas)
    assert len({n for n, _ in placed[:3]}) == 3
    assert placed[3] == (
        None,
        f"0/3 nodes are available: 3 {ERR_REASON_POD_ANTI_AFFINITY}. "
        f"preemption: 0/3 nodes are available: 3 {NO_VICTIMS}.",
    )


def test_existing_anti_affinity_message() -> None:
    loner = labelled("loner", affinity=affinity(anti=[term(ZONE, app="web")]))
    table = table_of([zoned("a1", "a"), zoned("a2", "a")], [(loner, "a1")])
    ((where, message),) = place(table, [web("w")], preemption=False)
    assert where is None
    assert message == f"0/2 nodes are available: 2 {ERR_REASON_EXISTING_ANTI_AFFINITY}."


def test_zone_affinity_follows_the_peer() -> None:
    table = table_of(THREE_ZONES, [(labelled("db", {"app": "db"}), "b2")])
    spec = labelled("api", affinity=affinity(required=[term(ZONE, app="db")]))
    for seed in range(10):
        ((where, _),) = place(table, [spec], seed=seed)
        assert zone_of(table, where) == "b"


def test_self_affinity_first_pod_goes_anywhere_then_the_rest_follow() -> None:
    table = table_of(THREE_ZONES)
    group = [
        labelled(f"c{i}", {"app": "cache"}, affinity=affinity(required=[term(ZONE, app="cache")]))
        for i in range(5)
    ]
    placed = place(table, group, seed=3)
    assert len({zone_of(table, n) for n, _ in placed}) == 1


def test_spread_six_pods_over_three_zones_two_each() -> None:
    for seed in range(5):
        table = table_of(THREE_ZONES)
        placed = place(
            table, [web(f"w{i}", topologySpreadConstraints=[spread(ZONE)]) for i in range(6)], seed
        )
        assert Counter(zone_of(table, n) for n, _ in placed) == {"a": 2, "b": 2, "c": 2}


def test_min_domains_holds_back_until_enough_domains() -> None:
    table = table_of(THREE_ZONES[:4])  # zones a and b
    pods = [web(f"w{i}", topologySpreadConstraints=[spread(ZONE, minDomains=3)]) for i in range(3)]
    placed = place(table, pods)
    assert sorted(zone_of(table, n) for n, _ in placed[:2]) == ["a", "b"]
    assert placed[2] == (
        None,
        f"0/4 nodes are available: 4 {ERR_REASON_SPREAD}. "
        f"preemption: 0/4 nodes are available: 4 {NO_VICTIMS}.",
    )


def test_missing_label_in_the_message() -> None:
    nodes = [zoned("a1", "a"), zoned("b1", "b", cpu="50m"), node("bare"), node("bare2")]
    table = table_of(nodes, [(web("w0"), "a1")])
    ((where, message),) = place(
        table, [web("w1", topologySpreadConstraints=[spread(ZONE)])], preemption=False
    )
    assert where is None
    assert message == (
        f"0/4 nodes are available: 1 Insufficient cpu, 1 {ERR_REASON_SPREAD}, 2 {ERR_REASON_SPREAD_LABEL}."
    )


def test_default_spreading_spreads_a_replica_set() -> None:
    table = table_of([zoned(f"n{i}", "abc"[i % 3]) for i in range(6)])
    placed = place(table, [web(f"w{i}", owner="web", cpu=None) for i in range(6)], seed=4)
    assert len({n for n, _ in placed}) == 6  # hostname spreading puts each on its own node
    assert Counter(zone_of(table, n) for n, _ in placed) == {"a": 2, "b": 2, "c": 2}


def mixed_workload(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    pods = []
    for i in range(count):
        app = f"app{rng.randrange(6)}"
        cpu = rng.choice(["100m", "250m", "500m", "1"])
        kind = i % 4
        spec: dict[str, Any] = {}
        if kind == 0:
            spec["affinity"] = affinity(anti=[term(HOST, app=app)])
        elif kind == 1:
            spec["topologySpreadConstraints"] = [
                spread(ZONE, selector={"matchLabels": {"app": app}}),
                spread(HOST, max_skew=2, when="ScheduleAnyway", selector={"matchLabels": {"app": app}}),
            ]
        elif kind == 2:
            spec["affinity"] = affinity(
                preferred=[(50, term(ZONE, app=app))], preferred_anti=[(20, term(HOST, app=app))]
            )
        pods.append(labelled(f"p{i}", {"app": app}, owner=app if kind == 3 else None, cpu=cpu, **spec))
    return pods


def big_cluster() -> NodeTable:
    table = NodeTable()
    for i in range(30):
        table.upsert_node(zoned(f"node-{i:02d}", f"zone-{i % 3}", cpu="4", memory="8Gi", pods="20"))
    return table


def required_anti_app(spec: dict[str, Any]) -> str | None:
    anti = ((spec["spec"].get("affinity") or {}).get("podAntiAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return str(anti[0]["labelSelector"]["matchLabels"]["app"]) if anti else None


def test_seeded_runs_repeat_and_honour_every_constraint() -> None:
    pods = mixed_workload(400, seed=2)
    first = place(big_cluster(), pods, seed=9)
    assert first == place(big_cluster(), pods, seed=9)
    assert [n for n, _ in first] != [n for n, _ in place(big_cluster(), pods, seed=10)]

    table = big_cluster()
    rng = random.Random(9)
    state = SchedulerState()
    on_node: dict[str, list[dict[str, Any]]] = {}
    for spec in pods:
        decision = schedule_one(spec, table, rng=rng, state=state)
        where = decision.node
        if where is None:
            assert decision.message is not None
            continue
        app = spec["metadata"]["labels"]["app"]
        neighbours = on_node.get(where, [])
        # no required anti-affinity is broken, in either direction
        if required_anti_app(spec) is not None:
            assert all(p["metadata"]["labels"]["app"] != required_anti_app(spec) for p in neighbours)
        assert all(required_anti_app(p) != app for p in neighbours)
        # a DoNotSchedule zone constraint (maxSkew 1, all zones eligible) holds as the pod joins
        if spec["spec"].get("topologySpreadConstraints"):
            zones = Counter({f"zone-{z}": 0 for z in range(3)})
            for name, placed in on_node.items():
                zones[zone_of(table, name)] += sum(p["metadata"]["labels"]["app"] == app for p in placed)
            assert zones[zone_of(table, where)] + 1 - min(zones.values()) <= 1
        table.assume(spec, where)
        on_node.setdefault(where, []).append(spec)
        rows = table.rows()
        assert np.all(table.req_cpu[rows] <= table.alloc_cpu[rows])
        assert np.all(table.req_memory[rows] <= table.alloc_memory[rows])
        assert np.all(table.req_pods[rows] <= table.alloc_pods[rows])
    assert sum(len(v) for v in on_node.values()) > 200


# --- the table's pod bookkeeping ----------------------------------------------------------------------------


def anti_verdicts(table: NodeTable) -> list[tuple[str, ...]]:
    return verdicts(InterPodAffinity(), web("probe"), table)


def test_bookkeeping_follows_forget_remove_and_moves() -> None:
    table = table_of(HOSTS)
    loner = labelled("loner", affinity=affinity(anti=[term(HOST, app="web")]))
    table.assume(loner, "n1")
    assert anti_verdicts(table) == [EXISTING, NONE, NONE]
    table.forget(loner)
    assert anti_verdicts(table) == [NONE, NONE, NONE]
    assert not table.has_affinity(REQUIRED_ANTI_AFFINITY)
    table.add_pod(loner, "n2")
    assert anti_verdicts(table) == [NONE, EXISTING, NONE]
    table.add_pod(loner, "n3")  # moved
    assert anti_verdicts(table) == [NONE, NONE, EXISTING]
    relabelled = labelled("loner", affinity=affinity(anti=[term(HOST, app="db")]))
    table.add_pod(relabelled, "n3")  # its terms changed: re-accounted
    assert anti_verdicts(table) == [NONE, NONE, NONE]
    table.remove_pod(relabelled)
    assert not table.has_affinity(REQUIRED_ANTI_AFFINITY)


def test_label_updates_are_seen() -> None:
    table = table_of(HOSTS, [(labelled("x", {"app": "db"}), "n1")])
    probe = web("probe", affinity=affinity(anti=[term(HOST, app="web")]))
    assert verdicts(InterPodAffinity(), probe, table) == [NONE, NONE, NONE]
    table.add_pod(labelled("x", WEB), "n1")
    assert verdicts(InterPodAffinity(), probe, table) == [ANTI, NONE, NONE]


def test_pods_of_a_removed_node_do_not_count_until_it_returns() -> None:
    table = table_of(HOSTS, [(web("w0"), "n1")])
    table.add_pod(labelled("loner", affinity=affinity(anti=[term(ZONE, app="web")])), "n3")
    probe = web("probe", affinity=affinity(anti=[term(ZONE, app="web")]))
    assert verdicts(InterPodAffinity(), probe, table) == [ANTI, ANTI, EXISTING]
    table.remove_node("n1")
    table.remove_node("n3")
    assert verdicts(InterPodAffinity(), probe, table) == [NONE]
    table.upsert_node(zoned("n1", "a"))
    table.upsert_node(zoned("n3", "b"))
    assert [table.name_at(int(r)) for r in table.rows()] == ["n1", "n2", "n3"]
    assert verdicts(InterPodAffinity(), probe, table) == [ANTI, ANTI, EXISTING]


def test_pod_columns_grow() -> None:
    table = table_of([zoned(f"n{i}", "abc"[i % 3]) for i in range(9)])
    for i in range(200):
        table.add_pod(web(f"w{i}"), f"n{i % 9}")
    assert table.pod_capacity >= 200
    from kube import labels

    counts = table.count_pods(table.pod_mask(labels.from_set({"app": "web"})))
    assert counts[table.rows()].tolist() == [23, 23, 22, 22, 22, 22, 22, 22, 22]
    for i in range(0, 200, 2):
        table.remove_pod(web(f"w{i}"))
    counts = table.count_pods(table.pod_mask(labels.from_set({"app": "web"})))
    assert int(counts.sum()) == 100
