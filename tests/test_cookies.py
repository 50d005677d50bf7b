"""The session cookie jar as scripts of Set-Cookie lines and expected Cookie headers (sessions.cookies)."""

from __future__ import annotations

import json

import pytest
from fuzz import scaled
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriter.sites import is_same_site
from sessions.cookie_rules import (
    BROWSER_SITE_PROOF,
    SENT_IN,
    FetchMetadata,
    SameSiteContext,
    default_path,
    parse_cookie_date,
    path_match,
    same_site_context,
)
from sessions.cookies import CookieJar, CookieLimits

NOW = 1_700_000_000.0
NAVIGATE = FetchMetadata("same-site", "navigate", "document")
FRAME = FetchMetadata("same-site", "navigate", "iframe")
FETCH = FetchMetadata("same-site", "cors", "empty")


def send(jar: CookieJar, url: str, *, site: str | None = None, top: bool = True, method: str = "GET",
         now: float = NOW + 1) -> str | None:
    """A request to ``url`` started by a page of the real ``site`` (None: typed in)."""
    fetch = NAVIGATE if top else FETCH
    if site is None:
        fetch = FetchMetadata("none", fetch.mode, fetch.dest)
    return jar.cookie_header(url, now, context=same_site_context(url, method, site, fetch))


def jar_with(url: str, *lines: str) -> CookieJar:
    jar = CookieJar()
    for line in lines:
        jar.set_from_header(url, line, NOW)
    return jar


# -- domain -----------------------------------------------------------------------------


def test_host_only_cookie_goes_to_its_host_and_not_to_subdomains() -> None:
    jar = jar_with("https://example.com/", "a=1")
    assert send(jar, "https://example.com/") == "a=1"
    assert send(jar, "https://www.example.com/") is None


def test_domain_cookie_goes_to_the_domain_and_its_subdomains_only() -> None:
    jar = jar_with("https://www.example.com/", "a=1; Domain=.Example.com")
    assert send(jar, "https://example.com/") == "a=1"
    assert send(jar, "https://deep.api.example.com/") == "a=1"
    assert send(jar, "https://notexample.com/") is None
    assert send(jar, "https://example.org/") is None


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("https://www.example.com/", "a=1; Domain=other.com"),  # does not domain-match
        ("https://example.com/", "a=1; Domain=www.example.com"),  # a subdomain of the host
        ("https://www.example.co.uk/", "a=1; Domain=co.uk"),  # public suffix
        ("https://alice.github.io/", "a=1; Domain=github.io"),  # public suffix, private section
        ("https://www.example.com/", "a=1; Domain=com"),
        ("http://127.0.0.1:8000/", "a=1; Domain=0.0.1"),  # IP hosts are host-only
        ("http://127.0.0.1:8000/", "a=1; Domain=127.0.0.2"),
    ],
)
def test_cookie_with_a_domain_the_host_may_not_claim_is_refused(url: str, line: str) -> None:
    jar = CookieJar()
    assert jar.set_from_header(url, line, NOW) is False
    assert len(jar) == 0


def test_domain_equal_to_a_public_suffix_host_becomes_host_only() -> None:
    jar = jar_with("https://github.io/", "a=1; Domain=github.io")
    assert send(jar, "https://github.io/") == "a=1"
    assert send(jar, "https://alice.github.io/") is None


def test_ip_host_with_its_own_address_as_domain_is_host_only() -> None:
    jar = jar_with("http://127.0.0.1:8000/", "a=1; Domain=127.0.0.1")
    assert send(jar, "http://127.0.0.1:9000/") == "a=1"  # cookies ignore ports
    assert [c.host_only for c in jar] == [True]


def test_idn_host_and_domain_match_in_punycode() -> None:
    jar = jar_with("https://www.bücher.de/", "a=1; Domain=bücher.de")
    assert send(jar, "https://xn--bcher-kva.de/") == "a=1"


# -- path -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_path", "expected"),
    [("/", "/"), ("", "/"), ("/a", "/"), ("/a/", "/a"), ("/a/b/c", "/a/b"), ("/a/b/", "/a/b")],
)
def test_default_path_is_the_request_directory(request_path: str, expected: str) -> None:
    assert default_path(request_path) == expected


