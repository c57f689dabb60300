"""Is a recorded key-value register history linearizable? Wing & Gong's search with Lowe's memoisation.

`check` decides whether some total order of the operations in a `chaos.history` history (1) respects real
time, meaning an operation that returned before another was invoked comes first, and (2) is a legal run of
a sequential register per key, with every completed operation returning what it returned. Operations with
an ``UNKNOWN`` outcome may be placed anywhere after their invocation or left out; ``FAIL``ed ones and
``UNKNOWN`` reads are ignored.

How (the algorithm of porcupine and knossos' ``wgl``, with three reductions that keep Python fast):

- Keys are independent registers, and linearizability is compositional (Herlihy & Wing's locality, which
  porcupine calls P-compositionality), so each key's sub-history is checked on its own.
- The key's call and return events are sorted by time (a call before a return at the same instant, so
  touching intervals count as concurrent, the permissive reading) into a doubly linked list of integers.
  The search walks it from the head: a call whose operation applies in the current register value is
  "lifted" (its call and return are unlinked, dancing-links style, and pushed on a stack) and the walk
  restarts; reaching a return means that operation cannot be placed before it returns on this path, so the
  last lift is undone and the walk goes on with the next choice. The history is linearizable once every
  completed operation is lifted; unknown operations have no return event, so nothing forces them in.
- Lowe's memoisation: a (set of lifted operations as an integer bitset, register value) pair that was
  already explored is not explored again, which makes typical histories near linear to check.
- Reads and failed CASes change nothing, so one that applies is lifted without making it a choice (see
  the phases in `_check_key`); values that no read or CAS compares with are one value to the memo; and
  unknown operations with the same effect form a class of which only the earliest is tried. Unknown
  writes and CASes of such values are dropped up front when the key has no failed CAS: they can always
  be left out.

The search is pure: no clock and no I/O. Time is only the numbers in the history, and `budget` bounds the
steps spent on each key; a key that runs out is ``UNKNOWN`` rather than a false verdict. An ``ILLEGAL`` key
comes with a `Failure` that names the first operation no legal order could fit before its return, the
longest legal order the search found, and the shortest prefix of the key's history that already fails.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from collections.abc import Mapping, Sequence

from chaos import history
from chaos.history import OpKind, Outcome

DEFAULT_BUDGET = 2_000_000
"""Search steps per key, under a second of Python. Three thousand operations on one key from ten clients
take a few hundred thousand steps; a key that runs out is ``UNKNOWN``."""


class Verdict(enum.StrEnum):
    OK = "ok"
    ILLEGAL = "illegal"
    UNKNOWN = "unknown"
    """The budget ran out before the search decided."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """Why one key's history is not linearizable."""

    key: str
    op: history.Operation
    """The first operation (in return order) that no legal order can place before it returned."""
    linearized: tuple[history.Operation, ...]
    """The longest legal order the search found, all of which could take effect before ``op`` returned."""
    state: history.Value
    """The register's value after ``linearized``."""
    pending: tuple[history.Operation, ...]
    """Operations invoked before ``op`` returned and not in ``linearized``: none of them fitted next."""
    prefix: tuple[history.Operation, ...]
    """Every operation of the key invoked before ``op`` returned, by invocation: already not linearizable
    when those that returned later keep their recorded results."""

    def explain(self) -> str:
        lines = [
            f"key {self.key!r} is not linearizable: no order of the {len(self.prefix)} operations invoked "
            f"before it returned lets this one take effect in time:",
            f"  {self.op}",
            f"the longest legal order found ({len(self.linearized)} operations) leaves the register at "
            f"{self.state!r}:",
        ]
        shown = self.linearized[-10:]
        if len(shown) < len(self.linearized):
            lines.append(f"  ... {len(self.linearized) - len(shown)} earlier operations")
        lines.extend(f"  {op}" for op in shown)
        lines.append("and from there none of these operations can come next:")
        lines.extend(f"  {op}" for op in self.pending)
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeyReport:
    key: str
    verdict: Verdict
    operations: int
    """Operations the search considered (after dropping failed, unknown reads and unobserved unknowns)."""
    steps: int
    linearization: tuple[history.Operation, ...] = ()
    """A witness order when ``OK`` (unknown operations in it took effect; those absent never did)."""
    failure: Failure | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    verdict: Verdict
    """``ILLEGAL`` if any key is, else ``UNKNOWN`` if any key ran out of budget, else ``OK``."""
    keys: tuple[KeyReport, ...]
    """One report per key, sorted by key."""

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    @property
    def failure(self) -> Failure | None:
        """The failure of the first illegal key, if any."""
        return next((k.failure for k in self.keys if k.failure is not None), None)

    def explain(self) -> str:
        failure = self.failure
        if failure is not None:
            return failure.explain()
        if self.verdict is Verdict.UNKNOWN:
            undecided = [k.key for k in self.keys if k.verdict is Verdict.UNKNOWN]
            return f"undecided: the search budget ran out on keys {undecided}"
        return f"linearizable ({sum(k.operations for k in self.keys)} operations, {len(self.keys)} keys)"


