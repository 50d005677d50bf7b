"""Header rewriting, as scripts of inputs and expected outputs (rewriter.headers)."""

from __future__ import annotations

import pytest
from fuzz import scaled
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriter.header_tables import RESPONSE_ACTIONS, ResponseAction
from rewriter.headers import (
    RequestContext,
    initiator_origin,
    is_safe_redirect,
    is_websocket_upgrade,
    rewrite_request_headers,
    rewrite_response_headers,
)
from rewriter.refresh import rewrite_refresh, url_span
from rewriter.sites import is_same_site
from rewriter.space import ProxySpace
from rewriter.urls import is_navigable

SID = "abcdefghij"
P = f"--{SID}.cobrowse.localhost:8080"  # suffix of every proxy netloc in these tests
EXAMPLE = f"http://s-example-com{P}"  # proxy origin of https://example.com
WWW = f"http://s-www-example-com{P}"
API = f"http://s-api-example-com{P}"
OTHER = f"http://s-other-org{P}"
PLAIN = f"http://h-example-com{P}"  # proxy origin of http://example.com


def ctx(url: str = "https://example.com/page", method: str = "GET") -> RequestContext:
    return RequestContext(url=url, space=ProxySpace(SID, "cobrowse.localhost", "http", 8080), method=method)


def req(headers: list[tuple[str, str]], url: str = "https://example.com/page", **kw: bool) -> dict[str, str]:
    out = rewrite_request_headers(headers, ctx(url), **kw)
    return {name.lower(): value for name, value in out}


# -- request ------------------------------------------------------------------------------

DROPPED_REQUEST = [
    "Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Authorization",
    "Proxy-Connection", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "Via",
    "X-Real-IP", "Cookie", "Host", "Sec-WebSocket-Key", "Sec-WebSocket-Extensions",
]


@pytest.mark.parametrize("name", DROPPED_REQUEST)
def test_request_header_from_browser_is_dropped(name: str) -> None:
    assert req([(name, "x"), ("Accept", "*/*")]) == {"accept": "*/*"}


@pytest.mark.parametrize("name", ["User-Agent", "Accept", "Authorization", "Sec-Fetch-Mode", "Sec-Fetch-Dest",
                                  "Accept-Language", "Content-Type", "Content-Length", "If-None-Match"])
def test_ordinary_request_header_is_kept_unchanged(name: str) -> None:
    assert req([(name, "v 1")]) == {name.lower(): "v 1"}


def test_headers_named_by_connection_are_dropped_as_hop_by_hop() -> None:
    assert req([("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"), ("X-End", "2")]) == {"x-end": "2"}


def test_request_header_order_duplicates_and_spelling_are_kept() -> None:
    headers = [("X-A", "1"), ("accept", "a"), ("X-A", "2"), ("X-B", "3")]
    assert rewrite_request_headers(headers, ctx()) == headers


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        (EXAMPLE, "https://example.com"),
        (API, "https://api.example.com"),
        (PLAIN, "http://example.com"),
        ("null", "null"),
        ("https://evil.test", None),  # not of the proxy space
        ("http://cobrowse.localhost:8080", None),  # the control plane
        ("http://s-example-com--zzzzzzzzzz.cobrowse.localhost:8080", None),  # another session
    ],
)
def test_origin_is_mapped_back_to_the_real_origin_or_dropped(origin: str, expected: str | None) -> None:
    assert req([("Origin", origin)]).get("origin") == expected


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        (f"{WWW}/a/b?q=1", "https://www.example.com/a/b?q=1"),
        (f"{EXAMPLE}/", "https://example.com/"),
        ("https://www.google.com/search?q=x", None),
        ("http://cobrowse.localhost:8080/join/abc", None),
    ],
)
def test_referer_is_mapped_back_to_the_real_url_or_dropped(referer: str, expected: str | None) -> None:
    assert req([("Referer", referer)]).get("referer") == expected


