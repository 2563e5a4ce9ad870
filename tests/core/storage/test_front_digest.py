"""The front digest: parts hashed in order as they come, whatever order they come in."""

from __future__ import annotations

from collections.abc import Callable

from sangraha_core import Digest
from sangraha_core.storage import PartResult
from sangraha_core.storage._front import FrontDigest


class Part:
    """Bytes to offer, noting whether the front let go of them."""

    def __init__(self, data: bytes, *, short: bool = False, broken: bool = False) -> None:
        self.data = data
        self._closed = False
        self._short = short
        self._broken = broken

    def closed(self) -> bool:
        return self._closed

    def show(self, observe: Callable[[bytes], object]) -> int:
        assert not self._closed
        if self._broken:
            raise RuntimeError("the part's file went away")
        shown = self.data[:-1] if self._short else self.data
        observe(shown)
        return len(shown)

    def close(self) -> None:
        self._closed = True


def listed(*numbers: int) -> list[PartResult]:
    return [PartResult(part_number=n, size=2, etag=f"e{n}") for n in numbers]


def offer(front: FrontDigest, number: int, data: bytes | None = None, **kw: bool) -> Part:
    part = Part(data or b"%d" % number * 2, **kw)
    front.offer(number, f"e{number}", len(part.data), part)
    return part


def test_parts_out_of_order_are_held_then_hashed_in_order() -> None:
    front = FrontDigest(max_held=100)
    three, two = offer(front, 3), offer(front, 2)
    assert not three.closed() and not two.closed()  # waiting for part 1
    one = offer(front, 1)
    assert one.closed() and two.closed() and three.closed()
    taken = front.take(listed(1, 2, 3, 4))
    assert taken is not None
    hasher, hashed = taken
    assert hashed == 6 and hasher.hexdigest() == Digest.of(b"112233").hex


def test_a_part_sent_again_after_hashing_spoils_the_front() -> None:
    front = FrontDigest(max_held=100)
    offer(front, 1)
    again = offer(front, 1, b"xx")
    assert again.closed()
    changed = [PartResult(part_number=1, size=2, etag="other")]
    assert front.take(changed) is None


def test_a_held_part_sent_again_replaces_the_held_one() -> None:
    front = FrontDigest(max_held=100)
    first = offer(front, 2, b"zz")
    offer(front, 2)
    assert first.closed()
    offer(front, 1)
    taken = front.take(listed(1, 2))
    assert taken is not None and taken[0].hexdigest() == Digest.of(b"1122").hex


def test_more_held_than_allowed_gives_up_and_lets_go() -> None:
    front = FrontDigest(max_held=3)
    held = offer(front, 2)
    assert not held.closed()
    spill = offer(front, 3)
    assert held.closed() and spill.closed()
    offer(front, 1)
    assert front.take(listed(1, 2, 3)) is None


def test_fewer_parts_listed_than_hashed_or_a_short_read_give_nothing() -> None:
    front = FrontDigest(max_held=100)
    offer(front, 1)
    offer(front, 2)
    assert front.take(listed(1)) is None
    short = FrontDigest(max_held=100)
    offer(short, 1, short=True)
    assert short.take(listed(1)) is None


def test_close_lets_go_of_held_parts() -> None:
    front = FrontDigest(max_held=100)
    held = offer(front, 2)
    front.close()
    assert held.closed()
    late = offer(front, 1)
    assert late.closed()
    assert front.take(listed(1, 2)) is None


def test_a_part_that_cannot_be_read_gives_up_without_failing_the_offer() -> None:
    front = FrontDigest(max_held=100)
    broken = offer(front, 1, broken=True)
    assert broken.closed()
    offer(front, 2)
    assert front.take(listed(1, 2)) is None