@pytest.mark.parametrize(
    ("request_path", "cookie_path", "match"),
    [("/docs", "/docs", True), ("/docs/a", "/docs", True), ("/docs/", "/docs/", True),
     ("/docsx", "/docs", False), ("/doc", "/docs", False), ("/anything", "/", True)],
)
def test_path_match_follows_rfc6265(request_path: str, cookie_path: str, match: bool) -> None:
    assert path_match(request_path, cookie_path) is match


def test_cookie_without_path_gets_the_default_path_and_is_sent_below_it() -> None:
    jar = jar_with("https://example.com/shop/cart", "a=1", "b=2; Path=/", "c=3; Path=relative")
    assert send(jar, "https://example.com/shop/item") == "a=1; c=3; b=2"
    assert send(jar, "https://example.com/other") == "b=2"


def test_longer_paths_come_first_then_older_cookies() -> None:
    jar = CookieJar()
    jar.set_from_header("https://example.com/", "late=1; Path=/", NOW + 5)
    jar.set_from_header("https://example.com/", "early=1; Path=/", NOW)
    jar.set_from_header("https://example.com/", "deep=1; Path=/a/b", NOW + 9)
    assert send(jar, "https://example.com/a/b/c", now=NOW + 10) == "deep=1; early=1; late=1"


# -- Secure, HttpOnly, prefixes -----------------------------------------------------------


def test_secure_cookie_is_only_set_from_and_sent_to_secure_urls() -> None:
    jar = CookieJar()
    assert jar.set_from_header("http://example.com/", "s=1; Secure", NOW) is False
    assert jar.set_from_header("https://example.com/", "s=1; Secure", NOW) is True
    assert send(jar, "https://example.com/") == "s=1"
    assert send(jar, "wss://example.com/socket") == "s=1"
    assert send(jar, "http://example.com/") is None


def test_loopback_http_counts_as_secure_like_in_chromium() -> None:
    jar = jar_with("http://localhost:8000/", "s=1; Secure")
    assert send(jar, "http://localhost:8000/") == "s=1"


def test_insecure_origin_cannot_shadow_a_secure_cookie() -> None:
    jar = jar_with("https://example.com/", "id=secret; Secure; Path=/")
    assert jar.set_from_header("http://example.com/app", "id=forged; Path=/app", NOW) is False
    assert jar.set_from_header("http://www.example.com/", "id=forged; Domain=example.com", NOW) is False
    assert jar.set_from_header("http://example.com/", "other=ok", NOW) is True


def test_httponly_cookie_is_hidden_from_document_and_sent_upstream() -> None:
    jar = jar_with("https://example.com/", "h=1; HttpOnly", "v=2")
    assert jar.document_cookie("https://example.com/", NOW) == "v=2"
    assert send(jar, "https://example.com/") == "h=1; v=2"


def test_script_can_neither_create_nor_overwrite_an_httponly_cookie() -> None:
    jar = jar_with("https://example.com/", "h=1; HttpOnly")
    assert jar.set_from_document("https://example.com/", "x=1; HttpOnly", NOW) is False
    assert jar.set_from_document("https://example.com/", "h=evil", NOW) is False
    assert jar.set_from_document("https://example.com/", "doc=1; Path=/", NOW) is True
    assert send(jar, "https://example.com/") == "h=1; doc=1"


@pytest.mark.parametrize(
    ("url", "line", "accepted"),
    [
        ("https://example.com/", "__Secure-a=1; Secure", True),
        ("https://example.com/", "__Secure-a=1", False),
        ("http://example.com/", "__Secure-a=1; Secure", False),
        ("https://example.com/", "__Host-a=1; Secure; Path=/", True),
        ("https://example.com/", "__host-a=1; Secure; Path=/", True),
        ("https://example.com/", "__Host-a=1; Secure", False),  # Path must be /
        ("https://example.com/", "__Host-a=1; Secure; Path=/; Domain=example.com", False),
        ("https://example.com/", "__Host-a=1; Path=/", False),
        ("https://example.com/", "=__Host-a=1; Secure; Path=/; Domain=example.com", False),
    ],
)
def test_cookie_name_prefixes_are_enforced(url: str, line: str, accepted: bool) -> None:
    assert CookieJar().set_from_header(url, line, NOW) is accepted


