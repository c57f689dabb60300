"""The apiserver: creates, gets and lists per second, and watch fan-out, with a 3-member store.

Everything runs in this process on the local backend (3 store members, ``apiserver-0``):

- ``internal``: concurrent writers call the apiserver actor (``create``/``get``/``list_objects``), no HTTP;
- ``http``: Debian's ``wrk`` against the apiserver's plain-HTTP port (``POST`` creates with distinct names,
  ``GET`` of one object, ``GET`` of a list served from the watch cache with ``resourceVersion=0``);
- ``fanout``: N watchers of ConfigMaps in one namespace (actor watchers, delivered by ``tell``); one write,
  then the time until every watcher has the event (p50/p99 over several writes).

Objects are ConfigMaps with 256 bytes of data (validation and defaulting included, as for any kind).
Prints a table and writes JSON with ``--out``. ``wrk`` is installed with apt-get when missing.
Run: ``python -m benchmarks.apiserver`` or ``kubemu bench apiserver``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from typing import Any

from actors.runtime.actor import Actor
from actors.runtime.system import ActorSystem
from benchmarks.common import percentile, plot_bars, print_table, start_control_plane, write_json
from benchmarks.store import ensure_tools, parse_wrk
from consensus.ports import free_loopback_ports

CREATE_LUA = r"""
-- each wrk thread has its own Lua state (and the same math.random sequence): names carry the thread's id
counter = 0
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local data = string.rep("x", 256)
local path = "/api/v1/namespaces/bench/configmaps"
request = function()
  counter = counter + 1
  local name = "w" .. id .. "-" .. counter
  local body = '{"metadata":{"name":"' .. name .. '"},"data":{"k":"' .. data .. '"}}'
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
"""


def configmap(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {"k": "x" * 256}}


class Collector(Actor):
    """Where fan-out watchers' events land: the arrival time of each watch's latest event."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.expected = ""
        self.done = asyncio.Event()
        self.watchers = 0

    def on_event(self, watch_id: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        for _, obj in events:
            if obj["metadata"]["name"] == self.expected:
                self.arrived[watch_id] = time.perf_counter()
                if len(self.arrived) == self.watchers:
                    self.done.set()

    async def expect(self, name: str, watchers: int) -> None:
        self.arrived = {}
        self.expected = name
        self.watchers = watchers
        self.done = asyncio.Event()

    async def wait(self) -> list[float]:
        await self.done.wait()
        return list(self.arrived.values())


class Load(Actor):
    """Concurrent callers of the apiserver from an actor (the internal client path)."""

    async def run_load(self, verb: str, workers: int, seconds: float) -> dict[str, Any]:
        api = self.ref("apiserver-0")
        latencies: list[float] = []
        stop_at = time.perf_counter() + seconds

        async def worker(i: int) -> None:
            j = 0
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                if verb == "create":
                    await api.call("create", "configmaps", "bench", configmap(f"c-{i}-{j}"))
                elif verb == "get":
                    await api.call("get", "configmaps", "bench", "fixed")
                else:
                    await api.call("list_objects", "configmaps", "small", resource_version="0")
                latencies.append(time.perf_counter() - began)
                j += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(workers)))
        elapsed = time.perf_counter() - began
        latencies.sort()
        return {
            "per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
        }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from actors.runtime.local import LocalSystem
    from actors.runtime.system import SystemConfig

    rows: list[dict[str, Any]] = []
    config = SystemConfig(call_timeout=600)
    system: ActorSystem
    if args.backend == "ray":
        from actors.runtime.ray_system import RaySystem

        system = RaySystem(config, hosts=3, num_cpus=2)
    else:
        system = LocalSystem(config)
    tmp_root = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=tmp_root) as data:
        async with system:
            # On Ray the apiserver and the callers share the leader's host process (a direct await there)
            # and the followers apply in processes of their own.
            (port,) = free_loopback_ports(1)
            api, host = await start_control_plane(system, data, spread=args.backend == "ray", port=port)
            for ns in ("bench", "small", "fan"):
                await api.call("create", "namespaces", None, {"metadata": {"name": ns}})
            await api.call("create", "configmaps", "bench", configmap("fixed"))
            for i in range(100):
                await api.call("create", "configmaps", "small", configmap(f"s{i}"))
            load = await system.spawn("load", Load, host=host)
            if "internal" in args.targets:
                for verb in ("create", "get", "list"):
                    result = await load.call("run_load", verb, args.workers, args.seconds)
                    row = {
                        "path": "internal",
                        "what": f"{verb}" + (" (100 items, rv=0)" if verb == "list" else ""),
                        **result,
                    }
                    rows.append(row)
                    print(
                        f"  internal {verb:<6} {result['per_s']:>9,.0f}/s  p99 {result['p99_ms']:.1f} ms",
                        flush=True,
                    )
            if "http" in args.targets:
                ensure_tools()
                with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                    script.write(CREATE_LUA)
                base = f"http://127.0.0.1:{port}"
                for what, url, extra in (
                    ("create", base, ["-s", script.name]),
                    ("get", f"{base}/api/v1/namespaces/bench/configmaps/fixed", []),
                    (
                        "list (100 items, rv=0)",
                        f"{base}/api/v1/namespaces/small/configmaps?resourceVersion=0",
                        [],
                    ),
                ):
                    result = await asyncio.to_thread(_wrk, url, args.connections, args.seconds, extra)
                    rows.append(
                        {
                            "path": f"http c={args.connections}",
                            "what": what,
                            "per_s": result["puts_per_s"],
                            "p50_ms": result.get("p50_ms"),
                            "p99_ms": result.get("p99_ms"),
                            "errors": result["errors"],
                        }
                    )
                    print(
                        f"  http     {what:<6} {result['puts_per_s']:>9,.0f}/s  "
                        f"p99 {result.get('p99_ms', 0):.1f} ms",
                        flush=True,
                    )
                os.unlink(script.name)
            if "fanout" in args.targets:
                collector = await system.spawn("collector", Collector, host=host)
                for watchers in args.watchers:
                    # As informers do: list, then watch from the list's version (no backlog to replay).
                    listed = await api.call("list_objects", "configmaps", "fan")
                    version = listed["metadata"]["resourceVersion"]
                    ids = [
                        await api.call(
                            "watch",
                            "configmaps",
                            "fan",
                            watcher="collector",
                            method="on_event",
                            resource_version=version,
                        )
                        for _ in range(watchers)
                    ]
                    delays: list[float] = []
                    for k in range(args.writes):
                        name = f"f{watchers}-{k}"
                        await collector.call("expect", name, watchers)
                        began = time.perf_counter()
                        waiter = asyncio.ensure_future(collector.call("wait"))
                        await api.call("create", "configmaps", "fan", configmap(name))
                        arrivals = await waiter
                        delays += [a - began for a in arrivals]
                    for watch_id in ids:
                        await api.call("stop_watch", watch_id)
                    delays.sort()
                    row = {
                        "path": "fanout",
                        "what": f"{watchers:,} watchers",
                        "per_s": None,
                        "p50_ms": percentile(delays, 0.5) * 1000,
                        "p99_ms": percentile(delays, 0.99) * 1000,
                    }
                    rows.append(row)
                    print(
                        f"  fanout   {watchers:>6,} watchers  "
                        f"p50 {row['p50_ms']:.1f} ms  p99 {row['p99_ms']:.1f} ms",
                        flush=True,
                    )
    return rows


def _wrk(url: str, connections: int, seconds: float, extra: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_wrk(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement (default 5)")
    parser.add_argument("--workers", type=int, default=64, help="internal concurrent callers (default 64)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--watchers", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--writes", type=int, default=10, help="writes per fan-out size (default 10)")
    parser.add_argument("--targets", nargs="+", default=["internal", "http", "fanout"])
    parser.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: everything in this process; ray: a host process per store member (default local)",
    )
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--plot", default=None, help="write a bar chart of the rates here (SVG)")
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args))
    print()
    print_table(
        rows,
        [
            ("path", "PATH"),
            ("what", "WHAT"),
            ("per_s", "PER S"),
            ("p50_ms", "P50 ms"),
            ("p99_ms", "P99 ms"),
            ("errors", "NON-2XX"),
        ],
    )
    write_json(args.out, "apiserver", rows, seconds=args.seconds, workers=args.workers)
    plot_bars(
        args.plot, [r for r in rows if r["per_s"]], label="{path} {what}", value="per_s", title="per second"
    )
    return 0


if __name__ == "__main__":
    from benchmarks import apiserver  # Ray hosts import the actors by this module's name, not __main__

    raise SystemExit(apiserver.main())
