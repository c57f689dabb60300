"""The scheduler: pods scheduled per second, with every binding committed through a 3-member store.

For each size: N Node objects (4 cpu, 16Gi, 110 pods; no kubelets, as kube-scheduler's scheduler_perf uses
fake nodes) and P pending pods are created through the apiserver, then the ``scheduler`` actor starts and
the clock runs until every pod is bound; pods/s = P / that time. Workloads: ``basic`` (100m cpu, 128Mi
each) and ``mixed`` (a third with a nodeSelector on a zone label, a third with required node affinity, the
rest basic). Everything runs in this process on the local backend.

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

from benchmarks.common import print_table, start_control_plane, write_json

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


async def measure(nodes: int, pods: int, workload: str) -> dict[str, Any]:
    from actors.runtime.local import LocalSystem
    from actors.runtime.system import SystemConfig
    from actors.scheduler.scheduler import Scheduler

    system = LocalSystem(SystemConfig(call_timeout=600))
    tmp_root = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=tmp_root) as data:
        async with system:
            api, _ = await start_control_plane(system, data)

            async def create_all(resource: str, namespace: str | None, objects: list[dict[str, Any]]) -> None:
                for start in range(0, len(objects), 256):
                    await asyncio.gather(
                        *(api.call("create", resource, namespace, o) for o in objects[start : start + 256])
                    )

            await create_all("nodes", None, [node(i) for i in range(nodes)])
            await create_all("pods", "default", [pod(i, workload) for i in range(pods)])
            began = time.perf_counter()
            scheduler = await system.spawn("scheduler", Scheduler, kwargs={"leader_elect": False})
            while True:
                stats = await scheduler.call("stats")
                done = stats["scheduled"]
                if done >= pods:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - began
    return {
        "nodes": nodes,
        "pods": pods,
        "workload": workload,
        "pods_per_s": pods / elapsed,
        "seconds": elapsed,
        "attempts": stats["attempts"],
        "binding_failures": stats["binding_failures"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--nodes", type=int, nargs="+", default=[500, 5000], help="node counts (default 500 5000)"
    )
    parser.add_argument("--pods", type=int, default=10_000, help="pods per run (default 10000)")
    parser.add_argument("--workloads", nargs="+", default=["basic", "mixed"], choices=["basic", "mixed"])
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for workload in args.workloads:
        for nodes in args.nodes:
            row = asyncio.run(measure(nodes, args.pods, workload))
            rows.append(row)
            print(f"  {workload:<6} {nodes:>6,} nodes: {row['pods_per_s']:>8,.0f} pods/s", flush=True)
    print()
    print_table(
        rows,
        [
            ("workload", "WORKLOAD"),
            ("nodes", "NODES"),
            ("pods", "PODS"),
            ("pods_per_s", "PODS/S"),
            ("seconds", "SECONDS"),
            ("binding_failures", "BIND FAILURES"),
        ],
    )
    write_json(args.out, "scheduler", rows, pods=args.pods)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
