"""A scheduler sharded over several ``SchedulerShard`` actors places pods as one worker does: the same best
score and the same tie draw, upstream's FailedScheduling message over every node, no node ever over its
allocatable, and every pod that fits somewhere placed; a shard that restarts is rebuilt."""

from __future__ import annotations

import logging
import pathlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from actors.runtime.system import SystemConfig, create_system
from actors.scheduler import coordinator, shards
from actors.scheduler.core import SchedulerState, num_feasible_nodes_to_find, schedule_one
from actors.scheduler.plugins import PodInfo
from actors.scheduler.resources import non_zero_requests, pod_requests
from actors.scheduler.scheduler import spawn_scheduler
from actors.scheduler.table import NodeTable
from tests.actors.apiserver.conftest import Cluster, eventually, start_cluster
from tests.actors.scheduler.test_plugins import expr, node, pod, required, table_of, taint

SCALE = 100.0
NO_VICTIMS = "No preemption victims found for incoming pod"


# --- the pure parts: ownership, slimming, evaluate, pick ---------------------------------------------------


def split(
    nodes: list[dict[str, Any]], k: int, bound: Sequence[tuple[dict[str, Any], str]] = ()
) -> list[NodeTable]:
    """The shards' tables for ``nodes`` and the pods bound to them."""
    tables = [NodeTable() for _ in range(k)]
    for n in nodes:
        tables[coordinator.owner(n["metadata"]["name"], k)].upsert_node(n)
    for p, where in bound:
        tables[coordinator.owner(where, k)].add_pod(p, where)
    return tables


def sharded(
    pods: list[dict[str, Any]], tables: list[NodeTable], *, seed: int = 0, num_to_find: int | None = None
) -> tuple[list[coordinator.Pick], list[list[shards.Verdict]]]:
    """What the coordinator picks for a batch, with every shard evaluating it."""
    n = sum(len(t) for t in tables)
    to_find = num_feasible_nodes_to_find(0, n) if num_to_find is None else num_to_find
    verdicts = [
        shards.evaluate(
            t,
            pods,
            rng=random.Random(seed * 31 + i),
            state=SchedulerState(),
            num_to_find=to_find,
            num_all_nodes=n,
        )
        for i, t in enumerate(tables)
    ]
    return coordinator.pick(pods, verdicts, random.Random(seed)), verdicts


def test_a_node_belongs_to_one_shard_by_a_stable_hash_of_its_name() -> None:
    assert [coordinator.owner(f"node-{i}", 3) for i in range(12)] == [2, 1, 2, 0, 1, 2, 1, 0, 2, 2, 0, 0]
    spread = Counter(coordinator.owner(f"node-{i}", 4) for i in range(4000))
    assert sorted(spread) == [0, 1, 2, 3] and min(spread.values()) > 900