# -- expiry and deletion ------------------------------------------------------------------


def test_expires_is_honoured_and_max_age_wins_over_it() -> None:
    jar = CookieJar()
    jar.set_from_header("https://example.com/", "e=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", NOW)
    assert len(jar) == 0  # already in the past
    jar.set_from_header("https://example.com/", "m=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60", NOW)
    assert send(jar, "https://example.com/", now=NOW + 59) == "m=1"
    assert send(jar, "https://example.com/", now=NOW + 61) is None
    assert len(jar) == 0  # noticed as expired, and gone


def test_expiry_is_capped_at_400_days() -> None:
    jar = jar_with("https://example.com/", "a=1; Max-Age=999999999999")
    assert send(jar, "https://example.com/", now=NOW + 399 * 86400) == "a=1"
    assert send(jar, "https://example.com/", now=NOW + 401 * 86400) is None


@pytest.mark.parametrize("deletion", ["a=; Max-Age=0", "a=x; Max-Age=-5",
                                      "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"])
def test_cookie_is_deleted_by_past_expiry_or_non_positive_max_age(deletion: str) -> None:
    jar = jar_with("https://example.com/", "a=1", "b=2")
    assert jar.set_from_header("https://example.com/", deletion, NOW) is True
    assert send(jar, "https://example.com/") == "b=2"


def test_deletion_needs_the_same_domain_and_path() -> None:
    jar = jar_with("https://www.example.com/", "a=1; Domain=example.com; Path=/")
    jar.set_from_header("https://www.example.com/", "a=; Max-Age=0; Path=/", NOW)  # host-only twin
    assert send(jar, "https://www.example.com/") == "a=1"
    jar.set_from_header("https://www.example.com/", "a=; Max-Age=0; Domain=example.com; Path=/", NOW)
    assert send(jar, "https://www.example.com/") is None