def test_ping_headers_are_mapped_back_to_real_urls() -> None:
    out = req([("Ping-From", f"{EXAMPLE}/page"), ("Ping-To", f"{OTHER}/x")])
    assert out == {"ping-from": "https://example.com/page", "ping-to": "https://other.org/x"}


@pytest.mark.parametrize(
    ("headers", "target", "expected"),
    [
        ([("Origin", EXAMPLE)], "https://example.com/x", "same-origin"),
        ([("Origin", WWW)], "https://api.example.com/x", "same-site"),
        ([("Referer", f"{OTHER}/p")], "https://example.com/x", "cross-site"),
        # Schemeful: http and https of one domain are different sites.
        ([("Origin", PLAIN)], "https://example.com/x", "cross-site"),
        # An opaque initiator (sandboxed frame, tainted redirect) is cross-site to everything,
        # whatever the Referer says (as the jar's SameSite judgement reads it).
        ([("Origin", "null"), ("Referer", f"{WWW}/p")], "https://api.example.com/", "cross-site"),
        ([], "https://example.com/", "none"),
        # Unknown initiator: "same-site" between proxy hosts says nothing about real sites.
        ([("Origin", "https://evil.test")], "https://example.com/", "cross-site"),
        ([("Referer", "http://cobrowse.localhost:8080/s/abc")], "https://example.com/", "none"),
    ],
)
def test_sec_fetch_site_is_recomputed_from_real_origins(
    headers: list[tuple[str, str]], target: str, expected: str
) -> None:
    browser_value = "none" if not headers else "same-site"
    out = req([*headers, ("Sec-Fetch-Site", browser_value)], url=target)
    assert out["sec-fetch-site"] == expected


def test_browsers_cross_site_is_never_upgraded_by_a_known_initiator() -> None:
    # The browser says cross-site only when the initiator is outside every session host: a
    # Referer naming a proxied page (which page script can choose) does not overrule it.
    out = req([("Referer", f"{EXAMPLE}/p"), ("Sec-Fetch-Site", "cross-site")], url="https://example.com/x")
    assert out["sec-fetch-site"] == "cross-site"


def test_sec_fetch_site_same_origin_from_browser_survives_unknown_initiator() -> None:
    assert req([("Sec-Fetch-Site", "same-origin")])["sec-fetch-site"] == "same-origin"


def test_initiator_origin_prefers_origin_then_referer() -> None:
    headers = [("Referer", f"{WWW}/a"), ("Origin", f"{API}")]
    assert initiator_origin(headers, ctx()) == "https://api.example.com"
    assert initiator_origin([("Referer", f"{WWW}/a")], ctx()) == "https://www.example.com"
    assert initiator_origin([("Origin", "null")], ctx()) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gzip, deflate, br, zstd", "gzip, deflate, br, zstd"),
        ("gzip, deflate, br, zstd, dcb, dcz", "gzip, deflate, br, zstd"),
        ("*", "gzip, deflate, br, zstd"),
        ("identity;q=1, *;q=0", "identity;q=1, *;q=0"),  # media Range requests
    ],
)
def test_accept_encoding_is_narrowed_to_decodable_codings(value: str, expected: str) -> None:
    assert req([("Accept-Encoding", value)])["accept-encoding"] == expected


WS_HANDSHAKE = [
    ("Connection", "keep-alive, Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Protocol", "chat"),
    ("Sec-WebSocket-Extensions", "permessage-deflate"),
    ("Origin", EXAMPLE),
]


def test_websocket_handshake_keeps_upgrade_key_version_protocol_and_maps_origin() -> None:
    assert is_websocket_upgrade(WS_HANDSHAKE)
    out = req(WS_HANDSHAKE, url="wss://example.com/ws", websocket=True)
    assert out == {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        "sec-websocket-protocol": "chat",
        "origin": "https://example.com",
    }


def test_upgrade_headers_are_dropped_when_not_a_websocket_handshake() -> None:
    assert not is_websocket_upgrade([("Upgrade", "h2c"), ("Connection", "Upgrade")])
    assert req(WS_HANDSHAKE) == {"origin": "https://example.com"}


# -- response -----------------------------------------------------------------------------