def test_a_slim_pod_and_node_read_the_same_to_the_scheduler() -> None:
    rich = pod(
        "web",
        cpu="250m",
        memory="64Mi",
        nodeSelector={"disk": "ssd"},
        tolerations=[{"key": "gpu", "operator": "Exists"}],
        affinity=required({"matchExpressions": [expr("zone", "In", "a")]}),
        initContainers=[
            {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
            {"name": "init", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
        ],
        overhead={"cpu": "10m"},
        priority=5,
        env=[{"name": "A", "value": "x" * 1000}],
    )
    rich["metadata"].update(labels={"app": "web"}, annotations={"big": "y" * 1000})
    rich["metadata"]["ownerReferences"] = [
        {"apiVersion": "batch/v1", "kind": "Job", "uid": "j", "controller": True}
    ]
    rich["status"] = {"phase": "Pending", "nominatedNodeName": "n1", "conditions": [{"type": "x"}]}
    slim = coordinator.slim_pod(rich)
    assert PodInfo.from_pod(slim) == PodInfo.from_pod(rich)
    assert (pod_requests(slim), non_zero_requests(slim)) == (pod_requests(rich), non_zero_requests(rich))
    assert "annotations" not in slim["metadata"] and "conditions" not in slim["status"]

    full = node("n1", cpu="3", labels={"zone": "a"}, taints=[taint("gpu")], unschedulable=True)
    full["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastHeartbeatTime": "now"}]
    whole, part = table_of([full]), table_of([coordinator.slim_node(full)])
    assert whole.labels_at(0) == part.labels_at(0) and whole.taints_at(0) == part.taints_at(0)
    assert (whole.alloc_cpu[0], whole.unschedulable[0]) == (part.alloc_cpu[0], part.unschedulable[0])


LOADED = [
    node(f"n{i}", cpu=cpu, memory=memory)
    for i, (cpu, memory) in enumerate(
        [("4", "8Gi"), ("4", "8Gi"), ("2", "8Gi"), ("8", "16Gi"), ("4", "4Gi"), ("1", "2Gi"), ("4", "8Gi")]
    )
]
BOUND = [
    (pod(f"b{i}", cpu=cpu, memory=memory), f"n{n}")
    for i, (cpu, memory, n) in enumerate(
        [("1", "1Gi", 0), ("500m", "4Gi", 1), ("3", "1Gi", 3), ("200m", "512Mi", 6)]
    )
]


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize(
    "incoming",
    [
        pod("small", cpu="100m", memory="128Mi"),
        pod("big", cpu="1500m", memory="3Gi"),
        pod("no-requests"),
        pod("tolerates-nothing", cpu="100m", nodeSelector={}),
    ],
    ids=["small", "big", "best-effort", "empty-selector"],
)
def test_the_sharded_search_finds_the_score_and_ties_one_worker_finds(
    k: int, incoming: dict[str, Any]
) -> None:
    whole = table_of(LOADED, BOUND)
    one = schedule_one(incoming, whole, rng=random.Random(0), num_to_find=len(LOADED), always_score=True)
    (choice,), verdicts = sharded([incoming], split(LOADED, k, BOUND))
    assert choice.node is not None and one.score is not None
    best = [v[0] for v in verdicts if v[0].node and v[0].score == one.score]
    assert verdicts[choice.shard][0].score == one.score
    assert sum(v.tied for v in best) == one.tied


def test_a_tie_across_shards_is_drawn_uniformly_over_the_tied_nodes() -> None:
    nodes = [node(f"n{i}") for i in range(6)]  # shards of 3, 2 and 1 node
    assert Counter(coordinator.owner(f"n{i}", 3) for i in range(6)) == {0: 3, 1: 2, 2: 1}
    tables = split(nodes, 3)
    drawn = Counter(str(sharded([pod("p", cpu="1")], tables, seed=seed)[0][0].node) for seed in range(1200))
    assert sorted(drawn) == [f"n{i}" for i in range(6)]
    assert all(130 < count < 270 for count in drawn.values()), drawn  # 200 each: by node, not by shard


MESSAGES = [
    ("insufficient cpu everywhere", [node(f"n{i}", cpu="1") for i in range(5)], [], pod(cpu="2")),
    (
        "reasons of different shards add up",
        [node(n, memory="1Gi", labels={"zone": "a"}) for n in "abc"]
        + [node(f"z{i}", labels={"zone": "z"}) for i in range(4)],
        [],
        pod(memory="2Gi", affinity=required({"matchExpressions": [expr("zone", "In", "a")]})),
    ),
    (
        "taints, unschedulable nodes and resources",
        [
            node("t1", taints=[taint("gpu")]),
            node("t2", taints=[taint("gpu", "x")]),
            node("u", unschedulable=True),
        ]
        + [node(f"s{i}", cpu="500m") for i in range(3)],
        [],
        pod(cpu="1"),
    ),
    (
        "too many pods",
        [node(f"n{i}", pods="1") for i in range(4)],
        [(pod(f"b{i}", cpu="10m"), f"n{i}") for i in range(4)],
        pod(cpu="10m"),
    ),
    (
        "names narrowed by PreFilter",
        [node(f"n{i}", cpu="1") for i in range(6)],
        [],
        pod(
            cpu="2",
            affinity=required(
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
            ),
        ),
    ),
    (
        "a PreFilter rejection",
        [node(f"n{i}") for i in range(5)],
        [],
        pod(affinity=required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": []}]})),
    ),
    (
        "preemptionPolicy Never",
        [node(f"n{i}", cpu="1") for i in range(4)],
        [],
        pod(cpu="2", preemptionPolicy="Never"),
    ),
    ("no nodes", [], [], pod()),
]


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize(
    ("nodes", "bound", "incoming"), [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES]
)
def test_no_node_fitting_gives_upstreams_message_over_every_node(
    k: int, nodes: list[dict[str, Any]], bound: list[tuple[dict[str, Any], str]], incoming: dict[str, Any]
) -> None:
    expected = schedule_one(incoming, table_of(nodes, bound), rng=random.Random(0)).message
    (choice,), _ = sharded([incoming], split(nodes, k, bound))
    assert (choice.node, choice.retry) == (None, False)
    assert choice.message == expected


def test_a_reservation_that_no_longer_fits_is_refused_so_no_node_is_overcommitted() -> None:
    table = table_of([node("n1", cpu="1", pods="2")])
    first, second, third = pod("a", cpu="600m"), pod("b", cpu="600m"), pod("c", cpu="400m")
    assert shards.reserve(table, first, "n1")
    assert not shards.reserve(table, second, "n1")  # the race: both were picked from the same snapshot
    assert shards.reserve(table, third, "n1")
    assert shards.reserve(table, first, "n1")  # the same reservation again changes nothing
    assert not shards.reserve(table, pod("d", cpu="0"), "n1")  # no pod slot left
    assert not shards.reserve(table, pod("e"), "gone")
    assert (table.req_cpu[0], table.req_pods[0]) == (1000, 2)


def test_a_batch_sees_the_nodes_held_for_earlier_pods_and_leaves_the_table_as_it_was() -> None:
    table = table_of([node("n1", cpu="1"), node("n2", cpu="1")])
    batch = [pod(f"p{i}", cpu="600m") for i in range(3)]
    verdicts = shards.evaluate(
        table, batch, rng=random.Random(0), state=SchedulerState(), num_to_find=2, num_all_nodes=2
    )
    assert sorted(v.node for v in verdicts[:2]) == ["n1", "n2"]
    assert (verdicts[2].node, verdicts[2].reasons) == ("", {"Insufficient cpu": 2})
    assert table.req_cpu[table.rows()].tolist() == [0, 0]


def test_an_answer_from_stale_holds_is_tried_again_and_the_first_of_a_batch_is_exact() -> None:
    nodes = [node("n0", cpu="1"), node("n1", cpu="1")]  # one node per shard
    tables = split(nodes, 2)
    batch = [pod(f"p{i}", cpu="600m") for i in range(3)]
    picks, _ = sharded(batch, tables)
    assert picks[0].node in ("n0", "n1")
    assert [p.retry for p in picks[1:]] == [True, True]  # the other shard held its node for p0 in vain

    first = picks[0].node
    assert first is not None and shards.reserve(tables[coordinator.owner(first, 2)], batch[0], first)
    again, _ = sharded(batch[1:], tables)
    assert again[0].node == ({"n0", "n1"} - {first}).pop()
    assert not again[1].retry
    assert again[1].message == (
        f"0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 {NO_VICTIMS}."
    )


def _owned(kind: str) -> dict[str, Any]:
    owned = pod("o")
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": kind, "uid": "u", "controller": True}
    ]
    return owned


def _anti(app: str) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def _labelled(app: str) -> dict[str, Any]:
    labelled = pod("l")
    labelled["metadata"]["labels"] = {"app": app}
    return labelled


PLAIN_NODES = [node("n1"), node("n2", labels={"zone": "a"})]
ROUTING = [
    ("plain", pod(cpu="1"), PLAIN_NODES, [], False),
    (
        "nodeSelector and required node affinity",
        pod(nodeSelector={"zone": "a"}, affinity=required({"matchExpressions": [expr("zone", "In", "a")]})),
        PLAIN_NODES,
        [],
        False,
    ),
    (
        "preferred node affinity: normalised over all nodes",
        pod(
            affinity={
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 5, "preference": {"matchExpressions": [expr("zone", "In", "a")]}}
                    ]
                }
            }
        ),
        PLAIN_NODES,
        [],
        True,
    ),
    ("a ReplicaSet's pod: system default spreading", _owned("ReplicaSet"), PLAIN_NODES, [], True),
    ("a pod of another owner", _owned("DaemonSet"), PLAIN_NODES, [], False),
    (
        "topology spread constraints",
        pod(
            topologySpreadConstraints=[
                {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
            ]
        ),
        PLAIN_NODES,
        [],
        True,
    ),
    ("pod anti-affinity of its own", pod(affinity=_anti("web")), PLAIN_NODES, [], True),
    (
        "an existing pod's anti-affinity selects it",
        _labelled("web"),
        PLAIN_NODES,
        [(pod("x", affinity=_anti("web")), "n1")],
        True,
    ),
    (
        "an existing pod's anti-affinity selects others",
        _labelled("db"),
        PLAIN_NODES,
        [(pod("x", affinity=_anti("web")), "n1")],
        False,
    ),
    (
        "an untolerated PreferNoSchedule taint",
        pod(),
        [node("n1", taints=[taint("t", effect="PreferNoSchedule")])],
        [],
        True,
    ),
    (
        "a tolerated PreferNoSchedule taint",
        pod(tolerations=[{"key": "t", "operator": "Exists"}]),
        [node("n1", taints=[taint("t", effect="PreferNoSchedule")])],
        [],
        False,
    ),
]


