"""The one clock and the one id source. Both are injectable so tests control them."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC; freezegun controls it in tests."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds, the form used in every journal line."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class IdSource:
    """UUIDv7 ids (time-sortable) from the injected clock.

    Within one millisecond a counter in the 12-bit `rand_a` field keeps ids increasing,
    which matters under a frozen clock.
    """

    def __init__(self, clock: Clock, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._clock = clock
        self._random = random_bytes
        self._last_ms = -1
        self._counter = 0
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            ms = int(self._clock.now().timestamp() * 1000)
            if ms <= self._last_ms:
                ms = self._last_ms
                self._counter += 1
                if self._counter > 0xFFF:
                    ms += 1
                    self._counter = 0
            else:
                self._counter = 0
            self._last_ms = ms
            tail = int.from_bytes(self._random(8), "big") & ((1 << 62) - 1)
            value = (ms & ((1 << 48) - 1)) << 80
            value |= 0x7 << 76
            value |= (self._counter & 0xFFF) << 64
            value |= 0b10 << 62
            value |= tail
            text = f"{value:032x}"
            return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass(frozen=True)
class Spelling:
    """How the engine's messages name what the user can do next (recover, undo a run, verify).
    The engine spells no command of its own: by default an action is written as a call of its
    API (`recover(apply=True)`); an application with a command line passes its own spelling."""

    def command(self, tool: str, action: str, *args: str, **options: str | bool) -> str:
        """`action` with its arguments and options, as the user would ask for it."""
        words = [repr(a) for a in args] + [f"{name}={value!r}" for name, value in options.items()]
        return f"{action}({', '.join(words)})"

    def option(self, name: str) -> str:
        """One option (`force`, `cascade`) as the user would give it."""
        return f"{name}=True"


@dataclass(frozen=True)
class ToolInfo:
    """Who writes the journal: the application passes its own name, version and spelling of
    commands in, so the engine names no tool and no command of its own."""

    name: str = "journal"
    version: str = "0"
    spelling: Spelling = Spelling()

    def command(self, action: str, *args: str, **options: str | bool) -> str:
        return self.spelling.command(self.name, action, *args, **options)

    def option(self, name: str) -> str:
        return self.spelling.option(name)


class Services:
    """The clock, the id source and the writing tool's identity one invocation shares."""

    def __init__(self, clock: Clock | None = None, ids: IdSource | None = None,
                 tool: ToolInfo | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.ids: IdSource = ids or IdSource(self.clock)
        self.tool: ToolInfo = tool or ToolInfo()

    def timestamp(self) -> str:
        return format_ts(self.clock.now())
