"""Validator processes: the same answers as ``inspect``, and every way a child can end."""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image

from sangraha_core import (
    BackendUnavailableError,
    InvalidContentError,
    UnsupportedContentTypeError,
)
from sangraha_core.kinds import InspectorPool, ValidatorStartError, _wire, inspect


@pytest.fixture
def pool() -> Iterator[InspectorPool]:
    with InspectorPool(2) as pool:
        yield pool


def _png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 40).save(out, "PNG")  # noise: large files stay large
    return out.getvalue()


def _large_json(items: int) -> bytes:
    return json.dumps({"items": [{"n": i, "s": "x" * 20} for i in range(items)]}).encode()


def _pid(pool: InspectorPool) -> set[int]:
    return {v.proc.pid for v in pool._all if v.proc.poll() is None}


class _Hooked(io.BytesIO):
    """A file that runs ``hook`` on its first read past ``at``: the moment the child is
    waiting on the parent mid-parse."""

    def __init__(self, data: bytes, at: int, hook: Callable[[], Any]) -> None:
        super().__init__(data)
        self._at = at
        self._hook: Callable[[], Any] | None = hook

    def read(self, size: int | None = -1) -> bytes:
        if self._hook is not None and self.tell() >= self._at:
            hook, self._hook = self._hook, None
            hook()
        return super().read(size)


def _child_of(pool: InspectorPool) -> int:
    (validator,) = [v for v in pool._all if v.usable]
    return validator.proc.pid


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json", b'{"a": [1, 2, {"b": null}]}'),
        ("application/json", _large_json(60_000)),  # over 1 MiB: read on request
        ("image/png", _png()),
        ("image/png", _png((800, 600))),
    ],
)
def test_the_answer_is_inspects(pool: InspectorPool, content_type: str, data: bytes) -> None:
    assert pool.inspect(content_type, io.BytesIO(data)) == inspect(content_type, io.BytesIO(data))


def test_invalid_and_unsupported_are_raised_as_inspect_raises_them(pool: InspectorPool) -> None:
    with pytest.raises(InvalidContentError, match="not valid JSON"):
        pool.inspect("application/json", io.BytesIO(b"[1,]"))
    with pytest.raises(UnsupportedContentTypeError):
        pool.inspect("text/plain", io.BytesIO(b"hi"))


def test_the_json_that_crashed_the_parser_is_refused_in_one_piece(pool: InspectorPool) -> None:
    for tail in (b"~]", b"]", b",1]"):
        with pytest.raises(InvalidContentError, match="4300 digits"):
            pool.inspect("application/json", io.BytesIO(b"[" + b"1" * 4301 + tail))
    assert len(_pid(pool)) == 1, "the same child answered every time"


def test_a_crashed_child_fails_the_object_and_the_next_job_gets_another() -> None:
    with InspectorPool(1) as pool:
        pool.inspect("application/json", io.BytesIO(b"{}"))
        child = _child_of(pool)
        data = _large_json(100_000)
        file = _Hooked(data, 1, lambda: os.kill(child, signal.SIGSEGV))
        with pytest.raises(InvalidContentError) as info:
            pool.inspect("application/json", file)
        assert info.value.reason == "validator crashed (signal 11, SIGSEGV)"
        assert pool.inspect("application/json", io.BytesIO(b"[]"))["json_type"] == "array"
        assert _child_of(pool) != child


def test_an_object_over_the_memory_limit_ends_its_child() -> None:
    # pypdf builds the cross-reference table in memory: 400,000 entries take far more than
    # the child's 128 MiB minus its libraries.
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    entries = 400_000
    xref = b"xref\n0 %d\n" % entries + b"0000000009 00000 n \n" * entries
    tail = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (entries, len(head))
    with InspectorPool(1, memory_limit=128 * 1024 * 1024) as pool:
        with pytest.raises(InvalidContentError) as info:
            pool.inspect("application/pdf", io.BytesIO(head + xref + tail))
        assert info.value.reason == "validator exceeded 128 MiB of memory"
        assert pool.inspect("application/json", io.BytesIO(b"1"))["json_type"] == "number"