def resp(headers: list[tuple[str, str]], url: str = "https://example.com/page",
         request_origin: str | None = None) -> dict[str, str]:
    out = rewrite_response_headers(headers, ctx(url), request_origin)
    return {name.lower(): value for name, value in out.headers}


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://example.com/next", f"{EXAMPLE}/next"),
        ("https://other.org/a?b=1#c", f"{OTHER}/a?b=1#c"),
        ("http://example.com/", f"{PLAIN}/"),
        ("//api.example.com/v1", f"{API}/v1"),  # scheme from the request URL
        ("/login?next=/", "/login?next=/"),
        ("next", "next"),
        ("?page=2", "?page=2"),
    ],
)
def test_location_is_mapped_into_proxy_space_and_relative_stays_relative(location: str, expected: str) -> None:
    assert resp([("Location", location)])["location"] == expected


def test_content_location_is_mapped_into_proxy_space() -> None:
    assert resp([("Content-Location", "https://www.example.com/doc.en")]) == {
        "content-location": f"{WWW}/doc.en"
    }


@pytest.mark.parametrize(
    ("location", "safe"),
    [
        ("https://example.com/", True),
        ("HTTP://example.com/", True),
        ("/relative:colon", True),
        ("path/with:colon", True),
        ("", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        (" \x01java\tscript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:x", False),
        ("file:///etc/passwd", False),
        ("ws://example.com/", False),
    ],
)
def test_is_safe_redirect_accepts_only_http_and_relative_targets(location: str, safe: bool) -> None:
    assert is_safe_redirect(location) is safe


def test_unsafe_location_is_removed_and_flagged_for_a_502() -> None:
    out = rewrite_response_headers([("Location", "javascript:alert(1)"), ("X-A", "1")], ctx(), None)
    assert out.headers == [("X-A", "1")]
    assert out.unsafe_redirect
    assert not rewrite_response_headers([("Location", "/ok")], ctx(), None).unsafe_redirect


@pytest.mark.parametrize(
    ("refresh", "expected"),
    [
        ("5; url=https://example.com/x", f"5; url={EXAMPLE}/x"),
        ("0;URL='https://other.org/a b'", f"0;URL='{OTHER}/a b'"),
        ("3, https://www.example.com/", f"3, {WWW}/"),
        ('1; url = "//api.example.com/"', f'1; url = "{API}/"'),
        ("5", "5"),
        ("2; url=/relative", "2; url=/relative"),
        ("0; url=javascript:alert(1)", None),
    ],
)
def test_refresh_url_is_mapped_and_unsafe_refresh_is_dropped(refresh: str, expected: str | None) -> None:
    assert resp([("Refresh", refresh)]).get("refresh") == expected


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("<https://example.com/app.js>; rel=modulepreload",
         f"<{EXAMPLE}/app.js>; rel=modulepreload"),
        ('<https://other.org/f.woff2>; rel=preload; as=font; crossorigin, </s.css>; rel="preload, x"; as=style,'
         " <//api.example.com>; rel=preconnect",
         f'<{OTHER}/f.woff2>; rel=preload; as=font; crossorigin, </s.css>; rel="preload, x"; as=style,'
         f" <{API}>; rel=preconnect"),
        ('</a>; title="has <https://x.test/> inside"', '</a>; title="has <https://x.test/> inside"'),
    ],
)
def test_link_header_uris_are_mapped_and_params_kept(link: str, expected: str) -> None:
    assert resp([("Link", link)])["link"] == expected


@pytest.mark.parametrize(
    ("acao", "request_origin", "expected"),
    [
        ("*", "https://www.example.com", "*"),
        ("https://www.example.com", "https://www.example.com", WWW),
        ("https://www.example.com", None, WWW),
        ("null", "null", "null"),
        ("https://attacker.test", "https://www.example.com", None),  # not the requester: never reflected
        ("not an origin", "https://www.example.com", None),
    ],
)
def test_access_control_allow_origin_maps_to_proxy_origin_of_real_allowed_origin(
    acao: str, request_origin: str | None, expected: str | None
) -> None:
    out = resp([("Access-Control-Allow-Origin", acao), ("Access-Control-Allow-Credentials", "true")],
               url="https://api.example.com/v1", request_origin=request_origin)
    assert out.get("access-control-allow-origin") == expected
    assert out["access-control-allow-credentials"] == "true"