def test_replacing_a_cookie_keeps_its_creation_time() -> None:
    jar = CookieJar()
    jar.set_from_header("https://example.com/", "a=1", NOW)
    jar.set_from_header("https://example.com/", "b=1", NOW + 1)
    jar.set_from_header("https://example.com/", "a=2", NOW + 2)
    assert send(jar, "https://example.com/", now=NOW + 3) == "a=2; b=1"
    assert {c.name: c.created for c in jar} == {"a": NOW, "b": NOW + 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0),
        ("Sun Nov  6 08:49:37 1994", 784111777.0),
        ("6 nov 1994 8:49:37", 784111777.0),
        ("Wed, 31 Feb 2015 07:28:00 GMT", None),
        ("Wed, 21 Oct 1600 07:28:00 GMT", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_cookie_date_algorithm(text: str, expected: float | None) -> None:
    assert parse_cookie_date(text) == expected


# -- SameSite -----------------------------------------------------------------------------

SITE_LINES = ("s=1; SameSite=Strict", "l=1; SameSite=Lax", "n=1; SameSite=None; Secure", "d=1")


@pytest.mark.parametrize(
    ("site", "top", "method", "expected"),
    [
        (None, True, "GET", "s=1; l=1; n=1; d=1"),  # typed in or leader link
        ("https://shop.example.com/cart", False, "POST", "s=1; l=1; n=1; d=1"),  # same-site subdomain
        ("https://evil.test/", True, "GET", "l=1; n=1; d=1"),  # cross-site link click
        ("https://evil.test/", True, "POST", "n=1"),  # cross-site form post
        ("https://evil.test/", False, "GET", "n=1"),  # cross-site subresource or iframe
        ("http://www.example.com/", True, "GET", "l=1; n=1; d=1"),  # schemeful: http is another site
    ],
)
def test_samesite_is_enforced_on_real_sites(site: str | None, top: bool, method: str, expected: str) -> None:
    jar = jar_with("https://www.example.com/", *(f"{line}; Domain=example.com" for line in SITE_LINES))
    assert send(jar, "https://api.example.com/", site=site, top=top, method=method) == expected


# The SameSite context from what the browser says (Sec-Fetch-*, Origin: null) and the real
# initiator. Browser Sec-Fetch-Site values compare proxy hosts: all one site.
TARGET = "https://api.example.com/x"
SAME = "https://www.example.com"
CROSS = "https://evil.test"


@pytest.mark.parametrize(
    ("fetch", "method", "initiator", "expected"),
    [
        # Known real initiator: it decides when the browser proves nothing.
        (FETCH, "POST", SAME, "same-site"),
        (FETCH, "POST", CROSS, "cross-site"),
        (NAVIGATE, "GET", CROSS, "cross-site-top-level"),
        (NAVIGATE, "POST", CROSS, "cross-site"),
        (NAVIGATE, "HEAD", CROSS, "cross-site-top-level"),
        (FRAME, "GET", CROSS, "cross-site"),  # a frame is no top-level navigation
        (FetchMetadata("", "", ""), "GET", SAME, "same-site"),  # no Fetch Metadata: initiator alone
        # Unknown initiator (no Origin/Referer, another session's host, the real web): cross-site.
        (FETCH, "POST", None, "cross-site"),
        (NAVIGATE, "GET", None, "cross-site-top-level"),
        (NAVIGATE, "POST", None, "cross-site"),
        (FetchMetadata("", "", ""), "GET", None, "cross-site"),
        (FetchMetadata("SAME-SITE", "cors", "empty"), "GET", None, "cross-site"),
        (FetchMetadata("bogus", "cors", "empty"), "GET", SAME, "cross-site"),  # unknown value: no proof
        # Browser proofs: typed in / bookmarked, and a same-origin chain.
        (FetchMetadata("none", "navigate", "document"), "GET", None, "same-site"),
        (FetchMetadata("same-origin", "cors", "empty"), "POST", None, "same-site"),
        (FetchMetadata("same-origin", "cors", "empty", opaque_initiator=True), "POST", None, "same-site"),
        # The browser saw a hop outside the proxy domain: cross-site whatever Referer says.
        (FetchMetadata("cross-site", "cors", "empty"), "POST", SAME, "cross-site"),
        (FetchMetadata("cross-site", "navigate", "document"), "GET", SAME, "cross-site-top-level"),
        # Origin: null (sandboxed frame, redirect-tainted origin): never same-site by Referer.
        (FetchMetadata("same-site", "cors", "empty", opaque_initiator=True), "POST", SAME, "cross-site"),
        # Schemeful: http and https of one domain are two sites.
        (FETCH, "POST", "http://www.example.com", "cross-site"),
    ],
)
def test_same_site_context_trusts_only_what_page_script_cannot_forge(
    fetch: FetchMetadata, method: str, initiator: str | None, expected: SameSiteContext
) -> None:
    assert same_site_context(TARGET, method, initiator, fetch) == expected


def test_fetch_metadata_is_read_from_headers_case_blind_and_first_wins() -> None:
    headers = [("sec-fetch-site", " Same-Origin "), ("Sec-Fetch-Mode", "navigate"), ("SEC-FETCH-DEST", "document"),
               ("Sec-Fetch-Site", "cross-site"), ("Origin", "null")]
    assert FetchMetadata.from_headers(headers) == FetchMetadata("same-origin", "navigate", "document", True)
    assert FetchMetadata.from_headers(headers).top_level_navigation
    assert FetchMetadata.from_headers([]) == FetchMetadata()


@pytest.mark.parametrize(
    ("context", "expected"),
    [("same-site", "s=1; l=1; n=1; d=1"), ("cross-site-top-level", "l=1; n=1; d=1"), ("cross-site", "n=1")],
)
def test_each_context_sends_exactly_the_cookies_its_table_row_lists(context: SameSiteContext, expected: str) -> None:
    jar = jar_with("https://example.com/", *SITE_LINES)
    assert jar.cookie_header("https://example.com/", NOW + 1, context=context) == expected


def test_samesite_none_without_secure_is_refused() -> None:
    assert CookieJar().set_from_header("https://example.com/", "n=1; SameSite=None", NOW) is False


def test_samesite_cookie_from_a_cross_site_subresource_response_is_refused() -> None:
    jar = CookieJar()
    url = "https://tracker.test/pixel"
    assert jar.set_from_header(url, "t=1", NOW, context="cross-site") is False
    assert jar.set_from_header(url, "t=1; SameSite=None; Secure", NOW, context="cross-site") is True


def test_a_cross_site_top_level_navigation_may_set_strict_cookies_even_by_post() -> None:
    jar = CookieJar()
    url = "https://example.com/login"
    assert jar.set_from_header(url, "s=1; SameSite=Strict", NOW, context="cross-site",
                               top_level_navigation=True) is True


def test_unknown_samesite_value_means_lax_by_default() -> None:
    jar = jar_with("https://example.com/", "u=1; SameSite=Bogus")
    assert send(jar, "https://example.com/", site="https://evil.test/", top=False) is None
    assert send(jar, "https://example.com/", site="https://evil.test/", top=True) == "u=1"


# -- parsing edge cases -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  a = 1 ; Path=/", "a=1"),
        ("nameless", "nameless"),
        ("a=1=2", "a=1=2"),
        ('a="quoted"', 'a="quoted"'),
        ("a=1; Max-Age=abc", "a=1"),  # bad Max-Age ignored, cookie kept
        ("a=1; Expires=never", "a=1"),
        ("a=1; Domain=", "a=1"),  # empty Domain ignored: host-only
    ],
)
def test_lenient_parsing_matches_user_agents(line: str, expected: str) -> None:
    assert send(jar_with("https://example.com/", line), "https://example.com/") == expected


