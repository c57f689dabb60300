"""Shared pieces of the benchmark scripts: latency summaries, the table printer and the JSON writer."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import platform
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def run_alone(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, then a full collection. A cluster torn down is cyclic garbage (actors, tasks and
    their frames) that the raised collector thresholds (``actors/runtime/host.py``) leave in place for long:
    without this, each later size of a benchmark walks the earlier clusters again in every collection and
    counts them in its memory figures."""
    try:
        return asyncio.run(coroutine)
    finally:
        gc.collect()


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def print_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    """Print ``rows`` as an aligned table; ``columns`` are (key, heading) pairs."""
    cells = [[heading for _, heading in columns]]
    for row in rows:
        cells.append([_fmt(row.get(key)) for key, _ in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for n, line in enumerate(cells):
        print(
            "  ".join(
                cell.rjust(w) if n and i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )


def write_json(path: str | None, benchmark: str, rows: list[dict[str, Any]], **extra: Any) -> None:
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    document = {
        "benchmark": benchmark,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": rows,
        **extra,
    }
    with open(path, "w") as handle:
        json.dump(document, handle, indent=2)
    print(f"wrote {path}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def plot_bars(path: str | None, rows: list[dict[str, Any]], *, label: str, value: str, title: str) -> None:
    """Write a horizontal bar chart of ``value`` per row as a self-contained SVG (no plotting library).

    ``label`` is a format string over the row (``"{scenario} c={concurrency}"``); bars are on a log scale
    when the values span more than two orders of magnitude, as they do between local and unbatched calls.
    """
    if not path or not rows:
        return
    values = [max(float(row.get(value) or 0.0), 1e-9) for row in rows]
    names = [label.format(**row) for row in rows]
    log_scale = max(values) / min(values) > 100
    scaled = [math.log10(v) + 1 if log_scale else v for v in values]
    top = max(scaled)
    width, bar, gap, left = 720, 22, 8, 260
    height = 50 + len(rows) * (bar + gap)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{_escape(title)}'
        f"{' (log scale)' if log_scale else ''}</text>",
    ]
    for i, (name, raw, size) in enumerate(zip(names, values, scaled, strict=True)):
        y = 40 + i * (bar + gap)
        length = (width - left - 110) * size / top if top > 0 else 0
        parts.append(f'<text x="10" y="{y + 15}">{_escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="#4878a8"/>')
        parts.append(f'<text x="{left + length + 6:.1f}" y="{y + 15}">{raw:,.0f}</text>')
    parts.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        handle.write("\n".join(parts))
    print(f"wrote {path}")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def start_control_plane(
    system: Any, data_dir: str, *, spread: bool = False, port: int = 0
) -> tuple[Any, str | None]:
    """A 3-member store (data under ``data_dir``) and ``apiserver-0`` in ``system``: the apiserver's ref and
    its host. ``spread``: one Ray host per member (``host-0`` ...), the apiserver on the leader's host."""
    from actors.apiserver.server import ApiServer
    from consensus.client import wait_for_leader
    from consensus.member import MemberInfo, StoreMember
    from consensus.ports import free_loopback_ports
    from consensus.raft import RaftConfig

    peers = free_loopback_ports(3)
    members = [
        MemberInfo(name=f"store-{i}", id=i + 1, peer_url=f"127.0.0.1:{p}") for i, p in enumerate(peers)
    ]
    for i, member in enumerate(members):
        raft = RaftConfig(data_dir=f"{data_dir}/{member.name}")
        kwargs = {"members": members, "raft": raft}
        await system.spawn(member.name, StoreMember, kwargs=kwargs, host=f"host-{i}" if spread else None)
    leader = await wait_for_leader(system.ref, [m.name for m in members])
    host = f"host-{leader.rpartition('-')[2]}" if spread else None
    kwargs = {"store_members": [m.name for m in members], "port": port}
    return await system.spawn("apiserver-0", ApiServer, kwargs=kwargs, host=host), host
