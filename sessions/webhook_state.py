"""Webhooks and their delivery state, behind the one seam a shared backend implements.

A ``Webhook`` belongs to the API key that created it (``key_id``) and gets the events of that
key's sessions whose type it asked for (all when ``events`` is empty). For each webhook the
state holds:
- its queue of ``Pending`` deliveries, oldest first, at most ``Limits.queue``: an event that
  arrives at a full queue is not queued but counted (``dropped``) and noted in the attempts
  log, so a receiver's owner can see the gap;
- the log of delivery ``Attempt``s (the newest ``Limits.attempts``), which the API shows;
- counters: delivered, failed (gave up after the last attempt), dropped.

``WebhookStore`` is the seam; ``SharedWebhookStore`` implements it on the shared state
(``sessions.shared``: in this process, or on Redis for several), so every process shares the
webhooks and their queues. Its methods are coroutines and hand out copies (frozen values),
never live objects. One process at a time sends a webhook's head (a lease per webhook,
``proxy.webhook_delivery``), and a process that starts resumes the queues it finds.

Invariants: a queue only ever changes at its head (``settle``) or its tail (``enqueue``), so
deliveries leave in the order events arrived; removing a webhook drops its queue and log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Protocol

from sessions.shared import Push, Shared, Write


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    key_id: str
    url: str
    secret: str
    created_at: float
    events: tuple[str, ...] = ()  # empty: every type
    description: str = ""

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


@dataclass(frozen=True, slots=True)
class Pending:
    """One event waiting to go to one webhook: the exact body every attempt sends."""

    event_id: str
    event_type: str
    body: bytes
    attempts: int = 0  # made so far
    next_at: float = 0.0  # not before (after a failure: the backoff)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One line of a webhook's deliveries log. ``outcome``: ``delivered`` (2xx), ``retrying``
    (failed; ``next_retry_at`` says when), ``failed`` (the last attempt failed: given up),
    ``dropped`` (never queued: the queue was full; ``attempt`` 0)."""

    event_id: str
    event_type: str
    attempt: int
    at: float
    outcome: str
    status: int = 0  # the receiver's HTTP status (0: no answer)
    error: str = ""
    next_retry_at: float | None = None
    duration_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Counters:
    pending: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"pending": self.pending, "delivered": self.delivered, "failed": self.failed, "dropped": self.dropped}


@dataclass(frozen=True, slots=True)
class Limits:
    queue: int = 1000  # pending deliveries per webhook
    attempts: int = 200  # log lines kept per webhook
    per_key: int = 20  # webhooks per API key


