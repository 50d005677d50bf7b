"""The injected runtime's URL layer, alone, in real Chromium.

A stand-in proxy (tests/runtime_harness.py) serves test pages on proxy hosts with the runtime
tag and logs every request; each test runs page JS that builds real absolute URLs and asserts
(1) on the harness's log that the request reached the proxy host of the right real origin,
(2) that the browser asked for nothing outside the proxy space (every request Chromium makes
is recorded through a route on the context; anything else is aborted and reported), and
(3) that what the page reads back is the real URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from runtime_harness import DOMAIN, RuntimeHarness
from world.browser import CHROMIUM, CHROMIUM_ARGS

PAGE_URL = "https://example.com/page"


@pytest.fixture(scope="module")
def harness() -> Iterator[RuntimeHarness]:
    h = RuntimeHarness().start()
    h.pages["/page"] = "<p id=hello>hello</p>"
    h.pages["/next"] = "<p>next</p>"
    h.pages["/other"] = "<p>other</p>"
    h.pages["/write"] = (
        "<script>document.write('<img src=\"https://cdn.example.com/write.png\">');"
        "document.writeln('<script src=\"https://cdn.example.com/writeln.js\"></' + 'script>');</script>"
    )
    yield h
    h.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@dataclass
class Tab:
    page: Page
    context: BrowserContext
    harness: RuntimeHarness
    requested: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    def run(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def assert_stayed_in_proxy_space(self) -> None:
        assert self.escaped == [], f"requests left the proxy space: {self.escaped}"
        for url in self.requested + self.sockets:
            host = urlsplit(url).hostname or ""
            assert host.endswith("." + DOMAIN), url


@pytest.fixture
def tab(harness: RuntimeHarness, browser: Browser) -> Iterator[Tab]:
    harness.clear()
    context = browser.new_context()
    page = context.new_page()
    t = Tab(page, context, harness)

    def route(r: Route) -> None:
        url = r.request.url
        t.requested.append(url)
        host = urlsplit(url).hostname or ""
        if host.endswith("." + DOMAIN):
            r.continue_()
        else:
            t.escaped.append(url)
            r.abort()

    context.route("**/*", route)
    page.on("websocket", lambda ws: t.sockets.append(ws.url))
    page.goto(harness.url(PAGE_URL))
    page.wait_for_function("() => !!window.__cbRuntime && !!window.__cbRuntime.toProxy")
    yield t
    context.close()


def wait_for_hit(tab: Tab, origin: str, path: str) -> None:
    for _ in range(100):
        if path in tab.harness.paths_for(origin):
            return
        tab.page.wait_for_timeout(50)
    raise AssertionError(f"{origin}{path} never reached the proxy; saw {tab.harness.hits}")


# -- the label codec is the same in JS and Python ---------------------------------------------

TRICKY_URLS = [
    "https://example.com/a?b=c#d",
    "http://example.com:8080/x",
    "https://a-b.c--d.example.org/",
    "https://EXAMPLE.com./Caps",
    "https://bücher.de/x",
    "http://[2001:db8::1]:8443/v6",
    "https://[::1]/",
    "http://127.0.0.1:9000/ip",
    "wss://echo.example.com/sock",
    "ws://echo.example.com:81/sock",
    "https://example.com",
]


def test_js_label_codec_maps_urls_exactly_like_python_proxyspace(tab: Tab) -> None:
    js = tab.run("urls => urls.map(u => __cbRuntime.toProxy(u))", TRICKY_URLS)
    py = [tab.harness.url(u) for u in TRICKY_URLS]
    # Python keeps the host spelling of the input in no case but the label: compare hosts and paths.
    for u, j, p in zip(TRICKY_URLS, js, py, strict=True):
        assert urlsplit(j).netloc == urlsplit(p).netloc, u
        assert urlsplit(j).path == urlsplit(p).path, u
        assert urlsplit(j).scheme == urlsplit(p).scheme, u
    back = tab.run("urls => urls.map(u => __cbRuntime.fromProxy(u))", js)
    assert back == [tab.harness.real(j) for j in js]


def test_relative_data_and_proxy_urls_are_left_alone(tab: Tab) -> None:
    urls = [
        "/x",
        "x?y",
        "#f",
        "data:text/plain,hi",
        "javascript:void(0)",
        "blob:foo",
        "mailto:a@b.c",
        tab.harness.url("https://example.com/already"),
    ]
    assert tab.run("urls => urls.map(u => __cbRuntime.toProxy(u))", urls) == urls


def test_too_long_host_gets_alias_from_the_proxy_and_round_trips(tab: Tab) -> None:
    long_url = "https://" + "x" * 60 + ".example.com/long"
    mapped = tab.run("u => __cbRuntime.toProxy(u)", long_url)
    assert urlsplit(mapped).hostname.startswith("a-")
    assert mapped == tab.harness.url(long_url)
    assert "/__cb/alias" in [h.path.split("?")[0] for h in tab.harness.hits]
    assert tab.run("u => __cbRuntime.fromProxy(u)", mapped) == long_url
    tab.run("u => fetch(u).then(r => r.text())", long_url)
    assert "/long" in tab.harness.paths_for("https://" + "x" * 60 + ".example.com")
    tab.assert_stayed_in_proxy_space()


# -- network ----------------------------------------------------------------------------------


def test_fetch_string_url_and_request_inputs_reach_proxy_host_of_their_origin(tab: Tab) -> None:
    urls = tab.run("""async () => {
        const a = await fetch('https://api.example.com/x');
        const b = await fetch(new URL('https://api.example.com/u'));
        const c = await fetch(new Request('https://api.example.com/r', {method: 'POST', body: 'b'}));
        const d = await fetch('//api.example.com/protocol-relative');
        return [a.url, b.url, c.url, d.url, await c.text()];
    }""")
    assert urls == [
        "https://api.example.com/x",
        "https://api.example.com/u",
        "https://api.example.com/r",
        "https://api.example.com/protocol-relative",
        "ok POST /r",
    ]
    assert tab.harness.paths_for("https://api.example.com") == ["/x", "/u", "/r", "/protocol-relative"]
    tab.assert_stayed_in_proxy_space()


def test_fetch_to_the_pages_own_real_origin_and_native_location_origin_both_work(tab: Tab) -> None:
    tab.run("""async () => {
        await fetch('https://example.com/api/real');
        await fetch(location.origin + '/api/native');
        await fetch('/api/relative');
    }""")
    paths = tab.harness.paths_for("https://example.com")
    assert {"/api/real", "/api/native", "/api/relative"} <= set(paths)
    tab.assert_stayed_in_proxy_space()


def test_slashless_urls_read_as_chromium_reads_them_against_the_real_base(tab: Tab) -> None:
    """Issue 6, hole 2: on https://example.com/page, "http:host/x" names host (absolute, another
    scheme) and "https:x" is relative; both must land on the right proxy host."""
    tab.run("""async () => {
        await fetch('http:cdn.example.com/slashless');
        await fetch(' \\t\\x01http:\\\\cdn.example.com\\\\backslash ');
        await fetch('https:same-scheme-relative');
        const img = new Image();
        img.src = 'HTTP:cdn.example.com/img.png';
        await img.decode().catch(() => null);
        const div = document.createElement('div');
        document.body.appendChild(div);
        div.style.cssText = 'background-image:url(http:cdn.example.com/bg.png)';
        getComputedStyle(div).backgroundImage;
        const set = document.createElement('div');
        document.body.appendChild(set);
        set.style.cssText = 'width:9px;height:9px;background-image:image-set("http:cdn.example.com/set.png" 1x)';
        getComputedStyle(set).backgroundImage;
    }""")
    wait_for_hit(tab, "http://cdn.example.com", "/bg.png")
    wait_for_hit(tab, "http://cdn.example.com", "/set.png")
    assert {"/slashless", "/backslash", "/img.png"} <= set(tab.harness.paths_for("http://cdn.example.com"))
    assert "/same-scheme-relative" in tab.harness.paths_for("https://example.com")
    tab.assert_stayed_in_proxy_space()


def test_xhr_open_absolute_url_goes_to_proxy_and_response_url_reads_real(tab: Tab) -> None:
    result = tab.run("""() => new Promise(resolve => {
        const x = new XMLHttpRequest();
        x.open('GET', 'https://api.example.com/xhr?q=1');
        x.onload = () => resolve([x.responseText, x.responseURL, x instanceof XMLHttpRequest]);
        x.send();
    })""")
    assert result == ["ok GET /xhr", "https://api.example.com/xhr?q=1", True]
    assert "/xhr?q=1" in tab.harness.paths_for("https://api.example.com")
    tab.assert_stayed_in_proxy_space()


def test_websocket_wss_url_opens_proxy_ws_url_echoes_and_reads_back_real(tab: Tab) -> None:
    result = tab.run("""() => new Promise((resolve, reject) => {
        const ws = new WebSocket('wss://echo.example.com/sock');
        ws.onerror = () => reject(new Error('ws error'));
        ws.onopen = () => ws.send('ping');
        ws.onmessage = (e) => { resolve([e.data, ws.url, ws instanceof WebSocket, WebSocket.OPEN]); ws.close(); };
    })""")
    assert result == ["ping", "wss://echo.example.com/sock", True, 1]
    port = tab.harness.port
    assert tab.sockets == [f"ws://s-echo-example-com--abcdefghij.{DOMAIN}:{port}/sock"]
    tab.assert_stayed_in_proxy_space()


def test_patched_constructors_keep_instanceof_subclassing_and_errors(tab: Tab) -> None:
    result = tab.run("""() => {
        class Mine extends WebSocket {}
        const m = new Mine('wss://echo.example.com/sub');
        const out = [m instanceof Mine, m instanceof WebSocket, m.constructor === Mine,
                     new WebSocket('wss://echo.example.com/c').constructor === WebSocket];
        let threw = null;
        try { WebSocket('wss://echo.example.com/'); } catch (e) { threw = e.constructor.name; }
        let bad = null;
        try { new WebSocket('ftp://nope/'); } catch (e) { bad = e.name; }
        m.close();
        return out.concat([threw, bad]);
    }""")
    assert result == [True, True, True, True, "TypeError", "SyntaxError"]


def test_eventsource_sendbeacon_and_window_open_stay_in_proxy_space(tab: Tab) -> None:
    result = tab.run("""() => new Promise(resolve => {
        navigator.sendBeacon('https://beacon.example.com/b', 'x');
        const es = new EventSource('https://api.example.com/events');
        es.onmessage = (e) => { es.close(); resolve([e.data, es.url]); };
    })""")
    assert result == ["hello", "https://api.example.com/events"]
    with tab.context.expect_page() as popup_info:
        tab.run("() => { window.open('https://popup.example.com/other'); }")
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url == tab.harness.url("https://popup.example.com/other")
    wait_for_hit(tab, "https://beacon.example.com", "/b")
    assert "/events" in tab.harness.paths_for("https://api.example.com")
    tab.assert_stayed_in_proxy_space()


def test_worker_and_shared_worker_real_urls_load_from_the_proxy_host(tab: Tab) -> None:
    tab.run("""() => {
        new Worker('https://example.com/worker.js');
        new SharedWorker('https://example.com/shared.js');
        return new Worker(new URL('https://example.com/worker2.js')) instanceof Worker;
    }""")
    for path in ["/worker.js", "/shared.js", "/worker2.js"]:
        wait_for_hit(tab, "https://example.com", path)
    tab.assert_stayed_in_proxy_space()


def test_message_event_origin_reads_as_the_real_origin(tab: Tab) -> None:
    origin = tab.run("""() => new Promise(resolve => {
        window.addEventListener('message', (e) => resolve(e.origin), {once: true});
        window.postMessage('hi', '*');
    })""")
    assert origin == "https://example.com"


# -- DOM ------------------------------------------------------------------------------------


def test_element_url_properties_load_from_proxy_and_read_back_real(tab: Tab) -> None:
    result = tab.run("""() => new Promise(resolve => {
        const img = document.createElement('img');
        img.onload = () => {
            const a = document.createElement('a');
            a.href = 'https://shop.example.com:8443/cart?x=1';
            const f = document.createElement('form');
            f.action = 'https://shop.example.com/buy';
            resolve([img.src, img.getAttribute('src'), a.href, a.hostname, a.host, a.origin, a.protocol,
                     String(a), f.action, img.outerHTML.includes('cobrowse.localhost')]);
        };
        img.src = 'https://cdn.example.com/i.png';
        document.body.append(img);
    })""")
    assert result == [
        "https://cdn.example.com/i.png",
        "https://cdn.example.com/i.png",
        "https://shop.example.com:8443/cart?x=1",
        "shop.example.com",
        "shop.example.com:8443",
        "https://shop.example.com:8443",
        "https:",
        "https://shop.example.com:8443/cart?x=1",
        "https://shop.example.com/buy",
        False,  # serialised markup reads back the real URL too (the element holds the proxy's)
    ]
    assert "/i.png" in tab.harness.paths_for("https://cdn.example.com")
    tab.assert_stayed_in_proxy_space()


def test_setattribute_srcset_script_and_svg_href_load_from_proxy(tab: Tab) -> None:
    tab.run("""() => new Promise(resolve => {
        const img = document.createElement('img');
        img.setAttribute('srcset', 'https://cdn.example.com/a,1.png 1x, https://cdn.example.com/b.png 2x');
        document.body.append(img);
        const s = document.createElement('script');
        s.setAttribute('src', 'https://cdn.example.com/lib.js');
        document.head.append(s);
        const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
        const im = document.createElementNS('http://www.w3.org/2000/svg', 'image');
        im.setAttributeNS('http://www.w3.org/1999/xlink', 'xlink:href', 'https://cdn.example.com/svg.png');
        svg.append(im); document.body.append(svg);
        const link = document.createElement('link');
        link.rel = 'stylesheet'; link.href = 'https://cdn.example.com/site.css'; link.onload = resolve;
        document.head.append(link);
    })""")
    wait_for_hit(tab, "https://cdn.example.com", "/lib.js")
    wait_for_hit(tab, "https://cdn.example.com", "/svg.png")
    wait_for_hit(tab, "https://cdn.example.com", "/site.css")
    paths = tab.harness.paths_for("https://cdn.example.com")
    assert "/a,1.png" in paths or "/b.png" in paths
    srcset = tab.run("() => document.querySelector('img').srcset")
    assert srcset == "https://cdn.example.com/a,1.png 1x, https://cdn.example.com/b.png 2x"
    tab.assert_stayed_in_proxy_space()


def test_innerhtml_insertadjacenthtml_and_contextual_fragment_rewrite_absolute_urls(tab: Tab) -> None:
    tab.run("""() => {
        const d = document.createElement('div');
        d.innerHTML = '<img src="https://cdn.example.com/inner.png"><a href=https://shop.example.com/l>l</a>'
            + '<p style="background:url(\\'https://cdn.example.com/bg.png\\')">p</p>';
        document.body.append(d);
        d.insertAdjacentHTML('beforeend', "<img srcset='https://cdn.example.com/adj.png 1x'>");
        const r = document.createRange();
        document.body.append(r.createContextualFragment('<img src="//cdn.example.com/range.png">'));
    }""")
    for path in ["/inner.png", "/adj.png", "/range.png", "/bg.png"]:
        wait_for_hit(tab, "https://cdn.example.com", path)
    assert tab.run("() => document.querySelector('a').href") == "https://shop.example.com/l"
    tab.assert_stayed_in_proxy_space()


def test_document_write_during_parsing_rewrites_absolute_urls(tab: Tab) -> None:
    tab.page.goto(tab.harness.url("https://example.com/write"))
    wait_for_hit(tab, "https://cdn.example.com", "/write.png")
    wait_for_hit(tab, "https://cdn.example.com", "/writeln.js")
    assert tab.run("() => document.querySelector('img').src") == "https://cdn.example.com/write.png"
    tab.assert_stayed_in_proxy_space()


def test_domparser_html_is_rewritten_so_moved_nodes_load_from_proxy(tab: Tab) -> None:
    tab.run("""() => {
        const doc = new DOMParser().parseFromString('<img src="https://cdn.example.com/parsed.png">', 'text/html');
        document.body.append(...Array.from(doc.body.childNodes));
    }""")
    wait_for_hit(tab, "https://cdn.example.com", "/parsed.png")
    tab.assert_stayed_in_proxy_space()


def test_mutation_net_maps_links_imported_from_an_unhooked_xml_document(tab: Tab) -> None:
    tab.run("""() => {
        const xml = '<div xmlns="http://www.w3.org/1999/xhtml"><a href="https://shop.example.com/net">n</a></div>';
        const doc = new DOMParser().parseFromString(xml, 'application/xhtml+xml');
        document.body.append(document.importNode(doc.documentElement, true));
    }""")
    tab.page.wait_for_function("() => document.querySelector('a[href*=cobrowse]') !== null")
    assert tab.run("() => document.querySelector('a').href") == "https://shop.example.com/net"


def test_iframe_src_and_srcdoc_and_scripts_inside_srcdoc_stay_in_proxy_space(tab: Tab) -> None:
    tab.run("""() => {
        const f = document.createElement('iframe');
        f.src = 'https://frame.example.com/other';
        document.body.append(f);
        const g = document.createElement('iframe');
        g.srcdoc = '<img src="https://cdn.example.com/srcdoc.png">'
            + '<script>fetch("https://api.example.com/from-srcdoc")</' + 'script>';
        document.body.append(g);
    }""")
    wait_for_hit(tab, "https://frame.example.com", "/other")
    wait_for_hit(tab, "https://cdn.example.com", "/srcdoc.png")
    wait_for_hit(tab, "https://api.example.com", "/from-srcdoc")
    tab.assert_stayed_in_proxy_space()


# -- location and navigation ----------------------------------------------------------------


def test_document_and_window_read_backs_show_the_target(tab: Tab) -> None:
    result = tab.run("""() => [document.URL, document.documentURI, document.domain, document.baseURI,
        window.origin, __cbLocation.href, __cbLocation.hostname, __cbLocation.origin, String(__cbLocation),
        __cbLocation.pathname]""")
    assert result == [
        PAGE_URL,
        PAGE_URL,
        "example.com",
        PAGE_URL,
        "https://example.com",
        PAGE_URL,
        "example.com",
        "https://example.com",
        PAGE_URL,
        "/page",
    ]


def test_referrer_reads_as_the_real_previous_page(tab: Tab) -> None:
    tab.run("() => { location.href = '/next'; }")
    tab.page.wait_for_url("**/next")
    tab.page.wait_for_function("() => !!window.__cbRuntime && !!window.__cbRuntime.toProxy")
    assert tab.run("() => document.referrer") == PAGE_URL


@pytest.mark.parametrize(
    "script",
    [
        "location.assign('https://example.com/next')",
        "location.replace('https://example.com/next')",
        "location.href = 'https://example.com/next'",
        "__cbLocation.href = 'https://example.com/next'",
        "__cbLocation.assign('https://example.com/next')",
    ],
)
def test_navigation_to_a_real_absolute_url_lands_on_its_proxy_url(tab: Tab, script: str) -> None:
    tab.run(f"() => {{ {script}; }}")
    tab.page.wait_for_url(tab.harness.url("https://example.com/next"))
    assert "/next" in tab.harness.paths_for("https://example.com")
    tab.assert_stayed_in_proxy_space()


def test_navigation_to_another_real_origin_lands_on_that_origins_proxy_host(tab: Tab) -> None:
    tab.run("() => { location.href = 'https://other.example.net/other?x=1'; }")
    tab.page.wait_for_url(tab.harness.url("https://other.example.net/other?x=1"))
    tab.assert_stayed_in_proxy_space()


def test_relative_location_and_hash_changes_work(tab: Tab) -> None:
    tab.run("() => { location.hash = 'h1'; __cbLocation.hash = 'h2'; }")
    assert tab.run("() => [location.hash, __cbLocation.href]") == ["#h2", PAGE_URL + "#h2"]
    tab.run("() => { location.href = '/next?r=1'; }")
    tab.page.wait_for_url("**/next?r=1")
    assert "/next?r=1" in tab.harness.paths_for("https://example.com")


def test_link_clicked_before_any_hook_maps_it_is_caught_by_the_navigate_event(tab: Tab) -> None:
    # An ownerless Attr cannot know it carries a URL, and the click comes before the mutation net:
    # only the Navigation API fallback stands between this click and the real web.
    tab.run("""() => {
        const a = document.createElement('a');
        const attr = document.createAttribute('href');
        attr.value = 'https://example.com/other';  // an Attr with no owner element cannot know its kind
        a.setAttributeNode(attr);
        document.body.append(a);
        a.click();
    }""")
    tab.page.wait_for_url(tab.harness.url("https://example.com/other"))
    assert "/other" in tab.harness.paths_for("https://example.com")
    tab.assert_stayed_in_proxy_space()


def test_history_push_and_replace_state_accept_real_urls(tab: Tab) -> None:
    result = tab.run("""() => {
        history.pushState({}, '', 'https://example.com/pushed?a=1');
        const a = [document.URL, location.pathname];
        history.replaceState({}, '', '/replaced');
        return a.concat([document.URL, __cbLocation.href]);
    }""")
    assert result == [
        "https://example.com/pushed?a=1",
        "/pushed",
        "https://example.com/replaced",
        "https://example.com/replaced",
    ]


# -- forms ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["submit()", "requestSubmit()", "click"])
def test_form_with_real_action_posts_to_proxy_host(tab: Tab, how: str) -> None:
    # A path of its own per case: a request the previous case's page makes while its context
    # closes (seen under load) must not be counted against this one.
    real = "https://shop.example.com/buy-" + how.strip("()")
    tab.run(
        """([how, action]) => {
        const f = document.createElement('form');
        f.method = 'post';
        f.action = action;
        f.innerHTML = '<input name=q value=1><button id=go>go</button>';
        document.body.append(f);
        if (how === 'submit()') f.submit();
        else if (how === 'requestSubmit()') f.requestSubmit();
    }""",
        [how, real],
    )
    if how == "click":
        tab.page.click("#go")
    tab.page.wait_for_url(tab.harness.url(real))
    path = "/buy-" + how.strip("()")
    assert [h.method for h in tab.harness.hits_for("https://shop.example.com") if h.path == path] == ["POST"]
    assert tab.requested.count(tab.harness.url(real)) == 1  # this page asked once, and by POST
    tab.assert_stayed_in_proxy_space()


def test_submitter_formaction_to_real_url_is_mapped(tab: Tab) -> None:
    tab.run("""() => {
        document.body.insertAdjacentHTML('beforeend',
            '<form id=f action="/nowhere"><button id=b formaction="https://shop.example.com/alt">b</button></form>');
    }""")
    tab.page.click("#b")
    tab.page.wait_for_url(tab.harness.url("https://shop.example.com/alt") + "?")
    tab.assert_stayed_in_proxy_space()


# -- cookies --------------------------------------------------------------------------------


def test_document_cookie_writes_reach_the_jar_before_the_next_fetch(tab: Tab) -> None:
    result = tab.run("""async () => {
        document.cookie = 'a=1; path=/';
        const seen = document.cookie;
        await fetch('/after');
        document.cookie = 'b=2';
        return [seen, document.cookie];
    }""")
    assert result == ["a=1", "a=1; b=2"]
    assert tab.harness.cookies == {"a": "1", "b": "2"}
    paths = [h.path.split("?")[0] for h in tab.harness.hits]
    assert paths.index("/__cb/cookie") < paths.index("/after")


def test_document_cookie_read_refreshes_from_the_jar_after_a_fetch(tab: Tab) -> None:
    tab.harness.cookies["server"] = "set"
    result = tab.run("""async () => {
        const before = document.cookie;
        await fetch('/x');
        return [before, document.cookie];
    }""")
    assert result == ["", "server=set"]
