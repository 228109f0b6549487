"""Option values checked and turned into what the core takes, before anything is read: the
filters, folders, dates, folder pairs. Failures are UsageProblem (exit 2)."""

from __future__ import annotations

import os
from collections.abc import Mapping as Mapping_
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from journal.errors import UsageProblem
from operations.path_spelling import key
from operations.repair.cwd import Mapping, read_map
from operations.repair.selection import ThreadFilter


def non_empty(value: Any) -> Any:
    """An option given as '' (an unset shell variable) is a mistake to say, never "no filter"."""
    items: list[Any] = [value] if isinstance(value, str) else list(value or [])
    for item in items:
        if isinstance(item, str) and not item.strip():
            raise UsageProblem("is empty; give a value, or leave the option out")
    return value


def absolute_folder(value: str | None) -> str | None:
    """A folder as Codex records one: absolute (POSIX, a drive, a share or a WSL path)."""
    if value is not None:
        non_empty(value)
        if key(value, "wsl").kind == "relative":
            raise UsageProblem(f"{value!r} is relative; give an absolute folder")
    return value


def parse_date(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageProblem(f"{name} {value!r} is not a date (use YYYY-MM-DD or an ISO timestamp)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def thread_filter(thread: Sequence[str] | None, provider: str | None, cwd: str | None, since: str | None,
                  until: str | None) -> ThreadFilter:
    """The filters as given; `--thread` values are resolved against the home later
    (`require_known_threads`), once it has been audited."""
    for name, value in (("--thread", thread), ("--provider", provider), ("--cwd", cwd), ("--since", since),
                        ("--until", until)):
        for item in [value] if isinstance(value, str) else value or []:
            if not item.strip():
                raise UsageProblem(f"{name} is empty; give a value, or leave the option out")
    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    if start and end and start >= end:
        raise UsageProblem(f"--since {since} is not before --until {until}: no thread can be created in between")
    folder = None
    if cwd is not None:
        folder = cwd if key(cwd, "wsl").kind != "relative" else os.path.abspath(cwd)
        folder = folder.rstrip("/") or "/"
    refs = tuple(dict.fromkeys(ref.strip().lower() for ref in thread or ()))
    return ThreadFilter(refs, provider, folder, start, end)


def filters_of(args: Mapping_[str, Any]) -> ThreadFilter:
    return thread_filter(args.get("thread"), args.get("provider"), args.get("cwd"), args.get("since"),
                         args.get("until"))


def cwd_mappings(sources: Sequence[str] | None, targets: Sequence[str] | None,
                 map_file: str | None) -> list[Mapping]:
    """Folder rewrites from --from-folder/--to-folder pairs and a --map file; every folder absolute (a
    cwd Codex recorded always is, so a relative or empty one could only match nothing, or the wrong
    thing)."""
    sources, targets = list(sources or []), list(targets or [])
    if len(sources) != len(targets):
        raise UsageProblem("give the old and the new folders in pairs")
    pairs = [Mapping(s, t) for s, t in zip(sources, targets, strict=True)]
    if map_file:
        try:
            text = Path(map_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageProblem(f"cannot read --map {map_file}: {exc}") from None
        pairs += read_map(text)
    for pair in pairs:
        for folder in (pair.source, pair.target):
            if not folder.strip():
                raise UsageProblem("an empty folder was given; folders are rewritten from one absolute folder to "
                                   "another")
            if key(folder, "wsl").kind == "relative":
                raise UsageProblem(f"{folder!r} is a relative folder; give absolute folders (as Codex records a cwd), "
                                   "e.g. /home/me/proj or C:\\Users\\me\\proj")
    return pairs


def with_mappings(args: Mapping_[str, Any]) -> dict[str, Any]:
    """`from_folder`/`to_folder`/`map_file` as the folder pairs they name (`mappings`)."""
    pairs = cwd_mappings(args.get("from_folder"), args.get("to_folder"), args.get("map_file"))
    return {**args, "mappings": tuple(pairs)}
