"""The linearizability checker on classic histories, on simulated registers, and its recorder."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos import history, linearizability
from chaos.history import OpKind, Outcome
from chaos.linearizability import Verdict

INF = math.inf


def r(client: history.ClientId, out: object, call: float, ret: float, key: str = "k") -> history.Operation:
    return history.Operation(client=client, kind=OpKind.READ, key=key, output=out, call=call, ret=ret)


def w(client: history.ClientId, val: object, call: float, ret: float, key: str = "k") -> history.Operation:
    return history.Operation(client=client, kind=OpKind.WRITE, key=key, value=val, call=call, ret=ret)


def cas(client: int, exp: object, val: object, ok: bool, call: float, ret: float) -> history.Operation:
    return history.Operation(
        client=client, kind=OpKind.CAS, key="k", expected=exp, value=val, output=ok, call=call, ret=ret
    )


def unknown(op: history.Operation) -> history.Operation:
    return dataclasses.replace(op, outcome=Outcome.UNKNOWN, ret=INF, output=None)


def failed(op: history.Operation) -> history.Operation:
    return dataclasses.replace(op, outcome=Outcome.FAIL)


CASES = [
    pytest.param([], Verdict.OK, id="empty"),
    pytest.param([w(0, 1, 0, 1), r(1, 1, 2, 3), w(0, 2, 4, 5), r(1, 2, 6, 7)], Verdict.OK, id="sequential"),
    pytest.param([r(0, None, 0, 1)], Verdict.OK, id="read-initial-absent"),
    pytest.param([w(0, 1, 0, 1), r(1, None, 2, 3)], Verdict.ILLEGAL, id="stale-read-after-completed-write"),
    pytest.param([w(0, 1, 0, 10), r(1, None, 2, 3)], Verdict.OK, id="concurrent-read-sees-old"),
    pytest.param([w(0, 1, 0, 10), r(1, 1, 2, 3)], Verdict.OK, id="concurrent-read-sees-new"),
    pytest.param([w(0, 1, 0, 10), r(1, 1, 1, 2), r(2, None, 3, 4)], Verdict.ILLEGAL, id="new-old-inversion"),
    pytest.param([w(0, 1, 0, 10), r(1, None, 1, 2), r(2, 1, 3, 4)], Verdict.OK, id="old-then-new"),
    pytest.param(
        [w(0, 1, 0, 10), w(1, 2, 0, 10), r(2, 1, 11, 12), r(3, 2, 13, 14)],
        Verdict.ILLEGAL,
        id="reads-disagree-after-both-writes",
    ),
    pytest.param(
        [w(0, 1, 0, 10), w(1, 2, 0, 10), r(2, 1, 1, 2), r(3, 2, 3, 4), r(2, 2, 11, 12)],
        Verdict.OK,
        id="concurrent-writes-ordered-by-reads",
    ),
    pytest.param(
        [w(0, 1, 0, 10), w(1, 2, 0, 10), r(2, 1, 1, 2), r(3, 2, 3, 4), r(2, 1, 5, 6)],
        Verdict.ILLEGAL,
        id="reads-see-writes-in-contradictory-orders",
    ),
    pytest.param([w(0, 1, 0, 1), r(1, 7, 2, 3)], Verdict.ILLEGAL, id="read-of-value-never-written"),
    pytest.param([r(1, 1, 0, 1), w(0, 1, 2, 3)], Verdict.ILLEGAL, id="read-from-the-future"),
    pytest.param([w(0, 1, 0, 5), r(1, 1, 5, 6)], Verdict.OK, id="touching-intervals-are-concurrent"),
    pytest.param(
        [unknown(w(0, 1, 0, 1)), r(1, None, 2, 3)], Verdict.OK, id="unknown-write-never-took-effect"
    ),
    pytest.param([unknown(w(0, 1, 0, 1)), r(1, 1, 2, 3)], Verdict.OK, id="unknown-write-took-effect"),
    pytest.param(
        [unknown(w(0, 1, 0, 1)), r(1, None, 2, 3), r(1, 1, 100, 101)],
        Verdict.OK,
        id="unknown-write-observed-much-later",
    ),
    pytest.param(
        [unknown(w(0, 1, 0, 1)), r(1, 1, 2, 3), r(1, None, 4, 5)],
        Verdict.ILLEGAL,
        id="unknown-write-seen-then-unseen",
    ),
    pytest.param(
        [r(1, 1, 0, 1), unknown(w(0, 1, 2, 2))], Verdict.ILLEGAL, id="unknown-write-seen-before-invoked"
    ),
    pytest.param([w(0, 1, 0, 1), unknown(r(1, 5, 2, 3))], Verdict.OK, id="unknown-read-dropped"),
    pytest.param([failed(w(0, 1, 0, 1)), r(1, None, 2, 3)], Verdict.OK, id="failed-write-ignored"),
    pytest.param([failed(w(0, 1, 0, 1)), r(1, 1, 2, 3)], Verdict.ILLEGAL, id="failed-write-never-visible"),
    pytest.param([w(0, 1, 0, 1), cas(1, 1, 2, True, 2, 3), r(0, 2, 4, 5)], Verdict.OK, id="cas-succeeds"),
    pytest.param([w(0, 1, 0, 1), cas(1, 3, 2, False, 2, 3), r(0, 1, 4, 5)], Verdict.OK, id="cas-fails"),
    pytest.param([w(0, 1, 0, 1), cas(1, 1, 2, False, 2, 3)], Verdict.ILLEGAL, id="cas-fails-though-matching"),
    pytest.param([w(0, 1, 0, 1), cas(1, 3, 2, True, 2, 3)], Verdict.ILLEGAL, id="cas-succeeds-though-not"),
    pytest.param(
        [cas(0, None, 1, True, 0, 10), cas(1, None, 2, True, 0, 10)], Verdict.ILLEGAL, id="two-cas-both-win"
    ),
    pytest.param(
        [w(0, 1, 0, 1), unknown(cas(1, 1, 2, True, 2, 3)), r(0, 2, 4, 5)],
        Verdict.OK,
        id="unknown-cas-took-effect",
    ),
    pytest.param(
        [w(0, 1, 0, 1), unknown(w(2, 9, 1, 2)), cas(1, 1, 2, False, 2, 3)],
        Verdict.OK,
        id="failed-cas-explained-by-unknown-write",
    ),
    pytest.param(
        [w(0, 1, 0, 1, key="a"), r(1, 1, 2, 3, key="a"), w(0, 2, 0, 1, key="b"), r(1, 1, 2, 3, key="b")],
        Verdict.ILLEGAL,
        id="keys-are-independent",
    ),
]


@pytest.mark.parametrize(("ops", "verdict"), CASES)
def test_classic_histories(ops: list[history.Operation], verdict: Verdict) -> None:
    result = linearizability.check(ops)
    assert result.verdict is verdict, result.explain()
    assert (result.failure is not None) == (verdict is Verdict.ILLEGAL)


def test_initial_value_per_key() -> None:
    ops = [r(0, 5, 0, 1, key="a"), r(0, 0, 0, 1, key="b")]
    assert linearizability.check(ops, initial=0, initial_by_key={"a": 5}).ok
    assert not linearizability.check(ops).ok


def test_witness_order_respects_real_time_and_results() -> None:
    ops = [
        w(0, 1, 0, 10),
        w(1, 2, 0, 10),
        r(2, 1, 1, 2),
        r(3, 2, 3, 4),
        unknown(w(4, 3, 5, 6)),
        r(2, 3, 11, 12),
    ]
    (report,) = linearizability.check(ops).keys
    assert report.verdict is Verdict.OK
    assert [op.value if op.kind is OpKind.WRITE else op.output for op in report.linearization] == [
        1,
        1,
        2,
        2,
        3,
        3,
    ]


def test_failure_names_the_operation_and_the_prefix() -> None:
    ops = [w(0, 1, 0, 1, key="a"), w(0, 1, 0, 10), r(1, 1, 1, 2), r(2, None, 3, 4), w(1, 2, 5, 6)]
    result = linearizability.check(ops)
    failure = result.failure
    assert failure is not None
    assert failure.key == "k"
    assert failure.op == r(2, None, 3, 4)
    assert failure.prefix == (w(0, 1, 0, 10), r(1, 1, 1, 2), r(2, None, 3, 4))
    assert failure.linearized == (w(0, 1, 0, 10), r(1, 1, 1, 2))
    assert failure.state == 1
    assert [k.verdict for k in result.keys] == [Verdict.OK, Verdict.ILLEGAL]
    text = result.explain()
    assert "key 'k' is not linearizable" in text
    assert "client 2: read('k') -> None @[3, 4]" in text


def test_shortest_failing_prefix_fails_on_its_own() -> None:
    ops = [w(0, 1, 0, 1), r(1, 1, 2, 3), w(0, 2, 4, 5), r(1, 1, 6, 7), w(0, 3, 8, 9), r(1, 3, 10, 11)]
    failure = linearizability.check(ops).failure
    assert failure is not None and failure.op == r(1, 1, 6, 7)
    assert not linearizability.check(failure.prefix).ok
    assert linearizability.check(failure.prefix[:-1]).ok


def test_exhausted_budget_is_unknown_not_a_verdict() -> None:
    ops = [w(c, c, 0, 100) for c in range(8)] + [r(9, 0, 101, 102)]
    result = linearizability.check(ops, budget=50)
    assert result.verdict is Verdict.UNKNOWN
    assert "budget" in result.explain()
    assert linearizability.check(ops).verdict is Verdict.OK


# ---- simulated registers --------------------------------------------------------------------------------


def simulate(
    rng: random.Random, *, clients: int, ops: int, keys: int, unknown_rate: float
) -> list[history.Operation]:
    """A linearizable history: each client runs calls back to back, each taking effect at a random instant
    inside its interval on a real per-key register. Written values are unique. Some calls end unknown; an
    unknown write or CAS takes effect or not at random (possibly after the client gave up)."""
    plans: list[tuple[float, int, history.Operation]] = []  # (effect instant or inf, tiebreak, call)
    now = [rng.uniform(0, 1) for _ in range(clients)]
    for n in range(ops):
        client = rng.randrange(clients)
        call = now[client] + rng.uniform(0, 1)
        ret = call + rng.expovariate(1.0)
        now[client] = ret
        key = f"k{rng.randrange(keys)}"
        roll = rng.random()
        kind = OpKind.READ if roll < 0.5 else OpKind.WRITE if roll < 0.85 else OpKind.CAS
        output = False if kind is OpKind.CAS else None  # filled in when it takes effect
        op = history.Operation(client=client, kind=kind, key=key, value=n, output=output, call=call, ret=ret)
        effect = rng.uniform(call, ret)
        if rng.random() < unknown_rate:
            op = dataclasses.replace(op, outcome=Outcome.UNKNOWN, ret=INF)
            if rng.random() < 0.5:
                effect = INF
            elif rng.random() < 0.5:
                effect = ret + rng.expovariate(0.2)
        plans.append((effect, n, op))
    register: dict[str, object] = {}
    recent: dict[str, list[object]] = {}
    done: list[history.Operation] = []
    for effect, _, op in sorted(plans, key=lambda p: (p[0], p[1])):
        current = register.get(op.key)
        if op.kind is OpKind.CAS:
            # Expect the current value most of the time, so that swaps succeed.
            pool = recent.setdefault(op.key, [None])
            op = dataclasses.replace(op, expected=current if rng.random() < 0.6 else rng.choice(pool))
        if effect == INF:
            done.append(op)
            continue
        if op.kind is OpKind.READ:
            op = dataclasses.replace(op, output=current) if op.outcome is Outcome.OK else op
        elif op.kind is OpKind.WRITE:
            register[op.key] = op.value
        else:
            swapped = op.expected == current
            if swapped:
                register[op.key] = op.value
            op = dataclasses.replace(op, output=swapped) if op.outcome is Outcome.OK else op
        recent.setdefault(op.key, [None]).append(register.get(op.key))
        done.append(op)
    return sorted(done, key=lambda op: op.call)


SIMULATION = dict(
    seed=st.integers(0, 2**32),
    clients=st.integers(1, 10),
    ops=st.integers(0, 80),
    keys=st.integers(1, 3),
    unknown_rate=st.sampled_from([0.0, 0.1, 0.3]),
)


@settings(max_examples=300, deadline=None)
@given(**SIMULATION)
def test_simulated_register_histories_are_linearizable(
    seed: int, clients: int, ops: int, keys: int, unknown_rate: float
) -> None:
    recorded = simulate(random.Random(seed), clients=clients, ops=ops, keys=keys, unknown_rate=unknown_rate)
    result = linearizability.check(recorded)
    assert result.verdict is Verdict.OK, result.explain()


@settings(max_examples=300, deadline=None)
@given(**SIMULATION, pick=st.integers(0, 10**6))
def test_a_read_of_a_value_not_yet_written_is_rejected(
    seed: int, clients: int, ops: int, keys: int, unknown_rate: float, pick: int
) -> None:
    recorded = simulate(random.Random(seed), clients=clients, ops=ops, keys=keys, unknown_rate=unknown_rate)
    reads = [i for i, op in enumerate(recorded) if op.kind is OpKind.READ and op.outcome is Outcome.OK]
    if not reads:
        return
    i = reads[pick % len(reads)]
    read = recorded[i]
    # Values written to this key by calls invoked only after the read returned, or a value never written.
    later = [
        op.value
        for op in recorded
        if op.key == read.key
        and op.kind is not OpKind.READ
        and op.call > read.ret
        and op.value != read.output
    ]
    recorded[i] = dataclasses.replace(read, output=later[pick % len(later)] if later else "never-written")
    result = linearizability.check(recorded)
    assert result.verdict is Verdict.ILLEGAL
    failure = result.failure
    assert failure is not None and failure.key == read.key
    assert failure.op in failure.prefix
    assert linearizability.check(failure.prefix).verdict is Verdict.ILLEGAL


def test_large_history_checks_within_budget() -> None:
    recorded = simulate(random.Random(7), clients=8, ops=2000, keys=5, unknown_rate=0.05)
    result = linearizability.check(recorded, budget=200_000)
    assert result.verdict is Verdict.OK, result.explain()
    assert sum(k.operations for k in result.keys) > 1800


def test_large_illegal_history_is_found_within_budget() -> None:
    recorded = simulate(random.Random(8), clients=8, ops=2000, keys=5, unknown_rate=0.05)
    i = max(i for i, op in enumerate(recorded) if op.kind is OpKind.READ and op.outcome is Outcome.OK)
    recorded[i] = dataclasses.replace(recorded[i], output="stale")
    result = linearizability.check(recorded, budget=200_000)
    assert result.verdict is Verdict.ILLEGAL
    assert result.failure is not None and result.failure.op == recorded[i]


def legal(order: Sequence[history.Operation]) -> bool:
    """This exact order respects real time and is a run of the register where every call returns what it
    returned (an unknown CAS in it must swap: one that does not is the same as leaving it out)."""
    if any(b.ret < a.call for x, a in enumerate(order) for b in order[x + 1 :]):
        return False
    state: object = None
    for op in order:
        if op.kind is OpKind.READ and op.output != state:
            return False
        if op.kind is OpKind.CAS:
            if op.outcome is Outcome.OK and op.output != (state == op.expected):
                return False
            if op.outcome is Outcome.UNKNOWN and state != op.expected:
                return False
        if op.kind is OpKind.WRITE or (op.kind is OpKind.CAS and state == op.expected):
            state = op.value
    return True


def brute_force(ops: list[history.Operation]) -> bool:
    """Linearizable by definition: every completed call plus some of the unknown ones, in some order."""
    done = [op for op in ops if op.outcome is Outcome.OK]
    maybe = [op for op in ops if op.outcome is Outcome.UNKNOWN and op.kind is not OpKind.READ]
    subsets = ([op for j, op in enumerate(maybe) if mask >> j & 1] for mask in range(1 << len(maybe)))
    return any(legal(order) for subset in subsets for order in itertools.permutations(done + subset))


@st.composite
def small_histories(draw: st.DrawFn) -> list[history.Operation]:
    """Arbitrary, mostly not linearizable, histories of up to 6 calls on one key over 3 values."""
    ops = []
    for client in range(draw(st.integers(0, 6))):
        call = draw(st.integers(0, 8))
        ret = call + draw(st.integers(0, 4))
        kind = draw(st.sampled_from(OpKind))
        v = st.sampled_from([None, 1, 2])
        output = draw(st.booleans()) if kind is OpKind.CAS else draw(v) if kind is OpKind.READ else None
        op = history.Operation(
            client=client,
            kind=kind,
            key="k",
            value=draw(v),
            expected=draw(v),
            output=output,
            call=call,
            ret=ret,
        )
        outcome = draw(st.sampled_from([Outcome.OK, Outcome.OK, Outcome.OK, Outcome.UNKNOWN, Outcome.FAIL]))
        ops.append(dataclasses.replace(op, outcome=outcome, ret=INF if outcome is Outcome.UNKNOWN else ret))
    return ops


@settings(max_examples=500, deadline=None)
@given(ops=small_histories())
def test_agrees_with_brute_force_on_small_histories(ops: list[history.Operation]) -> None:
    result = linearizability.check(ops)
    assert result.ok == brute_force(ops), result.explain()
    for report in result.keys:
        if report.verdict is not Verdict.OK:
            continue
        assert legal(report.linearization)
        assert {op for op in ops if op.outcome is Outcome.OK} <= set(report.linearization)


# ---- recorder -------------------------------------------------------------------------------------------


def test_recorder_builds_the_history_in_invocation_order() -> None:
    rec = history.Recorder()
    a = rec.invoke(client="a", kind=OpKind.WRITE, key="k", value=1, time=0.0)
    b = rec.invoke(client="b", kind=OpKind.READ, key="k", time=0.5)
    c = rec.invoke(client="c", kind=OpKind.CAS, key="k", expected=1, value=2, time=0.6)
    d = rec.invoke(client="d", kind=OpKind.WRITE, key="k", value=3, time=0.7)
    assert rec.complete(b, time=2.0, output=1) == r("b", 1, 0.5, 2.0)
    rec.complete(a, time=1.0)
    rec.unknown(c)
    rec.fail(d, time=0.9)
    e = rec.invoke(client="c", kind=OpKind.READ, key="k", time=3.0)
    ops = rec.history()
    assert [(op.client, op.outcome) for op in ops] == [
        ("a", Outcome.OK),
        ("b", Outcome.OK),
        ("c", Outcome.UNKNOWN),
        ("d", Outcome.FAIL),
        ("c", Outcome.UNKNOWN),
    ]
    assert ops[2].ret == INF and ops[3].ret == 0.9
    assert linearizability.check(ops).ok
    rec.complete(e, time=4.0, output=1)
    assert linearizability.check(rec.history()).ok


@pytest.mark.parametrize(
    "misuse",
    [
        pytest.param("twice-in-flight", id="client-invokes-while-in-flight"),
        pytest.param("settle-twice", id="settle-a-handle-twice"),
        pytest.param("cas-without-bool", id="cas-completed-without-verdict"),
        pytest.param("returns-before-call", id="return-before-invocation"),
    ],
)
def test_recorder_refuses_driver_bugs(misuse: str) -> None:
    rec = history.Recorder()
    h = rec.invoke(client=1, kind=OpKind.CAS, key="k", expected=None, value=1, time=5.0)
    with pytest.raises(ValueError):
        if misuse == "twice-in-flight":
            rec.invoke(client=1, kind=OpKind.READ, key="k", time=6.0)
        elif misuse == "settle-twice":
            rec.complete(h, time=6.0, output=True)
            rec.unknown(h)
        elif misuse == "cas-without-bool":
            rec.complete(h, time=6.0, output=None)
        else:
            rec.complete(h, time=4.0, output=True)
