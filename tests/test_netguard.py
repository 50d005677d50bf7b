"""The SSRF address classifier and browser-style host parsing, as tables of inputs and answers."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from proxy.netguard import AddressPolicy, InvalidHost, parse_host

GUARDED = AddressPolicy()
LOCAL_OK = AddressPolicy(allow_private=True)

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "cgnat"),
    ("100.127.255.255", "cgnat"),
    ("169.254.1.1", "link-local"),
    ("169.254.169.254", "cloud metadata endpoint"),
    ("169.254.170.2", "cloud metadata endpoint"),
    ("100.100.100.200", "cloud metadata endpoint"),
    ("0.0.0.0", "this-network"),
    ("0.1.2.3", "this-network"),
    ("192.0.0.8", "ietf-protocol"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fd00:ec2::254", "cloud metadata endpoint"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001:2::1", "benchmarking"),
    ("100::1", "discard"),
    ("4000::1", "reserved (outside global unicast)"),
    # IPv6 forms that carry an IPv4 address are judged by that address.
    ("::ffff:127.0.0.1", "ipv4-mapped form of loopback"),
    ("::ffff:169.254.169.254", "ipv4-mapped form of cloud metadata endpoint"),
    ("::ffff:10.0.0.1", "ipv4-mapped form of private"),
    ("::127.0.0.1", "ipv4-compatible form of loopback"),
    ("::ffff:0:127.0.0.1", "ipv4-translated form of loopback"),
    ("2002:7f00:1::", "6to4 form of loopback"),
    ("2002:a9fe:a9fe::1", "6to4 form of cloud metadata endpoint"),
    ("64:ff9b::127.0.0.1", "nat64 form of loopback"),
    ("64:ff9b::10.0.0.1", "nat64 form of private"),
    ("64:ff9b:1::7f00:1", "local-nat64 form of loopback"),
    ("64:ff9b:1:7f00:0:100::", "local-nat64 form of loopback"),
    # Teredo: server 65.54.227.120 (public), client obfuscated 127.0.0.1 (0x80ff fffe inverted).
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "teredo form of loopback"),
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "category"), REFUSED)
def test_guard_refuses_non_public_address_and_names_the_range(address: str, category: str) -> None:
    verdict = GUARDED.judge(address)
    assert not verdict.allowed
    assert verdict.category == category


@pytest.mark.parametrize("address", ALLOWED)
def test_guard_allows_public_unicast(address: str) -> None:
    assert GUARDED.judge(address).allowed


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.1", "192.168.0.10", "169.254.1.1", "100.64.1.1", "::1", "fd00::1"]
)
def test_allow_private_opens_local_ranges(address: str) -> None:
    assert LOCAL_OK.judge(address).allowed
    assert not GUARDED.judge(address).allowed


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "100.100.100.200",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.18.0.1",
    ],
)
def test_allow_private_keeps_metadata_and_unroutable_ranges_closed(address: str) -> None:
    assert not LOCAL_OK.judge(address).allowed


def test_allowed_networks_open_exactly_their_ranges() -> None:
    policy = AddressPolicy.build(False, ["10.20.0.0/16", "fd00:ec2::254/128"])
    assert policy.judge("10.20.3.4").allowed
    assert not policy.judge("10.21.0.1").allowed
    assert policy.judge("fd00:ec2::254").allowed
    assert policy.judge("::ffff:10.20.3.4").allowed  # the embedded address is what gets dialled
    assert not policy.judge("127.0.0.1").allowed


# Host strings as a URL carries them -> the address a browser would connect to.
SPELLINGS = [
    ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0x7F.0.0.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0177.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"),
    ("169.254.43518", "169.254.169.254"),
    ("0xa9fea9fe", "169.254.169.254"),
    ("1.256", "1.0.1.0"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("[::1]", "::1"),
    ("::ffff:7f00:1", "::ffff:7f00:1"),
]


@pytest.mark.parametrize(("host", "address"), SPELLINGS)
def test_numeric_host_spellings_read_as_browsers_read_them(host: str, address: str) -> None:
    parsed = parse_host(host)
    expected = IPv6Address(address) if ":" in address else IPv4Address(address)
    assert parsed == expected


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_odd_loopback_spellings_are_refused(host: str) -> None:
    parsed = parse_host(host)
    assert parsed is not None
    assert not GUARDED.judge(parsed).allowed


@pytest.mark.parametrize(
    "host", ["example.com", "site.test", "1.2.3.example", "0x7f.example", "a1", "xn--bcher-kva.de"]
)
def test_names_are_not_addresses(host: str) -> None:
    assert parse_host(host) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.4.5", "08", "0x7g.1", "256.1.1.1", "1.2.3.256", "1.16777216", "foo.09", "1..1", "[fe80::1%eth0]",
             "%31%32%37.0.0.1", "127.0.0.1%2e", "loc%61lhost"]
)
def test_numeric_looking_hosts_a_browser_rejects_are_invalid(host: str) -> None:
    with pytest.raises(InvalidHost):
        parse_host(host)
