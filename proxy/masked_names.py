"""Per session, the names of the fields its pages mask (``privacy`` messages), known to every process.

The audit trail's body redaction (``proxy.audit_trace``) reads them on whichever process proxied
the exchange, synchronously, so each process keeps them in memory; the shared state holds the
authority. ``note`` adds names in one transaction on the session's key (at most
``MAX_MASKED_PER_SESSION`` kept) that also publishes the whole set on the ``masked`` channel,
which every process hears from ``start`` on; ``forget`` (the session ended) deletes the key and
says so on the channel.

Limit: a process hears only what is published after it started (and not what its pub/sub
connection missed while broken); a name noted again is published again.
"""

from __future__ import annotations

import json
from typing import Final

from sessions.shared import Shared, Subscription, Write

MAX_MASKED_PER_SESSION: Final = 512
CHANNEL: Final = "masked"
TTL: Final = 86_400.0  # a session's names outlive no session


def _key(session_id: str) -> str:
    return f"masked:{session_id}"


class MaskedNames:
    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self._names: dict[str, frozenset[str]] = {}
        self._heard: Subscription | None = None

    def names(self, session_id: str) -> frozenset[str]:
        return self._names.get(session_id, frozenset())

    async def note(self, session_id: str, names: frozenset[str]) -> frozenset[str]:
        """Add the names a page reported; those that were new (then every process hears the set)."""
        def change(old: str | None) -> tuple[Write | None, frozenset[str]]:
            known = frozenset(json.loads(old)) if old else frozenset()
            added = frozenset(sorted(names - known)[:max(0, MAX_MASKED_PER_SESSION - len(known))])
            if not added:
                return None, added
            text = json.dumps(sorted(known | added), separators=(",", ":"), ensure_ascii=False)
            return Write(value=text, publish=((CHANNEL, f"{session_id}\n{text}"),), ttl=TTL), added
        added = await self._shared.transact(_key(session_id), change)
        if added:
            self._names[session_id] = self.names(session_id) | added
        return added

    async def forget(self, session_id: str) -> None:
        self._names.pop(session_id, None)
        await self._shared.delete(_key(session_id))
        await self._shared.publish(CHANNEL, f"{session_id}\n")

    async def start(self) -> None:
        self._heard = await self._shared.subscribe(CHANNEL, self._heard_of)

    async def stop(self) -> None:
        if self._heard is not None:
            await self._heard.close()
            self._heard = None

    def _heard_of(self, message: str) -> None:
        session_id, _, text = message.partition("\n")
        if text:
            self._names[session_id] = self.names(session_id) | frozenset(json.loads(text))
        else:
            self._names.pop(session_id, None)
