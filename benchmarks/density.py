"""Node density: what an idle emulated node costs, in memory and CPU, with default heartbeats.

For each size N: a 3-member store and the apiserver start in this process (local backend), then N kubelets
(``kubelet/node-i``) register their Nodes and Leases, ``--ramp`` at a time (each wave registered before the
next starts, as nodes join a real cluster; ``--ramp 0`` starts them all at once, a registration storm whose
timed-out and retried writes stay in the store's Raft log and inflate the memory figure). Once every node is
registered and one heartbeat period has passed, the process's resident memory is compared with what it was
before the kubelets started (both after a full garbage collection), and its CPU time is measured over
``--seconds`` of wall time (the kubelets renew their Leases every 10 s and look at their Node every 10 s, as
upstream's; nothing else happens). Both are divided by N: the per-node figures include everything a node
costs the cluster (the kubelet actor, its Node and Lease in the apiserver's caches and in every store
member's MVCC history and Raft log), not only the kubelet. ``--breakdown`` also prints what each component
holds per node (deep sizes of its Python objects; the Raft journals' memory-mapped files are not in them).

Anchor: a kubemark hollow node costs about 0.09 cores and 220 MB. Prints a table and writes JSON with
``--out``. Run: ``python -m benchmarks.density`` or ``kubemu bench density``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import sys
import tempfile
import time
import types
from typing import Any

from benchmarks.common import print_table, run_alone, start_control_plane, write_json


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _deep_size(roots: list[Any], seen: set[int]) -> int:
    """Bytes of the objects reachable from ``roots`` and not in ``seen`` (which grows): classes, modules,
    functions, and actors other than the roots' own, are not followed."""
    from actors.runtime.actor import Actor
    from actors.runtime.host import Host

    stop = (type, types.ModuleType, types.FunctionType, types.CodeType, Host, asyncio.AbstractEventLoop)
    owners = {id(root) for root in roots}
    total = 0
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, stop) or (isinstance(obj, Actor) and id(obj) not in owners):
            continue
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _components(system: Any, kubelets: list[str]) -> dict[str, int]:
    """Bytes held by each component, in this order (what an earlier one reaches is not counted again)."""
    sizes: dict[str, int] = {}
    seen: set[int] = set()
    for name in ("store-0", "store-1", "store-2"):
        member = system.instance(name)
        raft = getattr(getattr(member, "_raft", None), "_node", None)
        journal = getattr(raft, "_SyncObj__raftLog", None)  # PySyncObj's in-memory log
        sizes[f"{name} raft log"] = _deep_size([journal] if journal is not None else [], seen)
        sizes[f"{name} mvcc"] = _deep_size([member.store], seen)
    api = system.instance("apiserver-0")
    sizes["apiserver watch caches"] = _deep_size([api.caches], seen)
    slots = system.host._slots
    sizes["kubelet actors"] = _deep_size([system.instance(name) for name in kubelets], seen)
    sizes["kubelet tasks and slots"] = _deep_size(
        [slots[name] for name in kubelets] + [task for name in kubelets for task in slots[name].tasks], seen
    )
    return sizes


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(nodes: int, seconds: float, *, ramp: int = 1000, breakdown: bool = False) -> dict[str, Any]:
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
            gc.collect()
            rss_before = _rss_bytes()
            before = _components(system, []) if breakdown else {}
            began = time.perf_counter()
            wave = ramp if ramp > 0 else nodes
            for start in range(0, nodes, wave):
                for i in range(start, min(nodes, start + wave)):
                    config = NodeConfig(name=f"node-{i}", internal_ip=f"172.18.{i // 250}.{i % 250 + 2}")
                    await system.spawn(f"kubelet/node-{i}", Kubelet, kwargs={"node": config})
                await _registered(api, min(nodes, start + wave), nodes)
            registered_in = time.perf_counter() - began
            print(
                f"\r  {nodes:,} nodes: registered in {registered_in:.1f} s; measuring {seconds:g} s",
                flush=True,
            )
            await asyncio.sleep(10.0)  # one heartbeat period, so every kubelet is in its steady state
            gc.collect()
            rss_after = _rss_bytes()
            if breakdown:
                after = _components(system, [f"kubelet/node-{i}" for i in range(nodes)])
                for component, size in after.items():
                    print(
                        f"    {component:26} {(size - before.get(component, 0)) / nodes / 1024:7.1f} KB/node"
                    )
                walked = (sum(after.values()) - sum(before.values())) / nodes / 1024
                print(f"    {'all of the above':26} {walked:7.1f} KB/node")
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
            raft = await system.ref("store-0").call("status")
            print(
                f"    store-0 after the window: {raft['applied_index']:,} Raft entries applied, "
                f"{raft['log_entries']:,} in its log, {raft['snapshots']} snapshot(s) written",
                flush=True,
            )
    return {
        "nodes": nodes,
        "ramp": ramp,
        "registered_s": registered_in,
        "raft_entries_applied": raft["applied_index"],
        "raft_log_entries": raft["log_entries"],
        "raft_snapshots": raft["snapshots"],
        "kb_per_node": (rss_after - rss_before) / nodes / 1024,
        "cores_total": cpu / wall,
        "cores_per_node": cpu / wall / nodes,
        "sampled_renewals": renewals,
    }


async def _registered(api: Any, count: int, nodes: int) -> None:
    """Wait until ``count`` Leases exist."""
    while True:
        listed = await api.call("list_objects", "leases", "kube-node-lease", resource_version="0")
        if len(listed["items"]) >= count:
            return
        print(f"\r  {nodes:,} nodes: {len(listed['items']):,} registered", end="", flush=True)
        await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--seconds", type=float, default=30.0, help="CPU measurement window (default 30)")
    parser.add_argument(
        "--ramp", type=int, default=1000, help="kubelets started per wave (default 1000; 0: all at once)"
    )
    parser.add_argument("--breakdown", action="store_true", help="print the memory per node by component")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    rows = [run_alone(measure(n, args.seconds, ramp=args.ramp, breakdown=args.breakdown)) for n in args.nodes]
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
    write_json(args.out, "density", rows, seconds=args.seconds, ramp=args.ramp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
