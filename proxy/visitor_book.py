"""The visitors of integrators' sites and their watch links, in the shared state.

``VisitorBook`` is the registry every server process shares (``sessions.shared``): what one
process registers, another resumes, watches and starts. It follows the rules of
``sessions.visitors`` and keeps each value as its own key, for its own time:
- ``visitor:<short id>`` the visitor (``visitor_text``), for ``visitor_idle`` after it was last
  seen, and ``visitor-token:<token digest>`` -> its short id, as long;
- ``watch:<digest>`` a watch link (by its token's digest) or a watch (by its secret's digest),
  until ``keep_expired`` after it expires.

Every change of a visitor or a watch is one transaction on its key, so two processes never
lose each other's changes, a link opens once wherever it is opened, and a short id is taken
once (``put_new``). Methods hand out copies: a change is made through the book, never by
changing what it handed out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from sessions.branding import Branding
from sessions.ids import digest, new_secret
from sessions.seed import SeedCookie
from sessions.shared import Shared, Write
from sessions.visitors import (
    MAX_HANDOFF_COOKIES,
    Agent,
    LinkRefused,
    Visitor,
    VisitorLimits,
    Watch,
    holds,
    new_link,
    new_short_id,
    normal_short_id,
    refusal,
    visitor_from,
    visitor_text,
    waiting,
    watch_from,
    watch_of,
    watch_text,
)

VISITOR: Final = "visitor:"
TOKEN: Final = "visitor-token:"
WATCH: Final = "watch:"


class VisitorBook:
    def __init__(self, shared: Shared, limits: VisitorLimits | None = None) -> None:
        self._shared = shared
        self.limits = limits or VisitorLimits()

    # -- visitors ---------------------------------------------------------------------------

    async def register(self, site_key_id: str, origin: str, url: str, now: float, token: str = "",
                       ask_consent: bool = True) -> tuple[Visitor, str]:
        """Resume the visitor ``token`` names (same site key and origin), else make a new one;
        the visitor and the token its browser keeps (the same one when resumed)."""
        found = await self.by_token(token, now) if token else None
        if found is not None and found.site_key_id == site_key_id and found.origin == origin:
            def resume(v: Visitor) -> None:
                v.url, v.seen_at, v.ask_consent = url, now, ask_consent

            resumed = await self._change(found.short_id, resume)
            if resumed is not None:
                await self._shared.put(TOKEN + resumed.token_digest, resumed.short_id, self.limits.visitor_idle)
                return resumed, token
        token = new_secret()
        while True:
            visitor = Visitor(new_short_id(), site_key_id, origin, digest(token), url, now, now, ask_consent)
            if await self._shared.put_new(VISITOR + visitor.short_id, visitor_text(visitor), self.limits.visitor_idle):
                break
        await self._shared.put(TOKEN + visitor.token_digest, visitor.short_id, self.limits.visitor_idle)
        return visitor, token

    async def get(self, short_id: str, now: float) -> Visitor | None:
        visitor = visitor_from(await self._shared.get(VISITOR + normal_short_id(short_id)))
        if visitor is None or now - visitor.seen_at > self.limits.visitor_idle:
            return None
        return visitor

    async def by_token(self, token: str, now: float) -> Visitor | None:
        short = await self._shared.get(TOKEN + digest(token)) if token else None
        return await self.get(short, now) if short else None

    async def seen(self, visitor: Visitor, now: float) -> Visitor | None:
        def note(v: Visitor) -> None:
            v.seen_at = now

        seen = await self._change(visitor.short_id, note)
        if seen is not None:
            await self._shared.put(TOKEN + seen.token_digest, seen.short_id, self.limits.visitor_idle)
        return seen

    async def hand_off(self, visitor: Visitor, cookies: tuple[SeedCookie, ...]) -> None:
        """Keep the site's HttpOnly cookies for the visitor's next session (replacing earlier ones)."""
        def keep(v: Visitor) -> None:
            v.handoff = cookies[:MAX_HANDOFF_COOKIES]

        await self._change(visitor.short_id, keep)

    async def decline(self, visitor: Visitor) -> None:
        def no(v: Visitor) -> None:
            v.declined, v.asked_by = True, []

        await self._change(visitor.short_id, no)

    async def leave(self, visitor: Visitor) -> None:
        """The visitor's session is over for it: the next watch link asks again."""
        def out(v: Visitor) -> None:
            v.session_id = ""

        await self._change(visitor.short_id, out)

    async def attach(self, visitor: Visitor, session_id: str, now: float) -> list[Watch]:
        """The visitor moved into ``session_id``: every watch waiting for it goes there too."""
        asked: list[str] = []

        def enter(v: Visitor) -> None:
            asked[:] = v.asked_by
            v.session_id, v.asked_by, v.handoff = session_id, [], ()

        await self._change(visitor.short_id, enter)

        def into(w: Watch) -> None:
            w.session_id = session_id

        moved = [await self._change_watch(watch_id, into, now) for watch_id in asked]
        return [w for w in moved if w is not None]

    async def _change(self, short_id: str, change: Callable[[Visitor], None]) -> Visitor | None:
        """Change the visitor in one transaction (its idle time starts again); the changed copy,
        None when it is gone."""
        ttl = self.limits.visitor_idle

        def apply(held: str | None) -> tuple[Write | None, Visitor | None]:
            visitor = visitor_from(held)
            if visitor is None:
                return None, None
            change(visitor)
            return Write(value=visitor_text(visitor), ttl=ttl), visitor

        return await self._shared.transact(VISITOR + short_id, apply)

    # -- watch links and watches ------------------------------------------------------------

    async def issue_link(self, visitor: Visitor, agent: Agent, branding: Branding, now: float,
                         api_key_id: str = "") -> tuple[str, Watch]:
        """A single-use watch link's token for ``visitor``, and the link as kept."""
        token, link = new_link(visitor, agent, branding, now, api_key_id)
        await self._keep(link, now)
        return token, link

    async def open_link(self, token: str, now: float) -> tuple[Watch, str]:
        """Open a watch link, once wherever it is opened: the watch the agent's browser now holds
        and its secret, or ``LinkRefused``. The visitor is asked (``asked_by``) unless already in
        a session."""
        link = watch_from(await self._shared.get(WATCH + digest(token))) if token else None
        refused = refusal(link, now)
        if refused is not None:
            raise refused
        assert link is not None
        visitor = await self.get(link.short_id, now)
        if visitor is None:
            raise LinkRefused("expired", link.branding)

        def claim(held: str | None) -> tuple[Write | None, LinkRefused | None]:
            current = watch_from(held)
            why = refusal(current, now)
            if why is not None or current is None:
                return None, why
            current.opened = True
            return Write(value=watch_text(current), ttl=self._watch_ttl(current, now)), None

        refused = await self._shared.transact(WATCH + link.id, claim)
        if refused is not None:
            raise refused
        watch, secret = watch_of(link, visitor, now)
        await self._keep(watch, now)
        if not watch.session_id:
            def ask(v: Visitor) -> None:
                v.asked_by.append(watch.id)
                v.declined = False

            await self._change(visitor.short_id, ask)
        return watch, secret

    async def watch(self, secret: str, now: float) -> Watch | None:
        found = watch_from(await self._shared.get(WATCH + digest(secret))) if secret else None
        return found if holds(found, now) else None

    async def pending(self, visitor: Visitor, now: float) -> Watch | None:
        """The first watch still waiting for the visitor's answer, if any."""
        for watch_id in visitor.asked_by:
            watch = watch_from(await self._shared.get(WATCH + watch_id))
            if waiting(watch, now):
                return watch
        return None

    async def _keep(self, watch: Watch, now: float) -> None:
        await self._shared.put(WATCH + watch.id, watch_text(watch), self._watch_ttl(watch, now))

    def _watch_ttl(self, watch: Watch, now: float) -> float:
        return max(1.0, watch.expires_at + self.limits.keep_expired - now)

    async def _change_watch(self, watch_id: str, change: Callable[[Watch], None], now: float) -> Watch | None:
        def apply(held: str | None) -> tuple[Write | None, Watch | None]:
            watch = watch_from(held)
            if watch is None:
                return None, None
            change(watch)
            return Write(value=watch_text(watch), ttl=self._watch_ttl(watch, now)), watch

        return await self._shared.transact(WATCH + watch_id, apply)
