"""Fuzz one kind validator with atheris: ``python -m fuzz.kinds json --seconds 600``.

The target is ``kinds.inspect`` itself, in this process, so that libFuzzer sees every
crash: a signal, or any exception other than ``InvalidContentError`` (the validators'
contract is to turn every refusal into one). Seeds are the JSON test suite for JSON and
small files made here for the other kinds; findings land in ``fuzz/findings/<kind>/``,
and each one becomes a case in ``tests/core/kinds/test_kinds_regressions.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from sangraha_core import InvalidContentError
    from sangraha_core.kinds import inspect

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent
JSON_CORPUS = ROOT.parent.parent / "shared" / "corpus" / "json-test-suite"

CONTENT_TYPES = {
    "json": "application/json",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
}


def _images(fmt: str) -> list[bytes]:
    from PIL import Image

    seeds = []
    for size, mode in (((16, 12), "RGB"), ((7, 5), "L"), ((32, 32), "RGBA"), ((3, 40), "P")):
        image = Image.effect_noise(size, 60).convert(mode)
        for params in ({}, {"optimize": True}):
            if fmt == "JPEG" and mode in ("RGBA", "P"):
                continue
            out = io.BytesIO()
            image.save(out, fmt, **params)
            seeds.append(out.getvalue())
    if fmt in ("GIF", "WEBP", "PNG"):
        frames = [Image.effect_noise((8, 8), 30 + 20 * i).convert("RGB") for i in range(3)]
        out = io.BytesIO()
        frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=50)
        seeds.append(out.getvalue())
    return seeds


def _pdfs() -> list[bytes]:
    from pypdf import PdfWriter

    seeds = []
    for pages in (1, 3):
        writer = PdfWriter()
        for _ in range(pages):
            writer.add_blank_page(width=72, height=72)
        writer.add_metadata({"/Title": "seed", "/Author": "fuzz"})
        out = io.BytesIO()
        writer.write(out)
        seeds.append(out.getvalue())
    return seeds


def seeds(kind: str) -> list[bytes]:
    """Valid files of ``kind`` for the fuzzer to start from."""
    if kind == "json":
        return [p.read_bytes() for p in sorted(JSON_CORPUS.glob("*.json"))]
    if kind == "pdf":
        return _pdfs()
    return _images(kind.upper())


def target(content_type: str) -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        with contextlib.suppress(InvalidContentError):
            inspect(content_type, io.BytesIO(data))

    return one_input


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(CONTENT_TYPES))
    parser.add_argument("--seconds", type=int, default=600, help="how long to fuzz")
    parser.add_argument("--max-len", type=int, default=64 * 1024, help="largest input")
    args, extra = parser.parse_known_args(argv)
    findings = ROOT / "findings" / args.kind
    findings.mkdir(parents=True, exist_ok=True)
    corpus = Path(tempfile.mkdtemp(prefix=f"sangraha-fuzz-{args.kind}-"))
    for n, seed in enumerate(seeds(args.kind)):
        (corpus / f"seed-{n}").write_bytes(seed)
    libfuzzer = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        f"-max_len={args.max_len}",
        f"-artifact_prefix={findings}/",
        "-rss_limit_mb=2048",
        "-timeout=30",
        "-print_final_stats=1",
        *extra,
        str(corpus),
    ]
    atheris.Setup(libfuzzer, target(CONTENT_TYPES[args.kind]))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
