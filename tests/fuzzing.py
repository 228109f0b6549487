"""What the property tests share: a sandbox around each case, the invariants every command must
keep on hostile input, and the ways input is mutated.

The invariants, for every case: no traceback (an uncaught exception in the CLI is a failure);
an exit code from the documented set, with the JSON envelope saying the same; no file outside
the case's home created or changed (a victim folder sits beside the home, and hostile names
point into it); and where a command refused or failed, nothing in the home changed at all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from tests.helpers import runner

DOCUMENTED_EXIT_CODES = (0, 1, 2, 3, 4)
COUNTS: dict[str, int] = {}  # cases run per fuzz test, printed at the end of the session

# Values a JSON field is retyped to.
RETYPED = [None, True, 0, -1, 2**63 - 1, -(2**63), 1.5, "", "x", "0" * 3, [], [1, "a"], {}, {"$b64": "!!"},
           {"a": {"b": []}}]


def tree(root: Path) -> dict[str, tuple[str, int, int, str]]:
    """Every entry under `root` without following links: kind, size, mtime and content digest."""
    out: dict[str, tuple[str, int, int, str]] = {}
    if not root.exists():
        return out
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            st_ = os.lstat(path)
            if stat.S_ISREG(st_.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                kind = "file"
            else:
                kind, digest = ("dir" if stat.S_ISDIR(st_.st_mode) else "link" if stat.S_ISLNK(st_.st_mode)
                                else "other"), os.readlink(path) if stat.S_ISLNK(st_.st_mode) else ""
            out[os.path.relpath(path, root)] = (kind, 0 if kind == "dir" else st_.st_size, st_.st_mtime_ns
                                                if kind != "dir" else 0, digest)
    return out


def home_state(home: Path) -> dict[str, tuple[int, ...]]:
    """The home as a refusal must leave it: every entry's kind, size, mtime, ctime and inode (any
    write, even of the same bytes, changes a ctime), less the journal's folder and lock files (a
    writer takes the lock before it decides anything) and SQLite's -shm (a reader may make it).
    A database and its -wal are judged without their ctime: SQLite, run as root, chowns a file
    it opens (even read-only) to its database's owner, which touches the ctime alone; and an
    empty -wal is no -wal (a read-only connection to a WAL database may create one, empty)."""
    return {k: v[:3] + v[4:] if k.endswith((".sqlite", "-wal")) else v for k, v in _stamps(home).items()
            if k != "codex-sessions" and not k.endswith((".lock", ".lock.guard", "-shm"))
            and not (k.endswith("-wal") and not v[1])}


@dataclass
class Sandbox:
    """One case: its own copy of a template home beside a victim folder, and the current folder
    set to a scratch folder (so a relative name can only land in the sandbox)."""

    root: Path
    template: Path
    home: Path = field(init=False)
    outside: Path = field(init=False)

    stamps: dict[str, tuple[int, ...]] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.home = self.root / "case" / "home"
        self.outside = self.root / "outside"

    def fresh(self) -> Path:
        """The home as the template has it. Only what the last case changed is put back: an entry
        added is removed, one removed or changed is copied again (any write changes a ctime)."""
        if self.stamps is None or not self.home.exists():
            shutil.rmtree(self.root / "case", ignore_errors=True)
            (self.root / "case").mkdir(parents=True)
            shutil.copytree(self.template, self.home, symlinks=True)
        else:
            now = _stamps(self.home)
            for rel in sorted(set(now) - set(self.stamps), reverse=True):  # children before parents
                path = self.home / rel
                if now[rel][0] == stat.S_IFDIR:
                    shutil.rmtree(path)
                else:
                    path.unlink()
            restored: set[str] = set()
            for rel in sorted(p for p in self.stamps if now.get(p) != self.stamps[p]):
                if any(rel.startswith(done + os.sep) for done in restored):
                    continue
                path, source = self.home / rel, self.template / rel
                if self.stamps[rel][0] == stat.S_IFDIR:
                    if rel not in now:
                        shutil.copytree(source, path, symlinks=True)
                        restored.add(rel)
                    continue  # a folder's own times change with its entries, which are put back one by one
                if rel in now:
                    shutil.rmtree(path) if now[rel][0] == stat.S_IFDIR else path.unlink()
                shutil.copy2(source, path, follow_symlinks=False)
        self.stamps = _stamps(self.home)
        if os.environ.get("FUZZ_CHECK_FRESH"):  # while changing this method: each restore proven whole
            same = {k: (v[0], v[1], v[3]) for k, v in tree(self.template).items()}
            assert {k: (v[0], v[1], v[3]) for k, v in tree(self.home).items()} == same
        return self.home

    def outside_tree(self) -> dict[str, Any]:
        return {"victims": _stamps(self.outside), "beside": sorted(p.name for p in self.root.iterdir()),
                "case": sorted(p.name for p in (self.root / "case").iterdir())}


def _stamps(root: Path) -> dict[str, tuple[int, ...]]:
    out = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            st_ = os.lstat(os.path.join(base, name))
            out[os.path.relpath(os.path.join(base, name), root)] = (
                stat.S_IFMT(st_.st_mode), st_.st_size, st_.st_mtime_ns, st_.st_ctime_ns, st_.st_ino)
    return out


def make_outside(root: Path) -> Path:
    """The folder hostile names point into: a victim rollout, a victim database, a FIFO."""
    outside = root / "outside"
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "victim.jsonl").write_bytes(b'{"type":"session_meta","payload":{"id":"victim"}}\n')
    (outside / "victim.sqlite").write_bytes(b"not touched")
    if hasattr(os, "mkfifo") and not (outside / "fifo.jsonl").exists():
        os.mkfifo(outside / "fifo.jsonl")
    return outside


def hostile_names(home: Path, outside: Path) -> list[str]:
    """Names a handed-over file could hold instead of a path or an id."""
    return [str(outside / "victim.jsonl"), str(outside / "victim.sqlite"), str(outside), str(outside / "fifo.jsonl"),
            str(home / ".." / "outside" / "victim.jsonl"), "../outside/victim.jsonl", "victim.jsonl", "", ".", "/",
            str(home), str(home / "sessions"), str(home / "state_5.sqlite") + "\x00x", "a\nb", "x" * 300,
            str(home / "sessions" / "link-out" / "victim.jsonl"), "C:\\Windows\\x", "\\\\?\\UNC\\s\\share\\x",
            "rollout-2026-06-01T00-00-00-00000000-0000-0000-0000-000000000000.jsonl"]


@dataclass(frozen=True)
class Outcome:
    args: tuple[str, ...]
    code: int
    data: dict[str, Any] | None

    @property
    def refused(self) -> bool:
        """Refused or failed as a whole (a run that applied part of its operations says `partial`)."""
        return self.code != 0 and self.data is not None and self.data.get("status") in ("refused", "error")


def invoke(*args: str) -> Outcome:
    """One CLI call in-process, with --json; fails the case on a traceback or an undocumented result."""
    result = runner.invoke(__import__("operations.cli.app", fromlist=["app"]).app, [*args, "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback from {args}: {result.exception!r}") from result.exception
    assert result.exit_code in DOCUMENTED_EXIT_CODES, (args, result.exit_code, result.stdout[-2000:])
    data = None
    if result.stdout.strip():
        try:
            data = orjson.loads(result.stdout)
        except orjson.JSONDecodeError as exc:
            raise AssertionError(f"{args}: stdout is not one JSON document: {result.stdout[:500]!r}") from exc
        assert data["exit_code"] == result.exit_code, (args, data)
        if result.exit_code:
            assert data["errors"] or data["status"] in ("partial", "refused", "check_failed"), (args, data)
    return Outcome(tuple(args), result.exit_code, data)


def checked(box: Sandbox, args: list[str], *, writes: bool) -> Outcome:
    """`invoke` with the sandbox's invariants: nothing outside changes; a refusal changes nothing."""
    outside = box.outside_tree()
    before = home_state(box.home) if writes else None
    out = invoke(*args)
    assert box.outside_tree() == outside, (args, "something outside the home changed")
    if writes and out.refused:
        after = home_state(box.home)
        changed = sorted(k for k in set(before or {}) | set(after) if (before or {}).get(k) != after.get(k))
        assert not changed, (args, out.data, "a refusal changed the home",
                             [(k, (before or {}).get(k), after.get(k)) for k in changed])
    return out


