"""The session's proxy URL space: real URLs <-> proxy URLs.

``ProxySpace`` is the only object that turns a real URL into the URL the browser uses and
back. Every rewriter (HTML, CSS, headers) is handed one; nobody re-derives the scheme.

A proxy host is ``<origin-label>--<session-id>-<view>.<domain>`` (see ``origins``), served on
the proxy's public scheme and port. The view names the participant the space belongs to
(docs/participant-hosts.md); a space without one writes ``<origin-label>--<session-id>``, and
every view of the session (and none) reads back as the session's. Origins whose label would
not fit get an alias, recorded in ``aliases`` (a mapping the session owns and persists; this
module never does I/O).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import NamedTuple

from rewriter.origins import (
    DEFAULT_PORTS,
    VIEW_LENGTH,
    Origin,
    alias_label,
    decode_label,
    encode_label,
    is_alias,
)
from rewriter.urls import Kind, Reference, base_scheme, origin_of, split_reference, without_fragment

_WS_SCHEME = {"http": "ws", "https": "wss"}
# What a URL naming a host the WHATWG parser refuses becomes: Chromium's own parser is laxer
# in places (it reads "https://a b/" as host "a%20b"), so such a URL is never left as written.
REFUSED = "about:invalid"


@dataclass(slots=True)
class ProxySpace:
    """Maps real URLs into one session's proxy space and back."""

    session_id: str
    domain: str
    scheme: str = "http"
    port: int | None = None
    aliases: MutableMapping[str, Origin] = field(default_factory=dict)
    view: str = ""

    # -- hosts ------------------------------------------------------------------------

    def label_for(self, origin: Origin) -> str:
        label = encode_label(origin)
        if label is None:
            label = alias_label(origin)
            self.aliases.setdefault(label, origin)
        return label

    def host_for(self, origin: Origin) -> str:
        """Proxy host name (no port) for a real origin."""
        view = f"-{self.view}" if self.view else ""
        return f"{self.label_for(origin)}--{self.session_id}{view}.{self.domain}"

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
        return self.origin_of(parsed) if parsed is not None else None

    def origin_of(self, host: ProxyHost) -> Origin | None:
        """The real origin an already parsed proxy host names in this session."""
        if host.session_id != self.session_id:
            return None
        if is_alias(host.label):
            return self.aliases.get(host.label)
        return decode_label(host.label)

    # -- URLs -------------------------------------------------------------------------

    def to_proxy(self, url: str, base: str | None = None) -> str:
        """The URL to write in place of ``url`` in a document whose real base URL is ``base``.

        ``url`` is read as the WHATWG URL parser reads it against ``base`` (``rewriter.urls``):
        one naming an authority gets the proxy host of its origin, with its path, query and
        fragment kept as written; ``http:foo`` relative to an http base loses its scheme (the
        proxy page's scheme may differ) and keeps the rest; other relative URLs, non-web
        schemes and URLs already in the proxy domain are returned unchanged; one whose host
        the standard refuses becomes ``REFUSED`` (inert). Pass the base: without it
        ``http:foo`` reads as ``http://foo/``.
        """
        ref = split_reference(url, base_scheme(base))
        if ref.kind is Kind.NETWORK:
            return self._network_to_proxy(ref, url)
        if ref.kind is Kind.RELATIVE and ref.scheme and base:
            return self._relative_to_proxy(ref.tail, base)
        return url

    def _network_to_proxy(self, ref: Reference, url: str) -> str:
        origin = origin_of(ref.scheme, ref.authority)
        if origin is None:
            return REFUSED
        if self.is_proxy_host(origin.host):
            return url
        proxy_scheme = self.scheme if ref.scheme in ("http", "https") else _WS_SCHEME[self.scheme]
        return f"{proxy_scheme}://{self.netloc_for(origin)}{ref.tail}"

    def _relative_to_proxy(self, tail: str, base: str) -> str:
        """``<base scheme>:tail``, as a reference that means the same on the proxy page."""
        if not tail:
            return self.to_proxy(without_fragment(base))  # the base itself, fragment dropped
        if tail[0] in "/\\?#":
            return tail
        return "./" + tail  # so that "foo:bar" is not read as a scheme

    def from_proxy(self, url: str) -> str:
        """Map a proxy URL of this session back to the real URL; other URLs are unchanged."""
        ref = split_reference(url, None)
        if ref.kind is not Kind.NETWORK:
            return url
        proxy = origin_of(ref.scheme, ref.authority)
        origin = self.origin_for_host(proxy.host) if proxy is not None else None
        if origin is None:
            return url
        scheme = origin.scheme if ref.scheme in ("http", "https") else _WS_SCHEME[origin.scheme]
        return f"{scheme}://{origin.netloc}{ref.tail}"

    def is_proxy_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host == self.domain or host.endswith("." + self.domain)


def _is_view(text: str) -> bool:
    return len(text) == VIEW_LENGTH and text.isascii() and text.isalnum()


class ProxyHost(NamedTuple):
    """What a proxy host name says: the origin label, the session, the participant's view ("" if none)."""

    label: str
    session_id: str
    view: str


def parse_proxy_host(host: str, domain: str) -> ProxyHost | None:
    """The parts of a proxy Host header value (with or without port), or None."""
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
    label, _, rest = first.rpartition("--")
    session_id, _, view = rest.partition("-")
    has_view = view != "" or rest.endswith("-")
    if not label or not session_id or (has_view and not _is_view(view)):
        return None
    return ProxyHost(label, session_id, view)
