"""The verdicts and scores a table keeps per row (``NodeTable.memo``): a cycle on a table whose memos have
seen every change decides as one on a table that never kept any."""

from __future__ import annotations

import random
from collections.abc import Callable
from operator import methodcaller
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from actors.scheduler.core import SchedulerState, schedule_one
from actors.scheduler.plugins import MOST_ALLOCATED, default_profile
from actors.scheduler.table import CHANGE_LOG, STALE_ROWS, NodeTable
from tests.actors.scheduler.test_plugins import node, pod, taint

Change = Callable[[NodeTable], Any]
ZONES = ("a", "b", "c")
REQUESTS = (
    (None, None),
    ("100m", "128Mi"),
    ("100m", "128Mi"),
    ("1", "1Gi"),
    ("0", None),
    (None, "2Gi"),
    ("3", None),
)


def random_node(r: random.Random, i: int) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": f"n{i}"}
    if r.random() < 0.8:
        labels["zone"] = r.choice(ZONES)
    return node(
        f"n{i}",
        cpu=r.choice(("4", "4", "4", "0", "500m")),
        memory=r.choice(("16Gi", "16Gi", "0", "1Gi")),
        pods=r.choice(("110", "110", "2", "0")),
        labels=labels,
        taints=[taint("dedicated", effect=r.choice(("NoSchedule", "PreferNoSchedule")))]
        if r.random() < 0.2
        else None,
        unschedulable=r.random() < 0.05,
    )


def random_pod(r: random.Random, i: int, names: list[str]) -> dict[str, Any]:
    cpu, memory = r.choice(REQUESTS)
    spec: dict[str, Any] = {}
    x = r.random()
    if x < 0.2:
        spec["nodeSelector"] = {"zone": r.choice(ZONES)}
    elif x < 0.35:
        term = {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": [r.choice(ZONES)]}]}
        if r.random() < 0.3:
            term = {
                "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": [r.choice(names)]}]
            }
        affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
        spec["affinity"] = {"nodeAffinity": affinity}
    if r.random() < 0.2:
        spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    return pod(f"p{i}", cpu=cpu, memory=memory, **spec)


def history(seed: int, nodes: int, steps: int) -> list[Change | dict[str, Any]]:
    """Changes to a table (nodes added, updated and removed, pods going) and pods to schedule, in turn."""
    r = random.Random(seed)
    names = [f"n{i}" for i in range(nodes)]
    out: list[Change | dict[str, Any]] = [
        methodcaller("upsert_node", random_node(r, i)) for i in range(nodes)
    ]
    for i in range(steps):
        x = r.random()
        if x < 0.08:
            out.append(methodcaller("upsert_node", random_node(r, r.randrange(nodes))))
        elif x < 0.12:
            out.append(methodcaller("remove_node", r.choice(names)))
        elif x < 0.2:
            out.append(methodcaller("remove_pod", {"metadata": {"uid": f"uid-p{r.randrange(max(i, 1))}"}}))
        else:
            out.append(random_pod(r, i, names))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_memoised_cycles_decide_as_fresh_ones(seed: int) -> None:
    steps = history(seed, nodes=[3, 40, 120][seed % 3], steps=50)
    profile = default_profile(scoring_strategy=MOST_ALLOCATED) if seed % 4 == 1 else None
    kw: dict[str, Any] = {"profile": profile, "percentage_of_nodes_to_score": [0, 30][seed % 2]}
    kept, state, rng = NodeTable(), SchedulerState(), random.Random(seed)
    done: list[Change] = []  # what happened to ``kept``, to replay on a table that never scheduled
    for at, step in enumerate(steps):
        if callable(step):
            step(kept)
            done.append(step)
            continue
        fresh = NodeTable()
        for change in done:
            change(fresh)
        fresh_rng = random.Random()
        fresh_rng.setstate(rng.getstate())
        expected = schedule_one(
            step, fresh, rng=fresh_rng, state=SchedulerState(state.next_start_node_index), **kw
        )
        decision = schedule_one(step, kept, rng=rng, state=state, **kw)
        assert decision == expected, f"step {at}"
        if decision.node is not None:
            kept.assume(step, decision.node)
            done.append(methodcaller("assume", step, decision.node))


@pytest.mark.parametrize("changes", [1, 3, STALE_ROWS + 1, CHANGE_LOG + 1])
def test_a_memo_computes_again_the_rows_changed(changes: int) -> None:
    table = NodeTable()
    for i in range(400):
        table.upsert_node(node(f"n{i}", cpu="1000", pods="1000"))
    asked: list[int] = []

    def requested(rows: NDArray[np.intp]) -> NDArray[np.int64]:
        asked.append(len(rows))
        values: NDArray[np.int64] = table.req_cpu[rows]
        return values

    rows = table.rows()
    assert table.memo("cpu").get(rows, requested).tolist() == [0] * 400
    for i in range(changes):
        table.assume(pod(f"p{i}", cpu="1"), f"n{i * 7 % 400}")
    asked.clear()
    memo = table.memo("cpu")
    assert memo.get(slice(0, 1), requested).tolist() == table.req_cpu[:1].tolist()
    assert memo.get(rows, requested).tolist() == table.req_cpu[rows].tolist()
    assert memo.get(rows, requested).tolist() == table.req_cpu[rows].tolist()
    # a few changed rows are computed again at once, with the rows asked; many, as they are asked
    assert asked == ([1 + changes] if changes < STALE_ROWS else [1, 399])
