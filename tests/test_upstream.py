"""The guarded upstream client against real servers on loopback.

Target sites are aiohttp apps on ephemeral ports reached by name through ``resolve_overrides``;
slow and silent peers are raw asyncio servers; a canary listener counts every connection the
guard should have prevented.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import resource
import socket
import struct
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import brotli
import pytest
import zstandard
from aiohttp import WSMsgType, web
from world.targets import serve_app

from proxy.decoding import PIECE
from proxy.upstream import (
    BadUpstreamResponse,
    BlockedTarget,
    BodyTooLarge,
    UpstreamClient,
    UpstreamSettings,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from sessions.policy import BASELINE

MiB = 1024 * 1024
BOMB_INFLATED = 10 * 1024 * MiB  # 10 GiB of zeros
TEXT = b"".join(b"<p>item %d of the catalogue, see /page/%d</p>\n" % (i, i * 7) for i in range(5000))


# -- servers ---------------------------------------------------------------------------------


def encoded(body: bytes, encoding: str) -> web.Response:
    return web.Response(body=body, headers={"Content-Encoding": encoding, "Content-Type": "text/html"})


def _raw_deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


# path -> (body as sent, Content-Encoding)
ENCODED: dict[str, tuple[bytes, str]] = {
    "br": (brotli.compress(TEXT, quality=5), "br"),
    "zstd": (zstandard.ZstdCompressor().compress(TEXT), "zstd"),
    "deflate-zlib": (zlib.compress(TEXT), "deflate"),
    "deflate-raw": (_raw_deflate(TEXT), "deflate"),
    "stacked": (brotli.compress(gzip.compress(TEXT), quality=5), "gzip, br"),
    "truncated": (gzip.compress(TEXT)[:-100], "gzip"),
}


def target_app(hits: Counter[str], bomb: Path) -> web.Application:
    bomb_size = bomb.stat().st_size

    async def record(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):  # type: ignore[no-untyped-def]
        hits[request.path] += 1
        return await handler(request)

    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="hello from the target", headers={"X-Target": "yes"})

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"headers": list(request.headers.items()), "body": body.decode()})

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/elsewhere", "Set-Cookie": "r=1"})

    async def cookies(request: web.Request) -> web.Response:
        resp = web.Response(text="many cookies")
        for i in range(500):
            resp.headers.add("Set-Cookie", f"c{i}={i}; Path=/")
        return resp

    async def serve_bomb(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})
        resp.content_length = bomb_size
        await resp.prepare(request)
        with bomb.open("rb") as f:
            while chunk := f.read(256 * 1024):
                await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat",))
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str("echo:" + msg.data)
        return ws

    async def ws_redirect(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/ws"})

    app = web.Application(middlewares=[web.middleware(record)])
    app.add_routes(
        [
            web.get("/plain", plain),
            web.route("*", "/echo", echo),
            web.get("/redirect", redirect),
            web.get("/elsewhere", plain),
            web.get("/cookies", cookies),
            web.get("/bomb", serve_bomb),
            *(web.get(f"/{name}", fixed(encoded(body, enc))) for name, (body, enc) in ENCODED.items()),
            web.get("/ws", ws_echo),
            web.get("/ws-redirect", ws_redirect),
        ]
    )
    return app


def fixed(resp: web.Response) -> Callable[[web.Request], Awaitable[web.Response]]:
    body, headers = resp.body, dict(resp.headers)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers)

    return handler


def crc32_of_zero_blocks(count: int) -> int:
    """zlib.crc32 of ``count`` MiB of zeros without feeding 10 GiB through crc32.

    Extending a CRC by one MiB of zeros is an affine map over GF(2)^32 (x -> Mx ^ b); the map is
    read off crc32 itself on the 32 basis vectors, then raised to ``count`` by squaring.
    """
    zeros = bytes(MiB)
    b = zlib.crc32(zeros, 0)
    step = ([zlib.crc32(zeros, 1 << i) ^ b for i in range(32)], b)

    def apply(m: list[int], x: int) -> int:
        out = 0
        for i in range(32):
            if x >> i & 1:
                out ^= m[i]
        return out

    def compose(g: tuple[list[int], int], f: tuple[list[int], int]) -> tuple[list[int], int]:
        return [apply(g[0], col) for col in f[0]], apply(g[0], f[1]) ^ g[1]

    result: tuple[list[int], int] = ([1 << i for i in range(32)], 0)
    while count:
        if count & 1:
            result = compose(step, result)
        step = compose(step, step)
        count >>= 1
    return result[1]


@pytest.fixture(scope="session")
def bomb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real gzip of 10 GiB of zeros, about 10 MB, built once.

    Compressing 10 GiB would take minutes, so it is streamed in 1 MiB blocks, each closed with a
    full flush: a full flush resets the compressor, so every block after the first compresses
    to the very same bytes and is written without recompressing. The trailer carries the real
    CRC and size of the 10 GiB.
    """
    path = tmp_path_factory.mktemp("bomb") / "zeros-10g.gz"
    zeros = bytes(MiB)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    assert comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH) == block  # reset: identical output
    blocks = BOMB_INFLATED // MiB
    with path.open("wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # gzip header, no name, no mtime
        f.write(first)
        for _ in range(blocks - 1):
            f.write(block)
        f.write(comp.flush())
        f.write(crc32_of_zero_blocks(blocks).to_bytes(4, "little") + (BOMB_INFLATED % 2**32).to_bytes(4, "little"))
    head = zlib.decompressobj(31).decompress(path.read_bytes()[:65536], 4 * MiB)
    assert head == bytes(len(head)) and len(head) == 4 * MiB
    return path


class Target:
    def __init__(self, port: int, hits: Counter[str]) -> None:
        self.port = port
        self.hits = hits


@pytest.fixture
async def target(bomb_file: Path) -> AsyncIterator[Target]:
    hits: Counter[str] = Counter()
    runner, port = await serve_app(target_app(hits, bomb_file))
    try:
        yield Target(port, hits)
    finally:
        await runner.cleanup()


class RawServer:
    """A TCP peer scripted byte by byte; counts connections (a canary when it says nothing)."""

    def __init__(self, script: bytes | None, interval: float) -> None:
        self.script = script
        self.interval = interval
        self.connections = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> RawServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)  # type: ignore[arg-type]
        try:
            if self.script is None:
                return
            for i in range(len(self.script)):
                writer.write(self.script[i : i + 1])
                await writer.drain()
                await asyncio.sleep(self.interval)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)  # type: ignore[arg-type]

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def canary() -> AsyncIterator[RawServer]:
    server = await RawServer(None, 0).start()
    try:
        yield server
    finally:
        await server.close()


