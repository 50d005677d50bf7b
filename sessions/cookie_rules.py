"""RFC 6265 (section 5, with the RFC 6265bis updates browsers ship) parsing and matching rules.

Pure functions used by ``cookies.CookieJar``: the Set-Cookie grammar as user agents read it
(lenient: anything unparsable yields ``None`` or is ignored, never an exception), the cookie-date
algorithm, domain/path matching, and the SameSite context of a request (``same_site_context``).
No state: the jar owns storage and policy.

SameSite on the proxy. Every proxy host is one site to the browser, so the browser's own
SameSite checks are void between a session's origins and the proxy decides instead, from two
inputs that page script cannot forge:

- the Fetch Metadata the browser sent (``Sec-Fetch-Site``/``-Mode``/``-Dest``). Its
  ``Sec-Fetch-Site`` compares *proxy* hosts, and proxy origins are one to one with real
  origins, so "none" (typed, bookmarked) and "same-origin" are proofs and "cross-site" is a
  proof of the opposite, but "same-site" says nothing about the real sites;
- the real origin of the initiator (``Origin``, else ``Referer``, mapped back through the
  session's proxy space by ``rewriter.headers.initiator_origin``). It decides whenever the
  browser's value is no proof.

Unknown means cross-site: no proof and no initiator of this session (absent, ``null``, another
session's host, the real web) gives the ``cross-site`` context. Then only ``SameSite=None``
cookies go, and on a top-level navigation by a safe method (GET, HEAD) ``Lax`` and unspecified
ones too, as browsers do. Approximations: the site for cookies of a subresource is taken to be
its initiator's (the proxy does not see the top-level page, so a frame's own requests are judged
against the frame); redirect hops between the initiator and the target are not seen, except that
a browser value of "cross-site" or an ``Origin: null`` (a redirect-tainted origin) counts.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from rewriter.origins import normalise_host
from rewriter.sites import is_ip, is_same_site

MAX_NAME_VALUE_BYTES = 4096
MAX_ATTRIBUTE_VALUE_BYTES = 1024
# RFC 6265bis caps Expires and Max-Age at 400 days from now.
MAX_AGE_SECONDS = 400 * 24 * 3600

SAME_SITE_VALUES = {"strict": "strict", "lax": "lax", "none": "none"}
# Secure contexts: what a browser lets set and receive Secure cookies.
_SECURE_SCHEMES = frozenset({"https", "wss"})
_WEB_SCHEMES = frozenset({"http", "https", "ws", "wss"})
# RFC 6265bis: CTLs other than HTAB make the whole line invalid.
_FORBIDDEN_CTL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_WSP = " \t"


@dataclass(frozen=True, slots=True)
class SetCookie:
    """One Set-Cookie line as parsed, before the jar's storage rules apply."""

    name: str
    value: str
    expires: float | None = None  # from Expires, seconds since epoch
    max_age: int | None = None  # from Max-Age (wins over Expires)
    domain: str | None = None  # leading dot removed, lower-cased; None when absent
    path: str | None = None  # None when absent or not starting with "/"
    secure: bool = False
    http_only: bool = False
    same_site: str = "default"  # strict | lax | none | default (unspecified)


@dataclass(frozen=True, slots=True)
class RequestUrl:
    """The parts of a request URL the cookie rules look at."""

    scheme: str
    host: str  # canonical: lower-case ASCII, IPv6 without brackets
    path: str

    @property
    def secure(self) -> bool:
        return self.scheme in _SECURE_SCHEMES or is_loopback_host(self.host)

    @property
    def host_is_ip(self) -> bool:
        return is_ip(self.host)


