"""The CSS rewriter: golden files, byte decoding, hostile input, properties, and Chromium as
the oracle for what a stylesheet's URLs really are."""

from __future__ import annotations

import codecs
import random
import re
from functools import partial
from pathlib import Path

import pytest
from fuzz import scaled
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playwright.async_api import Browser, Route

from rewriter.css import decode_css, rewrite_css, rewrite_css_bytes
from rewriter.space import ProxySpace

GOLDEN = Path(__file__).parent / "golden" / "css"
BASE = "https://example.com/"
SPACE = ProxySpace("abcdefghij", "cobrowse.localhost", "http", 8080)
TO_PROXY = partial(SPACE.to_proxy, base=BASE)
PROXY_SUFFIX = "--abcdefghij.cobrowse.localhost:8080"


def identity(url: str) -> str:
    return url


def golden_cases() -> list[str]:
    return sorted(p.name.removesuffix(".in.css") for p in GOLDEN.glob("*.in.css"))


# -- golden files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", golden_cases())
def test_golden_css_rewrites_to_expected_output(name: str) -> None:
    source = (GOLDEN / f"{name}.in.css").read_bytes().decode("utf-8")
    expected = (GOLDEN / f"{name}.out.css").read_bytes().decode("utf-8")
    assert rewrite_css(source, TO_PROXY) == expected


def test_golden_set_covers_every_form_in_the_brief() -> None:
    assert {
        "url_unquoted",
        "url_quoted",
        "url_escapes",
        "url_case_and_comments",
        "import",
        "image_set",
        "font_face",
        "namespace",
        "source_map",
        "relative",
    } <= set(golden_cases())


@pytest.mark.parametrize("name", golden_cases())
def test_golden_inputs_come_back_unchanged_under_identity_except_source_maps(name: str) -> None:
    source = (GOLDEN / f"{name}.in.css").read_bytes().decode("utf-8")
    expected = re.sub(r"/\*[#@] sourceMappingURL=[^*]*\*/", "/**/", source)
    assert rewrite_css(source, identity) == expected


# -- individual behaviours -------------------------------------------------------------


def test_text_without_urls_is_returned_as_the_same_object() -> None:
    text = "a { color: red } /* plain */ b::after { content: 'x' }"
    assert rewrite_css(text, TO_PROXY) is text


def test_rewritten_url_with_characters_unsafe_unquoted_is_emitted_quoted() -> None:
    def odd(url: str) -> str:
        return "http://p.test/a b(c)" if url.startswith("http") else url

    assert rewrite_css("a{b:url(http://x.test/)}", odd) == 'a{b:url("http://p.test/a b(c)")}'


def test_quoted_output_escapes_quotes_backslashes_and_newlines() -> None:
    def odd(url: str) -> str:
        return 'http://p.test/"\\\n' if url.startswith("http") else url

    assert rewrite_css("a{b:url(http\\://x.test/)}", odd) == 'a{b:url("http://p.test/\\"\\\\\\a ")}'


def test_url_token_is_found_after_every_kind_of_whitespace() -> None:
    out = rewrite_css("a{b:url(\t\n\f\r http://x.test/a \t)}", TO_PROXY)
    assert out == f"a{{b:url(\t\n\f\r http://h-x-test{PROXY_SUFFIX}/a \t)}}"


def test_strings_nested_deeper_inside_image_set_are_not_urls() -> None:
    css = 'a{b:image-set("http://x.test/a" type("http://keep.test/t") 1x)}'
    assert rewrite_css(css, TO_PROXY) == (
        f'a{{b:image-set("http://h-x-test{PROXY_SUFFIX}/a" type("http://keep.test/t") 1x)}}'
    )


def test_strings_after_image_set_closes_are_not_urls() -> None:
    css = 'a{b:image-set("http://x.test/a" 1x);content:"http://keep.test/"}'
    assert "http://keep.test/" in rewrite_css(css, TO_PROXY)


# -- bytes -----------------------------------------------------------------------------


def test_bytes_utf8_bom_is_dropped_and_output_is_utf8() -> None:
    body = codecs.BOM_UTF8 + "a{content:'é'}".encode()
    assert rewrite_css_bytes(body, TO_PROXY) == "a{content:'é'}".encode()


def test_bytes_utf16_bom_decodes_and_output_is_utf8() -> None:
    body = codecs.BOM_UTF16_LE + "a{b:url(http://x.test/é)}".encode("utf-16-le")
    assert rewrite_css_bytes(body, TO_PROXY).decode("utf-8") == f"a{{b:url(http://h-x-test{PROXY_SUFFIX}/é)}}"


