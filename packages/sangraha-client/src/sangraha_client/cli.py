"""The ``sangraha`` command line.

Exit codes: 0 success, 1 an error answer from the service, 2 bad usage, 3 not found,
4 the service cannot be reached or is unavailable, 5 processing of the object failed.
Errors are printed on one line to stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import pathlib
import platform
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import httpx

from sangraha_core import ObjectRecord, ObjectStatus
from sangraha_core.access import looks_like_bearer

from ._cli_buckets import add_bucket_commands, run_buckets
from ._cli_keys import add_key_commands, needs_client, parse_duration, run_keys, run_offline
from ._cli_output import progress_bar, record_table
from ._cli_usage import Parser, UsageError, examples, json_flag
from ._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_WAIT_TIMEOUT,
    ENV_API_KEY,
    ENV_KEY,
    ENV_URL,
    ENV_WRITE_URL,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    NotFoundError,
    ProcessingFailedError,
    SangrahaError,
    ServiceUnavailableError,
)
from ._sync_client import Client
from ._types import NOT_GIVEN, NotGiven
from ._version import __version__

__all__ = [
    "EXIT_CONNECTION",
    "EXIT_ERROR",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PROCESSING_FAILED",
    "EXIT_USAGE",
    "main",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONNECTION = 4
EXIT_PROCESSING_FAILED = 5


_DESCRIPTION = """\
Store and fetch objects in Sangraha: JSON documents, images and PDFs, each validated
and described by the service after upload.

