"""Real S3 clients, set up to talk to one Sangraha S3 gateway and nothing else.

Each client gets its endpoint and a Sangraha access key (id + secret, signed with SigV4)
from the environment or a file under the test's tmp directory, never from the user's own
configuration (``~/.aws``, ``~/.config/rclone``, ``~/.s3cfg``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "REGION",
    "Gateway",
    "digest_of",
    "make_tree",
    "run",
    "tree_digests",
    "write_random",
]

REGION = "us-east-1"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Gateway:
    """An S3 endpoint and the access key every client signs with."""

    url: str
    key_id: str
    secret: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def boto3(self, **config: Any) -> Any:
        """boto3 with its defaults (flexible checksums on) but for path-style addressing:
        bucket names cannot be DNS names on 127.0.0.1."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def aws_env(self, tmp: Path) -> dict[str, str]:
        """The AWS CLI's environment: this key, and empty config files so none of the
        user's settings leak in."""
        config, credentials = tmp / "aws-config", tmp / "aws-credentials"
        config.touch()
        credentials.touch()
        return {
            **_clean_env("AWS_"),
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def aws(
        self, tmp: Path, *args: str, check: bool = True, stdin: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``aws --endpoint-url URL ARGS`` (the AWS CLI v1 of the test environment)."""
        argv = [str(BIN / "aws"), "--endpoint-url", self.url, *args]
        return run(argv, env=self.aws_env(tmp), check=check, stdin=stdin)

    def rclone_env(self, remote: str) -> dict[str, str]:
        """An rclone remote named ``remote`` from environment variables alone."""
        prefix = f"RCLONE_CONFIG_{remote.upper()}_"
        return {
            # rclone's AWS SDK fails on any AWS_CA_BUNDLE, even one it would not need.
            **_clean_env("RCLONE_", "AWS_"),
            prefix + "TYPE": "s3",
            prefix + "PROVIDER": "Other",
            prefix + "ENDPOINT": self.url,
            prefix + "ACCESS_KEY_ID": self.key_id,
            prefix + "SECRET_ACCESS_KEY": self.secret,
            prefix + "REGION": REGION,
        }

    def rclone(self, tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``rclone ARGS`` with the remote ``sgw:`` and an empty config file."""
        config = tmp / "rclone.conf"
        config.touch()
        argv = ["rclone", "--config", str(config), *args]
        return run(argv, env=self.rclone_env("sgw"), check=check)

    def s3cmd_config(self, tmp: Path, *, signature_v2: bool = False) -> Path:
        path = tmp / "s3cmd.cfg"
        path.write_text(
            "[default]\n"
            f"access_key = {self.key_id}\n"
            f"secret_key = {self.secret}\n"
            f"host_base = {self.host}\n"
            f"host_bucket = {self.host}\n"
            f"bucket_location = {REGION}\n"
            "use_https = False\n"
            f"signature_v2 = {signature_v2}\n"
        )
        return path

    def s3cmd(
        self, tmp: Path, *args: str, check: bool = True, signature_v2: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``s3cmd -c CONFIG ARGS`` (Debian's s3cmd, on the system Python); path-style, and
        SigV4 unless ``signature_v2``."""
        argv = ["s3cmd", "-c", str(self.s3cmd_config(tmp, signature_v2=signature_v2)), *args]
        return run(argv, env=_clean_env("S3CMD"), check=check)


def _clean_env(*prefixes: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def run(
    argv: list[str],
    *,
    env: dict[str, str],
    check: bool = True,
    stdin: Path | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """A client command (its standard input read from ``stdin`` when given); a failure
    shows its whole output."""
    with stdin.open("rb") if stdin else open(os.devnull, "rb") as source:
        done = subprocess.run(
            argv,
            env=env,
            stdin=source,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{argv[0]} {' '.join(argv[1:4])}… exited {done.returncode}\n"
            f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-8000:]}"
        )
    return done


def write_random(path: Path, size: int, seed: int = 0) -> None:
    """``size`` pseudo-random bytes, written a MiB at a time (never all in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = hashlib.sha256(str(seed).encode()).digest() * (1 << 15)  # 1 MiB
    with path.open("wb") as out:
        left, n = size, 0
        while left:
            # Each MiB differs, so no two parts of one file are the same bytes.
            chunk = hashlib.sha256(f"{seed}/{n}".encode()).digest() + block[32:]
            out.write(chunk[:left])
            left -= min(left, len(chunk))
            n += 1


def digest_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def make_tree(root: Path, *, large: int = 0) -> dict[str, int]:
    """A directory tree of a few dozen files: nested directories, sizes from empty to a few
    hundred KiB (and one of ``large`` bytes when given), names with spaces and non-ASCII
    letters. Returns each file's relative path and size."""
    names = [
        "top.txt",
        "empty.bin",
        "notes/readme.md",
        "notes/with space.txt",
        "notes/deeper/still deeper/leaf.dat",
        "ünïcödé/résumé.txt",
        "ünïcödé/日本語のファイル.bin",
        "ünïcödé/Ελληνικά/αρχείο.dat",
        "data/config.json",
        "data/a+b=c.txt",
        "data/100% done.txt",
    ]
    names += [f"data/batch/part-{i:02d}.bin" for i in range(20)]
    names += [f"logs/{year}/{month:02d}.log" for year in (2024, 2025) for month in (1, 6, 12)]
    sizes: dict[str, int] = {}
    for n, name in enumerate(names):
        path = root / name
        if name.endswith(".json"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text('{"kind": "a JSON object, validated as one", "n": 1}')
        else:
            size = 0 if name == "empty.bin" else (n * 37_171) % 400_000 + n
            write_random(path, size, seed=n)
        sizes[name] = path.stat().st_size
    if large:
        name = "big/large file.bin"
        write_random(root / name, large, seed=999)
        sizes[name] = large
    return sizes


def tree_digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` by relative path, with its SHA-256."""
    return {
        path.relative_to(root).as_posix(): digest_of(path)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
