"""A session's privacy and control options: what the API's ``options`` object sets.

- ``allow_domains`` / ``deny_domains``: the session's own layer of target domain lists, on top
  of the server's (``sessions.policy.TargetPolicy.narrowed``: it can only refuse more);
- ``view_only``: followers may point and scroll their own view but never get control;
- ``consent``: the leader (the agent) taking control back from a follower (the visitor) who
  drives asks that follower first (``sessions.relay``);
- ``mask_selectors``: fields masked on top of the runtime's defaults (password inputs,
  payment-card ``autocomplete`` fields, ``[data-cobrowse-mask]``): their values and keys
  never leave their owner's browser;
- ``hide_selectors``: elements blanked for every participant but the one in control;
- ``require_approval``: a visitor who opens the follower link waits on the join page until the
  agent approves them (``proxy.join``);
- ``max_followers``: visitors the session admits, at most the server's limit (absent: that limit);
- ``expires_in``: the session's lifetime in seconds, at most the server's cap (absent: its default);
- ``idle_timeout``: seconds without a proxied request or sync message after which the session
  ends (``0``: never idles out; absent: the server's default);
- ``end_redirect_url``: where participants go when the session ends (``sessions.safe_urls``);
- ``branding``: the agent's chrome (``sessions.branding``);
- ``metadata``: the integrator's own flat ``{string: string}`` labels, kept and described, bounded.

``cookies`` and ``storage`` (``SEED_FIELDS``) seed the session's state; they are not options kept
here but handed to the seed hook (``proxy.api_sessions.SEED_HOOK``), so ``parse_options`` leaves them
to the caller (``split_seed``).

Invariants: a ``SessionOptions`` is immutable and always valid (``parse`` is the one way in
from outside and refuses, with a message people can act on, anything it would not keep:
unknown names, wrong types, too many or too long entries, a domain pattern that is no host, a
selector that could break out of the style rule the runtime puts it in); what it stores
round-trips through ``to_json``/``from_json`` (the store keeps sessions as JSON).
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from sessions.branding import Branding, parse_branding
from sessions.policy import normal_pattern
from sessions.safe_urls import absolute_http_url
from sessions.strict import refuse_unknown

MAX_DOMAINS: Final = 200
MAX_SELECTORS: Final = 50
MAX_SELECTOR_CHARS: Final = 300
# Braces, angle brackets, "@" and ";" could end the rule a selector is put in, or start
# another; comments and backslash escapes are refused for the same reason (they hide them).
_UNSAFE_SELECTOR: Final = re.compile(r"[{}<>@;\\]|/\*|[\x00-\x1f\x7f]")
# A host name in normal form (IDN as punycode), or an IPv4/IPv6 literal.
_HOST: Final = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|[0-9a-f:.]+")
MAX_METADATA_KEYS: Final = 50
MAX_METADATA_KEY_CHARS: Final = 40
MAX_METADATA_VALUE_CHARS: Final = 500
MAX_METADATA_CHARS: Final = 8192  # keys and values together
_METADATA_KEY: Final = re.compile(r"[A-Za-z0-9_.:-]+")
MIN_EXPIRES_IN: Final = 60
MIN_IDLE_TIMEOUT: Final = 30
SEED_FIELDS: Final = ("cookies", "storage")


@dataclass(frozen=True, slots=True)
class OptionLimits:
    """The server's bounds on the numeric options (from ``Config``)."""

    max_followers: int = 10
    max_expires_in: float = 24 * 3600.0
    max_idle_timeout: float = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class SessionOptions:
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = ()
    view_only: bool = False
    consent: bool = True
    mask_selectors: tuple[str, ...] = ()
    hide_selectors: tuple[str, ...] = ()
    require_approval: bool = False
    max_followers: int | None = None
    expires_in: float | None = None
    idle_timeout: float | None = None
    end_redirect_url: str = ""
    branding: Branding = field(default_factory=Branding)
    metadata: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"allow_domains": list(self.allow_domains), "deny_domains": list(self.deny_domains),
                "view_only": self.view_only, "consent": self.consent,
                "mask_selectors": list(self.mask_selectors), "hide_selectors": list(self.hide_selectors),
                "require_approval": self.require_approval, "max_followers": self.max_followers,
                "expires_in": self.expires_in, "idle_timeout": self.idle_timeout,
                "end_redirect_url": self.end_redirect_url, "branding": self.branding.to_json(),
                "metadata": dict(self.metadata)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SessionOptions:
        """What ``to_json`` wrote (the store's own data: trusted, not re-validated)."""
        if not data:
            return cls()
        return cls(allow_domains=tuple(map(str, data.get("allow_domains", ()))),
                   deny_domains=tuple(map(str, data.get("deny_domains", ()))),
                   view_only=bool(data.get("view_only", False)), consent=bool(data.get("consent", True)),
                   mask_selectors=tuple(map(str, data.get("mask_selectors", ()))),
                   hide_selectors=tuple(map(str, data.get("hide_selectors", ()))),
                   require_approval=bool(data.get("require_approval", False)),
                   max_followers=_maybe(int, data.get("max_followers")),
                   expires_in=_maybe(float, data.get("expires_in")),
                   idle_timeout=_maybe(float, data.get("idle_timeout")),
                   end_redirect_url=str(data.get("end_redirect_url", "")),
                   branding=Branding.from_json(data.get("branding")),
                   metadata=tuple((str(k), str(v)) for k, v in (data.get("metadata") or {}).items()))


