"""A session's privacy and control options: what the API's ``options`` object sets.

- ``allow_domains`` / ``deny_domains``: the session's own layer of target domain lists, on top
  of the server's (``sessions.policy.TargetPolicy.narrowed``: it can only refuse more);
- ``view_only``: followers may point and scroll their own view but never get control;
- ``consent``: the leader (the agent) taking control back from a follower (the visitor) who
  drives asks that follower first (``sessions.relay``);
- ``mask_selectors``: fields masked on top of the runtime's defaults (password inputs,
  payment-card ``autocomplete`` fields, ``[data-cobrowse-mask]``): their values and keys
  never leave their owner's browser;
- ``hide_selectors``: elements blanked for every participant but the one in control.

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
from dataclasses import dataclass, replace
from typing import Any, Final

from sessions.policy import normal_pattern

MAX_DOMAINS: Final = 200
MAX_SELECTORS: Final = 50
MAX_SELECTOR_CHARS: Final = 300
# Braces, angle brackets, "@" and ";" could end the rule a selector is put in, or start
# another; comments and backslash escapes are refused for the same reason (they hide them).
_UNSAFE_SELECTOR: Final = re.compile(r"[{}<>@;\\]|/\*|[\x00-\x1f\x7f]")
# A host name in normal form (IDN as punycode), or an IPv4/IPv6 literal.
_HOST: Final = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|[0-9a-f:.]+")


@dataclass(frozen=True, slots=True)
class SessionOptions:
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = ()
    view_only: bool = False
    consent: bool = True
    mask_selectors: tuple[str, ...] = ()
    hide_selectors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"allow_domains": list(self.allow_domains), "deny_domains": list(self.deny_domains),
                "view_only": self.view_only, "consent": self.consent,
                "mask_selectors": list(self.mask_selectors), "hide_selectors": list(self.hide_selectors)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SessionOptions:
        """What ``to_json`` wrote (the store's own data: trusted, not re-validated)."""
        if not data:
            return cls()
        return cls(allow_domains=tuple(map(str, data.get("allow_domains", ()))),
                   deny_domains=tuple(map(str, data.get("deny_domains", ()))),
                   view_only=bool(data.get("view_only", False)), consent=bool(data.get("consent", True)),
                   mask_selectors=tuple(map(str, data.get("mask_selectors", ()))),
                   hide_selectors=tuple(map(str, data.get("hide_selectors", ()))))


def _domains(name: str, value: Any) -> tuple[str, ...]:
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


def _selectors(name: str, value: Any) -> tuple[str, ...]:
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


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f'"options.{name}" must be true or false')
    return value


# option name -> how its JSON value is read (raising ValueError with the message to answer).
_READERS: Final[dict[str, Callable[[str, Any], Any]]] = {
    "allow_domains": _domains, "deny_domains": _domains, "view_only": _flag, "consent": _flag,
    "mask_selectors": _selectors, "hide_selectors": _selectors,
}


def parse_options(raw: Any, defaults: SessionOptions) -> SessionOptions:
    """The options of an API request (``None`` or absent: the server's ``defaults``). Fields given
    replace the defaults', except the mask and hide selectors and the deny list, which add to
    them: a session can mask, hide and refuse more than the server's defaults, never less."""
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        raise ValueError('"options" must be an object, e.g. {"view_only": true, "mask_selectors": ["#ssn"]}')
    unknown = sorted(set(raw) - set(_READERS))
    if unknown:
        raise ValueError(f'"options" has unknown field(s) {", ".join(map(repr, unknown))}; known: '
                         f'{", ".join(sorted(_READERS))}')
    read = {name: _READERS[name](name, value) for name, value in raw.items()}
    for name in ("mask_selectors", "hide_selectors", "deny_domains"):
        if name in read:
            read[name] = tuple(dict.fromkeys((*getattr(defaults, name), *read[name])))
    return replace(defaults, **read)
