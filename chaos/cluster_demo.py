"""The cluster part of ``kubemu demo``: the seed's worked example on 3 nodes and a 3-member store.

It applies ``examples/seed/*.yaml`` unchanged (nginx and tomcat Deployments, a mysql StatefulSet behind a
headless Service, a DaemonSet, a CronJob and an HPA), waits for each to come up, then:

1. rolls tomcat to a new image (maxSurge 1, maxUnavailable 0: never fewer than 3 ready, never more than 4
   pods) and rolls it back as ``kubectl rollout undo`` does (the old ReplicaSet's template, revision 3);
2. kills a node's kubelet: after the 40 s grace the node is NotReady and tainted, after the pods' 300 s
   toleration they are evicted; tomcat's pods come back on the other nodes, the bare pod does not;
3. kills the store's leader: the apiserver keeps serving writes and reads through the new leader, and the
   workloads recover (tomcat is scaled to 4 and gets there). At 30x an election of a wall second or two is
   most of a minute of cluster time: leases lapse, the scheduler and controller-manager restart and
   campaign again, nodes may look lost for a moment, and everything must come back by itself.

Every step prints a timestamped line (wall seconds since the start, and cluster time), and a summary table
closes the run; ``run`` returns the checks so the command exits non-zero if any failed. The cluster clock
runs ``time_scale`` times faster than the wall, which is what makes the node failure fit in seconds.
"""

from __future__ import annotations

import asyncio
import pathlib
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import yaml

from actors import control_plane
from actors.kubelet.node import NodeConfig
from actors.kubelet.node_manager import NODE_NETWORK
from actors.runtime.ref import ActorRef
from actors.runtime.system import ActorSystem
from chaos.runtime_demo import Check
from consensus.client import wait_for_leader
from network.cidr import RangeAllocator

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples" / "seed"
T = TypeVar("T")


class Timeline:
    def __init__(self, system: ActorSystem, say: Callable[[str], None]) -> None:
        self.system = system
        self.say = say
        self.wall = time.monotonic()
        self.start = system.clock.now()

    def __call__(self, text: str) -> None:
        cluster = self.system.clock.now() - self.start
        self.say(f"[{time.monotonic() - self.wall:5.1f}s wall | {cluster:6.0f}s cluster] {text}")


async def run(
    system: ActorSystem, *, say: Callable[[str], None] = print, within: float = 60.0
) -> list[Check]:
    checks: list[Check] = []
    line = Timeline(system, say)
    cidrs = RangeAllocator()
    nodes = [
        NodeConfig(
            name=f"node-{i}", internal_ip=str(NODE_NETWORK[i + 2]), pod_cidr=cidrs.allocate(f"node-{i}")
        )
        for i in range(3)
    ]
    with tempfile.TemporaryDirectory(prefix="kubemu-demo-cluster-") as data:
        plane = await control_plane.start(
            system, data_dir=data, nodes=nodes, cidrs=cidrs, image_pull_seconds=1.0, say=line
        )
        api = system.ref("apiserver-0")
        try:
            await _scenario(system, api, line, checks, within)
        finally:
            await plane.stop()
    return checks


