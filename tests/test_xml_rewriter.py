"""The XML rewriter and the body table: golden files, real generators, encodings, hostile XML,
sniffing of type-less bodies, and Hypothesis "never raises"."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.utils import feedgenerator
from fuzz import scaled
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from rewriter.body import BY_MIME, rewriter_for, sniff
from rewriter.html import PageContext
from rewriter.space import ProxySpace
from rewriter.xml import rewrite_xml

GOLDEN = Path(__file__).parent / "golden" / "xml"
SPACE = ProxySpace("abcdefghij", "cobrowse.localhost", "http", 8080)
INJECT = '<script src="/__cb/runtime.js" data-cb="{}"></script>'
CTX = PageContext(url="https://www.example.com/feed.xml", space=SPACE, inject=INJECT)
PROXY_SUFFIX = "--abcdefghij.cobrowse.localhost:8080"
ABSOLUTE = re.compile(r"\bhttps?://[^\s\"'<>)]+")


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.glob("*.in.*"))


def absolute_urls(text: str) -> list[str]:
    return ABSOLUTE.findall(text)


# -- golden files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", golden_cases())
def test_golden_xml_rewrites_to_expected_output(name: str) -> None:
    source = (GOLDEN / name).read_bytes()
    expected = (GOLDEN / name.replace(".in.", ".out.")).read_bytes()
    assert rewrite_xml(source, CTX) == expected


def test_golden_set_covers_every_kind_in_the_brief() -> None:
    stems = {name.split(".in.")[0] for name in golden_cases()}
    assert {"sitemap", "sitemap-index", "rss", "atom", "svg", "xhtml", "entities", "latin1",
            "malformed-svg", "malformed-feed"} <= stems


@pytest.mark.parametrize("name", [n for n in golden_cases() if not n.startswith("malformed")])
def test_golden_outputs_are_well_formed_utf8_with_a_declaration_saying_so(name: str) -> None:
    out = (GOLDEN / name.replace(".in.", ".out.")).read_bytes()
    assert out.startswith(b"<?xml version='1.0' encoding='UTF-8'")
    etree.fromstring(out, etree.XMLParser(resolve_entities=False, no_network=True))
    out.decode("utf-8")


# -- what is and is not rewritten ------------------------------------------------------


def test_identifiers_and_escaped_html_in_feeds_are_left_alone() -> None:
    out = (GOLDEN / "rss.out.xml").read_text("utf-8")
    assert '<guid isPermaLink="true">https://www.example.com/posts/1</guid>' in out
    assert '<a href="https://www.example.com/x">' in out  # escaped HTML inside CDATA: text to XML
    atom = (GOLDEN / "atom.out.xml").read_text("utf-8")
    assert "<id>https://blog.example.com/</id>" in atom


def test_every_other_absolute_url_in_the_golden_outputs_is_in_the_proxy_space() -> None:
    left = {"https://www.example.com/posts/1", "https://www.example.com/x", "https://blog.example.com/",
            "https://untouched.example.com/", "https://www.example.com/",  # sitemap title text
            }
    for name in golden_cases():
        if name.startswith("malformed-feed"):
            continue
        out = (GOLDEN / name.replace(".in.", ".out.")).read_text("utf-8")
        for url in absolute_urls(out):
            if url.startswith("http://www.w3.org/") or url.startswith(("http://www.sitemaps.org/",
                                                                       "http://www.google.com/schemas/",
                                                                       "http://search.yahoo.com/mrss/",
                                                                       "http://www.itunes.com/dtds/",
                                                                       "http://purl.org/rss/")):
                continue  # namespace names
            assert PROXY_SUFFIX in url or url in left, f"{name}: {url}"


def test_xml_base_rebases_relative_urls_and_is_itself_mapped() -> None:
    out = (GOLDEN / "atom.out.xml").read_text("utf-8")
    assert f'<entry xml:base="http://s-static-example-com{PROXY_SUFFIX}/posts/">' in out
    assert '<link href="one.html"/>' in out  # relative: resolves against the mapped base


def test_http_colon_relative_url_is_read_against_the_xml_base_in_scope() -> None:
    # The document is https: there "http:y" names host y; under an http xml:base it is relative.
    doc = (b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://a.example.com/x/">'
           b'<link href="http:y"/></feed><!-- -->')
    out = rewrite_xml(doc, CTX).decode()
    assert '<link href="./y"/>' in out
    outside = rewrite_xml(b'<feed xmlns="http://www.w3.org/2005/Atom"><link href="http:y"/></feed>', CTX)
    assert f'<link href="http://h-y{PROXY_SUFFIX}"/>'.encode() in outside


def test_xhtml_gets_the_runtime_first_in_head_and_svg_gets_none() -> None:
    xhtml = (GOLDEN / "xhtml.out.xhtml").read_text("utf-8")
    head = xhtml.split("<head>", 1)[1]
    assert head.lstrip().startswith(INJECT)
    assert "Content-Security-Policy" not in xhtml and "integrity=" not in xhtml and "nonce=" not in xhtml
    assert "/__cb/runtime.js" not in (GOLDEN / "svg.out.svg").read_text("utf-8")


def test_header_charset_wins_over_the_xml_declaration() -> None:
    body = '<?xml version="1.0" encoding="UTF-8"?><rss><channel><title>Café</title></channel></rss>'
    out = rewrite_xml(body.encode("windows-1252"), CTX, "iso-8859-1")
    assert "<title>Café</title>" in out.decode("utf-8")
    assert out.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_utf16_body_comes_out_utf8_with_its_urls_mapped() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' \
           '<url><loc>https://www.example.com/ü</loc></url></urlset>'
    out = rewrite_xml(body.encode("utf-16"), CTX).decode("utf-8")
    assert f"<loc>http://s-www-example-com{PROXY_SUFFIX}/ü</loc>" in out


def test_standalone_yes_is_kept() -> None:
    out = rewrite_xml(b'<?xml version="1.0" standalone="yes"?><svg xmlns="http://www.w3.org/2000/svg"/>', CTX)
    assert out.startswith(b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>")


# -- real generators -------------------------------------------------------------------


def _django_feed(kind: type[feedgenerator.SyndicationFeed]) -> bytes:
    feed = kind(title="Real feed", link="https://news.example.com/", description="made by Django",
                feed_url="https://news.example.com/feed/", feed_guid="https://news.example.com/feed/")
    for n in range(3):
        feed.add_item(title=f"Story {n}", link=f"https://news.example.com/story/{n}", description="<p>x</p>",
                      unique_id=f"https://news.example.com/story/{n}",
                      pubdate=datetime.datetime(2024, 1, n + 1, tzinfo=datetime.UTC),
                      enclosures=[feedgenerator.Enclosure(f"https://media.example.com/{n}.mp3", "10", "audio/mpeg")])
    return feed.writeString("utf-8").encode("utf-8")


@pytest.mark.parametrize("kind", [feedgenerator.Rss201rev2Feed, feedgenerator.Atom1Feed])
def test_feeds_made_by_djangos_feed_generator_have_every_link_in_the_proxy_space(
        kind: type[feedgenerator.SyndicationFeed]) -> None:
    source = _django_feed(kind)
    out = rewrite_xml(source, CTX)
    root = etree.fromstring(out)
    atom_links = list(root.iter("{http://www.w3.org/2005/Atom}link"))
    links = [el.text.strip() for el in root.iter("link") if el.text] + [el.get("href") for el in atom_links]
    enclosures = [el.get("url") for el in root.iter("enclosure")] + \
                 [el.get("href") for el in atom_links if el.get("rel") == "enclosure"]
    assert len(links) >= 4 and len(enclosures) == 3
    assert all(PROXY_SUFFIX in url for url in links + enclosures), links + enclosures
    # Identifiers stay what the generator wrote.
    ids = [el.text for el in root.iter("guid", "{http://www.w3.org/2005/Atom}id")]
    assert "https://news.example.com/story/0" in ids


# -- hostile XML -----------------------------------------------------------------------

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz><link>https://www.example.com/</link>&lol9;</lolz>"""


