"""Origin <-> host label codec and the proxy URL space: round trips and validity (Hypothesis)."""

from __future__ import annotations

import contextlib
import ipaddress
import re

import pytest
from fuzz import scaled
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriter.origins import MAX_ORIGIN_LABEL, Origin, alias_label, decode_label, encode_label, normalise_host
from rewriter.space import ProxySpace, parse_proxy_host

LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
SID = "abcdefghij"
VIEW = "k2x4"

dns_label = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?\Z")
# A host whose last label is a number is read as IPv4 by the WHATWG host parser (Chromium
# refuses "a.0", reads "0" as 0.0.0.0): not a DNS name.
ENDS_IN_NUMBER = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)\Z")
dns_host = st.lists(dns_label, min_size=1, max_size=5).map(".".join).filter(
    lambda h: not ENDS_IN_NUMBER.match(h.rsplit(".", 1)[-1])
)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: ipaddress.IPv6Address(a).compressed)
hosts = st.one_of(dns_host, ipv4, ipv6)
origins = st.builds(Origin, st.sampled_from(["http", "https"]), hosts, st.integers(1, 65535))


def full_label(origin: Origin) -> str:
    return encode_label(origin) or alias_label(origin)


@given(origins)
def test_decode_inverts_encode_for_every_encodable_origin(origin: Origin) -> None:
    label = encode_label(origin)
    if label is None:
        assert len(alias_label(origin)) <= MAX_ORIGIN_LABEL
    else:
        assert decode_label(label) == origin


@given(origins)
def test_every_label_is_a_valid_dns_label_that_fits_with_the_session_id(origin: Origin) -> None:
    host_label = f"{full_label(origin)}--{SID}-{VIEW}"
    assert len(host_label) <= 63
    assert LABEL.match(host_label)
    assert host_label[2:4] != "--"  # never mistaken for an IDNA A-label


@settings(max_examples=scaled(300))
@given(st.lists(origins, min_size=2, max_size=30, unique=True))
def test_no_two_origins_share_a_label(many: list[Origin]) -> None:
    labels = [full_label(o) for o in many]
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("view", ["", VIEW])
@given(origins, st.from_regex(r"\A(/[a-zA-Z0-9._~%-]{0,10}){0,3}(\?[a-z0-9=&]{0,10})?(#[a-z]{0,5})?\Z"))
def test_url_round_trips_through_the_proxy_space(view: str, origin: Origin, rest: str) -> None:
    space = ProxySpace(SID, "cobrowse.localhost", "http", 8080, view=view)
    url = str(origin) + rest
    proxied = space.to_proxy(url)
    assert proxied != url
    parsed = parse_proxy_host(proxied.split("//", 1)[1].split("/", 1)[0].split("?")[0].split("#")[0],
                              "cobrowse.localhost")
    assert parsed is not None and (parsed.session_id, parsed.view) == (SID, view)
    assert space.from_proxy(proxied) == url
    # Every view of the session (and none) reads back as the session's.
    for other in ("", "zz99"):
        assert ProxySpace(SID, "cobrowse.localhost", "http", 8080, space.aliases, other).from_proxy(proxied) == url


@pytest.mark.parametrize(("host", "parts"), [
    ("h-a-com--abcdefghij.cobrowse.localhost", ("h-a-com", SID, "")),
    ("h-a-com--abcdefghij-k2x4.cobrowse.localhost:8080", ("h-a-com", SID, "k2x4")),
    ("h-a--b-com--abcdefghij-k2x4.cobrowse.localhost", ("h-a--b-com", SID, "k2x4")),
    ("h-a-com--abcdefghij-.cobrowse.localhost", None),
    ("h-a-com--abcdefghij-k2x.cobrowse.localhost", None),
    ("h-a-com--abcdefghij-k2x45.cobrowse.localhost", None),
    ("h-a-com--abcdefghij-k2-4.cobrowse.localhost", None),
    ("h-a-com--abcdefghij-k2x4-.cobrowse.localhost", None),
])
def test_proxy_hosts_name_label_session_and_view(host: str, parts: tuple[str, str, str] | None) -> None:
    parsed = parse_proxy_host(host, "cobrowse.localhost")
    assert (tuple(parsed) if parsed else None) == parts