def test_bytes_charset_rule_is_honoured_and_replaced_by_utf8() -> None:
    body = '@charset "iso-8859-1";a{content:"\xe9"}'.encode("latin-1")
    assert rewrite_css_bytes(body, TO_PROXY) == '@charset "utf-8";a{content:"é"}'.encode()


def test_bytes_header_charset_wins_over_charset_rule_as_in_browsers() -> None:
    body = '@charset "utf-8";a{content:"\xe9"}'.encode("latin-1")
    assert decode_css(body, "windows-1252") == '@charset "utf-8";a{content:"é"}'


def test_bytes_latin1_label_decodes_as_windows_1252_as_in_browsers() -> None:
    assert decode_css(b"\x80", "iso-8859-1") == "€"


def test_bytes_unknown_charset_falls_back_to_utf8_with_replacement() -> None:
    assert decode_css(b"a\xffb", "no-such-charset") == "a\ufffdb"


def test_bytes_declared_utf16_without_bom_is_read_as_utf8() -> None:
    assert decode_css(b'@charset "utf-16";a{}') == '@charset "utf-16";a{}'


# -- hostile input: each finishes (linear scan) and leaves inert text alone ------------------

HOSTILE = {
    "url-without-end": "url(" * 250_000,
    "comment-openers": "/*" * 500_000,
    "alternating-quotes": "\"'" * 500_000,
    "backslashes": "\\" * 1_000_000,
    "backslash-newlines": "\\\n" * 500_000,
    "escapes-in-url": "url(" + "\\61" * 100_000 + ")",
    "escapes-in-string": '"' + "\\\\" * 100_000,
    "long-identifier-then-escape": "a" * 1_000_000 + "\\61(",
    "open-parens-in-image-set": "image-set(" + "(" * 200_000,
    "at-imports": "@import " * 100_000,
    "ws-and-comments-after-import": "@import " + "/**/ " * 200_000,
    "spaces-after-url": "url(" + " " * 1_000_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_processed_in_one_linear_pass(name: str) -> None:
    text = HOSTILE[name]
    # Nothing in these is an absolute URL, so the output is the input.
    assert rewrite_css(text, TO_PROXY) == text


# -- properties --------------------------------------------------------------------------

FRAGMENTS = [
    "url(",
    "URL(",
    ")",
    "(",
    '"',
    "'",
    "\\",
    "\\61 ",
    "\\\n",
    "/*",
    "*/",
    "/*# sourceMappingURL=x */",
    "@import ",
    "@namespace ",
    "image-set(",
    "-webkit-image-set(",
    "type(",
    " ",
    "\n",
    ";",
    "{",
    "}",
    "a",
    "x",
    "1x",
    "#",
    "@",
    "http://h.test/p",
    "//h.test/q",
    "ht\\74p://h.test/r",
    "rel.png",
    "é",
    "\x00",
]
css_soup = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)


@given(st.text())
def test_never_raises_on_arbitrary_text(text: str) -> None:
    assert isinstance(rewrite_css(text, TO_PROXY), str)


@given(css_soup)
@settings(max_examples=scaled(400))
def test_never_raises_on_css_like_soup(text: str) -> None:
    assert isinstance(rewrite_css(text, TO_PROXY), str)


# Python-only codecs (hex, rot13, base64, zlib, utf-7) are not encodings a browser knows.
_CHARSET_LABELS = [None, "utf-8", "latin1", "shift_jis", "utf-16", "bogus", "hex", "rot13", "base64", "zlib", "utf-7",
                   "iso-2022-kr", "x-user-defined", "\u00e9", ""]
_CHARSET_RULE_BODIES = st.builds(
    lambda label, rest: b'@charset "' + label.encode("utf-8", "replace")[:64] + b'";' + rest,
    st.one_of(st.sampled_from([c or "" for c in _CHARSET_LABELS]), st.text(max_size=10)),
    st.binary(max_size=40),
)


@given(st.one_of(st.binary(), _CHARSET_RULE_BODIES), st.sampled_from(_CHARSET_LABELS))
@example(b'@charset "hex";a{}', None)
@example(b"a{}", "rot13")
def test_bytes_never_raise_and_output_is_valid_utf8(body: bytes, charset: str | None) -> None:
    rewrite_css_bytes(body, TO_PROXY, charset).decode("utf-8")


@pytest.mark.parametrize(("body", "charset"), [(b'@charset "hex";a{background:url(http:evil.example/x)}', None),
                                               (b"a{background:url(http:evil.example/x)}", "rot13"),
                                               (b'@charset "base64";a{background:url(http:evil.example/x)}', "zlib")])
