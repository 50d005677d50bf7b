"""The HTML rewriter: golden input/output pairs, targeted properties, hostile input, Hypothesis.

Regenerate the golden outputs after a deliberate change with
``COBROWSE_REGEN_GOLDEN=1 pytest tests/test_html_rewriter.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fuzz import scaled
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriter.charset import decode_html, detect_charset
from rewriter.html import PageContext, rewrite_html
from rewriter.html_tables import GLOBAL_ATTRS, TAG_RULES, Kind
from rewriter.space import ProxySpace
from rewriter.srcset import rewrite_srcset

GOLDEN = Path(__file__).parent / "golden" / "html"
INJECT = '<script src="/__cobrowse/runtime.js"></script>'
DOMAIN = "cobrowse.localhost"
HEADER_CHARSETS = {"charset-header-latin1": "ISO-8859-1"}


def make_ctx(url: str = "https://example.com/dir/page.html") -> PageContext:
    return PageContext(url, ProxySpace("abcdefghij", DOMAIN, port=8080), INJECT)


def rewrite(text: str) -> str:
    return rewrite_html(text.encode("utf-8"), make_ctx()).decode("utf-8")


CASES = sorted(p.name.removesuffix(".in.html") for p in GOLDEN.glob("*.in.html"))


@pytest.mark.parametrize("case", CASES)
def test_golden_case_matches_expected_output(case: str) -> None:
    body = (GOLDEN / f"{case}.in.html").read_bytes()
    out = rewrite_html(body, make_ctx(), HEADER_CHARSETS.get(case))
    expected = GOLDEN / f"{case}.out.html"
    if os.environ.get("COBROWSE_REGEN_GOLDEN"):
        expected.write_bytes(out)
    assert out == expected.read_bytes()


def test_every_golden_input_has_an_expected_output() -> None:
    assert len(CASES) >= 25
    assert all((GOLDEN / f"{c}.out.html").exists() for c in CASES)


# -- targeted properties ---------------------------------------------------------------


def test_bytes_outside_rewritten_attributes_pass_through_unchanged() -> None:
    doc = (
        '<!DOCTYPE html>\n<html><head></head><body class="x"  data-a=\'1\'>\n'
        "<p  id=p>caf\u00e9 &amp; <br/></p></body></html>"
    )
    out = rewrite(doc)
    assert out == doc.replace("<head>", "<head>" + INJECT)


def test_runtime_is_injected_before_the_first_script_without_head() -> None:
    out = rewrite("<script>one()</script><p>x</p>")
    assert out.startswith(INJECT + "<script>one()")


def test_runtime_is_injected_right_after_head_open_tag() -> None:
    out = rewrite("<!doctype html><html><head><script>x()</script>")
    assert out == f"<!doctype html><html><head>{INJECT}<script>x()</script>"


def test_runtime_is_injected_once_in_an_empty_document() -> None:
    assert rewrite("") == INJECT


def test_protocol_relative_urls_take_the_base_element_scheme() -> None:
    out = rewrite('<base href="http://plain.example.org/"><img src="//img.example.org/a.png">')
    assert 'src="http://h-img-example-org--abcdefghij.cobrowse.localhost:8080/a.png"' in out


def test_entities_in_attribute_values_are_decoded_before_mapping() -> None:
    out = rewrite('<a href="https&#58;//example.org/?a=1&amp;b=2">x</a>')
    assert 'href="http://s-example-org--abcdefghij.cobrowse.localhost:8080/?a=1&amp;b=2"' in out


def test_csp_meta_tags_are_removed_entirely() -> None:
    out = rewrite('<meta http-equiv="content-security-policy" content="default-src none"><p>x</p>')
    assert "content-security-policy" not in out.lower() and "default-src" not in out


def test_integrity_and_nonce_attributes_are_removed() -> None:
    out = rewrite('<script src="/a.js" integrity="sha384-x" nonce="n"></script><style nonce=n></style>')
    assert "integrity" not in out and "nonce" not in out


def test_script_text_is_never_rewritten() -> None:
    script = '<script>x = "<img src=https://example.org/a.png>";</script>'
    assert script in rewrite(script)


def test_uppercase_end_tag_closes_raw_text() -> None:
    out = rewrite('<SCRIPT>var a;</SCRIPT ><img src="https://example.org/a.png">')
    assert "s-example-org--abcdefghij" in out


def test_srcset_urls_containing_commas_are_kept_whole() -> None:
    out = rewrite_srcset("a,b.png 1x, c.png 2x", lambda u: f"<{u}>")
    assert out == "<a,b.png> 1x, <c.png> 2x"


def test_srcset_descriptor_with_parentheses_does_not_split_candidates() -> None:
    out = rewrite_srcset("a.png (x, y) 1x, b.png", lambda u: f"<{u}>")
    assert out == "<a.png> (x, y) 1x, <b.png>"


def test_srcdoc_is_rewritten_recursively_with_injection() -> None:
    out = rewrite('<iframe srcdoc="<img src=&quot;https://example.org/a.png&quot;>"></iframe>')
    soup = BeautifulSoup(out, "html.parser")
    inner = soup.iframe["srcdoc"]
    assert inner.startswith(INJECT) and "s-example-org--abcdefghij" in inner


def test_deeply_nested_srcdoc_is_dropped_beyond_the_depth_cap() -> None:
    doc = "<p>x</p>"
    for _ in range(8):
        doc = '<iframe srcdoc="' + doc.replace("&", "&amp;").replace('"', "&quot;") + '"></iframe>'
    out = rewrite(doc)
    assert out.count("srcdoc") < 8


def test_output_declares_utf8_when_input_was_windows_1252() -> None:
    body = b'<meta charset="windows-1252"><p>caf\xe9</p>'
    out = rewrite_html(body, make_ctx())
    assert out == (INJECT + '<meta charset="utf-8"><p>caf\u00e9</p>').encode()


def test_charset_detection_order_is_bom_then_header_then_meta() -> None:
    meta = b'<meta charset="koi8-r">'
    assert detect_charset(b"\xef\xbb\xbf" + meta, "windows-1252") == "utf-8"
    assert detect_charset(meta, "windows-1252") == "cp1252"
    assert detect_charset(meta, None) == "koi8-r"
    assert detect_charset(b"<p>", None) == "utf-8"


def test_labels_browsers_do_not_know_are_ignored() -> None:
    assert detect_charset(b'<meta charset="utf-7">', "x-nonsense") == "utf-8"


def test_replacement_encodings_decode_to_a_single_replacement_character() -> None:
    assert decode_html(b"\x1b$)C<script>", detect_charset(b"", "iso-2022-kr")) == "\ufffd"


# -- hostile input: linear time, bounded output -------------------------------------


@pytest.mark.parametrize(
    "unit",
    ["<a href=", "<!--", "<a ", "<", '<a href="', "<script>", "<x y='", "<!", "=", "<a b=c ", "<img srcset=a,"],
)
def test_hostile_megabyte_input_is_rewritten_with_bounded_output(unit: str) -> None:
    body = (unit * (1_000_000 // len(unit))).encode()
    out = rewrite_html(body, make_ctx())
    assert len(out) < 2 * len(body) + 1000


def test_many_unique_absolute_urls_are_all_rewritten() -> None:
    doc = "".join(f'<a href="https://h{i}.example.org/p">x</a>' for i in range(2000))
    out = rewrite(doc)
    assert out.count("--abcdefghij.cobrowse.localhost") == 2000


# -- Hypothesis ---------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "<", ">", "<a href=", "<img src='", '"', "'", "=", "<!--", "-->", "<!", "<?", "</", "<script>",
        "</script>", "<style>", "</style>", "<iframe srcdoc=\"", "&amp;", "&#", "<meta charset=",
        "<base href=//x.org/>", "http://a.org/", "//b.org/x", " ", "\n", "<svg><use href=", "srcset=",
        "url(", ")", "\x00", "\ufeff", "\u00e9",
    ]
)


@settings(max_examples=scaled(300), deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_and_give_utf8(body: bytes) -> None:
    out = rewrite_html(body, make_ctx())
    out.decode("utf-8")


@settings(max_examples=scaled(300), deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=60), st.sampled_from([None, "latin1", "utf-16"]))
def test_tag_like_text_never_raises_and_output_parses(parts: list[str], charset: str | None) -> None:
    body = "".join(parts).encode("utf-8", "surrogatepass")
    out = rewrite_html(body, make_ctx(), charset).decode("utf-8")
    parser = HTMLParser()
    parser.feed(out)
    parser.close()


_HOSTS = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){1,2}", fullmatch=True)
_URLS = st.builds(
    lambda scheme, host, path: f"{scheme}{host}{path}",
    # "http:" alone names a host on this https page; "HTTP:\\\\" reads as "http://".
    st.sampled_from(["http://", "https://", "//", "HTTPS://", "http:", "HTTP:\\\\", "http:/\\", "\\\\"]),
    _HOSTS,
    st.from_regex(r"(/[a-z0-9,._~-]{0,6}){0,3}(\?[a-z0-9=&;]{0,8})?", fullmatch=True),
)
_URL_SLOTS = [
    ("a", "href"), ("img", "src"), ("img", "srcset"), ("link", "href"), ("link", "imagesrcset"),
    ("script", "src"), ("iframe", "src"), ("form", "action"), ("video", "poster"), ("source", "srcset"),
    ("object", "data"), ("embed", "src"), ("track", "src"), ("button", "formaction"), ("a", "ping"),
    ("use", "href"), ("td", "background"), ("q", "cite"),
]


@st.composite
def documents(draw: st.DrawFn) -> str:
    parts = ["<!doctype html><html><head>"]
    for _ in range(draw(st.integers(1, 12))):
        tag, attr = draw(st.sampled_from(_URL_SLOTS))
        url = draw(_URLS)
        if attr.endswith("srcset"):
            url = f"{url} 1x, {draw(_URLS)} 2x"
        quote = draw(st.sampled_from(['"', "'", ""]))
        if quote == "" and re.search(r"[\s\"'=<>`]", url):
            quote = '"'
        filler = draw(st.sampled_from(["", ' class="c"', " title='a>b'", " data-x=1"]))
        closing = "" if tag in ("img", "link", "source", "embed", "track", "use") else f"</{tag}>"
        parts.append(f"<{tag}{filler} {attr}={quote}{url}{quote}>{closing}")
    return "".join(parts)


@settings(max_examples=scaled(200), deadline=None)
@given(documents())
def test_every_absolute_url_in_url_attributes_lands_in_proxy_space(doc: str) -> None:
    out = rewrite(doc)
    soup = BeautifulSoup(out, "html.parser")
    for el in soup.find_all(True):
        rules = TAG_RULES.get(el.name, GLOBAL_ATTRS)
        for name, value in el.attrs.items():
            kind = rules.get(name)
            if kind not in (Kind.URL, Kind.URL_LIST, Kind.SRCSET):
                continue
            values = value if isinstance(value, list) else [value]
            urls = [v.split()[0] for v in ", ".join(values).split(", ") if v.strip()]
            for url in urls:
                if url.lower().startswith(("http:", "https:", "//", "\\")):
                    host = url.split("//", 1)[1].split("/")[0].split("?")[0].split(":")[0]
                    assert host.endswith("--abcdefghij." + DOMAIN), (url, out)


# -- slash-less URLs and meta refresh (issue 6, holes 2 and 12) --------------------------------
# The page is https://example.com/dir/page.html: "http:x" names host x, "https:x" is relative.

EVIL_HTTP = "http://h-evil-example--abcdefghij.cobrowse.localhost:8080"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<img src="http:evil.example/x.png">', f'<img src="{EVIL_HTTP}/x.png">'),
        ('<a href=" \thttp:\\\\evil.example\\a">', f'<a href="{EVIL_HTTP}/a">'),
        # A changed value is written in double quotes (the tag is written again: rewriter/html_lol.py).
        ("<a href='ht&#9;tp:evil.example'>", f'<a href="{EVIL_HTTP}">'),
        ('<img srcset="http:evil.example/1.png 1x, http:evil.example/2.png 2x">',
         f'<img srcset="{EVIL_HTTP}/1.png 1x, {EVIL_HTTP}/2.png 2x">'),
        ('<div style="background:url(http:evil.example/b.png)">', f'<div style="background:url({EVIL_HTTP}/b.png)">'),
        ("<style>@import 'http:evil.example/s.css';</style>", f"<style>@import '{EVIL_HTTP}/s.css';</style>"),
        ('<meta http-equiv=refresh content="0;url=http:evil.example/">',
         f'<meta http-equiv=refresh content="0;url={EVIL_HTTP}/">'),
        ('<form action="http:evil.example/post">', f'<form action="{EVIL_HTTP}/post">'),
        ('<a href="https:next.html">', '<a href="./next.html">'),
        ('<a href="https:/root?q">', '<a href="/root?q">'),
    ],
)
def test_slashless_cross_scheme_urls_in_html_are_mapped_into_proxy_space(html: str, expected: str) -> None:
    assert rewrite(html).endswith(expected)


def test_base_element_is_resolved_as_a_browser_does_so_later_slashless_urls_use_its_scheme() -> None:
    out = rewrite('<base href="http:evil.example/d/"><a href="https:evil.example/x"><a href="http:y">')
    assert f'<base href="{EVIL_HTTP}/d/">' in out
    assert '<a href="http://s-evil-example--abcdefghij.cobrowse.localhost:8080/x">' in out
    assert '<a href="./y">' in out  # http: is now the base's own scheme: relative


@pytest.mark.parametrize(
    "content",
    ["0;url=javascript:alert(1)", "0; URL='data:text/html,<script>alert(1)</script>'", "1, java\tscript:x",
     " 0 ; url = vbscript:x"],
)
def test_meta_refresh_to_a_non_http_url_is_made_inert_like_the_refresh_header(content: str) -> None:
    out = rewrite(f'<meta http-equiv="refresh" content="{content}"><p>x</p>')
    assert "content=" not in out and "script:" not in out.lower().replace(INJECT.lower(), "")
