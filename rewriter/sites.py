"""Sites: schemeful same-site judgement and registrable domains (Public Suffix List).

The proxy applies SameSite and Sec-Fetch-Site itself, on the real origins, because every
proxy host is one site to the browser. This module is the one place that knows what a site is.
The Public Suffix List is loaded once per process on first use and never changes after: it is
read-only reference data, not a cache of anything the proxy has seen.
"""

from __future__ import annotations

import functools
import ipaddress

from publicsuffixlist import PublicSuffixList

from rewriter.origins import Origin


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 address literal (no brackets)."""
    if ":" not in host and not host[-1:].isdigit():
        return False  # fast path: a DNS name (an IPv4 address ends in a digit)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_public_suffix(host: str) -> bool:
    """True when ``host`` (normalised ASCII) is itself a public suffix such as ``co.uk``."""
    if is_ip(host):
        return False
    return bool(_public_suffixes().is_public(host))


def registrable_domain(host: str) -> str:
    """eTLD+1 of a normalised host; an IP address or a bare public suffix is its own site."""
    if is_ip(host):
        return host
    private = _public_suffixes().privatesuffix(host)
    return private if isinstance(private, str) else host


def site_of(url: str) -> tuple[str, str] | None:
    """The schemeful site (scheme, registrable domain) of a URL or origin, None if it has none."""
    try:
        origin = Origin.parse(url)
    except ValueError:
        return None
    return origin.scheme, registrable_domain(origin.host)


def is_same_site(url_a: str, url_b: str) -> bool:
    """Schemeful same-site: same scheme (ws counts as http) and same registrable domain."""
    try:
        a, b = Origin.parse(url_a), Origin.parse(url_b)
    except ValueError:
        return False
    if a.scheme != b.scheme:
        return False
    # Equal hosts are one site whatever the list says; skip the suffix lookup.
    return a.host == b.host or registrable_domain(a.host) == registrable_domain(b.host)
