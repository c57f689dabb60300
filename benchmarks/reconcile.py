"""Reconcile: a Deployment scaled from 0 to N replicas on M nodes, then rolled, end to end.

The whole cluster of ``kubemu up`` starts (``actors.control_plane.start``: a 3-member store, the apiserver,
the scheduler, kube-controller-manager, node lifecycle, metrics-server and a kubelet per node) with no
image-pull delay. A Deployment ``bench`` (0 replicas, the default RollingUpdate strategy: 25 % surge, 25 %
unavailable) and a Service selecting its pods are created, then two phases are timed:

1. **scale**: ``spec.replicas`` 0 -> N. Done when N pods are Running and Ready, the Service's
   EndpointSlices list exactly those N pods as ready (its Endpoints the first ``min(N, 1000)``: upstream's
   ``maxCapacity``) and the Deployment's status says N ready, available and up to date;
2. **rollout**: an env var of the pod template changes. Done when N pods of the new template are Running
   and Ready, the EndpointSlices list exactly them, and the Deployment reports
   ``updatedReplicas == readyReplicas == availableReplicas == replicas == N`` with every old ReplicaSet at 0.

A ``Watcher`` actor observes it all through internal watches (informers, as a controller would) and stamps
every first sighting on the cluster clock: a pod's creation, its binding, its first Running-and-Ready.
Pod startup latency is upstream's (clusterloader2's ``pod_startup``): the time the watcher sees the pod
Running and Ready minus its ``creationTimestamp`` (whole seconds, so it reads up to 1 s long); the
``watched`` latency is from the watcher's first sighting of the pod instead (no rounding, but it starts
only once the pod's ADDED event arrives). Every figure is in wall seconds (cluster seconds divided by
``--time-scale``). ``cpu s`` is this process's CPU time in the phase (local backend: the whole cluster),
``cpu ms/pod`` the same per pod of the phase; ``writes/pod`` counts every store write of the phase (the
store's revision moved by it: pods, bindings, status updates, events, EndpointSlices, heartbeats) per pod.

Anchors: upstream's SLO is pod startup p99 <= 5 s; a default kube-controller-manager creates about 20 pods/s.
Goal: >= 1,000 pods/s end to end (10,000 pods Ready in <= 10 s) with startup p99 <= 5 s, on 2 cores.
Prints a progress line every second, a table, and writes JSON with ``--out``.
Run: ``python -m benchmarks.reconcile --nodes 20 --replicas 200`` or ``kubemu bench reconcile``.

At the end it says why any pod of the phase is not Running and Ready, how late the event loop ran, and which
control-plane actors restarted (a lost leader lease restarts the scheduler or kube-controller-manager).
One module, past 600 lines on purpose: the ``Watcher`` actor and the driver share the phases' vocabulary,
and Ray hosts import the actor by this module's name.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import math
import os
import resource
import tempfile
import time
from typing import Any

from actors.controllers import framework, informer
from actors.runtime.actor import Actor
from actors.runtime.ref import ActorRef
from actors.runtime.system import ActorSystem
from benchmarks.common import percentile, print_table, write_json
from kube import meta

NAMESPACE = "default"
APP = "bench"  # the Deployment's, the Service's and the pods' app label
MAX_ENDPOINTS = 1000  # an Endpoints object holds at most this many addresses (upstream's maxCapacity)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
HASH_LABEL = "pod-template-hash"
RESOURCES = ("pods", "endpointslices", "endpoints", "deployments", "replicasets", "nodes")
MILESTONES = ("created", "scheduled", "ready", "endpointslices", "endpoints", "deployment")
DONE_WHEN = ("ready", "endpointslices", "endpoints", "deployment")
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def deployment(replicas: int) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "nginx:1.25",
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [{"name": "ROLL", "value": "0"}],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "labels": {"app": APP}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP}},
            "template": {"metadata": {"labels": {"app": APP}}, "spec": {"containers": [container]}},
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": APP},
        "spec": {"selector": {"app": APP}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def _running_and_ready(pod: framework.Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())


@dataclasses.dataclass(slots=True, kw_only=True)
class _Phase:
    """What the watcher has seen of one phase; times are cluster seconds since the Unix epoch."""

    name: str
    target: int
    started: float
    min_generation: int  # the Deployment's generation that the phase's change gives it
    old_hashes: frozenset[str]  # the pod-template-hash of every pod that is not the phase's own
    seen: dict[str, float] = dataclasses.field(default_factory=dict)  # uid -> first sighting
    bound: dict[str, float] = dataclasses.field(default_factory=dict)  # uid -> first seen with a node
    ready: dict[str, float] = dataclasses.field(default_factory=dict)  # uid -> first Running and Ready
    startup: list[float] = dataclasses.field(default_factory=list)  # ready - creationTimestamp
    ready_live: set[str] = dataclasses.field(default_factory=set)  # Running, Ready, not terminating now
    old_live: set[str] = dataclasses.field(default_factory=set)  # the old template's pods still there
    at: dict[str, float] = dataclasses.field(default_factory=dict)  # milestone -> when first reached
    readiness_lost: int = 0  # times a Ready pod of the phase was seen not Ready (and not terminating)


class Watcher(Actor):
    """Watches the benchmark's objects and stamps each milestone of the current phase (see the module)."""

    def __init__(self, *, apiserver: str = "apiserver-0") -> None:
        self.apiserver = apiserver
        self.informers = informer.InformerSet(RESOURCES, watcher="", method="on_watch_events")
        self.informers.add_handler(self._on_event)
        self.phase: _Phase | None = None
        self._slices: dict[str, set[str]] = {}  # EndpointSlice key -> uids of its ready endpoints
        self._in_slices = 0  # the sum of their sizes
        self._endpoints: set[str] = set()  # uids of the Endpoints' ready addresses
        self._nodes_not_ready: set[str] = set()  # Nodes whose Ready condition is not True
        self._resync = asyncio.Event()

    async def on_start(self) -> None:
        self.informers.watcher = self.name

    async def run(self) -> None:
        api = self.ref(self.apiserver)
        while True:
            try:
                await self.informers.sync(api)
            except Exception:  # the apiserver is busy or away: list and watch again soon
                await self.sleep(1.0)
                continue
            self._resync.clear()
            await self._resync.wait()

    def on_watch_events(self, watch_id: int, events: list[tuple[str, framework.Obj]]) -> None:
        if not self.informers.deliver(watch_id, events):
            self._resync.set()

    # -- the driver's calls --------------------------------------------------------------------------------

    async def synced(self) -> bool:
        return self.informers.has_synced and self.informers.watching

    async def begin(self, *, name: str, target: int, min_generation: int) -> None:
        """Start a phase: the pods there now are its old pods; call it just before the change."""
        pods = [p for p in self.informers.cache.objects("pods", NAMESPACE) if _ours(p)]
        old = frozenset(meta.labels_of(p).get(HASH_LABEL, "") for p in pods)
        self.phase = _Phase(
            name=name, target=target, started=self.clock.now(), min_generation=min_generation, old_hashes=old
        )
        for pod in pods:
            self._on_pod(informer.MODIFIED, pod)

    async def progress(self) -> dict[str, Any]:
        phase = self.phase
        if phase is None:
            return {}
        found = self.informers.cache.get("deployments", NAMESPACE, APP) or {}
        status = found.get("status") or {}
        return {
            "elapsed": self._wall(self.clock.now() - phase.started),
            "created": len(phase.seen),
            "scheduled": len(phase.bound),
            "ready": len(phase.ready_live),
            "in_slices": self._in_slices,
            "old_pods": len(phase.old_live),
            "deployment_ready": int(status.get("readyReplicas") or 0),
            "deployment_updated": int(status.get("updatedReplicas") or 0),
            "nodes_not_ready": len(self._nodes_not_ready),
            "readiness_lost": phase.readiness_lost,
            "done": all(m in phase.at for m in DONE_WHEN),
        }

    async def report(self) -> dict[str, Any]:
        """The phase's figures: each milestone's wall seconds from the start, and latency percentiles."""
        phase = self.phase
        assert phase is not None
        row: dict[str, Any] = {"phase": phase.name, "pods": phase.target}
        for milestone in (*MILESTONES, "old_pods_gone"):
            at = phase.at.get(milestone)
            row[f"{milestone}_s"] = None if at is None else self._wall(at - phase.started)
        done = [phase.at[m] for m in DONE_WHEN if m in phase.at]
        row["done_s"] = self._wall(max(done) - phase.started) if len(done) == len(DONE_WHEN) else None
        row["pods_per_s"] = phase.target / row["ready_s"] if row["ready_s"] else None
        startup = sorted(self._wall(s) for s in phase.startup)
        watched = sorted(self._wall(phase.ready[u] - phase.seen[u]) for u in phase.ready if u in phase.seen)
        to_bind = sorted(self._wall(phase.bound[u] - phase.seen[u]) for u in phase.bound if u in phase.seen)
        to_run = sorted(self._wall(phase.ready[u] - phase.bound[u]) for u in phase.ready if u in phase.bound)
        for label, values in (
            ("startup", startup),
            ("watched", watched),
            ("created_to_bound", to_bind),
            ("bound_to_ready", to_run),
        ):
            row[f"{label}_p50_s"] = percentile(values, 0.5)
            row[f"{label}_p99_s"] = percentile(values, 0.99)
        row["ready_pods"] = len(phase.ready_live)
        row["readiness_lost"] = phase.readiness_lost
        row["nodes_not_ready"] = len(self._nodes_not_ready)
        row["not_ready"] = self._not_ready(phase)
        return row

    def _not_ready(self, phase: _Phase) -> dict[str, int]:
        """Why the phase's pods that are not Running and Ready are not: a count per phase and reason."""
        reasons: collections.Counter[str] = collections.Counter()
        for pod in self.informers.cache.objects("pods", NAMESPACE):
            md = pod["metadata"]
            if not _ours(pod) or md["uid"] in phase.ready_live:
                continue
            if meta.labels_of(pod).get(HASH_LABEL, "") in phase.old_hashes:
                continue
            status = pod.get("status") or {}
            if md.get("deletionTimestamp"):
                reasons["Terminating"] += 1
            elif not (pod.get("spec") or {}).get("nodeName"):
                reasons["Pending, not bound"] += 1
            else:
                ready = [c for c in status.get("conditions") or () if c.get("type") == "Ready"]
                why = (
                    f"Ready={ready[0].get('status')} {ready[0].get('reason') or ''}".strip() if ready else ""
                )
                reasons[f"{status.get('phase')} {why}".strip()] += 1
        return dict(reasons.most_common(8))

    def stats(self) -> dict[str, Any]:
        return {
            "informers": self.informers.stats(),
            "slices": len(self._slices),
            "in_slices": self._in_slices,
        }

    # -- events --------------------------------------------------------------------------------------------

    def _on_event(self, resource: str, kind: str, obj: framework.Obj, old: framework.Obj | None) -> None:
        if resource != "nodes" and (obj.get("metadata") or {}).get("namespace") != NAMESPACE:
            return
        if resource == "pods":
            if _ours(obj):
                self._on_pod(kind, obj)
        elif resource == "endpointslices":
            if meta.labels_of(obj).get(SERVICE_NAME_LABEL) == APP:
                self._on_slice(kind, obj)
        elif resource == "endpoints" and obj["metadata"].get("name") == APP:
            self._endpoints = _ready_addresses(obj) if kind != informer.DELETED else set()
        elif resource == "nodes":
            name = obj["metadata"]["name"]
            if kind == informer.DELETED or _node_ready(obj):
                self._nodes_not_ready.discard(name)
            else:
                self._nodes_not_ready.add(name)
        if self.phase is not None:
            self._check(self.phase)

    def _on_pod(self, kind: str, pod: framework.Obj) -> None:
        phase = self.phase
        if phase is None:
            return
        md = pod["metadata"]
        uid = md["uid"]
        live = kind != informer.DELETED and not md.get("deletionTimestamp")
        if meta.labels_of(pod).get(HASH_LABEL, "") in phase.old_hashes:
            if live:
                phase.old_live.add(uid)
            else:
                phase.old_live.discard(uid)
            return
        now = self.clock.now()
        phase.seen.setdefault(uid, now)
        if (pod.get("spec") or {}).get("nodeName"):
            phase.bound.setdefault(uid, now)
        if live and _running_and_ready(pod):
            if uid not in phase.ready:
                phase.ready[uid] = now
                phase.startup.append(now - meta.parse_rfc3339(md["creationTimestamp"]))
            phase.ready_live.add(uid)
        elif uid in phase.ready_live:
            phase.ready_live.discard(uid)
            phase.readiness_lost += live

    def _on_slice(self, kind: str, obj: framework.Obj) -> None:
        key = framework.key_of(obj)
        before = self._slices.pop(key, None)
        if before is not None:
            self._in_slices -= len(before)
        if kind != informer.DELETED:
            uids = {
                str((ep.get("targetRef") or {}).get("uid"))
                for ep in obj.get("endpoints") or ()
                if (ep.get("conditions") or {}).get("ready")
            }
            self._slices[key] = uids
            self._in_slices += len(uids)

    def _check(self, phase: _Phase) -> None:
        """Stamp each milestone the first time it holds (cheap counts first; a set comparison at the end)."""
        now, target, at = self.clock.now(), phase.target, phase.at
        if "created" not in at and len(phase.seen) >= target:
            at["created"] = now
        if "scheduled" not in at and len(phase.bound) >= target:
            at["scheduled"] = now
        if "ready" not in at and len(phase.ready_live) >= target:
            at["ready"] = now
        if "old_pods_gone" not in at and phase.old_hashes and not phase.old_live:
            at["old_pods_gone"] = now
        complete = len(phase.ready_live) == target
        if "endpointslices" not in at and complete and self._in_slices == target:
            listed: set[str] = set().union(*self._slices.values())
            if listed == phase.ready_live:
                at["endpointslices"] = now
        if (
            "endpoints" not in at
            and complete
            and len(self._endpoints) == min(target, MAX_ENDPOINTS)
            and self._endpoints <= phase.ready_live
        ):
            at["endpoints"] = now
        if "deployment" not in at and self._deployment_done(phase):
            at["deployment"] = now

    def _deployment_done(self, phase: _Phase) -> bool:
        found = self.informers.cache.get("deployments", NAMESPACE, APP)
        if found is None or int(found["metadata"].get("generation") or 0) < phase.min_generation:
            return False
        status = found.get("status") or {}
        if int(status.get("observedGeneration") or 0) < int(found["metadata"]["generation"]):
            return False
        counts = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        if any(int(status.get(c) or 0) != phase.target for c in counts):
            return False
        old = [
            rs
            for rs in self.informers.cache.objects("replicasets", NAMESPACE)
            if _ours(rs) and meta.labels_of(rs).get(HASH_LABEL, "") in phase.old_hashes
        ]
        return not any(
            int((rs.get("spec") or {}).get("replicas") or 0)
            or int((rs.get("status") or {}).get("replicas") or 0)
            for rs in old
        )

    def _wall(self, cluster_seconds: float) -> float:
        return cluster_seconds / self.clock.time_scale