@pytest.mark.parametrize(
    ("incoming", "nodes", "bound", "whole"), [r[1:] for r in ROUTING], ids=[r[0] for r in ROUTING]
)
def test_pods_whose_plugins_read_several_nodes_are_scheduled_on_the_whole_cache(
    incoming: dict[str, Any],
    nodes: list[dict[str, Any]],
    bound: list[tuple[dict[str, Any], str]],
    whole: bool,
) -> None:
    assert coordinator.needs_whole_cluster(incoming, table_of(nodes, bound)) is whole


def test_a_nominated_pod_is_scheduled_on_the_whole_cache() -> None:
    nominated = pod()
    nominated["status"] = {"nominatedNodeName": "n1"}
    assert coordinator.needs_whole_cluster(nominated, table_of(PLAIN_NODES))


# --- the actors: a store, an apiserver, fake nodes and a sharded scheduler ---------------------------------


async def test_a_pod_bound_elsewhere_meanwhile_makes_the_shard_refuse_the_reservation() -> None:
    system = create_system("local", SystemConfig(seed=1))
    async with system:
        shard = await system.spawn("scheduler-shard-0", shards.SchedulerShard)
        await shard.call("reset", "epoch-1")
        x = shards.Change(op=shards.NODE, obj=coordinator.slim_node(node("x", cpu="1")))
        mine = pod("mine", cpu="600m")
        reply = await shard.call("step", "epoch-1", [x], [], [mine], 100, 1)
        assert [v.node for v in reply.verdicts] == ["x"]
        # before the pick comes back as a reservation, another binding takes the room on x
        other = shards.Change(op=shards.POD, obj=pod("other", cpu="600m"), node="x")
        reservation = shards.Reservation(pod=mine, node="x")
        reply = await shard.call("step", "epoch-1", [other], [reservation], [], 100, 1)
        assert reply.reserved == [False]
        assert (await shard.call("stats"))["refused"] == 1
        with pytest.raises(shards.ShardOutOfSync):  # a coordinator that restarted must reset it first
            await shard.call("step", "epoch-0", [], [], [], 100, 1)


