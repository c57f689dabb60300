"""Typed errors of the actor runtime: what a caller of ``ActorRef.call`` can catch and act on.

Every error names the actor it concerns. They cross hosts intact (see ``wire``), so a caller sees the same
type whichever backend runs the cluster.
"""

from __future__ import annotations


class ActorError(Exception):
    """Base class of runtime errors; ``actor`` is the name of the actor concerned."""

    def __init__(self, actor: str, message: str) -> None:
        super().__init__(message)
        self.actor = actor

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.actor, str(self)))


class UnknownActor(ActorError):
    """No actor of that name was ever spawned (or it was stopped and removed)."""

    @classmethod
    def named(cls, actor: str) -> UnknownActor:
        return cls(actor, f'actor "{actor}" not found')


class ActorDead(ActorError):
    """The actor was killed, crashed past its restart policy, or lost with its host."""

    @classmethod
    def named(cls, actor: str, why: str) -> ActorDead:
        return cls(actor, f'actor "{actor}" is dead: {why}')


class CallInterrupted(ActorDead):
    """The actor died (killed, crashed, host lost) while handling this call: whatever the handler had
    already done stands, so the call's effect is unknown. A call that found the actor already dead gets a
    plain ``ActorDead`` instead: it certainly had no effect."""

    @classmethod
    def named(cls, actor: str, why: str) -> CallInterrupted:
        return cls(actor, f'actor "{actor}" died while handling the call: {why}')


class ActorExists(ActorError):
    """A spawn used a name that is already taken."""

    @classmethod
    def named(cls, actor: str) -> ActorExists:
        return cls(actor, f'actor "{actor}" already exists')


class UnknownMethod(ActorError):
    """The actor has no public method of that name."""

    @classmethod
    def named(cls, actor: str, method: str) -> UnknownMethod:
        return cls(actor, f'actor "{actor}" has no method "{method}"')


class CallTimeout(ActorError, TimeoutError):
    """No reply within the call's deadline: the message or its reply was lost, or the actor is too slow."""

    @classmethod
    def named(cls, actor: str, method: str, timeout: float) -> CallTimeout:
        return cls(actor, f"call {actor}.{method} got no reply within {timeout:g}s")


class ActorCrashed(ActorError):
    """The handler raised an unexpected exception; the actor was restarted or stopped by its policy."""

    @classmethod
    def named(cls, actor: str, method: str, cause: BaseException) -> ActorCrashed:
        return cls(actor, f'actor "{actor}" crashed in {method}: {type(cause).__name__}: {cause}')


class RemoteError(Exception):
    """An exception raised on another host whose type could not be rebuilt here."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.type_name, self.message))
