"""Find rollout files and read each one's first `session_meta` line, cheaply.

The audit reads only the first line of every file (it holds the thread's id, provider,
cwd and source). Damaged input is classified and counted, never raised.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson
import zstandard

from journal.fileio import NotRegularFile, kind_of, open_regular, read_first_line
from journal.platform import exit_with_parent

UUID_RE = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")
NAME_TS_RE = re.compile(r"^rollout-(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})")
MAX_FIRST_LINE = 64 << 20
BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
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
    history_base: dict[str, Any] | None = None


@dataclass(slots=True)
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
    identity: tuple[int, int] = (0, 0)  # (inode, ctime_ns): with size and mtime, says the file is unchanged
    link: str | None = None  # the symlink (a folder, or the file itself) it is reached through

    def unchanged(self, st: os.stat_result) -> bool:
        return (st.st_ino, st.st_ctime_ns, st.st_size, st.st_mtime_ns) == (*self.identity, self.size, self.mtime_ns) \
            and self.identity != (0, 0)

    @property
    def plain_path(self) -> str:
        """The name Codex stores in `rollout_path` (always the plain .jsonl name)."""
        return self.path[: -len(".zst")] if self.compressed else self.path

    @property
    def thread_id(self) -> str | None:
        return self.file_id


def parse_name(name: str) -> tuple[str | None, tuple[str, str, str] | None]:
    """The thread id (scanning from the right, as Codex does) and the date in the name."""
    stem = name[: -len(".jsonl.zst")] if name.endswith(".zst") else name[: -len(".jsonl")]
    tail = stem[-36:]
    if len(tail) == 36 and tail[8] == tail[13] == tail[18] == tail[23] == "-":
        thread_id: str | None = tail.lower()
    else:
        match = UUID_RE.search(stem)
        thread_id = match.group(1).lower() if match else None
    date = (name[8:12], name[13:15], name[16:18]) if NAME_TS_RE.match(name) else None
    return thread_id, date


def is_rollout_name(name: str) -> bool:
    return name.startswith("rollout-") and (name.endswith(".jsonl") or name.endswith(".jsonl.zst"))


class Found(NamedTuple):
    """One entry named like a rollout: where it is, and what it is."""

    path: str
    location: str  # dated, flat, misplaced, archived, archived_nested
    link: str | None  # the symlink (a folder or the file itself) it is reached through, if any
    kind: str  # "file", or what else it is: fifo, socket, device, broken symlink


# A symlinked folder is followed for reading (never for writing) this far below sessions/ or
# archived_sessions/: the layout is three folders deep, and a link must not walk a whole disk.
MAX_LINKED_DEPTH = 4


def walk_rollouts(codex_home: Path) -> Iterator[Found]:
    """Every entry named like a rollout under sessions/ and archived_sessions/, in a stable order.

    Only stat calls are made here, never an open: a FIFO, socket or device named like a rollout
    is yielded with its kind, for the caller to report and skip. Symlinked folders are followed
    (each real folder once, so a loop ends), and whatever lies behind one says so in `link`."""
    for name, top in (("sessions", "sessions"), ("archived_sessions", "archived")):
        base = codex_home / name
        if not base.is_dir():
            continue
        link = str(base) if os.path.islink(base) else None
        yield from _walk(str(base), top, 0, link, set())


def _location(top: str, depth: int) -> str:
    if top == "sessions":
        return "dated" if depth == 3 else "flat" if depth == 0 else "misplaced"
    return "archived" if depth == 0 else "archived_nested"


def _walk(folder: str, top: str, depth: int, link: str | None, seen: set[tuple[int, int]]) -> Iterator[Found]:
    try:
        here = os.stat(folder)
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError:
        return
    if (here.st_dev, here.st_ino) in seen:
        return  # a symlink loop: this folder is already being walked
    seen = seen | {(here.st_dev, here.st_ino)}
    folders: list[tuple[str, str | None]] = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                folders.append((entry.path, link))
                continue
            linked = entry.is_symlink()
            if linked:
                try:
                    mode = os.stat(entry.path).st_mode
                except OSError:  # dangling, or a loop of links
                    if is_rollout_name(entry.name):
                        yield Found(entry.path, _location(top, depth), link or entry.path, "broken symlink")
                    continue
                if stat.S_ISDIR(mode):
                    folders.append((entry.path, link or entry.path))
                    continue
            elif not is_rollout_name(entry.name):
                continue
            elif entry.is_file(follow_symlinks=False):  # scandir's file type: no stat (10,000s of these)
                yield Found(entry.path, _location(top, depth), link, "file")
                continue
            else:
                mode = entry.stat(follow_symlinks=False).st_mode
            if is_rollout_name(entry.name):
                yield Found(entry.path, _location(top, depth), link or (entry.path if linked else None), kind_of(mode))
        except OSError:
            continue
    for path, via in folders:
        if via is not None and depth + 1 > MAX_LINKED_DEPTH:
            continue
        yield from _walk(path, top, depth + 1, via, seen)


def iter_rollout_paths(codex_home: Path) -> Iterator[tuple[str, str]]:
    """(path, location) for every regular rollout file under sessions/ and archived_sessions/."""
    for found in walk_rollouts(codex_home):
        if found.kind == "file":
            yield found.path, found.location


def _read_head(path: str, compressed: bool) -> tuple[bytes | None, os.stat_result | None]:
    """(first line, stat) with one open; never blocks. Only what the walk saw as a regular file
    is read here, and the fstat after the open refuses whatever replaced it since."""
    try:
        if not compressed:
            return read_first_line(path, MAX_FIRST_LINE, known_regular=True)
        with open_regular(path, known_regular=True) as handle:
            return _read_compressed_line(handle), os.fstat(handle.fileno())
    except NotRegularFile:
        raise
    except OSError:
        return None, None


def _read_compressed_line(raw: BinaryIO) -> bytes | None:
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=False)
        with io.BufferedReader(reader) as handle:
            line = handle.readline(MAX_FIRST_LINE)
    except (OSError, ValueError, zstandard.ZstdError):
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
    """Positional and inline, without an intermediate dict: this runs once per rollout."""
    get = p.get
    base = get("history_base")
    return SessionMeta(
        v if isinstance(v := get("id"), str) else None,
        v if isinstance(v := get("timestamp"), str) else None,
        v if isinstance(v := get("cwd"), str) else None,
        v if isinstance(v := get("model_provider"), str) else None,
        get("source"),
        v if isinstance(v := get("thread_source"), str) else None,
        v if isinstance(v := get("originator"), str) else None,
        v if isinstance(v := get("cli_version"), str) else None,
        v if isinstance(v := get("history_mode"), str) else None,
        v if isinstance(v := get("forked_from_id"), str) else None,
        v if isinstance(v := get("parent_thread_id"), str) else None,
        base if isinstance(base, dict) else None,
    )


def file_name(path: str) -> str:
    """`os.path.basename`, without its generality where only one separator exists."""
    return os.path.basename(path) if os.altsep else path[path.rfind(os.sep) + 1:]


def read_rollout(path: str, location: str, link: str | None = None) -> Rollout:
    compressed = path.endswith(".zst")
    file_id, name_date = parse_name(file_name(path))
    line, st = _read_head(path, compressed)
    fmt, meta = classify_first_line(line, compressed)
    size, mtime, identity = (st.st_size, st.st_mtime_ns, (st.st_ino, st.st_ctime_ns)) if st else (0, 0, (0, 0))
    return Rollout(path, location, compressed, file_id, name_date, size, mtime, fmt, meta, len(line or b""),
                   identity, link)


# The audit reads in one process unless told otherwise: measured on a 2-core machine, worker
# processes took as long or longer (10,000 sessions: 1.33 against 1.36 s; 50,000: 5.36 against
# 4.77 s), cost a third more CPU and doubled the memory of the process tree (docs/design.md).
PARALLEL_FROM: int | None = None
PARALLEL_FROM_ENV = "CODEX_SESSIONS_PARALLEL_FROM"  # N: read homes of N files or more with workers
CHUNK = 500


def parallel_from() -> int | None:
    """From how many files the audit reads with worker processes; None: never."""
    value = os.environ.get(PARALLEL_FROM_ENV)
    if value is None:
        return PARALLEL_FROM
    try:
        return max(1, int(value))
    except ValueError:
        return PARALLEL_FROM


def _read_chunk(chunk: list[Found]) -> list[Rollout | Found]:
    out: list[Rollout | Found] = []
    for found in chunk:
        try:
            out.append(read_rollout(found.path, found.location, found.link))
        except NotRegularFile as exc:  # it became something else after the walk looked at it
            out.append(found._replace(kind=exc.kind))
    return out


@dataclass(frozen=True)
class RolloutScan:
    """The rollouts of a home, each with its first line read, and the entries named like
    rollouts that are not files (FIFOs, sockets, devices, broken symlinks): never read."""

    rollouts: list[Rollout]
    skipped: list[Found]


def scan_rollouts(codex_home: Path, progress: Callable[[int], None] | None = None,
                  workers: int | None = None, known: Mapping[str, Rollout] | None = None) -> list[Rollout]:
    return scan_home(codex_home, progress, workers, known).rollouts


def scan_home(codex_home: Path, progress: Callable[[int], None] | None = None,
              workers: int | None = None, known: Mapping[str, Rollout] | None = None) -> RolloutScan:
    """Every rollout with its first line read; large homes are read by a few processes.

    `known`: rollouts read moments ago (the audit before a run); one whose file has the same
    inode, ctime, size and mtime is taken as it is instead of being read again."""
    found = list(walk_rollouts(codex_home))
    listed = [f for f in found if f.kind == "file"]
    skipped = [f for f in found if f.kind != "file"]
    kept: dict[str, Rollout] = {}
    if known:
        for entry in listed:
            before = known.get(entry.path)
            if before is not None and before.location == entry.location and before.link == entry.link:
                try:
                    if before.unchanged(os.stat(entry.path)):
                        kept[entry.path] = before
                except OSError:
                    pass
    paths = [f for f in listed if f.path not in kept]
    count = workers if workers is not None else min(4, os.cpu_count() or 1)
    size = max(1, min(CHUNK, len(paths) // (4 * count)))  # every worker gets several chunks
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    read: list[Rollout | Found] = []
    threshold = parallel_from()
    if threshold is not None and count > 1 and len(paths) >= threshold and _can_fork():
        _read_in_workers(chunks, count, read, lambda: progress(len(kept) + len(read)) if progress else None)
    else:
        for chunk in chunks:
            read.extend(_read_chunk(chunk))
            if progress:
                progress(len(kept) + len(read))
    skipped += [r for r in read if isinstance(r, Found)]
    fresh = {r.path: r for r in read if isinstance(r, Rollout)}
    rollouts = [kept[f.path] if f.path in kept else fresh[f.path] for f in listed
                if f.path in kept or f.path in fresh]
    return RolloutScan(rollouts, skipped)


def _can_fork() -> bool:
    import multiprocessing  # only when workers are asked for: most runs never fork

    return "fork" in multiprocessing.get_all_start_methods()


def _read_in_workers(chunks: list[list[Found]], count: int, read: list[Rollout | Found],
                     progressed: Callable[[], None]) -> None:
    """Forked workers keep none of the journal (closed at fork, see journal.store), ignore
    SIGINT, and exit when this process is gone (journal.platform.exit_with_parent)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=exit_with_parent,
                             initargs=(os.getpid(),)) as pool:
        try:
            for part in pool.map(_read_chunk, chunks):
                read.extend(part)
                progressed()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # an interrupt does not wait for the rest
            raise


def source_kind(source: Any) -> str:
    """The SessionSource as Codex stores it in the row: a plain string or compact JSON."""
    if source is None:
        return "vscode"  # Codex's default when the field is missing
    if isinstance(source, str):
        return source
    return orjson.dumps(source).decode()
