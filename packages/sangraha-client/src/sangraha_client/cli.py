"""The ``sangraha`` command line.

Exit codes: 0 success, 1 an error answer from the service, 2 bad usage, 3 not found,
4 the service cannot be reached or is unavailable, 5 processing of the object failed.
Errors are printed on one line to stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import httpx

from sangraha_core import ObjectRecord, ObjectStatus
from sangraha_core.access import looks_like_bearer

from ._cli_keys import add_key_commands, needs_client, parse_duration, run_keys, run_offline
from ._cli_usage import Parser, UsageError
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
from ._types import NOT_GIVEN, NotGiven, ProgressCallback

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


def _build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sangraha", description="Store and fetch objects in Sangraha.")
    parser.add_argument(
        "--url",
        default=os.environ.get(ENV_URL) or DEFAULT_BASE_URL,
        help=f"the service (default ${ENV_URL}, then {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--write-url",
        default=os.environ.get(ENV_WRITE_URL) or None,
        help=f"the write service, when it runs apart (default ${ENV_WRITE_URL}, then --url)",
    )
    parser.add_argument(
        "--api-key", help=f"an access key's bearer token (default ${ENV_KEY}, then ${ENV_API_KEY})"
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    put = sub.add_parser("put", help="upload files")
    put.add_argument("files", nargs="+", metavar="FILE", help="files to upload ('-' = stdin)")
    put.add_argument("--bucket", "-b", required=True)
    put.add_argument("--key", "-k", help="the key (one file only; default: the file name)")
    put.add_argument("--content-type", help="default: guessed from the name, then the bytes")
    put.add_argument("--meta", action="append", default=[], metavar="NAME=VALUE")
    put.add_argument("--wait", action="store_true", help="wait until processing ends")
    put.add_argument("--timeout", type=float, default=DEFAULT_WAIT_TIMEOUT)

    get = sub.add_parser("get", help="download an object")
    get.add_argument("target", metavar="BUCKET/KEY")
    get.add_argument("-o", "--output", help="file to write (default: stdout)")
    get.add_argument("--version")

    ls = sub.add_parser("ls", help="list objects")
    ls.add_argument("bucket", metavar="BUCKET")
    ls.add_argument("--prefix")
    ls.add_argument("--kind", choices=["json", "image", "pdf"])
    ls.add_argument("--status", choices=["pending", "ready", "failed"])
    ls.add_argument("--meta", action="append", default=[], metavar="NAME=VALUE")
    ls.add_argument("--limit", type=int, help="show at most this many")

    stat = sub.add_parser("stat", help="show an object's record")
    stat.add_argument("target", metavar="BUCKET/KEY")

    rm = sub.add_parser("rm", help="delete an object")
    rm.add_argument("target", metavar="BUCKET/KEY")
    rm.add_argument("--version")

    wait = sub.add_parser("wait", help="wait until an object is processed")
    wait.add_argument("target", metavar="BUCKET/KEY")
    wait.add_argument("--timeout", type=float, default=DEFAULT_WAIT_TIMEOUT)

    add_key_commands(sub)
    presign = sub.add_parser("presign", help="print a presigned URL of an object")
    presign.add_argument("target", metavar="BUCKET/KEY")
    presign.add_argument("--expires", default="1h", help="1s to 7d (default 1h), e.g. 15m, 2d")
    presign.add_argument("--put", action="store_true", help="a URL to upload with, not to read")
    presign.add_argument("--version", help="a version to read (not with --put)")

    serve = sub.add_parser("serve", help="run everything in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data-dir", default="./sangraha-data", type=pathlib.Path)
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


def _progress(label: str, stream: TextIO) -> ProgressCallback | None:
    """A one-line progress meter on stderr, only when a person is watching it."""
    if not stream.isatty():
        return None

    def report(done: int, total: int | None) -> None:
        if total:
            stream.write(f"\r{label}: {done}/{total} bytes ({100 * done // total}%)")
        else:
            stream.write(f"\r{label}: {done} bytes")
        if total is not None and done >= total:
            stream.write("\n")
        stream.flush()

    return report


def _record_line(record: ObjectRecord) -> str:
    return f"{record.status.value:<8} {record.kind.value:<6} {record.size:>12}  {record.key}"


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
            for record in records:
                self.out.write(_record_line(record) + "\n")

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
                record = self.client.upload_file(
                    args.bucket,
                    args.key or path.name,
                    path,
                    content_type=args.content_type,
                    metadata=meta,
                    progress=_progress(path.name, self.err),
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
        if self.args.output:
            self.client.download_file(
                bucket,
                key,
                self.args.output,
                version=self.args.version,
                progress=_progress(key, self.err),
            )
            return EXIT_OK
        sink = getattr(self.out, "buffer", None)
        with self.client.stream_object(bucket, key, version=self.args.version) as stream:
            for chunk in stream:
                if sink is not None:
                    sink.write(chunk)
                else:
                    self.out.write(chunk.decode("utf-8", "replace"))
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
    err.write(f"sangraha: {command} needs the server parts: pip install sangraha\n")
    return EXIT_USAGE


def _serve(args: argparse.Namespace, err: TextIO) -> int:
    try:
        server = importlib.import_module("sangraha_server")
    except ImportError:
        return _needs_server("serve", err)
    serve: Callable[..., None] = server.serve
    serve(host=args.host, port=args.port, data_dir=args.data_dir)
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
        args = _build_parser().parse_args(argv)
    except UsageError as exc:
        err.write(f"sangraha: {exc}\n")
        return EXIT_USAGE
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
