"""The session's proxy URL space: real URLs <-> proxy URLs.

``ProxySpace`` is the only object that turns a real URL into the URL the browser uses and
back. Every rewriter (HTML, CSS, headers) is handed one; nobody re-derives the scheme.

A proxy host is ``<origin-label>--<session-id>.<domain>`` (see ``origins``), served on the
proxy's public scheme and port. Origins whose label would not fit get an alias, recorded in
``aliases`` (a mapping the session owns and persists; this module never does I/O).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rewriter.origins import (
    DEFAULT_PORTS,
    WEB_SCHEMES,
    Origin,
    alias_label,
    decode_label,
    encode_label,
    is_alias,
)

# Schemes (and scheme-like prefixes) that never leave the page: left untouched.
_LOCAL_PREFIXES = ("javascript:", "data:", "blob:", "about:", "mailto:", "tel:", "#", "filesystem:")
_WS_SCHEME = {"http": "ws", "https": "wss"}
_ASCII_WS = " \t\n\r\f"


@dataclass(slots=True)
class ProxySpace:
    """Maps real URLs into one session's proxy space and back."""

    session_id: str
    domain: str
    scheme: str = "http"
    port: int | None = None
    aliases: MutableMapping[str, Origin] = field(default_factory=dict)

    # -- hosts ------------------------------------------------------------------------

    def label_for(self, origin: Origin) -> str:
        label = encode_label(origin)
        if label is None:
            label = alias_label(origin)
            self.aliases.setdefault(label, origin)
        return label

    def host_for(self, origin: Origin) -> str:
        """Proxy host name (no port) for a real origin."""
        return f"{self.label_for(origin)}--{self.session_id}.{self.domain}"

    def netloc_for(self, origin: Origin) -> str:
        host = self.host_for(origin)
        if self.port is None or self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    def proxy_origin(self, origin: Origin) -> str:
        return f"{self.scheme}://{self.netloc_for(origin)}"

    def origin_for_host(self, host: str) -> Origin | None:
        """The real origin a proxy host (with or without port) names in this session."""
        parsed = parse_proxy_host(host, self.domain)
        if parsed is None or parsed[1] != self.session_id:
            return None
        label = parsed[0]
        if is_alias(label):
            return self.aliases.get(label)
        return decode_label(label)

    # -- URLs -------------------------------------------------------------------------

    def to_proxy(self, url: str, base: str | None = None) -> str:
        """Map an absolute or protocol-relative URL into proxy space; others are unchanged.

        ``base`` is the real URL of the document, used for the scheme of ``//host/path``.
        Relative and root-relative URLs work unchanged on the proxy host, so they are kept.
        """
        stripped = _normalise(url)
        if not stripped or stripped.startswith(_LOCAL_PREFIXES):
            return url
        if stripped.startswith("//"):
            base_scheme = urlsplit(base).scheme if base else ""
            stripped = f"{base_scheme or 'https'}:{stripped}"
        scheme, _, rest = stripped.partition(":")
        scheme = scheme.lower()
        if scheme not in WEB_SCHEMES or not rest.startswith("/"):
            return url
        # Browsers skip any number of slashes before the host of an http(s)/ws(s) URL.
        stripped = f"{scheme}://{rest.lstrip('/')}"
        try:
            origin = Origin.parse(stripped)
        except ValueError:
            return url
        if self.is_proxy_host(origin.host):
            return url
        proxy_scheme = self.scheme if scheme in ("http", "https") else _WS_SCHEME[self.scheme]
        return f"{proxy_scheme}://{self.netloc_for(origin)}{_after_authority(stripped)}"

    def from_proxy(self, url: str) -> str:
        """Map a proxy URL of this session back to the real URL; other URLs are unchanged."""
        try:
            parts = urlsplit(url.strip(_ASCII_WS))
        except ValueError:
            return url
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            return url
        origin = self.origin_for_host(parts.netloc)
        if origin is None:
            return url
        scheme = origin.scheme if parts.scheme in ("http", "https") else _WS_SCHEME[origin.scheme]
        return f"{scheme}://{origin.netloc}{_after_authority(url.strip(_ASCII_WS))}"

    def is_proxy_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host == self.domain or host.endswith("." + self.domain)


def _after_authority(url: str) -> str:
    """Path, query and fragment exactly as written (empty "?" and "#" kept)."""
    start = url.find("//")
    start = start + 2 if start >= 0 else 0
    ends = [i for i in (url.find(c, start) for c in "/?#") if i >= 0]
    return url[min(ends):] if ends else ""


def _normalise(url: str) -> str:
    """What a browser makes of a URL string: outer spaces, inner tabs/newlines dropped,
    backslashes before the query read as slashes (WHATWG URL, special schemes)."""
    url = url.strip(_ASCII_WS + "\x00")
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    if "\\" in url:
        cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
        url = url[:cut].replace("\\", "/") + url[cut:]
    return url


def parse_proxy_host(host: str, domain: str) -> tuple[str, str] | None:
    """(origin label, session id) from a proxy Host header value, or None."""
    host = host.strip().lower()
    if host.startswith("["):
        return None
    host = host.rsplit(":", 1)[0] if ":" in host else host
    host = host.rstrip(".")
    suffix = "." + domain
    if not host.endswith(suffix):
        return None
    first = host[: -len(suffix)]
    if "." in first or "--" not in first:
        return None
    label, _, session_id = first.rpartition("--")
    if not label or not session_id or "-" in session_id:
        return None
    return label, session_id
