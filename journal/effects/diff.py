"""What changed between two byte strings: the smallest differing middle, and the JSON values."""

from __future__ import annotations

from typing import Any

import orjson


def splice_of(before: bytes, after: bytes, step: int = 4096) -> tuple[int, bytes, bytes]:
    """(offset, old, new): the smallest middle that differs, the common head and tail kept.

    A JSON line can be tens of KB long: equal blocks of `step` bytes are skipped by comparing
    slices (memcmp in C), then the block that differs is binary searched."""
    limit = min(len(before), len(after))
    head = _agree(before, after, limit, step, from_end=False)
    tail = _agree(before, after, limit - head, step, from_end=True)  # the tail may not reach into the head
    return head, before[head:len(before) - tail], after[head:len(after) - tail]


def _agree(a: bytes, b: bytes, limit: int, step: int, *, from_end: bool) -> int:
    """How many bytes (at most `limit`) two strings share from their start, or from their end."""

    def same(start: int, stop: int) -> bool:  # bytes [start, stop) counted from the chosen side
        if from_end:
            return a[len(a) - stop:len(a) - start] == b[len(b) - stop:len(b) - start]
        return a[start:stop] == b[start:stop]

    done = 0
    while done + step <= limit and same(done, done + step):
        done += step
    low, high = done, min(done + step, limit)  # done agrees; the answer lies in [low, high]
    while low < high:
        mid = (low + high + 1) // 2
        if same(done, mid):
            low = mid
        else:
            high = mid - 1
    return low


_ABSENT: Any = object()


def json_changes(before: bytes, after: bytes, limit: int = 8) -> tuple[tuple[str, Any, Any], ...]:
    """The dotted paths whose JSON values differ between two lines (when both parse), for display."""
    try:
        a, b = orjson.loads(before), orjson.loads(after)
    except orjson.JSONDecodeError:
        return ()
    found: list[tuple[str, Any, Any]] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if len(found) >= limit or x == y:  # equal subtrees compare in C, without a walk
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in list(x) + [k for k in y if k not in x]:
                walk(x.get(k, _ABSENT), y.get(k, _ABSENT), f"{path}.{k}" if path else str(k))
        elif x != y:
            found.append((path, None if x is _ABSENT else x, None if y is _ABSENT else y))

    walk(a, b, "")
    return tuple(found)