def _node_ready(node: framework.Obj) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _ours(obj: framework.Obj) -> bool:
    return meta.labels_of(obj).get("app") == APP


def _ready_addresses(endpoints: framework.Obj) -> set[str]:
    return {
        str((address.get("targetRef") or {}).get("uid"))
        for subset in endpoints.get("subsets") or ()
        for address in subset.get("addresses") or ()
    }


# -- the driver ----------------------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Say:
    """control_plane's progress lines, the node count at most once a second."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if "registered" in text and now - self._last < 1.0 and "/" in text:
            done, _, total = text.split()[-2].partition("/")
            if done != total:
                return
        self._last = now
        print(f"  {text.strip()}", flush=True)


def node_configs(nodes: int, replicas: int, cidrs: Any) -> list[Any]:
    """``nodes`` NodeConfigs, each with room for its share of the pods during a rollout's surge and a podCIDR
    from ``cidrs`` (a ``RangeAllocator``)."""
    from actors.kubelet.node import NodeConfig
    from actors.kubelet.node_manager import NODE_NETWORK

    pods = max(110, math.ceil(replicas * 1.5 / nodes) + 10)
    return [
        NodeConfig(
            name=f"node-{i}",
            pods=pods,
            internal_ip=str(NODE_NETWORK[i + 2]),
            pod_cidr=cidrs.allocate(f"node-{i}"),
        )
        for i in range(nodes)
    ]


async def _phase(
    system: ActorSystem,
    api: ActorRef,
    watcher: ActorRef,
    *,
    name: str,
    target: int,
    patch: tuple[str, dict[str, Any]],
    deadline: float,
) -> dict[str, Any]:
    current = await api.call("get", "deployments", NAMESPACE, APP)
    generation = int(current["metadata"].get("generation") or 0) + 1
    await watcher.call("begin", name=name, target=target, min_generation=generation)
    revision = await _store_revision(api)
    cpu, began = _cpu_seconds(), time.monotonic()
    await api.call("patch", "deployments", NAMESPACE, APP, patch[0], patch[1])
    timed_out, lag = False, 0.0
    while True:
        asked = time.monotonic()
        await asyncio.sleep(1.0)
        lag = max(lag, time.monotonic() - asked - 1.0)  # local backend: how late this loop runs callbacks
        seen = await watcher.call("progress")
        print(
            f"  {name}: {seen['elapsed']:6.1f} s  created {seen['created']:,}"
            f"  scheduled {seen['scheduled']:,}  ready {seen['ready']:,}/{target:,}"
            f"  in slices {seen['in_slices']:,}"
            f"  deployment ready {seen['deployment_ready']:,} updated {seen['deployment_updated']:,}"
            + (f"  old pods {seen['old_pods']:,}" if name != "scale" else "")
            + (f"  nodes not ready {seen['nodes_not_ready']:,}" if seen["nodes_not_ready"] else "")
            + (f"  readiness lost {seen['readiness_lost']:,}" if seen["readiness_lost"] else ""),
            flush=True,
        )
        if seen["done"]:
            break
        if time.monotonic() > deadline:
            timed_out = True
            print(f"  {name}: out of time (--timeout)", flush=True)
            break
    wall = time.monotonic() - began
    row: dict[str, Any] = await watcher.call("report")
    row["timed_out"] = timed_out
    row["store_writes"] = await _store_revision(api) - revision
    row["writes_per_pod"] = row["store_writes"] / max(target, 1)
    if system.backend == "local":  # the whole cluster runs on this process's loop
        row["cpu_s"] = _cpu_seconds() - cpu
        row["cores"] = row["cpu_s"] / wall
        row["cpu_ms_per_pod"] = 1000 * row["cpu_s"] / max(target, 1)
        row["loop_lag_max_s"] = lag
    return row


async def _store_revision(api: ActorRef) -> int:
    """The store's revision now (a quorum list: every write of the cluster bumps it by one)."""
    listed = await api.call("list_objects", "namespaces", None, limit=1)
    return int(listed["metadata"]["resourceVersion"])


