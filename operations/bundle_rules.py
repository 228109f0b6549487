"""What a bundled thread must be, checked the same way on both sides: `export` and `merge` leave
out a thread of the home that breaks a rule (with the reason), and `import` refuses a bundle
holding one. Each rule is a function returning why the value breaks it, or None.

The rules follow Codex's own naming and the table shapes captured from the real binaries
(`known_shapes.json`): one lowercase UUID per thread, rollouts named
`rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl` (or `.jsonl.zst`), rows with only known columns
holding values of each column's declared type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from operations.rollouts import MAX_FIRST_LINE, classify_first_line
from operations.shapes import known_shapes

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
THREAD_ID_RE = re.compile(UUID)  # always fullmatch: `$` would let a trailing newline through
ROLLOUT_NAME_RE = re.compile(
    rf"rollout-([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}-[0-9]{{2}}-[0-9]{{2}})-({UUID})\.jsonl(\.zst)?")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
INT64 = (-(1 << 63), (1 << 63) - 1)
FIRST_LINE_LIMIT = MAX_FIRST_LINE  # the audit reads no more of a first line either


@dataclass(frozen=True)
class Problem:
    """A broken rule: its stable name (for `--json`) and what is wrong, in words."""

    rule: str
    reason: str


def thread_id_problem(thread_id: object) -> Problem | None:
    if not isinstance(thread_id, str) or not THREAD_ID_RE.fullmatch(thread_id):
        return Problem("thread_id", f"{thread_id!r} is not a Codex thread id (a lowercase UUID)")
    return None


def unsafe_name_problem(name: str) -> str | None:
    """Why a path inside the bundle could point outside its folder once joined or normalised."""
    if "\x00" in name:
        return "it holds a NUL byte"
    if CONTROL_RE.search(name):
        return "it holds a control character"
    if "\\" in name:
        return "it holds a backslash"
    if name.startswith("/"):
        return "it is absolute"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "it has an empty, `.` or `..` component"
    if any(re.match(r"[A-Za-z]:", p) for p in parts):
        return "a component starts with a drive letter"
    return None


def file_name_problem(name: str, thread_id: str) -> Problem | None:
    """A rollout file name must be one path component named as Codex names this thread's rollouts."""
    unsafe = unsafe_name_problem(name)
    if unsafe or "/" in name:
        return Problem("unsafe_name", f"file name {name!r} is not one plain path component "
                                      f"({unsafe or 'it has a folder'})")
    match = ROLLOUT_NAME_RE.fullmatch(name)
    if match is None:
        return Problem("file_name", f"file name {name!r} is not named as Codex names rollouts "
                                    "(rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl or .jsonl.zst)")
    try:
        datetime.strptime(match.group(1), "%Y-%m-%dT%H-%M-%S")
    except ValueError:
        return Problem("file_name", f"file name {name!r} holds no valid date and time")
    if match.group(2) != thread_id:
        return Problem("id_mismatch", f"file name {name!r} names thread {match.group(2)}, not {thread_id}")
    return None


def first_line_problem(line: bytes | None, thread_id: str, name: str) -> Problem | None:
    """The rollout's first line must be a `session_meta` (or a pre-2025-09 header) naming this thread."""
    if line is None:
        return Problem("first_line", f"{name}: its first line cannot be read (damaged, or longer than "
                                     f"{FIRST_LINE_LIMIT} bytes)")
    fmt, meta = classify_first_line(line, name.endswith(".zst"))
    if meta is None:
        return Problem("first_line", f"{name}: its first line is not a session_meta ({fmt})")
    if meta.id != thread_id:
        return Problem("id_mismatch", f"{name}: its session_meta.id is {meta.id!r}, not {thread_id}")
    return None


@cache
def _columns(db: str, table: str) -> dict[str, tuple[str, bool]]:
    """Column -> (declared type, NOT NULL in some known shape), over every known release."""
    out: dict[str, tuple[str, bool]] = {}
    for shape in known_shapes()["databases"][db]["tables"][table]:
        for name, declared, not_null, _default, _pk in shape["shape"]["columns"]:
            before = out.get(name, (declared, False))
            out[name] = (declared, before[1] or bool(not_null))
    return out


@cache
def _required(db: str, table: str) -> tuple[str, ...]:
    """Columns every known release has, NOT NULL without a default: an insert must name them."""
    tables = known_shapes()["databases"][db]["tables"][table]
    shapes = [{c[0]: c for c in shape["shape"]["columns"]} for shape in tables]
    return tuple(sorted(name for name in shapes[0] if all(
        name in s and s[name][2] and s[name][3] is None and not s[name][4] for s in shapes)))


def _value_problem(column: str, value: Any, declared: str, not_null: bool) -> str | None:
    if value is None:
        return f"column {column} is null, which no known Codex release allows" if not_null else None
    if declared == "TEXT":
        return None if isinstance(value, str) else f"column {column} holds {_kind(value)}, not text"
    if isinstance(value, int) and not isinstance(value, bool) and INT64[0] <= value <= INT64[1]:
        return None
    return f"column {column} holds {_kind(value)}, not a 64-bit integer"


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "a list",
            dict: "an object", bytes: "bytes"}.get(type(value), type(value).__name__)


def row_problem(row: object, thread_id: str, db: str = "state_5.sqlite", table: str = "threads",
                key: str = "id", rule: str = "row") -> Problem | None:
    """A row must be an object of known columns, each holding its declared type, keyed by this thread."""
    if not isinstance(row, dict):
        return Problem(rule, f"the {table} row is {_kind(row)}, not an object")
    if row.get(key) != thread_id:
        return Problem("id_mismatch", f"the {table} row's {key} is {row.get(key)!r}, not {thread_id}")
    columns = _columns(db, table)
    unknown = sorted(str(k) for k in row if k not in columns)
    if unknown:
        return Problem(rule, f"the {table} row has columns no known Codex release has ({', '.join(unknown)})")
    missing = [c for c in _required(db, table) if c not in row]
    if missing:
        return Problem(rule, f"the {table} row lacks {', '.join(missing)}, which every Codex release requires")
    for column, value in row.items():
        declared, not_null = columns[column]
        problem = _value_problem(column, value, declared, not_null)
        if problem:
            return Problem(rule, f"the {table} row: {problem}")
    return None


def history_problem(history: object, thread_id: str) -> Problem | None:
    """{"projection_state": row or null, "turns": [rows]}, every row this thread's, no turn twice."""
    db = "thread_history_1.sqlite"
    if not isinstance(history, dict) or set(history) != {"projection_state", "turns"}:
        return Problem("history", "history is not an object with exactly projection_state and turns")
    state, turns = history["projection_state"], history["turns"]
    if state is not None:
        problem = row_problem(state, thread_id, db, "thread_history_projection_state", "thread_id", "history")
        if problem:
            return problem
    if not isinstance(turns, list):
        return Problem("history", f"history turns is {_kind(turns)}, not a list")
    seen: set[str] = set()
    for turn in turns:
        problem = row_problem(turn, thread_id, db, "thread_turns", "thread_id", "history")
        if problem:
            return problem
        turn_id = turn.get("turn_id")
        if not isinstance(turn_id, str) or turn_id in seen:
            return Problem("history", f"history turn_id {turn_id!r} is missing or repeated")
        seen.add(turn_id)
    return None


def index_problem(entries: object, thread_id: str) -> Problem | None:
    """session_index.jsonl entries: objects naming this thread."""
    if not isinstance(entries, list):
        return Problem("index", f"the session index entries are {_kind(entries)}, not a list")
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("id") != thread_id:
            return Problem("index", f"a session index entry does not name {thread_id}")
    return None
