"""The streamed HTML rewrite gives the same bytes as the whole-body rewrite, for any chunking.

Chunk boundaries fall anywhere: inside tag names, attribute names and values, entities,
comments, ``<script>``/``<style>``/``<noscript>`` content and multi-byte UTF-8 characters; also
across the charset prescan (the first ``PRESCAN_BYTES``) and the runtime's placement window
(``html_inject.SCAN_LIMIT``). The bound on buffered state refuses a page only when one part of
it (a tag, a script) would be held past the bound, never for its size.
"""

from __future__ import annotations

import itertools
import re

import pytest
from fuzz import scaled
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rewriter.charset import PRESCAN_BYTES
from rewriter.html import BufferLimit, HtmlStream, PageContext, rewrite_html
from rewriter.html_inject import SCAN_LIMIT
from rewriter.html_regex import rewrite_html_regex
from rewriter.js import rewrite_js
from rewriter.space import ProxySpace

INJECT = '<script src="/__cobrowse/runtime.js"></script>'
PLAIN = PageContext("https://example.com/dir/page.html", ProxySpace("abcdefghij", "cobrowse.localhost", port=8080),
                    INJECT)
WITH_JS = PageContext(PLAIN.url, PLAIN.space, INJECT, js=lambda source, module: rewrite_js(source, module=module))

_PIECES = st.sampled_from([
    "<!doctype html>", "<html>", "<head>", "</head>", "<body>", "<p>", "</p>", "<", ">", "</", "=", '"', "'",
    '<a href="https://a.example.org/x?y=1&amp;z=2">', "<a href=//b.example.org/p>", "<img src='http://c.org/i.png'",
    ' srcset="http://d.org/1.png 1x, /2.png 2x">', '<link rel=stylesheet href="https://e.org/s.css">',
    '<div style="background:url(https://f.org/b.png)">', '<button onclick="location.href=\'/x\'">',
    "<!--", "-->", "<!-- <a href=http://g.org/> -->", "<![CDATA[x]]>", "<?xml x?>",
    "<script>", "</script>", "<script>location.assign('https://h.org/')</script>",
    '<script type="importmap">{"imports": {"a": "https://i.org/a.js"}}</script>',
    "<style>", "</style>", "<style>@import 'https://j.org/s.css'; a{b:url(//k.org/i.png)}</style>",
    "<noscript><img src=https://l.org/n.png></noscript>", "<textarea><a href=http://m.org/></textarea>",
    '<iframe srcdoc="<img src=&quot;https://n.org/s.png&quot;>"></iframe>', "<base href=https://o.org/d/>",
    '<meta http-equiv="content-security-policy" content="x">', '<meta charset="utf-8">',
    '<meta http-equiv=refresh content="0;url=https://p.org/">', "<svg><use xlink:href='https://q.org/s.svg#a'/></svg>",
    "caf\u00e9", "\u00e9\u00e8", "\u4e2d\u6587", "\U0001f600", "&amp;", "&#x1F600;", " ", "\n", "text",
])


@st.composite
def cuts(draw: st.DrawFn, body: bytes) -> list[bytes]:
    points = sorted(set(draw(st.lists(st.integers(0, len(body)), max_size=40))))
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


def streamed(chunks: list[bytes], ctx: PageContext, charset: str | None = None) -> bytes:
    stream = HtmlStream(ctx, charset)
    return b"".join(stream.feed(c) for c in chunks) + stream.close()


@settings(max_examples=scaled(300), deadline=None)
@given(st.lists(_PIECES, max_size=60), st.sampled_from([PLAIN, WITH_JS]), st.data())
@example(["<scr", "ipt>x</scr", "ipt>"], PLAIN, None)
def test_streamed_output_equals_the_whole_body_output_for_any_chunking(
        pieces: list[str], ctx: PageContext, data: st.DataObject | None) -> None:
    # A declared charset: the stream starts after 3 bytes, not after the <meta> prescan's 4096.
    body = "".join(pieces).encode("utf-8")
    whole = rewrite_html(body, ctx, "utf-8")
    chunks = [body[i:i + 1] for i in range(len(body))] if data is None else data.draw(cuts(body))
    assert streamed(chunks, ctx, "utf-8") == whole


@settings(max_examples=scaled(60), deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=30), st.sampled_from([None, "windows-1252", "utf-16le"]), st.data())
def test_chunks_across_the_charset_prescan_and_runtime_window_change_nothing(
        pieces: list[str], charset: str | None, data: st.DataObject) -> None:
    filler = data.draw(st.sampled_from([PRESCAN_BYTES - 7, SCAN_LIMIT - 5, SCAN_LIMIT + 3]))
    text = data.draw(st.sampled_from(["x", "<!--x-->", "<p>"])) * filler + "".join(pieces)
    body = text.encode(charset or "utf-8", "replace")
    whole = rewrite_html(body, PLAIN, charset)
    assert streamed(data.draw(cuts(body)), PLAIN, charset) == whole


def test_output_comes_out_before_the_end_of_a_large_page() -> None:
    stream = HtmlStream(PLAIN, max_buffered=64 * 1024)
    first = stream.feed(b"<!doctype html><html><head><title>t</title></head><body>" + b"<p>para</p>" * 1000)
    assert first.startswith(b"<!doctype html><html><head>" + INJECT.encode())
    for _ in range(200):  # 2 MB in all: 30 times the bound on what is held
        assert stream.feed(b'<p><a href="https://example.org/a">a</a></p>' * 250)
    assert stream.close().endswith(b"")


@pytest.mark.parametrize("held", [b'<a title="' + b"x" * 70_000, b"<style>" + b"a{b:c}" * 12_000])
def test_one_part_held_past_the_bound_is_refused(held: bytes) -> None:
    stream = HtmlStream(PLAIN, max_buffered=64 * 1024)
    stream.feed(b"<!doctype html><p>start</p>")
    with pytest.raises(BufferLimit):
        for i in range(0, len(held), 4096):
            stream.feed(held[i:i + 4096])


def test_the_compiled_and_the_regex_rewriter_put_urls_in_the_same_places() -> None:
    body = (
        b'<!doctype html><html><head><base href="https://o.org/d/"><link href="//e.org/s.css"></head>'
        b'<body><a href="x">r</a><img src="https://c.org/i.png" srcset="http://d.org/1.png 1x">'
        b"<style>a{b:url(https://k.org/i.png)}</style><div style='x:url(//f.org/b.png)'></div></body></html>"
    )
    proxied = re.compile(rb"http://[a-z0-9-]+--abcdefghij\.cobrowse\.localhost:8080/[^\"')\s]*")
    urls = proxied.findall(rewrite_html(body, PLAIN))
    assert len(urls) == 6 and urls == proxied.findall(rewrite_html_regex(body, PLAIN))