def test_timing_allow_origin_and_speculation_rules_are_mapped() -> None:
    out = resp([("Timing-Allow-Origin", "https://www.example.com https://other.org"),
                ("Speculation-Rules", '"https://example.com/rules.json", "/local.json"')])
    assert out["timing-allow-origin"] == f"{WWW} {OTHER}"
    assert out["speculation-rules"] == f'"{EXAMPLE}/rules.json", "/local.json"'


DROPPED_RESPONSE = [
    "Content-Security-Policy", "Content-Security-Policy-Report-Only", "X-Frame-Options",
    "Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy", "Cross-Origin-Resource-Policy",
    "Strict-Transport-Security", "Report-To", "NEL", "Reporting-Endpoints", "Alt-Svc", "Clear-Site-Data",
    "SourceMap", "X-SourceMap", "Public-Key-Pins", "Public-Key-Pins-Report-Only", "Expect-CT",
    "Connection", "Keep-Alive", "Transfer-Encoding", "Trailer", "Upgrade", "Set-Cookie2",
]


@pytest.mark.parametrize("name", DROPPED_RESPONSE)
def test_response_header_is_removed(name: str) -> None:
    assert resp([(name, "x"), ("Content-Type", "text/html")]) == {"content-type": "text/html"}


def test_every_table_drop_is_covered_by_a_test() -> None:
    dropped = {n for n, a in RESPONSE_ACTIONS.items() if a is ResponseAction.DROP}
    tested = {n.lower() for n in DROPPED_RESPONSE}
    assert dropped - tested <= {"x-content-security-policy", "x-webkit-csp", "proxy-connection", "te",
                                "proxy-authenticate", "proxy-authorization",
                                "cross-origin-opener-policy-report-only",
                                "cross-origin-embedder-policy-report-only"}


def test_set_cookie_is_captured_in_order_and_never_forwarded() -> None:
    out = rewrite_response_headers(
        [("Set-Cookie", "a=1; Path=/"), ("Content-Type", "text/html"), ("set-cookie", "b=2; HttpOnly")],
        ctx(), None,
    )
    assert out.set_cookies == ["a=1; Path=/", "b=2; HttpOnly"]
    assert out.headers == [("Content-Type", "text/html")]


def test_content_length_and_encoding_are_left_for_the_caller() -> None:
    headers = [("Content-Length", "10"), ("Content-Encoding", "gzip"), ("Vary", "Origin")]
    assert rewrite_response_headers(headers, ctx(), None).headers == headers


# -- sites ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://www.example.com/a", "https://api.example.com", True),
        ("https://example.com", "https://example.com:8443/x", True),
        ("https://example.com", "http://example.com", False),  # schemeful
        ("wss://example.com/ws", "https://www.example.com", True),
        ("https://www.example.co.uk", "https://shop.example.co.uk", True),
        ("https://a.co.uk", "https://b.co.uk", False),
        ("https://alice.github.io", "https://bob.github.io", False),  # private PSL section
        ("https://example.com", "https://example.org", False),
        ("http://127.0.0.1:8000", "http://127.0.0.1:9000", True),
        ("http://127.0.0.1", "http://127.0.0.2", False),
        ("null", "https://example.com", False),
        ("not a url", "not a url", False),
    ],
)
def test_is_same_site_compares_scheme_and_registrable_domain(a: str, b: str, same: bool) -> None:
    assert is_same_site(a, b) is same


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
_NAMES = st.sampled_from(["Location", "Refresh", "Link", "Access-Control-Allow-Origin", "Timing-Allow-Origin",
                          "Speculation-Rules", "Content-Location", "Origin", "Referer", "Sec-Fetch-Site",
                          "Connection", "Accept-Encoding", "Set-Cookie", "X-Other"])