def check(
    ops: Sequence[history.Operation],
    *,
    initial: history.Value = None,
    initial_by_key: Mapping[str, history.Value] | None = None,
    budget: int = DEFAULT_BUDGET,
) -> Result:
    """Check a history; every key starts at ``initial_by_key[key]`` if given, else at ``initial``."""
    by_key: dict[str, list[history.Operation]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    reports = tuple(
        _check_key(
            key,
            by_key[key],
            initial=initial_by_key[key] if initial_by_key and key in initial_by_key else initial,
            budget=budget,
        )
        for key in sorted(by_key)
    )
    verdicts = {r.verdict for r in reports}
    verdict = next((v for v in (Verdict.ILLEGAL, Verdict.UNKNOWN) if v in verdicts), Verdict.OK)
    return Result(verdict=verdict, keys=reports)


# Step kinds, as small ints for the inner loop.
_READ, _WRITE, _CAS_OK, _CAS_FAILED = 0, 1, 2, 3
_UNOBSERVED = object()
_CHANGELESS, _CHANGING, _UNKNOWN = 0, 1, 2


def _observed(ops: list[history.Operation]) -> set[history.Value]:
    """The values some call compares the register with: what reads returned and what CASes expected."""
    observed: set[history.Value] = set()
    for op in ops:
        if op.kind is OpKind.READ:
            observed.add(op.output)
        elif op.kind is OpKind.CAS:
            observed.add(op.expected)
    return observed


def _relevant(ops: list[history.Operation]) -> tuple[list[history.Operation], set[history.Value]]:
    """Drop what cannot matter: failed operations, unknown reads, unobserved unknown writes and CASes."""
    kept = [
        op
        for op in ops
        if op.outcome is Outcome.OK or (op.outcome is Outcome.UNKNOWN and op.kind is not OpKind.READ)
    ]
    observed = _observed(kept)
    if any(op.kind is OpKind.CAS and op.outcome is Outcome.OK and op.output is False for op in kept):
        return kept, observed  # a failed CAS sees "anything but expected", which an unobserved write explains
    return [op for op in kept if op.outcome is Outcome.OK or op.value in observed], observed


def _check_key(key: str, raw: list[history.Operation], *, initial: history.Value, budget: int) -> KeyReport:
    ops, observed = _relevant(raw)
    n = len(ops)

    kind = [0] * n
    for i, op in enumerate(ops):
        if op.kind is OpKind.READ:
            kind[i] = _READ
        elif op.kind is OpKind.WRITE:
            kind[i] = _WRITE
        elif op.outcome is Outcome.UNKNOWN or op.output is True:
            kind[i] = _CAS_OK  # an unknown CAS that fails has no effect: the same as leaving it out
        else:
            kind[i] = _CAS_FAILED
    # Values no call compares with behave alike, so they are one state to the memo: _UNOBSERVED.
    value = [op.value if op.value in observed else _UNOBSERVED for op in ops]
    expected = [op.expected for op in ops]
    output = [op.output for op in ops]
    unknown = [op.outcome is Outcome.UNKNOWN for op in ops]

    # Events: (time, 0 for a call / 1 for a return, operation). Entry ids 1..len(events) follow sorted order,
    # so an id is also a rank. Completed calls' entries form the main list (head 0, end -1).
    events = [(op.call, 0, i) for i, op in enumerate(ops)]
    events.extend((op.ret, 1, i) for i, op in enumerate(ops) if op.outcome is Outcome.OK)
    events.sort()
    size = len(events) + 1
    op_of = [-1] * size
    is_call = [False] * size
    call_entry = [0] * n
    ret_entry = [-1] * n
    main = [0]
    # Unknown calls have no return; at each configuration they are tried last, after the completed
    # calls (see the phases below). Those with the same effect are interchangeable but for their invocation
    # times, and the earliest can go wherever a later one can, so they form a class of which only the
    # earliest not yet lifted is tried. Classes that still have members form a list (head `n_classes`),
    # by first invocation.
    classes: dict[tuple[int, history.Value, history.Value], int] = {}
    members: list[list[int]] = []
    klass = [-1] * n
    for entry, (_, which, i) in enumerate(events, start=1):
        op_of[entry] = i
        if which == 1:
            ret_entry[i] = entry
            main.append(entry)
        else:
            is_call[entry] = True
            call_entry[i] = entry
            if not unknown[i]:
                main.append(entry)
                continue
            c = klass[i] = classes.setdefault((kind[i], expected[i], value[i]), len(members))
            if c == len(members):
                members.append([])
            members[c].append(i)
    nxt, prv = [-1] * size, [-1] * size
    for a, b in itertools.pairwise(main):
        nxt[a], prv[b] = b, a
    n_classes = len(members)
    cnxt, cprv = [-1] * (n_classes + 1), [-1] * (n_classes + 1)
    for a, b in itertools.pairwise([n_classes, *range(n_classes)]):
        cnxt[a], cprv[b] = b, a
    first_call = [call_entry[m[0]] for m in members]
    lifted = [0] * n_classes

    # The walk has three phases at each configuration (lifted calls, register value):
    # _CHANGELESS: along the main list, lift the first read or failed CAS that applies. It could go first
    #   among all choices open here (it changes nothing, and everything that must precede it is in), so
    #   it is no choice at all, and its failing later proves every choice here fails.
    # _CHANGING: stuck at the first return, try the writes and CASes invoked before it, one at a time.
    # _UNKNOWN: then the unknown classes whose earliest unlifted member was invoked before it.
    # Then undo lifts back through the last one that was a choice, and go on with the choice after it.
    stack_ops: list[int] = []
    stack_states: list[history.Value] = []
    stack_stuck: list[int] = []  # the return the walk was stuck at when the call was lifted, or 0
    cache: set[tuple[int, history.Value]] = set()
    state = initial if initial in observed else _UNOBSERVED
    bits = 0
    remaining = len(events) - n  # completed calls not yet lifted
    phase = _CHANGELESS
    entry = nxt[0]  # the walk along the main list
    stuck = 0  # the first return in the main list, once the walk is there
    u = -1  # the walk along the unknown classes
    steps = 0
    deepest = 0  # the furthest return the search was stuck at, and the lifted calls it had then
    deepest_stack: list[int] = []

    while remaining:
        steps += 1
        if steps > budget:
            return KeyReport(key=key, verdict=Verdict.UNKNOWN, operations=n, steps=steps - 1)
        if phase == _CHANGELESS:
            if not is_call[entry]:
                phase, stuck, entry = _CHANGING, entry, nxt[0]
                continue
            i = op_of[entry]
            k = kind[i]
            if k == _READ:
                ok = state == output[i]
            elif k == _CAS_FAILED:
                ok = state != expected[i]
            else:
                ok = False
            if not ok:
                entry = nxt[entry]
                continue
            if (bits | (1 << i), state) in cache:
                phase, u = _UNKNOWN, -1  # explored and failed: so does every choice here
                continue
            new_state = state
        elif phase == _CHANGING:
            if entry == stuck:
                phase, u = _UNKNOWN, cnxt[n_classes]
                continue
            i = op_of[entry]
            k = kind[i]
            if k == _WRITE or (k == _CAS_OK and state == expected[i]):
                new_state = value[i]
            else:
                entry = nxt[entry]
                continue
            if (bits | (1 << i), new_state) in cache:
                entry = nxt[entry]
                continue
        elif u != -1 and first_call[u] < stuck:
            i = members[u][lifted[u]]
            k = kind[i]
            new_state = value[i]
            # An unknown call that changes nothing is the same as leaving it out, which is tried anyway.
            if (
                call_entry[i] > stuck
                or new_state == state
                or (k == _CAS_OK and state != expected[i])
                or (bits | (1 << i), new_state) in cache
            ):
                u = cnxt[u]
                continue
        else:
            if stuck > deepest:
                deepest, deepest_stack = stuck, stack_ops.copy()
            while True:
                if not stack_ops:
                    failure = _failure(key, ops, events, deepest, deepest_stack, initial, call_entry)
                    return KeyReport(
                        key=key, verdict=Verdict.ILLEGAL, operations=n, steps=steps, failure=failure
                    )
                i = stack_ops.pop()
                state = stack_states.pop()
                stuck = stack_stuck.pop()
                bits ^= 1 << i
                if unknown[i]:
                    c = klass[i]
                    if lifted[c] == len(members[c]):
                        cnxt[cprv[c]] = c
                        if cnxt[c] != -1:
                            cprv[cnxt[c]] = c
                    lifted[c] -= 1
                    phase, u = _UNKNOWN, cnxt[c]
                    break
                r = ret_entry[i]
                remaining += 1
                nxt[prv[r]] = r
                if nxt[r] != -1:
                    prv[nxt[r]] = r
                c = call_entry[i]
                nxt[prv[c]] = c
                if nxt[c] != -1:
                    prv[nxt[c]] = c
                if stuck:  # a choice: go on with the next one
                    phase, entry = _CHANGING, nxt[c]
                    break
            continue

        # Lift call i, moving the register to new_state; undoing relinks in the reverse order.
        bits |= 1 << i
        cache.add((bits, new_state))
        stack_ops.append(i)
        stack_states.append(state)
        stack_stuck.append(stuck)
        state = new_state
        if unknown[i]:
            c = klass[i]
            lifted[c] += 1
            if lifted[c] == len(members[c]):
                p, q = cprv[c], cnxt[c]
                cnxt[p] = q
                if q != -1:
                    cprv[q] = p
        else:
            p, q = prv[entry], nxt[entry]
            nxt[p] = q
            if q != -1:
                prv[q] = p
            r = ret_entry[i]
            remaining -= 1
            p, q = prv[r], nxt[r]
            nxt[p] = q
            if q != -1:
                prv[q] = p
        phase, entry, stuck = _CHANGELESS, nxt[0], 0

    return KeyReport(
        key=key,
        verdict=Verdict.OK,
        operations=n,
        steps=steps,
        linearization=tuple(ops[i] for i in stack_ops),
    )


def _failure(
    key: str,
    ops: list[history.Operation],
    events: list[tuple[float, int, int]],
    deepest: int,
    stack: list[int],
    initial: history.Value,
    call_entry: list[int],
) -> Failure:
    blocked = events[deepest - 1][2]
    done = set(stack)
    prefix = sorted((i for i in range(len(ops)) if call_entry[i] < deepest), key=lambda i: (call_entry[i], i))
    pending = [i for i in prefix if i not in done and i != blocked]
    # None of `pending` returned before `blocked` (the walk would have stopped at that return first): they
    # are the operations still open, or unknown, when `blocked` returned.
    state = initial  # replayed, as the search only kept observed values
    for i in stack:
        op = ops[i]
        if op.kind is OpKind.WRITE or (
            op.kind is OpKind.CAS and (op.outcome is Outcome.UNKNOWN or op.output)
        ):
            state = op.value
    return Failure(
        key=key,
        op=ops[blocked],
        linearized=tuple(ops[i] for i in stack),
        state=state,
        pending=tuple(ops[i] for i in [blocked, *pending]),
        prefix=tuple(ops[i] for i in prefix),
    )
