"""The store: puts per second and latency through the client port, kubemu against a real etcd, side by side.

For each target the same load generator (Debian's ``wrk``, with a Lua script that POSTs 256-byte values
under distinct keys to ``/v3/kv/put``, the etcd v3 JSON API) runs at 1, 16 and 256 connections:

- ``etcd-3``: a real etcd 3.4 (Debian's ``etcd-server``) as 3 members on loopback, data on tmpfs;
- ``kubemu-1`` and ``kubemu-3``: ``kubemu store --members N --insecure``, data on tmpfs.

Both serve plain HTTP here (wrk presents no client certificates); kubemu's TLS is the default elsewhere.
Then the internal path: writes per second through ``StoreMember`` actor calls (no HTTP) with 3 members.
Prints a table with the ratio kubemu/etcd, and writes JSON with ``--out``.

``etcd-server`` and ``wrk`` are installed with apt-get when missing (the benchmark's setup; root needed).
Run: ``python -m benchmarks.store --out benchmarks/results/store.json`` or ``kubemu bench store``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from actors.runtime.actor import Actor
from actors.runtime.system import ActorSystem
from benchmarks.common import percentile, plot_bars, print_table, run_alone, write_json
from consensus.ports import free_loopback_ports

WRK_SCRIPT = r"""
counter = 0
local value = string.rep("A", 340) -- 340 base64 characters: 255 bytes
request = function()
  counter = counter + 1
  local key = string.format("a2V5%016d", counter)
  local body = '{"key":"' .. key .. '","value":"' .. value .. '"}'
  return wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"}, body)
