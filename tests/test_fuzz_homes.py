"""Property tests: homes restored from backups or other machines, mutated.

The home is a generated one shaped like Codex 0.171's (real schema and migrations, real
rollout lines), with an orphan, a moved file, an archived session and rows of two providers,
so that every repair has something to do. Each case mutates it, then audits it and runs one
repair with --apply (undone at once when it applied something).

* rollouts: bytes flipped, truncated, lines reordered; a JSON field retyped or replaced by a
  hostile name; the file renamed to a hostile name, or replaced by a symlink out of the home,
  a FIFO or a folder;
* the state database: bytes flipped or truncated; a column of a row retyped, given bytes that
  are not UTF-8, or a hostile `rollout_path`; a row deleted, a column added, `threads` dropped.

Invariants (tests/fuzzing.py): no traceback, a documented exit code, nothing outside the home
created or changed, a refusal changes nothing; and an applied repair is undone byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.generator import HomeSpec, build_home
from operations import processes
from operations.cli.app import app
from tests.codexhome import TABLES
from tests.fuzzing import (
    COUNTS,
    RETYPED,
    Sandbox,
    apply_byte_mutation,
    byte_mutation,
    checked,
    count,
    home_state,
    hostile_names,
    leaves,
    make_outside,
    replaced,
    unsynced,
)
from tests.helpers import runner

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="the cases make FIFOs and symlinks")
# read: the audit and one more reader (cheap); repaired: a repair applied and undone (dear)
# a few thousand cases for each kind of input: 2,000 rollouts, 2,000 state databases
CASES = {"rollouts read": 1600, "rollouts repaired": 400, "state databases read": 1600,
         "state databases repaired": 400}
if os.environ.get("FUZZ_CASES"):  # a quick look while developing: every test at this count
    CASES = dict.fromkeys(CASES, int(os.environ["FUZZ_CASES"]))
READERS = (("audit text",), ("audit --explain",), ("fix", "--unarchive", "--forget-missing"),
           ("run", "import-orphans"), ("run", "repair-paths"), ("run", "migrate-provider", "--to-provider", "azure"),
           ("run", "rewrite-cwd", "--from-folder", "/home/u", "--to-folder", "/srv/u"), ("run", "forget-missing"))

REPAIRS = (
    ("fix", "--unarchive", "--forget-missing"),
    ("run", "migrate-provider", "--to-provider", "azure"),
    ("run", "import-orphans"),
    ("run", "repair-paths"),
    ("run", "archive"),
    ("run", "forget-missing"),
    ("run", "rewrite-cwd", "--from-folder", "/home/u", "--to-folder", "/srv/u"),
    ("run", "relocate-home", "--from-home", "/elsewhere/.codex"),
)


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """A template home beside the victim folder; the current folder is a scratch one. The process
    table and disk syncs are out of the picture (see tests/fuzzing.py)."""
    monkeypatch.setattr(processes, "codex_processes", lambda home: [])
    unsynced(monkeypatch)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    outside = make_outside(tmp_path)
    sandbox = Sandbox(tmp_path, tmp_path / "template")
    build_home(sandbox.home, HomeSpec(version="0.171.0", sessions=6, providers=("openai", "azure"),
                                      archived_share=0.2, exec_share=0.0, turns=2, seed=41,
                                      damage={"orphan": 1, "moved_file": 1}))
    (sandbox.home / "sessions" / "link-out").symlink_to(outside, target_is_directory=True)
    conn = sqlite3.connect(sandbox.home / "state_5.sqlite")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one file holds the whole database
    conn.close()
    shutil.copytree(sandbox.home, sandbox.template, symlinks=True)
    return sandbox


def _read(box: Sandbox, reader: tuple[str, ...], explain: int, seen: Counter[tuple[str, int]]) -> None:
    """The audit as JSON, then one more reader: the text audit, one thread explained, or a dry
    run. All read-only, so the home must not change at all."""
    home = box.home
    h = ["--codex-home", str(home)]
    before = home_state(home)
    out = checked(box, ["audit", *h], writes=False)
    if reader == ("audit text",):
        text = runner.invoke(app, ["audit", *h])
        assert text.exception is None or isinstance(text.exception, SystemExit), text.exception
        assert text.exit_code in (0, 1, 4), text.output
    elif reader == ("audit --explain",):
        threads = [t["id"] for t in ((out.data or {}).get("data") or {}).get("threads", [])]
        if threads:
            checked(box, ["audit", "--explain", threads[explain % len(threads)], *h], writes=False)
    else:
        dry = checked(box, [*reader, *h], writes=False)
        seen[(" ".join(reader[:2]), dry.code)] += 1
    seen[("audit", out.code)] += 1
    assert home_state(home) == before, (reader, "a read-only command changed the home")


def _repair(box: Sandbox, repair: tuple[str, ...], seen: Counter[tuple[str, int]]) -> None:
    """Audit, run one repair with --apply, and undo it when it applied something."""
    home = box.home
    h = ["--codex-home", str(home)]
    checked(box, ["audit", *h], writes=False)
    before = _content(home)
    out = checked(box, [*repair, "--apply", *h], writes=True)
    seen[(" ".join(repair[:2]), out.code)] += 1
    data = (out.data or {}).get("data") or {}
    applied = [o for o in data.get("operations", []) if o.get("status") == "applied"]
    if out.code == 0 and applied:
        undone = checked(box, ["undo", data["run"], "--apply", *h], writes=True)
        assert undone.code == 0, undone.data
        assert _content(home) == before, (repair, "the undo did not restore the home byte for byte")


def _content(home: Path) -> Any:
    """Every rollout's bytes and mtime, and every row of the tables a repair may touch
    (tests/codexhome.py); a database SQLite cannot read, or without those tables, by its bytes."""
    out: dict[str, Any] = {"files": _files(home)}
    for db, tables in TABLES.items():
        path = home / db
        if not path.exists():
            continue
        try:
            conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
            conn.text_factory = bytes  # a row that is not UTF-8 is compared as it is
            try:
                present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                out[db] = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) if t in present
                           else None for t in tables}
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            out[db] = path.read_bytes()
    return out


def _files(home: Path) -> dict[str, Any]:
    return {str(p.relative_to(home)): (p.read_bytes(), p.stat().st_mtime_ns)
            for folder in ("sessions", "archived_sessions") for p in sorted((home / folder).rglob("*"))
            if p.is_file() and not p.is_symlink()}


# ------------------------------------------------------------------------- rollouts


rollout_mutation = st.one_of(
    st.tuples(st.just("bytes"), byte_mutation),
    st.tuples(st.just("field"), st.integers(0, 10**6), st.integers(0, 10**6),
              st.one_of(st.tuples(st.just("retype"), st.integers(0, len(RETYPED) - 1)),
                        st.tuples(st.just("name"), st.integers(0, 10**3)))),
    st.tuples(st.just("rename"), st.integers(0, 10**3)),
    st.tuples(st.just("replace"), st.sampled_from(["victim", "fifo", "folder", "dangling", "outside_fifo"])),
)


def _rollouts(home: Path) -> list[Path]:
    return sorted(p for p in (*home.glob("sessions/*/*/*/rollout-*"), *home.glob("archived_sessions/rollout-*")))


def _hostile_file_names(ids: list[str]) -> list[str]:
    stamp = "rollout-2026-06-01T09-00-00-"
    return [f"{stamp}{ids[1]}.jsonl", f"{stamp}{ids[0].upper()}.jsonl", "rollout-.jsonl", "rollout-x.jsonl",
            f"{stamp}{ids[0]}.jsonl.zst", f"rollout-{'9' * 200}-{ids[0]}.jsonl", f"{stamp}{ids[0]}\n.jsonl",
            f"rollout-2026-13-45T99-99-99-{ids[0]}.jsonl", f"{stamp}{ids[0]} .jsonl", f"rollout-é-{ids[0]}.jsonl",
            f"{stamp}00000000-0000-0000-0000-000000000000.jsonl"]


def mutate_rollout(box: Sandbox, target: Path, mutation: tuple[Any, ...], names: list[str], ids: list[str]) -> None:
    kind = mutation[0]
    if kind == "bytes":
        target.write_bytes(apply_byte_mutation(target.read_bytes(), mutation[1]))
    elif kind == "field":
        lines = target.read_bytes().split(b"\n")
        numbers = [n for n, line in enumerate(lines) if line.strip()]
        if not numbers:
            return
        number = numbers[mutation[1] % len(numbers)]
        try:
            record = orjson.loads(lines[number])
        except orjson.JSONDecodeError:
            return
        paths = leaves(record)
        how, which = mutation[3]
        new = RETYPED[which] if how == "retype" else names[which % len(names)]
        lines[number] = orjson.dumps(replaced(record, paths[mutation[2] % len(paths)], new))
        target.write_bytes(b"\n".join(lines))
    elif kind == "rename":
        hostile = _hostile_file_names(ids)
        target.rename(target.with_name(hostile[mutation[1] % len(hostile)]))
    else:
        target.unlink()
        how = mutation[1]
        if how == "victim":
            target.symlink_to(box.outside / "victim.jsonl")
        elif how == "outside_fifo":
            target.symlink_to(box.outside / "fifo.jsonl")
        elif how == "dangling":
            target.symlink_to(box.outside / "gone.jsonl")
        elif how == "fifo":
            os.mkfifo(target)
        else:
            target.mkdir()


@pytest.mark.parametrize("kind", ["read", "repaired"])
def test_mutated_rollouts(box: Sandbox, kind: str) -> None:
    names = hostile_names(box.home, box.outside)
    files = _rollouts(box.template)
    ids = sorted({p.name[-len("00000000-0000-0000-0000-000000000000.jsonl"):-len(".jsonl")] for p in files})
    name = f"rollouts {kind}"
    bump = count(name)
    seen: Counter[tuple[str, int]] = Counter()

    @settings(max_examples=CASES[name])
    @given(mutations=st.lists(st.tuples(st.integers(0, 10**3), rollout_mutation), min_size=1, max_size=2),
           repair=st.sampled_from(REPAIRS if kind == "repaired" else READERS), explain=st.integers(0, 10**3))
    def case(mutations: list[tuple[int, tuple[Any, ...]]], repair: tuple[str, ...], explain: int) -> None:
        bump()
        home = box.fresh()
        for which, mutation in mutations:
            present = [p for p in _rollouts(home) if p.is_file() and not p.is_symlink()]
            if present:
                mutate_rollout(box, present[which % len(present)], mutation, names, ids)
        if kind == "read":
            _read(box, repair, explain, seen)
        else:
            _repair(box, repair, seen)

    case()
    assert COUNTS[name] == CASES[name]
    assert sum(n for (_, code), n in seen.items() if code == 0) > CASES[name] // 2, seen


# ------------------------------------------------------------------------- state databases


COLUMNS = ("id", "rollout_path", "created_at", "updated_at", "source", "model_provider", "cwd", "title",
           "archived", "archived_at", "first_user_message", "preview", "updated_at_ms", "recency_at_ms",
           "cli_version", "history_mode", "thread_source")
database_mutation = st.one_of(
    st.tuples(st.just("bytes"), st.sampled_from(["state_5.sqlite", "thread_history_1.sqlite"]), byte_mutation),
    st.tuples(st.just("value"), st.integers(0, 10**3), st.sampled_from(COLUMNS),
              st.one_of(st.tuples(st.just("retype"), st.integers(0, len(RETYPED) - 1)),
                        st.tuples(st.just("name"), st.integers(0, 10**3)),
                        st.tuples(st.just("blob"), st.binary(min_size=1, max_size=8)))),
    st.tuples(st.just("schema"), st.sampled_from(["delete_row", "add_column", "drop_threads", "drop_migrations",
                                                  "future_migration", "drop_backfill"])),
)


def _sql_value(value: Any) -> Any:
    return value if value is None or isinstance(value, (int, float, str, bytes)) else orjson.dumps(value).decode()


def mutate_database(home: Path, mutation: tuple[Any, ...], names: list[str]) -> None:
    kind = mutation[0]
    if kind == "bytes":
        db = home / mutation[1]
        db.write_bytes(apply_byte_mutation(db.read_bytes(), mutation[2]))
        return
    conn = sqlite3.connect(home / "state_5.sqlite", isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # a test's own write: no need to wait for the disk
        _mutate_rows(conn, mutation, names)
    except sqlite3.DatabaseError:
        pass  # an earlier mutation already broke the file: the case goes on with it as it is
    finally:
        conn.close()


def _mutate_rows(conn: sqlite3.Connection, mutation: tuple[Any, ...], names: list[str]) -> None:
    ids = [r[0] for r in conn.execute("SELECT id FROM threads ORDER BY id")]
    if mutation[0] == "value" and ids:
        how, which = mutation[3]
        row = ids[mutation[1] % len(ids)]
        if how == "blob":
            conn.execute(f'UPDATE threads SET "{mutation[2]}" = CAST(? AS TEXT) WHERE id = ?', (b"\xff" + which, row))
            return
        value = RETYPED[which] if how == "retype" else names[which % len(names)]
        with contextlib.suppress(sqlite3.IntegrityError):  # NOT NULL, a duplicate id: SQLite itself refuses
            conn.execute(f'UPDATE threads SET "{mutation[2]}" = ? WHERE id = ?', (_sql_value(value), row))
    elif mutation[0] == "schema":
        statements = {
            "delete_row": "DELETE FROM threads WHERE id = (SELECT MIN(id) FROM threads)",
            "add_column": "ALTER TABLE threads ADD COLUMN from_the_future TEXT",
            "drop_threads": "DROP TABLE threads",
            "drop_migrations": "DROP TABLE _sqlx_migrations",
            "future_migration": "INSERT INTO _sqlx_migrations (version, description, success, checksum, "
                                "execution_time) VALUES (999, 'x', 1, x'00', 0)",
            "drop_backfill": "DROP TABLE backfill_state",
        }
        conn.execute(statements[mutation[1]])


@pytest.mark.parametrize("kind", ["read", "repaired"])
def test_mutated_state_databases(box: Sandbox, kind: str) -> None:
    names = hostile_names(box.home, box.outside)
    name = f"state databases {kind}"
    bump = count(name)
    seen: Counter[tuple[str, int]] = Counter()

    @settings(max_examples=CASES[name])
    @given(mutations=st.lists(database_mutation, min_size=1, max_size=2),
           repair=st.sampled_from(REPAIRS if kind == "repaired" else READERS), explain=st.integers(0, 10**3))
    def case(mutations: list[tuple[Any, ...]], repair: tuple[str, ...], explain: int) -> None:
        bump()
        home = box.fresh()
        for mutation in mutations:
            mutate_database(home, mutation, names)
        if kind == "read":
            _read(box, repair, explain, seen)
        else:
            _repair(box, repair, seen)

    case()
    assert COUNTS[name] == CASES[name]
    assert sum(n for (_, code), n in seen.items() if code == 0) > CASES[name] // 4, seen
    assert sum(n for (_, code), n in seen.items() if code == 1) > 0, seen  # damaged databases were met