def parse_url(url: str) -> RequestUrl | None:
    """Scheme, canonical host and path of an http(s)/ws(s) URL; None when it is not one."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        raw_host = parts.hostname
        if scheme not in _WEB_SCHEMES or not raw_host:
            return None
        host = normalise_host(raw_host)
    except (ValueError, UnicodeError):
        return None
    return RequestUrl(scheme, host, parts.path or "/")


def is_loopback_host(host: str) -> bool:
    """Hosts a browser treats as potentially trustworthy even over http (so Secure works)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_set_cookie(header: str, now: float) -> SetCookie | None:
    """Parse a Set-Cookie value as RFC 6265bis 5.6 does; None when the line must be ignored."""
    if _FORBIDDEN_CTL.search(header):
        return None
    pair, _, attrs = header.partition(";")
    if "=" in pair:
        name, _, value = pair.partition("=")
    else:
        name, value = "", pair
    name, value = name.strip(_WSP), value.strip(_WSP)
    if not name and not value:
        return None
    if len(name.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass")) > (
        MAX_NAME_VALUE_BYTES
    ):
        return None
    # A nameless cookie must not pass for a prefixed one ("=__Host-x" sends "__Host-x").
    if not name and value.lower().startswith(("__secure-", "__host-")):
        return None
    fields = _Attributes()
    for av in attrs.split(";") if attrs else ():
        key, _, raw = av.partition("=")
        key, raw = key.strip(_WSP).lower(), raw.strip(_WSP)
        if len(raw.encode("utf-8", "surrogatepass")) > MAX_ATTRIBUTE_VALUE_BYTES:
            continue
        handler = _ATTRIBUTES.get(key)
        if handler is not None:
            handler(raw, fields)
    return SetCookie(name, value, fields.expires, fields.max_age, fields.domain, fields.path,
                     fields.secure, fields.http_only, fields.same_site)


@dataclass(slots=True)
class _Attributes:
    """Attribute values while a line is read; the last occurrence of each wins."""

    expires: float | None = None
    max_age: int | None = None
    domain: str | None = None
    path: str | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str = "default"


def _attr_expires(raw: str, fields: _Attributes) -> None:
    when = parse_cookie_date(raw)
    if when is not None:
        fields.expires = when


def _attr_max_age(raw: str, fields: _Attributes) -> None:
    if not raw or not (raw[0].isdigit() or raw[0] == "-"):
        return
    digits = raw[1:] if raw[0] == "-" else raw
    if not digits.isascii() or not digits.isdigit():
        return
    # Huge values are clamped later; keep the integer small enough to be cheap.
    fields.max_age = max(min(int(raw[:20]), MAX_AGE_SECONDS), -1)


def _attr_domain(raw: str, fields: _Attributes) -> None:
    domain = raw.removeprefix(".").lower()
    if domain:
        fields.domain = domain


def _attr_path(raw: str, fields: _Attributes) -> None:
    fields.path = raw if raw.startswith("/") else None


def _attr_secure(raw: str, fields: _Attributes) -> None:
    fields.secure = True


def _attr_http_only(raw: str, fields: _Attributes) -> None:
    fields.http_only = True


def _attr_same_site(raw: str, fields: _Attributes) -> None:
    fields.same_site = SAME_SITE_VALUES.get(raw.lower(), "default")


_ATTRIBUTES = {
    "expires": _attr_expires,
    "max-age": _attr_max_age,
    "domain": _attr_domain,
    "path": _attr_path,
    "secure": _attr_secure,
    "httponly": _attr_http_only,
    "samesite": _attr_same_site,
}

# -- cookie-date (RFC 6265 5.1.1) -------------------------------------------------------

_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"^(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D.*)?$", re.ASCII | re.DOTALL)
_DAY = re.compile(r"^(\d{1,2})(?:\D.*)?$", re.ASCII | re.DOTALL)
_YEAR = re.compile(r"^(\d{2,4})(?:\D.*)?$", re.ASCII | re.DOTALL)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def parse_cookie_date(text: str) -> float | None:
    """Seconds since epoch for a cookie-date, per RFC 6265 5.1.1; None when it fails."""
    time: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DELIMITERS.split(text[:256]):
        if not token:
            continue
        if time is None and (m := _TIME.match(token)):
            time = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif day is None and (d := _DAY.match(token)):
            day = int(d.group(1))
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS[token[:3].lower()]
        elif year is None and (y := _YEAR.match(token)):
            year = int(y.group(1))
    if time is None or day is None or month is None or year is None:
        return None
    year += 1900 if 70 <= year <= 99 else 2000 if 0 <= year <= 69 else 0
    hour, minute, second = time
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second)))


