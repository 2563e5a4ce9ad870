"""``sangraha keys`` and ``sangraha presign``: access keys from the command line.

Keys are managed through the admin API with the key the command line holds, except
``keys create --local``, which makes a key in the metadata store itself (the first admin
key of an installation, before any key exists to ask with), and ``keys master-key``,
which prints a new master key and talks to nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sangraha_core import SangrahaError as CoreError
from sangraha_core import Settings
from sangraha_core.access import Grant, KeyView, MasterKey, NewKey, NewKeyView

from ._cli_usage import Parser, UsageError, examples, json_flag
from ._constants import ENV_KEY
from ._sync_client import Client

__all__ = [
    "EXIT_LOCAL_FAILED",
    "add_key_commands",
    "needs_client",
    "parse_duration",
    "run_keys",
    "run_offline",
]

#: The exit code of a local key creation the store or the master key refused.
EXIT_LOCAL_FAILED = 1

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"(\d+)([smhd]?)")


def parse_duration(text: str) -> timedelta:
    """``90m``, ``12h``, ``30d``, ``45s`` or plain seconds."""
    match = _DURATION_RE.fullmatch(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise UsageError(f"a duration looks like 90m, 12h or 30d, not {text!r}")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2] or "s"])


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


def add_key_commands(sub: Any) -> None:
    """The ``keys`` group, under the top-level subparsers ``sub``."""
    keys = sub.add_parser(
        "keys",
        help="manage access keys",
        description="Make, list, show, revoke and rotate access keys through the admin API.",
        epilog=examples(
            "sangraha keys create --grant 'photos-*:read,list' --name gallery --expires 30d",
            "sangraha keys list",
            "sangraha keys revoke SK0123456789abcdef",
            "sangraha keys create --local --data-dir ./sangraha-data --grant '*:admin'",
        ),
    )
    commands = keys.add_subparsers(
        dest="keys_command", required=True, parser_class=Parser, metavar="COMMAND"
    )

    create = commands.add_parser(
        "create",
        help="make a key; its secret is shown once",
        description="Make an access key; its secret is printed this once and never again.",
        epilog=examples(
            "sangraha keys create --grant 'photos-*:read,list' --name gallery --expires 30d",
            "sangraha keys create --grant docs:write --grant docs:read --rate-limit 50",
            "sangraha keys create --local --data-dir ./sangraha-data "
            "--grant '*:read,list,write,delete,admin'   # the first admin key",
        ),
    )
    create.add_argument(
        "--grant",
        action="append",
        required=True,
        metavar="BUCKETS:ACTIONS",
        help="e.g. 'photos-*:read,list' (repeatable); actions: read, list, write, delete, admin",
    )
    create.add_argument("--name", default="", help="what the key is for (default: none)")
    create.add_argument(
        "--expires", metavar="DURATION", help="lifetime, e.g. 90m, 12h, 30d (default: never)"
    )
    create.add_argument(
        "--rate-limit",
        type=_positive,
        metavar="R",
        help="requests a second the key may make (default: no limit)",
    )
    create.add_argument(
        "--local", action="store_true", help="make it in the metadata store itself, no server"
    )
    create.add_argument(
        "--data-dir", type=Path, help="with --local: the data directory of `sangraha serve`"
    )
    create.add_argument(
        "--metadata-url", help="with --local: the metadata store's URL, e.g. postgresql://..."
    )
    json_flag(create)

    json_flag(
        commands.add_parser(
            "list",
            help="the keys this key may manage",
            description="List the keys this key may manage: id, status, expiry, grants, name.",
            epilog=examples("sangraha keys list", "sangraha keys list --json"),
        )
    )
    for name, text in (
        ("show", "one key"),
        ("revoke", "revoke a key for good"),
        ("rotate", "a new secret for a key, shown once; the old one stops working"),
    ):
        command = commands.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=examples(f"sangraha keys {name} SK0123456789abcdef"),
        )
        command.add_argument("key_id", metavar="ID", help="the key's id (SK...)")
        json_flag(command)
    commands.add_parser(
        "master-key",
        help="print a new master key (for SANGRAHA_MASTER_KEY)",
        description="Print a new master key; it talks to nothing.",
        epilog=examples("sangraha keys master-key > master.key"),
    )


def needs_client(args: argparse.Namespace) -> bool:
    """Whether the command talks to the service."""
    if args.keys_command == "master-key":
        return False
    return not (args.keys_command == "create" and args.local)


def _grants(texts: Sequence[str]) -> list[Grant]:
    try:
        return [Grant.parse(text) for text in texts]
    except ValueError as exc:
        raise UsageError(" ".join(str(exc).split())) from None


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat()


def _key_line(key: KeyView) -> str:
    grants = " ".join(str(g) for g in key.grants)
    return f"{key.key_id}  {key.status.value:<7}  {_time(key.expires_at):<25}  {grants}  {key.name}"


def _show(key: KeyView, out: TextIO) -> None:
    fields: dict[str, Any] = {
        "key_id": key.key_id,
        "name": key.name or "-",
        "status": key.status.value,
        "grants": " ".join(str(g) for g in key.grants),
        "created_at": _time(key.created_at),
        "expires_at": _time(key.expires_at),
        "revoked_at": _time(key.revoked_at),
        "last_used_at": _time(key.last_used_at),
        "rate_limit": "-" if key.rate_limit is None else f"{key.rate_limit:g}",
    }
    if isinstance(key, NewKeyView):
        fields["secret"] = key.secret
        fields["bearer"] = key.bearer
    for name, value in fields.items():
        out.write(f"{name + ':':<14}{value}\n")


def _new_key(key: NewKeyView, as_json: bool, out: TextIO, err: TextIO) -> None:
    note = (
        "The secret is shown this once and cannot be read again: keep it now, "
        f"e.g. export {ENV_KEY}={key.bearer}\n"
    )
    if as_json:
        out.write(json.dumps(key.model_dump(mode="json")) + "\n")
        err.write(f"sangraha: the secret of {key.key_id} is shown this once: keep it now\n")
        return
    _show(key, out)
    out.write(note)


def _emit(key: KeyView, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(key.model_dump(mode="json")) + "\n")
    else:
        _show(key, out)


def run_keys(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A ``keys`` command through the admin API."""
    command: str = args.keys_command
    if command == "create":
        grants = _grants(args.grant)
        expires = None if args.expires is None else parse_duration(args.expires)
        try:
            new = client.create_key(
                grants, name=args.name, expires_in=expires, rate_limit=args.rate_limit
            )
        except ValueError as exc:
            raise UsageError(" ".join(str(exc).split())) from None
        _new_key(new, args.json, out, err)
    elif command == "list":
        keys = client.list_keys()
        if args.json:
            out.write(json.dumps([k.model_dump(mode="json") for k in keys]) + "\n")
        else:
            for key in keys:
                out.write(_key_line(key) + "\n")
    elif command == "show":
        _emit(client.get_key(args.key_id), args.json, out)
    elif command == "revoke":
        _emit(client.revoke_key(args.key_id), args.json, out)
    else:
        _new_key(client.rotate_key(args.key_id), args.json, out, err)
    return 0