def unsynced(monkeypatch: Any) -> None:
    """No fsync or syncfs during a fuzz test: what is fuzzed is how input is handled, not
    durability (the crash tests kill real writers at every step for that), and thousands of
    syncs of a shared disk would measure the disk, not the tool."""
    import journal.durability

    monkeypatch.setattr(os, "fsync", lambda fd: None)
    monkeypatch.setattr(journal.durability, "syncfs", lambda folder: True)


def count(name: str) -> Callable[[], int]:
    """A counter of the cases a fuzz test ran; returns a reader for the final count."""
    COUNTS[name] = 0

    def bump() -> int:
        COUNTS[name] += 1
        return COUNTS[name]

    return bump


def rechain(records: list[dict[str, Any]]) -> bytes:
    """The records as a journal whose sequence and hash chain hold, as a forger would rebuild it."""
    from journal.codec import encode_line, line_hash

    lines, prev = [], None
    for seq, record in enumerate(records):
        line = encode_line({**record, "seq": seq, "prev": prev})
        lines.append(line)
        prev = line_hash(line)
    return b"".join(line + b"\n" for line in lines)


# ------------------------------------------------------------------------- mutations of bytes

def flip_bytes(data: bytes, positions: list[float], values: list[int]) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for where, value in zip(positions, values, strict=False):
        index = min(int(where * len(out)), len(out) - 1)
        out[index] = value if value != out[index] else (value + 1) % 256
    return bytes(out)


def truncate(data: bytes, at: float) -> bytes:
    return data[: int(at * len(data))]


def reorder_lines(data: bytes, i: float, j: float) -> bytes:
    lines = data.split(b"\n")
    if len(lines) < 2:
        return data
    a, b = int(i * len(lines)) % len(lines), int(j * len(lines)) % len(lines)
    lines[a], lines[b] = lines[b], lines[a]
    return b"\n".join(lines)


byte_mutation = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.floats(0, 1), min_size=1, max_size=6),
              st.lists(st.integers(0, 255), min_size=1, max_size=6)),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("reorder"), st.floats(0, 1), st.floats(0, 1)),
)


def apply_byte_mutation(data: bytes, mutation: tuple[Any, ...]) -> bytes:
    kind = mutation[0]
    if kind == "flip":
        return flip_bytes(data, mutation[1], mutation[2])
    if kind == "truncate":
        return truncate(data, mutation[1])
    return reorder_lines(data, mutation[1], mutation[2])


# ------------------------------------------------------------------------- mutations of JSON values

def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value inside a JSON document (containers included)."""
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += leaves(v, (*path, i))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy
