"""Scripts rewritten by ``rewriter/js.py`` read the real ``location`` in real Chromium, through
the runtime's glue (``static/runtime/45-jsglue.js``).

The stand-in proxy of tests/runtime_harness.py serves the page on its proxy host with the
runtime; the test rewrites each script with ``rewrite_js`` (what the proxy does to the scripts
it serves) and runs it in the page. What a page loaded directly from the real URL would read is
worked out from the URL itself (``urllib``), so the test proves the page's own view through the
proxy is the direct one. Every request Chromium makes must stay in the proxy space.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from runtime_harness import DOMAIN, RuntimeHarness
from world.browser import CHROMIUM, CHROMIUM_ARGS

from rewriter.js import rewrite_js

REAL = "https://example.com:8443/page?q=1#frag"


@pytest.fixture(scope="module")
def harness() -> Iterator[RuntimeHarness]:
    h = RuntimeHarness().start()
    h.pages["/page"] = "<p>page</p>"
    h.pages["/framed"] = '<iframe src="/child"></iframe>'
    h.pages["/child"] = "<script>" + rewrite_js(
        "parent.__childSaw = [top.location.href, parent.location.hostname, window.location.pathname];"
    ) + "</script>"
    inline = rewrite_js("window.__inline = location.origin + ' ' + document.location.host;")
    h.pages["/inline"] = "<script>" + inline + "</script>"
    for path in ("/x", "/y", "/z"):
        h.pages[path] = f"<p>{path}</p>"
    yield h
    h.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@pytest.fixture
def page(harness: RuntimeHarness, browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    escaped: list[str] = []

    def route(r: Route) -> None:
        if (urlsplit(r.request.url).hostname or "").endswith("." + DOMAIN):
            r.continue_()
        else:
            escaped.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.goto(harness.url(REAL))
    tab.wait_for_function("() => !!window.__cbRuntime")
    yield tab
    context.close()
    assert escaped == [], f"requests left the proxy space: {escaped}"


def run(page: Page, script: str) -> Any:
    return page.evaluate(rewrite_js(script))


def test_rewritten_reads_of_location_and_its_aliases_show_the_real_url(page: Page) -> None:
    real = urlsplit(REAL)
    assert run(page, """() => [location.hostname, location.origin, location.href, location.port,
        location.protocol, location.host, location.pathname, location.search, location.hash]""") == [
        real.hostname, "https://example.com:8443", REAL, "8443", "https:", real.netloc, real.path,
        "?" + real.query, "#" + real.fragment,
    ]
    assert run(page, """() => [document.location.host, window.location.origin, self.location.href,
        top.location.href, globalThis['location'].hostname, String(location), '' + window.location,
        location.toString(), location == window.location]""") == [
        real.netloc, "https://example.com:8443", REAL, REAL, real.hostname, REAL, REAL, REAL, True,
    ]


def test_unrewritten_reads_show_the_proxy_which_is_why_scripts_are_rewritten(page: Page) -> None:
    assert page.evaluate("() => location.hostname").endswith("." + DOMAIN)


def test_destructuring_from_location_and_of_location_reads_real_values(page: Page) -> None:
    assert run(page, """() => {
        const { hostname, port } = location;
        const { location: loc } = window;
        const { location: { origin } } = document;
        return [hostname, port, loc.href, origin];
    }""") == ["example.com", "8443", REAL, "https://example.com:8443"]


def test_plain_objects_with_a_location_property_are_untouched(page: Page) -> None:
    assert run(page, """() => {
        const props = { location: { pathname: '/plain' } };
        const o = {}; o.location = 5; o['location'] += 1;
        return [props.location.pathname, o.location, typeof props.location];
    }""") == ["/plain", 6, "object"]


def test_inline_script_and_child_frame_read_their_own_and_their_parents_real_urls(
    page: Page, harness: RuntimeHarness
) -> None:
    page.goto(harness.url("https://example.com:8443/inline"))
    page.wait_for_function("() => window.__inline !== undefined")
    assert page.evaluate("() => window.__inline") == "https://example.com:8443 example.com:8443"
    page.goto(harness.url("https://example.com:8443/framed"))
    page.wait_for_function("() => window.__childSaw !== undefined")
    assert page.evaluate("() => window.__childSaw") == [
        "https://example.com:8443/framed", "example.com", "/child",
    ]


@pytest.mark.parametrize(
    ("script", "real_target"),
    [
        ("location.href = '/x'", "https://example.com:8443/x"),
        ("location.assign('https://other.example/y')", "https://other.example/y"),
        ("window.location = 'https://example.com:8443/z'", "https://example.com:8443/z"),
        ("document.location.replace('https://other.example/x')", "https://other.example/x"),
        ("location = '/y'", "https://example.com:8443/y"),
    ],
)
def test_rewritten_writes_navigate_within_the_proxy_space(
    page: Page, harness: RuntimeHarness, script: str, real_target: str
) -> None:
    page.evaluate(rewrite_js(f"() => {{ {script}; }}"))
    page.wait_for_url(harness.url(real_target))
    page.wait_for_function("() => !!window.__cbRuntime")
    assert run(page, "() => location.href") == real_target


def test_glue_functions_are_not_enumerable_nor_replaceable(page: Page) -> None:
    assert page.evaluate("""() => {
        const names = ['__cb$loc', '__cb$set', '__cb$pat'];
        const listed = Object.keys(window).filter((k) => names.includes(k));
        const kept = names.every((n) => {
            try { window[n] = null; } catch (e) { /* non-writable */ }
            return typeof window[n] === 'function';
        });
        return [listed, kept];
    }""") == [[], True]


def test_rewritten_script_runs_where_the_runtime_is_absent_as_if_unrewritten(page: Page) -> None:
    """A worker gets no runtime, yet loads scripts (importScripts) as a page does: the prologue
    makes the glue the identity there, so the worker reads its own WorkerLocation unharmed."""
    worker = rewrite_js("postMessage([location.protocol, self.location.href.slice(0, 5), typeof __cb$loc]);")
    assert "__cb$loc(" in worker
    got = page.evaluate(
        """(src) => new Promise((resolve, reject) => {
            const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
            w.onmessage = (e) => resolve(e.data);
            w.onerror = (e) => reject(new Error(e.message));
        })""",
        worker,
    )
    assert got == ["blob:", "blob:", "function"]


def test_rewritten_real_jquery_runs_and_reads_the_real_url(page: Page) -> None:
    """Django admin's vendored jQuery, rewritten, evaluates without error in Chromium and its
    own ``location`` reads (ajax defaults) see the real URL."""
    from importlib import resources
    from pathlib import Path

    vendor = Path(str(resources.files("django"))) / "contrib" / "admin" / "static" / "admin" / "js" / "vendor"
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for name in ("jquery.js", "jquery.min.js"):
        source = (vendor / "jquery" / name).read_text("utf-8")
        rewritten = rewrite_js(source)
        assert "__cb$loc(" in rewritten
        page.add_script_tag(content=rewritten)
        assert page.evaluate("() => [typeof jQuery.fn.jquery, jQuery.ajaxSettings.url]") == ["string", REAL]
        page.evaluate("() => { delete window.jQuery; delete window.$; }")
    assert errors == []
