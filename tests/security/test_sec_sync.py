"""Threat model, sync channel: a page forging sync messages, and the socket's limits.

Raw aiohttp WebSocket clients play the attacker: a script in the controlling participant's page
opens ``/__cb/sync`` with that page's cookie and Origin (exactly what a browser would send for
it) and sends what the runtime never would. Every negative assertion is fenced by a later valid
message that does arrive: had the forged one been relayed, it would have arrived first.

Holes of issue 6 covered here: 1 (server end: every field checked, URL fields must map into
the session's proxy space), 3 (``/join`` lands only inside the space) and 8 (nesting bound,
sockets per participant).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from fuzz import scaled
from hypothesis import given, settings
from hypothesis import strategies as st
from world.harness import DOMAIN, Cobrowse, StartCobrowse, view_in
from world.sync_client import (
    connect,
    expect,
    hello,
    join,
    post_join,
    send,
    start_session,
    until_closed,
)

from proxy.keys import SERVICE, STORE, SYNC
from proxy.synchub import SOCKETS_PER_PARTICIPANT
from rewriter.space import ProxySpace
from sessions.protocol import (
    BLANK_URLS,
    FIELDS,
    MAX_COORD,
    MAX_DEPTH,
    MAX_MESSAGE_BYTES,
    Inbound,
    ProtocolError,
    in_space,
    parse,
    proxy_url,
)
from sessions.relay import Outcome, Relay


@pytest.fixture
async def server(start_server: StartCobrowse) -> Cobrowse:
    return await start_server()


# URLs a forged nav may carry, none of which may reach a follower. {other} is another
# session's proxy host, {control} the control plane.
FORGED_URLS = [
    "javascript:sessionStorage.setItem('pwned',1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "blob:http://example.com/0b0b0b0b-0000-4000-8000-000000000000",
    "vbscript:msgbox(1)",
    "about:blank",
    "https:evil.example/landing",
    "http:\\\\evil.example\\x",
    "http://example.com/\x00x",
    "http://example.com/a\nb",
    "http://example.com/\u007f",
    "//evil.example/x",
    "/relative/path",
    "ftp://example.com/",
    "{control}/",
    "{other}/",
]


def _spell(url: str, server: Cobrowse, other: str) -> str:
    return url.replace("{control}", server.control).replace("{other}", other)


async def _other_session_host(server: Cobrowse) -> str:
    other, _ = await start_session(server)
    parts = urlsplit(server.proxy_url(other["id"], "example.com"))
    return f"{parts.scheme}://{parts.netloc}"


@pytest.mark.parametrize("kind", ["nav", "window", "hello"])
async def test_forged_urls_close_the_forging_socket_1007_and_never_reach_a_follower(
        server: Cobrowse, kind: str) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await expect(lws, "participants")
    other = await _other_session_host(server)
    for i, raw in enumerate(FORGED_URLS):
        if kind == "window" and raw == "about:blank":
            continue  # window.open() of nothing: allowed, and opens a blank window
        url = _spell(raw, server, other)
        forger = await connect(server, created, leader)  # the page's own script, with the page's cookie
        if kind == "hello":
            await forger.send_str(json.dumps({"type": "hello", "page": f"forger-{i}", "url": url, "last": 0}))
        else:
            await forger.send_str(json.dumps({"type": "hello", "page": f"forger-{i}", "last": 0}))
            await expect(forger, "welcome")
            fields = {"url": url, "kind": "load"} if kind == "nav" else {"action": "open", "window": "w9", "url": url}
            await forger.send_str(json.dumps({"type": kind, "seq": 1, **fields}))
        left = await until_closed(forger)
        assert forger.close_code == 1007 and not [m for m in left if m["type"] == "ack"], (url, left)
    # The fence: a valid nav sent after all of them is the first nav (and window) the follower sees.
    await send(lws, leader, "nav", url="http://example.com/fence", kind="load")
    await send(lws, leader, "window", action="open", window="w1", url="http://example.com/popup")
    first_nav = await expect(fws, "nav")
    assert first_nav["url"] == "http://example.com/fence"
    first_window = await expect(fws, "window")
    assert first_window["url"] == "http://example.com/popup"
    assert await server.runner.app[SYNC].current_url(created["id"]) == "http://example.com/fence"


async def test_fields_the_protocol_does_not_name_are_not_relayed(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await expect(lws, "participants")
    await send(lws, leader, "click", target=["#b"], ox=0.5, oy=0.5, button=0,
               html="<img src=x onerror=alert(1)>", onclick="alert(1)", url="javascript:alert(1)")
    click = await expect(fws, "click")
    assert set(click) == {"type", "target", "ox", "oy", "button", "n", "from"}


@pytest.mark.parametrize(("kind", "fields"), [
    ("scroll", {"x": math.inf, "y": 0}),
    ("scroll", {"x": 1e300, "y": 0}),
    ("scroll", {"x": 0, "y": 0, "anchor": {"path": ["#a"], "dy": 0, "html": "<b>"}}),
    ("pointer", {"x": 1, "y": 2, "target": [["#nested"]]}),
    ("key", {"key": "k" * 1000, "phase": "down"}),
    ("key", {"key": "a", "phase": "down", "mods": ["ctrl", "<script>"]}),
    ("input", {"target": ["#q"], "selected": ["<b>"]}),
    ("input", {"target": ["#q"], "sel": [0, 1, 2]}),
    ("select", {"anchor": {"path": ["#p"], "offset": -1}, "focus": None}),
    ("media", {"target": ["video:1"], "action": "seek", "time": -math.inf}),
    ("control", {"action": "grant", "to": "x" * 1000}),
    ("digest", {"hash": "h", "url": "javascript:alert(1)"}),
])
async def test_fields_out_of_shape_or_bounds_close_1007(server: Cobrowse, kind: str, fields: dict[str, Any]) -> None:
    created, leader = await start_session(server)
    ws = await connect(server, created, leader)
    await hello(ws, leader, "page-l")
    # json.dumps writes inf as Infinity, which Python's JSON reader accepts: the check must catch it.
    await ws.send_str(json.dumps({"type": kind, "seq": 1, **fields}))
    await until_closed(ws)
    assert ws.close_code == 1007


async def test_a_5000_deep_json_array_closes_1007_not_1006(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    for i, frame in enumerate(["[" * 5000 + "]" * 5000, '{"type":"pointer","seq":1,"x":1,"y":1,"target":'
                               + "[" * 5000 + "]" * 5000 + "}", "{" * 30000]):
        ws = await connect(server, created, leader)
        await hello(ws, leader, f"page-deep-{i}")
        await ws.send_str(frame)
        await until_closed(ws)
        assert ws.close_code == 1007
    # The server is still there and serving: a new socket is greeted.
    ws = await connect(server, created, leader)
    await hello(ws, leader, "page-after")


async def test_a_participant_holds_at_most_the_socket_cap_the_next_is_refused_429(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    follower = await join(server, created)
    sockets = [await connect(server, created, follower) for _ in range(SOCKETS_PER_PARTICIPANT)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(server, created, follower)
    assert refused.value.status == 429
    # Another participant is not held to this one's count, and a closed socket frees its place.
    await hello(await connect(server, created, leader), leader, "page-l")
    await sockets[0].close()
    again = await connect(server, created, follower)
    await hello(again, follower, "page-again")


async def test_join_after_a_forged_nav_lands_inside_the_sessions_proxy_space(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    forger = await connect(server, created, leader)
    await hello(forger, leader, "forger")
    await send(forger, leader, "nav", url="https:evil.example/landing", kind="load")
    await until_closed(forger)
    reply = await post_join(server, created)
    assert reply.status == 303
    landing = reply.headers["Location"]
    assert landing == server.proxy_url(created["id"], "example.com", "/start", view=view_in(landing))


@pytest.mark.parametrize("planted", ["https:evil.example/x", "javascript:alert(1)", "http://cobrowse.localhost/",
                                     "data:text/html,x", "{other}/page"])
async def test_a_landing_url_outside_the_space_falls_back_to_the_start_url(server: Cobrowse, planted: str) -> None:
    """Defence in depth for hole 3: whatever put it in the relay's state, ``/join`` refuses it."""
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    spelled = _spell(planted, server, await _other_session_host(server))
    session = await server.runner.app[STORE].get(created["id"])
    assert session is not None

    def plant(relay: Relay) -> Outcome:
        relay._state.set_window_url("main", spelled)
        return Outcome()
    await server.runner.app[SYNC].apply(session, plant)
    reply = await post_join(server, created)
    assert reply.status == 303
    landing = reply.headers["Location"]
    assert landing == server.proxy_url(created["id"], "example.com", "/start", view=view_in(landing))


