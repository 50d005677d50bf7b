"""Where ``Config`` comes from: a TOML file, the environment and ``serve``'s flags, merged once.

``SETTINGS`` is the table: one row per setting, naming its key (the TOML key, the ``Config``
field unless ``DERIVED`` turns it into others, and ``COBROWSE_<KEY>`` in the environment), its
kind, its flag (``None``: none, as for the signing and audit keys: secrets come from the
environment or the file, never from a process list) and what it does. ``serve --help`` is
built from the same rows, so every flag says what it does and its default.

Precedence: the file (``--config FILE``, else ``$COBROWSE_CONFIG``) < the environment < flags.
A later source replaces a value whole (a list given as a flag replaces the file's list).

Invariants:
- each default is declared once: a setting's default is ``Config``'s field default (or
  ``SessionOptions``' for the server's session defaults); nothing here repeats one;
- flags are registered with ``argparse.SUPPRESS`` defaults, so only flags actually given take
  part in the merge (an absent flag never overrides the file or the environment);
- a key the file does not know is an error naming the key (and a close match); a value of the
  wrong kind is an error naming its source (file, variable or flag);
- secrets are never echoed: an error about one names the source, not the value.

The environment is read only here (``gather``'s ``environ``); ``main`` passes ``os.environ``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from proxy.config import LOOPS, Config, config_default, xdg_data_dir
from sessions.audit_bodies import BodyRules
from sessions.options import SessionOptions, parse_options

ENV_PREFIX = "COBROWSE_"
ENV_CONFIG = "COBROWSE_CONFIG"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "text")


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    kind: str  # one of KINDS
    help: str
    flag: str | None = None  # None: environment and file only
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    shown_default: str = ""  # for the help, when the default is not a plain value

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper()


def _bool_text(text: str) -> bool:
    value = _BOOL_WORDS.get(text.strip().lower())
    if value is None:
        raise ValueError("expected true or false (also 1/0, yes/no, on/off)")
    return value


def _list_text(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("["):
        value = json.loads(text)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a JSON array of strings")
        return value
    return [part.strip() for part in text.split(",") if part.strip()]


_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


@dataclass(frozen=True, slots=True)
class Kind:
    from_text: Callable[[str], Any]  # an environment variable's text
    check: Callable[[Any], bool]  # a TOML value
    expected: str
    flag: Mapping[str, Any]  # argparse keywords


KINDS: Mapping[str, Kind] = {
    "str": Kind(str, lambda v: isinstance(v, str), "a string", {}),
    "int": Kind(int, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", {"type": int}),
    "float": Kind(float, lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number",
                  {"type": float}),
    "bool": Kind(_bool_text, lambda v: isinstance(v, bool), "true or false",
                 {"action": argparse.BooleanOptionalAction}),
    "list": Kind(_list_text, lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                 "an array of strings", {"action": "append"}),
}

S = Setting
SETTINGS: tuple[Setting, ...] = (
    S("host", "str", "address to listen on", "--host"),
    S("port", "int", "port to listen on", "--port"),
    S("domain", "str", "domain of the control plane; sessions use its subdomains (the default needs no DNS set-up)",
      "--domain"),
    S("public_url", "str", "how browsers reach this server when it sits behind a TLS proxy, e.g. "
      "https://cobrowse-example.com", "--public-url", shown_default="http://<domain>:<port>"),
    S("api_key", "str", "API key for the REST API and console; a key you supply is never printed. Prefer "
      "$COBROWSE_API_KEY or the file: a flag is visible in process lists", "--api-key", secret=True,
      shown_default="a new random key, printed once at start"),
    S("secret_key", "str", "key that signs participant credentials (several nodes must share it)", secret=True,
      shown_default="a new random key per run"),
    S("allow_private", "bool", "let sessions visit loopback/private addresses", "--allow-private",
      shown_default="only while listening on loopback"),
    S("allowed_networks", "list", "allow targets in this private network (repeatable)", "--allow-network", "CIDR"),
    S("allow_domains", "list", "only these target domains (and their subdomains) may be co-browsed, checked on every "
      "path: pages, WebSockets, CORS preflights, cookies, and the start URL (repeatable)", "--allow-domain",
      "DOMAIN"),
    S("deny_domains", "list", "never these target domains or their subdomains; deny wins over allow (repeatable). "
      "Ports browsers refuse (22, 25, ...; the Fetch standard's bad ports) and 6379 are always refused",
      "--deny-domain", "DOMAIN"),
    S("resolve", "list", "send requests for HOST:PORT to IP:PORT (like curl --resolve; repeatable)", "--resolve",
      "HOST:PORT=IP:PORT", shown_default="DNS"),
    S("connect_timeout", "float", "seconds to connect to a target", "--connect-timeout", "SECONDS"),
    S("read_timeout", "float", "seconds a target may stay silent while answering", "--read-timeout", "SECONDS"),
    S("total_deadline", "float", "total deadline in seconds for a target's answer", "--timeout", "SECONDS"),
    S("max_request_body", "int", "largest request body a browser may send through the proxy", "--max-request-body",
      "BYTES"),
    S("max_rewrite_body", "int", "largest style sheet or script rewritten, and most of an HTML page held at once "
      "while it streams (larger ones are refused)", "--max-rewrite-body", "BYTES"),
    S("max_ws_message", "int", "largest WebSocket message relayed to or from a target", "--max-ws-message", "BYTES"),
    S("session_lifetime", "float", "seconds a session lives before it ends by itself", "--session-lifetime",
      "SECONDS"),
    S("max_session_lifetime", "float", "longest lifetime a session's options may ask for (expires_in)",
      "--max-session-lifetime", "SECONDS"),
    S("idle_timeout", "float", "seconds without a proxied request or sync message after which a session ends "
      "(0: never)", "--idle-timeout", "SECONDS"),
    S("retention", "float", "seconds an ended session's metadata is kept before it is purged", "--retention",
      "SECONDS"),
    S("ticket_lifetime", "float", "seconds a single-use join ticket stays valid", "--ticket-lifetime", "SECONDS"),
    S("follower_wait", "float", "seconds a follower's request waits for the driver's answer (fetch once)",
      "--follower-wait", "SECONDS"),
    S("max_followers", "int", "how many visitors may join one session", "--max-followers", "N"),
    S("share_max_response", "int", "largest answer kept to serve followers (larger: 502 to followers)",
      "--share-max-response", "BYTES"),
    S("share_budget", "int", "bytes of recorded answers a session may hold for its followers", "--share-budget",
      "BYTES"),
    S("data_dir", "str", "where the audit trail (audit/<session>.jsonl) and its key file (audit.keys, made on first "
      "run, mode 0600) are kept", "--data-dir", "DIR", shown_default="$XDG_DATA_HOME/cobrowse or "
      "~/.local/share/cobrowse"),
    S("audit", "bool", "write the audit trail: every proxied exchange and session event, encrypted and "
      "hash-chained (see `cobrowse audit --help`)", "--audit"),
    S("audit_keys", "str", "the audit trail's keys, 'id:base64key,...' (the last one current)", secret=True,
      shown_default="the data directory's key file"),
    S("audit_redact_headers", "list", "also keep this header's value out of the audit trail (repeatable; Cookie, "
      "Set-Cookie, Authorization and Proxy-Authorization always are)", "--audit-redact-header", "NAME"),
    S("audit_bodies", "int", "keep the first BYTES of each request and response body in the audit trail, decoded "
      "and redacted before storage (0: bodies are not kept)", "--audit-bodies", "BYTES"),
    S("audit_redact_fields", "list", "keep this form field's or JSON key's (at any depth) value out of kept bodies "
      "(repeatable; password-like names, cobrowse credentials and the names of the fields a session masks always "
      "are)", "--audit-redact-field", "NAME"),
    S("audit_redact_json", "list", "keep the value at this JSON path (e.g. $.user.ssn, $.cards[*].number) out of "
      "kept bodies (repeatable)", "--audit-redact-json", "PATH"),
    S("audit_redact_regex", "list", "replace what this regular expression matches in kept bodies (repeatable; in "
      "the environment, a JSON array)", "--audit-redact-regex", "RE"),
    S("audit_queue", "int", "audit records waiting for the disk before new ones are dropped (and counted)",
      "--audit-queue", "RECORDS"),
    S("api_rate", "float", "REST API requests per second each API key may make (sustained)", "--api-rate",
      "PER_SECOND"),
    S("api_burst", "int", "REST API requests an API key may make at once above its rate", "--api-burst", "N"),
    S("auth_failure_rate", "float", "failed authentications per second a client address may make before 429",
      "--auth-failure-rate", "PER_SECOND"),
    S("auth_failure_burst", "int", "failed authentications a client address may make at once",
      "--auth-failure-burst", "N"),
    S("mask_selectors", "list", "in every session, also mask the fields this selector matches (repeatable; password "
      "inputs, payment-card autocomplete fields and [data-cobrowse-mask] always are): their values and keys never "
      "leave the owner's browser; sessions may add more", "--mask-selector", "CSS"),
    S("hide_selectors", "list", "in every session, blank the elements this selector matches for everyone but the "
      "participant in control (repeatable; sessions may add more)", "--hide-selector", "CSS"),
    S("view_only", "bool", "sessions are view-only unless the API says otherwise: visitors may point and scroll but "
      "never get control", "--view-only"),
    S("consent", "bool", "the visitor who drives is asked before the agent takes control back (the API may still "
      "ask per session)", "--consent"),
    S("log_level", "str", "least severe log records written", "--log-level", choices=LOG_LEVELS),
    S("log_format", "str", "log lines as JSON objects or text (auto: text on a terminal, JSON otherwise)",
      "--log-format", choices=LOG_FORMATS),
    S("store", "str", "where sessions live: memory (this process only) or redis://[:PASSWORD@]HOST:PORT/DB "
      "(rediss:// for TLS), shared by every process given the same URL (several processes behind a load "
      "balancer: docs/scale-out.md)", "--store", "URL"),
    S("loop", "str", "the event loop: uvloop (faster per request), asyncio's own, or auto (uvloop when it is "
      "installed)", "--loop", choices=LOOPS),
    S("shutdown_grace", "float", "seconds a stopping server (SIGTERM, SIGINT) lets requests in flight finish",
      "--shutdown-grace", "SECONDS"),
)
del S

BY_KEY: Mapping[str, Setting] = {s.key: s for s in SETTINGS}
_SESSION_KEYS = ("mask_selectors", "hide_selectors", "view_only", "consent")


def _public_url(value: str) -> dict[str, Any]:
    if not value:
        return {}
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("public_url must look like https://cobrowse-example.com")
    return {"public_scheme": parts.scheme, "public_port": parts.port or (443 if parts.scheme == "https" else 80)}


def parse_resolve(values: Sequence[str]) -> dict[str, tuple[str, int]]:
    """``HOST:PORT=IP:PORT`` entries as ``Config.resolve_overrides``."""
    out: dict[str, tuple[str, int]] = {}
    for value in values:
        name, sep, target = value.partition("=")
        ip, _, port = target.rpartition(":")
        if not sep or ":" not in name or not ip or not port.isdigit():
            raise ValueError(f"resolve {value!r}: expected HOST:PORT=IP:PORT, e.g. app.test:80=127.0.0.1:8000")
        out[name.lower()] = (ip.strip("[]"), int(port))
    return out


# Settings that are not a Config field of their own: what each becomes.
DERIVED: Mapping[str, Callable[[Any], dict[str, Any]]] = {
    "public_url": _public_url,
    "resolve": lambda v: {"resolve_overrides": parse_resolve(v)},
    "secret_key": lambda v: {"secret_key": v.encode("utf-8")},
}


def default(key: str) -> Any:
    """A setting's default: ``Config``'s (or ``SessionOptions``') field default, declared there once."""
    if key in _SESSION_KEYS:
        return getattr(SessionOptions(), key)
    try:
        return config_default(key)
    except KeyError:
        return None


class SettingsError(ValueError):
    """A source gave a value cobrowse cannot use; the message names the source and the key."""


def add_flags(parser: argparse.ArgumentParser) -> None:
    """``serve``'s flags, one per row that has one; defaults are SUPPRESSed (see the invariants)."""
    parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help=f"read settings from this TOML file (default: ${ENV_CONFIG}, else none): top-level "
                             "keys, each named below as 'file:', e.g. port = 8080, allow_domains = "
                             "[\"example.com\"]; an unknown key is an error. Precedence: file < environment < flags")
    for s in SETTINGS:
        if s.flag is None:
            continue
        extra: dict[str, Any] = {**KINDS[s.kind].flag}
        if s.metavar:
            extra["metavar"] = s.metavar
        if s.choices:
            extra["choices"] = s.choices
        parser.add_argument(s.flag, dest=s.key, default=argparse.SUPPRESS,
                            help=f"{s.help} (default: {_shown(s)}; file: {s.key}, env: {s.env})", **extra)


