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
- Several processes share the queues (``sessions.webhook_state.SharedWebhookStore``); one at a
  time sends a webhook's queue: its worker holds the webhook's lease (``webhook-lease:<id>`` in
  the shared state, this process's tag, renewed at every step, for ``LEASE`` seconds past the
  step's wait). A worker that finds the lease taken stops (the holder sends what was queued);
  the holder lets go when the queue is empty and looks once more, so nothing queued meanwhile
  is left behind. Every ``SWEEP`` seconds, and at start, each process kicks every webhook with
  something pending: a queue whose holder died is taken over once its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from proxy.upstream import UpstreamClient, UpstreamError, UpstreamResponse
from sessions.integration_events import Event
from sessions.policy import BASELINE
from sessions.shared import Shared, SharedUnavailable, Write
from sessions.webhook_sign import HEADER, sign
from sessions.webhook_state import Attempt, Pending, Webhook, WebhookStore

log = logging.getLogger("cobrowse.webhooks")
USER_AGENT = "cobrowse-webhooks/1"
MAX_ANSWER = 64 * 1024  # of a receiver's answer body read (and thrown away) to keep its connection
LEASE_KEY: Final = "webhook-lease:"
LEASE: Final = 30.0  # seconds a worker's lease outlives the step it took it for
SWEEP: Final = 15.0  # seconds between looks for queues nobody sends


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
    def __init__(self, hooks: WebhookStore, shared: Shared, client: UpstreamClient,
                 settings: DeliverySettings | None = None, rand: Callable[[], float] = random.random) -> None:
        self._hooks = hooks
        self._shared = shared
        self._tag = secrets.token_hex(8)  # this process, as a lease names it
        self._sweeper: asyncio.Task[None] | None = None
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

    def start(self) -> None:
        """Resume the queues found (now and every ``SWEEP`` seconds)."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="webhook.sweep")

    async def close(self) -> None:
        self._stopping = True
        workers = list(self._workers.items())
        for task in [self._sweeper, *(task for _, task in workers)]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._workers.clear()
        for hook_id, _ in workers:  # another process takes the queues over at once
            with contextlib.suppress(SharedUnavailable):
                await self._release(hook_id)

    async def _sweep(self) -> None:
        while True:
            try:
                for hook in await self._hooks.all():
                    if await self._hooks.head(hook.id) is not None:
                        self.kick(hook.id)
            except SharedUnavailable as exc:
                log.warning("webhook.sweep_failed error=%s", exc)
            await asyncio.sleep(SWEEP)

    async def _lease(self, hook_id: str, seconds: float) -> bool:
        """Take or keep the webhook's lease for ``seconds``; False: another process holds it."""
        tag = self._tag
        return await self._shared.transact(LEASE_KEY + hook_id, lambda held: (
            (Write(value=tag, ttl=seconds), True) if held in (None, tag) else (None, False)))

    async def _release(self, hook_id: str) -> None:
        tag = self._tag
        await self._shared.transact(LEASE_KEY + hook_id, lambda held: (
            (Write(value=None), None) if held == tag else (None, None)))

    async def _work(self, hook_id: str) -> None:
        try:
            await self._send_queue(hook_id)
        except SharedUnavailable as exc:  # the lease runs out; a sweep resumes the queue
            log.warning("webhook.worker_stopped webhook=%s error=%s", hook_id, exc)
        finally:
            if self._workers.get(hook_id) is asyncio.current_task():
                del self._workers[hook_id]

    async def _send_queue(self, hook_id: str) -> None:
        while not self._stopping:
            if not await self._lease(hook_id, LEASE):
                return  # another process sends this queue
            self._kicked.discard(hook_id)
            hook = await self._hooks.get(hook_id)
            pending = await self._hooks.head(hook_id) if hook is not None else None
            if hook is None or pending is None:
                await self._release(hook_id)
                if hook is not None and (hook_id in self._kicked or await self._hooks.head(hook_id) is not None):
                    continue  # something was queued while we looked or let go
                return
            wait = pending.next_at - time.time()
            if wait > 0:
                await self._lease(hook_id, wait + LEASE)
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