async def _scenario(
    system: ActorSystem, api: ActorRef, line: Timeline, checks: list[Check], within: float
) -> None:
    async def check(what: str, probe: Callable[[], Awaitable[T | None]], seconds: float = within) -> T | None:
        found = await _eventually(probe, seconds)
        checks.append(Check(what=what, passed=found is not None))
        line(f"{'✓' if found is not None else '✗'} {what}")
        return found

    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                namespace = (doc.get("metadata") or {}).get("namespace") or "default"
                await api.call("create", doc["kind"], namespace, doc)
        line(f"applied examples/seed/{path.name}")
    bare = {
        "metadata": {"name": "bare"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "100000"]}]},
    }
    await api.call("create", "pods", "default", bare)
    line("created the bare pod 'bare' (no controller)")

    await check("nginx: 2/2 ready", lambda: _ready(api, "deployments", "nginx", 2))
    await check("tomcat: 3/3 ready", lambda: _ready(api, "deployments", "tomcat", 3))
    await check("mysql: mysql-0 and mysql-1 ready", lambda: _ready(api, "statefulsets", "mysql", 2))
    await check("node-agent: one pod per node", lambda: _daemonset(api, 3))
    await check("nginx Service lists 2 endpoints", lambda: _endpoints(api, "nginx", 2))
    await check("backup CronJob ran a Job to completion", lambda: _cron_done(api))
    await check("HPA reads nginx's cpu", lambda: _hpa_reads(api))

    # 1. rolling update, then rollback
    watch = _Counter(api)
    watching = asyncio.ensure_future(watch.run())
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "tomcat", "image": "tomcat:11.0"}]}}}}
    await api.call(
        "patch", "deployments", "default", "tomcat", "application/strategic-merge-patch+json", patch
    )
    line("tomcat: image tomcat:10.1 -> tomcat:11.0")
    await check("tomcat rolled out to tomcat:11.0", lambda: _rolled(api, "tomcat:11.0", "2"))
    watching.cancel()
    checks.append(Check(what="rollout kept 3 ready and at most 4 pods", passed=watch.ok()))
    line(
        f"{'✓' if watch.ok() else '✗'} during the rollout: never under {watch.min_ready} ready, "
        f"at most {watch.max_pods} pods"
    )
    await _undo(api, "tomcat")
    line("tomcat: rollout undo (back to revision 1's template)")
    await check("tomcat rolled back to tomcat:10.1 (revision 3)", lambda: _rolled(api, "tomcat:10.1", "3"))

    # 2. a node dies
    bare_pod = await api.call("get", "pods", "default", "bare")
    victim = bare_pod["spec"]["nodeName"]
    await system.kill(f"kubelet/{victim}")
    line(f"killed kubelet/{victim} (it ran the bare pod)")
    await check(f"{victim} marked NotReady (Unknown) and tainted", lambda: _unreachable(api, victim))
    await check(
        "tomcat back to 3/3 ready on the other nodes",
        lambda: _ready_elsewhere(api, "tomcat", victim, 3),
        within * 2,
    )
    gone = await _bare_gone(api)
    checks.append(Check(what="the bare pod did not come back", passed=gone))
    line(f"{'✓' if gone else '✗'} the bare pod is not running anywhere")

    # 3. the store loses its leader
    leader = await wait_for_leader(system.ref, ["store-0", "store-1", "store-2"])
    await system.kill(leader)
    line(f"killed the store leader {leader}")
    note = {"metadata": {"name": "after-election"}, "data": {"leader": "new"}}
    await _retrying(lambda: api.call("create", "configmaps", "default", note))
    line("wrote a ConfigMap through the apiserver")
    await check("the apiserver reads it back from the new leader", lambda: _configmap(api, "after-election"))
    scale = {"spec": {"replicas": 4}}
    await _retrying(
        lambda: api.call("patch", "deployments", "default", "tomcat", "application/merge-patch+json", scale)
    )
    line("scaled tomcat to 4 (nginx is the HPA's to scale)")
    await check("tomcat: 4/4 ready after the election", lambda: _ready(api, "deployments", "tomcat", 4))


# -- probes (None until the outcome is seen) ----------------------------------------------------------------


async def _eventually(probe: Callable[[], Awaitable[T | None]], seconds: float) -> T | None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = await probe()
        except Exception:  # a probe caught in an election: look again
            found = None
        if found is not None or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def _ready(api: ActorRef, resource: str, name: str, replicas: int) -> bool | None:
    obj = await api.call("get", resource, "default", name)
    st = obj.get("status") or {}
    return True if st.get("readyReplicas") == replicas and st.get("replicas") == replicas else None


async def _daemonset(api: ActorRef, nodes: int) -> bool | None:
    ds = await api.call("get", "daemonsets", "kube-system", "node-agent")
    return True if (ds.get("status") or {}).get("numberReady") == nodes else None


