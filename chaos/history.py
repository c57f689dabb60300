"""Histories of a concurrent key-value register, as clients saw them, for the linearizability checker.

A history is a sequence of `Operation`s: who called what on which key, with which arguments, what came back,
and when the call started and ended on one clock shared by every client (a monotonic reading; the numbers
only have to be comparable). The register model is a plain per-key value that starts at an initial value
(``None`` by default, meaning "absent"):

- ``READ`` returns the value (``output``);
- ``WRITE`` sets it to ``value`` (writing ``None`` is a delete);
- ``CAS`` sets it to ``value`` if it equals ``expected``, and ``output`` says whether it did.

Each operation has an `Outcome`, with Jepsen's meaning:

- ``OK``: it completed, and ``output`` is what it returned. It took effect exactly once, at some instant
  between ``call`` and ``ret``.
- ``FAIL``: it definitely did not take effect (refused before reaching the store, or rejected by it). The
  checker ignores it.
- ``UNKNOWN``: the client gave up (timeout, lost connection, a leader that died before answering). It may
  have taken effect at any instant after ``call``, even long after the client gave up, or never; ``ret``
  is ``math.inf`` and ``output`` is meaningless.

`Recorder` builds such a history from the calls a test makes around each request. It is a plain object for
one event loop or one thread; the caller supplies every time reading, so it reads no clock itself.

Values must be hashable: the checker memoises on (operations done, register value). Beware that Python
treats ``1``, ``1.0`` and ``True`` as one value.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Hashable
from typing import TypeAlias

Value: TypeAlias = Hashable
ClientId: TypeAlias = int | str


class OpKind(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    CAS = "cas"


class Outcome(enum.StrEnum):
    OK = "ok"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One call on the register as one client saw it; see the module docstring for the meaning of fields."""

    client: ClientId
    kind: OpKind
    key: str
    value: Value = None
    """The value written (``WRITE``) or swapped in (``CAS``)."""
    expected: Value = None
    """The value a ``CAS`` compares against."""
    output: Value = None
    """What a ``READ`` returned, or whether a ``CAS`` swapped (a bool); ``None`` for a ``WRITE``."""
    call: float
    ret: float = math.inf
    outcome: Outcome = Outcome.OK

    def __post_init__(self) -> None:
        if self.outcome is Outcome.OK:
            if not math.isfinite(self.ret) or self.ret < self.call:
                raise ValueError(
                    f"completed operation needs call <= ret < inf, got [{self.call}, {self.ret}]"
                )
            if self.kind is OpKind.CAS and not isinstance(self.output, bool):
                raise ValueError(f"a completed CAS needs a bool output, got {self.output!r}")

    def __str__(self) -> str:
        match self.kind:
            case OpKind.READ:
                what = f"read({self.key!r})"
                result = f" -> {self.output!r}"
            case OpKind.WRITE:
                what = f"write({self.key!r}, {self.value!r})"
                result = ""
            case OpKind.CAS:
                what = f"cas({self.key!r}, {self.expected!r} -> {self.value!r})"
                result = f" -> {self.output!r}"
        if self.outcome is not Outcome.OK:
            result = f" ({self.outcome})"
        end = "..." if math.isinf(self.ret) else f"{self.ret:g}"
        return f"client {self.client}: {what}{result} @[{self.call:g}, {end}]"


@dataclasses.dataclass(slots=True, kw_only=True)
class _Pending:
    client: ClientId
    kind: OpKind
    key: str
    value: Value
    expected: Value
    call: float


class Recorder:
    """Collects a history from ``invoke`` and then one of ``complete``, ``fail`` or ``unknown`` per call.

    ``invoke`` returns a handle for the other three. A client has at most one call in flight: invoking again
    before the last one was settled is a bug in the test driver and raises ``ValueError``. Calls still in
    flight when `history` is read count as ``UNKNOWN``.
    """

    def __init__(self) -> None:
        self._next = 0
        self._pending: dict[int, _Pending] = {}
        self._busy: set[ClientId] = set()
        self._done: list[tuple[int, Operation]] = []

    def invoke(
        self,
        *,
        client: ClientId,
        kind: OpKind,
        key: str,
        time: float,
        value: Value = None,
        expected: Value = None,
    ) -> int:
        if client in self._busy:
            raise ValueError(f"client {client} invoked a call while its previous one is in flight")
        handle = self._next
        self._next += 1
        self._busy.add(client)
        self._pending[handle] = _Pending(
            client=client, kind=kind, key=key, value=value, expected=expected, call=time
        )
        return handle

    def complete(self, handle: int, *, time: float, output: Value = None) -> Operation:
        """The call returned ``output`` (the value read, or the CAS verdict) at ``time``."""
        return self._settle(handle, outcome=Outcome.OK, ret=time, output=output)

    def fail(self, handle: int, *, time: float) -> Operation:
        """The call definitely did not take effect."""
        return self._settle(handle, outcome=Outcome.FAIL, ret=time, output=None)

    def unknown(self, handle: int) -> Operation:
        """The client gave up on the call; it may take effect at any later time, or never."""
        return self._settle(handle, outcome=Outcome.UNKNOWN, ret=math.inf, output=None)

    def history(self) -> tuple[Operation, ...]:
        """Every call so far in invocation order, the ones still in flight as ``UNKNOWN``."""
        ops = list(self._done)
        ops.extend(
            (handle, _operation(p, Outcome.UNKNOWN, math.inf, None)) for handle, p in self._pending.items()
        )
        ops.sort(key=lambda pair: pair[0])
        return tuple(op for _, op in ops)

    def _settle(self, handle: int, *, outcome: Outcome, ret: float, output: Value) -> Operation:
        pending = self._pending.pop(handle, None)
        if pending is None:
            raise ValueError(f"no call in flight with handle {handle}")
        self._busy.discard(pending.client)
        op = _operation(pending, outcome, ret, output)
        self._done.append((handle, op))
        return op


def _operation(p: _Pending, outcome: Outcome, ret: float, output: Value) -> Operation:
    return Operation(
        client=p.client,
        kind=p.kind,
        key=p.key,
        value=p.value,
        expected=p.expected,
        output=output,
        call=p.call,
        ret=ret,
        outcome=outcome,
    )