@pytest.mark.parametrize("planted", ["javascript:alert(1)", "https:evil.example/x", "http://cobrowse.localhost/"])
async def test_enter_with_a_ticket_for_a_url_outside_the_space_lands_on_the_start_url(
        server: Cobrowse, planted: str) -> None:
    """``/enter`` passes through the same landing check as ``/join``."""
    created, _ = await start_session(server)
    session = await server.runner.app[STORE].get(created["id"])
    assert session is not None
    ticket = await server.runner.app[SERVICE].issue_ticket(session.id, session.leader_id, planted, time.time())
    reply = await server.request("GET", f"{server.control}/enter/{session.id}?ticket={quote(ticket)}", cookies={})
    assert reply.status == 302
    landing = reply.headers["Location"]
    assert landing == server.proxy_url(created["id"], "example.com", "/start", view=view_in(landing))


# -- the parser: never crashes, never accepts what the protocol refuses --------------------------

SPACE = ProxySpace("abc123", DOMAIN, "http", 8080)
URL_OK = in_space(SPACE)
HOSTILE_STRINGS = [u for u in FORGED_URLS if "{" not in u] + [
    "http://example.com/", "http://example.com/ok", "http://cobrowse.localhost:8080/", "about:blank", "",
    "http://h--other.cobrowse.localhost/", "\ud800", "<img src=x onerror=alert(1)>", "x" * 300]