@given(st.lists(st.tuples(_NAMES, _TEXT), max_size=8), st.one_of(st.none(), _TEXT))
def test_header_rewriting_never_raises_on_hostile_values(
    headers: list[tuple[str, str]], request_origin: str | None
) -> None:
    rewrite_request_headers(headers, ctx())
    rewrite_request_headers(headers, ctx(), websocket=True)
    out = rewrite_response_headers(headers, ctx(), request_origin)
    assert all(name.lower() != "set-cookie" for name, _ in out.headers)


# -- slash-less URLs (issue 6, hole 2): read as the WHATWG URL parser reads them ----------------
# The page is https://example.com/page: "https:x" is relative to it, "http:x" is absolute.

EVIL = f"http://s-evil-example{P}"  # proxy origin of https://evil.example
EVIL_HTTP = f"http://h-evil-example{P}"  # proxy origin of http://evil.example


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Location", "http:evil.example/x", f"{EVIL_HTTP}/x"),
        ("Location", "http:\\\\evil.example\\x?a\\b", f"{EVIL_HTTP}/x?a\\b"),
        ("Location", " \x01ht\ttp:evil.example/x\n", f"{EVIL_HTTP}/x"),
        ("Location", "https:next", "./next"),
        ("Content-Location", "http:/\\evil.example/doc", f"{EVIL_HTTP}/doc"),
        ("Refresh", "0; url=http:evil.example/x", f"0; url={EVIL_HTTP}/x"),
        ("Refresh", "0; url='http:\\\\evil.example'", f"0; url='{EVIL_HTTP}'"),
        ("Link", "<http:evil.example/s.css>; rel=preload; as=style", f"<{EVIL_HTTP}/s.css>; rel=preload; as=style"),
        ("Link", "<\thttp:evil.example>; rel=preconnect", f"<{EVIL_HTTP}>; rel=preconnect"),
    ],
)
def test_slashless_cross_scheme_urls_in_headers_are_mapped_into_proxy_space(
    name: str, value: str, expected: str
) -> None:
    assert resp([(name, value)])[name.lower()] == expected


@pytest.mark.parametrize(
    ("refresh", "expected"),
    [
        ("0;url=data:text/html,<script>alert(1)</script>", None),
        ("1, JAVA\tSCRIPT:alert(1)", None),
        ("0; url = 'vbscript:x'", None),
        ("0 url=https://evil.example/", f"0 url={EVIL}/"),
        ("x; url=https://evil.example/", "x; url=https://evil.example/"),  # no delay: the browser ignores it
        ("0; url.html", "0; url.html"),
    ],
)
def test_refresh_header_follows_the_shared_declarative_refresh_steps(refresh: str, expected: str | None) -> None:
    assert resp([("Refresh", refresh)]).get("refresh") == expected


_REFRESH_PARTS = st.lists(st.sampled_from(
    ["0", "5", ".", "1.5", ";", ",", " ", "\t", "url", "URL", "u", "ur", "=", " = ", "'", '"', "https:", "http://",
     "javascript:", "java\tscript:", "data:", "evil.example", "/x", "\\\\", "\x01", "é"]), max_size=12).map("".join)


@settings(max_examples=scaled(300))
@given(st.one_of(_REFRESH_PARTS, st.text(max_size=40)))
def test_refresh_parser_never_raises_changes_only_the_url_and_refuses_only_non_http(value: str) -> None:
    """The one refresh parser (header and <meta>): identity mapping leaves the value as it is
    unless its URL names a non-http(s) scheme, which is refused (None)."""
    span = url_span(value)
    kept = rewrite_refresh(value, lambda url: url)
    if span is not None and not is_navigable(value[span[0] : span[1]]):
        assert kept is None
    else:
        assert kept == value
    mapped = rewrite_refresh(value, lambda url: "<" + url + ">")
    if span is not None and mapped is not None:
        assert mapped == value[: span[0]] + "<" + value[span[0] : span[1]] + ">" + value[span[1] :]
