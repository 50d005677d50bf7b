"""Seeding a session with a visitor's state: cookies, page storage and form values.

A visitor already on a site (the snippet, ``docs/snippet.md``) or an integrator's server (the
REST create call's ``options.cookies`` / ``options.storage``) hands the session what the
visitor's browser held, so the proxied page opens as the visitor left it:

- ``cookies`` (``[{name, value, domain?, path?, secure?, httpOnly?, expires?, sameSite?}]``) go
  into the session's server-side jar before the first page load (``plant_cookies``), through
  the jar's own rules: a cookie the target's host could not have set is dropped there;
- ``storage`` (``{origin: {"local": {k: v}, "session": {k: v}}}``) travels in the runtime's
  config (``Seed.for_page``) and ``static/runtime/s65-seed.js`` writes it into each
  participant's page before the page's own scripts run, once per participant;
- ``form`` (``{url, fields: [{selector | name, value}]}``) is filled in once that page has loaded.

Invariants: ``parse_*`` are the one way in from outside and refuse, with a message naming the
field, anything they would not keep (wrong types, other origins than the target's, sizes over
the caps below); a ``Seed`` is immutable and round-trips through ``to_json``/``from_json``.
Pure: no I/O, no clock (callers pass ``now``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rewriter.origins import Origin
from sessions.cookie_rules import MAX_AGE_SECONDS, MAX_NAME_VALUE_BYTES
from sessions.cookies import CookieJar

MAX_COOKIES: Final = 180  # a browser's per-site cap: more than one site could have set
MAX_STORAGE_KEYS: Final = 500  # per area
MAX_STORAGE_CHARS: Final = 512 * 1024  # keys and values of both areas together
MAX_FORM_FIELDS: Final = 200
MAX_FIELD_CHARS: Final = 10_000
MAX_SELECTOR_CHARS: Final = 300
AREAS: Final = ("local", "session")
# Cookie names and values go into a Set-Cookie line: nothing that could end or extend it.
_COOKIE_UNSAFE: Final = re.compile(r"[;\x00-\x1f\x7f]")
_ATTR_UNSAFE: Final = re.compile(r"[;=\s\x00-\x1f\x7f]")
_SAME_SITE: Final = {"strict": "Strict", "lax": "Lax", "none": "None"}


@dataclass(frozen=True, slots=True)
class SeedCookie:
    name: str
    value: str
    domain: str = ""  # "": host-only for the target's host
    path: str = "/"
    secure: bool = False
    http_only: bool = False
    expires: float | None = None  # seconds since the epoch; None: a session cookie
    same_site: str = ""  # "" unspecified, else strict | lax | none

    def set_cookie_line(self, now: float) -> str:
        """The ``Set-Cookie`` value the target would have sent for this cookie."""
        parts = [f"{self.name}={self.value}", f"Path={self.path}"]
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.expires is not None:
            parts.append(f"Max-Age={max(0, math.ceil(self.expires - now))}")
        if self.secure:
            parts.append("Secure")
        if self.http_only:
            parts.append("HttpOnly")
        if self.same_site:
            parts.append(f"SameSite={_SAME_SITE[self.same_site]}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class FormField:
    selector: str  # a CSS selector, or "" when the field is found by name
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class FormSeed:
    url: str  # the real URL (without fragment) of the page whose form is filled
    fields: tuple[FormField, ...]


@dataclass(frozen=True, slots=True)
class Seed:
    """What each participant's page is given once: storage for one origin, a form for one URL."""

    origin: str = ""  # the real origin the storage belongs to ("" when none)
    local: Mapping[str, str] = field(default_factory=dict)
    session: Mapping[str, str] = field(default_factory=dict)
    form: FormSeed | None = None

    @property
    def empty(self) -> bool:
        return not self.local and not self.session and self.form is None

    def for_page(self, origin: str, url: str) -> dict[str, Any] | None:
        """The runtime's ``seed`` config for a document of ``origin`` at real ``url``, or None."""
        if self.empty or origin != self.origin:
            return None
        out: dict[str, Any] = {"local": dict(self.local), "session": dict(self.session)}
        if self.form is not None and _without_fragment(url) == self.form.url:
            out["form"] = [{"selector": f.selector, "name": f.name, "value": f.value} for f in self.form.fields]
        return out

    def to_json(self) -> dict[str, Any]:
        form = None if self.form is None else {
            "url": self.form.url, "fields": [[f.selector, f.name, f.value] for f in self.form.fields]}
        return {"origin": self.origin, "local": dict(self.local), "session": dict(self.session), "form": form}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Seed:
        """What ``to_json`` wrote (the store's own data: trusted, not re-validated)."""
        if not data:
            return cls()
        form = data.get("form")
        fields = () if not form else tuple(FormField(str(s), str(n), str(v)) for s, n, v in form["fields"])
        return cls(str(data.get("origin", "")), dict(data.get("local") or {}), dict(data.get("session") or {}),
                   None if not form else FormSeed(str(form["url"]), fields))


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def _target_origin(target_url: str) -> str:
    return str(Origin.parse(target_url))


