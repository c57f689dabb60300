"""One Raft member of the store: PySyncObj underneath, guarded against its known hazards.

``RaftMember`` replicates opaque commands (bytes) through PySyncObj and applies each committed command to a
``StateMachine`` (the MVCC store) on every member, in log order. Callers on an asyncio loop ``propose`` a
command and get its result once a majority has committed and this member applied it.

PySyncObj runs its own thread (its poller and timers); results cross back to the loop with
``call_soon_threadsafe``. Peer traffic goes over loopback TCP on the member's peer port, encrypted and
authenticated with the cluster's peer secret (PySyncObj's Fernet encryption: a peer without the secret cannot
join or read), and through ``FaultyTransport``, which asks the runtime's fault layer about each message, so a
partition, a delay with jitter (which reorders messages) or a drop between members behaves as on a network.

Hazards of PySyncObj 0.3.17 and how this member handles them:

- A follower's AppendEntries handler deletes every entry after ``prevLogIdx`` whenever its log is longer,
  without checking terms, so a duplicated or reordered AppendEntries truncates entries it already applied
  (the state machine diverges). ``RaftMember`` trims entries it already holds with the same term from each
  AppendEntries before PySyncObj sees it, so only a real term conflict truncates; and if a truncation would
  still reach an applied entry, the member stops (``Diverged``) rather than diverge.
- Term and vote are persisted only by the file journal: every member here has a data directory (if none
  is given, one per peer address that outlives restarts within this process), so a restarted member never
  votes twice in a term.
- ``leaderFallbackTimeout`` (30 s by default) keeps a cut-off leader acting as one: it is set to the election
  timeout, and reads that must be linearizable go through the log, which a minority leader cannot commit.
- An entry at least ``appendEntriesBatchSizeBytes`` long (64 KiB by default) is sent in chunks, and the
  leader marks the last chunk by the length of the entry's data rather than of the pickled entry, so an
  entry of some sizes arrives "finished" while still truncated: the follower fails to unpickle it, logs a
  traceback and drops the append, and the leader sends it again and again (seen with batches of 256
  creates: a third of the throughput lost). Here no entry is ever chunked: the threshold is
  ``MAX_ENTRY_BYTES`` * 2, and the member splits batches so that an entry stays under ``MAX_ENTRY_BYTES``
  (a single request above it is refused as too large).
- Nothing is fsynced by PySyncObj; an acknowledged write survives the loss of a minority of members, not the
  loss of every member's page cache at once (as with etcd's ``--unsafe-no-fsync``).
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import heapq
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated
from pysyncobj.transport import TCPTransport

log = logging.getLogger("kubemu.consensus.raft")

MAX_ENTRY_BYTES = 8 * 1024 * 1024
"""The largest log entry a member proposes (see the chunking hazard above); etcd refuses requests over
1.5 MiB by default, and the apiserver bodies over 3 MiB, so only a batch of many requests comes near it."""


class StateMachine(Protocol):
    """What Raft replicates into: deterministic, fed committed commands in log order."""

    def apply(self, command: bytes) -> Any:
        """The result goes to this member's own proposer only, in process (never over the wire)."""

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


class ProposalFailed(Exception):
    """The command was not committed (no leader, leader changed, queue full); it may be retried."""

    def __init__(self, reason: int) -> None:
        self.reason = reason
        super().__init__(f"proposal failed: {_FAIL_REASONS.get(reason, reason)}")


class Diverged(Exception):
    """The member was asked to drop entries it had already applied; it stopped instead of diverging."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RaftConfig:
    """Raft timing and storage of one member. Times are wall seconds: Raft's timers never scale."""

    election_timeout_min: float = 0.4
    election_timeout_max: float = 0.9
    heartbeat_period: float = 0.05
    tick_period: float = 0.002
    peer_secret: str | None = None
    data_dir: str | None = None
    connection_timeout: float = 1.0
    connection_retry: float = 0.3
    trim_append_entries: bool = True  # False leaves PySyncObj's handler as it is (to reproduce its hazard)