def _maybe(kind: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else kind(value)


def _domains(name: str, value: Any, limits: OptionLimits) -> tuple[str, ...]:
    items = _strings(name, value, MAX_DOMAINS, 253, 'e.g. ["example.com", "*.example.org"]')
    out: list[str] = []
    for item in items:
        try:
            pattern = normal_pattern(item)
        except ValueError as exc:
            raise ValueError(f'"options.{name}" entry {item!r} is not a domain pattern ({exc})') from exc
        if not _HOST.fullmatch(pattern):
            raise ValueError(f'"options.{name}" entry {item!r} is not a domain pattern: write a host name '
                             'such as "example.com" or "*.example.com" (no scheme, path, port or spaces)')
        out.append(pattern)
    return tuple(dict.fromkeys(out))


def _selectors(name: str, value: Any, limits: OptionLimits) -> tuple[str, ...]:
    items = _strings(name, value, MAX_SELECTORS, MAX_SELECTOR_CHARS, 'e.g. ["#card-number", ".secret"]')
    for item in items:
        if _UNSAFE_SELECTOR.search(item):
            raise ValueError(f'"options.{name}" entry {item!r} is not a plain CSS selector: it must not contain '
                             "braces, angle brackets, '@', ';', backslashes, comments or control characters")
    return tuple(dict.fromkeys(item.strip() for item in items))


def _strings(name: str, value: Any, most: int, longest: int, example: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f'"options.{name}" must be a list of non-empty strings, {example}')
    if len(value) > most:
        raise ValueError(f'"options.{name}" has {len(value)} entries; at most {most} are allowed')
    long = next((v for v in value if len(v) > longest), None)
    if long is not None:
        raise ValueError(f'"options.{name}" entry {long[:40]!r}... is longer than {longest} characters')
    return [v.strip() for v in value]


def _flag(name: str, value: Any, limits: OptionLimits) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f'"options.{name}" must be true or false')
    return value