def test_an_object_over_the_cpu_limit_ends_its_child() -> None:
    # Small containers at the top level call back into Python twice each: seconds of CPU.
    data = b"[" + b",".join([b'{"x": 1}'] * 1_000_000) + b"]"
    # A wall limit far away: on a loaded machine the child may wait its turn for a core.
    with InspectorPool(1, cpu_seconds=1, cpu_seconds_per_gib=0, wall_factor=60) as pool:
        with pytest.raises(InvalidContentError) as info:
            pool.inspect("application/json", io.BytesIO(data))
        assert info.value.reason == "validator exceeded its CPU-time limit of 1 s"
        assert pool.inspect("application/json", io.BytesIO(b"1"))["json_type"] == "number"


def test_a_child_that_stalls_is_stopped_after_its_wall_time() -> None:
    with InspectorPool(1, cpu_seconds=0.5, cpu_seconds_per_gib=0) as pool:
        pool.inspect("application/json", io.BytesIO(b"{}"))
        child = _child_of(pool)
        file = _Hooked(_large_json(100_000), 1, lambda: os.kill(child, signal.SIGSTOP))
        with pytest.raises(InvalidContentError, match="validator took longer than 2 s"):
            pool.inspect("application/json", file)
        assert pool.inspect("application/json", io.BytesIO(b"[]"))["json_type"] == "array"


class _StoreDown(ConnectionError):
    pass


def test_a_fault_of_the_callers_file_is_raised_as_itself_and_keeps_the_child() -> None:
    def fail() -> None:
        raise _StoreDown("the blob store went away")

    with InspectorPool(1) as pool:
        pool.inspect("application/json", io.BytesIO(b"{}"))
        child = _child_of(pool)
        with pytest.raises(_StoreDown):
            pool.inspect("application/json", _Hooked(_large_json(100_000), 1024 * 1024, fail))
        assert pool.inspect("application/json", io.BytesIO(b"[]"))["json_type"] == "array"
        assert _child_of(pool) == child


def test_threads_share_the_pool() -> None:
    results: list[dict[str, Any]] = []
    data = _large_json(30_000)
    with InspectorPool(2) as pool:

        def work() -> None:
            for _ in range(3):
                results.append(pool.inspect("application/json", io.BytesIO(data)))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(_pid(pool)) <= 2
    assert len(results) == 12
    assert all(r == results[0] for r in results)


def test_close_ends_every_child() -> None:
    pool = InspectorPool(2)
    pool.inspect("application/json", io.BytesIO(b"{}"))
    children = list(pool._all)
    pool.close()
    assert all(v.proc.poll() is not None for v in children)
    with pytest.raises(RuntimeError, match="closed"):
        pool.inspect("application/json", io.BytesIO(b"{}"))


@pytest.mark.parametrize("executable", ["/bin/false", "/nonexistent/python"])
def test_a_validator_that_cannot_start_is_a_fault_of_the_machine_and_keeps_its_place(
    monkeypatch: pytest.MonkeyPatch, executable: str
) -> None:
    with InspectorPool(1) as pool:
        monkeypatch.setattr(sys, "executable", executable)
        for _ in range(3):  # with its place lost, the second call would wait for ever
            with pytest.raises(ValidatorStartError) as info:
                pool.inspect("application/json", io.BytesIO(b"{}"))
            assert isinstance(info.value, BackendUnavailableError)
        monkeypatch.undo()
        assert pool.inspect("application/json", io.BytesIO(b"[]"))["json_type"] == "array"


# -- batches ------------------------------------------------------------------------------