Verdict = Callable[[str], tuple[bool, float]]
"""Asked for each outgoing peer message with the peer's name: (drop?, delay seconds)."""


class FaultyTransport(TCPTransport):  # type: ignore[misc]
    """PySyncObj's TCP transport with the fault layer on the send side, and a freeze for a paused member."""

    verdict: Verdict | None = None
    names: dict[str, str] = {}
    frozen = False

    def __init__(self, syncObj: Any, selfNode: Any, otherNodes: Any) -> None:
        self._delayed: list[tuple[float, int, Any, Any]] = []
        self._sequence = 0
        super().__init__(syncObj, selfNode, otherNodes)

    def send(self, node: Any, message: Any) -> bool:
        if self.frozen:
            return True
        verdict = self.verdict
        if verdict is not None:
            drop, delay = verdict(self.names.get(node.id, node.id))
            if drop:
                return True  # lost on the wire: the sender cannot tell
            if delay > 0:
                self._sequence += 1
                heapq.heappush(self._delayed, (time.monotonic() + delay, self._sequence, node, message))
                return True
        return bool(super().send(node, message))

    def _onMessageReceived(self, node: Any, message: Any) -> None:
        if not self.frozen:
            super()._onMessageReceived(node, message)

    def _onTick(self) -> None:
        super()._onTick()
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, node, message = heapq.heappop(self._delayed)
            if not self.frozen:
                super().send(node, message)


class _Node(SyncObj):  # type: ignore[misc]
    """The PySyncObj object: one replicated method, and the guards on AppendEntries."""

    def __init__(self, member: RaftMember, self_address: str, peers: list[str], conf: SyncObjConf) -> None:
        self._member = member
        super().__init__(self_address, peers, conf, transportClass=FaultyTransport)

    @replicated  # type: ignore[untyped-decorator]
    def _apply(self, command: bytes) -> Any:
        return self._member._machine.apply(command)

    # Name-mangled hooks of SyncObj: the subclass attribute wins over SyncObj.__xxx.
    def _SyncObj__onMessageReceived(self, node: Any, message: Any) -> None:
        if (
            self._member.config.trim_append_entries
            and isinstance(message, dict)
            and message.get("type") == "append_entries"
            and "prevLogIdx" in message
            and message.get("transmission") is None
        ):
            message = self._member._trim_append_entries(message)
        SyncObj._SyncObj__onMessageReceived(self, node, message)

    def _SyncObj__deleteEntriesFrom(self, from_index: int) -> None:
        if from_index <= self.raftLastApplied:
            self._member._diverged(from_index)
            return
        SyncObj._SyncObj__deleteEntriesFrom(self, from_index)

    def _serialize(self) -> bytes:  # pragma: no cover - used by PySyncObj's snapshots
        return self._member._machine.snapshot()