class WebhookStore(Protocol):
    limits: Limits

    async def add(self, hook: Webhook) -> bool:
        """Keep ``hook``; False when its key has ``limits.per_key`` webhooks already."""
        ...

    async def get(self, hook_id: str) -> Webhook | None: ...

    async def all(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        ...

    async def of_key(self, key_id: str) -> list[Webhook]:
        """The key's webhooks, oldest first."""
        ...

    async def remove(self, hook_id: str) -> bool: ...

    async def enqueue(self, hook_id: str, pending: Pending, now: float) -> bool:
        """Queue ``pending`` at the tail; False (counted and logged as dropped) when full or gone."""
        ...

    async def head(self, hook_id: str) -> Pending | None:
        """The oldest pending delivery, or None."""
        ...

    async def settle(self, hook_id: str, attempt: Attempt, retry_at: float | None) -> None:
        """Log ``attempt`` for the head; ``retry_at``: keep the head for another attempt then,
        else take it off the queue (delivered or given up)."""
        ...

    async def attempts(self, hook_id: str, limit: int) -> list[Attempt]:
        """The newest ``limit`` log lines, newest first."""
        ...

    async def counters(self, hook_id: str) -> Counters: ...

    async def close(self) -> None: ...


def _hook_json(hook: Webhook) -> dict[str, Any]:
    return {"id": hook.id, "key_id": hook.key_id, "url": hook.url, "secret": hook.secret,
            "created_at": hook.created_at, "events": list(hook.events), "description": hook.description}


def _hook_from(raw: dict[str, Any]) -> Webhook:
    return Webhook(raw["id"], raw["key_id"], raw["url"], raw["secret"], raw["created_at"], tuple(raw["events"]),
                   raw["description"])


def _hooks(held: str | None) -> dict[str, Webhook]:
    """Every webhook, as the shared state keeps them (one value), oldest first."""
    return {hook_id: _hook_from(raw) for hook_id, raw in json.loads(held).items()} if held else {}


def _hooks_text(hooks: dict[str, Webhook]) -> str | None:
    return json.dumps({h.id: _hook_json(h) for h in hooks.values()}, separators=(",", ":")) if hooks else None


def attempt_text(attempt: Attempt) -> str:
    return json.dumps(asdict(attempt), separators=(",", ":"))


def attempt_from(text: str) -> Attempt:
    return Attempt(**json.loads(text))


@dataclass(frozen=True, slots=True)
class Queue:
    """A webhook's pending deliveries, oldest first, and its counters: one value, so that a
    change of the queue and of its counters is one transaction."""

    items: tuple[Pending, ...] = ()
    delivered: int = 0
    failed: int = 0
    dropped: int = 0

    def text(self) -> str:
        return json.dumps({"items": [[p.event_id, p.event_type, p.body.decode("utf-8"), p.attempts, p.next_at]
                                     for p in self.items],
                           "delivered": self.delivered, "failed": self.failed, "dropped": self.dropped},
                          separators=(",", ":"))

    @classmethod
    def of(cls, held: str | None) -> Queue:
        if not held:
            return cls()
        raw = json.loads(held)
        items = tuple(Pending(i, t, b.encode("utf-8"), n, at) for i, t, b, n, at in raw["items"])
        return cls(items, raw["delivered"], raw["failed"], raw["dropped"])

    def counters(self) -> Counters:
        return Counters(len(self.items), self.delivered, self.failed, self.dropped)


def settled(queue: Queue, attempt: Attempt, retry_at: float | None) -> Queue | None:
    """The queue after ``attempt`` at its head (None: the attempt was not for its head)."""
    if not queue.items or queue.items[0].event_id != attempt.event_id:
        return None
    if retry_at is not None:
        head = replace(queue.items[0], attempts=attempt.attempt, next_at=retry_at)
        return replace(queue, items=(head, *queue.items[1:]))
    if attempt.outcome == "delivered":
        return replace(queue, items=queue.items[1:], delivered=queue.delivered + 1)
    return replace(queue, items=queue.items[1:], failed=queue.failed + 1)


HOOKS: Final = "webhooks"
QUEUE: Final = "webhook-queue:"
LOG: Final = "webhook-log:"


class SharedWebhookStore:
    """The webhooks, their queues and logs in the shared state (``sessions.shared``): every
    server process sees every webhook and queues on the same queues. The webhooks are one value
    (``webhooks``; few per key), each queue with its counters one value (``webhook-queue:<id>``),
    each log a list (``webhook-log:<id>``, its newest ``Limits.attempts``), and the log line of
    a change is appended in the change's own transaction."""

    def __init__(self, shared: Shared, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._shared = shared

    async def add(self, hook: Webhook) -> bool:
        def keep(held: str | None) -> tuple[Write | None, bool]:
            hooks = _hooks(held)
            if sum(1 for h in hooks.values() if h.key_id == hook.key_id) >= self.limits.per_key:
                return None, False
            return Write(value=_hooks_text({**hooks, hook.id: hook})), True

        return await self._shared.transact(HOOKS, keep)

    async def get(self, hook_id: str) -> Webhook | None:
        return _hooks(await self._shared.get(HOOKS)).get(hook_id)

    async def all(self) -> list[Webhook]:
        return list(_hooks(await self._shared.get(HOOKS)).values())

    async def of_key(self, key_id: str) -> list[Webhook]:
        return [h for h in await self.all() if h.key_id == key_id]

    async def remove(self, hook_id: str) -> bool:
        def drop(held: str | None) -> tuple[Write | None, bool]:
            hooks = _hooks(held)
            return (Write(value=_hooks_text(hooks)), True) if hooks.pop(hook_id, None) else (None, False)

        removed = await self._shared.transact(HOOKS, drop)
        await self._shared.delete(QUEUE + hook_id, LOG + hook_id)
        return removed

    async def enqueue(self, hook_id: str, pending: Pending, now: float) -> bool:
        if await self.get(hook_id) is None:
            return False
        limits = self.limits

        def add(held: str | None) -> tuple[Write | None, bool]:
            queue = Queue.of(held)
            if len(queue.items) >= limits.queue:
                drop = Attempt(pending.event_id, pending.event_type, 0, now, "dropped",
                               error=f"the webhook's queue was full ({limits.queue} pending)")
                return Write(value=replace(queue, dropped=queue.dropped + 1).text(),
                             push=(Push(LOG + hook_id, (attempt_text(drop),), limits.attempts),)), False
            return Write(value=replace(queue, items=(*queue.items, pending)).text()), True

        return await self._shared.transact(QUEUE + hook_id, add)

    async def head(self, hook_id: str) -> Pending | None:
        queue = Queue.of(await self._shared.get(QUEUE + hook_id))
        return queue.items[0] if queue.items else None

    async def settle(self, hook_id: str, attempt: Attempt, retry_at: float | None) -> None:
        keep = self.limits.attempts

        def apply(held: str | None) -> tuple[Write | None, None]:
            after = settled(Queue.of(held), attempt, retry_at)
            if after is None:
                return None, None
            return Write(value=after.text(), push=(Push(LOG + hook_id, (attempt_text(attempt),), keep),)), None

        await self._shared.transact(QUEUE + hook_id, apply)

    async def attempts(self, hook_id: str, limit: int) -> list[Attempt]:
        return [attempt_from(t) for t in reversed(await self._shared.items(LOG + hook_id))][:limit]

    async def counters(self, hook_id: str) -> Counters:
        return Queue.of(await self._shared.get(QUEUE + hook_id)).counters()

    async def close(self) -> None:
        pass  # the shared state is the app's, and outlives this process