@pytest.mark.parametrize("line", ["", "   ", "=", ";", "a=1\x00b", "a=\n1", "a" * 4097, "n=" + "v" * 4096],
                         ids=lambda line: repr(line[:12]))
def test_garbage_or_oversized_set_cookie_is_ignored(line: str) -> None:
    jar = CookieJar()
    assert jar.set_from_header("https://example.com/", line, NOW) is False
    assert len(jar) == 0


def test_name_and_value_of_exactly_4096_bytes_are_accepted() -> None:
    assert CookieJar().set_from_header("https://example.com/", "n=" + "v" * 4095, NOW) is True


@pytest.mark.parametrize("url", ["", "not a url", "ftp://example.com/", "https://", "data:text/html,x"])
def test_urls_without_a_web_host_set_and_get_nothing(url: str) -> None:
    jar = CookieJar()
    assert jar.set_from_header(url, "a=1", NOW) is False
    assert send(jar, url) is None
    assert jar.document_cookie(url, NOW) == ""


# -- caps ---------------------------------------------------------------------------------


def test_500_set_cookie_headers_stay_under_the_per_site_cap_and_keep_the_newest() -> None:
    jar = CookieJar()
    for i in range(500):
        assert jar.set_from_header("https://www.example.com/", f"c{i}=v; Domain=example.com", NOW + i)
    assert 0 < len(jar) <= 180
    names = {c.name for c in jar}
    assert "c499" in names and "c0" not in names


def test_total_cap_bounds_the_jar_across_many_sites() -> None:
    jar = CookieJar(CookieLimits(per_site=5, total=50))
    for i in range(400):
        jar.set_from_header(f"https://site{i}.test/", "a=1", NOW + i)
        assert len(jar) <= 50
    assert "site399.test" in {c.domain for c in jar}


def test_eviction_removes_the_least_recently_used_cookie_first() -> None:
    jar = CookieJar(CookieLimits(per_site=3, total=100, purge_to=1.0))
    for i, name in enumerate(("old", "mid", "new")):
        jar.set_from_header("https://example.com/", f"{name}=1; Path=/{name}", NOW + i)
    send(jar, "https://example.com/old", now=NOW + 10)  # reading refreshes last access
    jar.set_from_header("https://example.com/", "extra=1", NOW + 11)
    assert {c.name for c in jar} == {"old", "new", "extra"}


# -- persistence --------------------------------------------------------------------------


