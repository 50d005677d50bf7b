"""The visitor's own pages on the control plane, filled in: the join form, the waiting page, the
PIN page (``static/join.html``, ``wait.html``, ``pin.html``, sharing ``static/join.css``).

``render`` replaces ``{{name}}`` slots with HTML-escaped values (names and secrets come from
outside: escaped, never markup) and the one stylesheet slot with ``join.css``; ``flags`` fill
slots with fixed strings chosen by the server (an attribute, never request text). Each page is
served with the strict page CSP (``proxy.security_headers.page_headers``): its one style block
and, on the waiting page, its one script, allowed by hash; nothing from another origin.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from importlib import resources

from aiohttp import web

from proxy.security_headers import page_headers
from sessions.model import Session

STYLE_SLOT = "/*{{join.css}}*/"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# What the consent notice says about control, by the session's view_only option.
CONTROL_NOTICE = {
    True: "You watch only: {agent} keeps control of the pages.",
    False: "{agent} may hand you control so that you can type your own details; you can give it back at any time.",
}


def render(template: str, values: Mapping[str, str], flags: Mapping[str, str] | None = None) -> str:
    folder = resources.files("static")
    page = folder.joinpath(template).read_text("utf-8")
    page = page.replace(STYLE_SLOT, folder.joinpath("join.css").read_text("utf-8"))
    for name, value in (flags or {}).items():
        page = page.replace("{{" + name + "}}", value)
    for name, value in values.items():
        page = page.replace("{{" + name + "}}", html.escape(value, quote=True))
    return page


def page_response(page: str, *, status: int = 200, connect: str = "'none'", form_action: str = "'none'",
                  headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=page, content_type="text/html",
                        headers={**NO_STORE, **page_headers(page, connect=connect, form_action=form_action),
                                 **(headers or {})})


def agent_name(session: Session) -> str:
    leader = session.participants.get(session.leader_id)
    return leader.name if leader else "the agent"


def consent_values(session: Session) -> dict[str, str]:
    """What the consent notice names: the session's extra masked fields, and who controls."""
    extra = len(session.options.mask_selectors)
    masked = f", and {extra} more kind{'s' if extra != 1 else ''} of field this session masks" if extra else ""
    return {"masked": masked, "control": CONTROL_NOTICE[session.options.view_only].format(agent=agent_name(session))}
