"""Target origin <-> proxy host label: the one authority on how origins are named.

Every target origin a session visits gets a browser origin of its own for each participant,
``<origin-label>--<session-id>-<view>.<domain>`` (the view names the participant:
docs/participant-hosts.md). This module owns the origin label.

Label grammar (all lowercase, ``[a-z0-9-]``, at most ``MAX_ORIGIN_LABEL`` characters)::

    label  = kind [port] "-" body
    kind   = "h" (http, DNS host) | "s" (https, DNS host)
           | "i" (http, IPv6 literal) | "j" (https, IPv6 literal)
           | "a" (alias; body is a hash, the origin is kept in the session)
    port   = decimal digits, present only when not the scheme's default port
    body   = DNS host with "-" doubled and "." written as a single "-",
             or the IPv6 address as 32 hex digits

Invariants:
- ``decode_label(encode_label(o)) == o`` for every origin that ``encode_label`` accepts.
- Distinct origins never share a label (hosts whose DNS labels start or end with "-",
  are empty, or carry characters outside ``[a-z0-9-]`` are not encodable and get an alias).
- The label never has "--" at positions 3-4 (so it is never mistaken for an IDNA A-label),
  never ends with "-", and neither the session id nor the view contains "-", so splitting a
  host label on its last "--", then what follows on its one "-", is unambiguous.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass

import ada_url
import idna

MAX_DNS_LABEL = 63
SESSION_ID_LENGTH = 10
VIEW_LENGTH = 4
MAX_ORIGIN_LABEL = MAX_DNS_LABEL - len("--") - SESSION_ID_LENGTH - len("-") - VIEW_LENGTH

DEFAULT_PORTS = {"http": 80, "https": 443}
# ws/wss URLs live on the same origin as their http/https twins.
WEB_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}

_DNS_KIND = {"http": "h", "https": "s"}
_IP6_KIND = {"http": "i", "https": "j"}
_KIND_SCHEME = {"h": ("http", False), "s": ("https", False), "i": ("http", True), "j": ("https", True)}
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


@dataclass(frozen=True, slots=True)
class Origin:
    """A web origin: scheme (http/https), ASCII host (IPv6 without brackets), port."""

    scheme: str
    host: str
    port: int

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @classmethod
    def parse(cls, url: str) -> Origin:
        """The origin of an absolute http(s)/ws(s) URL, read by the WHATWG URL parser (Ada,
        as Chromium reads it: ``0x7f.1`` is 127.0.0.1, ``https:host`` has host ``host``);
        ValueError when there is none."""
        try:
            parts = ada_url.parse_url(url, attributes=("protocol", "hostname", "port"))
        except ValueError:
            raise ValueError(f"not a URL: {url[:200]!r}") from None
        scheme = WEB_SCHEMES.get(parts["protocol"][:-1])
        if scheme is None:
            raise ValueError(f"not an http(s) URL: {url[:200]!r}")
        origin = cls.of(scheme, parts["hostname"], int(parts["port"]) if parts["port"] else None)
        if origin is None:
            raise ValueError(f"URL has no host: {url[:200]!r}")
        return origin

    @classmethod
    def of(cls, scheme: str, host: str, port: int | None) -> Origin | None:
        """An origin from a WHATWG-parsed host (IPv6 may be bracketed); the trailing dots of a
        DNS name are dropped (proxy labels cannot spell them) unless nothing else is left (a
        host of dots is kept: it gets an alias). None for an empty host."""
        host = host[1:-1] if host.startswith("[") else host.rstrip(".") or host
        if not host:
            return None
        return cls(scheme, host, DEFAULT_PORTS[scheme] if port is None else port)


def normalise_host(host: str) -> str:
    """Lowercase ASCII form of a host: IDN to punycode, IPv6 compressed, trailing dot dropped."""
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:
            raise ValueError("IPv6 zone identifiers are not supported")
        return ipaddress.IPv6Address(host).compressed
    if not host:
        raise ValueError("empty host")
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"invalid international host name: {exc}") from exc


def _dns_encodable(host: str) -> bool:
    if not host or not set(host) <= _HOST_CHARS:
        return False
    return all(part and not part.startswith("-") and not part.endswith("-") for part in host.split("."))


def encode_label(origin: Origin) -> str | None:
    """The origin's label, or None when it must use an alias (too long or not encodable)."""
    port = "" if origin.port == DEFAULT_PORTS[origin.scheme] else str(origin.port)
    if origin.is_ipv6:
        body = f"{int(ipaddress.IPv6Address(origin.host)):032x}"
        label = f"{_IP6_KIND[origin.scheme]}{port}-{body}"
    elif _dns_encodable(origin.host):
        body = origin.host.replace("-", "--").replace(".", "-")
        label = f"{_DNS_KIND[origin.scheme]}{port}-{body}"
    else:
        return None
    return label if len(label) <= MAX_ORIGIN_LABEL else None


def alias_label(origin: Origin) -> str:
    """A short, deterministic label for an origin whose own label would not fit."""
    digest = hashlib.sha256(str(origin).encode("utf-8")).digest()
    return "a-" + base64.b32encode(digest).decode("ascii").lower().rstrip("=")[:24]


def is_alias(label: str) -> bool:
    return label.startswith("a-")


def decode_label(label: str) -> Origin | None:
    """The origin a non-alias label names, or None when the label is not one of ours."""
    if len(label) < 3 or len(label) > MAX_ORIGIN_LABEL:
        return None
    kind = _KIND_SCHEME.get(label[0])
    dash = label.find("-")
    if kind is None or dash < 1:
        return None
    scheme, ipv6 = kind
    digits, body = label[1:dash], label[dash + 1 :]
    if digits and (not digits.isdigit() or digits.startswith("0")):
        return None
    port = int(digits) if digits else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536 or (port == DEFAULT_PORTS[scheme] and digits):
        return None
    host = _decode_ipv6(body) if ipv6 else _decode_dns(body)
    if host is None:
        return None
    origin = Origin(scheme, host, port)
    # Only canonical labels decode: this keeps the mapping injective in both directions.
    return origin if encode_label(origin) == label else None


def _decode_ipv6(body: str) -> str | None:
    if len(body) != 32:
        return None
    try:
        return ipaddress.IPv6Address(int(body, 16)).compressed
    except ValueError:
        return None


def _decode_dns(body: str) -> str | None:
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "-":
            if i + 1 < n and body[i + 1] == "-":
                out.append("-")
                i += 2
                continue
            out.append(".")
        else:
            out.append(ch)
        i += 1
    host = "".join(out)
    return host if _dns_encodable(host) else None
