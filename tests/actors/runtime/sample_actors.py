"""Actors the runtime tests spawn; a module of their own so Ray hosts can import them by path."""

from __future__ import annotations

from typing import Any

from actors.runtime.actor import Actor, RestartPolicy


class Echo(Actor):
    """Answers what it is sent, counts calls, and can forward to another actor."""

    def __init__(self, greeting: str = "hello") -> None:
        self.greeting = greeting
        self.seen: list[Any] = []

    async def echo(self, value: Any) -> Any:
        self.seen.append(value)
        return value

    async def greet(self, who: str) -> str:
        return f"{self.greeting}, {who}"

    async def count(self) -> int:
        return len(self.seen)

    async def forward(self, target: str, value: Any, timeout: float | None = None) -> Any:
        ref = self.ref(target)
        if timeout is not None:
            ref = ref.options(timeout=timeout)
        return await ref.call("echo", value)

    async def relay(self, via: str, target: str, value: Any) -> Any:
        """Ask ``via`` to forward ``value`` to ``target``: a call whose handler itself waits on a call."""
        return await self.ref(via).call("forward", target, value)

    async def ping_many(self, target: str, n: int) -> int:
        ref = self.ref(target)
        for i in range(n):
            await ref.call("echo", i)
        return n

    async def hang(self) -> None:
        await self.clock.sleep(10**9)

    async def fail(self, message: str) -> None:
        raise RuntimeError(message)

    async def refuse(self, message: str) -> None:
        raise KeyError(message)

    async def draw(self) -> float:
        return self.rng.random()


class Picky(Echo):
    """An actor whose KeyErrors are answers, not crashes."""

    expected_errors = (KeyError,)


class Fragile(Echo):
    restart_policy = RestartPolicy.NEVER


class Ticker(Actor):
    """A main loop that ticks on the cluster clock (a kubelet's heartbeat, in miniature)."""

    def __init__(self, period: float = 1.0) -> None:
        self.period = period
        self.ticks = 0

    async def run(self) -> None:
        while True:
            await self.sleep(self.period)
            self.ticks += 1

    async def get_ticks(self) -> int:
        return self.ticks


class Sink(Actor):
    """Synchronous handlers (plain ``def``): what an informer's event handler looks like."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.busy = False  # true while ``blast`` runs: a handler that sees it ran inside its sender

    def note(self, value: Any) -> None:
        self.received.append((value, self.busy))

    def explode(self, message: str) -> None:
        raise RuntimeError(message)

    def total(self) -> int:
        return len(self.received)

    async def got(self) -> list[Any]:
        return [value for value, _ in self.received]

    async def saw_busy(self) -> bool:
        return any(busy for _, busy in self.received)

    async def blast(self, targets: list[str], n: int) -> None:
        """Tell every target ``n`` notes (itself included, if named), then finish."""
        self.busy = True
        refs = [self.ref(t) for t in targets]
        for i in range(n):
            for ref in refs:
                ref.tell("note", i)
        self.busy = False
