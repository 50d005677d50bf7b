"""Threat model: SSRF by address spelling, by redirect, by DNS rebinding; upstream TLS verified.

The proxy under test refuses private targets (``allow_private=False``) and opens exactly
``127.0.0.1/32`` for its fixture site ``ok.test``; canaries listen on other loopback addresses
(``127.0.<a>.<b>``), so every spelling of a canary's address must be refused before a connection
is made. Each refusal is fenced by an allowed exchange that succeeds afterwards.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from world.canary import Canary
from world.harness import DOMAIN, Cobrowse, StartCobrowse
from world.targets import serve, serve_app

from proxy.upstream import BlockedTarget, UpstreamClient, UpstreamSettings
from rewriter.space import ProxySpace
from sessions.policy import BASELINE

WS_HEADERS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def spellings(ip: str) -> list[str]:
    """Hosts a browser reads as ``ip`` (an IPv4 address): every form WHATWG URL accepts."""
    a, b, c, d = (int(x) for x in ip.split("."))
    value = int(ipaddress.IPv4Address(ip))
    return [
        ip,
        str(value),  # 2130706949
        hex(value),  # 0x7f000205
        "0X" + f"{value:X}",  # 0X7F000205
        f"0{a:o}.{b}.{c}.{d}",  # octal first part
        f"0{a:o}.0{b:o}.0{c:o}.0{d:o}",
        f"{a:#x}.{b:#x}.{c:#x}.{d:#x}",
        f"{a}.{(b << 16) + (c << 8) + d}",  # two parts
        f"{a}.{b}.{(c << 8) + d}",  # three parts
        f"{ip}.",  # trailing dot
        "".join(chr(ord(ch) + 0xFEE0) if ch.isdigit() else "\uff0e" for ch in ip),  # full-width digits and dots
        f"[::ffff:{ip}]",  # IPv4-mapped IPv6
        f"[::ffff:{(a << 8) + b:x}:{(c << 8) + d:x}]",
        f"[0:0:0:0:0:ffff:{ip}]",
        f"[::{ip}]",  # IPv4-compatible
        f"[64:ff9b::{ip}]",  # NAT64
        f"[2002:{(a << 8) + b:x}:{(c << 8) + d:x}::]",  # 6to4
    ]


def target_app(hits: Counter[str], redirects: dict[str, str]) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        hits[request.path] += 1
        if request.path in redirects:
            raise web.HTTPFound(redirects[request.path])
        response = web.Response(text="<html><body>ok</body></html>", content_type="text/html")
        if "close" in request.query:
            response.force_close()  # so the client cannot reuse the connection: it must resolve again
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


@pytest.fixture
async def site() -> AsyncIterator[tuple[Counter[str], dict[str, str], int]]:
    hits: Counter[str] = Counter()
    redirects: dict[str, str] = {}
    runner, port = await serve_app(target_app(hits, redirects))
    yield hits, redirects, port
    await runner.cleanup()


async def guarded(start_server: StartCobrowse, port: int) -> Cobrowse:
    return await start_server(allow_private=False, allowed_networks=("127.0.0.1/32",),
                              resolve_overrides={"ok.test:80": ("127.0.0.1", port)})


def proxy(server: Cobrowse, sid: str, real_url: str) -> str:
    return ProxySpace(sid, DOMAIN, "http", server.port).to_proxy(real_url)


def websocket(server: Cobrowse, sid: str) -> dict[str, str]:
    """Handshake headers of a WebSocket opened by the session's ok.test page."""
    return {**WS_HEADERS, "Origin": proxy(server, sid, "http://ok.test/").rstrip("/")}


async def enter(server: Cobrowse) -> str:
    created = await server.create_session("http://ok.test/")
    await server.redeem(created["leader_url"])
    return str(created["id"])


async def fence(server: Cobrowse, sid: str, hits: Counter[str]) -> None:
    before = hits["/"]
    reply = await server.request("GET", proxy(server, sid, "http://ok.test/"))
    assert reply.status == 200 and hits["/"] == before + 1


async def test_every_spelling_of_a_private_address_is_refused_through_the_proxy(
        start_server: StartCobrowse, site: tuple[Counter[str], dict[str, str], int], canary: Canary) -> None:
    hits, _, port = site
    server = await guarded(start_server, port)
    sid = await enter(server)
    for host in spellings(canary.host):
        url = proxy(server, sid, f"http://{host}:{canary.port}/")
        for headers in ({}, websocket(server, sid)):
            reply = await server.request("GET", url, headers=headers)
            assert reply.status == 403, (host, headers, reply.status, reply.text[:300])
            assert "not allowed" in reply.text and "loopback" in reply.text, (host, reply.text[:300])
    for host in ("0.0.0.0", "0", "0x0", "[::]", "[::ffff:0.0.0.0]", "[::0.0.0.0]"):
        reply = await server.request("GET", proxy(server, sid, f"http://{host}:{canary.port}/"))
        assert reply.status == 403, (host, reply.status, reply.text[:300])
    # A percent-encoded spelling is read as browsers read it when the page asks for its proxy
    # origin; the proxy host it gets is refused like the plain one.
    minted = await server.request("GET", proxy(server, sid, "http://ok.test/__cb/alias")
                                  + f"?origin=http://%2531%2532%2537.{canary.host[4:]}:{canary.port}")
    if minted.status == 200:
        refused = await server.request("GET", minted.text + "/")
        assert refused.status == 403 and "loopback" in refused.text, refused.text[:300]
    else:
        assert minted.status in (400, 403), minted.text[:300]
    await fence(server, sid, hits)
    assert canary.connections == 0, canary.report()