def run_offline(args: argparse.Namespace, out: TextIO, err: TextIO) -> int | None:
    """A ``keys`` command that needs no service: ``create --local`` and ``master-key``.

    ``None`` when the server parts, which ``--local`` needs, are not installed.
    """
    try:
        if args.keys_command == "master-key":
            out.write(MasterKey.generate()[1] + "\n")
            return 0
        return _create_locally(args, out, err)
    except CoreError as exc:
        err.write(f"sangraha: {' '.join(str(exc).split())}\n")
        return EXIT_LOCAL_FAILED


def _create_locally(args: argparse.Namespace, out: TextIO, err: TextIO) -> int | None:
    named = {"data_dir": args.data_dir, "metadata_url": args.metadata_url}
    given = {name: value for name, value in named.items() if value is not None}
    if not given and not any(f"SANGRAHA_{name.upper()}" in os.environ for name in named):
        raise UsageError("--local needs --data-dir or --metadata-url: the store to make it in")
    grants = _grants(args.grant)
    expires = None if args.expires is None else parse_duration(args.expires)
    try:
        server = importlib.import_module("sangraha_server")
    except ImportError:
        return None
    create: Callable[..., NewKey] = server.create_key_locally
    try:
        settings = Settings(**given)
    except ValueError as exc:
        raise UsageError(" ".join(str(exc).split())) from None
    new = create(
        settings,
        grants,
        args.name,
        None if expires is None else datetime.now(UTC) + expires,
        rate_limit=args.rate_limit,
    )
    _new_key(NewKeyView.of_new(new), args.json, out, err)
    return 0