@pytest.fixture
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, time_scale=SCALE)
    try:
        yield running
    finally:
        await system.shutdown()


def api_node(i: int, cpu: str, memory: str, zone: str) -> dict[str, Any]:
    resources = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {
        "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}", "zone": zone}},
        "status": {"capacity": resources, "allocatable": resources},
    }


def api_pod(name: str, cpu: str, memory: str = "64Mi", **spec: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "nginx:1.25",
        "resources": {"requests": {"cpu": cpu, "memory": memory}},
    }
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


async def settled(cluster: Cluster, count: int) -> list[dict[str, Any]] | None:
    """Every pod, once each of the ``count`` is bound or marked unschedulable."""
    pods = (await cluster.apiserver.call("list_objects", "pods", "default"))["items"]
    if len(pods) < count:
        return None
    for p in pods:
        conditions = (p.get("status") or {}).get("conditions") or []
        unschedulable = any(c.get("reason") == "Unschedulable" for c in conditions)
        if not p["spec"].get("nodeName") and not unschedulable:
            return None
    return list(pods)


async def check_quality(cluster: Cluster, pods: list[dict[str, Any]]) -> tuple[int, int]:
    """No node over its allocatable, and no pending pod that one worker would place: (bound, pending)."""
    nodes = (await cluster.apiserver.call("list_objects", "nodes", None))["items"]
    whole = table_of(nodes, [(p, p["spec"]["nodeName"]) for p in pods if p["spec"].get("nodeName")])
    rows = whole.rows()
    assert (whole.req_cpu[rows] <= whole.alloc_cpu[rows]).all()
    assert (whole.req_memory[rows] <= whole.alloc_memory[rows]).all()
    pending = [p for p in pods if not p["spec"].get("nodeName")]
    for p in pending:
        assert schedule_one(p, whole, rng=random.Random(0)).node is None, p["metadata"]["name"]
    return len(pods) - len(pending), len(pending)


