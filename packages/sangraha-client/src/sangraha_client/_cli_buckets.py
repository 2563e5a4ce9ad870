"""``sangraha buckets``: list, make, show, change the policy of and delete buckets."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from sangraha_core import Bucket, BucketKinds, BucketSummary

from ._cli_output import human_size
from ._cli_usage import Parser, examples, json_flag
from ._sync_client import Client

__all__ = ["BUCKET_TABLE_HEADER", "add_bucket_commands", "bucket_table", "run_buckets"]

#: The column titles of ``sangraha buckets ls``, in order.
BUCKET_TABLE_HEADER = ("NAME", "POLICY", "OBJECTS", "SIZE", "CREATED (UTC)")

_KINDS = [k.value for k in BucketKinds]
_POLICY_HELP = (
    "validated: JSON, images and PDFs only, each validated; "
    "any: also every other type, stored as it is"
)


def add_bucket_commands(sub: Any) -> None:
    """The ``buckets`` group, under the top-level subparsers ``sub``."""
    buckets = sub.add_parser(
        "buckets",
        help="list and manage buckets",
        description=(
            "List buckets with their kind policy and what they hold; make, change and "
            "delete them (which needs an admin grant on the bucket)."
        ),
        epilog=examples(
            "sangraha buckets ls",
            "sangraha buckets create uploads --kinds any",
            "sangraha buckets set photos validated",
            "sangraha buckets rm scratch",
        ),
    )
    commands = buckets.add_subparsers(
        dest="buckets_command", required=True, parser_class=Parser, metavar="COMMAND"
    )
    json_flag(
        commands.add_parser(
            "ls",
            help="the buckets this key may list",
            description="List buckets: name, policy, keys held, bytes of all versions, created.",
            epilog=examples("sangraha buckets ls", "sangraha buckets ls --json"),
        )
    )
    create = commands.add_parser(
        "create",
        help="make a bucket",
        description="Make a bucket; an existing one is an error, not a change.",
        epilog=examples("sangraha buckets create uploads --kinds any"),
    )
    create.add_argument("name", metavar="NAME", help="3-63 lowercase letters, digits, '.', '-'")
    create.add_argument(
        "--kinds",
        choices=_KINDS,
        help=f"the policy (default: the server's SANGRAHA_BUCKET_KINDS); {_POLICY_HELP}",
    )
    json_flag(create)
    show = commands.add_parser(
        "show",
        help="one bucket's policy",
        description="Show one bucket: its name, policy and when it was made.",
        epilog=examples("sangraha buckets show photos"),
    )
    show.add_argument("name", metavar="NAME", help="the bucket's name")
    json_flag(show)
    change = commands.add_parser(
        "set",
        help="change a bucket's policy",
        description=(
            "Change a bucket's kind policy; every service applies it within seconds, and "
            "versions already stored keep their kind."
        ),
        epilog=examples("sangraha buckets set uploads any"),
    )
    change.add_argument("name", metavar="NAME", help="the bucket's name")
    change.add_argument("kinds", metavar="POLICY", choices=_KINDS, help=_POLICY_HELP)
    json_flag(change)
    remove = commands.add_parser(
        "rm",
        help="delete an empty bucket",
        description="Delete a bucket that holds no object version and no upload in progress.",
        epilog=examples("sangraha buckets rm scratch"),
    )
    remove.add_argument("name", metavar="NAME", help="the bucket's name")


def _created(bucket: Bucket) -> str:
    return bucket.created_at.strftime("%Y-%m-%d %H:%M:%S")


def bucket_table(buckets: list[BucketSummary]) -> list[str]:
    """The lines of ``sangraha buckets ls``: a header, then one bucket a line."""
    rows = [BUCKET_TABLE_HEADER] + [
        (b.name, b.kinds.value, str(b.objects), human_size(b.bytes), _created(b)) for b in buckets
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(BUCKET_TABLE_HEADER))]
    lines = []
    for row in rows:
        # Counts and sizes line up on the right, like ls -l.
        cells = [
            cell.rjust(width) if i in (2, 3) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _show(bucket: Bucket, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(bucket.model_dump(mode="json")) + "\n")
        return
    out.write(f"{'name:':<12}{bucket.name}\n")
    out.write(f"{'policy:':<12}{bucket.kinds.value}\n")
    out.write(f"{'created_at:':<12}{bucket.created_at.isoformat()}\n")


def run_buckets(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A ``buckets`` command."""
    command: str = args.buckets_command
    if command == "ls":
        buckets = client.list_buckets()
        if args.json:
            out.write(json.dumps([b.model_dump(mode="json") for b in buckets]) + "\n")
        else:
            for line in bucket_table(buckets):
                out.write(line + "\n")
    elif command == "create":
        _show(client.create_bucket(args.name, args.kinds), args.json, out)
    elif command == "show":
        _show(client.get_bucket(args.name), args.json, out)
    elif command == "set":
        _show(client.set_bucket_kinds(args.name, args.kinds), args.json, out)
    else:
        client.delete_bucket(args.name)
        err.write(f"sangraha: deleted bucket {args.name}\n")
    return 0