def test_billion_laughs_is_refused_by_the_parser_and_served_as_it_came() -> None:
    """libxml2 refuses the amplification even unexpanded; Chromium's parser refuses it too, so
    the unchanged body renders nothing and its URL is never followed."""
    assert rewrite_xml(LAUGHS, CTX) == LAUGHS


def test_entities_within_limits_stay_references_and_urls_are_mapped() -> None:
    out = (GOLDEN / "entities.out.xml").read_bytes()
    assert b"<title>&b;</title>" in out and b"aaaaaaaaaa" * 2 not in out
    assert f"http://s-www-example-com{PROXY_SUFFIX}/feed".encode() in out


def test_an_external_entity_naming_a_local_file_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    doc = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY s SYSTEM "file://{secret}">]>'
           f'<r><link>https://www.example.com/</link>&s;</r>').encode()
    out = rewrite_xml(doc, CTX)
    assert b"TOP-SECRET-42" not in out and b"&s;" in out
    assert PROXY_SUFFIX.encode() in out


def test_deep_nesting_past_the_parser_limit_is_served_unchanged_without_error() -> None:
    doc = b"<rss>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</rss>"
    assert rewrite_xml(doc, CTX) == doc


# -- the body table: which bodies go to which rewriter ----------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "text/json",
                                          "application/ld+json", "application/manifest+json",
                                          "application/vnd.api+json"])
