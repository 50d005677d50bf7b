"""``cobrowse`` command line: ``cobrowse serve`` runs the server; the other subcommands
(``SUBCOMMANDS``) work with what it keeps (``cobrowse audit``: ``proxy.audit_cli``; ``cobrowse keys``:
``proxy.keys_cli``).

``serve``'s settings come from a TOML file, the environment and its flags, merged once into the
frozen ``Config`` by ``proxy.settings`` (the table of settings; file < environment < flags).
Secrets (``COBROWSE_API_KEY``, ``COBROWSE_SECRET_KEY``, ``COBROWSE_AUDIT_KEYS``) are best kept
in the environment or the file, out of process lists; a key the operator supplied is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from proxy import audit_cli, keys_cli, logs, purge, settings, stores
from proxy.app import build_app
from proxy.config import ENV_API_KEY, Config
from proxy.serving import loop_factory, serve_until_stopped

log = logging.getLogger("cobrowse")

# Subcommands besides ``serve``: name -> (adds its parser to the subparsers, runs it with the parsed args).
SUBCOMMANDS: Mapping[str, tuple[Callable[[Any], None], Callable[[argparse.Namespace], int]]] = {
    "audit": (audit_cli.add_parser, audit_cli.run),
    "keys": (keys_cli.add_parser, keys_cli.run),
    "purge": (purge.add_parser, purge.run),
}


def build_parser() -> argparse.ArgumentParser:
    """``cobrowse`` and every subcommand; each flag's help ends with its default (``_complete_help``)."""
    parser = argparse.ArgumentParser(
        prog="cobrowse", description="Self-hosted, proxy-based co-browsing engine. "
                                     "`cobrowse <command> --help` describes each command.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    serve = commands.add_parser(
        "serve", help="run the server (console, REST API and proxy)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the cobrowse server. Open the printed console URL in a browser to start a session,\n"
                    "or use the REST API at /api/v1/sessions with the printed API key.\n\n"
                    "Every setting below can also come from a TOML file (--config FILE or $COBROWSE_CONFIG)\n"
                    "or the environment (COBROWSE_<KEY>, e.g. COBROWSE_PORT=8080). Flags win over the\n"
                    "environment, which wins over the file. Stop with SIGTERM or SIGINT: participants are\n"
                    "told, requests in flight finish (--shutdown-grace), the audit trail is closed cleanly.",
        epilog=settings.env_only_help())
    settings.add_flags(serve)
    serve.add_argument("--demo", action="store_true",
                       help="also start the bundled offline demo sites and print a link to them (their loopback "
                            "address is then allowed as a target even when private targets are refused; "
                            "default: off)")
    for add_parser, _ in SUBCOMMANDS.values():
        add_parser(commands)
    _complete_help(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def _complete_help(parser: argparse.ArgumentParser) -> None:
    """Every flag of every subcommand says its default: one whose help does not is given it here
    (a switch: off; nothing: none), so no subcommand's ``--help`` is left incomplete."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _complete_help(sub)
        elif action.option_strings and action.help not in (None, argparse.SUPPRESS) \
                and not isinstance(action, argparse._HelpAction) and "default" not in action.help:
            action.help = f"{action.help} (default: {_default_text(action)})"


def _default_text(action: argparse.Action) -> str:
    if isinstance(action, argparse._StoreTrueAction):
        return "off"
    if isinstance(action, argparse._StoreFalseAction):
        return "on"
    return "none" if action.default in (None, "", [], ()) else str(action.default).replace("%", "%%")


def config_from(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Config:
    """The one ``Config`` from the file, the environment (``os.environ`` unless given) and the flags."""
    try:
        return settings.load(args, os.environ if environ is None else environ)
    except settings.SettingsError as exc:
        raise SystemExit(f"cobrowse serve: {exc}") from exc


@contextlib.asynccontextmanager
async def _maybe_demo(enabled: bool) -> AsyncIterator[tuple[dict[str, tuple[str, int]], str]]:
    if not enabled:
        yield {}, ""
        return
    from demo import run_demo

    async with run_demo() as world:
        yield dict(world.overrides), world.start_url


async def serve(config: Config, demo: bool) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully (``proxy.serving.serve_until_stopped``)."""
    async with _maybe_demo(demo) as (overrides, start_url):
        if overrides:
            # The demo's own loopback servers stay reachable even when the guard refuses private targets.
            demo_networks = tuple(sorted({f"{ip}/32" for ip, _ in overrides.values()}))
            config = dataclasses.replace(config, resolve_overrides={**overrides, **config.resolve_overrides},
                                         allowed_networks=config.allowed_networks + demo_networks)
        try:
            store = await stores.connect(config.store)
        except stores.StoreUnavailable as exc:
            raise SystemExit(f"cobrowse serve: {exc}") from None
        await serve_until_stopped(build_app(config, store), config,
                                  lambda: print(banner(config, start_url), flush=True))


# On a shared store a signing key made for this run is always a mistake: another process (or this
# one restarted) refuses every participant it admitted.
SHARED_STORE_NEEDS_KEY = ("  WARNING:  the store is shared but the signing key was made for this run: other processes, "
                          "and this one\n            after a restart, will refuse its participants. Give every "
                          "process the same\n            secret_key ($COBROWSE_SECRET_KEY; docs/scale-out.md)")


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
    if config.secret_key_generated and stores.scheme_of(config.store) != stores.MEMORY:
        lines.append(SHARED_STORE_NEEDS_KEY)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command in SUBCOMMANDS:
        return SUBCOMMANDS[args.command][1](args)
    config = config_from(args)
    logs.configure(config.log_level, config.log_format, secrets=(config.api_key, config.secret_key.decode(
        "utf-8", "replace"), config.audit_keys))
    unknown = settings.unknown_environ(os.environ)
    if unknown:
        log.warning("settings.unknown_environment names=%s: no setting reads these variables (see serve --help)",
                    ",".join(unknown).replace(" ", "_"))
    try:
        with asyncio.Runner(loop_factory=loop_factory(config.loop)) as runner:
            runner.run(serve(config, args.demo))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"cobrowse: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
