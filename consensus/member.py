"""``StoreMember``: one member of the replicated store, as an actor (``store-0``, ``store-1``, ...).

It joins an ``MvccStore`` (the state machine) to a ``RaftMember`` (PySyncObj) and serves the store's
operations to other actors: the apiserver, the client port, benchmarks. What it promises:

- Writes (put, delete, txn, compaction, lease grant/revoke/keep-alive) are acknowledged only after a
  majority committed them and this member applied them; the reply is what the state machine answered.
  A write that cannot commit within ``request_timeout`` (wall seconds: Raft runs on wall time) fails with
  ``RequestTimedOut`` ("etcdserver: request timed out"); its outcome is then unknown, as with etcd.
- Reads are linearizable by default: they go through the log like writes, so a member cut off from the
  majority (even one that still believes it leads) cannot answer them. ``serializable=True`` reads this
  member's own state at once, possibly stale, as etcd's ``--consistency=s``.
- Requests reaching a follower are forwarded to the leader by Raft; none is lost silently.
- Everything proposed in one loop turn travels as one log entry (a batch), applied in order; each request
  in it still takes its own revision. This is what makes the store fast: Raft's cost is per entry.
- Leases expire on the cluster clock as the leader sees it: the leader proposes ``LeaseExpireRequest(now)``
  and every member revokes the same leases at the same log position.
- Watches: ``watch(...)`` streams every change to a key range from a start revision, in revision order,
  without gaps or duplicates, to an actor (``tell``) or to an in-process queue (``subscribe``). A start
  below the compaction point fails with ``Compacted``.
- Pause freezes its peer traffic; kill and crash stop its Raft thread and sockets; a restart with the same
  data directory replays its journal and catches up from the leader.

The MVCC store is written by PySyncObj's thread (``apply``) and read by the loop (serializable reads,
watches); a lock orders the two.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import dataclasses
import itertools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import msgpack
from pysyncobj import FAIL_REASON

from actors.runtime.actor import Actor
from consensus import pki
from consensus.client_port import ClientPort
from consensus.mvcc import entry, errors, types
from consensus.mvcc.store import MvccStore
from consensus.raft import MAX_ENTRY_BYTES, Diverged, ProposalFailed, RaftConfig, RaftMember

log = logging.getLogger("kubemu.consensus.member")

_MAX_BATCH = 2048
_NO_LEADER_RETRY = 0.02  # wall seconds between proposals of a batch while no leader is known
_LEASE_CHECK = 0.5  # cluster seconds between the leader's looks for expired leases


class RequestTimedOut(Exception):
    """No commit within the request timeout: the outcome is unknown (etcd's ``ErrTimeout``)."""

    def __init__(self, message: str = "etcdserver: request timed out") -> None:
        super().__init__(message)


_Batch = list[tuple[types.Proposal, asyncio.Future[Any]]]
"""Requests proposed together, each with the future that gets its answer."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemberInfo:
    """One member as ``/v3/cluster/member/list`` shows it."""

    name: str
    id: int
    peer_url: str
    client_url: str = ""


@dataclasses.dataclass(slots=True)
class _Watch:
    id: int
    key: bytes
    range_end: bytes
    next_revision: int
    prev_kv: bool
    deliver: Callable[[int, list[types.Event]], None]
    on_compacted: Callable[[int, int], None] | None = None


class _DecodedEntries:
    """The latest log entries decoded in this process, by their bytes, shared by every member it runs.

    On the local backend all members live in one process and every one of them applies every entry: the
    proposer keeps its own requests (``_Machine.proposed``), and the others would each decode the same bytes
    into equal, immutable requests. Here the first decode (or the proposer's requests) serves the rest.
    Decoding is a pure function of the bytes, so a hit is exactly what a decode would give; the entry itself
    still travels to every member through Raft. Members in other processes simply miss. Bounded: the oldest
    entries go first; the others apply an entry a few Raft ticks after it is proposed, so a few dozen cover
    them, and more would keep thousands of requests alive for the garbage collector to walk again and again.
    Thread-safe (each member applies on its own PySyncObj thread).
    """

    def __init__(self, capacity: int = 32, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._entries: dict[bytes, list[types.Proposal]] = {}
        self._bytes = 0  # the length of every entry held
        self._lock = threading.Lock()

    def get(self, command: bytes) -> list[types.Proposal] | None:
        with self._lock:
            return self._entries.get(command)

    def put(self, command: bytes, requests: list[types.Proposal]) -> None:
        with self._lock:
            entries = self._entries
            if command in entries:
                return
            entries[command] = requests
            self._bytes += len(command)
            while len(entries) > self.capacity or self._bytes > self.max_bytes:
                oldest = next(iter(entries))
                del entries[oldest]
                self._bytes -= len(oldest)

    def decode(self, command: bytes) -> list[types.Proposal]:
        requests = self.get(command)
        if requests is None:
            requests = entry.decode(command)
            self.put(command, requests)
        return requests


_DECODED = _DecodedEntries()


class _Machine:
    """The state machine Raft feeds: a batch of requests in, a batch of results (or refusals) out."""

    def __init__(
        self,
        store: MvccStore,
        lock: threading.Lock,
        on_applied: Callable[[], None],
        on_members: Callable[[str], None],
    ) -> None:
        self.store = store
        self.lock = lock
        self.on_applied = on_applied
        self.on_members = on_members
        # Entries this member proposed, by their bytes: applying one of them reuses the requests instead of
        # decoding the entry again (the proposer of a batch is usually the leader, which applies it too).
        # Popped when applied or when the proposal fails; an entry applied elsewhere is simply decoded.
        self.proposed: dict[bytes, list[types.Proposal]] = {}
        self.members: str | None = None  # the last member list applied (JSON), kept in snapshots

    def apply(self, command: bytes) -> list[Any]:
        """The results stay Python objects: PySyncObj hands them only to this member's own proposer."""
        results: list[Any] = []
        requests = self.proposed.pop(command, None) or _DECODED.decode(command)
        apply = self.store.apply
        with self.lock:
            for request in requests:
                if type(request) is types.MembersRequest:
                    self.members = request.members
                    self.on_members(request.members)
                    results.append(None)
                    continue
                try:
                    results.append(apply(request))  # type: ignore[arg-type]  # a store request
                except errors.StoreError as error:
                    results.append(error)
        self.on_applied()
        return results

    def capture(self) -> Callable[[], bytes]:
        """The store and the member list as they are now (on Raft's thread); packed later, on another."""
        with self.lock:
            build, members = self.store.capture(), self.members

        def pack() -> bytes:
            data: bytes = msgpack.packb({"store": build(), "members": members}, use_bin_type=True)
            return data

        return pack

    def restore(self, data: bytes) -> None:
        state = msgpack.unpackb(data, raw=False, strict_map_key=False)
        with self.lock:
            self.store.restore_state(state["store"])
        self.members = state["members"]
        if self.members is not None:
            self.on_members(self.members)
        self.on_applied()  # watches are served what the jump brought (or told they fell behind)


class StoreMember(Actor):
    """See the module docstring. ``members`` lists every member, this one included, in order."""

    expected_errors = (errors.StoreError, RequestTimedOut, ProposalFailed, Diverged, ValueError)

    def __init__(
        self,
        *,
        members: list[MemberInfo],
        raft: RaftConfig | None = None,
        request_timeout: float = 5.0,
        client_port: int | None = None,
        pki_dir: str | None = None,
    ) -> None:
        """``client_port``: serve the etcd v3 JSON API there (HTTPS with client certificates from
        ``pki_dir``, or plain HTTP without one); None serves only the actor API."""
        self.members = list(members)
        self.client_port_number = client_port
        self.pki_dir = pki_dir
        self.client_port: ClientPort | None = None
        self.raft_config = raft or RaftConfig()
        self.request_timeout = request_timeout
        self.store = MvccStore()
        self._lock = threading.Lock()
        self._machine = _Machine(
            self.store, self._lock, self._applied_from_raft_thread, self._members_applied
        )
        self._raft: RaftMember | None = None
        self._queue: _Batch = []
        self._flush_scheduled = False
        self._deadlines: collections.deque[tuple[float, _Batch]] = collections.deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._watches: dict[int, _Watch] = {}
        self._dispatch_scheduled = False  # a dispatch of watch events is queued on the loop
        self._watch_ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.counters = {"proposals": 0, "requests": 0, "watch_events": 0}

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def on_start(self) -> None:
        me = self._me()
        self._loop = asyncio.get_running_loop()
        peers = {m.name: m.peer_url for m in self.members if m.name != self.name}
        machine = self._machine
        self._raft = RaftMember(
            name=self.name,
            peer_address=me.peer_url,
            peers=peers,
            machine=machine,
            config=self.raft_config,
            verdict=self._peer_verdict,
        )
        if self.client_port_number is not None:
            context = pki.server_ssl_context(pki.PkiPaths.under(self.pki_dir)) if self.pki_dir else None
            self.client_port = ClientPort(self, port=self.client_port_number, ssl_context=context)
            try:
                await self.client_port.start()
            except BaseException:
                self._end_raft()
                raise

    async def on_stop(self) -> None:
        if self.client_port is not None:
            await self.client_port.stop()
        self._end_raft()

    def on_kill(self) -> None:
        if self.client_port is not None:
            self.client_port.abort()
        self._end_raft()

    def on_pause(self) -> None:
        if self._raft is not None:
            self._raft.freeze(True)
        if self.client_port is not None:
            self.client_port.pause()

    def on_resume(self) -> None:
        if self._raft is not None:
            self._raft.freeze(False)
        if self.client_port is not None:
            self.client_port.resume()

    async def run(self) -> None:
        """The leader's lease clock: expired leases are revoked through the log."""
        while True:
            await self.sleep(_LEASE_CHECK)
            raft = self._raft
            if raft is None or not raft.is_leader:
                continue
            now = self.clock.now()
            with self._lock:
                expired = self.store.expired_leases(now)
            if expired:
                try:
                    await self._submit(types.LeaseExpireRequest(now=now))
                except (RequestTimedOut, ProposalFailed) as error:
                    log.info("%s: lease expiry not committed yet: %s", self.name, error)

    # -- the store's operations --------------------------------------------------------------------------

    async def range(self, request: types.RangeRequest, serializable: bool = False) -> types.RangeResponse:
        if serializable:
            self._refuse_if_stopped()
            with self._lock:
                return self.store.range(request)
        response: types.RangeResponse = await self._submit(request)
        return response

    async def put(self, request: types.PutRequest) -> types.PutResponse:
        response: types.PutResponse = await self._submit(request)
        return response

    async def delete_range(self, request: types.DeleteRangeRequest) -> types.DeleteRangeResponse:
        response: types.DeleteRangeResponse = await self._submit(request)
        return response

    def txn(self, request: types.TxnRequest) -> asyncio.Future[types.TxnResponse]:
        """Awaitable as the other operations are; a plain function returning the request's future, so that
        every write (the apiserver's are all txns) suspends and resumes two coroutine frames fewer."""
        return self._enqueue(request)

    async def compact(self, request: types.CompactionRequest) -> types.CompactionResponse:
        response: types.CompactionResponse = await self._submit(request)
        return response

    async def lease_grant(self, ttl: int, id: int = 0) -> types.LeaseGrantResponse:
        request = types.LeaseGrantRequest(ttl=ttl, id=id, now=self.clock.now())
        response: types.LeaseGrantResponse = await self._submit(request)
        return response

    async def lease_revoke(self, id: int) -> types.LeaseRevokeResponse:
        response: types.LeaseRevokeResponse = await self._submit(types.LeaseRevokeRequest(id=id))
        return response

    async def lease_keep_alive(self, id: int) -> types.LeaseKeepAliveResponse:
        request = types.LeaseKeepAliveRequest(id=id, now=self.clock.now())
        response: types.LeaseKeepAliveResponse = await self._submit(request)
        return response

    async def lease_time_to_live(self, id: int, keys: bool = False) -> types.LeaseTimeToLiveResponse:
        request = types.LeaseTimeToLiveRequest(id=id, now=self.clock.now(), keys=keys)
        response: types.LeaseTimeToLiveResponse = await self._submit(request)
        return response

    async def lease_leases(self) -> types.LeaseLeasesResponse:
        response: types.LeaseLeasesResponse = await self._submit(types.LeaseLeasesRequest())
        return response

    async def status(self) -> dict[str, Any]:
        """The member's view: Raft state and the store's revision (``/v3/maintenance/status``)."""
        raft = self._raft
        with self._lock:
            stats = self.store.stats()
        return {
            **(raft.status() if raft is not None else {"name": self.name}),
            "revision": stats.revision,
            "compact_revision": stats.compact_revision,
            "keys": stats.keys,
            **self.counters,
        }

    async def member_list(self) -> list[MemberInfo]:
        return list(self.members)

    async def add_member(self, member: MemberInfo) -> list[MemberInfo]:
        """Add a running member (started with the current members plus itself) to the group at runtime.

        Raft replicates the new peer address to every member; then the new member list goes through the log
        as a ``MembersRequest``, so every member's ``member_list`` shows it.
        """
        if any(m.name == member.name or m.peer_url == member.peer_url for m in self.members):
            raise ValueError(f"{member.name} ({member.peer_url}) is already a member")
        await self._change("add", member)
        await self._submit(_members_request([*self.members, member]))
        return list(self.members)

    async def remove_member(self, name: str) -> list[MemberInfo]:
        """Remove a member from the group at runtime; the others go on with a smaller majority."""
        member = next((m for m in self.members if m.name == name), None)
        if member is None:
            raise ValueError(f"{name} is not a member")
        if member.name == self.name:
            raise ValueError("a member cannot remove itself; ask another member")
        await self._change("remove", member)
        await self._submit(_members_request([m for m in self.members if m != member]))
        return list(self.members)

    def _members_applied(self, members: str) -> None:
        """A ``MembersRequest`` reached the state machine (Raft's thread): one assignment, read whole."""
        self.members = [MemberInfo(**record) for record in json.loads(members)]

    async def _change(self, change: str, member: MemberInfo) -> None:
        if self._raft is None:
            raise Diverged(f"{self.name} is not running")
        try:
            await asyncio.wait_for(
                self._raft.change_membership(change, member.name, member.peer_url), self.request_timeout
            )
        except TimeoutError:
            raise RequestTimedOut() from None

    # -- watches -----------------------------------------------------------------------------------------

    async def watch(
        self,
        key: bytes,
        range_end: bytes = b"",
        start_revision: int = 0,
        *,
        watcher: str,
        method: str,
        prev_kv: bool = False,
        tag: Any = None,
    ) -> int:
        """Stream changes to ``watcher``: ``tell(method, watch_id, events)`` per applied batch, or
        ``tell(method, tag, events)`` when the watcher chose a ``tag`` (one it knows before this returns,
        unique across members)."""
        ref = self.ref(watcher)

        def deliver(watch_id: int, events: list[types.Event]) -> None:
            ref.tell(method, watch_id if tag is None else tag, events)

        return self.subscribe(key, range_end, start_revision, prev_kv=prev_kv, deliver=deliver)

    async def cancel_watch(self, watch_id: int) -> bool:
        return self._watches.pop(watch_id, None) is not None

    async def watching(self, watch_ids: list[int]) -> list[bool]:
        """Which of these watches this member still serves (a restarted member serves none of its old
        ones)."""
        return [watch_id in self._watches for watch_id in watch_ids]

    def subscribe(
        self,
        key: bytes,
        range_end: bytes,
        start_revision: int,
        *,
        prev_kv: bool,
        deliver: Callable[[int, list[types.Event]], None],
        on_compacted: Callable[[int, int], None] | None = None,
    ) -> int:
        """In-process watch (the client port uses it): ``deliver(watch_id, events)`` on this loop.

        ``start_revision`` 0 means "from the next change". Raises ``Compacted`` below the compaction point.
        A watch that later falls behind a compaction (it had not been sent every change yet) is cancelled,
        as etcd cancels it: ``on_compacted(watch_id, compact_revision)`` tells its subscriber.
        """
        self._refuse_if_stopped()
        with self._lock:
            current = self.store.revision
            start = current + 1 if start_revision <= 0 else start_revision
            backlog = self.store.events_since(start, key=key, range_end=range_end or key + b"\0")
        watch = _Watch(
            id=next(self._watch_ids),
            key=key,
            range_end=range_end or key + b"\0",
            next_revision=max(start, current + 1),
            prev_kv=prev_kv,
            deliver=deliver,
            on_compacted=on_compacted,
        )
        self._watches[watch.id] = watch
        if backlog:
            self._send(watch, backlog)
        return watch.id

    def unsubscribe(self, watch_id: int) -> None:
        self._watches.pop(watch_id, None)

    # -- internals ---------------------------------------------------------------------------------------

    def _refuse_if_stopped(self) -> None:
        """Local reads and watches need a state this member can vouch for: not after it stopped itself
        (it would diverge, or its snapshot could not be loaded and the store is empty)."""
        raft = self._raft
        if raft is not None and raft.diverged is not None:
            raise raft.diverged

    async def _submit(self, request: types.Proposal) -> Any:
        return await self._enqueue(request)

    def _enqueue(self, request: types.Proposal) -> asyncio.Future[Any]:
        """Queue ``request`` for the next proposal: its future holds the answer once it is applied."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
            # One deadline for the requests of a loop turn (proposed together), from the turn's first: one
            # sweeper for all deadlines (they arrive in order), not a task and a timer per request. The
            # deadline holds the turn's list, which is emptied once they are answered, so that answers are
            # not kept alive for the whole timeout (the garbage collector would walk them again and again).
            self._deadlines.append((loop.time() + self.request_timeout, self._queue))
            if self._sweeper is None:
                self._sweeper = loop.call_later(self.request_timeout, self._sweep)
        self._queue.append((request, future))
        self.counters["requests"] += 1
        return future

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now, deadlines = loop.time(), self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, turn = deadlines.popleft()
            for _, future in turn:
                if not future.done():
                    future.set_exception(RequestTimedOut())
        self._sweeper = loop.call_at(deadlines[0][0], self._sweep) if deadlines else None

    def _flush(self) -> None:
        self._flush_scheduled = False
        queue, self._queue = self._queue, []
        raft = self._raft
        for start in range(0, len(queue), _MAX_BATCH):
            batch = queue if len(queue) <= _MAX_BATCH else queue[start : start + _MAX_BATCH]
            if raft is None:
                _fail(batch, Diverged(f"{self.name} is not running"))
                continue
            self._propose(raft, batch)

    def _propose(self, raft: RaftMember, batch: _Batch) -> None:
        requests = [request for request, _ in batch]
        command = entry.encode(requests)
        if len(command) > MAX_ENTRY_BYTES:  # halve it until each entry fits (see raft's chunking hazard)
            if len(batch) == 1:
                _fail(batch, errors.RequestTooLarge())
                return
            half = len(batch) // 2
            self._propose(raft, batch[:half])
            self._propose(raft, batch[half:])
            return
        self.counters["proposals"] += 1
        self._machine.proposed[command] = requests
        _DECODED.put(command, requests)  # for the other members of this process
        proposal = raft.propose(command)
        proposal.add_done_callback(lambda done: self._settled(batch, done, command))

    def _settled(
        self,
        batch: _Batch,
        done: asyncio.Future[Any],
        command: bytes,
    ) -> None:
        """Answer a batch; while there is no leader (an election), hold it and propose again shortly, as
        etcd does: nothing reached a log, and the callers' own deadlines bound the wait."""
        error = done.exception()
        if error is not None:
            self._machine.proposed.pop(command, None)
        waiting = [entry for entry in batch if not entry[1].done()]
        if isinstance(error, ProposalFailed) and error.reason == FAIL_REASON.MISSING_LEADER and waiting:
            asyncio.get_running_loop().call_later(_NO_LEADER_RETRY, self._repropose, waiting)
            return
        _settle(batch, done)

    def _repropose(self, batch: _Batch) -> None:
        waiting = [entry for entry in batch if not entry[1].done()]
        if not waiting:
            return
        if self._raft is None:
            _fail(waiting, Diverged(f"{self.name} is not running"))
        else:
            self._propose(self._raft, waiting)

    def _applied_from_raft_thread(self) -> None:
        loop = self._loop
        if loop is not None and self._watches and not self._dispatch_scheduled:
            # one wake-up of the loop for every entry applied before it runs (each costs a syscall);
            # the flag is cleared before the dispatch reads the store, so nothing applied is missed
            self._dispatch_scheduled = True
            loop.call_soon_threadsafe(self._dispatch_watches)

    def _dispatch_watches(self) -> None:
        """Send every watch the events applied since it was last served.

        The new events are read once and handed out by key range: each apiserver keeps one watch per
        resource here, so testing every event against every watch would cost events x watches per entry.
        """
        self._dispatch_scheduled = False
        if not self._watches:
            return
        with self._lock:
            current = self.store.revision
            due = [w for w in self._watches.values() if w.next_revision <= current]
            if not due:
                return
            try:
                events: list[types.Event] | None = self.store.events_since(min(w.next_revision for w in due))
            except errors.Compacted:
                events = None
        if events is None:  # some watch fell behind the compaction: each on its own
            self._dispatch_each(due)
            return
        by_key = sorted(range(len(events)), key=lambda i: events[i].kv.key)  # positions, in key order
        keys = [events[i].kv.key for i in by_key]
        for watch in due:
            start, end = types.key_interval(watch.key, watch.range_end)
            low = bisect.bisect_left(keys, start)
            high = len(keys) if end is None else bisect.bisect_left(keys, end, low)
            since = watch.next_revision
            watch.next_revision = current + 1
            if low < high:
                mine = [events[i] for i in sorted(by_key[low:high]) if events[i].kv.mod_revision >= since]
                if mine:
                    self._send(watch, mine)

    def _dispatch_each(self, watches: list[_Watch]) -> None:
        for watch in watches:
            with self._lock:
                if watch.next_revision > self.store.revision:
                    continue
                try:
                    events = self.store.events_since(
                        watch.next_revision, key=watch.key, range_end=watch.range_end
                    )
                except errors.Compacted as error:
                    log.warning("%s: watch %d fell behind compaction; cancelled", self.name, watch.id)
                    self._watches.pop(watch.id, None)
                    if watch.on_compacted is not None:
                        watch.on_compacted(watch.id, error.compact_revision)
                    continue
                watch.next_revision = self.store.revision + 1
            if events:
                self._send(watch, events)

    def _send(self, watch: _Watch, events: list[types.Event]) -> None:
        if not watch.prev_kv:
            events = [dataclasses.replace(e, prev_kv=None) if e.prev_kv is not None else e for e in events]
        self.counters["watch_events"] += len(events)
        watch.next_revision = max(watch.next_revision, events[-1].kv.mod_revision + 1)
        watch.deliver(watch.id, events)

    def _peer_verdict(self, peer: str) -> tuple[bool, float]:
        verdict = self.link_verdict(peer)
        return verdict.drop, verdict.delay

    def _me(self) -> MemberInfo:
        for member in self.members:
            if member.name == self.name:
                return member
        raise ValueError(f"{self.name} is not among the members {[m.name for m in self.members]}")

    def _end_raft(self) -> None:
        raft, self._raft = self._raft, None
        if raft is not None:
            raft.destroy()


def _members_request(members: list[MemberInfo]) -> types.MembersRequest:
    return types.MembersRequest(members=json.dumps([dataclasses.asdict(m) for m in members]))


def _settle(batch: _Batch, done: asyncio.Future[Any]) -> None:
    """Answer every request of ``batch`` and empty it (its deadline may still hold it)."""
    error = done.exception()
    if error is not None:
        _fail(batch, error)
        return
    for (_, future), result in zip(batch, done.result(), strict=True):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
    batch.clear()


def _fail(batch: _Batch, error: BaseException) -> None:
    """Refuse every request of ``batch`` not answered yet, and empty it."""
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
    batch.clear()
