"""Which network addresses the proxy may dial: pure classification, no I/O.

The SSRF guard asks one question of every address a target resolves to: may the proxy connect
here on a user's behalf? ``AddressPolicy.judge`` answers with a ``Verdict`` that names the
range that decided it, so a refusal can say why.

Invariants:

- Default deny for anything that is not plain public unicast: a range missing from the tables
  below is still refused if ``ipaddress`` says it is not globally routable, and IPv6 outside
  global unicast (2000::/3) is refused.
- An IPv6 address that carries an IPv4 address (mapped, compatible, SIIT, 6to4, NAT64, Teredo)
  is judged by the IPv4 address it carries; where the embedding is ambiguous (local-use NAT64)
  every plausible embedded address must pass.
- ``allow_private`` opens only the ranges a local user plausibly wants to co-browse (loopback,
  RFC 1918, link-local, CGNAT, unique-local, site-local). Cloud metadata endpoints, multicast,
  broadcast, reserved, documentation, benchmarking and "this network" stay refused; only an
  ``allowed_networks`` entry that covers an address opens it, and such an entry always wins.
- Host strings are read the way browsers read them (WHATWG URL host parsing), so ``2130706433``,
  ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1 here as they are in Chromium.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Categories that ``allow_private`` opens; every other refusal category stays closed.
PRIVATE_CATEGORIES = frozenset({"loopback", "private", "link-local", "cgnat", "unique-local", "site-local"})


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ip_network(c) for c in cidrs)


# Instance metadata services (AWS, GCP, Azure, OpenStack, Alibaba, ECS task metadata, AWS IPv6
# IMDS and DNS, Oracle): refused even when private ranges are allowed.
METADATA: tuple[IPNetwork, ...] = _nets(
    "169.254.169.254/32",
    "169.254.169.123/32",
    "169.254.170.2/32",
    "169.254.170.23/32",
    "100.100.100.200/32",
    "192.0.0.192/32",
    "fd00:ec2::254/128",
    "fd00:ec2::23/128",
)

# First match wins, so narrower ranges come before the ranges that contain them.
IPV4_RANGES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (net, category)
    for category, cidrs in (
        ("this-network", ("0.0.0.0/8",)),
        ("loopback", ("127.0.0.0/8",)),
        ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
        ("cgnat", ("100.64.0.0/10",)),
        ("link-local", ("169.254.0.0/16",)),
        ("ietf-protocol", ("192.0.0.0/24",)),
        ("documentation", ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")),
        ("reserved", ("192.88.99.0/24",)),  # deprecated 6to4 relay anycast
        ("benchmarking", ("198.18.0.0/15",)),
        ("multicast", ("224.0.0.0/4",)),
        ("broadcast", ("255.255.255.255/32",)),
        ("reserved", ("240.0.0.0/4",)),
    )
    for net in _nets(*cidrs)
)

IPV6_RANGES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (net, category)
    for category, cidrs in (
        ("unspecified", ("::/128",)),
        ("loopback", ("::1/128",)),
        ("discard", ("100::/64",)),
        ("benchmarking", ("2001:2::/48",)),
        ("reserved", ("2001:10::/28", "2001:20::/28")),  # ORCHID
        ("documentation", ("2001:db8::/32", "3fff::/20")),
        ("unique-local", ("fc00::/7",)),
        ("link-local", ("fe80::/10",)),
        ("site-local", ("fec0::/10",)),
        ("multicast", ("ff00::/8",)),
    )
    for net in _nets(*cidrs)
)

_GLOBAL_UNICAST_V6 = ip_network("2000::/3")
# :: and ::1 lie inside ::/96 (IPv4-compatible) but are named for what they are.
_V6_UNSPECIFIED_AND_LOOPBACK = _nets("::/128", "::1/128")


def _v4(raw: bytes) -> IPv4Address:
    return IPv4Address(raw)


def _low32(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    return (_v4(ip.packed[12:16]),)


def _sixtofour(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    return (_v4(ip.packed[2:6]),)


def _teredo(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    # Server address in clear, client address obfuscated by inverting every bit (RFC 4380).
    client = bytes(b ^ 0xFF for b in ip.packed[12:16])
    return (_v4(ip.packed[4:8]), _v4(client))


def _local_nat64(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    # RFC 8215 lets the operator pick any RFC 6052 prefix length inside 64:ff9b:1::/48, and the
    # IPv4 bytes sit in different places for each (byte 8 is the reserved "u" octet), so every
    # layout is a candidate.
    p = ip.packed
    return (
        _v4(p[6:8] + p[9:11]),  # /48
        _v4(p[7:8] + p[9:12]),  # /56
        _v4(p[9:13]),  # /64
        _v4(p[12:16]),  # /96
    )


# IPv6 ranges whose addresses stand for IPv4 destinations, with where the IPv4 address sits.
# Checked before IPV6_RANGES (except :: and ::1, which ::/96 also holds).
Extractor = Callable[[IPv6Address], tuple[IPv4Address, ...]]

EMBEDDING: tuple[tuple[IPv6Network, str, Extractor], ...] = (
    (IPv6Network("::ffff:0:0/96"), "ipv4-mapped", _low32),
    (IPv6Network("::ffff:0:0:0/96"), "ipv4-translated", _low32),
    (IPv6Network("::/96"), "ipv4-compatible", _low32),
    (IPv6Network("64:ff9b::/96"), "nat64", _low32),
    (IPv6Network("64:ff9b:1::/48"), "local-nat64", _local_nat64),
    (IPv6Network("2002::/16"), "6to4", _sixtofour),
    (IPv6Network("2001::/32"), "teredo", _teredo),
)


def _inside(ip: IPAddress, nets: Iterable[IPNetwork]) -> bool:
    return any(ip.version == n.version and ip in n for n in nets)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one address: allowed or not, and the category that decided it."""

    address: IPAddress
    allowed: bool
    category: str
    via: IPv4Address | None = None  # the embedded IPv4 address that decided, if any

    def describe(self) -> str:
        word = "allowed" if self.allowed else "refused"
        via = f" (embeds {self.via})" if self.via is not None else ""
        return f"{self.address}{via}: {word}, {self.category}"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses may be dialled. Built once from configuration."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, allow_private: bool, allowed_networks: Iterable[str | IPNetwork] = ()) -> AddressPolicy:
        nets = tuple(
            n if isinstance(n, IPv4Network | IPv6Network) else ip_network(n, strict=False) for n in allowed_networks
        )
        return cls(allow_private=allow_private, allowed_networks=nets)

    def judge(self, address: IPAddress | str) -> Verdict:
        ip = ip_address(address) if isinstance(address, str) else address
        if _inside(ip, self.allowed_networks):
            return Verdict(ip, True, "allowed by configuration")
        if _inside(ip, METADATA):
            return Verdict(ip, False, "cloud metadata endpoint")
        if isinstance(ip, IPv6Address) and not _inside(ip, _V6_UNSPECIFIED_AND_LOOPBACK):
            for net, kind, extract in EMBEDDING:
                if ip in net:
                    return self._judge_embedded(ip, kind, extract(ip))
        return self._judge_plain(ip)

    def _judge_embedded(self, ip: IPv6Address, kind: str, inner: tuple[IPv4Address, ...]) -> Verdict:
        refusals = [v for v in (self.judge(v4) for v4 in inner) if not v.allowed]
        if not refusals:
            return Verdict(ip, True, f"{kind} form of public", via=inner[-1])
        # With several candidate layouts, the unused bytes of the others read as 0.0.0.0/8:
        # name the refusal that says more.
        refusals.sort(key=lambda v: v.category == "this-network")
        first = refusals[0]
        via = first.address if isinstance(first.address, IPv4Address) else None
        return Verdict(ip, False, f"{kind} form of {first.category}", via=via)

    def _judge_plain(self, ip: IPAddress) -> Verdict:
        table = IPV4_RANGES if isinstance(ip, IPv4Address) else IPV6_RANGES
        for net, category in table:
            if _inside(ip, (net,)):
                return Verdict(ip, self.allow_private and category in PRIVATE_CATEGORIES, category)
        if isinstance(ip, IPv6Address) and ip not in _GLOBAL_UNICAST_V6:
            return Verdict(ip, False, "reserved (outside global unicast)")
        if not ip.is_global:
            return Verdict(ip, False, "not globally routable")
        return Verdict(ip, True, "public")


