"""RFC 6265 (section 5, with the RFC 6265bis updates browsers ship) parsing and matching rules.

Pure functions used by ``cookies.CookieJar``: the Set-Cookie grammar as user agents read it
(lenient: anything unparsable yields ``None`` or is ignored, never an exception), the cookie-date
algorithm, and domain/path matching. No state: the jar owns storage and policy.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from rewriter.origins import normalise_host
from rewriter.sites import is_ip

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
