"""Validation in child processes, so that no input can take the service down with it.

Parsers are C libraries and large Python ones fed hostile bytes: yajl, libpng, libjpeg,
libwebp, zlib, pypdf. ``InspectorPool.inspect`` is ``kinds.inspect`` run in one of a few
long-lived validator processes (``_child.py``), each capped in address space and, per
object, in CPU time. A crash, a runaway allocation or an endless loop ends that child
only; the object is refused with the reason (``validator crashed (signal 11, SIGSEGV)``),
which the processing path makes final, and the next job gets a fresh child.

A large object's bytes never leave the parent's file: the child asks for each read, so the
caller's hashing of what is read (``_processing``) works as before, and a blob store fault
while the child waits is raised as itself, never mistaken for bad content. Small ones go
whole with their job; ``inspect_many`` sends many of them in one batch, for one round trip
where each would cost its own, and answers each as ``inspect`` would have.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, Final, TypeAlias, TypeVar

from .._constants import (
    DEFAULT_VALIDATOR_CPU_SECONDS,
    DEFAULT_VALIDATOR_CPU_SECONDS_PER_GIB,
    DEFAULT_VALIDATOR_MEMORY,
)
from .._exceptions import (
    BackendUnavailableError,
    InvalidContentError,
    UnsupportedContentTypeError,
)
from .._settings import Settings
from . import _wire

__all__ = ["Answer", "InspectorPool", "ValidatorStartError"]

logger = logging.getLogger("sangraha_core.kinds")

_T = TypeVar("_T")

MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB
#: Objects up to this size go to the child with the job, in one frame.
_INLINE: Final = 1024 * 1024
#: A batch's objects, at most: enough that the round trips stop counting, few enough that
#: a child lost mid-batch costs little to redo.
_BATCH_OBJECTS: Final = 64
#: A batch's bytes, at most: one ``DATA`` frame, well under ``_wire.MAX_FRAME``.
_BATCH_BYTES: Final = 4 * MIB
#: A child that waits on nothing but is still silent after this many times its CPU limit
#: is stuck (or starved): it is stopped like one that ran out of CPU time.
DEFAULT_WALL_FACTOR: Final = 4.0
_START_TIMEOUT: Final = 60.0


#: What ``inspect`` made of one object of a batch: its metadata, or the refusal it raised.
Answer: TypeAlias = dict[str, Any] | InvalidContentError | UnsupportedContentTypeError


class ValidatorStartError(BackendUnavailableError):
    """A validator process could not be started: a fault of this machine, not the bytes,
    so the job waits and is tried again like one a backend outage stopped."""


class _Validator:
    """One child process and its pipes."""

    def __init__(self, memory_limit: int) -> None:
        self.memory_limit = memory_limit
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sangraha_core.kinds._child", str(memory_limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.channel = _wire.Channel(self.proc.stdout.fileno(), self.proc.stdin.fileno())
        self.ready = False
        self.usable = True

    def start(self) -> None:
        if self.ready:
            return
        try:
            kind, _ = self.channel.receive(time.monotonic() + _START_TIMEOUT)
        except (_wire.ChannelClosed, _wire.ChannelTimeout) as exc:
            self.stop()
            raise ValidatorStartError(f"a validator process did not start: {exc!r}") from None
        if kind != _wire.READY:
            self.stop()
            raise ValidatorStartError("a validator process did not start")
        self.ready = True

    def run(
        self, content_type: str, file: BinaryIO, size: int, cpu_seconds: float, wall: float
    ) -> dict[str, Any]:
        inline = size <= _INLINE
        # From the start, as a second child after a lost one must; read before the job is
        # sent, so that a store fault here is raised as it is.
        file.seek(0)
        data = file.read() if inline else b""
        job = {"content_type": content_type, "size": size, "cpu_seconds": cpu_seconds}
        # Time the child spends waiting on our file is not the child's: it moves this on.
        deadline = time.monotonic() + wall
        failure: Exception | None = None
        answered = False
        frames = [(_wire.JOB, json.dumps(job | {"inline": inline}).encode())]
        if inline:
            frames.append((_wire.DATA, data))
        try:
            self._hand_over(frames, deadline)
            while True:
                kind, payload = self.channel.receive(deadline)
                if kind != _wire.READ:
                    answered = True
                    return self._answer(kind, payload, failure)
                before = time.monotonic()
                data, error = _read(file, payload)
                deadline += time.monotonic() - before
                failure = failure or error
                if error is None:
                    self.channel.send(_wire.DATA, data, deadline)
                else:
                    self.channel.send(_wire.FAILED_READ, b"", deadline)
        except _wire.ChannelTimeout:
            self.stop()
            if failure is not None:
                raise failure from None
            raise _took_longer(wall) from None
        except _wire.ChannelClosed:
            reason = self._ended()
            if failure is not None:
                raise failure from None
            raise InvalidContentError(reason_for(reason, cpu_seconds, self.memory_limit)) from None
        finally:
            if not answered and self.usable:
                # Interrupted between two frames: the pipes' state is unknown.
                self.stop()

    def run_many(
        self, jobs: Sequence[tuple[str, bytes]], cpus: Sequence[float], wall_factor: float
    ) -> list[Answer]:
        """The answers to ``jobs`` in order, sent together, up to and including the first
        that ended this child: the rest are for another.
        """
        batch = [
            {"content_type": content_type, "size": len(data), "cpu_seconds": cpu}
            for (content_type, data), cpu in zip(jobs, cpus, strict=True)
        ]
        frames = [
            (_wire.BATCH, json.dumps({"jobs": batch}).encode()),
            (_wire.DATA, b"".join(data for _, data in jobs)),
        ]
        answers: list[Answer] = []
        try:
            # A healthy child takes the batch at once, whatever its size.
            self._hand_over(frames, time.monotonic() + wall_factor * max(cpus))
            for cpu in cpus:
                # Each object has the wall time it would have alone, from the last answer.
                try:
                    kind, payload = self.channel.receive(time.monotonic() + wall_factor * cpu)
                except _wire.ChannelTimeout:
                    self.stop()
                    answers.append(_took_longer(wall_factor * cpu))
                    break
                except _wire.ChannelClosed:
                    reason = reason_for(self._ended(), cpu, self.memory_limit)
                    answers.append(InvalidContentError(reason))
                    break
                try:
                    answers.append(self._answer(kind, payload, None))
                except (InvalidContentError, UnsupportedContentTypeError) as exc:
                    answers.append(exc)
                if not self.usable:
                    break
        finally:
            if len(answers) < len(jobs) and self.usable:
                # Interrupted between two frames: the pipes' state is unknown.
                self.stop()
        return answers

    def _hand_over(self, frames: Sequence[tuple[bytes, bytes]], deadline: float) -> None:
        """Send a job's ``frames`` and wait for the child to say it has them.

        Raises ``_ChildLost`` if the child ends or stalls first, as one killed while idle
        does: no object can be blamed for that.
        """
        try:
            for kind, payload in frames:
                self.channel.send(kind, payload, deadline)
            kind, _ = self.channel.receive(deadline)
        except (_wire.ChannelTimeout, _wire.ChannelClosed) as exc:
            self.stop()
            raise _ChildLost(repr(exc) if str(exc) else type(exc).__name__) from None
        if kind != _wire.TAKEN:
            self.stop()
            raise _ChildLost(f"it answered {kind!r} instead of taking the job")

    def _answer(self, kind: bytes, payload: bytes, failure: Exception | None) -> dict[str, Any]:
        if failure is not None:
            # The child gave up because our file failed, whatever it answers.
            raise failure
        try:
            body = json.loads(payload)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.stop()
            raise InvalidContentError("validator answered nonsense")
        if kind == _wire.RESULT:
            return body
        reason = str(body.get("reason", ""))
        if kind == _wire.INVALID:
            raise InvalidContentError(reason)
        if kind == _wire.UNSUPPORTED:
            raise UnsupportedContentTypeError(reason)
        self.stop()
        if kind == _wire.OUT_OF_MEMORY:
            raise InvalidContentError(
                f"validator exceeded {self.memory_limit // MIB} MiB of memory"
            )
        raise InvalidContentError("validator answered nonsense")

    def _ended(self) -> int:
        """The child's exit status, once it has ended (killed if it lingers)."""
        self.usable = False
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stop(self) -> None:
        self.usable = False
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()

    def close(self) -> None:
        """Let the child end by itself (end of its input), else stop it."""
        self.usable = False
        self._close_pipes()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.stop()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