def test_python_only_codec_labels_are_ignored_as_browsers_ignore_them(body: bytes, charset: str | None) -> None:
    """Issue 6, hole 12: these raised LookupError (a 500 for every participant)."""
    out = rewrite_css_bytes(body, TO_PROXY, charset).decode("utf-8")
    assert f"url(http://h-evil-example{PROXY_SUFFIX}/x)" in out


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ("a{background:url(http:evil.example/x.png)}", "a{background:url(http://h-evil-example{}/x.png)}"),
        ("a{background:url( ' http:\\\\evil.example/x' )}", "a{background:url( \"http://h-evil-example{}/x\" )}"),
        ("@import 'http:evil.example/s.css';", "@import 'http://h-evil-example{}/s.css';"),
        ('@import url("http:///evil.example/s.css");', '@import url("http://h-evil-example{}/s.css");'),
        ('a{b:image-set("http:evil.example/1x.png" 1x)}', 'a{b:image-set("http://h-evil-example{}/1x.png" 1x)}'),
        ("a{background:url(https:rel.png)}", "a{background:url(./rel.png)}"),
    ],
)
def test_slashless_cross_scheme_urls_in_css_are_mapped_into_proxy_space(css: str, expected: str) -> None:
    """Issue 6, hole 2: "http:host" on an https stylesheet names host; "https:x" is relative."""
    assert rewrite_css(css, TO_PROXY) == expected.replace("{}", PROXY_SUFFIX)


@given(css_soup.filter(lambda t: "sourceMappingURL" not in t))
@settings(max_examples=scaled(400))
def test_identity_to_proxy_leaves_text_unchanged(text: str) -> None:
    assert rewrite_css(text, identity) == text


@given(css_soup)
@settings(max_examples=scaled(400))
def test_rewriting_is_idempotent(text: str) -> None:
    once = rewrite_css(text, TO_PROXY)
    assert rewrite_css(once, TO_PROXY) == once


# Generated stylesheets: every absolute URL sits in a fetching construct, spelled one of many
# ways; decoys hold absolute URLs that are not fetches and must survive untouched.
hosts = st.integers(0, 10_000).map(lambda i: f"h{i}.test")
paths = st.text(alphabet="abcxyz019-._~/", max_size=12)


@st.composite
def fetch_site(draw: st.DrawFn) -> tuple[str, str]:
    """(css text, real URL it fetches)."""
    scheme = draw(st.sampled_from(["http:", "https:", ""]))
    url = f"{scheme}//{draw(hosts)}/{draw(paths)}"
    spelled = draw(
        st.sampled_from(
            [
                url,
                url.replace("h", "\\68 ", 1),
                url.replace("/", "\\/"),
                url.replace("t", "\\74 ", 1),
            ]
        )
    )
    form = draw(
        st.sampled_from(
            [
                "a{background:url(%s)}",
                "a{background:URL(  %s  )}",
                'a{background:url("%s")}',
                "a{background:url( '%s' )}",
                '@import "%s" screen;',
                "@import '%s';",
                "@import url(%s);",
                'a{b:image-set("%s" 1x)}',
                "a{b:-webkit-image-set(url(%s) 1x)}",
                '@font-face{src:url(%s) format("woff2")}',
                "a{b:/**/url(%s)/**/}",
            ]
        )
    )
    real = ("https:" + url) if url.startswith("//") else url
    return form % spelled, real


decoys = st.sampled_from(
    [
        "/* url(http://keep.test/c) */",
        'a{content:"url(http://keep.test/s)"}',
        "@namespace k url(http://keep.test/ns);",
        "a{b:xurl(http://keep.test/x)}",
        "a{color:red}",
        "\n",
    ]
)


@given(st.lists(st.one_of(fetch_site(), decoys), max_size=12))
@settings(max_examples=scaled(300), suppress_health_check=[HealthCheck.too_slow])
def test_every_absolute_url_in_generated_css_comes_out_mapped(parts: list[tuple[str, str] | str]) -> None:
    css = "".join(p if isinstance(p, str) else p[0] for p in parts)
    out = rewrite_css(css, TO_PROXY)
    for part in parts:
        if isinstance(part, tuple):
            real = part[1]
            assert SPACE.to_proxy(real) in out
    real_hosts = {p[1].split("/")[2] for p in parts if isinstance(p, tuple)}
    for host in real_hosts:
        assert f"//{host}" not in out
    assert out.count("keep.test") == css.count("keep.test")


# -- Chromium as the oracle --------------------------------------------------------------

_COLLECT_URLS = """css => {
    const style = document.createElement('style');
    style.textContent = css;
    document.head.append(style);
    const urls = [];
    const fromText = text => {
        for (const m of text.matchAll(/url\\("((?:[^"\\\\]|\\\\.)*)"\\)/g)) {
            urls.push(m[1].replace(/\\\\(.)/g, '$1'));
        }
    };
    const walk = rules => {
        for (const rule of rules) {
            if (rule instanceof CSSImportRule) urls.push(rule.href);
            else if (rule instanceof CSSNamespaceRule) urls.push('ns:' + rule.namespaceURI);
            if (rule.style) for (const prop of rule.style) fromText(rule.style.getPropertyValue(prop));
            if (rule.cssRules) walk(rule.cssRules);
        }
    };
    walk(style.sheet.cssRules);
    style.remove();
    return urls;
}"""


