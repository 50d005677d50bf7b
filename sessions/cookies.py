"""The session's server-side cookie jar: the one authority on which cookies exist and go where.

Target ``Set-Cookie`` headers land here instead of in the browser, and every upstream request
takes its ``Cookie`` header from here, so all participants of a session share one jar. The rules
are RFC 6265 section 5 with the RFC 6265bis changes Chromium ships (cookie prefixes, SameSite
with Lax by default, ``SameSite=None`` requiring ``Secure``, secure cookies left alone by
insecure origins, 400-day expiry cap). Parsing and matching live in ``cookie_rules``.

SameSite is decided on *real* origins: every proxy host of a session is one site to the
browser, so the browser's own SameSite checks are void and this jar applies them instead. The
caller passes the request's ``SameSiteContext`` (``cookie_rules.same_site_context``, which
states how it is judged); ``cookie_rules.SENT_IN`` says which cookies each context carries.

Invariants:
- A cookie is identified by (name, domain, path); replacing one keeps its creation time.
- The jar never holds an expired cookie after the operation that noticed it, never more than
  ``limits.per_site`` cookies for one registrable domain nor ``limits.total`` in all; the
  least recently used cookie is evicted first.
- No input raises: a line the rules reject is ignored and the call answers False.
- Pure: the caller passes ``now`` (seconds since the epoch); no clock, no I/O.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from rewriter.origins import normalise_host
from rewriter.sites import is_ip, is_public_suffix, registrable_domain
from sessions.cookie_rules import (
    MAX_AGE_SECONDS,
    MAX_NAME_VALUE_BYTES,
    SAME_SITE_VALUES,
    SENT_IN,
    RequestUrl,
    SameSiteContext,
    SetCookie,
    default_path,
    domain_match,
    parse_set_cookie,
    parse_url,
    path_match,
)


@dataclass(frozen=True, slots=True)
class Cookie:
    """One stored cookie (RFC 6265 5.3 storage model)."""

    name: str
    value: str
    domain: str  # canonical host (host-only) or the Domain attribute, no leading dot
    path: str
    host_only: bool
    secure: bool
    http_only: bool
    same_site: str  # strict | lax | none | default (unspecified: treated as lax)
    expires: float | None  # None: lives as long as the session
    created: float

    @property
    def pair(self) -> str:
        return f"{self.name}={self.value}" if self.name else self.value


@dataclass(frozen=True, slots=True)
class CookieLimits:
    """Caps that keep a jar bounded whatever the targets send.

    Going over a cap evicts down to ``purge_to`` of it (as Chromium does, 180 -> 150 and
    3300 -> 3000), so a flood of cookies costs one sort per batch, not one per cookie.
    """

    per_site: int = 180
    total: int = 3000
    purge_to: float = 0.85


_Key = tuple[str, str]  # (path, name) inside one domain's bucket
_FullKey = tuple[str, str, str]  # (domain, path, name): a cookie's identity


class CookieJar:
    """One session's cookies, shared by all its participants."""

    def __init__(self, limits: CookieLimits | None = None) -> None:
        self.limits = limits or CookieLimits()
        self._domains: dict[str, dict[_Key, Cookie]] = {}
        self._site: dict[str, str] = {}  # bucket domain -> its registrable domain
        self._site_domains: dict[str, set[str]] = {}  # registrable domain -> bucket domains
        self._count = 0
        # Last access per cookie, kept beside the (immutable) cookies: reads update it often.
        self._access: dict[_FullKey, float] = {}

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Cookie]:
        for bucket in self._domains.values():
            yield from bucket.values()

    # -- setting --------------------------------------------------------------------------

    def set_from_header(
        self,
        url: str,
        header: str,
        now: float,
        *,
        from_http: bool = True,
        context: SameSiteContext = "same-site",
        top_level_navigation: bool = False,
    ) -> bool:
        """Apply one Set-Cookie value received for ``url``; True when the rules accepted it.

        ``context`` is the SameSite context of the request that brought the line: a cross-site
        request may set only ``SameSite=None`` cookies unless it loads a top-level page, whatever
        its method (RFC 6265bis 5.7). ``document.cookie`` writes and the REST API's initial
        cookies are same-site by nature (the default).
        """
        request = parse_url(url)
        parsed = parse_set_cookie(header, now) if request is not None else None
        if request is None or parsed is None:
            return False
        cookie = self._admit(request, parsed, now, from_http)
        if cookie is None:
            return False
        if cookie.same_site != "none" and context != "same-site" and not top_level_navigation:
            return False
        return self._store(cookie, request, now, from_http)

    def set_from_document(self, url: str, cookie_string: str, now: float) -> bool:
        """A ``document.cookie`` write from the page at ``url``: HttpOnly is out of its reach."""
        return self.set_from_header(url, cookie_string, now, from_http=False)

    def _admit(self, request: RequestUrl, parsed: SetCookie, now: float, from_http: bool) -> Cookie | None:
        """The cookie the storage model makes of a parsed line, or None when it is refused."""
        host_only, domain = self._domain_for(request, parsed.domain)
        if domain is None:
            return None
        secure_prefix = parsed.name.lower().startswith("__secure-")
        host_prefix = parsed.name.lower().startswith("__host-")
        refused = (
            (parsed.secure and not request.secure)
            or (parsed.http_only and not from_http)
            or (parsed.same_site == "none" and not parsed.secure)
            or ((secure_prefix or host_prefix) and not parsed.secure)
            or (host_prefix and (parsed.domain is not None or parsed.path != "/"))
        )
        if refused:
            return None
        return Cookie(
            name=parsed.name,
            value=parsed.value,
            domain=domain,
            path=parsed.path or default_path(request.path),
            host_only=host_only,
            secure=parsed.secure,
            http_only=parsed.http_only,
            same_site=parsed.same_site,
            expires=_expiry(parsed, now),
            created=now,
        )

    @staticmethod
    def _domain_for(request: RequestUrl, attribute: str | None) -> tuple[bool, str | None]:
        """(host_only, domain) per RFC 6265 5.3 steps 4-6; domain None means refuse."""
        if attribute is None:
            return True, request.host
        try:
            domain = normalise_host(attribute)
        except (ValueError, UnicodeError):
            return True, None
        if request.host_is_ip or is_ip(domain):
            return True, request.host if domain == request.host else None
        if is_public_suffix(domain):
            return True, request.host if domain == request.host else None
        if not domain_match(request.host, domain):
            return True, None
        return False, domain

    def _store(self, cookie: Cookie, request: RequestUrl, now: float, from_http: bool) -> bool:
        bucket = self._domains.get(cookie.domain, {})
        key = (cookie.path, cookie.name)
        old = bucket.get(key)
        if not cookie.secure and not request.secure and self._shadows_secure(cookie):
            return False
        if old is not None:
            if old.http_only and not from_http:
                return False
            self._remove(cookie.domain, key)
            cookie = dataclasses.replace(cookie, created=old.created)
        if cookie.expires is not None and cookie.expires <= now:
            return True  # a deletion: the old cookie (if any) is gone, nothing is stored
        self._insert(cookie, now)
        self._enforce_limits(cookie, now)
        return True

    def _insert(self, cookie: Cookie, accessed: float) -> None:
        if cookie.domain not in self._domains:
            self._domains[cookie.domain] = {}
            site = self._site[cookie.domain] = registrable_domain(cookie.domain)
            self._site_domains.setdefault(site, set()).add(cookie.domain)
        self._domains[cookie.domain][(cookie.path, cookie.name)] = cookie
        self._access[(cookie.domain, cookie.path, cookie.name)] = accessed
        self._count += 1

    def _shadows_secure(self, new: Cookie) -> bool:
        """RFC 6265bis 5.7 step 16: an insecure origin may not shadow a Secure cookie."""
        for domain, bucket in self._domains.items():
            if not (domain_match(domain, new.domain) or domain_match(new.domain, domain)):
                continue
            for old in bucket.values():
                if old.secure and old.name == new.name and path_match(new.path, old.path):
                    return True
        return False

    def _remove(self, domain: str, key: _Key) -> None:
        bucket = self._domains[domain]
        del bucket[key]
        del self._access[(domain, *key)]
        self._count -= 1
        if not bucket:
            del self._domains[domain]
            site = self._site.pop(domain)
            self._site_domains[site].discard(domain)
            if not self._site_domains[site]:
                del self._site_domains[site]

    def _enforce_limits(self, keep: Cookie, now: float) -> None:
        domains = list(self._site_domains[self._site[keep.domain]])
        in_site = sum(len(self._domains[d]) for d in domains)
        if in_site > self.limits.per_site:
            victims = [c for d in domains for c in self._domains[d].values()]
            self._evict(victims, in_site - self._floor(self.limits.per_site), keep, now)
        if self._count > self.limits.total:
            self._evict(list(self), self._count - self._floor(self.limits.total), keep, now)

    def _floor(self, cap: int) -> int:
        return max(1, min(cap, int(cap * self.limits.purge_to)))

    def _evict(self, cookies: list[Cookie], excess: int, keep: Cookie, now: float) -> None:
        if excess <= 0:
            return
        # Expired cookies go first, then the least recently used; the new cookie stays.
        access = self._access
        cookies.sort(key=lambda c: (not _expired(c, now), access[(c.domain, c.path, c.name)], c.created))
        for victim in cookies:
            if excess <= 0:
                break
            if victim is not keep:
                self._remove(victim.domain, (victim.path, victim.name))
                excess -= 1

    # -- reading --------------------------------------------------------------------------

    def cookie_header(self, url: str, now: float, *, context: SameSiteContext) -> str | None:
        """The Cookie header for an upstream request to ``url``, or None when no cookie applies.

        ``context`` is the request's SameSite context, judged on real origins (unknown means
        cross-site): only cookies whose SameSite value ``SENT_IN[context]`` lists go.
        """
        sent = SENT_IN[context]
        chosen = [c for c in self._matching(url, now, http=True) if c.same_site in sent]
        self._touch(chosen, now)
        return "; ".join(c.pair for c in chosen) or None

    def document_cookie(self, url: str, now: float) -> str:
        """What ``document.cookie`` reads on the page at ``url``: non-HttpOnly cookies only."""
        chosen = self._matching(url, now, http=False)
        self._touch(chosen, now)
        return "; ".join(c.pair for c in chosen)

    def _matching(self, url: str, now: float, *, http: bool) -> list[Cookie]:
        """Cookies for ``url`` in RFC 6265bis order: longer paths first, then older first."""
        request = parse_url(url)
        if request is None:
            return []
        found: list[Cookie] = []
        expired: list[Cookie] = []
        for domain in _domain_suffixes(request.host):
            for cookie in self._domains.get(domain, {}).values():
                if _expired(cookie, now):
                    expired.append(cookie)
                elif (
                    (not cookie.host_only or domain == request.host)
                    and path_match(request.path, cookie.path)
                    and (request.secure or not cookie.secure)
                    and (http or not cookie.http_only)
                ):
                    found.append(cookie)
        for cookie in expired:
            self._remove(cookie.domain, (cookie.path, cookie.name))
        found.sort(key=lambda c: (-len(c.path), c.created))
        return found

    def _touch(self, cookies: list[Cookie], now: float) -> None:
        for cookie in cookies:
            self._access[(cookie.domain, cookie.path, cookie.name)] = now

    # -- persistence ----------------------------------------------------------------------

    def to_records(self) -> list[dict[str, object]]:
        """JSON-able records of every cookie, for a session store."""
        return [
            {**dataclasses.asdict(c), "last_access": self._access[(c.domain, c.path, c.name)]} for c in self
        ]

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, object]], limits: CookieLimits | None = None
    ) -> CookieJar:
        """A jar from ``to_records`` output; malformed records are skipped, caps still hold."""
        jar = cls(limits)
        for record in records:
            cookie = _cookie_from_record(record)
            if cookie is None:
                continue
            key = (cookie.path, cookie.name)
            if key in jar._domains.get(cookie.domain, {}):
                jar._remove(cookie.domain, key)
            accessed = record["last_access"]
            assert isinstance(accessed, int | float)  # checked by _cookie_from_record
            jar._insert(cookie, float(accessed))
            jar._enforce_limits(cookie, float(accessed))
        return jar