def settings_for(target: Target, **extra: object) -> UpstreamSettings:
    overrides = {"site.test:80": ("127.0.0.1", target.port)}
    options: dict[str, object] = {"allowed_networks": ("127.0.0.1/32",), "resolve_overrides": overrides}
    options.update(extra)
    return UpstreamSettings(**options)  # type: ignore[arg-type]


@pytest.fixture
async def client(target: Target) -> AsyncIterator[UpstreamClient]:
    async with UpstreamClient(settings_for(target)) as c:
        yield c


async def fetch(client: UpstreamClient, url: str, **kw: object) -> tuple[int, list[tuple[str, str]], bytes]:
    resp = await client.open("GET", url, [("Host", "site.test")], policy=BASELINE, **kw)  # type: ignore[arg-type]
    try:
        return resp.status, resp.headers, await resp.read_decoded()
    finally:
        resp.release()


# -- plain exchanges -------------------------------------------------------------------------


async def test_get_through_resolve_override_returns_status_headers_and_body(
    client: UpstreamClient, target: Target
) -> None:
    status, headers, body = await fetch(client, "http://site.test/plain")
    assert status == 200
    assert ("X-Target", "yes") in headers
    assert body == b"hello from the target"
    assert target.hits["/plain"] == 1


async def test_client_sends_only_the_given_headers_and_never_replays_cookies(client: UpstreamClient) -> None:
    await fetch(client, "http://site.test/redirect")  # answers with Set-Cookie
    resp = await client.open(
        "POST", "http://site.test/echo", [("Host", "site.test"), ("X-Probe", "1"), ("Connection", "close")], b"abc",
        policy=BASELINE,
    )
    sent = json.loads(await resp.read_decoded())
    resp.release()
    names = {k.lower() for k, _ in sent["headers"]}
    assert sent["body"] == "abc"
    assert "x-probe" in names
    assert "cookie" not in names
    assert not names & {"user-agent", "accept", "accept-encoding"}


