"""Log lines: text for a person at a terminal, one JSON object per line for a log collector.

The house style of a log message is ``event key=value key=value`` with an optional ``: why``
after the pairs (``session.ended session=abc by=api``). ``JsonFormatter`` keeps the message and
lifts the event and the pairs into fields, so ``session`` and ``participant`` (and ``conn``,
``status``, ...) are fields a collector can filter on; ``extra={"session": ...}`` works too.
Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; an exception's
traceback goes in ``exception``. Ids the message does not name come from ``bind``: once a proxied
request is admitted (``proxy.handler``), its session and participant are bound to the request's
task, so whatever is logged while serving it (the upstream client's lines too) carries them. The
record's own ids win over bound ones.

What is never logged: cookies, tokens, API keys and bodies. The code's messages carry ids, not
values (``proxy.serving`` keeps even a malformed request's line out); as a second guard,
``configure`` is given the server's secrets (API key, signing key, audit keys) and any of them
found in a finished line, text or JSON, is replaced by ``[REDACTED]``.

``configure`` sets up the root logger once, in ``cobrowse serve``'s ``main``: logging's handlers
are process-wide by nature. The bound ids live in a context variable, which asyncio gives each
task its own copy of (aiohttp runs each request in a task of its own): nothing is shared between
requests.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REDACTED = "[REDACTED]"
MIN_SECRET = 8  # shorter values would blank ordinary words; keys are far longer
_PAIR = re.compile(r"(?<!\S)([a-z_][a-z0-9_]*)=(\S+)")
_EVENT = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+(?=\s|:|$)")
# ``extra`` attributes lifted into the JSON object (besides the message's own pairs).
EXTRA_FIELDS = ("session", "participant", "conn")
RESERVED = frozenset({"time", "level", "logger", "message", "event", "exception"})


_BOUND: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("cobrowse_log_ids", default=())


def bind(**ids: str) -> None:
    """Ids (``session``, ``participant``) for every record logged from here on in this task and
    the tasks and callbacks it starts."""
    _BOUND.set(tuple((key, value) for key, value in ids.items() if value))


class Redacting(logging.Formatter):
    """A formatter whose finished lines never carry one of ``secrets``."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for its fields)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": message,
        }
        event = _EVENT.match(message)
        if event:
            out["event"] = event.group(0)
        head = message.split(": ", 1)[0]  # pairs come before the explanation
        for key, value in _PAIR.findall(head):
            if key not in RESERVED:
                out.setdefault(key, value)
        for key in EXTRA_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = str(value)
        for key, value in _BOUND.get():
            out.setdefault(key, value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def use_json(fmt: str, stream: TextIO) -> bool:
    """``json``/``text`` as asked; ``auto``: text on a terminal, JSON otherwise."""
    if fmt == "auto":
        return not (hasattr(stream, "isatty") and stream.isatty())
    return fmt == "json"


def handler(fmt: str, secrets: Iterable[str] = (), stream: TextIO | None = None) -> logging.Handler:
    """A stream handler writing ``fmt`` lines with ``secrets`` redacted."""
    stream = stream if stream is not None else sys.stderr
    inner = JsonFormatter() if use_json(fmt, stream) else logging.Formatter(TEXT_FORMAT)
    out = logging.StreamHandler(stream)
    out.setFormatter(Redacting(inner, secrets))
    return out


def configure(level: str, fmt: str, secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """The root logger writes ``level`` and above as ``fmt`` to ``stream`` (standard error)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(fmt, secrets, stream))
    root.setLevel(level.upper())
