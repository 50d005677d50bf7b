"""The one configuration object: a frozen ``Config``, built once and passed explicitly.

``cobrowse serve`` builds it from a TOML file, the environment and its flags
(``proxy.settings``: the table of settings and the merge, file < environment < flags). Each
default is declared once: here, as the field's default, or, for what the sessions layer owns, in
its dataclass (``Lifecycle``, ``OptionLimits``, ``Lifetimes``, ``ResponseLimits``), which the
field reads; modules of ``proxy/`` with settings of their own (``UpstreamSettings``,
``AuditSettings``) take their defaults from ``config_default``.

Nothing in the project reads ``os.environ`` but ``proxy.settings`` (through the mapping the CLI
hands it) and the helpers at the end of this module, which the CLI calls.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from sessions.lifecycle import Lifecycle
from sessions.options import OptionLimits, SessionOptions
from sessions.responses import ResponseLimits
from sessions.service import Lifetimes

DEFAULT_DOMAIN = "cobrowse.localhost"
ENV_API_KEY = "COBROWSE_API_KEY"
ENV_AUDIT_KEYS = "COBROWSE_AUDIT_KEYS"
ENV_DATA_DIR = "COBROWSE_DATA_DIR"
# Event loops ``cobrowse serve`` may run on (``Config.loop``): "auto" is uvloop when it is installed.
LOOPS = ("auto", "asyncio", "uvloop")
# The sessions layer declares the defaults of what it owns; Config reads them (declared once).
_LIFECYCLE = Lifecycle()
_OPTION_LIMITS = OptionLimits()
_LIFETIMES = Lifetimes()
_RESPONSE_LIMITS = ResponseLimits()


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    domain: str = DEFAULT_DOMAIN
    api_key: str = field(default="", repr=False)  # secrets stay out of repr (a logged Config holds none)
    secret_key: bytes = field(default=b"", repr=False)
    # How browsers reach us (differs from host/port behind a TLS-terminating load balancer).
    public_scheme: str = "http"
    public_port: int | None = None
    # SSRF guard: None means "allow private targets only while listening on loopback alone".
    allow_private: bool | None = None
    allowed_networks: tuple[str, ...] = ()
    resolve_overrides: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_deadline: float = 60.0
    max_rewrite_body: int = 32 * 1024 * 1024
    max_request_body: int = 32 * 1024 * 1024
    max_ws_message: int = 4 * 1024 * 1024
    # Session lifecycle (sessions.lifecycle): a session lives session_lifetime seconds unless its
    # options.expires_in says otherwise (at most max_session_lifetime), ends after idle_timeout
    # seconds without a proxied request or sync message (0: never), and its metadata is purged
    # retention seconds after it ended.
    session_lifetime: float = _LIFECYCLE.lifetime
    max_session_lifetime: float = _OPTION_LIMITS.max_expires_in
    idle_timeout: float = _LIFECYCLE.idle_timeout
    retention: float = _LIFECYCLE.retention
    ticket_lifetime: float = _LIFETIMES.ticket
    # Fetch once: how long a follower request waits for the driver's, and what is held to share.
    follower_wait: float = 10.0
    # Followers a session admits through its invitation (the join page answers 409 past it).
    max_followers: int = _OPTION_LIMITS.max_followers
    share_max_response: int = _RESPONSE_LIMITS.max_response
    share_budget: int = _RESPONSE_LIMITS.budget
    # True when no key was supplied and one was made here: only such a key is ever printed.
    api_key_generated: bool = False
    # True when no signing key was supplied: participants' cookies then die with this process, and
    # no other process on a shared store accepts them (cli.banner warns; docs/scale-out.md).
    secret_key_generated: bool = False
    # Where cobrowse keeps state on disk: the audit trail (``audit/``) and its key file. "" keeps
    # nothing on disk, and so writes no audit trail; ``cobrowse serve`` supplies default_data_dir().
    data_dir: str = ""
    audit: bool = True
    audit_keys: str = field(default="", repr=False)  # $COBROWSE_AUDIT_KEYS, else the data dir's key file
    audit_redact_headers: tuple[str, ...] = ()  # header values kept out of the trail beyond the built-in ones
    audit_bodies: int = 0  # bytes of each request and response body kept in the trail (0: none)
    audit_redact_fields: tuple[str, ...] = ()  # form fields and JSON keys (any depth) whose values are kept out
    audit_redact_json: tuple[str, ...] = ()  # JSON paths ($.user.ssn) whose values are kept out
    audit_redact_regex: tuple[str, ...] = ()  # regexes whose matches in any kept body are kept out
    audit_queue: int = 10_000  # records waiting for the disk before overflow (proxy.audit_writer)
    # REST API rate limits (proxy.api_auth): each API key's requests (token bucket: per second, burst),
    # and each client address's failed authentications (per second, burst) before it is refused 429.
    api_rate: float = 20.0
    api_burst: int = 40
    auth_failure_rate: float = 10 / 60
    auth_failure_burst: int = 10
    # What a session's options are when the API does not set them (sessions.options).
    session_defaults: SessionOptions = field(default_factory=SessionOptions)
    log_level: str = "info"
    log_format: str = "auto"  # json | text | auto: text on a terminal, JSON lines otherwise (proxy.logs)
    # Stopping (SIGTERM, SIGINT): how long requests in flight may take to finish (proxy.serving).
    shutdown_grace: float = 10.0
    # Where sessions live: "memory" (one process) or a Redis URL shared by several (proxy.stores).
    store: str = "memory"
    # The event loop (one of LOOPS; proxy.serving.loop_factory): auto is uvloop when installed.
    loop: str = "auto"

    def __post_init__(self) -> None:
        if not self.api_key:
            object.__setattr__(self, "api_key", secrets.token_urlsafe(24))
            object.__setattr__(self, "api_key_generated", True)
        if not self.secret_key:
            object.__setattr__(self, "secret_key", secrets.token_bytes(32))
            object.__setattr__(self, "secret_key_generated", True)
        if self.public_scheme not in ("http", "https"):
            raise ValueError("public scheme must be http or https")
        if "." not in self.domain.strip("."):
            raise ValueError(f"--domain {self.domain!r} must have at least two labels, e.g. cobrowse.localhost "
                             "(browsers refuse Domain cookies for a single label)")
        object.__setattr__(self, "domain", self.domain.strip(".").lower())

    @property
    def listening_on_loopback_only(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host in ("localhost",)

    @property
    def private_targets_allowed(self) -> bool:
        if self.allow_private is None:
            return self.listening_on_loopback_only
        return self.allow_private

    @property
    def audit_enabled(self) -> bool:
        return self.audit and bool(self.data_dir)

    @property
    def browser_port(self) -> int:
        return self.public_port if self.public_port is not None else self.port

    @property
    def control_origin(self) -> str:
        default = 443 if self.public_scheme == "https" else 80
        port = "" if self.browser_port == default else f":{self.browser_port}"
        return f"{self.public_scheme}://{self.domain}{port}"


def config_default(name: str) -> Any:
    """``Config``'s default for field ``name``: where a module's own settings take theirs from."""
    for f in fields(Config):
        if f.name == name:
            return f.default if f.default_factory is MISSING else f.default_factory()
    raise KeyError(name)


def env_audit_keys(environ: Mapping[str, str] | None = None) -> str:
    """The audit keys the environment supplies ("" when unset: the data dir's key file is used)."""
    env = os.environ if environ is None else environ
    return env.get(ENV_AUDIT_KEYS, "")


def xdg_data_dir(environ: Mapping[str, str]) -> str:
    """``$XDG_DATA_HOME/cobrowse``, else ``~/.local/share/cobrowse``."""
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "cobrowse")


def default_data_dir(environ: Mapping[str, str] | None = None) -> str:
    """``$COBROWSE_DATA_DIR``, else ``xdg_data_dir``."""
    env = os.environ if environ is None else environ
    return env.get(ENV_DATA_DIR) or xdg_data_dir(env)
