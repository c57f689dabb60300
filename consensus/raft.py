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
- PySyncObj's own log compaction pickles the whole object and gzips it on its thread (or in a forked child,
  unsafe in a threaded process), and its file journal records offsets in 32 bits (it breaks past 4 GiB of
  log). Here the log is compacted by ``Snapshots``: the state machine's state is captured on Raft's thread
  at the last applied entry (reference copies, tens of milliseconds) and written by a thread of its own; the
  file becomes ``raft.snapshot`` on Raft's thread in the tick that drops the log before it (from memory and
  from the journal), so a member stopped meanwhile keeps a journal that goes on from its snapshot. A
  compaction starts after ``snapshot_count`` entries or ``snapshot_bytes`` of entries, as etcd's
  ``--snapshot-count``.
  A restart loads the snapshot and replays the journal after it; a follower too far behind for the log is
  sent the snapshot by the leader.
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
import pickle
import shutil
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pysyncobj import FAIL_REASON, SERIALIZER_STATE, SyncObj, SyncObjConf, replicated
from pysyncobj.transport import TCPTransport

log = logging.getLogger("kubemu.consensus.raft")

MAX_ENTRY_BYTES = 8 * 1024 * 1024
"""The largest log entry a member proposes (see the chunking hazard above); etcd refuses requests over
1.5 MiB by default, and the apiserver bodies over 3 MiB, so only a batch of many requests comes near it."""


class StateMachine(Protocol):
    """What Raft replicates into: deterministic, fed committed commands in log order."""

    def apply(self, command: bytes) -> Any:
        """The result goes to this member's own proposer only, in process (never over the wire)."""

    def capture(self) -> Callable[[], bytes]:
        """The state as it is now, on Raft's thread between two applies: cheap. The function returned
        builds the snapshot's bytes on another thread, while commands go on being applied."""

    def restore(self, data: bytes) -> None:
        """Replace the whole state with one a ``capture`` built (on Raft's thread)."""


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
    snapshot_count: int = 10_000  # log entries (batches) before a compaction (etcd's --snapshot-count)
    snapshot_bytes: int = 64 * 1024 * 1024  # bytes of log entries before a compaction


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
        member.snapshots.node = self  # a snapshot may load on the first tick, before member._node is set
        super().__init__(self_address, peers, conf, transportClass=FaultyTransport)

    @replicated  # type: ignore[untyped-decorator]
    def _apply(self, command: bytes) -> Any:
        member = self._member
        member._log_bytes += len(command)
        if member._log_bytes > member.config.snapshot_bytes:
            member._log_bytes = 0
            self.forceLogCompaction()
        return member._machine.apply(command)

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
        self._log_bytes = 0  # bytes of entries applied since the last forced compaction
        self.snapshots = Snapshots(self, os.path.join(data_dir, "raft.snapshot"))
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
            fullDumpFile=self.snapshots.path,
            commandsWaitLeader=False,
            dynamicMembershipChange=True,
            logCompactionMinEntries=config.snapshot_count,
            logCompactionMinTime=1_000_000_000,  # by size only, as etcd
            logCompactionBatchSize=1024 * 1024,  # a snapshot travels to a follower in pieces of this size
            useFork=False,
            serializer=self.snapshots.write,
            serializeChecker=self.snapshots.check,
            deserializer=self.snapshots.load,
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
        if self.diverged is not None:
            self.freeze(True)

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
            "log_entries": status["log_len"],
            "snapshots": self.snapshots.written,
            "snapshots_loaded": self.snapshots.loaded,
            "snapshot_index": self.snapshots.index,
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
            if not held and index <= node.raftLastApplied:
                pass  # compacted into the snapshot: committed, so in every later leader's log as it is here
            elif not held or held[0][2] != term:
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
        self._stop(
            f"{self.name}: asked to truncate the log from index {from_index}, but entries up to {applied} "
            "are applied; stopping instead of diverging"
        )

    def _stop(self, why: str) -> None:
        """This member's state cannot be trusted any more: it stops taking part, and says why."""
        self.diverged = Diverged(why)
        log.critical("%s", why)
        if hasattr(self, "_node"):  # else the constructor freezes it (a snapshot load at start failed)
            self.freeze(True)

    def _on_state_changed(self, old: int, new: int) -> None:
        if new == 2:  # LEADER
            self.leader_changes += 1


_SNAPSHOT_MAGIC = b"kubemu-raft-snapshot-1\n"


