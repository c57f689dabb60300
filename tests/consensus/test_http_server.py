"""The small HTTP/1.1 server under the client port: what curl, Go and Python clients rely on.

Raw sockets on loopback show the bytes a client sees (keep-alive, pipelining, chunked bodies both ways,
100-continue, malformed requests); a client that leaves mid-stream must cancel its handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from consensus import http_server as hs

pytestmark = pytest.mark.asyncio


class Recorder:
    """A handler that echoes what it read and remembers what happened to streams."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()
        self.fail = False

    async def __call__(self, request: hs.Request) -> Any:
        if request.path == "/boom":
            raise RuntimeError("handler bug")
        if request.path == "/stream":
            writer = await request.stream(content_type="text/plain")
            await writer.write(b"first\n")
            try:
                await asyncio.Event().wait()  # a watch with nothing more to say
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if request.path == "/echo-chunks":
            writer = await request.stream()
            while chunk := await request.read_chunk():
                await writer.write(chunk.upper())
            return hs.STREAMED
        body = await request.read(limit=64)
        text = f"{request.method} {request.path} {request.query} {body.decode()}"
        return hs.Response(body=text.encode(), content_type="text/plain")


@pytest.fixture
async def server() -> AsyncIterator[tuple[hs.HttpServer, Recorder]]:
    recorder = Recorder()
    server = hs.HttpServer(recorder, idle_timeout=0.5)
    await server.start()
    yield server, recorder
    await server.stop()


async def exchange(port: int, data: bytes, *, until_close: bool = True, read_for: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    received = b""
    try:
        async with asyncio.timeout(read_for):
            while chunk := await reader.read(65536):
                received += chunk
    except TimeoutError:
        if until_close:
            raise
    writer.close()
    return received


def responses(data: bytes) -> list[tuple[str, bytes]]:
    """(status line, body) of each Content-Length response in ``data``."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        length = next(int(v) for k, _, v in (h.partition(": ") for h in lines[1:]) if k == "Content-Length")
        found.append((lines[0], rest[:length]))
        data = rest[length:]
    return found


async def test_keep_alive_serves_pipelined_requests_in_order(server: tuple[hs.HttpServer, Recorder]) -> None:
    http, _ = server
    data = (
        b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nzz"
    )
    got = responses(await exchange(http.port, data))
    assert got == [
        ("HTTP/1.1 200 OK", b"POST /a {'x': '1'} abc"),
        ("HTTP/1.1 200 OK", b"GET /b {} "),
        ("HTTP/1.1 200 OK", b"POST /c {} zz"),
    ]


async def test_a_chunked_request_body_is_read_whole(server: tuple[hs.HttpServer, Recorder]) -> None:
    http, _ = server
    data = (
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
    )
    assert responses(await exchange(http.port, data)) == [("HTTP/1.1 200 OK", b"POST /c {} abcde")]


async def test_expect_100_continue_is_answered_before_the_body_is_sent(
    server: tuple[hs.HttpServer, Recorder],
) -> None:
    http, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
    writer.write(
        b"POST /e HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    async with asyncio.timeout(2):
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"body")
    async with asyncio.timeout(2):
        rest = await reader.read()
    writer.close()
    assert responses(rest) == [("HTTP/1.1 200 OK", b"POST /e {} body")]


async def test_http_1_0_closes_after_one_answer_and_head_has_no_body(
    server: tuple[hs.HttpServer, Recorder],
) -> None:
    http, _ = server
    got = await exchange(http.port, b"GET /x HTTP/1.0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in got
    head = await exchange(http.port, b"HEAD /x HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert head.endswith(b"\r\n\r\n") and b"Content-Length: 11" in head


@pytest.mark.parametrize(
    ("data", "status"),
    [
        pytest.param(b"NONSENSE\r\n\r\n", b"400", id="no method, target and version"),
        pytest.param(b"GET / HTTP/2.0\r\n\r\n", b"400", id="unsupported version"),
        pytest.param(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", b"400", id="header without a colon"),
        pytest.param(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400", id="negative length"),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"400",
            id="both length and chunked (request smuggling)",
        ),
        pytest.param(b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", b"431", id="headers too large"),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400", id="bad chunk size"
        ),
    ],
)
async def test_malformed_requests_get_a_plain_error_and_the_server_goes_on(
    server: tuple[hs.HttpServer, Recorder], data: bytes, status: bytes
) -> None:
    http, _ = server
    got = await exchange(http.port, data)
    assert got.startswith(b"HTTP/1.1 " + status)
    assert b"Connection: close" in got
    ok = await exchange(http.port, b"GET /still HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert responses(ok) == [("HTTP/1.1 200 OK", b"GET /still {} ")]


async def test_a_failing_handler_is_a_500_and_others_are_served(
    server: tuple[hs.HttpServer, Recorder],
) -> None:
    http, _ = server
    data = b"GET /boom HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\nConnection: close\r\n\r\n"
    got = responses(await exchange(http.port, data))
    assert [status for status, _ in got] == ["HTTP/1.1 500 Internal Server Error", "HTTP/1.1 200 OK"]


async def test_a_body_over_the_reader_s_limit_raises_before_it_is_read(
    server: tuple[hs.HttpServer, Recorder],
) -> None:
    http, _ = server
    data = b"POST / HTTP/1.1\r\nContent-Length: 100\r\nConnection: close\r\n\r\n" + b"x" * 100
    got = await exchange(http.port, data)
    assert got.startswith(b"HTTP/1.1 500")  # the recorder lets BodyTooLarge escape: a 500, nothing echoed


async def test_a_client_leaving_a_stream_cancels_its_handler(server: tuple[hs.HttpServer, Recorder]) -> None:
    http, recorder = server
    reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
    writer.write(b"GET /stream HTTP/1.1\r\n\r\n")
    async with asyncio.timeout(2):
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"Transfer-Encoding: chunked" in head
        assert await reader.readuntil(b"first\n\r\n") == b"6\r\nfirst\n\r\n"
    writer.close()
    async with asyncio.timeout(2):
        await recorder.cancelled.wait()
        while http.connections:
            await asyncio.sleep(0.01)


async def test_a_streamed_answer_can_follow_a_streamed_request_body(
    server: tuple[hs.HttpServer, Recorder],
) -> None:
    http, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
    writer.write(b"POST /echo-chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    await writer.drain()
    async with asyncio.timeout(2):
        await reader.readuntil(b"\r\n\r\n")
        assert await reader.readuntil(b"ABC\r\n") == b"3\r\nABC\r\n"  # answered before the body ends
    writer.write(b"2\r\nde\r\n0\r\n\r\n")
    async with asyncio.timeout(2):
        assert await reader.readuntil(b"0\r\n\r\n") == b"2\r\nDE\r\n0\r\n\r\n"
    writer.close()


async def test_idle_kept_alive_connections_are_closed(server: tuple[hs.HttpServer, Recorder]) -> None:
    http, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
    async with asyncio.timeout(3):
        assert await reader.read() == b""  # closed by the server after its 0.5 s idle timeout
    writer.close()