async def test_streamed_request_body_reaches_the_target(client: UpstreamClient) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for piece in (b"one,", b"two,", b"three"):
            yield piece

    resp = await client.open("PUT", "http://site.test/echo", [("Host", "site.test")], parts(), policy=BASELINE)
    assert json.loads(await resp.read_decoded())["body"] == "one,two,three"
    resp.release()


async def test_redirect_is_returned_not_followed(client: UpstreamClient, target: Target) -> None:
    status, headers, _ = await fetch(client, "http://site.test/redirect")
    assert status == 302
    assert ("Location", "/elsewhere") in headers
    assert target.hits["/elsewhere"] == 0


async def test_five_hundred_set_cookie_headers_all_arrive(client: UpstreamClient) -> None:
    _, headers, _ = await fetch(client, "http://site.test/cookies")
    assert sum(1 for k, _ in headers if k.lower() == "set-cookie") == 500


async def test_closed_port_is_unavailable(target: Target) -> None:
    closed = await RawServer(None, 0).start()
    port = closed.port
    await closed.close()
    async with UpstreamClient(settings_for(target, resolve_overrides={"gone.test:80": ("127.0.0.1", port)})) as c:
        with pytest.raises(UpstreamUnavailable):
            await c.open("GET", "http://gone.test/", [], policy=BASELINE)


async def test_non_http_schemes_are_refused(client: UpstreamClient) -> None:
    for url in ("file:///etc/passwd", "ftp://site.test/", "gopher://site.test/"):
        with pytest.raises(BlockedTarget):
            await client.open("GET", url, [], policy=BASELINE)


# -- the SSRF guard --------------------------------------------------------------------------


BLOCKED_URLS = [
    "http://site.test/",
    "http://loop.test/",
    "http://meta.test/latest/meta-data/",
    "http://mapped.test/",
    "http://127.0.0.1:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f.1:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://0x7f000001:{port}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:{port}/",  # real resolution through getaddrinfo
]


@pytest.fixture
async def guarded(canary: RawServer) -> AsyncIterator[UpstreamClient]:
    overrides = {
        "site.test:80": ("127.0.0.1", canary.port),
        "loop.test:80": ("127.0.0.1", canary.port),
        "meta.test:80": ("169.254.169.254", 80),
        "mapped.test:80": ("::ffff:127.0.0.1", canary.port),
    }
    async with UpstreamClient(UpstreamSettings(allow_private=False, resolve_overrides=overrides)) as c:
        yield c


@pytest.mark.parametrize("url", BLOCKED_URLS)
async def test_guard_refuses_private_targets_and_canary_sees_no_connection(
    guarded: UpstreamClient, canary: RawServer, url: str
) -> None:
    with pytest.raises(BlockedTarget) as refused:
        await guarded.open("GET", url.format(port=canary.port), [("Host", "site.test")], policy=BASELINE)
    assert "not an allowed address" in str(refused.value)
    await asyncio.sleep(0.05)  # let a stray connection, if any, be accepted and counted
    assert canary.connections == 0


@pytest.mark.parametrize("url", ["ws://site.test/ws", "ws://127.0.0.1:{port}/ws", "ws://2130706433:{port}/ws"])
async def test_guard_refuses_websocket_to_private_targets(guarded: UpstreamClient, canary: RawServer, url: str) -> None:
    with pytest.raises(BlockedTarget):
        await guarded.ws_connect(url.format(port=canary.port), [], ["chat"], policy=BASELINE)
    await asyncio.sleep(0.05)
    assert canary.connections == 0


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1"])
async def test_canary_counts_odd_spellings_once_private_targets_are_allowed(canary: RawServer, host: str) -> None:
    # The control for the test above: the same spellings do reach loopback, and are counted.
    async with UpstreamClient(UpstreamSettings(allow_private=True)) as c:
        with pytest.raises(UpstreamUnavailable):
            await c.open("GET", f"http://{host}:{canary.port}/", [], policy=BASELINE)
    assert canary.connections >= 1  # aiohttp retries an idempotent request once on disconnect


# -- time ------------------------------------------------------------------------------------


