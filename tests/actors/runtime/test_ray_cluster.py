"""The Ray backend on a 2-node ``ray.cluster_utils.Cluster``: a Ray node goes, the runtime says who died."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from actors.runtime import errors
from actors.runtime.actor import ActorState
from actors.runtime.faults import FaultKind
from actors.runtime.system import SystemConfig, create_system
from tests.actors.runtime.sample_actors import Echo

pytestmark = pytest.mark.ray


@pytest.fixture
def two_node_cluster() -> Iterator[tuple[Any, Any]]:
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()  # this test owns its Ray: the other tests' local one must go first
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"node-a": 1}})
    worker = cluster.add_node(num_cpus=1, resources={"node-b": 1})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


async def test_removing_a_ray_node_reports_the_actors_that_died_with_it(
    two_node_cluster: tuple[Any, Any],
) -> None:
    cluster, worker = two_node_cluster
    system = create_system(
        "ray",
        SystemConfig(call_timeout=10.0),
        hosts=2,
        host_options=[{"resources": {"node-a": 0.01}}, {"resources": {"node-b": 0.01}}],
    )
    async with system:
        survivor = await system.spawn("apiserver", Echo, host="host-0")
        for i in range(3):
            await system.spawn(f"kubelet/node-{i}", Echo, host="host-1")
        assert await survivor.call("forward", "kubelet/node-1", "up") == "up"

        cluster.remove_node(worker)
        await asyncio.wait_for(system.host_lost.wait(), timeout=60)  # type: ignore[attr-defined]

        died = sorted(t for e in await system.events() if e.kind is FaultKind.DIED for t in e.targets)
        assert died == ["kubelet/node-0", "kubelet/node-1", "kubelet/node-2"]
        states = {i.name: i.state for i in await system.actors()}
        assert states == {
            "apiserver": ActorState.RUNNING,
            "kubelet/node-0": ActorState.DEAD,
            "kubelet/node-1": ActorState.DEAD,
            "kubelet/node-2": ActorState.DEAD,
        }
        with pytest.raises(errors.ActorDead, match="host lost"):
            await survivor.call("forward", "kubelet/node-2", "anyone?")
        with pytest.raises(errors.ActorDead, match="host lost"):
            await system.ref("kubelet/node-0").call("echo", 1)
        assert await survivor.call("echo", "still here") == "still here"