class Snapshots:
    """The member's ``raft.snapshot``: PySyncObj's serializer, checker and deserializer hooks.

    The file holds the magic line, the length and pickle of PySyncObj's part (the last two applied entries
    and the cluster's nodes: what a restart or a follower needs to continue the log after the snapshot),
    then the state machine's bytes.
    """

    def __init__(self, member: RaftMember, path: str) -> None:
        self.member = member
        self.path = path
        self.written = 0  # snapshots this member wrote
        self.loaded = 0  # snapshots it loaded: its own at a restart, or the leader's when it fell behind
        self.index = 0  # the log index the newest snapshot (written or loaded) ends at
        self._lock = threading.Lock()
        self._generation = 0  # a load makes any snapshot still being written stale
        self._writer: threading.Thread | None = None
        self._outcome: int | None = None  # SUCCESS or FAILED, until PySyncObj has been told
        self._written: tuple[int, int] | None = None  # the finished file's last index and generation
        self.node: Any = None  # the SyncObj, set before its thread starts (the member's is set after)

    def write(self, tmp_path: str, raft_part: tuple[Any, Any, Any]) -> None:
        """On Raft's thread: capture the state at the last applied entry and write it on a thread."""
        generation = self._generation  # only Raft's thread changes it; no writer runs now
        try:
            if os.path.exists(tmp_path):
                os.remove(tmp_path)  # PySyncObj renames this path when we return: nothing must be there
            build = self.member._machine.capture()
            header = pickle.dumps(raft_part, protocol=pickle.HIGHEST_PROTOCOL)
            writer = threading.Thread(
                target=self._write,
                args=(build, header, raft_part[0][1], generation),
                name=f"snapshot-{self.member.name}",
                daemon=True,
            )
            writer.start()
            self._writer = writer
        except Exception:
            log.exception("%s: taking the snapshot failed; the log stays as it is", self.member.name)
            self._outcome = SERIALIZER_STATE.FAILED

    def _write(self, build: Callable[[], bytes], header: bytes, index: int, generation: int) -> None:
        """On the writer thread: only ``raft.snapshot.writing``. The file becomes the snapshot in ``check``,
        on Raft's thread, in the same tick as PySyncObj drops the log before it: a member stopped (or a
        snapshot from the leader loaded) while this runs never finds a snapshot newer than its journal."""
        try:
            data = build()
            with open(self.path + ".writing", "wb") as file:
                file.write(_SNAPSHOT_MAGIC + struct.pack("<Q", len(header)) + header)
                file.write(data)
            outcome = SERIALIZER_STATE.SUCCESS
        except Exception:
            log.exception("%s: writing the snapshot failed; the log stays as it is", self.member.name)
            outcome = SERIALIZER_STATE.FAILED
        with self._lock:
            self._outcome = outcome
            self._written = (index, generation)

    @staticmethod
    def _trim_journal_to(journal: Any, *, last: Any, before: Any) -> None:
        """A stop between putting a snapshot in place and dropping the log before it (one Raft tick) leaves
        a journal that begins before the snapshot. PySyncObj would then clear it, losing the entries after
        the snapshot that this member had acknowledged; drop only the entries the snapshot covers instead."""
        if len(journal) < 2:
            return
        at = before[1] - journal[0][1]
        if at > 0 and at + 1 < len(journal) and journal[at] == before and journal[at + 1] == last:
            journal.deleteEntriesTo(at)

    @property
    def writing(self) -> bool:
        """A snapshot is being built and written now."""
        writer = self._writer
        return writer is not None and writer.is_alive()

    def check(self) -> int:
        """PySyncObj asks each tick, on Raft's thread; SUCCESS (it then drops the log up to the snapshot, in
        this same call) is said once."""
        writer = self._writer
        if writer is not None and writer.is_alive():
            return int(SERIALIZER_STATE.SERIALIZING)
        self._writer = None
        with self._lock:
            outcome, self._outcome = self._outcome, None
            written, self._written = self._written, None
        if outcome is None:
            return int(SERIALIZER_STATE.NOT_SERIALIZING)
        if outcome == SERIALIZER_STATE.SUCCESS and written is not None:
            index, generation = written
            if generation != self._generation:  # the leader's snapshot replaced the state meanwhile
                return int(SERIALIZER_STATE.FAILED)
            try:
                os.replace(self.path + ".writing", self.path)
            except OSError:
                log.exception("%s: the snapshot could not be put in place", self.member.name)
                return int(SERIALIZER_STATE.FAILED)
            self.written += 1
            self.index = index
        return int(outcome)

    def load(self, path: str) -> tuple[Any, Any, Any]:
        """On Raft's thread, at a restart or when the leader sent its snapshot: the state machine takes the
        file's state, and PySyncObj its part. A file that cannot be read stops the member (``Diverged``):
        going on from an empty state would answer reads wrongly."""
        self._generation += 1  # on Raft's thread, as check(): a snapshot still being written is stale now
        try:
            with open(path, "rb") as file:
                if file.read(len(_SNAPSHOT_MAGIC)) != _SNAPSHOT_MAGIC:
                    raise ValueError(f"{path} is not a kubemu Raft snapshot")
                (length,) = struct.unpack("<Q", file.read(8))
                raft_part = pickle.loads(file.read(length))
                self.member._machine.restore(file.read())
        except Exception as error:
            self.member._stop(f"{self.member.name}: cannot load the snapshot {path}: {error}")
            raise
        self.index = raft_part[0][1]
        self.loaded += 1
        node = self.node
        self._trim_journal_to(node._SyncObj__raftLog, last=raft_part[0], before=raft_part[1])
        # loading took a while: hearing the leader's snapshot counts as hearing the leader
        node._SyncObj__raftElectionDeadline = time.monotonic() + node._SyncObj__generateRaftTimeout()
        # proposals whose entries the snapshot covers will never be applied here one by one: their outcome
        # is unknown to this member (PySyncObj would keep waiting for them forever)
        waiting = node._SyncObj__commandsWaitingCommit
        for covered in [i for i in waiting if i <= self.index]:
            for _, callback in waiting.pop(covered):
                callback(None, FAIL_REASON.UNKNOWN_OUTCOME)
        return (raft_part[0], raft_part[1], raft_part[2])


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
