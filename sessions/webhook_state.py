"""Webhooks and their delivery state, behind the one seam a shared backend implements.

A ``Webhook`` belongs to the API key that created it (``key_id``) and gets the events of that
key's sessions whose type it asked for (all when ``events`` is empty). For each webhook the
state holds:
- its queue of ``Pending`` deliveries, oldest first, at most ``Limits.queue``: an event that
  arrives at a full queue is not queued but counted (``dropped``) and noted in the attempts
  log, so a receiver's owner can see the gap;
- the log of delivery ``Attempt``s (the newest ``Limits.attempts``), which the API shows;
- counters: delivered, failed (gave up after the last attempt), dropped.

``WebhookStore`` is the seam: ``MemoryWebhookStore`` here (one process); the Redis backend
(issue 10) implements the same protocol so several nodes share webhooks and their queues.
Its methods are coroutines and hand out copies (frozen values), never live objects. What a
shared backend must add: one node at a time may send a webhook's head (a lease per webhook, or
two nodes would deliver out of order), and a node that starts resumes the queues it finds
(``proxy.webhook_delivery.Deliverer.kick`` each webhook with something pending).

Invariants: a queue only ever changes at its head (``settle``) or its tail (``enqueue``), so
deliveries leave in the order events arrived; removing a webhook drops its queue and log.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Protocol


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


@dataclass(slots=True)
class _State:
    hook: Webhook
    queue: deque[Pending] = field(default_factory=deque)
    log: deque[Attempt] = field(default_factory=deque)
    delivered: int = 0
    failed: int = 0
    dropped: int = 0


class MemoryWebhookStore:
    """The one-process backend: everything in dicts and deques, bounded by ``Limits``."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._hooks: dict[str, _State] = {}

    async def add(self, hook: Webhook) -> bool:
        if sum(1 for s in self._hooks.values() if s.hook.key_id == hook.key_id) >= self.limits.per_key:
            return False
        self._hooks[hook.id] = _State(hook, log=deque(maxlen=self.limits.attempts))
        return True

    async def get(self, hook_id: str) -> Webhook | None:
        state = self._hooks.get(hook_id)
        return state.hook if state is not None else None

    async def of_key(self, key_id: str) -> list[Webhook]:
        return [s.hook for s in self._hooks.values() if s.hook.key_id == key_id]

    async def remove(self, hook_id: str) -> bool:
        return self._hooks.pop(hook_id, None) is not None

    async def enqueue(self, hook_id: str, pending: Pending, now: float) -> bool:
        state = self._hooks.get(hook_id)
        if state is None:
            return False
        if len(state.queue) >= self.limits.queue:
            state.dropped += 1
            state.log.append(Attempt(pending.event_id, pending.event_type, 0, now, "dropped",
                                     error=f"the webhook's queue was full ({self.limits.queue} pending)"))
            return False
        state.queue.append(pending)
        return True

    async def head(self, hook_id: str) -> Pending | None:
        state = self._hooks.get(hook_id)
        return state.queue[0] if state is not None and state.queue else None

    async def settle(self, hook_id: str, attempt: Attempt, retry_at: float | None) -> None:
        state = self._hooks.get(hook_id)
        if state is None or not state.queue or state.queue[0].event_id != attempt.event_id:
            return
        state.log.append(attempt)
        if retry_at is not None:
            state.queue[0] = replace(state.queue[0], attempts=attempt.attempt, next_at=retry_at)
            return
        state.queue.popleft()
        if attempt.outcome == "delivered":
            state.delivered += 1
        else:
            state.failed += 1

    async def attempts(self, hook_id: str, limit: int) -> list[Attempt]:
        state = self._hooks.get(hook_id)
        if state is None:
            return []
        return list(reversed(state.log))[:limit]

    async def counters(self, hook_id: str) -> Counters:
        state = self._hooks.get(hook_id)
        if state is None:
            return Counters()
        return Counters(len(state.queue), state.delivered, state.failed, state.dropped)

    async def close(self) -> None:
        self._hooks.clear()