async def test_chromium_reads_the_same_urls_from_rewritten_golden_css(browser: Browser) -> None:
    """For every golden input, the URLs Chromium's own CSS parser finds in the rewritten sheet
    are exactly the proxy forms of those it finds in the original: same count, same order,
    nothing left pointing outside the proxy space."""
    page = await browser.new_page()

    async def refuse(route: Route) -> None:
        await route.abort()

    await page.route("**/*", refuse)
    await page.set_content("<!doctype html><head></head><body></body>")
    checked = 0
    for name in golden_cases():
        source = (GOLDEN / f"{name}.in.css").read_text("utf-8")
        original: list[str] = await page.evaluate(_COLLECT_URLS, source)
        rewritten: list[str] = await page.evaluate(_COLLECT_URLS, rewrite_css(source, TO_PROXY))
        expected = [u if u.startswith("ns:") else SPACE.to_proxy(u, BASE) for u in original]
        assert rewritten == expected, name
        leaks = [u for u in rewritten if u.startswith(("http:", "https:")) and PROXY_SUFFIX not in u]
        assert leaks == [], name
        checked += len(original)
    assert checked > 40
    await page.close()


def _spell_escaped(rnd: random.Random, url: str, quote: str) -> str:
    """``url`` spelled with random CSS escapes (hex with each kind of trailing whitespace,
    escaped characters, line continuations inside strings)."""
    out = []
    for c in url:
        roll = rnd.random()
        if roll < 0.1:
            out.append(
                f"\\{ord(c):x}" + rnd.choice(["", " ", "\t", "\r\n", "\n"])
                if c not in "0123456789abcdefABCDEF"
                else f"\\{ord(c):06x}"
            )
        elif roll < 0.15 and c not in "0123456789abcdefABCDEF\n":
            out.append("\\" + c)
        elif quote and roll < 0.18:
            out.append("\\\n" + c)
        elif c in (quote or "\"'() \t\n\\"):
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


def _random_value(rnd: random.Random) -> str:
    host = rnd.choice(["h.test", "a.b.test", "x-y.test:8443", "EXAMPLE.test"])
    path = "".join(rnd.choice("abc/._-~%?=&#()\"' é") for _ in range(rnd.randint(0, 8)))
    url = rnd.choice(["http://", "https://", "//", "HTTP://", "", "/"]) + host + "/" + path
    quote = rnd.choice(["", '"', "'"])
    name = rnd.choice(["url", "URL", "uRl", "u\\72l", "\\75 rl", "u\\rl"])
    ws = ["", " ", "\t", "\n", "\r\n", "\f"]
    item = f"{name}({rnd.choice(ws)}{quote}{_spell_escaped(rnd, url, quote)}{quote}{rnd.choice(ws)})"
    roll = rnd.random()
    if roll < 0.2:
        q = quote or '"'
        item = f"image-set({item} 1x, {q}{_spell_escaped(rnd, url, q)}{q} 2x)"
    elif roll < 0.3:
        item = f"-webkit-image-set({item} 1x)"
    return item + rnd.choice(["", "/**/", " /* x */ "])


async def test_chromium_reads_the_same_urls_from_rewritten_generated_css(browser: Browser) -> None:
    """Seeded differential check against Chromium's CSS parser on escape-heavy generated
    stylesheets: every URL Chromium sees in the rewritten sheet is the proxy form of the one it
    sees in the original (found two tokenizer bugs while being written)."""
    page = await browser.new_page()

    async def refuse(route: Route) -> None:
        await route.abort()

    await page.route("**/*", refuse)
    await page.set_content("<!doctype html><head></head><body></body>")
    rnd = random.Random(20240501)
    seen = 0
    for _ in range(200):
        css = "a{background-image:" + ", ".join(_random_value(rnd) for _ in range(rnd.randint(1, 4))) + "}"
        if rnd.random() < 0.3:
            quote = rnd.choice("\"'")
            css = f"@import {quote}{_spell_escaped(rnd, 'http://h.test/i.css', quote)}{quote};{css}"
        original: list[str] = await page.evaluate(_COLLECT_URLS, css)
        rewritten: list[str] = await page.evaluate(_COLLECT_URLS, rewrite_css(css, TO_PROXY))
        assert rewritten == [SPACE.to_proxy(u, BASE) for u in original], css
        seen += len(original)
    assert seen > 300
    await page.close()