SIZES = [("100m", "64Mi"), ("250m", "256Mi"), ("500m", "1Gi"), ("1", "512Mi"), ("1500m", "2Gi")]


@pytest.mark.parametrize("k", [1, 3])
async def test_many_pods_of_mixed_sizes_fill_the_nodes_without_overcommitting_any(
    cluster: Cluster, k: int
) -> None:
    for i in range(12):
        cpu, memory = [("1", "2Gi"), ("2", "4Gi"), ("4", "8Gi")][i % 3]
        await cluster.apiserver.call("create", "nodes", None, api_node(i, cpu, memory, "abc"[i % 4 % 3]))
    rng = random.Random(3)
    for i in range(60):
        cpu, memory = rng.choice(SIZES)
        spec = {"nodeSelector": {"zone": rng.choice("abc")}} if i % 3 == 0 else {}
        await cluster.apiserver.call("create", "pods", "default", api_pod(f"p{i}", cpu, memory, **spec))
    await spawn_scheduler(cluster.system, shards=k)

    pods = await eventually(lambda: settled(cluster, 60), timeout=60)
    bound, pending = await check_quality(cluster, pods)
    assert bound > 20 and pending > 0  # the workload is larger than the cluster
    stats = await cluster.system.ref("scheduler").call("stats")
    assert stats["routed"] == 0
    if k > 1:
        evaluated = [
            (await cluster.system.ref(f"scheduler-shard-{i}").call("stats"))["evaluated"] for i in range(k)
        ]
        assert all(e >= 60 for e in evaluated)  # every shard judged every pod


async def test_pods_racing_for_little_room_take_it_exactly_once(cluster: Cluster) -> None:
    for i in range(4):
        await cluster.apiserver.call("create", "nodes", None, api_node(i, "1", "4Gi", "a"))
    for i in range(20):
        await cluster.apiserver.call("create", "pods", "default", api_pod(f"p{i}", "600m"))
    await spawn_scheduler(cluster.system, shards=3)  # all 20 in the first batch

    pods = await eventually(lambda: settled(cluster, 20), timeout=60)
    assert await check_quality(cluster, pods) == (4, 16)
    assert sorted(p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")) == [
        f"node-{i}" for i in range(4)
    ]