def _expiry(parsed: SetCookie, now: float) -> float | None:
    """Max-Age wins over Expires; both are capped at 400 days; <= 0 means already expired."""
    if parsed.max_age is not None:
        return now + parsed.max_age if parsed.max_age > 0 else -math.inf
    if parsed.expires is not None:
        return min(parsed.expires, now + MAX_AGE_SECONDS)
    return None


def _expired(cookie: Cookie, now: float) -> bool:
    return cookie.expires is not None and cookie.expires <= now


def _domain_suffixes(host: str) -> list[str]:
    """The host and each parent domain: the only buckets that can hold cookies for it."""
    if is_ip(host):
        return [host]
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "value": (str,),
    "domain": (str,),
    "path": (str,),
    "host_only": (bool,),
    "secure": (bool,),
    "http_only": (bool,),
    "same_site": (str,),
    "expires": (int, float, type(None)),
    "created": (int, float),
    "last_access": (int, float),
}


def _cookie_from_record(record: Mapping[str, object]) -> Cookie | None:
    if not isinstance(record, Mapping):
        return None
    for field, types in _RECORD_TYPES.items():
        value = record.get(field)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return None
    fields = {field: record[field] for field in _RECORD_TYPES if field != "last_access"}
    cookie = Cookie(**fields)  # type: ignore[arg-type]
    valid = (
        cookie.same_site in SAME_SITE_VALUES.values() or cookie.same_site == "default"
    ) and cookie.path.startswith("/") and bool(cookie.domain) and (
        len(cookie.name.encode("utf-8", "surrogatepass")) + len(cookie.value.encode("utf-8", "surrogatepass"))
        <= MAX_NAME_VALUE_BYTES
    )
    return cookie if valid else None