Records print as columns (key, size, creation time, status, kind, and why processing
failed); --json prints them as the API answers instead, for scripts. Progress bars with
speed and time left go to stderr, only when it is a terminal."""

_EXIT_CODES = """\
exit codes: 0 ok, 1 an error answer, 2 bad usage, 3 not found,
4 the service cannot be reached or is unavailable, 5 processing of the object failed"""


def _version() -> str:
    core = importlib.metadata.version("sangraha-core")
    return f"sangraha {__version__} (sangraha-core {core}, Python {platform.python_version()})"


def _build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sangraha",
        description=_DESCRIPTION,
        epilog=examples(
            "sangraha serve --port 8000 --data-dir ./sangraha-data",
            "sangraha put report.pdf --bucket docs --meta team=ops --wait",
            "sangraha ls docs --prefix reports/",
            "sangraha get docs/report.pdf -o copy.pdf",
            "sangraha COMMAND --help   # the options and examples of one command",
        )
        + "\n\n"
        + _EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--url",
        default=os.environ.get(ENV_URL) or DEFAULT_BASE_URL,
        help=f"the service (default ${ENV_URL}, then {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--write-url",
        default=os.environ.get(ENV_WRITE_URL) or None,
        metavar="URL",
        help=f"the write service, when it runs apart (default ${ENV_WRITE_URL}, then --url)",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"an access key's bearer token (default ${ENV_KEY}, then ${ENV_API_KEY})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of columns, for scripts"
    )
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )

    put = sub.add_parser(
        "put",
        help="upload files",
        description="Upload files, each as a new version of its key. Large files go up in "
        "resumable parts: run the same command again to resume.",
        epilog=examples(
            "sangraha put report.pdf --bucket docs",
            "sangraha put a.json b.json --bucket docs --meta team=ops --wait",
            "sangraha put scan.png --bucket docs --key 2026/scan.png --content-type image/png",
            "cat rows.json | sangraha put - --bucket docs --key rows.json",
        ),
    )
    put.add_argument("files", nargs="+", metavar="FILE", help="files to upload ('-' = stdin)")
    put.add_argument("--bucket", "-b", required=True, help="the bucket to upload into")
    put.add_argument("--key", "-k", help="the key (one file only; default: the file name)")
    put.add_argument(
        "--content-type", help="e.g. application/pdf (default: guessed from the name, then bytes)"
    )
    put.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="user metadata, any text (repeatable)",
    )
    put.add_argument(
        "--wait", action="store_true", help="wait until processing ends; exit 5 if it failed"
    )
    put.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long --wait waits (default {DEFAULT_WAIT_TIMEOUT:g})",
    )
    json_flag(put)

    get = sub.add_parser(
        "get",
        help="download an object",
        description="Download the latest ready version of an object (or --version). To a "
        "file, the download resumes where it stopped and is checked against its digest.",
        epilog=examples(
            "sangraha get docs/report.pdf -o copy.pdf",
            "sangraha get docs/rows.json | jq .",
            "sangraha get docs/report.pdf --version 0193a0c4e5f67890 -o old.pdf",
        ),
    )
    get.add_argument("target", metavar="BUCKET/KEY", help="the object, e.g. docs/report.pdf")
    get.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    get.add_argument("--version", metavar="ID", help="a version's id (default: the latest)")

    ls = sub.add_parser(
        "ls",
        help="list objects",
        description="List the records of a bucket, in key order: key, size, creation time "
        "(UTC), status, kind, and why processing failed.",
        epilog=examples(
            "sangraha ls docs",
            "sangraha ls docs --prefix reports/ --kind pdf",
            "sangraha ls docs --status failed   # with the reason of each failure",
            "sangraha ls docs --meta team=ops --limit 20 --json",
        ),
    )
    ls.add_argument("bucket", metavar="BUCKET", help="the bucket to list")
    ls.add_argument("--prefix", help="only keys that start with this")
    ls.add_argument(
        "--kind", choices=["json", "image", "pdf", "opaque"], help="only objects of this kind"
    )
    ls.add_argument(
        "--status", choices=["pending", "ready", "failed"], help="only versions in this state"
    )
    ls.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="only objects with this user metadata (repeatable; all must match)",
    )
    ls.add_argument("--limit", type=int, metavar="N", help="show at most this many")
    json_flag(ls)

    stat = sub.add_parser(
        "stat",
        help="show an object's record",
        description="Show the record of an object's latest version, whatever its status.",
        epilog=examples("sangraha stat docs/report.pdf", "sangraha stat docs/report.pdf --json"),
    )
    stat.add_argument("target", metavar="BUCKET/KEY", help="the object, e.g. docs/report.pdf")
    json_flag(stat)

    rm = sub.add_parser(
        "rm",
        help="delete an object",
        description="Delete every version of an object, or only --version.",
        epilog=examples(
            "sangraha rm docs/report.pdf", "sangraha rm docs/report.pdf --version 0193a0c4e5f67890"
        ),
    )
    rm.add_argument("target", metavar="BUCKET/KEY", help="the object, e.g. docs/report.pdf")
    rm.add_argument("--version", metavar="ID", help="delete only this version")

    wait = sub.add_parser(
        "wait",
        help="wait until an object is processed",
        description="Wait until the latest version of an object is processed: exit 0 when "
        "ready, 5 when processing failed, 1 when still pending after --timeout.",
        epilog=examples(
            "sangraha wait docs/report.pdf", "sangraha wait docs/big.pdf --timeout 300"
        ),
    )
    wait.add_argument("target", metavar="BUCKET/KEY", help="the object, e.g. docs/report.pdf")
    wait.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up after this long (default {DEFAULT_WAIT_TIMEOUT:g})",
    )
    json_flag(wait)

    add_key_commands(sub)
    add_bucket_commands(sub)
    presign = sub.add_parser(
        "presign",
        help="print a presigned URL of an object",
        description="Print a URL that reads the object (or, with --put, uploads it) without "
        "a key, signed with this access key and carrying its grants.",
        epilog=examples(
            "sangraha presign docs/report.pdf --expires 15m",
            "curl -T report.pdf -H 'Content-Type: application/pdf' "
            '"$(sangraha presign docs/report.pdf --put)"',
        ),
    )
    presign.add_argument("target", metavar="BUCKET/KEY", help="the object, e.g. docs/report.pdf")
    presign.add_argument("--expires", default="1h", help="1s to 7d (default 1h), e.g. 15m, 2d")
    presign.add_argument("--put", action="store_true", help="a URL to upload with, not to read")
    presign.add_argument("--version", help="a version to read (not with --put)")

    serve = sub.add_parser(
        "serve",
        help="run everything in one process",
        description="Run the embedded all-in-one server: the HTTP API, the web console at "
        "/console and the API docs at /docs, with files, SQLite and an in-process queue under "
        "--data-dir. Needs the server parts (pip install . from the repository).",
        epilog=examples(
            "sangraha serve",
            "sangraha serve --port 8080 --data-dir /srv/sangraha",
            "sangraha serve --host 0.0.0.0   # reachable from other machines",
        ),
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="the port to listen on (default 8000)"
    )
    serve.add_argument(
        "--data-dir",
        default="./sangraha-data",
        type=pathlib.Path,
        metavar="DIR",
        help="where blobs, metadata and the master key live (default ./sangraha-data)",
    )
    serve.add_argument(
        "--s3-port",
        type=int,
        default=9000,
        metavar="PORT",
        help="the port the S3 API answers on (default 9000)",
    )
    serve.add_argument(
        "--no-s3", action="store_true", help="serve the v1 API only, with no S3 port"
    )
    return parser


def _split_target(target: str) -> tuple[str, str]:
    bucket, sep, key = target.partition("/")
    if not sep or not bucket or not key:
        raise UsageError(f"expected BUCKET/KEY, got {target!r}")
    return bucket, key


def _parse_meta(pairs: Sequence[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--meta wants NAME=VALUE, got {pair!r}")
        meta[name] = value
    return meta


class _Commands:
    def __init__(self, client: Client, args: argparse.Namespace, out: TextIO, err: TextIO):
        self.client = client
        self.args = args
        self.out = out
        self.err = err

    def _emit(self, records: Sequence[ObjectRecord]) -> None:
        if self.args.json:
            payload: Any = [r.model_dump(mode="json") for r in records]
            if len(records) == 1 and self.args.command != "ls":
                payload = payload[0]
            self.out.write(json.dumps(payload, indent=None) + "\n")
        else:
            for line in record_table(records):
                self.out.write(line + "\n")

    def put(self) -> int:
        args = self.args
        if args.key is not None and len(args.files) > 1:
            raise UsageError("--key names one object; give one FILE with it")
        meta = _parse_meta(args.meta)
        records = []
        for name in args.files:
            if name == "-":
                if args.key is None:
                    raise UsageError("uploading stdin ('-') needs --key")
                record = self.client.put_object(
                    args.bucket,
                    args.key,
                    sys.stdin.buffer.read(),
                    content_type=args.content_type,
                    metadata=meta,
                )
            else:
                path = pathlib.Path(name)
                if not path.is_file():
                    raise UsageError(f"no such file: {name}")
                with progress_bar(path.name, self.err, path.stat().st_size) as progress:
                    record = self.client.upload_file(
                        args.bucket,
                        args.key or path.name,
                        path,
                        content_type=args.content_type,
                        metadata=meta,
                        progress=progress,
                    )
            if args.wait:
                record = self.client.wait_until_ready(
                    args.bucket, record.key, version=record.id, timeout=args.timeout
                )
            records.append(record)
        self._emit(records)
        return EXIT_OK

    def get(self) -> int:
        bucket, key = _split_target(self.args.target)
        label = key.rsplit("/", 1)[-1]
        if self.args.output:
            with progress_bar(label, self.err) as progress:
                self.client.download_file(
                    bucket, key, self.args.output, version=self.args.version, progress=progress
                )
            return EXIT_OK
        sink = getattr(self.out, "buffer", None)
        with (
            self.client.stream_object(bucket, key, version=self.args.version) as stream,
            progress_bar(label, self.err) as progress,
        ):
            done = 0
            for chunk in stream:
                if sink is not None:
                    sink.write(chunk)
                else:
                    self.out.write(chunk.decode("utf-8", "replace"))
                done += len(chunk)
                if progress is not None:
                    progress(done, stream.size)
        if sink is not None:
            sink.flush()
        return EXIT_OK

    def ls(self) -> int:
        args = self.args
        limit: int | None = args.limit
        if limit is not None and limit < 1:
            raise UsageError("--limit must be 1 or more")
        page = self.client.list_objects(
            args.bucket,
            **{
                k: v
                for k, v in {
                    "prefix": args.prefix,
                    "kind": args.kind,
                    "status": args.status,
                    "metadata": _parse_meta(args.meta) or None,
                    "limit": min(limit, 1000) if limit is not None else None,
                }.items()
                if v is not None
            },
        )
        records: list[ObjectRecord] = []
        for record in page:
            records.append(record)
            if limit is not None and len(records) >= limit:
                break
        self._emit(records)
        return EXIT_OK

    def stat(self) -> int:
        bucket, key = _split_target(self.args.target)
        record = self.client.get_record(bucket, key)
        if self.args.json:
            self._emit([record])
        else:
            for name, value in record.model_dump(mode="json").items():
                if isinstance(value, dict):
                    value = json.dumps(value) if value else "-"
                self.out.write(f"{name + ':':<13} {'-' if value is None else value}\n")
        return EXIT_OK

    def rm(self) -> int:
        bucket, key = _split_target(self.args.target)
        self.client.delete_object(bucket, key, version=self.args.version)
        return EXIT_OK

    def wait(self) -> int:
        bucket, key = _split_target(self.args.target)
        record = self.client.wait_until_ready(bucket, key, timeout=self.args.timeout)
        self._emit([record])
        return EXIT_OK

    def keys(self) -> int:
        return run_keys(self.client, self.args, self.out, self.err)

    def buckets(self) -> int:
        return run_buckets(self.client, self.args, self.out, self.err)

    def presign(self) -> int:
        args = self.args
        bucket, key = _split_target(args.target)
        if args.put and args.version is not None:
            raise UsageError("--version names what to read; a --put URL uploads a new one")
        expires = parse_duration(args.expires)
        if not looks_like_bearer(self.client.api_key or ""):
            raise UsageError(
                f"presign signs with an access key: give its bearer token ('<id>.<secret>') "
                f"as --api-key or ${ENV_KEY}"
            )
        try:
            if args.put:
                url = self.client.presign_put(bucket, key, expires=expires)
            else:
                url = self.client.presign_get(bucket, key, expires=expires, version=args.version)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        self.out.write(url + "\n")
        return EXIT_OK


def _needs_server(command: str, err: TextIO) -> int:
    # The distributions are not published: the server parts install from the repository.
    err.write(
        f"sangraha: {command} needs the server parts: "
        "pip install ./packages/sangraha-* . (from a clone of the repository)\n"
    )
    return EXIT_USAGE


def _serve(args: argparse.Namespace, err: TextIO) -> int:
    try:
        server = importlib.import_module("sangraha_server")
    except ImportError:
        return _needs_server("serve", err)
    serve: Callable[..., None] = server.serve
    s3_port = None if args.no_s3 else args.s3_port
    serve(host=args.host, port=args.port, data_dir=args.data_dir, s3_port=s3_port)
    return EXIT_OK


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, ProcessingFailedError):
        return EXIT_PROCESSING_FAILED
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, APIConnectionError | ServiceUnavailableError):
        return EXIT_CONNECTION
    return EXIT_ERROR


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit code (the entry point exits with it)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        # --help and --version print and exit: to ``out``, and as a code to return.
        with contextlib.redirect_stdout(out):
            args = _build_parser().parse_args(argv)
    except UsageError as exc:
        err.write(f"sangraha: {exc}\n")
        return EXIT_USAGE
    except SystemExit as exc:
        return EXIT_OK if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    if args.command == "serve":
        return _serve(args, err)
    if args.command == "keys" and not needs_client(args):
        try:
            offline = run_offline(args, out, err)
        except UsageError as exc:
            err.write(f"sangraha: {exc}\n")
            return EXIT_USAGE
        return _needs_server("keys create --local", err) if offline is None else offline
    api_key: str | NotGiven = args.api_key if args.api_key is not None else NOT_GIVEN
    try:
        with Client(
            base_url=args.url,
            write_url=args.write_url,
            api_key=api_key,
            transport=transport,
        ) as client:
            code: int = getattr(_Commands(client, args, out, err), args.command)()
    except UsageError as exc:
        err.write(f"sangraha: {exc}\n")
        return EXIT_USAGE
    except (SangrahaError, OSError) as exc:
        err.write(f"sangraha: {_describe(exc)}\n")
        return _exit_code(exc)
    except KeyboardInterrupt:
        err.write("sangraha: interrupted\n")
        return 130
    return code


def _describe(exc: BaseException) -> str:
    if isinstance(exc, APIConnectionError):
        return f"cannot reach {exc.request.url.scheme}://{exc.request.url.netloc.decode()}: {exc}"
    if isinstance(exc, APIStatusError):
        return str(exc).replace("\n", " ")
    if isinstance(exc, ProcessingFailedError) and exc.record.status is ObjectStatus.FAILED:
        return str(exc)
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
