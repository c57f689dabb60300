"""``StoreClient``: the store as the apiserver uses it, over the actor runtime (no HTTP on the hot path).

It speaks to the store members by actor name and hides which one leads:

- it sends to the member that answered last (Raft forwards a follower's proposals to the leader), and on a
  failure that says the member is gone or has no leader it moves to the next member; ``follow_leader()``
  moves it to the leader that member names, which saves the forwarding hop on every write (the apiserver
  calls it at start and once a second);
- the deadline, each attempt's share of it and the back-off are wall seconds (Raft's time), whatever the
  cluster clock's scale;
- each attempt gets at most ``attempt_timeout`` of the deadline, so a member cut off by a partition (whose
  calls are lost, not refused) is left for the next one instead of using up the whole deadline;
- it retries with exponential back-off (25 ms doubling to 1 s) while the request's
  deadline allows, but only where a retry cannot apply a write twice: a read is always retried, a write
  only when the failure proves it was not committed (the member was dead or unknown, had no leader, or
  refused it before it reached the log). A write whose outcome is unknown (timed out, leader changed
  after it was sent) raises, as etcd's client does: the caller decides, typically by reading back.
- Store refusals (``Compacted``, ``LeaseNotFound``, a failed compare) are answers: raised at once.

``stats()`` counts requests, retries and member switches.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from pysyncobj import FAIL_REASON

from actors.runtime import errors as runtime_errors
from actors.runtime.clock import Clock
from actors.runtime.ref import ActorRef
from consensus.member import RequestTimedOut
from consensus.mvcc import types
from consensus.raft import Diverged, ProposalFailed

NOT_COMMITTED = frozenset(
    {FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER, FAIL_REASON.QUEUE_FULL, FAIL_REASON.DISCARDED}
)


class StoreUnavailable(Exception):
    """No member could serve the request before its deadline; ``__cause__`` is the last failure."""


@dataclasses.dataclass(slots=True)
class ClientStats:
    requests: int = 0
    retries: int = 0
    switches: int = 0


class StoreClient:
    def __init__(
        self,
        *,
        ref: Callable[[str], ActorRef],
        members: list[str],
        clock: Clock,
        deadline: float = 15.0,
        backoff: float = 0.025,
        backoff_max: float = 1.0,
        attempt_timeout: float = 2.0,
    ) -> None:
        if not members:
            raise ValueError("a store client needs at least one member")
        self._refs = [ref(name) for name in members]
        self.members = list(members)
        self.clock = clock
        self.deadline = deadline
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.attempt_timeout = attempt_timeout  # one member's share of the deadline, so a cut-off one is left
        # Raft runs on wall time whatever the cluster's time scale: the deadline and the attempt timeout are
        # wall seconds, turned into the cluster seconds the runtime's call deadlines count
        self._scale = clock.time_scale
        # each member's ref with a whole attempt's deadline: what every first attempt uses
        self._attempt_refs = [r.options(timeout=attempt_timeout * self._scale) for r in self._refs]
        self._current = 0
        self.stats = ClientStats()

    @property
    def current_member(self) -> str:
        return self.members[self._current]

    async def range(self, request: types.RangeRequest, *, serializable: bool = False) -> types.RangeResponse:
        response: types.RangeResponse = await self._call(
            "range", request, serializable=serializable, read=True
        )
        return response

    async def put(self, request: types.PutRequest) -> types.PutResponse:
        response: types.PutResponse = await self._call("put", request)
        return response

    async def delete_range(self, request: types.DeleteRangeRequest) -> types.DeleteRangeResponse:
        response: types.DeleteRangeResponse = await self._call("delete_range", request)
        return response

    def txn(self, request: types.TxnRequest) -> Coroutine[Any, Any, types.TxnResponse]:
        """Awaitable as the other requests are; a plain function so that every write (they all go through
        here) resumes one coroutine frame fewer."""
        read = _reads_only(request.success) and _reads_only(request.failure)
        return self._call("txn", request, read=read)

    async def compact(self, revision: int) -> types.CompactionResponse:
        response: types.CompactionResponse = await self._call(
            "compact", types.CompactionRequest(revision=revision)
        )
        return response

    async def lease_grant(self, ttl: int, lease_id: int = 0) -> types.LeaseGrantResponse:
        response: types.LeaseGrantResponse = await self._call("lease_grant", ttl, lease_id)
        return response

    async def lease_revoke(self, lease_id: int) -> types.LeaseRevokeResponse:
        response: types.LeaseRevokeResponse = await self._call("lease_revoke", lease_id)
        return response

    async def lease_keep_alive(self, lease_id: int) -> types.LeaseKeepAliveResponse:
        response: types.LeaseKeepAliveResponse = await self._call("lease_keep_alive", lease_id, read=True)
        return response

    async def status(self) -> dict[str, Any]:
        response: dict[str, Any] = await self._call("status", read=True)
        return response

    async def _call(self, method: str, *args: Any, read: bool = False, **kwargs: Any) -> Any:
        """``read``: safe to repeat (a read, or a write that is idempotent: revoke, keep-alive)."""
        self.stats.requests += 1
        give_up = self.clock.now() + self.deadline * self._scale
        delay = self.backoff
        last: Exception
        full = self.attempt_timeout * self._scale
        while True:
            try:
                budget = give_up - self.clock.now()
                if budget >= full:  # a whole attempt fits in what is left (always, on a first attempt)
                    ref = self._attempt_refs[self._current]
                else:
                    ref = self._refs[self._current].options(timeout=max(0.001, budget))
                return await ref.call(method, *args, **kwargs)
            except runtime_errors.CallInterrupted as error:
                if not read:
                    raise  # the member died holding the write: it may still commit
                last = error
            except (runtime_errors.UnknownActor, runtime_errors.ActorDead, Diverged) as error:
                last = error  # never reached the log: safe to send elsewhere
            except ProposalFailed as error:
                if error.reason not in NOT_COMMITTED and not read:
                    raise
                last = error
            except (RequestTimedOut, runtime_errors.CallTimeout) as error:
                if not read:
                    self._switch()  # this member may be cut off: the next request tries another
                    raise
                last = error
            if self.clock.now() + delay > give_up:
                raise StoreUnavailable(
                    f"no store member answered {method} within {self.deadline:g}s"
                ) from last
            self.stats.retries += 1
            self._switch()
            await self.clock.sleep(delay * self._scale)
            delay = min(delay * 2, self.backoff_max)

    async def follow_leader(self) -> str | None:
        """Send to the leader from now on, as the member in use names it; returns the leader's name, or None
        when that member knows no leader (or does not answer): the client then stays where it is."""
        try:
            status = (
                await self._refs[self._current]
                .options(timeout=self.attempt_timeout * self._scale)
                .call("status")
            )
        except (runtime_errors.ActorError, Diverged):
            return None
        leader = status.get("leader")
        if leader not in self.members:
            return None
        self._current = self.members.index(leader)
        return str(leader)

    def _switch(self) -> None:
        self._current = (self._current + 1) % len(self._refs)
        self.stats.switches += 1


def _reads_only(ops: Sequence[types.RequestOp]) -> bool:
    return all(isinstance(op, types.RangeRequest) for op in ops)


async def wait_for_leader(
    ref: Callable[[str], ActorRef], members: Sequence[str], *, within: float = 10.0
) -> str:
    """The member that names itself leader, asking each member's status until one does.

    ``within`` is wall seconds, not cluster time: elections run on Raft's wall-clock timers, whatever the
    cluster's time scale. Raises ``StoreUnavailable`` if no member leads by then.
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for name in members:
            try:
                status = await ref(name).call("status")
            except runtime_errors.ActorError:
                continue  # a dead member leads nobody
            if status.get("leader") == name:
                return name
        await asyncio.sleep(0.01)
    raise StoreUnavailable(f"no store leader among {', '.join(members)} within {within:g}s")
