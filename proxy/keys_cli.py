"""``cobrowse keys``: make, list and revoke the REST API's keys and the snippet's site keys.

- ``cobrowse keys create NAME [--scope S ...]``: an API key with those scopes (every scope when
  none is named); its token is printed once, on the last line, and kept nowhere (only its digest).
- ``cobrowse keys create NAME --site --origin https://shop.example [--origin ...]``: a
  publishable site key for the visitor snippet, usable from pages of those origins only.
- ``cobrowse keys list [--json]``: every key (revoked ones too) with its scopes or origins, when it
  was made, last used (written by servers once a minute) and revoked.
- ``cobrowse keys revoke ID``: the key stops working at once, on every server sharing the data dir.

Keys live in ``<data dir>/api-keys.json`` (``proxy.api_keyfile``; default data dir as for
``serve``); running servers see changes on their next request.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from proxy.api_auth import SCOPES
from proxy.api_keyfile import FileKeyStore
from proxy.config import default_data_dir
from sessions.apikeys import ApiKey, Issued, KeyRing, Kind


def add_parser(commands: Any) -> None:
    keys = commands.add_parser(
        "keys", help="create, list or revoke API keys and site keys",
        description="Manage the keys of the REST API (Authorization: Bearer <token>) and the publishable site "
                    "keys of the visitor snippet. They are kept hashed in <data dir>/api-keys.json; running "
                    "servers using that data dir see changes at once.")
    verbs = keys.add_subparsers(dest="keys_command", required=True)
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument("--data-dir", default="", help="the server's data directory (default: as for serve: "
                                                         "$COBROWSE_DATA_DIR, else ~/.local/share/cobrowse)")
    create = verbs.add_parser("create", parents=[data_dir], help="make a key and print its token once",
                              description="Make a key and print its token once (on the last line); only its "
                                          "SHA-256 digest is kept, so a lost token cannot be shown again: revoke "
                                          "the key and make another.")
    create.add_argument("name", help="what the key is for, e.g. helpdesk-integration")
    create.add_argument("--scope", action="append", default=[], choices=SCOPES,
                        help="what the API key may do (repeatable; default: every scope)")
    create.add_argument("--site", action="store_true",
                        help="make a publishable site key for the visitor snippet instead of an API key")
    create.add_argument("--origin", action="append", default=[], metavar="ORIGIN",
                        help="with --site: an origin whose pages may use the key, e.g. https://shop.example "
                             "(repeatable, at least one)")
    listing = verbs.add_parser("list", parents=[data_dir], help="list every key (revoked ones too)")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    revoke = verbs.add_parser("revoke", parents=[data_dir], help="revoke a key: it stops working at once")
    revoke.add_argument("id", help="the key's id (see `cobrowse keys list`)")


def run(args: argparse.Namespace) -> int:
    store = FileKeyStore(args.data_dir or default_data_dir())
    try:
        return _VERBS[args.keys_command](store, args)
    except (ValueError, OSError) as exc:
        print(f"cobrowse keys {args.keys_command}: {exc}", file=sys.stderr)
        return 2


def _create(store: FileKeyStore, args: argparse.Namespace) -> int:
    if args.site and args.scope:
        raise ValueError("a site key has no API scopes: drop --scope, or drop --site for an API key")
    if args.origin and not args.site:
        raise ValueError("--origin is for site keys: add --site")
    kind: Kind = "site" if args.site else "api"
    scopes = () if args.site else (args.scope or SCOPES)
    made: list[Issued] = []

    def issue(ring: KeyRing) -> KeyRing:
        ring, issued = ring.issue(args.name, kind, time.time(), scopes=scopes, origins=args.origin)
        made.append(issued)
        return ring

    store.update(issue)
    key, token = made[0].key, made[0].token
    what = f"origins {', '.join(key.origins)}" if key.kind == "site" else f"scopes {', '.join(key.scopes)}"
    print(f"created {'site' if key.kind == 'site' else 'API'} key {key.id} ({key.name!r}) with {what}")
    print("its token, shown only now (keep it safe; revoke the key if it is lost):", file=sys.stderr)
    print(token)
    return 0


def _list(store: FileKeyStore, args: argparse.Namespace) -> int:
    keys = sorted(store.ring().keys.values(), key=lambda k: (k.created_at, k.id))
    if args.json:
        for key in keys:
            row = key.to_json()
            del row["digest"]
            print(json.dumps(row))
        return 0
    if not keys:
        print("no keys yet: cobrowse keys create NAME [--scope ...]")
        return 0
    table: list[tuple[str, ...]] = [("ID", "KIND", "NAME", "SCOPES / ORIGINS", "CREATED", "LAST USED", "REVOKED")]
    table += [_row(key) for key in keys]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


def _row(key: ApiKey) -> tuple[str, ...]:
    grants = ",".join(key.origins if key.kind == "site" else key.scopes)
    return (key.id, key.kind, key.name, grants, _when(key.created_at), _when(key.last_used_at),
            _when(key.revoked_at))


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _revoke(store: FileKeyStore, args: argparse.Namespace) -> int:
    try:
        store.update(lambda ring: ring.revoke(args.id, time.time()))
    except KeyError:
        print(f"cobrowse keys revoke: no key {args.id!r} (see `cobrowse keys list`)", file=sys.stderr)
        return 1
    print(f"revoked key {args.id}")
    return 0


_VERBS = {"create": _create, "list": _list, "revoke": _revoke}
