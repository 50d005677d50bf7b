"""A session's branding: what cobrowse chrome the agent sees around the co-browsed page.

- ``naked``: no cobrowse chrome at all on the agent's pages (no bar, no pointers or ripples, no
  end overlay): the integrator frames it and acts through the API;
- ``no_bottom_bar``: keep the overlays (pointers, ripples, the end) but drop the bar;
- ``retry_url``: where the agent is sent when their entry link has expired or been used (an
  absolute http(s) URL, ``sessions.safe_urls``), instead of cobrowse's own refusal page
  (``proxy.control.enter``; watch links keep their own, ``proxy.visitors``).

``naked`` and ``no_bottom_bar`` apply to the leader (the agent) only (``chrome``): a visitor always
keeps the bar, since it is where they are asked for control and see who is watching. Only these
keys are accepted: an unknown key is refused, naming it, so a typo never passes silently.
Immutable; round-trips through ``to_json``/``from_json``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sessions.safe_urls import absolute_http_url
from sessions.strict import refuse_unknown

BRANDING_KEYS: Final = ("naked", "no_bottom_bar", "retry_url")


@dataclass(frozen=True, slots=True)
class Branding:
    naked: bool = False
    no_bottom_bar: bool = False
    retry_url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"naked": self.naked, "no_bottom_bar": self.no_bottom_bar, "retry_url": self.retry_url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Branding:
        """What ``to_json`` wrote (the store's own data: trusted, not re-validated)."""
        if not data:
            return cls()
        return cls(bool(data.get("naked", False)), bool(data.get("no_bottom_bar", False)),
                   str(data.get("retry_url", "")))


def chrome(branding: Branding, role: str) -> str:
    """What the runtime shows a participant (``static/runtime/s50-toolbar.js``): ``full``, ``overlays``
    (no bar) or ``none``."""
    if role != "leader":
        return "full"
    return "none" if branding.naked else "overlays" if branding.no_bottom_bar else "full"


def parse_branding(field_name: str, raw: Any) -> Branding:
    """The ``branding`` object of an API request, strictly: known keys, right types."""
    if raw is None:
        return Branding()
    if not isinstance(raw, dict):
        raise ValueError(f'"{field_name}" must be an object, e.g. {{"naked": true, '
                         '"retry_url": "https://example.com/help"}')
    refuse_unknown(f'"{field_name}"', raw, BRANDING_KEYS)
    for flag in ("naked", "no_bottom_bar"):
        if flag in raw and not isinstance(raw[flag], bool):
            raise ValueError(f'"{field_name}.{flag}" must be true or false')
    return Branding(naked=raw.get("naked", False), no_bottom_bar=raw.get("no_bottom_bar", False),
                    retry_url=absolute_http_url(f"{field_name}.retry_url", raw.get("retry_url")))
