"""Actor messaging: call/return messages per second and p50/p99 latency, per backend and placement.

Scenarios (each a ``pinger`` actor driving calls at a ``ponger`` actor; the timing runs inside the pinger, so
the driver is not measured):

- ``local``: both on the local backend's one loop (direct await);
- ``ray-one-host``: both on one Ray host (same loop inside that host);
- ``ray-cross-host``: on two Ray hosts, batched msgpack transport;
- ``ray-cross-host-unbatched``: the same with one Ray call per message.

Each run lasts ``--seconds`` (after a short warm-up) at each ``--concurrency`` (concurrent callers).

Run: ``python -m benchmarks.actor_messaging --out benchmarks/results/actor_messaging.json`` or
``kubemu bench actor-messaging``. Prints a table; ``--out`` also writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from actors.runtime.actor import Actor
from actors.runtime.system import ActorSystem, SystemConfig, create_system
from benchmarks.common import percentile, plot_bars, print_table, write_json

SCENARIOS = ("local", "ray-one-host", "ray-cross-host", "ray-cross-host-unbatched")


class Ponger(Actor):
    async def ping(self, value: int) -> int:
        return value


class Pinger(Actor):
    async def load(self, target: str, seconds: float, concurrency: int) -> dict[str, Any]:
        """Calls at ``target`` from ``concurrency`` concurrent callers for ``seconds``; wall-clock figures."""
        ref = self.ref(target)
        latencies: list[float] = []
        perf = time.perf_counter
        stop = perf() + seconds

        async def worker() -> None:
            record = latencies.append
            i = 0
            while perf() < stop:
                began = perf()
                await ref.call("ping", i)
                record(perf() - began)
                i += 1

        started = perf()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = perf() - started
        latencies.sort()
        return {
            "calls": len(latencies),
            "seconds": elapsed,
            "calls_per_s": len(latencies) / elapsed,
            "p50_us": percentile(latencies, 0.50) * 1e6,
            "p99_us": percentile(latencies, 0.99) * 1e6,
        }


async def run_scenario(
    scenario: str, *, seconds: float, concurrency: int, ray_address: str | None
) -> dict[str, Any]:
    system: ActorSystem
    if scenario == "local":
        system = create_system("local", SystemConfig(call_timeout=600))
        hosts = ("local", "local")
    else:
        system = create_system(
            "ray",
            SystemConfig(call_timeout=600),
            hosts=2,
            address=ray_address,
            batching=scenario != "ray-cross-host-unbatched",
        )
        hosts = ("host-0", "host-0") if scenario == "ray-one-host" else ("host-0", "host-1")
    async with system:
        await system.spawn("ponger", Ponger, host=hosts[1])
        pinger = await system.spawn("pinger", Pinger, host=hosts[0])
        await pinger.call("load", "ponger", min(seconds, 0.5), concurrency)  # warm up
        result: dict[str, Any] = await pinger.call("load", "ponger", seconds, concurrency)
    return {"scenario": scenario, "concurrency": concurrency, **result}


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for scenario in args.scenarios:
        for concurrency in args.concurrency:
            row = await run_scenario(
                scenario, seconds=args.seconds, concurrency=concurrency, ray_address=args.ray_address
            )
            rows.append(row)
            print(
                f"  {scenario:<26} concurrency {concurrency:>4}: {row['calls_per_s']:>10,.0f} calls/s",
                flush=True,
            )
    return rows


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 1024], help="concurrent callers")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each run lasts (default 5)")
    parser.add_argument("--ray-address", default=None, help="join this Ray cluster instead of starting one")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--plot", default=None, help="write a bar chart of calls/s here (SVG)")
    return parser


def main(argv: list[str] | None = None, args: argparse.Namespace | None = None) -> int:
    args = args or build_parser().parse_args(argv)
    print("actor messaging: call/return through ActorRef.call")
    rows = asyncio.run(main_async(args))
    print()
    print_table(
        rows,
        [
            ("scenario", "SCENARIO"),
            ("concurrency", "CONCURRENCY"),
            ("calls", "CALLS"),
            ("calls_per_s", "CALLS/S"),
            ("p50_us", "P50 µs"),
            ("p99_us", "P99 µs"),
        ],
    )
    write_json(args.out, "actor_messaging", rows)
    plot_bars(args.plot, rows, label="{scenario} c={concurrency}", value="calls_per_s", title="calls/s")
    return 0


if __name__ == "__main__":
    # Re-import by module path: Ray hosts resolve the actor classes by module, never as __main__.
    from benchmarks import actor_messaging

    raise SystemExit(actor_messaging.main())
