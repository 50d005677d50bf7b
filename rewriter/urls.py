"""What a browser makes of a URL string found in a page or a header: the one URL parser.

Job: read a URL reference the way the WHATWG URL standard (and so Chromium) reads it against
the real base URL it will be resolved against, and split it where the proxy needs to act:
the scheme, the authority, and the rest (path, query, fragment) as the page wrote it. Hosts
are parsed by Ada (``ada-url``, the WHATWG parser Node.js uses), so IPv4 spellings such as
``0x7f.1`` or ``2130706433``, IDN, percent-escapes and IPv6 come out as Chromium has them.

A reference is one of (``Kind``):

* ``LOCAL``: a scheme that never reaches a web server (``javascript:``, ``data:``, ``blob:``,
  ``mailto:``...), or one the proxy does not carry: left alone.
* ``RELATIVE``: it resolves on the base URL's own host: no scheme and not ``//``, or the
  base's own scheme followed by fewer than two slashes (``http:foo`` on an http page is
  ``http://<same host>/<dir>/foo``: the standard's "special relative or authority" state).
* ``NETWORK``: it names an authority: ``//host`` (any mix of ``/`` and ``\\``), or a web
  scheme followed by the authority after any number of slashes, including none
  (``https:evil.example/x`` on an http page is ``https://evil.example/x``).

Invariants:
- ``browser_form`` is the standard's first step: leading and trailing C0 controls and spaces
  go, tabs and newlines anywhere go. Every classification is made on that form.
- A ``NETWORK`` tail keeps the page's bytes, except that ``\\`` before the query is written
  ``/`` (special schemes read it so) and the tabs and newlines are gone (the browser drops them).
- No I/O, no state.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

import ada_url

from rewriter.origins import WEB_SCHEMES, Origin

_C0_AND_SPACE: Final = "".join(chr(i) for i in range(0x21))
_TABS_NEWLINES: Final = str.maketrans("", "", "\t\n\r")
_SCHEME: Final = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_AUTHORITY_END: Final = re.compile(r"[/\\?#]")
_QUERY_OR_FRAGMENT: Final = re.compile(r"[?#]")
_SLASHES: Final = "/\\"
# An authority that needs no parsing beyond this: lower-case ASCII host, optional port.
_SIMPLE_AUTHORITY: Final = re.compile(r"([a-z0-9.-]+)(?::([0-9]{1,5}))?\Z")
_ENDS_IN_NUMBER: Final = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)\Z")
# Schemes a browser lets a page navigate to or fetch through the proxy.
NAVIGABLE_SCHEMES: Final = frozenset({"http", "https"})


class Kind(enum.Enum):
    LOCAL = "local"
    RELATIVE = "relative"
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class Reference:
    """One URL reference, split. ``scheme`` is lower case ('' when LOCAL or schemeless RELATIVE).

    NETWORK: ``authority`` (userinfo, host, port as written) and ``tail`` (path, query and
    fragment). RELATIVE with a scheme: ``tail`` is what follows the scheme's colon.
    """

    kind: Kind
    scheme: str = ""
    authority: str = ""
    tail: str = ""


def browser_form(url: str) -> str:
    """The string the URL parser really reads: outer C0/space stripped, tabs/newlines removed."""
    url = url.strip(_C0_AND_SPACE)
    return url.translate(_TABS_NEWLINES) if "\t" in url or "\n" in url or "\r" in url else url


def scheme_of(url: str) -> str | None:
    """The lower-case scheme a browser reads at the start of ``url``, or None if it has none."""
    m = _SCHEME.match(browser_form(url))
    return m.group(1).lower() if m else None


def is_navigable(url: str) -> bool:
    """False when ``url`` names a scheme other than http(s) (``javascript:``, ``data:``...)."""
    scheme = scheme_of(url)
    return scheme is None or scheme in NAVIGABLE_SCHEMES


def base_scheme(base: str | None) -> str | None:
    """The scheme of a base URL (None without a base)."""
    if not base:
        return None
    m = _SCHEME.match(base)  # a base is a URL the proxy holds: already in its parsed form
    return m.group(1).lower() if m else scheme_of(base)


def split_reference(url: str, base_scheme: str | None) -> Reference:
    """Classify ``url`` as it reads against a base URL whose scheme is ``base_scheme``."""
    s = browser_form(url)
    m = _SCHEME.match(s)
    if m is not None:
        scheme = m.group(1).lower()
        rest = s[m.end() :]
        if scheme not in WEB_SCHEMES:
            return Reference(Kind.LOCAL, scheme)
        if scheme == base_scheme and not _two_slashes(rest):
            return Reference(Kind.RELATIVE, scheme, tail=rest)
    else:
        if not _two_slashes(s):
            return Reference(Kind.RELATIVE)
        scheme = base_scheme if base_scheme in WEB_SCHEMES else "https"
        rest = s
    body = rest.lstrip(_SLASHES)
    end = _AUTHORITY_END.search(body)
    cut = end.start() if end else len(body)
    tail = body[cut:]
    if "\\" in tail:
        q = _QUERY_OR_FRAGMENT.search(tail)
        qpos = q.start() if q else len(tail)
        tail = tail[:qpos].replace("\\", "/") + tail[qpos:]
    return Reference(Kind.NETWORK, scheme, body[:cut], tail)


def _two_slashes(s: str) -> bool:
    return len(s) >= 2 and s[0] in _SLASHES and s[1] in _SLASHES


def origin_of(scheme: str, authority: str) -> Origin | None:
    """The origin an authority names under a web scheme (ws/wss give http/https), as the
    WHATWG host parser reads it, or None when a browser would refuse the URL."""
    simple = _SIMPLE_AUTHORITY.match(authority)
    if simple is not None and _plain_dns(simple.group(1)) and int(simple.group(2) or 0) < 65536:
        host, port = simple.group(1), simple.group(2)  # already in the form the parser gives
    else:
        try:
            parts = ada_url.parse_url(f"{scheme}://{authority}/", attributes=("hostname", "port"))
        except ValueError:
            return None
        host, port = parts["hostname"], parts["port"]
    return Origin.of(WEB_SCHEMES[scheme], host, int(port) if port else None)


def _plain_dns(host: str) -> bool:
    """A lower-case ASCII name the WHATWG host parser returns as it is: no A-label to check,
    and not ending in a number (which makes it an IPv4 address, or a failure)."""
    if "xn--" in host:
        return False
    labels = host.split(".")
    last = labels[-1] or (labels[-2] if len(labels) > 1 else "")
    return not _ENDS_IN_NUMBER.match(last)


def resolve(url: str, base: str) -> str | None:
    """``url`` resolved against ``base`` as a browser does (the href), or None on failure."""
    try:
        return ada_url.join_url(base, url)
    except ValueError:
        return None


def without_fragment(url: str) -> str:
    cut = url.find("#")
    return url if cut < 0 else url[:cut]
