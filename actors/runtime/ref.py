"""``ActorRef``: the only way to reach an actor.

``await ref.call("method", *args, **kwargs)`` sends a request and waits for the reply;
``ref.tell("method", ...)`` sends and forgets. Both pass the fault layer on the way out (and a call's reply on
the way back). A call fails with a typed ``ActorError``: ``UnknownActor`` or ``ActorDead`` at once,
``CallTimeout`` when no reply arrives within the deadline (``options(timeout=...)``, cluster seconds), or the
handler's own exception. Arguments and results are plain data (and frozen dataclasses): on the Ray backend
they cross hosts as msgpack, so nothing else may travel.

A ref is cheap, immutable and reusable; ``source`` is the sending actor (``driver`` for outside callers).
"""

from __future__ import annotations

from typing import Any, Protocol


class Sender(Protocol):
    """What a ref sends through: a ``Host``, or the Ray backend's driver gateway."""

    async def call(
        self,
        source: str,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any: ...

    def tell(
        self, source: str, target: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None: ...


class ActorRef:
    __slots__ = ("_host", "name", "source", "timeout")

    def __init__(self, host: Sender, name: str, *, source: str, timeout: float | None = None) -> None:
        self._host = host
        self.name = name
        self.source = source
        self.timeout = timeout

    def options(self, *, timeout: float | None = None) -> ActorRef:
        """The same ref with another deadline for its calls (cluster seconds)."""
        return ActorRef(self._host, self.name, source=self.source, timeout=timeout)

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        return await self._host.call(self.source, self.name, method, args, kwargs, self.timeout)

    def tell(self, method: str, /, *args: Any, **kwargs: Any) -> None:
        self._host.tell(self.source, self.name, method, args, kwargs)

    def __repr__(self) -> str:
        return f"ActorRef({self.name!r}, source={self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and (self.name, self.source) == (other.name, other.source)

    def __hash__(self) -> int:
        return hash((self.name, self.source))