async def test_a_pod_that_fits_nowhere_gets_the_message_over_all_nodes_then_lands_when_room_appears(
    cluster: Cluster,
) -> None:
    for i in range(9):
        await cluster.apiserver.call("create", "nodes", None, api_node(i, "1", "4Gi", "a"))
    await spawn_scheduler(cluster.system, shards=3)
    await cluster.apiserver.call("create", "pods", "default", api_pod("big", "2"))

    async def failed() -> list[str] | None:
        events = (await cluster.apiserver.call("list_objects", "events", "default"))["items"]
        return [e["message"] for e in events if e["reason"] == "FailedScheduling"] or None

    assert (await eventually(failed))[0] == (
        f"0/9 nodes are available: 9 Insufficient cpu. preemption: 0/9 nodes are available: 9 {NO_VICTIMS}."
    )
    await cluster.apiserver.call("create", "nodes", None, api_node(9, "4", "4Gi", "b"))

    async def placed() -> bool:
        big = await cluster.apiserver.call("get", "pods", "default", "big")
        return bool(big["spec"].get("nodeName") == "node-9")

    await eventually(placed)


async def test_a_restarted_shard_is_rebuilt_by_the_coordinators_restart(cluster: Cluster) -> None:
    for i in range(4):
        await cluster.apiserver.call("create", "nodes", None, api_node(i, "2", "4Gi", "a"))
    scheduler = await spawn_scheduler(cluster.system, shards=2)
    await cluster.apiserver.call("create", "pods", "default", api_pod("before", "1"))
    await eventually(lambda: settled(cluster, 1))
    await cluster.system.restart("scheduler-shard-1")
    for i in range(6):
        await cluster.apiserver.call("create", "pods", "default", api_pod(f"after-{i}", "1"))

    pods = await eventually(lambda: settled(cluster, 7), timeout=30)
    assert await check_quality(cluster, pods) == (7, 0)
    assert (await cluster.system.ref("scheduler-shard-1").call("stats"))["nodes"] > 0
    assert (await scheduler.call("stats"))["leading"]


@pytest.mark.ray
async def test_on_ray_the_shards_run_on_other_hosts_and_place_every_pod(tmp_path: pathlib.Path) -> None:
    from actors.apiserver.server import ApiServer
    from consensus.client import wait_for_leader
    from consensus.member import MemberInfo, StoreMember
    from consensus.ports import free_loopback_ports
    from consensus.raft import RaftConfig
    from tests.actors.runtime.conftest import ensure_ray

    ensure_ray()
    system = create_system("ray", SystemConfig(seed=7, call_timeout=30.0, time_scale=SCALE), hosts=3)
    async with system:
        (port,) = free_loopback_ports(1)
        members = [MemberInfo(name="store-0", id=1, peer_url=f"127.0.0.1:{port}")]
        raft = RaftConfig(data_dir=str(tmp_path / "store-0"))
        await system.spawn("store-0", StoreMember, kwargs={"members": members, "raft": raft}, host="host-0")
        await wait_for_leader(system.ref, ["store-0"])
        api = await system.spawn(
            "apiserver-0", ApiServer, kwargs={"store_members": ["store-0"], "port": 0}, host="host-0"
        )
        for i in range(6):
            await api.call("create", "nodes", None, api_node(i, "2", "4Gi", "a"))
        for i in range(30):
            await api.call("create", "pods", "default", api_pod(f"p{i}", "300m"))
        await spawn_scheduler(system, shards=2, host="host-0", shard_hosts=["host-1", "host-2"])
        running = Cluster(system=system, apiserver=api, url="")  # type: ignore[arg-type]

        pods = await eventually(lambda: settled(running, 30), timeout=60)
        assert await check_quality(running, pods) == (30, 0)
        assert {i.name: i.host for i in await system.actors() if "shard" in i.name} == {
            "scheduler-shard-0": "host-1",
            "scheduler-shard-1": "host-2",
        }
        logging.getLogger(__name__).info(
            "ray shards: %s", await system.ref("scheduler-shard-0").call("stats")
        )
