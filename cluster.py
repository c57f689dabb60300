"""The composition root and the ``kubemu`` command line.

Subcommands (each has ``--help``):

- ``kubemu demo``: the main demonstration (for now the actor runtime's: heartbeating nodes and faults);
- ``kubemu bench NAME``: runs ``benchmarks/NAME.py`` (``actor-messaging``): a table, and JSON with ``--out``.

Later issues add ``up``, ``store`` and ``fault`` here, in the style of kind and kwokctl.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys

from actors.runtime.system import SystemConfig, create_system
from chaos import runtime_demo

BENCHMARKS = {"actor-messaging": "benchmarks.actor_messaging"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubemu", description="A Kubernetes cluster emulator.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="run the demonstration scenario",
        description="Heartbeating emulated nodes, a lease monitor, and injected faults it must notice.",
    )
    demo.add_argument("--backend", choices=["local", "ray"], default="local", help="actor runtime backend")
    demo.add_argument("--nodes", type=int, default=3, help="emulated nodes (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="cluster seed (default 0)")
    demo.add_argument(
        "--time-scale", type=float, default=60.0, help="cluster seconds per wall second (default 60)"
    )
    demo.add_argument("--ray-address", default=None, help="join this Ray cluster (ray backend)")

    bench = commands.add_parser(
        "bench",
        help="run a benchmark",
        description="Run a benchmark script from benchmarks/; arguments after the name go to the script.",
    )
    bench.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark (see its --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        return asyncio.run(_demo(args))
    if args.command == "bench":
        return subprocess.call([sys.executable, "-m", BENCHMARKS[args.name], *args.args])
    raise AssertionError(args.command)


async def _demo(args: argparse.Namespace) -> int:
    if args.nodes < 1:
        print("kubemu demo: --nodes must be at least 1", file=sys.stderr)
        return 2
    config = SystemConfig(seed=args.seed, time_scale=args.time_scale, call_timeout=30.0)
    options = {"hosts": 2, "address": args.ray_address} if args.backend == "ray" else {}
    system = create_system(args.backend, config, **options)
    print(
        f"kubemu demo: backend {args.backend}, {args.nodes} nodes, "
        f"seed {args.seed}, time scale {args.time_scale:g}"
    )
    async with system:
        checks = await runtime_demo.run(system, nodes=args.nodes)
    failed = [c for c in checks if not c.passed]
    print(f"\n{len(checks) - len(failed)}/{len(checks)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
