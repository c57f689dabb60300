"""The MVCC store against the plainest model there is: one dict of keys per revision.

Hypothesis drives random puts, deletes, compare-and-swap txns, lease grants and revokes, expiry, compactions
and snapshot round trips, and after every step checks that the store's latest view, its reads at every
retained revision, its revision counter and its watch history agree with the model.
"""

from __future__ import annotations

import dataclasses

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consensus.mvcc import errors, store, types

KEYS = st.sampled_from([b"a", b"b", b"c", b"d", b"e"])
VALUES = st.binary(max_size=3)


def everything(revision: int = 0) -> types.RangeRequest:
    return types.RangeRequest(key=b"\0", range_end=types.ALL_KEYS, revision=revision)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ModelKey:
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int


State = dict[bytes, ModelKey]


class MvccMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = store.MvccStore()
        self.states: list[State] = [{}, {}]
        """``states[r]`` is the model at revision ``r``; revision 1 is the empty store."""
        self.leases: dict[int, float] = {}
        """Lease id -> deadline."""
        self.compacted = 0
        self.now = 0.0

    # --- model helpers ---

    @property
    def revision(self) -> int:
        return len(self.states) - 1

    def commit(self, changes: dict[bytes, ModelKey | None]) -> None:
        """One new revision with ``changes`` (None deletes); nothing to change means no revision."""
        if not changes:
            return
        state = dict(self.states[-1])
        for key, new in changes.items():
            if new is None:
                del state[key]
            else:
                state[key] = new
        self.states.append(state)

    def model_put(self, key: bytes, value: bytes, lease: int, revision: int) -> ModelKey:
        prev = self.states[-1].get(key)
        return ModelKey(
            value=value,
            create_revision=revision if prev is None else prev.create_revision,
            mod_revision=revision,
            version=1 if prev is None else prev.version + 1,
            lease=lease,
        )

    # --- rules ---

    @rule(key=KEYS, value=VALUES, with_lease=st.booleans())
    def put(self, key: bytes, value: bytes, with_lease: bool) -> None:
        lease = min(self.leases) if with_lease and self.leases else types.NO_LEASE
        response = self.store.put(types.PutRequest(key=key, value=value, lease=lease, prev_kv=True))
        previous = self.states[-1].get(key)
        assert (response.prev_kv is None) == (previous is None)
        self.commit({key: self.model_put(key, value, lease, self.revision + 1)})
        assert response.revision == self.revision

    @rule(key=KEYS, end=st.one_of(st.just(b""), KEYS, st.just(types.ALL_KEYS)))
    def delete(self, key: bytes, end: bytes) -> None:
        if end and end != types.ALL_KEYS and end < key:
            key, end = end, key
        start, stop = types.key_interval(key, end)
        doomed = [k for k in sorted(self.states[-1]) if start <= k and (stop is None or k < stop)]
        response = self.store.delete_range(types.DeleteRangeRequest(key=key, range_end=end))
        assert response.deleted == len(doomed)
        self.commit(dict.fromkeys(doomed))
        assert response.revision == self.revision

    @rule(key=KEYS, fresh=st.booleans(), guess=st.integers(0, 30), then_key=KEYS, else_key=KEYS, value=VALUES)
    def compare_and_swap(
        self, key: bytes, fresh: bool, guess: int, then_key: bytes, else_key: bytes, value: bytes
    ) -> None:
        """The apiserver's update: put ``then_key`` if ``key``'s mod_revision is as read, else delete."""
        current = self.states[-1].get(key)
        expected = (0 if current is None else current.mod_revision) if fresh else guess
        request = types.TxnRequest(
            compare=(
                types.Compare(
                    key=key,
                    target=types.CompareTarget.MOD,
                    result=types.CompareResult.EQUAL,
                    target_value=expected,
                ),
            ),
            success=(types.PutRequest(key=then_key, value=value),),
            failure=(types.DeleteRangeRequest(key=else_key), types.RangeRequest(key=key)),
        )
        response = self.store.txn(request)
        holds = (0 if current is None else current.mod_revision) == expected
        assert response.succeeded is holds
        if holds:
            self.commit({then_key: self.model_put(then_key, value, types.NO_LEASE, self.revision + 1)})
        else:
            self.commit({else_key: None} if else_key in self.states[-1] else {})
        assert response.revision == self.revision

    @rule(ttl=st.integers(1, 20), keys=st.lists(KEYS, unique=True, max_size=3))
    def grant(self, ttl: int, keys: list[bytes]) -> None:
        """Grant a lease and attach ``keys`` to it, one put each (a lease holding several keys is the case
        where revocation must still take a single revision)."""
        response = self.store.lease_grant(types.LeaseGrantRequest(ttl=ttl, now=self.now))
        assert response.id not in self.leases
        self.leases[response.id] = self.now + ttl
        for key in keys:
            self.store.put(types.PutRequest(key=key, value=b"leased", lease=response.id))
            self.commit({key: self.model_put(key, b"leased", response.id, self.revision + 1)})

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        lease_id = data.draw(st.sampled_from(sorted(self.leases)))
        self.store.lease_revoke(types.LeaseRevokeRequest(id=lease_id))
        del self.leases[lease_id]
        self.commit({k: None for k, v in self.states[-1].items() if v.lease == lease_id})

    @rule(seconds=st.floats(0, 4))
    def tick_and_expire(self, seconds: float) -> None:
        self.now += seconds
        due = sorted(
            (deadline, lease_id) for lease_id, deadline in self.leases.items() if deadline <= self.now
        )
        assert self.store.expired_leases(self.now) == [lease_id for _, lease_id in due]
        response = self.store.lease_expire(types.LeaseExpireRequest(now=self.now))
        assert list(response.revoked) == [lease_id for _, lease_id in due]
        for _, lease_id in due:
            del self.leases[lease_id]
            self.commit({k: None for k, v in self.states[-1].items() if v.lease == lease_id})

    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        at = data.draw(st.integers(0, self.revision + 1))
        if at <= self.compacted:
            expected: type[errors.StoreError] | None = errors.Compacted
        elif at > self.revision:
            expected = errors.FutureRevision
        else:
            expected = None
        try:
            self.store.compact(types.CompactionRequest(revision=at))
        except errors.StoreError as error:
            assert type(error) is expected
        else:
            assert expected is None
            self.compacted = at

    @rule()
    def snapshot_and_restore(self) -> None:
        data = self.store.snapshot()
        restored = store.MvccStore()
        restored.restore(data)
        assert restored.snapshot() == data
        self.store = restored

    @rule(data=st.data())
    def read_at_a_past_revision(self, data: st.DataObject) -> None:
        at = data.draw(st.integers(max(self.compacted, 1), self.revision))
        assert self.view(at) == self.states[at]
        if self.compacted > 1:
            try:
                self.store.range(everything(self.compacted - 1))
            except errors.Compacted as error:
                assert error.compact_revision == self.compacted
            else:
                raise AssertionError("a read below the compaction succeeded")

    # --- invariants ---

    def view(self, revision: int = 0) -> State:
        response = self.store.range(everything(revision))
        assert [kv.key for kv in response.kvs] == sorted(kv.key for kv in response.kvs)
        return {
            kv.key: ModelKey(
                value=kv.value,
                create_revision=kv.create_revision,
                mod_revision=kv.mod_revision,
                version=kv.version,
                lease=kv.lease,
            )
            for kv in response.kvs
        }

    @invariant()
    def latest_view_and_revision_match(self) -> None:
        assert self.store.revision == self.revision
        assert self.view() == self.states[-1]

    @invariant()
    def watch_history_replays_onto_the_compacted_state(self) -> None:
        """The state at the compaction point plus every later event is the current state."""
        start = max(self.compacted, 1)
        state = dict(self.states[start])
        last = start
        for event in self.store.events_since(start + 1):
            assert event.kv.mod_revision >= last
            last = event.kv.mod_revision
            if event.type == types.EventType.PUT:
                state[event.kv.key] = ModelKey(
                    value=event.kv.value,
                    create_revision=event.kv.create_revision,
                    mod_revision=event.kv.mod_revision,
                    version=event.kv.version,
                    lease=event.kv.lease,
                )
            else:
                del state[event.kv.key]
        assert state == self.states[-1]


MvccMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestMvccAgainstDictModel = MvccMachine.TestCase