HOSTILE_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64),
              st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(HOSTILE_STRINGS), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["path", "dy", "offset", "x", "onclick"]), inner, max_size=3)),
    max_leaves=12)


@st.composite
def near_valid_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A message of a known type whose fields are drawn from hostile values (and extra keys)."""
    kind = draw(st.sampled_from(sorted(FIELDS)))
    names = [*sorted(FIELDS[kind]), "n", "from", "html", "onload"]
    fields = draw(st.dictionaries(st.sampled_from(names), HOSTILE_VALUES, max_size=6))
    seq = draw(st.one_of(st.integers(min_value=-1, max_value=2**60), st.just(1)))
    return {"type": kind, "seq": seq, **fields}


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    return [value]


def assert_acceptable(message: Inbound) -> None:
    """What any accepted message must be, stated apart from the parser's own tables."""
    spec = FIELDS[message.type]
    assert set(message.fields) <= set(spec)
    assert {"n", "from", "type", "seq"}.isdisjoint(message.fields)
    assert 0 <= message.seq <= 2**53 and (message.type == "hello" or message.seq >= 1)
    for name, value in message.fields.items():
        if spec[name].url and value not in BLANK_URLS:
            assert proxy_url(SPACE, value) is not None, value
            assert not any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)
            assert value.lower().startswith(("http://", "https://"))
        assert _depth(value) <= 3
        for scalar in _scalars(value):
            if isinstance(scalar, float | int) and not isinstance(scalar, bool):
                assert math.isfinite(scalar) and abs(scalar) <= max(MAX_COORD, 2**53)
            if isinstance(scalar, str):
                scalar.encode("utf-8")
    json.dumps(message.fields, allow_nan=False)