class _ChildLost(Exception):
    """The child ended or stalled before it was given any object to blame."""


def _read(file: BinaryIO, request: bytes) -> tuple[bytes, Exception | None]:
    """The bytes one ``READ`` asks for, or what the caller's file raised instead."""
    offset, size = _wire.READ_REQUEST.unpack(request)
    try:
        if file.tell() != offset:
            file.seek(offset)
        return file.read(min(size, _wire.MAX_FRAME)), None
    except Exception as exc:
        return b"", exc


def _took_longer(wall: float) -> InvalidContentError:
    # Whole seconds, unless that would round a short limit down to nothing.
    shown = f"{wall:.0f}" if wall >= 1 else f"{wall:.1g}"
    return InvalidContentError(f"validator took longer than {shown} s")


def reason_for(status: int, cpu_seconds: float, memory_limit: int) -> str:
    """What a validator's exit status says about the object it was reading."""
    if status >= 0:
        return f"validator exited with status {status}"
    number = -status
    if number == signal.SIGXCPU:
        return f"validator exceeded its CPU-time limit of {math.ceil(cpu_seconds)} s"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "unknown signal"
    return f"validator crashed (signal {number}, {name})"


class InspectorPool:
    """``kinds.inspect`` in up to ``size`` validator processes at once.

    Threads share one pool; each call takes an idle child (waiting for one when all are
    busy) and gives it back, or replaces it when it did not survive the object.

    :param size: validator processes; one per thread that validates at once.
    :param memory_limit: each child's address space, in bytes.
    :param cpu_seconds: CPU time any object may take.
    :param cpu_seconds_per_gib: more CPU time per GiB of the object.
    :param wall_factor: a child silent for this many times its CPU limit (not counting
        the time it waited for the caller's file) is stopped as stuck.
    """

    def __init__(
        self,
        size: int = 2,
        *,
        memory_limit: int = DEFAULT_VALIDATOR_MEMORY,
        cpu_seconds: float = DEFAULT_VALIDATOR_CPU_SECONDS,
        cpu_seconds_per_gib: float = DEFAULT_VALIDATOR_CPU_SECONDS_PER_GIB,
        wall_factor: float = DEFAULT_WALL_FACTOR,
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one validator")
        self.size = size
        self.memory_limit = memory_limit
        self.cpu_seconds = cpu_seconds
        self.cpu_seconds_per_gib = cpu_seconds_per_gib
        self.wall_factor = wall_factor
        self._idle: queue.LifoQueue[_Validator | None] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._all: set[_Validator] = set()
        self._closed = False
        for _ in range(size):
            # Empty places: a child starts on first use, so an idle pool costs nothing.
            self._idle.put(None)

    @classmethod
    def from_settings(cls, settings: Settings, *, size: int) -> InspectorPool:
        return cls(
            size,
            memory_limit=settings.validator_memory,
            cpu_seconds=settings.validator_cpu_seconds,
            cpu_seconds_per_gib=settings.validator_cpu_seconds_per_gib,
        )

    def __enter__(self) -> InspectorPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def cpu_limit(self, size: int) -> float:
        """CPU seconds an object of ``size`` bytes may take."""
        return self.cpu_seconds + self.cpu_seconds_per_gib * size / GIB

    def inspect(self, content_type: str, file: BinaryIO) -> dict[str, Any]:
        """``kinds.inspect(content_type, file)``, in a validator process.

        Raises what ``kinds.inspect`` raises, with the same meaning: ``InvalidContentError``
        also when the bytes killed the validator, errors of ``file`` itself unchanged, and
        ``ValidatorStartError`` if no validator could be started or kept long enough to
        take the job (one that ends before it has taken a job blames no object).
        """
        size = file.seek(0, io.SEEK_END)
        cpu = self.cpu_limit(size)
        run = functools.partial(
            _Validator.run,
            content_type=content_type,
            file=file,
            size=size,
            cpu_seconds=cpu,
            wall=self.wall_factor * cpu,
        )
        return self._on_a_child(run)

    def inspect_many(self, jobs: Sequence[tuple[str, bytes]]) -> list[Answer]:
        """``inspect`` of each ``(content_type, data)``, answered in order; small objects go
        to a child many at a time, so that they cost one round trip, not one each.

        Each object keeps the limits and the answer it would have alone: a refusal is in
        its place in the list, a child that an object ended fails that object only (the
        rest go to a fresh child), and ``ValidatorStartError`` is raised if no child could
        be started or kept long enough to take a batch.
        """
        answers: list[Answer] = []
        while len(answers) < len(jobs):
            chunk = _next_batch(jobs, len(answers))
            if not chunk:
                content_type, data = jobs[len(answers)]
                try:
                    with io.BytesIO(data) as file:
                        answers.append(self.inspect(content_type, file))
                except (InvalidContentError, UnsupportedContentTypeError) as exc:
                    answers.append(exc)
                continue
            cpus = [self.cpu_limit(len(data)) for _, data in chunk]
            run = functools.partial(
                _Validator.run_many, jobs=chunk, cpus=cpus, wall_factor=self.wall_factor
            )
            answers += self._on_a_child(run)
        return answers

    def close(self) -> None:
        """End every validator; calls after this raise ``RuntimeError``."""
        with self._lock:
            self._closed = True
            validators = list(self._all)
            self._all.clear()
        for validator in validators:
            validator.close()

    def _on_a_child(self, work: Callable[[_Validator], _T]) -> _T:
        """``work`` done by an idle child, or by a second one if the first was lost before
        it took the job (``ValidatorStartError`` if that one is lost too)."""
        lost: list[str] = []
        while len(lost) < 2:
            validator = self._take()
            try:
                validator.start()
                return work(validator)
            except _ChildLost as exc:
                lost.append(str(exc))
            finally:
                self._give_back(validator)
        raise ValidatorStartError(
            f"validator processes end before they take a job: {'; '.join(lost)}"
        )

    def _take(self) -> _Validator:
        validator = self._idle.get()
        with self._lock:
            if self._closed:
                self._idle.put(validator)
                raise RuntimeError("the validator pool is closed")
            if validator is None or not validator.usable:
                try:
                    validator = _Validator(self.memory_limit)
                except OSError as exc:
                    # The place stays in the pool, or every thread would end up waiting.
                    self._idle.put(None)
                    raise ValidatorStartError(
                        f"a validator process could not be started: {exc!r}"
                    ) from None
                self._all.add(validator)
        return validator

    def _give_back(self, validator: _Validator) -> None:
        with self._lock:
            if not validator.usable:
                self._all.discard(validator)
                logger.warning(
                    "validator %d ended (status %s); the next job starts another",
                    validator.proc.pid,
                    validator.proc.returncode,
                )
        if not validator.usable:
            validator.stop()
            self._idle.put(None)
        else:
            self._idle.put(validator)


def _next_batch(jobs: Sequence[tuple[str, bytes]], start: int) -> Sequence[tuple[str, bytes]]:
    """The jobs from ``start`` on that go to a child together; none if the first is too
    large to go inline."""
    end, size = start, 0
    while end < len(jobs) and end - start < _BATCH_OBJECTS:
        length = len(jobs[end][1])
        if length > _INLINE or (end > start and size + length > _BATCH_BYTES):
            break
        end, size = end + 1, size + length
    return jobs[start:end]