def _gif_parts(gif: bytes) -> tuple[bytes, list[bytes]]:
    """A GIF's head (header, screen, colour table) and its frames: each the extensions
    before an image, and the image."""

    def table(flags: int) -> int:
        return 3 << ((flags & 7) + 1) if flags & 0x80 else 0

    at = 13 + table(gif[10])
    head, frames, start = gif[:at], [], at
    while gif[at] != 0x3B:
        image = gif[at] == 0x2C
        # An image: its descriptor, local colour table and LZW code size; an extension:
        # its introducer and label. Then data sub-blocks up to an empty one.
        at += 11 + table(gif[at + 9]) if image else 2
        while gif[at]:
            at += gif[at] + 1
        at += 1
        if image:
            frames.append(gif[start:at])
            start = at
    return head, frames


@functools.cache
def _gif_frames() -> bytes:
    """A GIF animation of 16 blank 64-megapixel frames (the most the pixel limit admits):
    under 1 MiB, so it goes in a batch, and seconds of CPU to decode (2 s on a 2026 Xeon
    core), well past a limit that rounds up to the child's next whole second. Pillow
    would hold every frame to write them (a gigabyte), so two are made and the second
    repeated."""
    out = io.BytesIO()
    first, second = (Image.new("L", (8000, 8000), n) for n in (0, 3))
    first.save(out, "GIF", save_all=True, append_images=[second], optimize=False, disposal=2)
    head, (one, two) = _gif_parts(out.getvalue())
    return head + one + two * 15 + b";"


_MIXED: list[tuple[str, bytes]] = [
    ("application/json", b'{"a": [1, 2, {"b": null}]}'),
    ("application/json", b"[1,]"),
    ("image/png", _png()),
    ("text/plain", b"hi"),
    ("application/json", _large_json(60_000)),  # over 1 MiB: alone, read on request
    ("application/json", b"[]"),
]


def _alone(content_type: str, data: bytes) -> object:
    try:
        return inspect(content_type, io.BytesIO(data))
    except (InvalidContentError, UnsupportedContentTypeError) as exc:
        return (type(exc), str(exc))


def _comparable(answers: list[Any]) -> list[object]:
    return [a if isinstance(a, dict) else (type(a), str(a)) for a in answers]


