"""A kubelet against a real apiserver and store: it registers its Node, heartbeats, survives restarts and
partitions, and goes quiet when its Node is deleted. The cluster clock runs 100x, so 10 s heartbeats come
every 0.1 s."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.apiserver.server import ApiServer
from actors.kubelet.kubelet import Kubelet
from actors.kubelet.node import NodeConfig
from actors.runtime.local import LocalSystem
from actors.runtime.system import SystemConfig
from consensus.client import wait_for_leader
from consensus.member import MemberInfo, StoreMember
from consensus.ports import free_loopback_ports
from consensus.raft import RaftConfig
from tests.actors.apiserver.conftest import Cluster, eventually, start_cluster

SCALE = 100.0


@pytest.fixture
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, time_scale=SCALE)
    try:
        yield running
    finally:
        await system.shutdown()


async def start_kubelet(cluster: Cluster, name: str = "node-1", **config: Any) -> None:
    await cluster.system.spawn(f"kubelet/{name}", Kubelet, kwargs={"node": NodeConfig(name=name, **config)})


async def node_of(cluster: Cluster, name: str = "node-1") -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await cluster.apiserver.call("get", "nodes", None, name)
        return found
    except Exception:
        return None


async def test_a_kubelet_registers_its_node_ready_with_its_capacity_and_a_lease(cluster: Cluster) -> None:
    await start_kubelet(cluster, cpu="2", memory="8Gi", pods=20, labels=(("disk", "ssd"),))

    async def registered() -> bool:
        return await node_of(cluster) is not None

    await eventually(registered)
    found = await node_of(cluster)
    assert found is not None
    assert found["metadata"]["labels"]["disk"] == "ssd"
    assert found["status"]["capacity"] == {
        "cpu": "2",
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "8Gi",
        "pods": "20",
    }
    ready = next(c for c in found["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"

    async def leased() -> bool:
        try:
            await cluster.apiserver.call("get", "leases", "kube-node-lease", "node-1")
            return True
        except Exception:
            return False

    await eventually(leased)
    lease = await cluster.apiserver.call("get", "leases", "kube-node-lease", "node-1")
    assert lease["spec"]["holderIdentity"] == "node-1"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == found["metadata"]["uid"]


async def renew_time(cluster: Cluster, name: str = "node-1") -> str:
    lease = await cluster.apiserver.call("get", "leases", "kube-node-lease", name)
    return str(lease["spec"]["renewTime"])


async def wait_for_lease(cluster: Cluster, name: str = "node-1") -> str:
    async def leased() -> bool:
        try:
            await renew_time(cluster, name)
            return True
        except Exception:
            return False

    await eventually(leased)
    return await renew_time(cluster, name)


async def test_the_lease_is_renewed_every_ten_seconds_and_the_status_every_five_minutes(
    cluster: Cluster,
) -> None:
    await start_kubelet(cluster)
    first = await wait_for_lease(cluster)

    async def renewed() -> bool:
        return await renew_time(cluster) > first

    await eventually(renewed)  # 10 s of cluster time: 0.1 s here
    kubelet = cluster.system.ref("kubelet/node-1")
    stats = await kubelet.call("stats")
    assert stats["lease_renewals"] >= 2
    assert stats["status_reports"] == 0  # nothing changed and 5 minutes have not passed

    async def reported() -> bool:
        return bool((await kubelet.call("stats"))["status_reports"] >= 1)

    await eventually(reported)  # 300 s of cluster time: 3 s here
    found = await node_of(cluster)
    assert found is not None
    ready = next(c for c in found["status"]["conditions"] if c["type"] == "Ready")
    assert ready["lastHeartbeatTime"] > ready["lastTransitionTime"]


def kubelet_tasks(name: str = "node-1") -> list[str]:
    """The tasks the kubelet actor runs now (the runtime names them ``<actor>:<what>``)."""
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(f"kubelet/{name}:"))


async def test_an_idle_kubelet_holds_no_task_between_beats(cluster: Cluster) -> None:
    """10,000 idle nodes in one process: between heartbeats a node without pods is a timer, not a sleeping
    task (nor a pod loop waiting for pods that never come)."""
    await start_kubelet(cluster)
    first = await wait_for_lease(cluster)

    async def renewed() -> bool:
        return await renew_time(cluster) > first

    await eventually(renewed)
    kubelet = cluster.system.ref("kubelet/node-1")

    async def idle() -> bool:
        return not kubelet_tasks()

    await eventually(idle)
    renewals = (await kubelet.call("stats"))["lease_renewals"]
    await asyncio.sleep(0.35)  # 35 s of cluster time: three or four more beats
    assert 2 <= (await kubelet.call("stats"))["lease_renewals"] - renewals <= 5


async def test_a_killed_kubelet_stops_heartbeating(cluster: Cluster) -> None:
    """Its next beat was a timer, not a task the runtime cancels: the kill must stop it too."""
    await start_kubelet(cluster)
    await wait_for_lease(cluster)
    await cluster.system.kill("kubelet/node-1")
    await asyncio.sleep(0.05)  # a beat in flight when it died ends
    frozen = await renew_time(cluster)
    await asyncio.sleep(0.4)  # 40 s of cluster time: four missed beats
    assert await renew_time(cluster) == frozen
    assert not kubelet_tasks()


async def test_a_paused_kubelet_beats_again_once_resumed(cluster: Cluster) -> None:
    await start_kubelet(cluster)
    await wait_for_lease(cluster)
    await cluster.system.pause("kubelet/node-1")
    await asyncio.sleep(0.05)
    frozen = await renew_time(cluster)
    await asyncio.sleep(0.3)  # 30 s of cluster time
    assert await renew_time(cluster) == frozen
    await cluster.system.resume("kubelet/node-1")

    async def renewed() -> bool:
        return await renew_time(cluster) > frozen

    await eventually(renewed)


async def test_a_restarted_kubelet_takes_its_node_over(cluster: Cluster) -> None:
    await start_kubelet(cluster)
    await wait_for_lease(cluster)
    before = await node_of(cluster)
    assert before is not None
    await cluster.system.restart("kubelet/node-1")

    async def registered_again() -> bool:
        return bool((await cluster.system.ref("kubelet/node-1").call("stats"))["registered"])

    await eventually(registered_again)
    after = await node_of(cluster)
    assert after is not None and after["metadata"]["uid"] == before["metadata"]["uid"]


async def test_a_partitioned_kubelet_stops_heartbeating_and_resumes_when_healed(cluster: Cluster) -> None:
    await start_kubelet(cluster)
    await wait_for_lease(cluster)
    rule = await cluster.system.partition(["kubelet/node-1"], ["apiserver-0"])
    await asyncio.sleep(0.3)  # in flight calls finish or are lost
    frozen = await renew_time(cluster)
    await asyncio.sleep(0.5)  # 50 s of cluster time: five missed beats
    assert await renew_time(cluster) == frozen
    await cluster.system.heal(rule)

    async def renewed() -> bool:
        return await renew_time(cluster) > frozen

    await eventually(renewed, timeout=20.0)


async def test_a_deleted_node_is_not_registered_again(cluster: Cluster) -> None:
    await start_kubelet(cluster)
    await wait_for_lease(cluster)
    await cluster.apiserver.call("delete", "nodes", None, "node-1")

    async def quiet() -> bool:
        return bool((await cluster.system.ref("kubelet/node-1").call("stats"))["gone"])

    await eventually(quiet)  # at its next status report: 5 minutes of cluster time
    await asyncio.sleep(0.3)
    assert await node_of(cluster) is None


async def test_a_kubelet_started_before_the_apiserver_registers_once_it_answers(
    tmp_path: pathlib.Path,
) -> None:
    system = LocalSystem(SystemConfig(seed=7, call_timeout=60.0, time_scale=SCALE))
    async with system:
        await system.spawn("kubelet/node-1", Kubelet, kwargs={"node": NodeConfig(name="node-1")})
        await asyncio.sleep(0.2)
        assert not (await system.ref("kubelet/node-1").call("stats"))["registered"]
        (peer,) = free_loopback_ports(1)
        members = [MemberInfo(name="store-0", id=1, peer_url=f"127.0.0.1:{peer}")]
        raft = RaftConfig(data_dir=str(tmp_path / "store-0"))
        await system.spawn("store-0", StoreMember, kwargs={"members": members, "raft": raft})
        await wait_for_leader(system.ref, ["store-0"])
        api = await system.spawn("apiserver-0", ApiServer, kwargs={"store_members": ["store-0"], "port": 0})

        async def registered() -> bool:
            try:
                await api.call("get", "nodes", None, "node-1")
                return True
            except Exception:
                return False

        await eventually(registered, timeout=20.0)