def _whole(name: str, value: Any, least: float, most: float, unit: str) -> int | None:
    """A whole number in ``least..most`` (``None``: the server's default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f'"options.{name}" must be a whole number of {unit}')
    if not least <= value <= most:
        raise ValueError(f'"options.{name}" is {int(value)}; it must be between {int(least)} and {int(most)} '
                         f'{unit} on this server')
    return int(value)


def _followers(name: str, value: Any, limits: OptionLimits) -> int | None:
    return _whole(name, value, 1, limits.max_followers, "visitors")


def _expires_in(name: str, value: Any, limits: OptionLimits) -> int | None:
    return _whole(name, value, MIN_EXPIRES_IN, limits.max_expires_in, "seconds")


def _idle_timeout(name: str, value: Any, limits: OptionLimits) -> int | None:
    if value == 0 and not isinstance(value, bool):
        return 0  # never idles out
    try:
        return _whole(name, value, MIN_IDLE_TIMEOUT, limits.max_idle_timeout, "seconds")
    except ValueError as exc:
        raise ValueError(f"{exc} (or 0: the session never idles out)") from exc


def _redirect(name: str, value: Any, limits: OptionLimits) -> str:
    return absolute_http_url(f"options.{name}", value)


def _branding(name: str, value: Any, limits: OptionLimits) -> Branding:
    return parse_branding(f"options.{name}", value)


def _metadata(name: str, value: Any, limits: OptionLimits) -> tuple[tuple[str, str], ...]:
    return parse_metadata(f"options.{name}", value)


def parse_metadata(field_name: str, value: Any) -> tuple[tuple[str, str], ...]:
    """A flat object of string values with short plain keys, bounded in count and size."""
    example = 'e.g. {"ticket": "T-1234", "team": "billing"}'
    if not isinstance(value, dict):
        raise ValueError(f'"{field_name}" must be an object of string values, {example}')
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f'"{field_name}" has {len(value)} keys; at most {MAX_METADATA_KEYS} are allowed')
    total = 0
    for key, item in value.items():
        if not (_METADATA_KEY.fullmatch(key) and len(key) <= MAX_METADATA_KEY_CHARS):
            raise ValueError(f'"{field_name}" key {key[:40]!r} must be 1 to {MAX_METADATA_KEY_CHARS} letters, '
                             'digits, "_", ".", ":" or "-"')
        if not isinstance(item, str):
            raise ValueError(f'"{field_name}.{key}" must be a string (nested objects, numbers and lists are '
                             f'not kept), {example}')
        if len(item) > MAX_METADATA_VALUE_CHARS:
            raise ValueError(f'"{field_name}.{key}" is longer than {MAX_METADATA_VALUE_CHARS} characters')
        total += len(key) + len(item)
    if total > MAX_METADATA_CHARS:
        raise ValueError(f'"{field_name}" holds {total} characters; at most {MAX_METADATA_CHARS} are allowed')
    return tuple((str(k), str(v)) for k, v in value.items())


# option name -> how its JSON value is read (raising ValueError with the message to answer).
_READERS: Final[dict[str, Callable[[str, Any, OptionLimits], Any]]] = {
    "allow_domains": _domains, "deny_domains": _domains, "view_only": _flag, "consent": _flag,
    "mask_selectors": _selectors, "hide_selectors": _selectors, "require_approval": _flag,
    "max_followers": _followers, "expires_in": _expires_in, "idle_timeout": _idle_timeout,
    "end_redirect_url": _redirect, "branding": _branding, "metadata": _metadata,
}


def split_seed(raw: Any) -> tuple[Any, dict[str, Any]]:
    """``raw`` options without the ``SEED_FIELDS``, and those fields (for the seed hook)."""
    if not isinstance(raw, dict):
        return raw, {}
    seed = {name: raw[name] for name in SEED_FIELDS if name in raw}
    return {k: v for k, v in raw.items() if k not in seed}, seed


def parse_options(raw: Any, defaults: SessionOptions, limits: OptionLimits | None = None) -> SessionOptions:
    """The options of an API request (``None`` or absent: the server's ``defaults``). Fields given
    replace the defaults', except the mask and hide selectors and the deny list, which add to
    them: a session can mask, hide and refuse more than the server's defaults, never less."""
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        raise ValueError('"options" must be an object, e.g. {"view_only": true, "mask_selectors": ["#ssn"]}')
    refuse_unknown('"options"', raw, sorted(_READERS))
    bounds = limits or OptionLimits()
    read = {name: _READERS[name](name, value, bounds) for name, value in raw.items()}
    for name in ("mask_selectors", "hide_selectors", "deny_domains"):
        if name in read:
            read[name] = tuple(dict.fromkeys((*getattr(defaults, name), *read[name])))
    return replace(defaults, **read)