def test_json_is_never_rewritten(content_type: str) -> None:
    assert rewriter_for(content_type) is None
    assert rewriter_for(content_type, document=False) is None


@pytest.mark.parametrize("mime", ["application/rss+xml", "application/atom+xml", "image/svg+xml",
                                  "application/xhtml+xml", "application/xml", "text/xml"])
def test_xml_types_are_rewritten_only_when_loaded_as_documents(mime: str) -> None:
    found = rewriter_for(f"{mime}; charset=iso-8859-1")
    assert found is not None and found.content_type == f"{mime}; charset=utf-8"
    assert rewriter_for(mime, document=False) is None


def test_html_and_css_are_rewritten_whoever_asks() -> None:
    for mime in ("text/html", "text/css"):
        assert rewriter_for(mime, document=False) is BY_MIME[mime]


@pytest.mark.parametrize(("head", "expected"), [
    (b"<!DOCTYPE html><html>", "text/html"),
    (b"\n\t <html lang=en>", "text/html"),
    (b"<HEAD>", "text/html"),
    (b"<p id=x>", "text/html"),
    (b"<p>", "text/html"),
    (b"<!-- hi -->", "text/html"),
    (b"\xef\xbb\xbf<html>", "text/html"),
    (b"<?xml version='1.0'?><rss/>", "text/xml"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),  # Chromium shows it as text: checked
    (b"<pre>x</pre>", None),  # not an HTML signature
    (b"<bx>", None),  # "<b" must be followed by space or ">"
    (b"hello <html>", None),
    (b"{\"a\": \"<html>\"}", None),
    (b"", None),
    (b"\x89PNG\r\n", None),
])
def test_sniff_follows_the_mime_sniffing_signatures_for_html_and_xml(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


# -- properties ------------------------------------------------------------------------

_names = st.sampled_from(["rss", "channel", "link", "loc", "svg:svg", "svg:use", "a", "x:link", "style",
                          "h:img", "h:meta", "url", "enclosure"])
_attrs = st.sampled_from(["href", "xlink:href", "src", "url", "style", "xml:base", "srcset", "fill", "nonce",
                          "http-equiv", "content"])
_values = st.sampled_from(["https://a.example/", "//b.example/x", "http:rel", "url(https://c.example/)",
                           "a.png 1x, https://d.example/b.png 2x", "javascript:x", "https://[::1]/", "http://a b/",
                           "refresh", "0;url=https://e.example/", "&amp;", "", "ü"])


@st.composite
def xml_documents(draw: st.DrawFn) -> bytes:
    def element(depth: int) -> str:
        name = draw(_names)
        attrs = draw(st.dictionaries(_attrs, _values, max_size=3))
        rendered = "".join(f' {k}="{v.replace(chr(34), "&quot;")}"' for k, v in attrs.items())
        children = "" if depth > 3 else "".join(element(depth + 1) for _ in range(draw(st.integers(0, 3))))
        text = draw(_values)
        return f"<{name}{rendered}>{text}{children}</{name}>"

    ns = ('xmlns:svg="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
          'xmlns:h="http://www.w3.org/1999/xhtml" xmlns:x="http://www.w3.org/2005/Atom"')
    root = draw(st.sampled_from(["rss", "svg", "html", "feed"]))
    default = {"svg": "http://www.w3.org/2000/svg", "html": "http://www.w3.org/1999/xhtml",
               "feed": "http://www.w3.org/2005/Atom"}.get(root)
    xmlns = f' xmlns="{default}"' if default else ""
    return f'<?xml version="1.0"?><{root}{xmlns} {ns}>{element(0)}</{root}>'.encode()


@settings(max_examples=scaled(100))
@given(st.binary(max_size=2000))
def test_sniff_never_raises_and_reads_only_the_first_1445_bytes(body: bytes) -> None:
    assert sniff(body) in (None, "text/html", "text/xml")
    assert sniff(body) == sniff(body[:1445])


@settings(max_examples=scaled(100))
@given(st.binary(max_size=400))
def test_rewrite_xml_never_raises_on_any_bytes(body: bytes) -> None:
    assert isinstance(rewrite_xml(body, CTX, None), bytes)


@settings(max_examples=scaled(100))
@given(xml_documents(), st.sampled_from([None, "utf-8", "iso-8859-1", "bogus"]))
def test_rewrite_xml_never_raises_and_output_parses_when_input_parses(doc: bytes, charset: str | None) -> None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        etree.fromstring(doc, parser)
        parses = True
    except etree.XMLSyntaxError:
        parses = False
    out = rewrite_xml(doc, CTX, charset)
    if parses:
        etree.fromstring(out, parser)
