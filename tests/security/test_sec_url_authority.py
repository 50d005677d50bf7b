"""Threat row "pages reach the real web through URLs the proxy misreads": differential tests of
the URL authority against Chromium's own URL parser.

For each URL a page might write and each real base URL, three readings must name the same
real URL: Chromium's ``new URL(input, base)`` (the truth), the Python mapping
(``ProxySpace.to_proxy``, used by the HTML, CSS and header rewriters) and the runtime's
(``cbToProxy``). A mapping is followed the way the browser follows it: resolved by Chromium
against the proxy URL of the base, then mapped back with ``from_proxy``. Where Chromium
refuses a URL, the mapped one must be refused too or stay inside the proxy space; where it
names a non-web scheme, the URL is left as written.

Two differences are deliberate and normalised away before comparing: userinfo is dropped
(the proxy never forwards it in a URL) and a host's trailing dot is dropped (a proxy label
cannot spell it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fuzz import scaled
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, sync_playwright
from runtime_harness import DOMAIN, RuntimeHarness
from world.browser import CHROMIUM, CHROMIUM_ARGS

from rewriter.space import REFUSED
from rewriter.urls import resolve

BASES = ["http://page.example/dir/doc?q=1#top", "https://page.example:8443/a/b/"]

# Chromium's reading, then each mapping followed as the browser would follow it.
READ_ALL = r"""([cases, proxyBases]) => {
  const norm = (u) => {
    const x = new URL(u);
    x.username = ''; x.password = '';
    if (x.hostname.endsWith('.')) x.hostname = x.hostname.replace(/\.+$/, '') || x.hostname;
    return x.href;
  };
  const tryUrl = (u, b) => { try { return new URL(u, b).href; } catch (e) { return null; } };
  return cases.map(([input, base, py], i) => {
    const truth = tryUrl(input, base);
    const js = __cbRuntime.toProxy(input, base);
    return {
      truth, norm: truth && /^(https?|wss?):$/.test(new URL(truth).protocol) ? norm(truth) : null,
      js, pyFollowed: tryUrl(py, proxyBases[i]), jsFollowed: tryUrl(js, proxyBases[i]),
    };
  });
}"""
NORM = r"""(urls) => urls.map((u) => {
  const x = new URL(u); x.username = ''; x.password = '';
  if (x.hostname.endsWith('.')) x.hostname = x.hostname.replace(/\.+$/, '') || x.hostname;
  return x.href;
})"""

HAND_PICKED = [
    # slash-less, same scheme as the base (relative) and another scheme (absolute)
    "http:foo", "http:/foo", "http:", "http:?q", "http:#f", "http:foo:bar", "https:foo", "https:",
    "https:evil.example/x", "https:evil.example", "http:evil.example:8080/p?q#f", "ws:echo.example/s",
    "wss:echo.example", "HTTPS:EVIL.example/X", "http:..", "https:../up",
    # backslashes, any mix of slashes
    "http:\\\\evil.example\\x\\y?a\\b#c\\d", "https:\\evil.example/x", "\\\\evil.example/x",
    "/\\evil.example/x", "\\/evil.example/x", "///evil.example/x", "https:////evil.example/x",
    "http:/\\evil.example/x", "https:\\\\evil.example", "\\x\\y", "/\\",
    # tabs, newlines, C0 controls and spaces
    "ht\ttps:evil.example/x", "h\nttps://ev\til.example/x", " \x00\x1fhttps:evil.example/x \x01",
    "\x0bhttps://evil.example/", "https:\n//evil.example", "\t//evil.example/x\n", "java\tscript:alert(1)",
    " javascript:alert(1)", "\x01data:text/html,x",
    # hosts: IPv4 spellings, IDN, case, escapes, userinfo, ports, IPv6
    "http://0x7f.1/", "http://2130706433/", "https:0177.0.0.1", "http://127.1:8080", "http://0x7F000001",
    "https://Bücher.DE/ä?ö#ü", "https://xn--bcher-kva.de/", "HTTP://EXAMPLE.COM/A", "https://%65xample.com/",
    "https://u:p@a@evil.example/x", "https:u@evil.example", "https://evil.example:0443/", "http://evil.example:80",
    "https://evil.example:/x", "https://evil.example:99999/", "http://[::1]/", "https:[2001:DB8::1]:8443/v",
    "http://[::ffff:127.0.0.1]/", "http://[::1", "https://evil.example./x", "https://a..b/",
    # paths with dot segments and escapes, kept as written
    "https://evil.example/a/%2e%2E/b/./c/../d", "https:evil.example/%2e/x", "//evil.example/a b?c d#e f",
    # relative and local: left as written
    "x/y", "/abs", "?q", "#f", "", " ", "data:text/plain,x", "blob:https://a.example/u", "mailto:a@b.example",
    "file:///etc/passwd", "ftp:evil.example/x", "about:blank",
]


@pytest.fixture(scope="module")
def harness() -> Iterator[RuntimeHarness]:
    h = RuntimeHarness().start()
    h.pages["/page"] = "<p>page</p>"
    yield h
    h.stop()


@pytest.fixture(scope="module")
def page(harness: RuntimeHarness) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        context = browser.new_context()
        # The page only computes; nothing it names may be fetched.
        context.route("**/*", lambda r: r.continue_() if (DOMAIN in r.request.url) else r.abort())
        tab = context.new_page()
        tab.goto(harness.url("https://page.example/page"))
        tab.wait_for_function("() => !!window.__cbRuntime && !!window.__cbRuntime.toProxy")
        yield tab
        browser.close()


def _in_proxy_space(url: str | None, page: Page) -> bool:
    """Refused by Chromium (None), or on a proxy host."""
    if url is None:
        return True
    host: str = page.evaluate("(u) => new URL(u).hostname", url)
    return host == DOMAIN or host.endswith("." + DOMAIN)


def check_agreement(page: Page, harness: RuntimeHarness, inputs: list[str]) -> None:
    space = harness.space
    assert space is not None
    cases = [(u, b, space.to_proxy(u, b)) for b in BASES for u in inputs]
    proxy_bases = [space.to_proxy(b) for _, b, _ in cases]
    results: list[dict[str, Any]] = page.evaluate(READ_ALL, [cases, proxy_bases])
    for (url, base, py), r in zip(cases, results, strict=True):
        where = f"{url!r} against {base}: python {py!r}, runtime {r['js']!r}, chromium {r['truth']!r}"
        if r["truth"] is not None and r["norm"] is None:
            assert py == url and r["js"] == url, where  # a non-web scheme: left as written
            continue
        mapped = [(py, r["pyFollowed"]), (r["js"], r["jsFollowed"])]
        if REFUSED in (py, r["js"]):
            # Made inert: only for a URL the standard refuses (Chromium is laxer in places).
            assert resolve(url, base) is None, where
            mapped = [(m, f) for m, f in mapped if m != REFUSED]
        for _, followed in mapped:
            assert _in_proxy_space(followed, page), where
        if r["truth"] is None:
            continue  # refused by Chromium: refused too, or kept inside the proxy space
        real = page.evaluate(NORM, [space.from_proxy(f) for _, f in mapped])
        assert real == [r["norm"]] * len(mapped), where


def test_python_runtime_and_chromium_name_the_same_real_url_for_hand_picked_tricky_urls(
    page: Page, harness: RuntimeHarness
) -> None:
    check_agreement(page, harness, HAND_PICKED)


def test_slashless_cross_scheme_url_is_absolute_and_same_scheme_one_relative(harness: RuntimeHarness) -> None:
    space = harness.space
    assert space is not None
    to_evil = space.to_proxy("https:evil.example/x", "http://page.example/d/doc")
    assert to_evil.startswith("http://s-evil-example--") and to_evil.endswith("/x")
    assert space.to_proxy("http:foo?q", "http://page.example/d/doc") == "./foo?q"
    assert space.to_proxy("https:foo", "http://page.example/d/doc").startswith("http://s-foo--")


_C0_EDGE = st.sampled_from(["", " ", "\x00", "\x01 ", "\x1f", "\t", "\n ", "\x0c"])
_SCHEME = st.sampled_from(
    ["", "", "http:", "https:", "HTTP:", "hTtPs:", "ws:", "wss:", "javascript:", "data:", "ftp:", "file:"]
)
_SLASHES = st.text(alphabet="/\\", max_size=4)
_USERINFO = st.sampled_from(["", "", "u@", "u:p@", "a@b@", "%40@"])
_HOST = st.one_of(
    st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9-]{0,8}(\.[a-zA-Z][a-zA-Z0-9-]{0,8}){0,2}\.?\Z"),
    st.sampled_from([
        "0x7f.1", "2130706433", "127.1", "0177.0.0.1", "0x7F.0.0.0x1", "[::1]", "[2001:DB8::1]", "[::ffff:1.2.3.4]",
        "bücher.de", "EXAMPLE.com", "%65xample.com", "xn--bcher-kva.de", "a.b.example.", "ex%2eample.com",
        "münchen.DE", "é.example", "",
    ]),
)
_PORT = st.sampled_from(["", "", ":80", ":443", ":8080", ":0443", ":", ":65535", ":65536"])
_PATH = st.text(alphabet="ab/\\.%2eE?#=&: \t\n", max_size=12)


@st.composite
def tricky_urls(draw: st.DrawFn) -> str:
    url = "".join(draw(s) for s in (_C0_EDGE, _SCHEME, _SLASHES, _USERINFO, _HOST, _PORT, _PATH, _C0_EDGE))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(url)))
        url = url[:at] + draw(st.sampled_from(["\t", "\n", "\r"])) + url[at:]
    return url


@settings(max_examples=scaled(25), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(tricky_urls(), min_size=1, max_size=20))
@example(["https:\\\\EX%41mple.com:0443/a%2e/../b?q#f", "\x01 ht\ttps:evil.example"])
@example(["https:A 2", "http:A 2"])  # found by the deep profile: Chromium reads host "a%202"
def test_python_runtime_and_chromium_agree_on_generated_urls(
    page: Page, harness: RuntimeHarness, inputs: list[str]
) -> None:
    check_agreement(page, harness, inputs)