class RaftMember:
    """A member of a Raft group on loopback; thread-safe ``propose`` for one asyncio loop."""

    def __init__(
        self,
        *,
        name: str,
        peer_address: str,
        peers: dict[str, str],
        machine: StateMachine,
        config: RaftConfig,
        verdict: Verdict | None = None,
    ) -> None:
        """``peers`` maps every other member's name to its ``127.0.0.1:port``."""
        self.name = name
        self.address = peer_address
        self._machine = machine
        self.config = config
        self.diverged: Diverged | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        data_dir = config.data_dir or _process_data_dir(peer_address, config)
        os.makedirs(data_dir, exist_ok=True)
        conf = SyncObjConf(
            autoTick=True,
            autoTickPeriod=config.tick_period,
            appendEntriesPeriod=config.heartbeat_period,
            appendEntriesUseBatch=False,  # send each batch of ours at once: commit latency is one round trip
            appendEntriesBatchSizeBytes=2
            * MAX_ENTRY_BYTES,  # never chunk an entry (see the module docstring)
            raftMinTimeout=config.election_timeout_min,
            raftMaxTimeout=config.election_timeout_max,
            leaderFallbackTimeout=config.election_timeout_max,
            connectionTimeout=max(config.connection_timeout, config.election_timeout_max),
            connectionRetryTime=config.connection_retry,
            password=config.peer_secret,
            journalFile=os.path.join(data_dir, "raft.journal"),
            fullDumpFile=os.path.join(data_dir, "raft.snapshot"),
            commandsWaitLeader=False,
            dynamicMembershipChange=True,
            logCompactionMinEntries=1_000_000_000,  # the MVCC store compacts itself; keep the log simple
            logCompactionMinTime=1_000_000_000,
            onStateChanged=self._on_state_changed,
        )
        addresses = {address: peer for peer, address in peers.items()}
        addresses[peer_address] = name
        FaultyTransport.names = {**FaultyTransport.names, **addresses}
        self.leader_changes = 0
        self.trimmed = 0  # AppendEntries that carried entries this member already held
        self._node = _Node(self, peer_address, list(peers.values()), conf)
        transport = self._node._SyncObj__transport
        transport.verdict = verdict

    # -- proposing -------------------------------------------------------------------------------------

    def propose(self, command: bytes) -> asyncio.Future[Any]:
        """Replicate ``command``; the future holds the state machine's result once committed and applied."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self.diverged is not None:
            future.set_exception(self.diverged)
            return future

        def done(result: Any, error: int) -> None:  # on PySyncObj's thread
            loop.call_soon_threadsafe(_settle, future, result, error)

        self._node._apply(command, callback=done)
        return future

    def change_membership(self, change: str, name: str, address: str) -> asyncio.Future[None]:
        """Add (``change="add"``) or remove (``"remove"``) a member through the log, one at a time.

        A member being added must already run, started with every current member as its peers; it then
        catches up from the leader. The future completes once the change is committed.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        FaultyTransport.names = {**FaultyTransport.names, address: name}

        def done(result: Any, error: int) -> None:  # on PySyncObj's thread
            loop.call_soon_threadsafe(_settle_change, future, error)

        if change == "add":
            self._node.addNodeToCluster(address, callback=done)
        elif change == "remove":
            self._node.removeNodeFromCluster(address, callback=done)
        else:
            raise ValueError(f'membership change must be "add" or "remove", not "{change}"')
        return future

    # -- state ------------------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return bool(self._node._isLeader())

    @property
    def leader(self) -> str | None:
        """The leader this member follows, or None when it has none it can reach: PySyncObj keeps naming
        a dead leader while this member is cut off from every peer (it only elects while connected)."""
        leader = self._node._getLeader()
        if leader is None:
            return None
        if leader != self._node.selfNode and not self._node.isNodeConnected(leader):
            return None
        name: str = FaultyTransport.names.get(leader.id, leader.id)
        return name

    @property
    def term(self) -> int:
        return int(self._node.raftCurrentTerm)

    @property
    def has_quorum(self) -> bool:
        return bool(self._node.hasQuorum)

    def status(self) -> dict[str, Any]:
        status = self._node.getStatus()
        return {
            "name": self.name,
            "leader": self.leader,
            "term": status["raft_term"],
            "commit_index": status["commit_idx"],
            "applied_index": status["last_applied"],
            "has_quorum": status["has_quorum"],
            "leader_changes": self.leader_changes,
            "trimmed_append_entries": self.trimmed,
        }

    def freeze(self, frozen: bool) -> None:
        """Stop (or restart) all peer traffic in and out, as a paused process would."""
        self._node._SyncObj__transport.frozen = frozen

    def destroy(self) -> None:
        """Stop the member's thread and close its sockets; its data directory stays for a restart. Peer
        traffic stops at once (PySyncObj's thread only notices ``destroy`` at its next tick, and could
        acknowledge one more append meanwhile: a killed member must not)."""
        self.freeze(True)
        self._node.destroy()
        thread = getattr(self._node, "_SyncObj__thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)  # it stops at its next tick: then its files are closed

    # -- guards, called on PySyncObj's thread ------------------------------------------------------------

    def _trim_append_entries(self, message: dict[str, Any]) -> dict[str, Any]:
        """Drop the entries this member already holds with the same term, so only a conflict truncates.

        If nothing new remains and the log is longer: entries of the sender's term came from it (one leader
        per term), so the member answers from its last entry; otherwise from its last applied entry, which
        is committed and so in every later leader's log.
        """
        node = self._node
        entries = list(message.get("entries", []))
        prev_index, prev_term = message["prevLogIdx"], message["prevLogTerm"]
        last_index = node._SyncObj__getCurrentLogIndex()
        skipped = 0
        for _, index, term in entries:
            if index > last_index:
                break
            held = node._SyncObj__getEntries(index, 1)
            if not held or held[0][2] != term:
                break
            prev_index, prev_term = index, term
            skipped += 1
        if skipped == 0 and not (not entries and last_index > prev_index):
            return message
        self.trimmed += 1
        rest = entries[skipped:]
        if not rest and last_index > prev_index:
            if node._SyncObj__getCurrentLogTerm() == message["term"]:
                prev_index, prev_term = last_index, message["term"]
            elif node.raftLastApplied > prev_index:
                applied = node._SyncObj__getEntries(node.raftLastApplied, 1)
                if applied:
                    prev_index, prev_term = applied[0][1], applied[0][2]
        trimmed = dict(message)
        trimmed["entries"] = rest
        trimmed["prevLogIdx"], trimmed["prevLogTerm"] = prev_index, prev_term
        return trimmed

    def _diverged(self, from_index: int) -> None:
        applied = self._node.raftLastApplied
        self.diverged = Diverged(
            f"{self.name}: asked to truncate the log from index {from_index}, but entries up to {applied} "
            "are applied; stopping instead of diverging"
        )
        log.critical("%s", self.diverged)
        self.freeze(True)

    def _on_state_changed(self, old: int, new: int) -> None:
        if new == 2:  # LEADER
            self.leader_changes += 1


_FAIL_REASONS = {
    FAIL_REASON.QUEUE_FULL: "queue full",
    FAIL_REASON.MISSING_LEADER: "no leader",
    FAIL_REASON.DISCARDED: "discarded by a new leader",
    FAIL_REASON.NOT_LEADER: "not leader",
    FAIL_REASON.LEADER_CHANGED: "leader changed",
    FAIL_REASON.REQUEST_DENIED: "request denied",
    FAIL_REASON.UNKNOWN_OUTCOME: "unknown outcome",
}


_PROCESS_DIRS: set[str] = set()


def _process_data_dir(address: str, config: RaftConfig) -> str:
    """A member without a data directory still needs one for its term and vote, and it must outlive a
    restart of the member (that is the point): a restart is built from the same ``config`` object, so the
    directory is keyed by it and the address, for this process, and removed when the process exits."""
    key = f"{os.getpid()}-{id(config):x}-{address.replace(':', '-')}"
    path = os.path.join(tempfile.gettempdir(), f"kubemu-raft-{key}")
    if not _PROCESS_DIRS:
        atexit.register(_remove_process_dirs)
    _PROCESS_DIRS.add(path)
    return path


def _remove_process_dirs() -> None:
    for path in _PROCESS_DIRS:
        shutil.rmtree(path, ignore_errors=True)


def _settle_change(future: asyncio.Future[None], error: int) -> None:
    if future.done():
        return
    if error == FAIL_REASON.SUCCESS:
        future.set_result(None)
    else:
        future.set_exception(ProposalFailed(error))


def _settle(future: asyncio.Future[Any], result: Any, error: int) -> None:
    if future.done():
        return
    if error == FAIL_REASON.SUCCESS and result is not None:
        future.set_result(result)
    else:
        future.set_exception(ProposalFailed(error))