async def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from actors import control_plane
    from actors.runtime.system import SystemConfig, create_system
    from network.cidr import RangeAllocator

    deadline = time.monotonic() + args.timeout
    config = SystemConfig(time_scale=args.time_scale, call_timeout=600)
    options: dict[str, Any] = {"hosts": 2, "num_cpus": os.cpu_count()} if args.backend == "ray" else {}
    system = create_system(args.backend, config, **options)
    cidrs = RangeAllocator("10.0.0.0/8")  # the default 10.244.0.0/16 has 256 /24s: too few for 1,000 nodes
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    tmp_root = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="kubemu-reconcile-", dir=tmp_root) as data:
        async with system:
            began = time.monotonic()
            plane = await asyncio.wait_for(
                control_plane.start(
                    system,
                    data_dir=data,
                    nodes=node_configs(args.nodes, args.replicas, cidrs),
                    cidrs=cidrs,
                    image_pull_seconds=0.0,
                    say=_Say(),
                ),
                timeout=max(1.0, deadline - time.monotonic()),
            )
            try:
                api = system.ref("apiserver-0")
                watcher = await system.spawn("bench-watcher", Watcher)
                await api.call("create", "services", NAMESPACE, service())
                await api.call("create", "deployments", NAMESPACE, deployment(0))
                await _settled(system, watcher, args.nodes, deadline)
                extra["startup_s"] = time.monotonic() - began
                print(
                    f"  cluster up in {extra['startup_s']:.1f} s; scaling 0 -> {args.replicas:,}", flush=True
                )
                env = {"name": "app", "env": [{"name": "ROLL", "value": "1"}]}
                phases = [
                    ("scale", MERGE_PATCH, {"spec": {"replicas": args.replicas}}),
                    ("rollout", STRATEGIC_PATCH, {"spec": {"template": {"spec": {"containers": [env]}}}}),
                ]
                for name, content_type, body in phases[: 1 if args.no_rollout else 2]:
                    patch = (content_type, body)
                    row = await _phase(
                        system, api, watcher, name=name, target=args.replicas, patch=patch, deadline=deadline
                    )
                    rows.append(row)
                    if row["timed_out"]:
                        break
                extra["scheduler"] = await system.ref("scheduler").call("stats")
                manager = await system.ref("kube-controller-manager").call("stats")
                extra["controllers"] = {
                    name: {k: v for k, v in c.items() if k != "queue"}
                    for name, c in manager["controllers"].items()
                }
                extra["apiserver_store"] = (await api.call("info"))["store"]
                infos = await system.actors()
                extra["restarts"] = {i.name: i.restarts for i in infos if i.restarts and "/" not in i.name}
                extra["kubelet_restarts"] = sum(i.restarts for i in infos if i.name.startswith("kubelet/"))
            finally:
                await plane.stop()
    return rows, extra


