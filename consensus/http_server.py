"""A small HTTP/1.1 server on asyncio streams, for the store's client port and the apiserver.

Why not aiohttp's server: on this 2-core machine its per-request cost (about 120 µs) was most of what a
store member spent on a put; this server costs about a third of that, and the client port's throughput is
what the store is measured by. It serves what those two ports need and no more:

- HTTP/1.1 and 1.0 on one handler: ``handler(request)`` returns a ``Response``, or streams its answer with
  ``request.stream(...)`` (chunked transfer coding, for watches) and returns ``STREAMED``.
- Persistent connections (HTTP/1.1 unless ``Connection: close``; HTTP/1.0 only with ``keep-alive``), one
  request at a time per connection, in order (pipelined requests wait their turn).
- Request bodies with ``Content-Length`` or chunked transfer coding, read whole (``read()``) or as they
  arrive (``read_chunk()``, for streams whose request body goes on while the answer streams);
  ``Expect: 100-continue`` is answered when the handler first reads the body, as Go's and aiohttp's are.
- A client that goes away while its handler waits (a watch) cancels the handler, as aiohttp's
  ``handler_cancellation`` does: after the body is read, the server watches the socket for its end.
- Malformed requests get a plain-text 400 and the connection closes; headers over ``max_header_bytes``
  get 431; a handler that raises gets 500 (logged) and the server goes on serving everyone else.
- TLS: pass an ``ssl.SSLContext``; ``request.peer_certificate_der`` is the verified client certificate
  (DER bytes) when the context asked for one.

It binds where it is told (callers bind loopback only) and reads no clock of the cluster: the idle
timeout of a kept-alive connection is wall time, as any server's is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

log = logging.getLogger("kubemu.http")

MAX_HEADER_BYTES = 64 * 1024
IDLE_TIMEOUT = 75.0  # seconds a kept-alive connection may wait for its next request (aiohttp's default)
_CRLF = b"\r\n"
_REASONS = {s.value: s.phrase for s in http.HTTPStatus}


class BadRequest(Exception):
    """The bytes on the connection are not an HTTP request we can read: answered 400 (or ``status``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLarge(Exception):
    """The request body is over the limit the handler read it with."""


@dataclasses.dataclass(slots=True, kw_only=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


STREAMED: Any = object()
"""What a handler returns after answering through ``request.stream``."""

Handler = Callable[["Request"], Awaitable[Any]]


class Request:
    """One request on a connection: the head, parsed; the body, read on demand."""

    __slots__ = (
        "_chunked",
        "_connection",
        "_continue",
        "_eof",
        "_left",
        "_query",
        "_stream",
        "headers",
        "method",
        "path",
        "peer_certificate_der",
        "query_string",
        "target",
        "version",
    )

    def __init__(
        self,
        connection: _Connection,
        method: str,
        target: str,
        version: str,
        headers: dict[str, str],
    ) -> None:
        self._connection = connection
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # lower-case names; repeated headers joined with ", "
        raw_path, _, self.query_string = target.partition("?")
        self.path = unquote(raw_path)
        self._query: dict[str, str] | None = None
        self.peer_certificate_der: bytes | None = connection.peer_certificate_der
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        if self._chunked or length is None:
            self._left = 0
        else:
            if not length.isdigit():
                raise BadRequest(f"invalid Content-Length {length!r}")
            self._left = int(length)
        self._eof = not self._chunked and self._left == 0
        self._continue = headers.get("expect", "").lower() == "100-continue" and not self._eof
        self._stream: ChunkedWriter | None = None

    @property
    def query(self) -> dict[str, str]:
        """The query parameters; of a repeated one the first value counts, as Go's ``Values.Get`` reads it."""
        if self._query is None:
            query: dict[str, str] = {}
            for name, value in parse_qsl(self.query_string, keep_blank_values=True):
                query.setdefault(name, value)
            self._query = query
        return self._query

    @property
    def content_length(self) -> int | None:
        return None if self._chunked else self._left if not self._eof else 0

    @property
    def body_done(self) -> bool:
        return self._eof

    async def read(self, limit: int = 1 << 62) -> bytes:
        """The whole body; ``BodyTooLarge`` past ``limit`` bytes (nothing more is read then)."""
        if not self._chunked and self._left > limit:
            raise BodyTooLarge()
        parts = []
        size = 0
        while chunk := await self.read_chunk():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            parts.append(chunk)
        return b"".join(parts)

    async def read_chunk(self) -> bytes:
        """The next piece of the body as it arrives; ``b""`` at its end."""
        if self._eof:
            return b""
        connection = self._connection
        if self._continue:
            self._continue = False
            connection.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not self._chunked:
            data = await connection.read_some(min(self._left, 1 << 20))
            self._left -= len(data)
            if self._left == 0:
                self._ended()
            return data
        if self._left == 0:  # the size line of the next chunk
            line = await connection.read_line()
            size_text = line.split(b";", 1)[0].strip()
            try:
                self._left = int(size_text, 16)
            except ValueError:
                raise BadRequest("invalid chunk size") from None
            if self._left == 0:
                while await connection.read_line():  # trailers, then the empty line
                    pass
                self._ended()
                return b""
        data = await connection.read_some(self._left)
        self._left -= len(data)
        if self._left == 0 and await connection.read_line():
            raise BadRequest("chunk not followed by CRLF")
        return data

    def _ended(self) -> None:
        self._eof = True
        if self._stream is not None:
            self._connection.watch_for_close()

    async def stream(
        self,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> ChunkedWriter:
        """Start a chunked answer; write it with the returned writer, then return ``STREAMED``."""
        head = self._connection.head(status, content_type, headers, chunked=True)
        self._connection.write(head)
        self._stream = ChunkedWriter(self._connection)
        if self._eof:
            self._connection.watch_for_close()
        return self._stream


class ChunkedWriter:
    """The body of a streamed answer, one chunk per ``write``; ``end()`` sends the last chunk."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.ended = False

    async def write(self, data: bytes) -> None:
        if data:
            self._connection.write(b"%x\r\n%s\r\n" % (len(data), data))
            await self._connection.drain()

    async def end(self) -> None:
        if not self.ended:
            self.ended = True
            self._connection.write(b"0\r\n\r\n")
            await self._connection.drain()


class _Connection:
    """One client connection: a loop reading a request, running the handler, writing its answer."""

    def __init__(
        self, server: HttpServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.buffer = bytearray()
        self.closed = False
        self.gone = False  # the client closed its side
        self.handler_task: asyncio.Task[None] | None = None  # the connection's task, while a handler runs
        self.watcher: asyncio.Task[None] | None = None
        self.idle_since: float | None = None  # loop time since when it waits for a request head
        ssl_object = writer.get_extra_info("ssl_object")
        self.peer_certificate_der = (
            ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        )

    # -- reading -------------------------------------------------------------------------------------------

    async def _fill(self) -> None:
        data = await self.reader.read(65536)
        if not data:
            self.closed = self.gone = True
            handler = self.handler_task
            if handler is not None and handler is not asyncio.current_task():
                handler.cancel()
            raise ConnectionResetError("the client closed the connection")
        self.buffer += data

    async def read_head(self) -> bytes | None:
        """The bytes of a request head up to its blank line, or None when the client closed between
        requests."""
        while True:
            end = self.buffer.find(b"\r\n\r\n", 0, self.server.max_header_bytes + 4)
            if end >= 0:
                head = bytes(self.buffer[:end])
                del self.buffer[: end + 4]
                return head
            if len(self.buffer) > self.server.max_header_bytes:
                raise BadRequest("Request Header Fields Too Large", 431)
            try:
                await self._fill()
            except ConnectionResetError:
                if self.buffer.strip():
                    raise
                return None

    async def read_line(self) -> bytes:
        while True:
            end = self.buffer.find(_CRLF)
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 2]
                return line
            if len(self.buffer) > self.server.max_header_bytes:
                raise BadRequest("line too long")
            await self._fill()

    async def read_some(self, most: int) -> bytes:
        if not self.buffer:
            await self._fill()
        data = bytes(self.buffer[:most])
        del self.buffer[:most]
        return data

    # -- writing -------------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    async def drain(self) -> None:
        if self.writer.is_closing():
            self.closed = True
            raise ConnectionResetError("the client closed the connection")
        await self.writer.drain()

    def head(
        self,
        status: int,
        content_type: str,
        headers: dict[str, str] | None,
        *,
        chunked: bool,
        length: int = 0,
    ) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        if headers:
            lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
        if not self.keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    # -- the loop ------------------------------------------------------------------------------------------

    keep_alive = True

    async def serve(self) -> None:
        try:
            while not self.closed:
                self.idle_since = self.server.loop_time()
                head = await self.read_head()
                self.idle_since = None
                if head is None or not await self._one(head):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except BadRequest as error:
            self._refuse(error)
        finally:
            self.closed = True
            self.writer.close()

    def _refuse(self, error: BadRequest) -> None:
        self.keep_alive = False
        body = f"{error.status} {_REASONS.get(error.status, 'Bad Request')}: {error}".encode()
        self.write(
            self.head(error.status, "text/plain; charset=utf-8", None, chunked=False, length=len(body))
        )
        self.write(body)

    async def _one(self, head: bytes) -> bool:
        """Serve one request; False when the connection must close afterwards."""
        request = self._parse(head)
        task = asyncio.current_task()
        assert task is not None
        self.handler_task = task
        try:
            response = await self.server.handler(request)
        except asyncio.CancelledError:
            if self.gone and task.cancelling() == 1:
                task.uncancel()  # the client went away (``_fill`` saw the end): its handler is cancelled
                return False
            raise
        except (BadRequest, ConnectionError):
            raise
        except Exception:
            log.exception("handler failed on %s %s", request.method, request.path)
            response = Response(status=500, body=b"500 Internal Server Error", content_type="text/plain")
        finally:
            self.handler_task = None
        watcher, self.watcher = self.watcher, None
        if watcher is not None:  # it may be inside a read: let it leave before the next request's read
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await watcher
        if response is STREAMED:
            stream = request._stream
            if stream is not None and not stream.ended:
                await stream.end()
        else:
            body = b"" if request.method == "HEAD" else response.body
            head = self.head(
                response.status,
                response.content_type,
                response.headers,
                chunked=False,
                length=len(response.body),
            )
            self.write(head + body)
            if self.writer.transport.get_write_buffer_size() > 65536:
                await self.drain()
        if not self.keep_alive:
            return False
        # whatever the handler left of the body is skipped, so the next request starts at its head
        while not request.body_done:
            await request.read_chunk()
        return True

    def watch_for_close(self) -> None:
        """While a streamed answer goes on and the request body is read: notice the client leaving (the
        read sees the end, and ``_fill`` cancels the handler). A pipelined next request stays buffered."""
        if self.watcher is None and self.handler_task is not None:
            self.watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        with contextlib.suppress(ConnectionError):
            while len(self.buffer) <= self.server.max_header_bytes:
                await self._fill()

    def _parse(self, head: bytes) -> Request:
        try:
            text = head.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
            raise BadRequest("undecodable request head") from None
        request_line, *header_lines = text.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
            raise BadRequest(f"malformed request line {request_line[:100]!r}")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in header_lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise BadRequest(f"malformed header line {line[:100]!r}")
            name = name.lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            self.keep_alive = "keep-alive" in connection
        else:
            self.keep_alive = "close" not in connection
        if "transfer-encoding" in headers and "content-length" in headers:
            raise BadRequest("both Transfer-Encoding and Content-Length")
        return Request(self, method, target, version, headers)


class HttpServer:
    """Serve ``handler`` on ``host:port`` (0 picks a free port; ``port`` tells which after ``start``)."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        max_header_bytes: int = MAX_HEADER_BYTES,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.max_header_bytes = max_header_bytes
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._connections: dict[_Connection, asyncio.Task[None]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set by start()

    def loop_time(self) -> float:
        loop = self._loop
        assert loop is not None, "start() the server first"
        return loop.time()

    def _sweep(self) -> None:
        """Close kept-alive connections idle past ``idle_timeout``: one timer for all, not one per request."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for connection, task in list(self._connections.items()):
            if connection.idle_since is not None and now - connection.idle_since > self.idle_timeout:
                connection.closed = True
                connection.writer.close()
                task.cancel()
        self._sweeper = loop.call_later(max(0.05, self.idle_timeout / 4), self._sweep)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            self.port = sock.getsockname()[1]
            self._server = await asyncio.start_server(
                self._accept, sock=sock, ssl=self.ssl_context, backlog=1024, limit=1 << 20
            )
        except BaseException:
            sock.close()
            raise
        self._sweep()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._connections[connection] = task
        try:
            await connection.serve()
        except asyncio.CancelledError:
            pass  # stopped or aborted: the task of a connection ends quietly (asyncio would log it otherwise)
        finally:
            self._connections.pop(connection, None)

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def stop(self, grace: float = 1.0) -> None:
        """Stop listening; let requests in flight finish for ``grace`` seconds, then close everything."""
        server, self._server = self._server, None
        if self._sweeper is not None:
            self._sweeper.cancel()
        if server is not None:
            server.close()
        tasks = list(self._connections.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    def abort(self) -> None:
        """Close at once, as a killed process would: stop listening and drop every connection."""
        server, self._server = self._server, None
        if self._sweeper is not None:
            self._sweeper.cancel()
        if server is not None:
            server.close()
        for connection, task in list(self._connections.items()):
            connection.closed = True
            connection.writer.transport.abort()
            task.cancel()