# -- cookies ----------------------------------------------------------------------------------


def _text(where: str, value: Any, longest: int, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise ValueError(f'"{where}" must be a{"" if empty else " non-empty"} string')
    if len(value) > longest:
        raise ValueError(f'"{where}" is longer than {longest} characters')
    return value


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f'"{where}" must be true or false')
    return value


def _cookie(where: str, raw: Any, now: float) -> SeedCookie | None:
    """One cookie of the list, or None for one already expired (a browser would not send it)."""
    if not isinstance(raw, dict):
        raise ValueError(f'"{where}" must be an object like {{"name": "sid", "value": "abc", "httpOnly": true}}')
    known = {"name", "value", "domain", "path", "secure", "httpOnly", "expires", "sameSite"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f'"{where}" has unknown field(s) {", ".join(map(repr, unknown))}; known: '
                         f'{", ".join(sorted(known))}')
    name = _text(f"{where}.name", raw.get("name"), MAX_NAME_VALUE_BYTES)
    value = _text(f"{where}.value", raw.get("value", ""), MAX_NAME_VALUE_BYTES, empty=True)
    if _COOKIE_UNSAFE.search(name + value) or "=" in name or name != name.strip():
        raise ValueError(f'"{where}" name and value must not contain ";", "=" (in the name), '
                         "leading or trailing spaces (in the name) or control characters")
    if len((name + value).encode("utf-8")) > MAX_NAME_VALUE_BYTES:
        raise ValueError(f'"{where}" name and value together are longer than {MAX_NAME_VALUE_BYTES} bytes')
    domain = _text(f"{where}.domain", raw.get("domain", ""), 253, empty=True).strip().lower()
    path = _text(f"{where}.path", raw.get("path", "/"), 1024)
    if _ATTR_UNSAFE.search(domain) or _ATTR_UNSAFE.search(path) or not path.startswith("/"):
        raise ValueError(f'"{where}" domain must be a host name and path must start with "/" '
                         '(no spaces, ";" or "=")')
    expires = raw.get("expires")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int | float)
                                or not math.isfinite(expires)):
        raise ValueError(f'"{where}.expires" must be seconds since the epoch (a number), or absent')
    same_site = raw.get("sameSite", "")
    if not isinstance(same_site, str) or same_site.lower() not in ("", *_SAME_SITE):
        raise ValueError(f'"{where}.sameSite" must be "Strict", "Lax" or "None"')
    if expires is not None and expires <= now:
        return None
    capped = None if expires is None else min(float(expires), now + MAX_AGE_SECONDS)
    return SeedCookie(name, value, domain.lstrip("."), path, _flag(f"{where}.secure", raw.get("secure", False)),
                      _flag(f"{where}.httpOnly", raw.get("httpOnly", False)), capped, same_site.lower())