async def _settled(system: ActorSystem, watcher: ActorRef, nodes: int, deadline: float) -> None:
    """Wait until the scheduler knows every node, the controllers and the watcher have synced, and the
    Deployment has its (empty) ReplicaSet: the clock of the first phase then times only the scale-up."""
    api = system.ref("apiserver-0")
    while time.monotonic() < deadline:
        scheduler = await system.ref("scheduler").call("stats")
        manager = await system.ref("kube-controller-manager").call("stats")
        found = await api.call("get", "deployments", NAMESPACE, APP)
        sets = await api.call("list_objects", "replicasets", NAMESPACE, label_selector=f"app={APP}")
        if (
            scheduler["nodes"] >= nodes
            and manager["leading"]
            and manager["synced"]
            and await watcher.call("synced")
            and (found.get("status") or {}).get("observedGeneration") == found["metadata"].get("generation")
            and sets["items"]
        ):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the cluster did not settle before --timeout")


COLUMNS = [
    ("phase", "PHASE"),
    ("pods", "PODS"),
    ("created_s", "CREATED S"),
    ("scheduled_s", "SCHEDULED S"),
    ("ready_s", "READY S"),
    ("endpointslices_s", "SLICES S"),
    ("deployment_s", "DEPLOYMENT S"),
    ("done_s", "DONE S"),
    ("pods_per_s", "PODS/S"),
    ("startup_p50_s", "STARTUP P50 S"),
    ("startup_p99_s", "STARTUP P99 S"),
    ("watched_p99_s", "WATCHED P99 S"),
    ("cpu_s", "CPU S"),
    ("cpu_ms_per_pod", "CPU MS/POD"),
    ("writes_per_pod", "WRITES/POD"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1000, help="emulated nodes (default 1000)")
    parser.add_argument(
        "--replicas", type=int, default=10_000, help="the Deployment's replicas (default 10000)"
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="cluster seconds per wall second (default 1)"
    )
    parser.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: the whole cluster in this process; ray: 2 Ray host processes (default local)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="wall seconds for the whole run (default 900)"
    )
    parser.add_argument("--no-rollout", action="store_true", help="time the scale-up only")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.nodes < 1 or args.replicas < 1:
        parser.error("--nodes and --replicas must be at least 1")
    print(
        f"reconcile: {args.replicas:,} replicas on {args.nodes:,} nodes, 3 store members, "
        f"backend {args.backend}, time scale {args.time_scale:g}",
        flush=True,
    )
    rows, extra = asyncio.run(run(args))
    print()
    print_table(rows, COLUMNS)
    for row in rows:
        print(
            f"  {row['phase']}: created->bound p50/p99 {row['created_to_bound_p50_s']:.2f}/"
            f"{row['created_to_bound_p99_s']:.2f} s, bound->ready {row['bound_to_ready_p50_s']:.2f}/"
            f"{row['bound_to_ready_p99_s']:.2f} s, endpoints (first {MAX_ENDPOINTS:,}) at "
            f"{_seconds(row['endpoints_s'])}, old pods gone at {_seconds(row['old_pods_gone_s'])}; "
            f"event loop late by up to {_seconds(row.get('loop_lag_max_s'))}, "
            f"{row['readiness_lost']:,} pods lost readiness, "
            f"{row['nodes_not_ready']:,} nodes not ready at the end"
        )
        if row["not_ready"]:
            print(f"    not Running and Ready at the end: {row['not_ready']}")
    if extra.get("restarts") or extra.get("kubelet_restarts"):
        print(f"  restarts: {extra.get('restarts')}, kubelets {extra.get('kubelet_restarts', 0):,}")
    write_json(
        args.out,
        "reconcile",
        rows,
        nodes=args.nodes,
        replicas=args.replicas,
        time_scale=args.time_scale,
        backend=args.backend,
        **extra,
    )
    return 0 if rows and not any(r["timed_out"] for r in rows) else 1


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


if __name__ == "__main__":
    from benchmarks import reconcile  # Ray hosts import the actors by this module's name, not __main__

    raise SystemExit(reconcile.main())