VALID: list[dict[str, Any]] = [
    {"type": "hello", "page": "p1", "window": "main", "url": "http://example.com/", "last": 0, "vw": 1280, "vh": 800},
    {"type": "nav", "seq": 1, "url": "https://example.com/a?b=c#d", "kind": "push"},
    {"type": "scroll", "seq": 1, "target": None, "x": 0, "y": 1200, "anchor": {"path": ["#p", "p:3"], "dy": -4}},
    {"type": "pointer", "seq": 1, "x": 3, "y": 4, "target": ["#b"], "ox": 0.25, "oy": 1.5},
    {"type": "click", "seq": 1, "target": ["#b"], "ox": 0.5, "oy": 0.5, "button": 0},
    {"type": "input", "seq": 1, "target": ["#rich"], "value": "<b>x</b>", "sel": [0, 1]},
    {"type": "input", "seq": 1, "target": ["select:1"], "selected": [0, 2]},
    {"type": "key", "seq": 1, "target": None, "key": "Enter", "code": "Enter", "mods": ["ctrl"], "phase": "up"},
    {"type": "select", "seq": 1, "anchor": {"path": ["#p"], "offset": 2}, "focus": {"path": ["#p"], "offset": 5}},
    {"type": "media", "seq": 1, "target": ["video:1"], "action": "seek", "time": 12.5},
    {"type": "storage", "seq": 1, "area": "local", "key": None, "value": None},
    {"type": "window", "seq": 1, "action": "open", "window": "w1-abc", "url": "about:blank"},
    {"type": "digest", "seq": 1, "hash": "abc", "url": "http://example.com/"},
    {"type": "control", "seq": 1, "action": "grant", "to": "p2"},
    {"type": "end", "seq": 1},
]


@pytest.mark.parametrize("data", VALID, ids=[str(d["type"]) for d in VALID])
def test_every_message_the_runtime_sends_is_accepted_whole(data: dict[str, Any]) -> None:
    message = parse(json.dumps(data), URL_OK)
    assert_acceptable(message)
    assert {"type": message.type, **({"seq": message.seq} if "seq" in data else {}), **message.fields} == data


@settings(max_examples=scaled(200))
@given(near_valid_messages())
def test_sync_parser_never_crashes_and_never_accepts_an_invalid_message(data: dict[str, Any]) -> None:
    with contextlib.suppress(ProtocolError):
        assert_acceptable(parse(json.dumps(data), URL_OK))


@settings(max_examples=scaled(200))
@given(st.text(alphabet='[]{}",:\\0a1 tnrue-.e', max_size=400))
def test_sync_parser_never_crashes_on_bracket_soup(text: str) -> None:
    try:
        assert_acceptable(parse(text, URL_OK))
    except ProtocolError as refused:
        assert refused.code in (1007, 1008, 1009)


@settings(max_examples=scaled(50))
@given(st.integers(min_value=MAX_DEPTH + 1, max_value=20_000), st.sampled_from("[{"))
def test_sync_parser_refuses_any_nesting_past_the_bound_with_1007(depth: int, opener: str) -> None:
    body = "[" * depth + "]" * depth if opener == "[" else '{"a":' * depth + "1" + "}" * depth
    if len(body) > MAX_MESSAGE_BYTES:
        body = body[:MAX_MESSAGE_BYTES]
    with pytest.raises(ProtocolError) as refused:
        parse(body, URL_OK)
    assert refused.value.code == 1007


def test_url_authority_for_sync_maps_only_plain_web_urls_into_the_space() -> None:
    mapped = proxy_url(SPACE, "http://example.com/a?b#c")
    assert mapped is not None and mapped.endswith("--abc123.cobrowse.localhost:8080/a?b#c")
    assert SPACE.from_proxy(mapped) == "http://example.com/a?b#c"
    for bad in ["https:evil.example", "javascript:alert(1)", "http://x--abc123.cobrowse.localhost/",
                "http://cobrowse.localhost/", "http://example.com:99999/", "http://exa mple.com/"]:
        assert proxy_url(SPACE, bad) is None, bad