@pytest.fixture
async def trickle_headers() -> AsyncIterator[RawServer]:
    server = await RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 5.0).start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def trickle_body() -> AsyncIterator[RawServer]:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/html\r\n\r\n"
    server = RawServer(b"x" * 100, 5.0)
    original = server._handle

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head)
        await original(reader, writer)

    server._handle = handle  # type: ignore[method-assign]
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def slow_client(port: int, **extra: object) -> UpstreamClient:
    options: dict[str, object] = {"allow_private": True, "resolve_overrides": {"slow.test:80": ("127.0.0.1", port)}}
    options.update(extra)
    return UpstreamClient(UpstreamSettings(**options))  # type: ignore[arg-type]


async def test_one_byte_every_5s_before_headers_hits_the_deadline(trickle_headers: RawServer) -> None:
    async with slow_client(trickle_headers.port) as c:
        with pytest.raises(UpstreamTimeout):
            await c.open("GET", "http://slow.test/", [], deadline=2.0, policy=BASELINE)


async def test_one_byte_every_5s_in_the_body_hits_the_deadline(trickle_body: RawServer) -> None:
    async with slow_client(trickle_body.port, total_deadline=2.0) as c:
        resp = await c.open("GET", "http://slow.test/", [], policy=BASELINE)
        try:
            with pytest.raises(UpstreamTimeout, match="deadline"):
                await resp.read_decoded()
        finally:
            resp.release()


async def test_stalled_stream_hits_the_per_read_timeout_without_a_deadline(trickle_body: RawServer) -> None:
    async with slow_client(trickle_body.port, read_timeout=1.0, total_deadline=60.0) as c:
        resp = await c.open("GET", "http://slow.test/", [], policy=BASELINE)
        got = b""
        try:
            with pytest.raises(UpstreamTimeout, match="sent nothing"):
                async for chunk in resp.iter_raw(until_deadline=False):
                    got += chunk
        finally:
            resp.release()
        assert got == b"x"


# -- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/br", "/zstd", "/deflate-zlib", "/deflate-raw", "/stacked"])
async def test_encoded_bodies_decode_to_the_original(client: UpstreamClient, path: str) -> None:
    _, _, body = await fetch(client, f"http://site.test{path}")
    assert body == TEXT


async def test_truncated_gzip_is_a_bad_response(client: UpstreamClient) -> None:
    with pytest.raises(BadUpstreamResponse, match="truncated"):
        await fetch(client, "http://site.test/truncated")


async def test_gzip_bomb_is_refused_at_the_limit_holding_at_most_limit_plus_one_piece(
    target: Target, bomb_file: Path
) -> None:
    limit = 20 * MiB
    bomb_size = bomb_file.stat().st_size  # noqa: ASYNC240 (a stat of a local file)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with UpstreamClient(settings_for(target, max_rewrite_body=limit, max_decoded_ratio=None)) as c:
        with pytest.raises(BodyTooLarge) as refused:
            await fetch(c, "http://site.test/bomb")
    exc = refused.value
    assert exc.decoded > limit
    assert exc.peak <= limit + PIECE
    assert exc.encoded < bomb_size // 100  # stopped long before the end of the body
    rss_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert rss_growth_kib < 200 * 1024


async def test_gzip_bomb_is_refused_early_by_the_ratio_check(client: UpstreamClient) -> None:
    with pytest.raises(BodyTooLarge, match="ratio") as refused:
        await fetch(client, "http://site.test/bomb")
    assert refused.value.decoded < 8 * MiB


async def test_declared_length_over_the_limit_is_refused_before_reading(client: UpstreamClient) -> None:
    resp = await client.open("GET", "http://site.test/cookies", [], policy=BASELINE)
    try:
        with pytest.raises(BodyTooLarge, match="declared"):
            await resp.read_decoded(limit=4)
    finally:
        resp.release()


# -- WebSocket -------------------------------------------------------------------------------


async def test_websocket_through_the_guard_echoes_with_the_chosen_protocol(client: UpstreamClient) -> None:
    ws = await client.ws_connect("ws://site.test/ws", [("Host", "site.test"), ("Origin", "http://site.test")],
                                 ["chat"], policy=BASELINE)
    try:
        assert ws.protocol == "chat"
        await ws.send_str("hi")
        msg = await ws.receive(timeout=5)
        assert msg.data == "echo:hi"
    finally:
        await ws.close()