# -- matching ---------------------------------------------------------------------------


def domain_match(host: str, domain: str) -> bool:
    """RFC 6265 5.1.3: host equals domain, or ends with "." + domain and is not an IP."""
    if host == domain:
        return True
    return host.endswith("." + domain) and not is_ip(host)


def default_path(path: str) -> str:
    """RFC 6265 5.1.4: the directory of the request path."""
    if not path.startswith("/"):
        return "/"
    cut = path.rfind("/")
    return "/" if cut == 0 else path[:cut]


def path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4 path-match."""
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


# -- SameSite context (RFC 6265bis 5.2, computed on real origins) --------------------------

SameSiteContext = Literal["same-site", "cross-site-top-level", "cross-site"]

# The SameSite attribute values each context sends (and lets a response set).
SENT_IN: dict[SameSiteContext, frozenset[str]] = {
    "same-site": frozenset({"strict", "lax", "default", "none"}),
    "cross-site-top-level": frozenset({"lax", "default", "none"}),
    "cross-site": frozenset({"none"}),
}

# What the browser's Sec-Fetch-Site (computed on proxy hosts) proves about the real request:
# True same-site, False cross-site, None nothing (the real initiator decides). A value not
# listed is treated as False.
BROWSER_SITE_PROOF: dict[str, bool | None] = {
    "none": True,  # typed in, bookmarked: no initiator, as same-site as it gets
    "same-origin": True,  # the whole redirect chain stayed on one proxy origin, so one real origin
    "same-site": None,  # every proxy host is one site: proves nothing
    "cross-site": False,  # some hop was outside the proxy domain
    "": None,  # no Fetch Metadata (not a current browser): the initiator alone decides
}

# Methods that may carry Lax cookies on a cross-site top-level navigation.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True, slots=True)
class FetchMetadata:
    """What the browser says about a request that page script cannot forge (forbidden headers).

    ``site``, ``mode`` and ``dest`` are the ``Sec-Fetch-*`` values lower-cased, "" when absent.
    ``opaque_initiator`` is ``Origin: null``: a sandboxed frame, a ``data:`` URL, an origin
    tainted by a cross-origin redirect, or a POST under ``Referrer-Policy: no-referrer``; such
    an initiator is never same-site, whatever ``Referer`` says. ``Sec-Fetch-User`` is not kept:
    user activation plays no part in SameSite.
    """

    site: str = ""
    mode: str = ""
    dest: str = ""
    opaque_initiator: bool = False

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, str]]) -> FetchMetadata:
        found = {"sec-fetch-site": "", "sec-fetch-mode": "", "sec-fetch-dest": "", "origin": ""}
        for name, value in headers:
            lower = name.lower()
            if lower in found and not found[lower]:
                found[lower] = value.strip().lower()
        return cls(found["sec-fetch-site"], found["sec-fetch-mode"], found["sec-fetch-dest"],
                   found["origin"] == "null")

    @property
    def top_level_navigation(self) -> bool:
        """A page load in a tab or window (not a frame, not a subresource)."""
        return self.mode == "navigate" and self.dest == "document"


def same_site_context(url: str, method: str, initiator: str | None, fetch: FetchMetadata) -> SameSiteContext:
    """The SameSite context of a request to the real ``url``.

    ``initiator`` is the real origin that caused the request (from ``Origin``, else ``Referer``),
    None when unknown. The request is same-site only when nothing says otherwise: a browser
    proof of cross-site, an initiator cross-site to ``url``, or (when the browser proves
    nothing) no initiator, or an opaque one.
    """
    proof = BROWSER_SITE_PROOF.get(fetch.site, False)
    if proof is None:
        same = initiator is not None and not fetch.opaque_initiator and is_same_site(initiator, url)
    else:
        same = proof and (initiator is None or is_same_site(initiator, url))
    if same:
        return "same-site"
    if fetch.top_level_navigation and method.upper() in SAFE_METHODS:
        return "cross-site-top-level"
    return "cross-site"