end
"""


def ensure_tools() -> None:
    missing = [pkg for tool, pkg in (("etcd", "etcd-server"), ("wrk", "wrk")) if shutil.which(tool) is None]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get (benchmark setup)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def wait_healthy(url: str, *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done = subprocess.run(["curl", "-sf", f"{url}/health"], capture_output=True, text=True)
        if done.returncode == 0 and '"true"' in done.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy within {within:g}s")


def start_etcd(tmp: str) -> tuple[list[subprocess.Popen[bytes]], str]:
    clients, peers = free_loopback_ports(3), free_loopback_ports(3)
    cluster = ",".join(f"e{i}=http://127.0.0.1:{peers[i]}" for i in range(3))
    processes = []
    for i in range(3):
        processes.append(
            subprocess.Popen(
                [
                    "etcd",
                    f"--name=e{i}",
                    f"--data-dir={tmp}/etcd-{i}",
                    f"--listen-client-urls=http://127.0.0.1:{clients[i]}",
                    f"--advertise-client-urls=http://127.0.0.1:{clients[i]}",
                    f"--listen-peer-urls=http://127.0.0.1:{peers[i]}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peers[i]}",
                    f"--initial-cluster={cluster}",
                    "--initial-cluster-state=new",
                    "--log-level=error",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    url = f"http://127.0.0.1:{clients[0]}"
    wait_healthy(url)
    return processes, url


def start_kubemu(tmp: str, members: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    client, peer = free_loopback_ports(2)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cluster",
            "store",
            f"--members={members}",
            f"--client-port={client}",
            f"--peer-port={peer + 100}",
            "--insecure",
            f"--data-dir={tmp}/kubemu-{members}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{client}"
    wait_healthy(url)
    return [process], url


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def run_wrk(url: str, connections: int, seconds: float, script: str) -> dict[str, Any]:
    threads = min(2, connections)
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", script, url],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, p50 and p99 (ms), and non-2xx answers, from ``wrk --latency`` output."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    result: dict[str, Any] = {"puts_per_s": rate, "errors": 0}
    for name, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        match = re.search(rf"^\s+{re.escape(name)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if match:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
            result[key] = float(match.group(1)) * scale
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if bad:
        result["errors"] = int(bad.group(1))
    return result


class WriteLoad(Actor):
    """Concurrent writers against one store member, run from an actor so they can sit on the member's host
    (a direct await there, as the apiserver's calls to a co-located member are)."""

    async def run_load(self, target: str, writers: int, seconds: float) -> dict[str, Any]:
        from consensus.mvcc import types

        ref = self.ref(target)
        value = b"v" * 256
        latencies: list[float] = []
        stop_at = time.perf_counter() + seconds

        async def writer(i: int) -> None:
            j = 0
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                await ref.call("put", types.PutRequest(key=b"k-%d-%d" % (i, j), value=value))
                latencies.append(time.perf_counter() - began)
                j += 1

        began = time.perf_counter()
        await asyncio.gather(*(writer(i) for i in range(writers)))
        elapsed = time.perf_counter() - began
        latencies.sort()
        return {
            "puts_per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
        }


async def internal_path(seconds: float, concurrency: int, backend: str = "local") -> dict[str, Any]:
    """Writes/s through StoreMember actor calls with 3 members, from writers on the leader's host.

    ``local``: the three members and the writers share this process (and its one GIL). ``ray``: one Ray
    host process per member, so followers apply on the other core; the writers run on the leader's host.
    """
    from actors.runtime.system import SystemConfig
    from consensus.client import wait_for_leader
    from consensus.member import MemberInfo, StoreMember
    from consensus.raft import RaftConfig

    config = SystemConfig(call_timeout=600)
    if backend == "ray":
        from actors.runtime.ray_system import RaySystem

        system: ActorSystem = RaySystem(config, hosts=3, num_cpus=2)
    else:
        from actors.runtime.local import LocalSystem

        system = LocalSystem(config)
    async with system:
        ports = free_loopback_ports(3)
        members = [
            MemberInfo(name=f"store-{i}", id=i + 1, peer_url=f"127.0.0.1:{p}") for i, p in enumerate(ports)
        ]
        with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as data:
            for i, m in enumerate(members):
                raft = RaftConfig(peer_secret="bench", data_dir=f"{data}/{m.name}")
                host = f"host-{i}" if backend == "ray" else None
                await system.spawn(m.name, StoreMember, kwargs={"members": members, "raft": raft}, host=host)
            leader = await wait_for_leader(system.ref, [m.name for m in members])
            host = f"host-{leader.rpartition('-')[2]}" if backend == "ray" else None
            load = await system.spawn("write-load", WriteLoad, host=host)
            result = await load.call("run_load", leader, concurrency, seconds)
            status = await system.ref(leader).call("status")
    return {
        "target": f"kubemu-3-internal-{backend}",
        "connections": concurrency,
        **result,
        "errors": 0,
        "leader_changes": status.get("leader_changes", 0),
        "requests_per_proposal": round(status["requests"] / max(1, status["proposals"]), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", nargs="+", type=int, default=[1, 16, 256])
    parser.add_argument(
        "--writers",
        nargs="+",
        type=int,
        default=[1, 16, 256, 1024],
        help="concurrent writers of the internal path (default 1 16 256 1024)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per run (default 10)")
    parser.add_argument(
        "--targets",
        nargs="+",
        default=["etcd-3", "kubemu-1", "kubemu-3", "internal", "internal-ray"],
        help="what to measure",
    )
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--plot", default=None, help="write a bar chart of puts/s here (SVG)")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    http_targets = [t for t in args.targets if not t.startswith("internal")]
    if http_targets:
        ensure_tools()
    tmp_root = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        script = os.path.join(tmp, "put.lua")
        with open(script, "w") as handle:
            handle.write(WRK_SCRIPT)
        for target in http_targets:
            if target == "etcd-3":
                processes, url = start_etcd(tmp)
            else:
                processes, url = start_kubemu(tmp, int(target.rpartition("-")[2]))
            try:
                for connections in args.connections:
                    result = run_wrk(url, connections, args.seconds, script)
                    rows.append({"target": target, "connections": connections, **result})
                    rate = result["puts_per_s"]
                    print(f"  {target:<10} {connections:>4} connections: {rate:>9,.0f} puts/s", flush=True)
            finally:
                stop(processes)
    for target in [t for t in args.targets if t.startswith("internal")]:
        backend = "ray" if target == "internal-ray" else "local"
        for concurrency in args.writers:
            row = run_alone(internal_path(args.seconds, concurrency, backend))
            rows.append(row)
            print(f"  {target:<12} {concurrency:>4} writers: {row['puts_per_s']:>9,.0f} puts/s", flush=True)

    etcd = {r["connections"]: r["puts_per_s"] for r in rows if r["target"] == "etcd-3"}
    for row in rows:
        anchor = etcd.get(row["connections"])
        compared = anchor and row["target"] != "etcd-3" and "internal" not in row["target"]
        row["vs_etcd"] = row["puts_per_s"] / anchor if compared else None
    print()
    print_table(
        rows,
        [
            ("target", "TARGET"),
            ("connections", "CONNECTIONS"),
            ("puts_per_s", "PUTS/S"),
            ("p50_ms", "P50 ms"),
            ("p99_ms", "P99 ms"),
            ("errors", "ERRORS"),
            ("vs_etcd", "VS ETCD"),
        ],
    )
    write_json(args.out, "store", rows, seconds=args.seconds)
    plot_bars(args.plot, rows, label="{target} c={connections}", value="puts_per_s", title="puts/s")
    return 0


if __name__ == "__main__":
    from benchmarks import store

    raise SystemExit(store.main())