async def _endpoints(api: ActorRef, name: str, count: int) -> bool | None:
    ep = await api.call("get", "endpoints", "default", name)
    addresses = [a for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
    return True if len(addresses) == count else None


async def _cron_done(api: ActorRef) -> bool | None:
    jobs = (await api.call("list_objects", "jobs", "default"))["items"]
    done = [
        j
        for j in jobs
        if any(c.get("type") == "Complete" for c in (j.get("status") or {}).get("conditions") or [])
    ]
    return True if done else None


async def _hpa_reads(api: ActorRef) -> bool | None:
    hpa = await api.call("get", "horizontalpodautoscalers", "default", "nginx")
    for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
        current = (metric.get("resource") or {}).get("current") or {}
        if "averageUtilization" in current:
            return True
    return None


async def _rolled(api: ActorRef, image: str, revision: str) -> bool | None:
    d = await api.call("get", "deployments", "default", "tomcat")
    st = d.get("status") or {}
    if d["spec"]["template"]["spec"]["containers"][0]["image"] != image:
        return None
    if (d["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision") != revision:
        return None
    done = st.get("updatedReplicas") == 3 and st.get("readyReplicas") == 3 and st.get("replicas") == 3
    return True if done else None


async def _unreachable(api: ActorRef, node: str) -> bool | None:
    n = await api.call("get", "nodes", None, node)
    ready = [c for c in (n.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"]
    taints = {t.get("key") for t in (n.get("spec") or {}).get("taints") or []}
    return (
        True
        if ready and ready[0].get("status") == "Unknown" and "node.kubernetes.io/unreachable" in taints
        else None
    )


async def _ready_elsewhere(api: ActorRef, app: str, dead: str, count: int) -> bool | None:
    pods = (await api.call("list_objects", "pods", "default", label_selector=f"app={app}"))["items"]
    ready = [
        p
        for p in pods
        if p["spec"].get("nodeName") != dead
        and not p["metadata"].get("deletionTimestamp")
        and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
    ]
    return True if len(ready) >= count else None


async def _configmap(api: ActorRef, name: str) -> bool | None:
    found = await api.call("get", "configmaps", "default", name)
    return True if (found.get("data") or {}).get("leader") == "new" else None


async def _bare_gone(api: ActorRef) -> bool:
    pods = (await api.call("list_objects", "pods", "default"))["items"]
    bare = [p for p in pods if p["metadata"]["name"] == "bare"]
    return not bare or bool(bare[0]["metadata"].get("deletionTimestamp"))


async def _undo(api: ActorRef, name: str) -> None:
    """``kubectl rollout undo``: copy the previous revision's ReplicaSet template into the Deployment."""
    deployment = await api.call("get", "deployments", "default", name)
    uid = deployment["metadata"]["uid"]
    current = (deployment["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
    owned = [
        rs
        for rs in (await api.call("list_objects", "replicasets", "default"))["items"]
        if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
    ]

    def revision(rs: dict[str, Any]) -> int:
        return int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0"))

    previous = max((rs for rs in owned if str(revision(rs)) != current), key=revision)
    template = previous["spec"]["template"]
    template["metadata"]["labels"].pop("pod-template-hash", None)
    await api.call(
        "patch",
        "deployments",
        "default",
        name,
        "application/merge-patch+json",
        {"spec": {"template": template}},
    )


async def _retrying(write: Callable[[], Awaitable[Any]]) -> Any:
    for _ in range(50):
        try:
            return await write()
        except Exception:  # caught in the election: the write is retried, as a client retries
            await asyncio.sleep(0.2)
    return await write()


class _Counter:
    """Samples tomcat's pods during the rollout: the fewest ready and the most pods seen."""

    def __init__(self, api: ActorRef) -> None:
        self.api = api
        self.min_ready = 3
        self.max_pods = 0

    async def run(self) -> None:
        while True:
            pods = (await self.api.call("list_objects", "pods", "default", label_selector="app=tomcat"))[
                "items"
            ]
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            ready = [
                p
                for p in live
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or []
                )
            ]
            self.max_pods = max(self.max_pods, len(live))
            self.min_ready = min(self.min_ready, len(ready))
            await asyncio.sleep(0.05)

    def ok(self) -> bool:
        return self.min_ready >= 3 and self.max_pods <= 4
