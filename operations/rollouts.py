"""Find rollout files and read each one's first `session_meta` line, cheaply.

The audit reads only the first line of every file (it holds the thread's id, provider,
cwd and source). Damaged input is classified and counted, never raised.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

UUID_RE = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")
NAME_TS_RE = re.compile(r"^rollout-(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})")
MAX_FIRST_LINE = 64 << 20
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SessionMeta:
    """The fields of the first `session_meta` that decide where and whether a thread is listed."""

    id: str | None
    timestamp: str | None
    cwd: str | None
    model_provider: str | None
    source: Any
    thread_source: str | None
    originator: str | None
    cli_version: str | None
    history_mode: str | None
    forked_from_id: str | None
    parent_thread_id: str | None


@dataclass(frozen=True)
class Rollout:
    path: str
    location: str  # dated, flat, archived, archived_nested
    compressed: bool
    file_id: str | None  # the uuid in the file name
    name_date: tuple[str, str, str] | None  # YYYY, MM, DD from the file name
    size: int
    mtime_ns: int
    format: str  # current, legacy_pre_2025_09, bom, not_json, empty, no_session_meta, unreadable, compressed_unread
    meta: SessionMeta | None
    first_line_length: int = 0

    @property
    def plain_path(self) -> str:
        """The name Codex stores in `rollout_path` (always the plain .jsonl name)."""
        return self.path[: -len(".zst")] if self.compressed else self.path

    @property
    def thread_id(self) -> str | None:
        return self.file_id


def parse_name(name: str) -> tuple[str | None, tuple[str, str, str] | None]:
    stem = name
    for suffix in (".jsonl.zst", ".jsonl"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    match = UUID_RE.search(stem)
    when = NAME_TS_RE.match(name)
    return (match.group(1).lower() if match else None, when.groups()[:3] if when else None)  # type: ignore[return-value]


def is_rollout_name(name: str) -> bool:
    return name.startswith("rollout-") and (name.endswith(".jsonl") or name.endswith(".jsonl.zst"))


def iter_rollout_paths(codex_home: Path) -> Iterator[tuple[str, str]]:
    """(path, location) for every rollout under sessions/ and archived_sessions/."""
    sessions = codex_home / "sessions"
    archived = codex_home / "archived_sessions"
    for base, top_location in ((sessions, "sessions"), (archived, "archived")):
        if not base.is_dir():
            continue
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            depth = 0 if folder == str(base) else os.path.relpath(folder, base).count(os.sep) + 1
            for name in sorted(files):
                if not is_rollout_name(name):
                    continue
                if top_location == "sessions":
                    location = "dated" if depth == 3 else "flat" if depth == 0 else "misplaced"
                else:
                    location = "archived" if depth == 0 else "archived_nested"
                yield os.path.join(folder, name), location


def read_first_line(path: str, compressed: bool) -> bytes | None:
    """The first line without its newline; None when the file cannot be read."""
    try:
        if compressed:
            try:
                import zstandard
            except ImportError:
                return None
            with open(path, "rb") as raw:
                reader = zstandard.ZstdDecompressor().stream_reader(raw)
                with io.BufferedReader(reader) as handle:  # type: ignore[arg-type]
                    line = handle.readline(MAX_FIRST_LINE)
        else:
            with open(path, "rb") as handle:
                line = handle.readline(MAX_FIRST_LINE)
    except (OSError, ValueError):
        return None
    except Exception:  # noqa: BLE001 - a corrupt zstd frame raises its own error type
        return None
    return line.rstrip(b"\r\n")


def classify_first_line(line: bytes | None, compressed: bool) -> tuple[str, SessionMeta | None]:
    if line is None:
        return ("compressed_unread" if compressed else "unreadable"), None
    if not line:
        return "empty", None
    fmt = "current"
    if line.startswith(BOM):
        fmt = "bom"
        line = line[len(BOM):]
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "not_json", None
    if not isinstance(record, dict):
        return "not_json", None
    if record.get("type") == "session_meta" and isinstance(record.get("payload"), dict):
        return fmt, _meta(record["payload"])
    if "type" not in record and "id" in record and ("instructions" in record or "timestamp" in record):
        payload = {"id": record.get("id"), "timestamp": record.get("timestamp")}
        return "legacy_pre_2025_09", _meta(payload)
    return "no_session_meta", None


def _meta(p: dict[str, Any]) -> SessionMeta:
    def text(key: str) -> str | None:
        value = p.get(key)
        return value if isinstance(value, str) else None

    return SessionMeta(
        id=text("id"), timestamp=text("timestamp"), cwd=text("cwd"), model_provider=text("model_provider"),
        source=p.get("source"), thread_source=text("thread_source"), originator=text("originator"),
        cli_version=text("cli_version"), history_mode=text("history_mode"), forked_from_id=text("forked_from_id"),
        parent_thread_id=text("parent_thread_id"),
    )


def read_rollout(path: str, location: str) -> Rollout:
    compressed = path.endswith(".zst")
    file_id, name_date = parse_name(os.path.basename(path))
    try:
        st = os.stat(path)
        size, mtime = st.st_size, st.st_mtime_ns
    except OSError:
        size, mtime = 0, 0
    line = read_first_line(path, compressed)
    fmt, meta = classify_first_line(line, compressed)
    return Rollout(path, location, compressed, file_id, name_date, size, mtime, fmt, meta, len(line or b""))


def scan_rollouts(codex_home: Path, progress: Callable[[int], None] | None = None) -> list[Rollout]:
    found: list[Rollout] = []
    for path, location in iter_rollout_paths(codex_home):
        found.append(read_rollout(path, location))
        if progress and len(found) % 500 == 0:
            progress(len(found))
    return found


def source_kind(source: Any) -> str:
    """The SessionSource as Codex stores it in the row: a plain string or compact JSON."""
    if source is None:
        return "vscode"  # Codex's default when the field is missing
    if isinstance(source, str):
        return source
    return orjson.dumps(source).decode()
