"""Node density: what an idle emulated node costs, in memory and CPU, with default heartbeats.

For each size N: a 3-member store and the apiserver start in this process (local backend), then N kubelets
(``kubelet/node-i``) register their Nodes and Leases. Once every node is registered, the process's CPU time
is measured over ``--seconds`` of wall time (the kubelets renew their Leases every 10 s and read their
Node every 10 s, as upstream's; nothing else happens), and its resident memory is compared with what it
was before the kubelets started. Both are divided by N: the per-node figures include everything a node
costs the cluster (the kubelet actor, its Node and Lease in the apiserver's caches and in every store
member's MVCC history), not only the kubelet.

Anchor: a kubemark hollow node costs about 0.09 cores and 220 MB. Prints a table and writes JSON with
``--out``. Run: ``python -m benchmarks.density`` or ``kubemu bench density``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from typing import Any

from benchmarks.common import print_table, start_control_plane, write_json


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(nodes: int, seconds: float) -> dict[str, Any]:
    from actors.kubelet.kubelet import Kubelet
    from actors.kubelet.node import NodeConfig
    from actors.runtime.local import LocalSystem
    from actors.runtime.system import SystemConfig

    system = LocalSystem(SystemConfig(call_timeout=600))
    tmp_root = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=tmp_root) as data:
        async with system:
            api, _ = await start_control_plane(system, data)
            await api.call("info")
            await asyncio.sleep(1.0)
            rss_before = _rss_bytes()
            began = time.perf_counter()
            for i in range(nodes):
                config = NodeConfig(name=f"node-{i}", internal_ip=f"172.18.{i // 250}.{i % 250 + 2}")
                await system.spawn(f"kubelet/node-{i}", Kubelet, kwargs={"node": config})
            while True:
                listed = await api.call("list_objects", "leases", "kube-node-lease", resource_version="0")
                if len(listed["items"]) >= nodes:
                    break
                print(f"\r  {nodes:,} nodes: {len(listed['items']):,} registered", end="", flush=True)
                await asyncio.sleep(0.5)
            registered_in = time.perf_counter() - began
            print(
                f"\r  {nodes:,} nodes: registered in {registered_in:.1f} s; measuring {seconds:g} s",
                flush=True,
            )
            await asyncio.sleep(10.0)  # one heartbeat period, so every kubelet is in its steady state
            rss_after = _rss_bytes()
            cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
            await asyncio.sleep(seconds)
            cpu = _cpu_seconds() - cpu_before
            wall = time.perf_counter() - wall_before
            renewals = sum(
                [
                    (await system.ref(f"kubelet/node-{i}").call("stats"))["lease_renewals"]
                    for i in range(0, nodes, 97)
                ]
            )
    return {
        "nodes": nodes,
        "registered_s": registered_in,
        "kb_per_node": (rss_after - rss_before) / nodes / 1024,
        "cores_total": cpu / wall,
        "cores_per_node": cpu / wall / nodes,
        "sampled_renewals": renewals,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--seconds", type=float, default=30.0, help="CPU measurement window (default 30)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    rows = [asyncio.run(measure(n, args.seconds)) for n in args.nodes]
    for row in rows:  # the table prints one decimal: small figures as text
        row["cores_per_node_text"] = f"{row['cores_per_node']:.2e}"
        row["cores_total"] = round(row["cores_total"], 2)
    print()
    print_table(
        rows,
        [
            ("nodes", "NODES"),
            ("registered_s", "REGISTERED IN S"),
            ("kb_per_node", "KB/NODE"),
            ("cores_total", "CORES"),
            ("cores_per_node_text", "CORES/NODE"),
        ],
    )
    write_json(args.out, "density", rows, seconds=args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