async def test_websocket_handshake_redirect_is_not_followed(client: UpstreamClient, target: Target) -> None:
    with pytest.raises(BadUpstreamResponse, match="redirect"):
        await client.ws_connect("ws://site.test/ws-redirect", [("Host", "site.test")], [], policy=BASELINE)
    assert target.hits["/ws"] == 0


# -- a kept-alive connection the site closes before answering -----------------------------------


class StaleKeepAlive:
    """Answers the first request of its first connection and keeps it open, then closes that
    connection on the next request without a byte of answer (a site timing out an idle
    kept-alive connection as the request arrives); later connections answer every request.

    ``reset``: the close is a reset sent as soon as the request's head is in, its body unread
    (it meets a large body while it is being written); ``first``: the first request of the
    first connection is the one dropped (a new connection, not a kept-alive one)."""

    def __init__(self, *, reset: bool = False, first: bool = False) -> None:
        self.requests: list[tuple[int, str]] = []  # (connection number, request line)
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0
        self.reset = reset
        self.dropped_at = 1 if first else 2  # the first connection's request that is dropped

    async def start(self) -> StaleKeepAlive:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode()
                self.requests.append((number, line))
                dropped = number == 1 and len(self.requests) == self.dropped_at
                if dropped and self.reset:
                    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                               struct.pack("ii", 1, 0))
                    writer.transport.abort()  # a reset, the body left unread
                    return
                length = next((int(h.split(b":", 1)[1]) for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                if dropped:
                    return  # closed without answering
                answer = b"got %d" % len(body) if len(body) > 64 else b"got " + body
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def stale() -> AsyncIterator[StaleKeepAlive]:
    server = await StaleKeepAlive().start()
    try:
        yield server
    finally:
        await server.close()


async def _body(client: UpstreamClient, method: str, body: bytes | AsyncIterator[bytes]) -> bytes:
    resp = await client.open(method, "http://slow.test/form", [("Host", "slow.test")], body, policy=BASELINE)
    try:
        return await resp.read_decoded()
    finally:
        resp.release()


async def test_a_request_on_a_connection_the_site_closed_unanswered_is_sent_again_once(stale: StaleKeepAlive) -> None:
    async with slow_client(stale.port) as c:
        assert await _body(c, "GET", b"") == b"got "
        # A form post on the kept-alive connection meets the close: sent again on a new one, as browsers do.
        assert await _body(c, "POST", b"name=Ann") == b"got name=Ann"
    assert [n for n, line in stale.requests if line.startswith("POST")] == [1, 2]


LARGE_FORM = b"x" * (8 * 1024 * 1024)  # more than the socket buffers hold: still being written at the reset


async def test_a_request_whose_body_meets_a_reset_kept_alive_connection_is_sent_again_once() -> None:
    # The close can meet the request while its body is written (aiohttp: "Can not write request
    # body"), not only while the answer is awaited: a Dash POST got 502 through the proxy so.
    server = await StaleKeepAlive(reset=True).start()
    try:
        async with slow_client(server.port) as c:
            assert await _body(c, "GET", b"") == b"got "
            assert await _body(c, "POST", LARGE_FORM) == b"got %d" % len(LARGE_FORM)
    finally:
        await server.close()
    assert [n for n, line in server.requests if line.startswith("POST")] == [1, 2]


async def test_a_request_reset_on_a_new_connection_is_not_sent_again() -> None:
    # Only a kept-alive connection can have been timed out by the site: on a new one, the reset
    # is the site's answer to this request (it may have acted on it), as browsers judge it too.
    server = await StaleKeepAlive(reset=True, first=True).start()
    try:
        async with slow_client(server.port) as c:
            with pytest.raises(UpstreamUnavailable):
                await _body(c, "POST", LARGE_FORM)
    finally:
        await server.close()
    assert server.requests == [(1, "POST /form HTTP/1.1")]


async def test_a_streamed_body_is_not_sent_twice(stale: StaleKeepAlive) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"name=Ann"

    async with slow_client(stale.port) as c:
        assert await _body(c, "GET", b"") == b"got "
        with pytest.raises(UpstreamUnavailable):
            await _body(c, "POST", chunks())
    assert [n for n, line in stale.requests if line.startswith("POST")] == [1]