class _Frames:
    """Counts the frames of each kind the parent sends its children."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[bytes] = []
        send = _wire.Channel.send

        def counted(channel: _wire.Channel, kind: bytes, *args: Any, **kwargs: Any) -> None:
            self.sent.append(kind)
            send(channel, kind, *args, **kwargs)

        monkeypatch.setattr(_wire.Channel, "send", counted)


def test_a_batch_answers_each_object_as_inspect_alone_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with InspectorPool(1) as pool:
        pool.inspect("application/json", io.BytesIO(b"{}"))
        child = _child_of(pool)
        frames = _Frames(monkeypatch)
        answers = pool.inspect_many(_MIXED)
        assert _comparable(answers) == [_alone(t, d) for t, d in _MIXED]
        # Four small objects, one large, one small: three round trips, by one child.
        assert frames.sent.count(_wire.BATCH) == 2
        assert frames.sent.count(_wire.JOB) == 1
        assert _child_of(pool) == child


def test_a_batch_is_split_by_count_and_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    with InspectorPool(1) as pool:
        frames = _Frames(monkeypatch)
        assert len(pool.inspect_many([("application/json", b"1")] * 70)) == 70
        assert frames.sent.count(_wire.BATCH) == 2  # 64 and 6
        frames.sent.clear()
        megabyte = b"[" + b" " * (1024 * 1024 - 2) + b"]"
        answers = pool.inspect_many([("application/json", megabyte)] * 5)
        assert [a["json_type"] for a in answers] == ["array"] * 5  # type: ignore[index]
        assert frames.sent.count(_wire.BATCH) == 2  # 4 MiB, then 1 MiB
    assert pool.inspect_many([]) == []


def _blank_rgba() -> bytes:
    """8000x8000 RGBA: 256 MB decoded, a fraction of a megabyte of PNG."""
    out = io.BytesIO()
    Image.new("RGBA", (8000, 8000)).save(out, "PNG", compress_level=9)
    return out.getvalue()


@pytest.mark.parametrize(
    ("image", "limits", "reason"),
    [
        pytest.param(
            lambda: ("image/png", _blank_rgba()),
            {"memory_limit": 128 * 1024 * 1024},
            "validator exceeded 128 MiB of memory",
            id="memory",
        ),
        pytest.param(
            lambda: ("image/gif", _gif_frames()),
            {"cpu_seconds": 0.05, "cpu_seconds_per_gib": 0, "wall_factor": 600},
            "validator exceeded its CPU-time limit of 1 s",
            id="cpu",
        ),
        # At least a second of CPU (the limit rounds up), half a second of wall time.
        pytest.param(
            lambda: ("image/gif", _gif_frames()),
            {"cpu_seconds": 1, "cpu_seconds_per_gib": 0, "wall_factor": 0.5},
            "validator took longer than 0.5 s",
            id="wall",
        ),
    ],
)
def test_the_object_that_ends_a_child_mid_batch_is_the_only_one_refused(
    image: Callable[[], tuple[str, bytes]], limits: dict[str, Any], reason: str
) -> None:
    content_type, data = image()
    assert len(data) <= 1024 * 1024, "small enough to go in the batch"
    jobs = [("application/json", b"{}"), (content_type, data), ("application/json", b"[]")]
    with InspectorPool(1, **limits) as pool:
        first, refused, last = pool.inspect_many(jobs)
    assert isinstance(refused, InvalidContentError)
    assert refused.reason == reason
    assert first == inspect("application/json", io.BytesIO(b"{}"))
    assert last == inspect("application/json", io.BytesIO(b"[]"))


def _one_small(pool: InspectorPool) -> list[str]:
    return [pool.inspect("application/json", io.BytesIO(b"[]"))["json_type"]]


def _one_large(pool: InspectorPool) -> list[str]:
    # Over 1 MiB: the child reads it on request, so the job frame goes alone.
    return [pool.inspect("application/json", io.BytesIO(_large_json(60_000)))["json_type"]]


def _a_batch(pool: InspectorPool) -> list[str]:
    answers = pool.inspect_many([("application/json", b"[]")] * 3)
    return [a["json_type"] for a in answers]  # type: ignore[index]


_WAYS_IN = [
    pytest.param(_one_small, ["array"], id="small"),
    pytest.param(_one_large, ["object"], id="large"),
    pytest.param(_a_batch, ["array"] * 3, id="batch"),
]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP])
@pytest.mark.parametrize(("job", "expected"), _WAYS_IN)
def test_a_child_lost_while_idle_blames_no_object(
    how: signal.Signals, job: Callable[[InspectorPool], list[str]], expected: list[str]
) -> None:
    # An idle child killed (by the kernel's OOM killer, say) or stopped: the next object
    # is not what ended it, so it goes to a fresh child instead of being refused.
    with InspectorPool(1, cpu_seconds=0.5, cpu_seconds_per_gib=0) as pool:
        pool.inspect("application/json", io.BytesIO(b"{}"))
        child = _child_of(pool)
        os.kill(child, how)
        assert job(pool) == expected
        assert _child_of(pool) != child


@pytest.mark.parametrize(("job", "expected"), _WAYS_IN)
def test_children_that_never_take_a_job_are_a_fault_of_the_machine(
    monkeypatch: pytest.MonkeyPatch,
    job: Callable[[InspectorPool], list[str]],
    expected: list[str],
) -> None:
    def hang_up(channel: _wire.Channel, kind: bytes, *args: Any, **kwargs: Any) -> None:
        raise _wire.ChannelClosed("the pipe was closed")

    with InspectorPool(1) as pool:
        pool.inspect("application/json", io.BytesIO(b"{}"))
        monkeypatch.setattr(_wire.Channel, "send", hang_up)
        with pytest.raises(ValidatorStartError, match="before they take a job"):
            job(pool)
        monkeypatch.undo()
        assert job(pool) == expected