_URL_SOUP = st.lists(st.sampled_from(
    ["http:", "HTTPS:", "ws:", "//", "/", "\\", "\t", "\n", " ", "\x00", "@", ":", "[", "]", "::1", "%", "2e",
     "0x7f", ".", "1", "a", "é", "xn--", "?", "#", "javascript:"]), max_size=16).map("".join)


@given(st.one_of(st.text(max_size=80), _URL_SOUP), st.sampled_from([None, "http://a.test/d/p", "https://b.test/"]))
def test_decode_label_and_host_parsing_never_raise(text: str, base: str | None) -> None:
    decode_label(text)
    parse_proxy_host(text, "cobrowse.localhost")
    ProxySpace(SID, "cobrowse.localhost").to_proxy(text, base)
    ProxySpace(SID, "cobrowse.localhost").from_proxy(text)
    with contextlib.suppress(ValueError):
        Origin.parse(text)


@pytest.mark.parametrize(("url", "label"), [
    ("https://example.com/", "s-example-com"),
    ("http://site-a.test/", "h-site--a-test"),
    ("http://example.com:8080/", "h8080-example-com"),
    ("https://[::1]/", "j-00000000000000000000000000000001"),
    ("https://bücher.de/", "s-xn----bcher--kva-de"),
    ("HTTPS://EXAMPLE.COM:443/", "s-example-com"),
    ("wss://chat.example.com/", "s-chat-example-com"),
])
def test_known_labels(url: str, label: str) -> None:
    assert encode_label(Origin.parse(url)) == label


def test_long_host_gets_an_alias_kept_in_the_session_mapping() -> None:
    space = ProxySpace(SID, "cobrowse.localhost", "http", 8080)
    url = "https://" + "a" * 70 + ".example.com/x"
    proxied = space.to_proxy(url)
    assert len(space.aliases) == 1 and "--" + SID in proxied
    assert space.from_proxy(proxied) == url
    stranger = ProxySpace(SID, "cobrowse.localhost", "http", 8080)
    assert stranger.from_proxy(proxied) == proxied  # unknown alias: not ours to map


@pytest.mark.parametrize("bad", ["", "a..b", "-a.com", "a-.com", "a_b.com", "fe80::1%eth0"])
def test_unencodable_or_invalid_hosts_never_get_a_plain_label(bad: str) -> None:
    try:
        host = normalise_host(bad)
    except ValueError:
        return
    assert encode_label(Origin("https", host, 443)) is None


@pytest.mark.parametrize("kept", ["/rel", "rel/x", "#frag", "javascript:alert(1)", "data:text/plain,x",
                                  "blob:https://a.com/x", "mailto:a@b.c", "?q=1"])
def test_local_and_relative_urls_are_left_alone(kept: str) -> None:
    assert ProxySpace(SID, "cobrowse.localhost", "http", 8080).to_proxy(kept) == kept


def test_protocol_relative_urls_take_the_documents_real_scheme() -> None:
    space = ProxySpace(SID, "cobrowse.localhost", "http", 8080)
    assert space.to_proxy("//cdn.test/x.js", "http://page.test/") == \
        "http://h-cdn-test--abcdefghij.cobrowse.localhost:8080/x.js"
    assert space.to_proxy("//cdn.test/x.js", "https://page.test/") == \
        "http://s-cdn-test--abcdefghij.cobrowse.localhost:8080/x.js"


@pytest.mark.parametrize(("url", "origin"), [
    ("http://0x7f.1/", Origin("http", "127.0.0.1", 80)),
    ("http://2130706433:8080", Origin("http", "127.0.0.1", 8080)),
    ("https:evil.example/x", Origin("https", "evil.example", 443)),
    (" \tHTTP:\\\\EVIL.example:080\\x", Origin("http", "evil.example", 80)),
    ("https://u:p@a@B%C3%BCcher.de./", Origin("https", "xn--bcher-kva.de", 443)),
    ("wss://[0:0::1]:443/", Origin("https", "::1", 443)),
])
def test_origin_parse_reads_hosts_as_the_whatwg_parser_and_chromium_do(url: str, origin: Origin) -> None:
    assert Origin.parse(url) == origin


@pytest.mark.parametrize("bad", ["http://a.0/", "http://[::1", "https://a b/", "http://x:65536/", "//a.test/",
                                 "javascript:alert(1)", "http://"])
def test_origin_parse_refuses_what_the_standard_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        Origin.parse(bad)
