"""The audit trail's storage seam: where sealed links (``sessions.audit_chain.Link.line``) live.

The embedded default keeps one append-only file per session in a directory
(``proxy.audit_files.DirectoryStore``); a backend shared by several server processes (Redis,
a later issue) implements the same four calls. The writer (``proxy.audit_writer``) is the
only caller that appends, and appends a session's lines in chain order.

Invariants a backend keeps: ``append`` adds the lines after everything appended before for
that session, each line whole (ending in a newline); ``sync`` returns only when everything
appended before it survives a crash of the machine; ``last_line`` is the session's last
complete line (None for an empty or unknown trail), after a cut-short line left by a crash
has been set aside, so the chain goes on from the last whole link.

Several processes (a shared backend): each writer keeps the chain heads of the sessions it
wrote, so two processes appending to one session would fork its chain. A shared backend must
make the append conditional on the head it was sealed after (e.g. a Redis script that appends
only when the stored last hash is the link's ``prev``, and otherwise makes the writer re-read
``last_line`` and seal again), or route each session's records to one writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol


class AuditStore(Protocol):
    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        """Append each session's lines, in order (one call per writer batch)."""
        ...

    async def sync(self) -> None:
        """Make everything appended so far durable."""
        ...

    async def last_line(self, session_id: str) -> bytes | None: ...

    def read(self, session_id: str) -> AsyncIterator[bytes]:
        """The session's stored lines in order, the last possibly cut short."""
        ...

    async def close(self) -> None: ...