async def test_the_upstream_client_refuses_every_spelling_before_dialling(
        site: tuple[Counter[str], dict[str, str], int], canary: Canary) -> None:
    hits, _, port = site
    settings = UpstreamSettings(allowed_networks=("127.0.0.1/32",),
                                resolve_overrides={"ok.test:80": ("127.0.0.1", port)})
    async with UpstreamClient(settings) as client:
        odd = [f"%31%32%37.{canary.host[4:]}", f"{canary.host}%2e", canary.host.replace("127", "0X7F")]
        for host in [*spellings(canary.host), *odd]:
            for url in (f"http://{host}:{canary.port}/", f"ws://{host}:{canary.port}/"):
                with pytest.raises(BlockedTarget):
                    if url.startswith("ws"):
                        await client.ws_connect(url, [], policy=BASELINE)
                    else:
                        await client.open("GET", url, [], policy=BASELINE)
        ok = await client.open("GET", "http://ok.test/", [("Host", "ok.test")], policy=BASELINE)
        assert ok.status == 200
        ok.release()
    assert hits["/"] == 1
    assert canary.connections == 0, canary.report()


async def test_redirects_to_private_addresses_are_refused_at_each_hop(
        start_server: StartCobrowse, site: tuple[Counter[str], dict[str, str], int], canary: Canary) -> None:
    hits, redirects, port = site
    value = int(ipaddress.IPv4Address(canary.host))
    redirects["/hop"] = f"http://{canary.netloc}/admin"
    redirects["/hop-decimal"] = f"http://{value}:{canary.port}/admin"
    redirects["/hop-mapped"] = f"http://[::ffff:{canary.host}]:{canary.port}/admin"
    server = await guarded(start_server, port)
    sid = await enter(server)
    for path in redirects:
        first = await server.request("GET", proxy(server, sid, f"http://ok.test{path}"))
        assert first.status == 302, first.text[:300]  # not followed by the proxy: the browser follows
        location = first.header("Location") or ""
        assert f".{DOMAIN}:{server.port}/admin" in location, location  # the hop stays in the proxy space
        second = await server.request("GET", location)
        assert second.status == 403 and "loopback" in second.text, (path, second.status, second.text[:300])
    await fence(server, sid, hits)
    assert canary.connections == 0, canary.report()


async def test_dns_rebinding_answer_is_vetted_and_refused(
        site: tuple[Counter[str], dict[str, str], int], canary: Canary) -> None:
    # The lookup seam (UpstreamSettings.lookup) stands in for a rebinding DNS server: the first
    # answer is an allowed address (the fixture site), every later answer is the canary.
    hits, _, port = site
    answers: list[str] = []

    async def rebinding(name: str, _port: int, _family: socket.AddressFamily) -> list[tuple[str, int]]:
        if name == "both.test":  # one answer inside, one outside: hostile, refused whole
            return [("127.0.0.1", port), canary.address]
        if name != "rebind.test":
            return [("127.0.0.1", port)]
        answers.append(name)
        return [("127.0.0.1", port)] if len(answers) == 1 else [canary.address]

    settings = UpstreamSettings(allowed_networks=("127.0.0.1/32",), lookup=rebinding)
    async with UpstreamClient(settings) as client:
        first = await client.open("GET", "http://rebind.test/?close", [("Host", "rebind.test")], policy=BASELINE)
        assert first.status == 200
        await first.read_decoded()
        first.release()
        client.session.connector.clear_dns_cache()  # type: ignore[union-attr]  # the TTL ran out
        with pytest.raises(BlockedTarget, match="loopback"):
            await client.open("GET", "http://rebind.test/", [("Host", "rebind.test")], policy=BASELINE)
        with pytest.raises(BlockedTarget, match="loopback"):
            await client.ws_connect("ws://rebind.test/", [], policy=BASELINE)
        with pytest.raises(BlockedTarget, match="loopback"):
            await client.open("GET", "http://both.test/", [], policy=BASELINE)
        fenced = await client.open("GET", "http://steady.test/", [("Host", "steady.test")], policy=BASELINE)
        assert fenced.status == 200
        fenced.release()
    assert len(answers) >= 2 and hits["/"] == 2
    assert canary.connections == 0, canary.report()


# -- upstream TLS ----------------------------------------------------------------------------------


def self_signed(host: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@pytest.fixture
async def tls_site(tmp_path: object) -> AsyncIterator[tuple[Counter[str], int]]:
    from pathlib import Path

    folder = Path(str(tmp_path))
    cert, key = self_signed("tls.test")
    (folder / "cert.pem").write_bytes(cert)
    (folder / "key.pem").write_bytes(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    hits: Counter[str] = Counter()
    served = await serve(target_app(hits, {}), ssl_context=context)
    yield hits, served.port
    await served.close()


async def test_a_self_signed_target_certificate_is_refused_with_a_clear_502(
        start_server: StartCobrowse, site: tuple[Counter[str], dict[str, str], int],
        tls_site: tuple[Counter[str], int], canary: Canary) -> None:
    hits, _, port = site
    tls_hits, tls_port = tls_site
    server = await start_server(resolve_overrides={"ok.test:80": ("127.0.0.1", port),
                                                   "tls.test:443": ("127.0.0.1", tls_port),
                                                   "gone.test:80": canary.address},
                                deny_domains=("gone.test",))
    sid = await enter(server)
    for headers in ({}, websocket(server, sid)):
        reply = await server.request("GET", proxy(server, sid, "https://tls.test/"), headers=headers)
        assert reply.status == 502, (reply.status, reply.text[:300])
        assert "certificate" in reply.text and "tls.test" in reply.text, reply.text[:400]
    assert tls_hits.total() == 0  # no request was sent over the unverified connection
    await fence(server, sid, hits)
    assert (await server.request("GET", proxy(server, sid, "http://gone.test/"))).status == 403
    assert canary.connections == 0, canary.report()