# -- host strings, read as a browser reads them ------------------------------------------


class InvalidHost(ValueError):
    """A host a browser would refuse: it looks numeric but is no valid IPv4 address."""


def _ipv4_number(part: str) -> int | None:
    """One WHATWG IPv4 part: decimal, 0x-hex or 0-octal. None if it is not a number."""
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if part == "":
        return 0
    digits = {10: "0123456789", 8: "01234567", 16: "0123456789abcdefABCDEF"}[radix]
    if not all(c in digits for c in part):
        return None
    return int(part, radix)


def _ends_in_number(labels: list[str]) -> bool:
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return last[:2] in ("0x", "0X") and _ipv4_number(last) is not None


def parse_ipv4_host(host: str) -> IPv4Address | None:
    """The IPv4 address a browser reads in ``host``, None for a name; InvalidHost if neither.

    WHATWG URL: a host whose last label is numeric is an IPv4 address in 1 to 4 parts, each
    decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes.
    """
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    if not labels or labels[-1] == "" or not _ends_in_number(labels):
        return None
    if len(labels) > 4:
        raise InvalidHost(f"{host!r}: more than four numeric parts")
    numbers = [_ipv4_number(label) if label else None for label in labels]
    if any(n is None for n in numbers):
        raise InvalidHost(f"{host!r}: not a valid IPv4 address")
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(labels)):
        raise InvalidHost(f"{host!r}: IPv4 part out of range")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return IPv4Address(value)


def parse_host(host: str) -> IPAddress | None:
    """The IP address that ``host`` (a URL host, IPv6 possibly in brackets) denotes, or None.

    Raises InvalidHost for numeric-looking hosts a browser would reject, for IPv6 zone ids and
    for percent-encoded hosts.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        if "%" in text:
            raise InvalidHost(f"{host!r}: IPv6 zone identifiers are not accepted")
        try:
            return IPv6Address(text)
        except ValueError as exc:
            raise InvalidHost(f"{host!r}: not a valid IPv6 address") from exc
    if "%" in text:
        # A browser percent-decodes a host before reading it (``%31%32%37.0.0.1`` is 127.0.0.1);
        # no real name needs it, so it is refused rather than read a second way here.
        raise InvalidHost(f"{host!r}: percent-encoded hosts are not accepted")
    return parse_ipv4_host(text)
