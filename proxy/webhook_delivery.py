"""Webhook delivery: each event POSTed, signed, to every webhook of its key that wants its type.

``Deliverer.offer`` is the event bus's sink: it queues the event's one JSON body on each such
webhook (``sessions.webhook_state``; a full queue counts a drop) and wakes that webhook's worker.

Invariants:
- One worker task per webhook with something queued, and it sends one delivery at a time,
  head of the queue first: a receiver sees the events in the order they happened. A failing
  delivery holds the ones behind it until it succeeds or is given up.
- A delivery is a ``POST`` of the event's JSON with ``Cobrowse-Signature``
  (``sessions.webhook_sign``: HMAC-SHA256 over ``f"{t}.{body}"``), ``Cobrowse-Event-Id``,
  ``Cobrowse-Event-Type`` and ``Cobrowse-Delivery-Attempt``. Every attempt sends the same
  body; its signature carries the attempt's own time. A 2xx answer is delivered; anything else
  (another status, a redirect, no answer within ``timeout``, a refused address) is retried
  after ``backoff`` (exponential from ``first_delay``, capped at ``max_delay``, with jitter),
  at most ``attempts`` times in all; each attempt is logged for the deliveries API.
- Webhook URLs are dialled through the upstream client's SSRF guard (``proxy.upstream``): the
  address is vetted at every attempt, loopback and private ranges only where the server allows
  private targets. The server's target domain lists do not apply (a receiver is not a site to
  co-browse); the bad-ports rule does.
- Nothing here blocks the proxy: ``offer`` only queues, and workers are tasks the deliverer
  references until they finish; ``close`` cancels them (what is queued stays in the store).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxy.upstream import UpstreamClient, UpstreamError, UpstreamResponse
from sessions.integration_events import Event
from sessions.policy import BASELINE
from sessions.webhook_sign import HEADER, sign
from sessions.webhook_state import Attempt, Pending, Webhook, WebhookStore

log = logging.getLogger("cobrowse.webhooks")
USER_AGENT = "cobrowse-webhooks/1"
MAX_ANSWER = 64 * 1024  # of a receiver's answer body read (and thrown away) to keep its connection


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    attempts: int = 8  # in all, the first included
    first_delay: float = 2.0  # before the second attempt
    max_delay: float = 600.0
    jitter: float = 0.5  # up to this fraction of a delay is taken off at random
    timeout: float = 10.0  # for one attempt, connecting to the end of the answer's head


DEFAULTS = DeliverySettings()


def backoff(settings: DeliverySettings, failed: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``failed``-th failed attempt: ``first_delay * 2**(failed-1)``,
    capped at ``max_delay``, less up to ``jitter`` of it (so receivers that failed together do
    not all come back at once)."""
    full = min(settings.max_delay, settings.first_delay * float(2 ** max(0, failed - 1)))
    return full * (1.0 - settings.jitter * rand())


async def _drain(response: UpstreamResponse) -> None:
    """Read a short answer to its end so its connection is kept for the next delivery; a long
    one is cut (nobody reads it)."""
    read = 0
    try:
        async for chunk in response.iter_raw():
            read += len(chunk)
            if read > MAX_ANSWER:
                break
    finally:
        response.release()


def body_of(event: Event) -> bytes:
    return json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Deliverer:
    def __init__(self, hooks: WebhookStore, client: UpstreamClient, settings: DeliverySettings | None = None,
                 rand: Callable[[], float] = random.random) -> None:
        self._hooks = hooks
        self._client = client
        self.settings = settings or DEFAULTS
        self._rand = rand
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._kicked: set[str] = set()  # woken while its worker was looking: look again
        self._stopping = False

    async def offer(self, key_id: str, event: Event) -> None:
        """The bus's sink: queue ``event`` on each of the key's webhooks that wants it."""
        body = body_of(event)
        for hook in await self._hooks.of_key(key_id):
            if hook.wants(event.type) and await self._hooks.enqueue(
                    hook.id, Pending(event.id, event.type, body), time.time()):
                self.kick(hook.id)

    def kick(self, hook_id: str) -> None:
        """Make sure a worker is on ``hook_id``'s queue."""
        if self._stopping:
            return
        self._kicked.add(hook_id)
        if hook_id not in self._workers:
            self._workers[hook_id] = asyncio.get_running_loop().create_task(self._work(hook_id),
                                                                            name=f"webhook.{hook_id}")

    async def close(self) -> None:
        self._stopping = True
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    async def _work(self, hook_id: str) -> None:
        while not self._stopping:
            self._kicked.discard(hook_id)
            hook = await self._hooks.get(hook_id)
            pending = await self._hooks.head(hook_id) if hook is not None else None
            if hook is None or pending is None:
                if hook is not None and hook_id in self._kicked:
                    continue  # something was queued while we looked
                self._workers.pop(hook_id, None)
                return
            wait = pending.next_at - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # look again: the webhook may be gone
            attempt = await self._attempt(hook, pending)
            await self._hooks.settle(hook_id, attempt, attempt.next_retry_at)

    async def _attempt(self, hook: Webhook, pending: Pending) -> Attempt:
        number = pending.attempts + 1
        started = time.time()
        headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", USER_AGENT),
            (HEADER, sign(hook.secret, int(started), pending.body)),
            ("Cobrowse-Event-Id", pending.event_id),
            ("Cobrowse-Event-Type", pending.event_type),
            ("Cobrowse-Delivery-Attempt", str(number)),
        ]
        status, error = 0, ""
        try:
            response = await self._client.open("POST", hook.url, headers, pending.body,
                                                deadline=self.settings.timeout, policy=BASELINE)
            status = response.status
            await _drain(response)
        except UpstreamError as exc:
            error = str(exc) or type(exc).__name__
        ended = time.time()
        took = round((ended - started) * 1000, 1)
        if 200 <= status < 300:
            return Attempt(pending.event_id, pending.event_type, number, started, "delivered", status,
                           duration_ms=took)
        error = error or f"the receiver answered {status}"
        if number >= self.settings.attempts:
            log.warning("webhook.gave_up webhook=%s event=%s attempts=%d", hook.id, pending.event_id, number)
            return Attempt(pending.event_id, pending.event_type, number, started, "failed", status, error,
                           duration_ms=took)
        retry_at = ended + backoff(self.settings, number, self._rand)
        return Attempt(pending.event_id, pending.event_type, number, started, "retrying", status, error,
                       retry_at, took)
