"""The runtime's own demonstration: heartbeating nodes, a lease monitor, and faults that it must notice.

Until the control plane exists, ``kubemu demo`` runs this. ``nodes`` emulated kubelets renew a lease with a
``monitor`` actor every 10 s of cluster time; the monitor marks a node ``NotReady`` once its lease is older
than the 40 s grace period (the node lifecycle controller's defaults), and ``Ready`` again when it renews.
The demo then partitions one node away, pauses another, kills and restarts a third, heals everything, and
checks that the monitor saw each fault and each recovery. It prints a timeline with cluster timestamps and a
summary, and fails (exit code 1) if an expected outcome did not happen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from actors.runtime.actor import Actor
from actors.runtime.errors import ActorError
from actors.runtime.system import ActorSystem

HEARTBEAT = 10.0
GRACE = 40.0


class LeaseMonitor(Actor):
    """Keeps each node's last renewal and flips its readiness on the grace period."""

    def __init__(self) -> None:
        self.renewed: dict[str, float] = {}
        self.ready: dict[str, bool] = {}
        self.transitions: list[tuple[float, str, str]] = []

    async def renew(self, node: str) -> None:
        self.renewed[node] = self.clock.now()
        if not self.ready.get(node, False):
            self.ready[node] = True
            self.transitions.append((self.clock.now(), node, "Ready"))

    async def run(self) -> None:
        while True:
            await self.sleep(HEARTBEAT / 2)
            now = self.clock.now()
            for node, renewed in self.renewed.items():
                if self.ready[node] and now - renewed > GRACE:
                    self.ready[node] = False
                    self.transitions.append((now, node, "NotReady"))

    async def report(self) -> dict[str, Any]:
        return {"ready": dict(self.ready), "transitions": list(self.transitions)}


class Kubelet(Actor):
    """Renews its node's lease every heartbeat; a failed renewal is retried on the next one."""

    async def run(self) -> None:
        monitor = self.ref("monitor").options(timeout=HEARTBEAT / 2)
        node = self.name.partition("/")[2]
        while True:
            with contextlib.suppress(ActorError):  # the next heartbeat tries again, as a kubelet does
                await monitor.call("renew", node)
            await self.sleep(HEARTBEAT)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    what: str
    passed: bool


async def run(system: ActorSystem, *, nodes: int = 3, say: Callable[[str], None] = print) -> list[Check]:
    """Run the scenario on a started system; returns the checks (all must pass)."""
    clock = system.clock
    began = clock.now()
    wall = time.monotonic()

    def stamp(text: str) -> None:
        say(f"[{clock.now() - began:7.1f}s cluster | {time.monotonic() - wall:5.2f}s wall] {text}")

    async def wait(seconds: float) -> None:
        await clock.sleep(seconds)

    monitor = await system.spawn("monitor", LeaseMonitor)
    names = [f"node-{i}" for i in range(nodes)]
    for i, node in enumerate(names):
        await system.spawn(f"kubelet/{node}", Kubelet, host=_host(system, i))
    stamp(f"started monitor and {nodes} kubelets (heartbeat {HEARTBEAT:g}s, grace {GRACE:g}s)")
    await wait(HEARTBEAT * 1.5)

    cut, paused, killed = names[1 % nodes], names[2 % nodes], names[0]
    rule = await system.partition([f"kubelet/{cut}"], ["monitor"])
    stamp(f"fault: partition kubelet/{cut} | monitor")
    await system.pause(f"kubelet/{paused}")
    stamp(f"fault: pause kubelet/{paused}")
    await wait(GRACE + 2 * HEARTBEAT)
    await system.heal(rule)
    await system.resume(f"kubelet/{paused}")
    stamp("heal: partition removed, kubelet resumed")
    await wait(2 * HEARTBEAT)
    await system.kill(f"kubelet/{killed}")
    stamp(f"fault: kill kubelet/{killed}")
    await wait(GRACE + 2 * HEARTBEAT)
    await system.restart(f"kubelet/{killed}")
    stamp(f"restart kubelet/{killed}")
    await wait(2 * HEARTBEAT)

    report = await monitor.call("report")
    say("")
    say("timeline (cluster seconds since start):")
    lines = [(t, f"{node} {state}") for t, node, state in report["transitions"]]
    lines += [(e.time, f"fault: {e.describe()}") for e in await system.events()]
    for at, text in sorted(lines, key=lambda line: line[0]):
        say(f"  {at - began:7.1f}  {text}")

    seen = {(node, state) for _, node, state in report["transitions"]}
    checks = [Check(what=f"{n} became Ready", passed=(n, "Ready") in seen) for n in names]
    checks += [
        Check(what=f"partitioned {cut} went NotReady", passed=(cut, "NotReady") in seen),
        Check(what=f"paused {paused} went NotReady", passed=(paused, "NotReady") in seen),
        Check(what=f"killed {killed} went NotReady", passed=(killed, "NotReady") in seen),
        Check(what="every node Ready at the end", passed=all(report["ready"].get(n) for n in names)),
    ]
    say("")
    say(f"{'CHECK':<40} RESULT")
    for check in checks:
        say(f"{check.what:<40} {'ok' if check.passed else 'FAILED'}")
    return checks


def _host(system: ActorSystem, index: int) -> str | None:
    return None if system.backend == "local" else f"host-{index % 2}"