def test_records_round_trip_through_json() -> None:
    jar = jar_with("https://www.example.com/a/", "h=1; HttpOnly; Secure; SameSite=Strict",
                   "d=2; Domain=example.com; Path=/; Max-Age=100", "n=3; SameSite=None; Secure")
    restored = CookieJar.from_records(json.loads(json.dumps(jar.to_records())))
    assert sorted(restored, key=lambda c: c.name) == sorted(jar, key=lambda c: c.name)
    assert send(restored, "https://www.example.com/a/x") == send(jar, "https://www.example.com/a/x")


def test_malformed_records_are_skipped() -> None:
    good = jar_with("https://example.com/", "a=1").to_records()[0]
    bad: list[dict[str, object]] = [{**good, "secure": "yes"}, {**good, "path": "nope"}, {"name": "x"},
                                    {**good, "expires": True}]
    assert len(CookieJar.from_records([*bad, good])) == 1


# -- never raises ---------------------------------------------------------------------------

_HOSTILE = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
_URLS = st.sampled_from(["https://example.com/", "http://127.0.0.1/x", "https://[::1]:8443/",
                         "https://www.bücher.de/a/b", "http://localhost/", "wss://a.github.io/"])


@settings(max_examples=scaled(300))
@given(st.lists(st.tuples(_URLS, _HOSTILE), max_size=10), _URLS)
def test_hostile_set_cookie_lines_never_raise(lines: list[tuple[str, str]], read_url: str) -> None:
    jar = CookieJar()
    for url, line in lines:
        jar.set_from_header(url, line, NOW)
        jar.set_from_document(url, line, NOW)
    header = jar.cookie_header(read_url, NOW, context="cross-site-top-level")
    assert header is None or isinstance(header, str)
    jar.document_cookie(read_url, NOW)
    assert len(CookieJar.from_records(jar.to_records())) == len(jar)


@given(st.text(max_size=100))
def test_cookie_date_parser_never_raises(text: str) -> None:
    parse_cookie_date(text)


_FETCH_VALUES = st.sampled_from(["", "none", "same-origin", "same-site", "cross-site", "navigate", "document",
                                 "iframe", "cors", "websocket"]) | st.text(max_size=20)
_INITIATORS = st.none() | st.text(max_size=40) | st.sampled_from(
    ["https://example.com", "http://example.com", "https://www.example.com", "https://evil.test", "null", "",
     "https://[::1]:8443"])
_METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "get", "OPTIONS"]) | st.text(max_size=8)
_ORDER: dict[str, int] = {"cross-site": 0, "cross-site-top-level": 1, "same-site": 2}


@settings(max_examples=scaled(300))
@given(_FETCH_VALUES, _FETCH_VALUES, _FETCH_VALUES, st.booleans(), _METHODS, _INITIATORS, _URLS)
def test_same_site_context_never_raises_and_never_trusts_a_forgeable_input(
    site: str, mode: str, dest: str, opaque: bool, method: str, initiator: str | None, url: str
) -> None:
    fetch = FetchMetadata(site, mode, dest, opaque)
    context = same_site_context(url, method, initiator, fetch)
    assert context in SENT_IN
    # Strict cookies need a browser proof or a same-site real initiator, never "same-site" alone.
    if context == "same-site" and BROWSER_SITE_PROOF.get(site) is not True:
        assert initiator is not None and not opaque
    # Without a browser proof, same-site takes a real initiator that is same-site with the target.
    if context == "same-site" and BROWSER_SITE_PROOF.get(site) is not True:
        assert initiator is not None and is_same_site(initiator, url)
    # An opaque initiator (Origin: null) never makes a request more same-site.
    opaque_context = same_site_context(url, method, initiator, FetchMetadata(site, mode, dest, True))
    assert _ORDER[opaque_context] <= _ORDER[context]
    # Lax on a cross-site request only for a top-level navigation by a safe method.
    if context == "cross-site-top-level":
        assert fetch.top_level_navigation and method.upper() in {"GET", "HEAD", "OPTIONS", "TRACE"}
    jar = jar_with("https://example.com/", *SITE_LINES)
    header = jar.cookie_header(url, NOW + 1, context=context) or ""
    sent = {pair.split("=")[0] for pair in header.split("; ") if pair}
    assert sent <= {"s", "l", "n", "d"}
    assert "s" not in sent or context == "same-site"