def parse_cookies(raw: Any, now: float, where: str = "options.cookies") -> tuple[SeedCookie, ...]:
    """The cookies of an API body (absent: none)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f'"{where}" must be a list of cookies, e.g. [{{"name": "sid", "value": "abc"}}]')
    if len(raw) > MAX_COOKIES:
        raise ValueError(f'"{where}" has {len(raw)} cookies; at most {MAX_COOKIES} are allowed')
    found = (_cookie(f"{where}[{i}]", item, now) for i, item in enumerate(raw))
    return tuple(c for c in found if c is not None)


def plant_cookies(jar: CookieJar, cookies: Sequence[SeedCookie], target_url: str, now: float) -> int:
    """Put ``cookies`` into ``jar`` as if the target's host had set them for ``target_url``'s
    origin (its own rules decide: a Domain the host could not set, a Secure cookie on plain http
    are dropped); how many were kept."""
    origin = Origin.parse(target_url)
    kept = 0
    for cookie in cookies:
        url = f"{origin}{cookie.path}"
        kept += jar.set_from_header(url, cookie.set_cookie_line(now), now)
    return kept


# -- storage and forms ------------------------------------------------------------------------


def _area(where: str, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ValueError(f'"{where}" must be an object of string keys and string values')
    if len(raw) > MAX_STORAGE_KEYS:
        raise ValueError(f'"{where}" has {len(raw)} keys; at most {MAX_STORAGE_KEYS} are allowed')
    return dict(raw)


def parse_storage(raw: Any, target_url: str,
                  where: str = "options.storage") -> tuple[str, dict[str, str], dict[str, str]]:
    """``(origin, local, session)`` of a storage body; the one origin allowed is the target's."""
    if raw is None or raw == {}:
        return "", {}, {}
    target = _target_origin(target_url)
    if not isinstance(raw, dict):
        raise ValueError(f'"{where}" must be an object like {{"{target}": {{"local": {{"k": "v"}}}}}}')
    others = sorted(o for o in raw if o.rstrip("/") != target)
    if others:
        raise ValueError(f'"{where}" may hold only the target\'s origin {target!r}, not {others[0][:100]!r}')
    ((_, areas),) = raw.items()
    if not isinstance(areas, dict) or set(areas) - set(AREAS):
        raise ValueError(f'"{where}.{target}" must be an object with "local" and/or "session"')
    local, session = (_area(f"{where}.{target}.{a}", areas.get(a)) for a in AREAS)
    size = sum(len(k) + len(v) for area in (local, session) for k, v in area.items())
    if size > MAX_STORAGE_CHARS:
        raise ValueError(f'"{where}" holds {size} characters; at most {MAX_STORAGE_CHARS} are allowed')
    return target, local, session


def parse_form(raw: Any, target_url: str, where: str = "options.form") -> FormSeed | None:
    """The form values of a body (``{url, fields: [{selector | name, value}]}``), for a page of
    the target's origin."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("fields"), list):
        raise ValueError(f'"{where}" must be an object like '
                         '{"url": "...", "fields": [{"name": "q", "value": "x"}]}')
    url = _without_fragment(_text(f"{where}.url", raw.get("url", target_url), 8192))
    try:
        same = str(Origin.parse(url)) == _target_origin(target_url)
    except ValueError:
        same = False
    if not same:
        raise ValueError(f'"{where}.url" must be a page of the target\'s origin {_target_origin(target_url)!r}')
    items = raw["fields"]
    if len(items) > MAX_FORM_FIELDS:
        raise ValueError(f'"{where}.fields" has {len(items)} entries; at most {MAX_FORM_FIELDS} are allowed')
    fields: list[FormField] = []
    for i, item in enumerate(items):
        at = f"{where}.fields[{i}]"
        if not isinstance(item, dict) or not (item.get("selector") or item.get("name")):
            raise ValueError(f'"{at}" must be an object with "selector" or "name", and "value"')
        fields.append(FormField(_text(f"{at}.selector", item.get("selector", ""), MAX_SELECTOR_CHARS, empty=True),
                                _text(f"{at}.name", item.get("name", ""), MAX_SELECTOR_CHARS, empty=True),
                                _text(f"{at}.value", item.get("value", ""), MAX_FIELD_CHARS, empty=True)))
    return FormSeed(url, tuple(fields))


def parse_seed(storage: Any, form: Any, target_url: str, where: str = "options") -> Seed:
    """The page part of a seed (storage and form) for a session starting at ``target_url``."""
    origin, local, session = parse_storage(storage, target_url, f"{where}.storage")
    parsed_form = parse_form(form, target_url, f"{where}.form")
    if parsed_form is not None:
        origin = _target_origin(target_url)
    return Seed(origin, local, session, parsed_form)
