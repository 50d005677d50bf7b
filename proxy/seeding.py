"""Handing a visitor's state to a new session: the I/O side of ``sessions.seed``.

- ``read_seed`` reads the seed fields of a create call (``options.cookies``, ``options.storage``,
  and from the snippet ``form``) into a ``SessionSeed``, raising ``ValueError`` naming the field;
- ``plant`` puts its cookies into the session's jar and its page part on the session, before
  any participant has loaded a page (call it right after the session is made);
- ``page_seed`` is what one document's runtime config carries under ``seed``
  (``static/runtime/s65-seed.js``): the storage the first time a participant's page of the
  seed's origin loads, the form values the first time its page at the form's URL loads. The
  store's atomic update decides "first", so two pages loading at once do not both take it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from proxy.keys import STORE
from proxy.visit import Visit
from sessions.model import Session
from sessions.seed import Seed, SeedCookie, parse_cookies, parse_seed, plant_cookies


@dataclass(frozen=True, slots=True)
class SessionSeed:
    cookies: tuple[SeedCookie, ...] = ()
    page: Seed = field(default_factory=Seed)

    @property
    def empty(self) -> bool:
        return not self.cookies and self.page.empty


def read_seed(fields: Mapping[str, Any], target_url: str, now: float, where: str = "options") -> SessionSeed:
    """The seed in ``fields`` (``cookies``, ``storage``, ``form``; each optional)."""
    cookies = parse_cookies(fields.get("cookies"), now, f"{where}.cookies")
    return SessionSeed(cookies, parse_seed(fields.get("storage"), fields.get("form"), target_url, where))


async def plant(app: web.Application, session: Session, seed: SessionSeed, now: float) -> int:
    """Seed ``session``: cookies into its jar, storage and form onto it; how many cookies the jar kept."""
    kept = 0
    if seed.cookies:
        kept = await app[STORE].with_jar(session.id, lambda jar: plant_cookies(jar, seed.cookies,
                                                                              session.target_url, now))
    if not seed.page.empty:
        def put(s: Session) -> None:
            s.seed = seed.page

        await app[STORE].update(session.id, put)
    return kept


async def page_seed(app: web.Application, visit: Visit) -> dict[str, Any] | None:
    """The ``seed`` of this document's runtime config, taken from the session once per participant."""
    seed = visit.session.seed
    pid = visit.participant.id
    if seed.empty or ({f"s:{pid}", f"f:{pid}"} <= visit.session.seeded):
        return None
    offer = seed.for_page(str(visit.origin), visit.real_url)
    if offer is None:
        return None

    def take(session: Session) -> dict[str, Any] | None:
        given: dict[str, Any] = {}
        if f"s:{pid}" not in session.seeded:
            session.seeded.add(f"s:{pid}")
            given.update(local=offer["local"], session=offer["session"])
        if "form" in offer and f"f:{pid}" not in session.seeded:
            session.seeded.add(f"f:{pid}")
            given["form"] = offer["form"]
        return given or None

    return await app[STORE].update(visit.session.id, take)
