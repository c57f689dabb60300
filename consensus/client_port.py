"""``ClientPort``: a store member's client port, etcd's v3 JSON API (its grpc-gateway) over HTTP or HTTPS.

One ``ClientPort`` serves one ``StoreMember`` on the same event loop, on a loopback address. It is the
shell around ``etcd_json`` (the pure codec): read the body, decode, call the member, encode. What it serves:

- ``POST /v3/kv/range|put|deleterange|txn|compaction``, ``/v3/lease/grant|revoke|timetolive|leases``
  (and etcd's ``/v3/kv/lease/*`` aliases), ``/v3/cluster/member/list``, ``/v3/maintenance/status``: one JSON
  body in, one out, or grpc-gateway's error body with the HTTP status of the gRPC code.
- ``POST /v3/watch`` and ``/v3/lease/keepalive``: streams, as the gateway serves them. The body is a
  sequence of requests (curl sends one); the answer is chunked, one ``{"result": ...}`` line per message.
  A watch stream lasts until the client disconnects or the port stops; a keep-alive stream ends with the
  body. A stream whose first request does not decode gets a plain error answer (gRPC UNKNOWN, 500).
- ``GET /health`` (``?serializable=true`` skips the leader check and reads locally), ``/metrics``
  (Prometheus text, etcd's metric names), ``/version``.

Requests are refused before they reach Raft when they do not decode or validate (``etcd_json``), and when
the body is over ``max_request_bytes`` ("etcdserver: request is too large"). Member failures map to etcd's
messages: ``RequestTimedOut`` and failed proposals to UNAVAILABLE (503), store refusals to their own codes.

The response header's ``raft_term`` comes from the member's status, re-read at most every
``status_interval`` wall seconds, so the hot path pays one comparison for it. Counters behind ``/metrics``
and ``stats()`` count what passed through this port (etcd's ``etcd_mvcc_*_total`` count the whole member).

Lifecycle (the member drives it): ``await start()`` in ``on_start``, ``await stop()`` in ``on_stop``,
``abort()`` in ``on_kill`` (stop listening and drop connections at once), ``pause()``/``resume()`` in
``on_pause``/``on_resume`` (requests wait, as they would on a stopped process).
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import dataclasses
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pysyncobj import FAIL_REASON

from consensus import etcd_json
from consensus import http_server as hs
from consensus.etcd_json import Code
from consensus.mvcc import errors, types
from consensus.mvcc.validation import MAX_REQUEST_BYTES
from consensus.raft import Diverged, ProposalFailed

if TYPE_CHECKING:
    from consensus.member import MemberInfo, StoreMember

log = logging.getLogger("kubemu.consensus.client_port")

MAX_BODY_BYTES = MAX_REQUEST_BYTES * 4 // 3 + 512 * 1024
"""A body big enough for a 1.5 MiB value in base64 plus the JSON around it (etcd's gRPC overhead: 512 KiB)."""

_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"
_END: Any = object()  # the end of a stream's request body
_UNARY = "unary"
_BIDI = "bidi_stream"
_CODE_NAMES = {  # Go's codes.Code.String(), as grpc-prometheus labels them
    Code.OK: "OK",
    Code.CANCELLED: "Canceled",
    Code.UNKNOWN: "Unknown",
    Code.INVALID_ARGUMENT: "InvalidArgument",
    Code.DEADLINE_EXCEEDED: "DeadlineExceeded",
    Code.NOT_FOUND: "NotFound",
    Code.ALREADY_EXISTS: "AlreadyExists",
    Code.PERMISSION_DENIED: "PermissionDenied",
    Code.RESOURCE_EXHAUSTED: "ResourceExhausted",
    Code.FAILED_PRECONDITION: "FailedPrecondition",
    Code.ABORTED: "Aborted",
    Code.OUT_OF_RANGE: "OutOfRange",
    Code.UNIMPLEMENTED: "Unimplemented",
    Code.INTERNAL: "Internal",
    Code.UNAVAILABLE: "Unavailable",
    Code.DATA_LOSS: "DataLoss",
    Code.UNAUTHENTICATED: "Unauthenticated",
}

Serve = Callable[[bytes], Awaitable[bytes]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """An error as the gateway reports it: a gRPC code and etcd's message."""

    code: Code
    message: str


def refusal(error: BaseException) -> Refusal:
    """The gRPC code and message etcd would answer ``error`` with (UNKNOWN for anything unexpected)."""
    from consensus.member import RequestTimedOut  # here, so member.py may import this module at its top

    if isinstance(error, etcd_json.BadRequest):
        return Refusal(code=Code.INVALID_ARGUMENT, message=str(error))
    if isinstance(error, errors.StoreError):
        return Refusal(code=Code(error.grpc_code), message=str(error))
    if isinstance(error, RequestTimedOut):
        return Refusal(code=Code.UNAVAILABLE, message=str(error))
    if isinstance(error, ProposalFailed):
        if error.reason == FAIL_REASON.MISSING_LEADER:
            return Refusal(code=Code.UNAVAILABLE, message="etcdserver: no leader")
        if error.reason == FAIL_REASON.QUEUE_FULL:
            return Refusal(code=Code.RESOURCE_EXHAUSTED, message="etcdserver: too many requests")
        return Refusal(code=Code.UNAVAILABLE, message="etcdserver: leader changed")
    if isinstance(error, Diverged):
        return Refusal(code=Code.UNAVAILABLE, message="etcdserver: server stopped")
    return Refusal(code=Code.UNKNOWN, message=str(error) or type(error).__name__)


def leader_of(status: dict[str, Any]) -> str | None:
    """The leader a member's status names, or None when the member cannot reach a majority.

    PySyncObj starts an election only while connected to some peer, so a follower cut off from everyone keeps
    naming its dead leader; etcd's follower would have none. ``has_quorum`` (connected to a majority) is
    what tells them apart.
    """
    leader = status.get("leader")
    return str(leader) if leader and status.get("has_quorum", True) else None


class ClientPort:
    """See the module docstring. ``port`` 0 binds a free port; ``port`` and ``url`` tell which after start."""

    def __init__(
        self,
        member: StoreMember,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        max_request_bytes: int = MAX_BODY_BYTES,
        status_interval: float = 0.1,
    ) -> None:
        self.member = member
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.max_request_bytes = max_request_bytes
        self.status_interval = status_interval
        self._http: hs.HttpServer | None = None
        self._routes: dict[tuple[str, str], Callable[[hs.Request], Awaitable[Any]]] = {}
        self._known: set[str] = set()
        self._paused = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._streams: set[_Stream] = set()
        # the header, rebuilt from the member's status when its term changes
        self._status_due = 0.0
        self._header = etcd_json.Header(cluster_id=0, member_id=0, raft_term=0)
        # what /metrics shows: every counter here only grows
        self.counters: collections.Counter[str] = collections.Counter()
        self.handled: collections.Counter[tuple[str, str, str, Code]] = collections.Counter()
        self.in_flight = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        members = await self.member.member_list()
        me = next((m for m in members if m.name == self.member.name), None)
        self._header = etcd_json.Header(
            cluster_id=etcd_json.cluster_id(m.id for m in members),
            member_id=me.id if me is not None else 0,
            raft_term=0,
        )
        await self._refresh()
        self._route()
        server = hs.HttpServer(self._serve_http, host=self.host, port=self.port, ssl_context=self.ssl_context)
        await server.start()
        self.port = server.port
        self._http = server
        log.info("%s: client port serving %s", self.member.name, self.url)

    async def stop(self) -> None:
        """Stop listening, end every stream, finish requests in flight (at most a second), close."""
        server, self._http = self._http, None
        self.resume()
        for stream in list(self._streams):
            stream.end()
        if server is not None:
            await server.stop(grace=1.0)

    def abort(self) -> None:
        """Close at once, as a killed process would: stop listening and drop every connection."""
        server, self._http = self._http, None
        if server is not None:
            server.abort()
        for stream in list(self._streams):
            stream.end()

    def pause(self) -> None:
        self._paused = True
        self._resumed.clear()

    def resume(self) -> None:
        self._paused = False
        self._resumed.set()

    def stats(self) -> dict[str, int]:
        return {
            **self.counters,
            "in_flight": self.in_flight,
            "watch_streams": len(self._streams),
            "watchers": sum(len(s.watches) for s in self._streams),
        }

    # -- routing -----------------------------------------------------------------------------------------

    def _route(self) -> None:
        kv, lease = "etcdserverpb.KV", "etcdserverpb.Lease"
        unary: dict[str, tuple[str, str, Serve]] = {
            "/v3/kv/range": (kv, "Range", self._range),
            "/v3/kv/put": (kv, "Put", self._put),
            "/v3/kv/deleterange": (kv, "DeleteRange", self._delete_range),
            "/v3/kv/txn": (kv, "Txn", self._txn),
            "/v3/kv/compaction": (kv, "Compact", self._compact),
            "/v3/lease/grant": (lease, "LeaseGrant", self._lease_grant),
            "/v3/lease/revoke": (lease, "LeaseRevoke", self._lease_revoke),
            "/v3/kv/lease/revoke": (lease, "LeaseRevoke", self._lease_revoke),
            "/v3/lease/timetolive": (lease, "LeaseTimeToLive", self._lease_time_to_live),
            "/v3/kv/lease/timetolive": (lease, "LeaseTimeToLive", self._lease_time_to_live),
            "/v3/lease/leases": (lease, "LeaseLeases", self._lease_leases),
            "/v3/kv/lease/leases": (lease, "LeaseLeases", self._lease_leases),
            "/v3/cluster/member/list": ("etcdserverpb.Cluster", "MemberList", self._member_list),
            "/v3/maintenance/status": ("etcdserverpb.Maintenance", "Status", self._status_call),
        }
        routes: dict[tuple[str, str], Callable[[hs.Request], Awaitable[Any]]] = {
            ("POST", path): self._unary(service, method, serve)
            for path, (service, method, serve) in unary.items()
        }
        routes[("POST", "/v3/watch")] = self._watch
        routes[("POST", "/v3/lease/keepalive")] = self._keep_alive
        for method in ("GET", "HEAD"):
            routes[(method, "/health")] = self._health
            routes[(method, "/metrics")] = self._metrics
            routes[(method, "/version")] = self._version
        self._routes = routes
        self._known = {*unary, "/v3/watch", "/v3/lease/keepalive"}

    async def _serve_http(self, request: hs.Request) -> Any:
        route = self._routes.get((request.method, request.path))
        if route is not None:
            return await route(request)
        if request.path.startswith("/v3/"):
            # grpc-gateway's mux: a known path with another method, else not found
            if request.path in self._known:
                return _error_response(Code.UNIMPLEMENTED, "Method Not Allowed")
            return _error_response(Code.NOT_FOUND, "Not Found")
        return hs.Response(status=404, body=b"404 page not found\n", content_type=_TEXT)  # Go's NotFound

    def _unary(
        self, service: str, method: str, serve: Serve
    ) -> Callable[[hs.Request], Awaitable[hs.Response]]:
        ok = (_UNARY, service, method, Code.OK)

        async def handle(request: hs.Request) -> hs.Response:
            if self._paused:
                await self._resumed.wait()
            self.in_flight += 1
            try:
                body = await self._read(request)
                out = await serve(body)
            except Exception as error:
                return self._refuse(error, (_UNARY, service, method))
            finally:
                self.in_flight -= 1
            self.handled[ok] += 1
            self.counters["received_bytes"] += len(body)
            self.counters["sent_bytes"] += len(out)
            return hs.Response(body=out, content_type=_JSON)

        return handle

    def _refuse(self, error: Exception, call: tuple[str, str, str]) -> hs.Response:
        answer = refusal(error)
        if isinstance(error, etcd_json.BadRequest) and call[0] == _BIDI:
            # the gateway hands a stream's undecodable first request back as a plain Go error: UNKNOWN
            answer = Refusal(code=Code.UNKNOWN, message=answer.message)
        elif answer.code == Code.UNKNOWN:
            log.error("%s: %s failed", self.member.name, call[2], exc_info=error)
        self.handled[(*call, answer.code)] += 1
        if answer.code in (Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED):
            self.counters["proposals_failed"] += 1
        return _error_response(answer.code, answer.message)

    async def _read(self, request: hs.Request) -> bytes:
        try:
            return await request.read(limit=self.max_request_bytes)
        except hs.BodyTooLarge:
            raise errors.RequestTooLarge() from None

    # -- the header --------------------------------------------------------------------------------------

    async def header(self) -> etcd_json.Header:
        """The response header's fixed part, its term at most ``status_interval`` old."""
        if asyncio.get_running_loop().time() >= self._status_due:
            await self._refresh()
        return self._header

    async def _refresh(self) -> dict[str, Any]:
        status = await self.member.status()
        self._status_due = asyncio.get_running_loop().time() + self.status_interval
        term = int(status.get("term") or 0)
        if term != self._header.raft_term:
            self._header = dataclasses.replace(self._header, raft_term=term)
        return status

    def _member_id(self, name: str | None) -> int:
        return next((m.id for m in self.member.members if m.name == name), 0) if name else 0

    # -- unary calls -------------------------------------------------------------------------------------

    async def _range(self, body: bytes) -> bytes:
        call = etcd_json.decode_range(body)
        response = await self.member.range(call.request, serializable=call.serializable)
        self.counters["range"] += 1
        return etcd_json.encode_range(response, await self.header())

    async def _put(self, body: bytes) -> bytes:
        response = await self.member.put(etcd_json.decode_put(body))
        self.counters["put"] += 1
        return etcd_json.encode_put(response, await self.header())

    async def _delete_range(self, body: bytes) -> bytes:
        response = await self.member.delete_range(etcd_json.decode_delete_range(body))
        self.counters["delete"] += 1
        return etcd_json.encode_delete_range(response, await self.header())

    async def _txn(self, body: bytes) -> bytes:
        response = await self.member.txn(etcd_json.decode_txn(body))
        self.counters["txn"] += 1
        return etcd_json.encode_txn(response, await self.header())

    async def _compact(self, body: bytes) -> bytes:
        response = await self.member.compact(etcd_json.decode_compaction(body))
        return etcd_json.encode_compaction(response, await self.header())

    async def _lease_grant(self, body: bytes) -> bytes:
        grant = etcd_json.decode_lease_grant(body)
        response = await self.member.lease_grant(grant.ttl, grant.id)
        return etcd_json.encode_lease_grant(response, await self.header())

    async def _lease_revoke(self, body: bytes) -> bytes:
        response = await self.member.lease_revoke(etcd_json.decode_lease_id(body).id)
        return etcd_json.encode_lease_revoke(response, await self.header())

    async def _lease_time_to_live(self, body: bytes) -> bytes:
        lease = etcd_json.decode_lease_id(body)
        response = await self.member.lease_time_to_live(lease.id, keys=lease.keys)
        return etcd_json.encode_lease_time_to_live(response, await self.header())

    async def _lease_leases(self, body: bytes) -> bytes:
        etcd_json.decode_empty(body)
        response = await self.member.lease_leases()
        return etcd_json.encode_lease_leases(response, await self.header())

    async def _member_list(self, body: bytes) -> bytes:
        etcd_json.decode_empty(body)
        members = [self._member_view(m) for m in await self.member.member_list()]
        return etcd_json.encode_member_list(members, await self.header())

    def _member_view(self, member: MemberInfo) -> etcd_json.Member:
        client_url = member.client_url or (self.url if member.name == self.member.name else "")
        return etcd_json.Member(
            id=member.id,
            name=member.name,
            peer_urls=(member.peer_url if "://" in member.peer_url else f"http://{member.peer_url}",),
            client_urls=(client_url,) if client_url else (),
        )

    async def _status_call(self, body: bytes) -> bytes:
        etcd_json.decode_empty(body)
        status = await self._refresh()
        leader = self._member_id(leader_of(status))
        view = etcd_json.Status(
            leader=leader,
            raft_index=int(status.get("commit_index") or 0),
            raft_term=int(status.get("term") or 0),
            raft_applied_index=int(status.get("applied_index") or 0),
            errors=() if leader else ("etcdserver: no leader",),
        )
        return etcd_json.encode_status(view, self._header, int(status.get("revision") or 0))

    # -- streams -----------------------------------------------------------------------------------------

    async def _watch(self, request: hs.Request) -> Any:
        stream = _Stream(self, request)
        return await stream.serve_watch()

    async def _keep_alive(self, request: hs.Request) -> Any:
        stream = _Stream(self, request)
        return await stream.serve_keep_alive()

    # -- health, metrics, version ------------------------------------------------------------------------

    async def _health(self, request: hs.Request) -> hs.Response:
        serializable = request.query.get("serializable", "false").lower() == "true"
        status = await self._refresh()
        reason = ""
        if not serializable and leader_of(status) is None:
            reason = "RAFT NO LEADER"
        else:
            probe = types.RangeRequest(key=b"\0", range_end=types.ALL_KEYS, limit=1, keys_only=True)
            try:
                await self.member.range(probe, serializable=serializable)
            except Exception as error:
                reason = f"RANGE ERROR:{refusal(error).message}"
        self.counters["health_success" if not reason else "health_failed"] += 1
        if reason:  # Go's http.Error: text/plain and a newline
            body = etcd_json.encode_health(False, reason) + b"\n"
            return hs.Response(status=503, body=body, content_type=_TEXT)
        return hs.Response(body=etcd_json.encode_health(True), content_type=_JSON)

    async def _metrics(self, request: hs.Request) -> hs.Response:
        status = await self._refresh()
        text = _render_metrics(self, status)
        return hs.Response(body=text.encode(), content_type=_TEXT)

    async def _version(self, request: hs.Request) -> hs.Response:
        return hs.Response(body=etcd_json.encode_version(), content_type=_JSON)


def _error_response(code: Code, message: str) -> hs.Response:
    status, body = etcd_json.encode_error(code, message)
    return hs.Response(status=status, body=body, content_type=_JSON)


class _Stream:
    """One ``/v3/watch`` or ``/v3/lease/keepalive`` call: its request body read as a sequence of JSON values,
    its answer written as newline-delimited chunks from ``outbox`` (None ends the answer)."""

    def __init__(self, port: ClientPort, request: hs.Request) -> None:
        self.port = port
        self.request = request
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.watches: dict[int, int] = {}  # this stream's watch id -> the member's
        self._next_id = 0
        self._buffer = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._eof = False
        self._read = 0

    def end(self) -> None:
        self.outbox.put_nowait(None)

    async def next_value(self) -> Any:
        """The next JSON value of the body: ``_END`` after the last, ``BadRequest`` for one not JSON."""
        while True:
            if self._buffer.strip():
                try:
                    value, end = etcd_json.parse_value(self._buffer)
                except etcd_json.BadRequest:
                    if self._eof:
                        raise
                else:
                    self._buffer = self._buffer[end:]
                    return value
            elif self._eof:
                return _END
            chunk = await self.request.read_chunk()
            self._read += len(chunk)
            if self._read > self.port.max_request_bytes:
                raise errors.RequestTooLarge()
            self.port.counters["received_bytes"] += len(chunk)
            try:
                self._buffer += self._decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                raise etcd_json.BadRequest(f"invalid character in string: {error.reason}") from None
            self._eof = not chunk

    # -- /v3/watch ---------------------------------------------------------------------------------------

    async def serve_watch(self) -> Any:
        port = self.port
        call = (_BIDI, "etcdserverpb.Watch", "Watch")
        try:  # the gateway decodes the first request before it answers anything
            first = await self.next_value()
            if first is not _END:
                etcd_json.decode_watch(first)
        except Exception as error:
            return port._refuse(error, call)
        response = await self.request.stream(content_type=_JSON)
        port._streams.add(self)
        reader: asyncio.Task[None] | None = None
        try:
            if first is not _END:
                await self._on_watch_request(first)
                reader = asyncio.get_running_loop().create_task(self._read_watch_requests())
            while (chunk := await self.outbox.get()) is not None:
                if port._paused:
                    await port._resumed.wait()
                await response.write(chunk)
                port.counters["sent_bytes"] += len(chunk)
            port.handled[(*call, Code.OK)] += 1
            await response.end()
        except ConnectionResetError:
            port.handled[(*call, Code.CANCELLED)] += 1
        except asyncio.CancelledError:  # the client went away (the server cancels the handler)
            port.handled[(*call, Code.CANCELLED)] += 1
            raise
        finally:
            port._streams.discard(self)
            if reader is not None:
                reader.cancel()
            for member_id in self.watches.values():
                port.member.unsubscribe(member_id)
            self.watches.clear()
        return hs.STREAMED

    async def _read_watch_requests(self) -> None:
        while True:
            try:
                value = await self.next_value()
            except Exception:  # the gateway stops sending after a request it cannot decode
                return
            if value is _END:
                return
            try:
                await self._on_watch_request(value)
            except etcd_json.BadRequest:
                return
            except Exception:  # a failure of one request must not leave the stream half alive and silent
                log.exception("%s: watch request %r failed", self.port.member.name, value)
                self.end()
                return

    async def _on_watch_request(self, value: Any) -> None:
        request = etcd_json.decode_watch(value)
        port = self.port
        if isinstance(request, etcd_json.WatchCreate):
            await self._create(request)
        elif isinstance(request, etcd_json.WatchCancel):
            member_id = self.watches.pop(request.watch_id, None)
            if member_id is not None:
                port.member.unsubscribe(member_id)
                revision = int((await port._refresh()).get("revision") or 0)
                self.outbox.put_nowait(
                    etcd_json.watch_chunk(port._header, revision, watch_id=request.watch_id, canceled=True)
                )
        elif isinstance(request, etcd_json.WatchProgress):
            revision = int((await port._refresh()).get("revision") or 0)
            self.outbox.put_nowait(etcd_json.watch_chunk(port._header, revision, watch_id=-1))

    async def _create(self, request: etcd_json.WatchCreate) -> None:
        port = self.port
        revision = int((await port._refresh()).get("revision") or 0)
        header = port._header
        if request.start_revision < 0:
            self.outbox.put_nowait(
                etcd_json.watch_chunk(
                    header, revision, watch_id=-1, created=True, canceled=True, cancel_reason=_COMPACTED
                )
            )
            return
        watch_id = request.watch_id
        if watch_id < 0 or (watch_id and watch_id in self.watches):
            self.outbox.put_nowait(
                etcd_json.watch_chunk(
                    header, revision, watch_id=-1, created=True, canceled=True, cancel_reason=_DUPLICATE_ID
                )
            )
            return
        if not watch_id:
            while self._next_id in self.watches:
                self._next_id += 1
            watch_id = self._next_id
        self.outbox.put_nowait(etcd_json.watch_chunk(header, revision, watch_id=watch_id, created=True))
        # "From the next change" is pinned to the revision the created message reports, so nothing slips
        # between the two.
        start = request.start_revision or revision + 1
        skip = {
            etcd_json.WatchFilter.NOPUT: types.EventType.PUT,
            etcd_json.WatchFilter.NODELETE: types.EventType.DELETE,
        }
        unwanted = frozenset(skip[f] for f in request.filters)
        try:  # the backlog from ``start`` is delivered before subscribe returns, after "created"
            member_id = port.member.subscribe(
                request.key,
                request.range_end,
                start,
                prev_kv=request.prev_kv,
                deliver=lambda _, events: self._deliver(watch_id, unwanted, events),
                on_compacted=lambda _, compacted: self._compacted(watch_id, compacted),
            )
        except errors.Compacted as error:
            self.outbox.put_nowait(
                etcd_json.watch_chunk(
                    header,
                    revision,
                    watch_id=watch_id,
                    canceled=True,
                    compact_revision=error.compact_revision,
                )
            )
            return
        self.watches[watch_id] = member_id

    def _compacted(self, watch_id: int, compact_revision: int) -> None:
        """The member dropped this watch: it fell behind a compaction. Tell the client, as etcd does."""
        self.watches.pop(watch_id, None)
        chunk = etcd_json.watch_chunk(
            self.port._header,
            compact_revision,
            watch_id=watch_id,
            canceled=True,
            compact_revision=compact_revision,
        )
        self.outbox.put_nowait(chunk)

    def _deliver(
        self, watch_id: int, unwanted: frozenset[types.EventType], events: list[types.Event]
    ) -> None:
        if unwanted:
            events = [e for e in events if e.type not in unwanted]
        if events:
            chunk = etcd_json.watch_chunk(
                self.port._header, events[-1].kv.mod_revision, watch_id=watch_id, events=events
            )
            self.outbox.put_nowait(chunk)

    # -- /v3/lease/keepalive -----------------------------------------------------------------------------

    async def serve_keep_alive(self) -> Any:
        port = self.port
        call = (_BIDI, "etcdserverpb.Lease", "LeaseKeepAlive")
        response: hs.ChunkedWriter | None = None
        try:
            value = await self.next_value()
            lease_id = etcd_json.decode_keep_alive(value) if value is not _END else 0
        except Exception as error:
            return port._refuse(error, call)
        while value is not _END:
            try:
                renewed = await port.member.lease_keep_alive(lease_id)
            except errors.LeaseNotFound:  # etcd answers TTL 0, not an error
                revision = int((await port._refresh()).get("revision") or 0)
                renewed = types.LeaseKeepAliveResponse(revision=revision, id=lease_id, ttl=0)
            except Exception as error:
                answer = refusal(error)
                port.handled[(*call, answer.code)] += 1
                chunk = etcd_json.stream_error_chunk(answer.code, answer.message)
                if response is None:
                    return hs.Response(
                        status=etcd_json.http_status(answer.code), body=chunk, content_type=_JSON
                    )
                await response.write(chunk)
                await response.end()
                return hs.STREAMED
            if response is None:
                response = await self.request.stream(content_type=_JSON)
            chunk = etcd_json.keep_alive_chunk(renewed, await port.header())
            await response.write(chunk)
            port.counters["sent_bytes"] += len(chunk)
            try:
                value = await self.next_value()
                lease_id = etcd_json.decode_keep_alive(value) if value is not _END else 0
            except Exception:
                break
        port.handled[(*call, Code.OK)] += 1
        if response is None:
            return hs.Response(status=200, content_type=_JSON)
        await response.end()
        return hs.STREAMED


_COMPACTED = "etcdserver: mvcc: required revision has been compacted"
_DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream"


# -- /metrics ------------------------------------------------------------------------------------------


_METRICS = [
    line.split(" ", 3)
    for line in """
etcd_server_has_leader gauge has_leader Whether or not a leader exists. 1 is existence, 0 is not.
etcd_server_is_leader gauge is_leader Whether or not this member is a leader. 1 if is, 0 otherwise.
etcd_server_leader_changes_seen_total counter leader_changes The number of leader changes seen.
etcd_server_proposals_committed_total gauge commit_index The total number of consensus proposals committed.
etcd_server_proposals_applied_total gauge applied_index The total number of consensus proposals applied.
etcd_server_proposals_pending gauge in_flight The current number of pending proposals to commit.
etcd_server_proposals_failed_total counter proposals_failed The total number of failed proposals seen.
etcd_server_health_success counter health_success The total number of successful health checks
etcd_server_health_failures counter health_failed The total number of failed health checks
etcd_debugging_mvcc_keys_total gauge keys Total number of keys.
etcd_debugging_mvcc_current_revision gauge revision The current revision of store.
etcd_debugging_mvcc_compact_revision gauge compact_revision The revision of the last compaction in store.
etcd_mvcc_range_total counter range Total number of ranges seen by this member.
etcd_mvcc_put_total counter put Total number of puts seen by this member.
etcd_mvcc_delete_total counter delete Total number of deletes seen by this member.
etcd_mvcc_txn_total counter txn Total number of txns seen by this member.
etcd_debugging_mvcc_watch_stream_total gauge watch_streams Total number of watch streams.
etcd_debugging_mvcc_watcher_total gauge watchers Total number of watchers.
etcd_network_client_grpc_received_bytes_total counter received_bytes The total number of bytes received \
from grpc clients.
etcd_network_client_grpc_sent_bytes_total counter sent_bytes The total number of bytes sent to grpc clients.
""".strip().splitlines()
]
"""Name, type, where the value comes from (the member's status or the port's ``stats()``), etcd's help."""


def _render_metrics(port: ClientPort, status: dict[str, Any]) -> str:
    """Prometheus text exposition of the member's status and the port's counters, with etcd's names."""
    leader = leader_of(status)
    values = {
        **status,
        **port.stats(),
        "has_leader": leader is not None,
        "is_leader": leader == port.member.name,
    }
    lines = []
    for name, kind, source, help_text in _METRICS:
        lines += [
            f"# HELP {name} {help_text}",
            f"# TYPE {name} {kind}",
            f"{name} {int(values.get(source) or 0)}",
        ]
    lines += [
        "# HELP etcd_server_id Server or member ID in hexadecimal format. "
        "1 for 'server_id' label with current ID.",
        "# TYPE etcd_server_id gauge",
        f'etcd_server_id{{server_id="{port._header.member_id:x}"}} 1',
        "# HELP grpc_server_handled_total "
        "Total number of RPCs completed on the server, regardless of success or failure.",
        "# TYPE grpc_server_handled_total counter",
    ]
    for (kind, service, method, code), count in sorted(port.handled.items()):
        labels = f'grpc_code="{_CODE_NAMES[code]}",grpc_method="{method}",'
        labels += f'grpc_service="{service}",grpc_type="{kind}"'
        lines.append(f"grpc_server_handled_total{{{labels}}} {count}")
    return "\n".join(lines) + "\n"
