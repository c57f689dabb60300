"""The scheduler: pods scheduled per second, with every binding committed through a 3-member store.

For each size: N Node objects (4 cpu, 16Gi, 110 pods; no kubelets, as kube-scheduler's scheduler_perf uses
fake nodes) and P pending pods are created through the apiserver, then the ``scheduler`` actor starts and
the clock runs until every pod is bound; pods/s = P / that time. Workloads: ``basic`` (100m cpu, 128Mi
each) and ``mixed`` (a third with a nodeSelector on a zone label, a third with required node affinity, the
rest basic).

``--shards K ...`` runs the scheduler with K shards (``Scheduler(shards=K)``; 1 is the one-worker path) and
``--backend local ray`` on either runtime backend: ``local`` runs everything on this process's loop; ``ray``
starts a Ray of its own with ``--hosts`` host processes (default: one more than the most shards asked
for, the same count for every K), runs the store, the apiserver and the scheduler on ``host-0`` as they run
locally, and each shard on another host. After each run the placement is checked from the apiserver: nodes
over their allocatable and pods left pending (both must be 0). ``LOAD`` is the machine's 1-minute load
average over the run: other processes on a small machine move these figures a lot.

Anchor: kube-scheduler's scheduler_perf threshold is 680 pods/s for 5,000 nodes and 10,000 pods, on a far
larger machine. Prints a table and writes JSON with ``--out``.
Run: ``python -m benchmarks.scheduler`` or ``kubemu bench scheduler``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

from actors.control_plane import control_hosts
from benchmarks.common import print_table, run_alone, start_control_plane, write_json

ZONES = ("zone-a", "zone-b", "zone-c")


def node(i: int) -> dict[str, Any]:
    resources = {"cpu": "4", "memory": "16Gi", "pods": "110"}
    return {
        "metadata": {
            "name": f"node-{i}",
            "labels": {"kubernetes.io/hostname": f"node-{i}", "topology.kubernetes.io/zone": ZONES[i % 3]},
        },
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(i: int, workload: str) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "nginx:1.25",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    }
    spec: dict[str, Any] = {"containers": [container]}
    if workload == "mixed" and i % 3 == 1:
        spec["nodeSelector"] = {"topology.kubernetes.io/zone": ZONES[i % 3]}
    elif workload == "mixed" and i % 3 == 2:
        term = {
            "matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a", "zone-b"]}
            ]
        }
        spec["affinity"] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
        }
    return {"metadata": {"name": f"pod-{i}"}, "spec": spec}


async def measure(
    nodes: int, pods: int, workload: str, *, shards: int = 1, backend: str = "local", hosts: int = 2
) -> dict[str, Any]:
    from actors.runtime.system import SystemConfig, create_system
    from actors.scheduler.scheduler import spawn_scheduler

    config = SystemConfig(call_timeout=600)
    system = (
        create_system(backend, config, hosts=hosts, address="local")
        if backend == "ray"
        else create_system(backend, config)
    )
    tmp_root = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=tmp_root) as data:
        async with system:
            on_ray = backend == "ray"
            api, _ = await start_control_plane(_OnHost(system, "host-0") if on_ray else system, data)

            async def create_all(resource: str, namespace: str | None, objects: list[dict[str, Any]]) -> None:
                for start in range(0, len(objects), 256):
                    await asyncio.gather(
                        *(api.call("create", resource, namespace, o) for o in objects[start : start + 256])
                    )

            await create_all("nodes", None, [node(i) for i in range(nodes)])
            await create_all("pods", "default", [pod(i, workload) for i in range(pods)])
            host, shard_hosts = control_hosts(system)
            began = time.perf_counter()
            load_before = os.getloadavg()[0]
            scheduler = await spawn_scheduler(
                system, shards=shards, host=host, shard_hosts=shard_hosts, leader_elect=False
            )
            while True:
                stats = await scheduler.call("stats")
                done = stats["scheduled"]
                if done >= pods:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - began
            load = (load_before + os.getloadavg()[0]) / 2
            check = await check_placement(api)
    return {
        "backend": backend,
        "shards": shards,
        "nodes": nodes,
        "pods": pods,
        "workload": workload,
        "pods_per_s": pods / elapsed,
        "seconds": elapsed,
        "load": load,
        "attempts": stats["attempts"],
        "binding_failures": stats["binding_failures"],
        "refused": stats.get("shard_refused", 0),
        "retries": stats["retries"],
        **check,
    }


class _OnHost:
    """The system as ``start_control_plane`` sees it on Ray: what it spawns goes to one host, so the store
    and the apiserver run as they do locally, whatever the host count, and only the shards change."""

    def __init__(self, system: Any, host: str) -> None:
        self.system = system
        self.host = host

    async def spawn(self, name: str, cls: type[Any], **options: Any) -> Any:
        return await self.system.spawn(name, cls, **{**options, "host": options.get("host") or self.host})

    def ref(self, name: str) -> Any:
        return self.system.ref(name)


async def check_placement(api: Any) -> dict[str, int]:
    """From the apiserver: nodes whose bound pods request more than their allocatable, and pods pending."""
    from actors.scheduler.resources import node_allocatable, pod_requests

    nodes = (await api.call("list_objects", "nodes", None))["items"]
    listed = (await api.call("list_objects", "pods", None))["items"]
    used: dict[str, list[int]] = {}
    pending = 0
    for p in listed:
        bound = (p.get("spec") or {}).get("nodeName")
        if not bound:
            pending += 1
            continue
        r = pod_requests(p)
        total = used.setdefault(bound, [0, 0, 0])
        total[0] += r.milli_cpu
        total[1] += r.memory
        total[2] += r.pods
    over = 0
    for n in nodes:
        a = node_allocatable(n)
        cpu, memory, count = used.get(n["metadata"]["name"], [0, 0, 0])
        over += cpu > a.milli_cpu or memory > a.memory or count > a.pods
    return {"overcommitted": over, "pending": pending}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--nodes", type=int, nargs="+", default=[500, 5000], help="node counts (default 500 5000)"
    )
    parser.add_argument("--pods", type=int, default=10_000, help="pods per run (default 10000)")
    parser.add_argument("--workloads", nargs="+", default=["basic", "mixed"], choices=["basic", "mixed"])
    parser.add_argument(
        "--shards", type=int, nargs="+", default=[1], help="scheduler shard counts (default 1: one worker)"
    )
    parser.add_argument(
        "--backend", nargs="+", default=["local"], choices=["local", "ray"], help="runtime backends"
    )
    parser.add_argument(
        "--hosts", type=int, default=None, help="Ray host processes (default: 1 + the most shards)"
    )
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    hosts = args.hosts or 1 + max(args.shards)
    rows = []
    for backend in args.backend:
        for shards in args.shards:
            for workload in args.workloads:
                for nodes in args.nodes:
                    row = run_alone(
                        measure(nodes, args.pods, workload, shards=shards, backend=backend, hosts=hosts)
                    )
                    rows.append(row)
                    print(
                        f"  {backend:<5} K={shards} {workload:<6} {nodes:>6,} nodes: "
                        f"{row['pods_per_s']:>8,.0f} pods/s",
                        flush=True,
                    )
    print()
    print_table(
        rows,
        [
            ("backend", "BACKEND"),
            ("shards", "SHARDS"),
            ("workload", "WORKLOAD"),
            ("nodes", "NODES"),
            ("pods", "PODS"),
            ("pods_per_s", "PODS/S"),
            ("seconds", "SECONDS"),
            ("load", "LOAD"),
            ("binding_failures", "BIND FAILURES"),
            ("refused", "REFUSED"),
            ("overcommitted", "OVERCOMMITTED"),
            ("pending", "PENDING"),
        ],
    )
    write_json(args.out, "scheduler", rows, pods=args.pods, hosts=hosts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