def env_only_help() -> str:
    """The settings that have no flag (secrets), for the end of ``serve --help``."""
    rows = [f"  {s.env} (file: {s.key})\n      {s.help} (default: {_shown(s)})" for s in SETTINGS if s.flag is None]
    return "settings read from the environment or the config file only (never a flag):\n" + "\n".join(rows)


def _shown(s: Setting) -> str:
    if s.shown_default:
        return s.shown_default
    value = default(s.key)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list):
        return ", ".join(value) if value else "none"
    if isinstance(value, int) and value >= 1024 * 1024 and value % (1024 * 1024) == 0:
        return f"{value} ({value // (1024 * 1024)} MiB)"
    return str(value)


def read_file(path: str) -> dict[str, Any]:
    """A TOML file's settings, each checked against the table."""
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, value in raw.items():
        setting = BY_KEY.get(key)
        if setting is None:
            near = difflib.get_close_matches(key, BY_KEY, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise SettingsError(f"config file {path}: unknown key {key!r}{hint}")
        kind = KINDS[setting.kind]
        if not kind.check(value):
            raise SettingsError(f"config file {path}: {key} must be {kind.expected}")
        values[key] = float(value) if setting.kind == "float" else value  # TOML writes 7200 for 7200.0
    return values


def read_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings ``COBROWSE_<KEY>`` variables give (an empty variable counts as unset)."""
    values: dict[str, Any] = {}
    for s in SETTINGS:
        text = environ.get(s.env, "")
        if not text:
            continue
        try:
            values[s.key] = KINDS[s.kind].from_text(text)
        except ValueError as exc:
            shown = "" if s.secret else f" {text[:60]!r}"
            raise SettingsError(f"${s.env}{shown}: {exc}") from exc
    return values


def unknown_environ(environ: Mapping[str, str]) -> list[str]:
    """``COBROWSE_*`` variables no setting reads (a typo is otherwise silent), each with a close
    match when there is one; ``serve`` logs them as a warning."""
    known = {s.env for s in SETTINGS} | {ENV_CONFIG}
    found = []
    for name in sorted(n for n in environ if n.startswith(ENV_PREFIX) and n not in known):
        near = difflib.get_close_matches(name, known, n=1)
        found.append(f"{name} (did you mean {near[0]}?)" if near else name)
    return found


def read_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags (absent flags are not in ``args``)."""
    return {s.key: getattr(args, s.key) for s in SETTINGS if s.flag is not None and hasattr(args, s.key)}


def gather(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """Every source's settings, merged: file < environment < flags."""
    path = getattr(args, "config", None) or environ.get(ENV_CONFIG, "")
    from_file = read_file(path) if path else {}
    return {**from_file, **read_environ(environ), **read_flags(args)}


def build(values: Mapping[str, Any], environ: Mapping[str, str]) -> Config:
    """The one ``Config`` for ``cobrowse serve`` from merged settings (raises ``SettingsError``)."""
    fields: dict[str, Any] = {}
    for key, value in values.items():
        setting = BY_KEY[key]
        if key in _SESSION_KEYS:
            continue
        if setting.choices and value not in setting.choices:
            raise SettingsError(f"{key} must be one of {', '.join(setting.choices)}")
        value = tuple(value) if setting.kind == "list" else value
        convert = DERIVED.get(key)
        try:
            fields.update(convert(value) if convert else {key: value})
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
    fields["audit_bodies"] = max(0, fields.get("audit_bodies", 0))
    fields["data_dir"] = fields.get("data_dir") or xdg_data_dir(environ)
    try:
        BodyRules.configured(fields.get("audit_redact_fields", ()), fields.get("audit_redact_json", ()),
                             fields.get("audit_redact_regex", ()))
    except (ValueError, re.error) as exc:
        raise SettingsError(f"audit body redaction: {exc}") from exc
    try:
        session = {key: values[key] for key in _SESSION_KEYS if key in values}
        fields["session_defaults"] = parse_options(session, SessionOptions())
        return Config(**fields)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc


def load(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    return build(gather(args, environ), environ)
