"""``cobrowse`` command line: ``cobrowse serve`` runs the server; ``cobrowse audit`` works
with the audit trails it writes (``proxy.audit_cli``).

Flags are turned into the frozen ``Config`` here, once; the environment supplies only
secrets (``COBROWSE_API_KEY``, ``COBROWSE_SECRET_KEY``, ``COBROWSE_AUDIT_KEYS``) so they stay
out of process lists, and the default data directory (``COBROWSE_DATA_DIR``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import re
import sys
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit

from aiohttp import web

from proxy import audit_cli
from proxy.app import build_app
from proxy.config import DEFAULT_DOMAIN, ENV_API_KEY, Config, default_data_dir, env_audit_keys, env_secrets
from proxy.serving import make_runner
from sessions.audit_bodies import BodyRules
from sessions.options import SessionOptions, parse_options

log = logging.getLogger("cobrowse")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cobrowse", description="Self-hosted, proxy-based co-browsing engine.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the server (console, REST API and proxy)",
        description="Run the cobrowse server. Open the printed console URL in a browser to start a "
                    "session, or use the REST API at /api/v1/sessions with the printed API key.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--domain", default=DEFAULT_DOMAIN,
                       help="domain of the control plane; sessions use its subdomains "
                            f"(default {DEFAULT_DOMAIN}, which needs no DNS set-up)")
    serve.add_argument("--api-key", default="",
                       help="API key for the REST API and console (default: $COBROWSE_API_KEY, else a new "
                            "random key, printed once at start; a key you supply is never printed). Prefer the "
                            "environment variable: a flag is visible in process lists")
    serve.add_argument("--public-url", default="",
                       help="how browsers reach this server when it sits behind a TLS proxy, e.g. "
                            "https://cobrowse-example.com (default: http://<domain>:<port>)")
    guard = serve.add_mutually_exclusive_group()
    guard.add_argument("--allow-private", dest="allow_private", action="store_true", default=None,
                       help="let sessions visit loopback/private addresses (default: only while "
                            "listening on loopback)")
    guard.add_argument("--no-allow-private", dest="allow_private", action="store_false",
                       help="refuse loopback/private targets even when listening on loopback")
    serve.add_argument("--allow-network", action="append", default=[], metavar="CIDR",
                       help="allow targets in this private network (repeatable)")
    serve.add_argument("--allow-domain", action="append", default=[], metavar="DOMAIN",
                       help="only these target domains (and their subdomains) may be co-browsed, checked on every "
                            "path: pages, WebSockets, CORS preflights, cookies, and the start URL (repeatable)")
    serve.add_argument("--deny-domain", action="append", default=[], metavar="DOMAIN",
                       help="never these target domains or their subdomains; deny wins over allow (repeatable). Ports "
                            "browsers refuse (22, 25, ...; the Fetch standard's bad ports) and 6379 are always refused")
    serve.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT=IP:PORT",
                       help="send requests for HOST:PORT to IP:PORT (like curl --resolve; repeatable)")
    serve.add_argument("--timeout", type=float, default=60.0,
                       help="total deadline in seconds for a target's answer (default 60)")
    serve.add_argument("--max-followers", type=int, default=10,
                       help="how many visitors may join one session (default 10)")
    serve.add_argument("--demo", action="store_true",
                       help="also start the bundled offline demo sites and print a link to them (their loopback "
                            "address is then allowed as a target even when private targets are refused)")
    serve.add_argument("--data-dir", default="",
                       help="where the audit trail (audit/<session>.jsonl) and its key file (audit.keys, made on "
                            "first run, mode 0600) are kept (default: $COBROWSE_DATA_DIR, else "
                            "$XDG_DATA_HOME/cobrowse or ~/.local/share/cobrowse). Audit keys may instead come from "
                            "$COBROWSE_AUDIT_KEYS ('id:base64key,...', the last one current)")
    serve.add_argument("--no-audit", dest="audit", action="store_false",
                       help="do not write the audit trail (by default every proxied exchange and session event is "
                            "recorded, encrypted and hash-chained; see `cobrowse audit --help`)")
    serve.add_argument("--audit-redact-header", action="append", default=[], metavar="NAME",
                       help="also keep this header's value out of the audit trail (repeatable; Cookie, Set-Cookie, "
                            "Authorization and Proxy-Authorization always are)")
    serve.add_argument("--audit-bodies", type=int, default=0, metavar="BYTES",
                       help="keep the first BYTES of each request and response body in the audit trail, decoded "
                            "and redacted before storage (default 0: bodies are not kept)")
    for flag, metavar, text in _BODY_REDACTION_FLAGS:
        serve.add_argument(flag, action="append", default=[], metavar=metavar, help=text)
    serve.add_argument("--mask-selector", action="append", default=[], metavar="CSS",
                       help="in every session, also mask the fields this selector matches (repeatable; password "
                            "inputs, payment-card autocomplete fields and [data-cobrowse-mask] always are): their "
                            "values and keys never leave the owner's browser; sessions may add more")
    serve.add_argument("--hide-selector", action="append", default=[], metavar="CSS",
                       help="in every session, blank the elements this selector matches for everyone but the "
                            "participant in control (repeatable; sessions may add more)")
    serve.add_argument("--view-only", action="store_true",
                       help="sessions are view-only unless the API says otherwise: visitors may point and scroll "
                            "but never get control")
    serve.add_argument("--no-consent", dest="consent", action="store_false",
                       help="let the agent take control back from a visitor without asking (by default the "
                            "visitor who drives is asked first); the API may still ask for consent per session")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    audit_cli.add_parser(commands)
    return parser.parse_args(argv)


# Body patterns kept out of the audit trail (``sessions.audit_bodies``), each repeatable.
_BODY_REDACTION_FLAGS = (
    ("--audit-redact-field", "NAME", "keep this form field's or JSON key's (at any depth) value out of kept bodies "
     "(repeatable; password-like names, cobrowse credentials and the names of the fields a session masks always "
     "are)"),
    ("--audit-redact-json", "PATH", "keep the value at this JSON path (e.g. $.user.ssn, $.cards[*].number) out of "
     "kept bodies (repeatable)"),
    ("--audit-redact-regex", "RE", "replace what this regular expression matches in kept bodies (repeatable)"),
)


def parse_resolve(values: Sequence[str]) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for value in values:
        name, sep, target = value.partition("=")
        ip, _, port = target.rpartition(":")
        if not sep or ":" not in name or not ip or not port.isdigit():
            raise SystemExit(f"--resolve {value!r}: expected HOST:PORT=IP:PORT, e.g. app.test:80=127.0.0.1:8000")
        out[name.lower()] = (ip.strip("[]"), int(port))
    return out


def config_from(args: argparse.Namespace) -> Config:
    env_key, secret = env_secrets()
    public_scheme, public_port = "http", None
    if args.public_url:
        parts = urlsplit(args.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SystemExit("--public-url must look like https://cobrowse-example.com")
        public_scheme = parts.scheme
        public_port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        BodyRules.configured(args.audit_redact_field, args.audit_redact_json, args.audit_redact_regex)
    except (ValueError, re.error) as exc:
        raise SystemExit(f"audit body redaction: {exc}") from exc
    try:
        return Config(host=args.host, port=args.port, domain=args.domain, api_key=args.api_key or env_key,
                      secret_key=secret, public_scheme=public_scheme, public_port=public_port,
                      allow_private=args.allow_private, allowed_networks=tuple(args.allow_network),
                      allow_domains=tuple(args.allow_domain), deny_domains=tuple(args.deny_domain),
                      resolve_overrides=parse_resolve(args.resolve), total_deadline=args.timeout,
                      max_followers=args.max_followers, data_dir=args.data_dir or default_data_dir(),
                      audit=args.audit, audit_keys=env_audit_keys(),
                      audit_redact_headers=tuple(args.audit_redact_header), audit_bodies=max(0, args.audit_bodies),
                      audit_redact_fields=tuple(args.audit_redact_field),
                      audit_redact_json=tuple(args.audit_redact_json),
                      audit_redact_regex=tuple(args.audit_redact_regex),
                      session_defaults=parse_options({"mask_selectors": args.mask_selector,
                                                      "hide_selectors": args.hide_selector,
                                                      "view_only": args.view_only, "consent": args.consent},
                                                     SessionOptions()))
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc


@contextlib.asynccontextmanager
async def _maybe_demo(enabled: bool) -> AsyncIterator[tuple[dict[str, tuple[str, int]], str]]:
    if not enabled:
        yield {}, ""
        return
    from demo import run_demo

    async with run_demo() as world:
        yield dict(world.overrides), world.start_url


async def serve(config: Config, demo: bool) -> None:
    async with _maybe_demo(demo) as (overrides, start_url):
        if overrides:
            # The demo's own loopback servers stay reachable even when the guard refuses private targets.
            demo_networks = tuple(sorted({f"{ip}/32" for ip, _ in overrides.values()}))
            config = dataclasses.replace(config, resolve_overrides={**overrides, **config.resolve_overrides},
                                         allowed_networks=config.allowed_networks + demo_networks)
        runner = make_runner(build_app(config), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        print(banner(config, start_url), flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def banner(config: Config, demo_url: str) -> str:
    """What ``serve`` prints once it listens. A key the operator supplied (flag or environment)
    is never printed; a generated one is printed here once, and nowhere else (not in logs)."""
    if config.api_key_generated:
        key_lines = [
            f"  console:  {config.control_origin}/#key={config.api_key}",
            f"  API key:  {config.api_key}",
            f"            (generated for this run and shown only here; set {ENV_API_KEY} to choose your own)",
        ]
    else:
        key_lines = [
            f"  console:  {config.control_origin}/",
            f"  API key:  the one you supplied (--api-key or ${ENV_API_KEY}); not printed",
        ]
    lines = [
        f"cobrowse listening on {config.host}:{config.port}",
        *key_lines,
        f"  REST API: {config.control_origin}/api/v1/sessions  (Authorization: Bearer <API key>)",
        f"  private targets (loopback, LAN) allowed: {'yes' if config.private_targets_allowed else 'no'}",
    ]
    if demo_url:
        lines.append(f"  demo site: start a session on {demo_url}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "audit":
        return audit_cli.run(args)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = config_from(args)
    try:
        asyncio.run(serve(config, args.demo))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"cobrowse: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
