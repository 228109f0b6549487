"""The one write gate, before the first byte of any run: Codex not running on this home (one
check), every database sound, every table a write touches of a shape some Codex release had,
and no desktop app running when the app's own state file is written. `preflight` collects the
same reasons, as data, for a dry run to print at its top; `gate_for` offers the gate (and the
online backups it takes) to the journal engine, which calls it under its lock before a
compensation writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from journal.clock import Services
from journal.effects import Effect, SqlEffect
from journal.errors import Refused
from journal.runner import PlannedOp
from journal.sqlio import SQLITE_ERRORS, connect_ro
from operations.backups import take_backups
from operations.desktop.statefile import writes_state_file
from operations.errors import CodexRunning, HomeInUse, UnknownShape
from operations.home import CodexHome
from operations.processes import desktop_app_processes
from operations.running import RunningCheck, check_running
from operations.schema import RECOVERY_ADVICE, DatabaseDamaged, StateSchema, damaged, inspect_state_db
from operations.shapes import ShapeVerdict, judge_all


@dataclass(frozen=True)
class Shapes:
    """What the shapes of the tables a write touches say: each problem refuses the write."""

    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateReason:
    """Why `--apply` would be refused: `kind` is the refusal's stable error code."""

    kind: str
    detail: str


def judge_shapes(schema: StateSchema | None, dbs: Iterable[Path]) -> Shapes:
    """The state database as the audit judged it (`schema`), and every other database a write
    touches, judged here: once per command."""
    if schema is None:
        return Shapes(("there is no state database to repair",))
    problems, warnings = list(schema.problems), list(schema.warnings)
    if not problems and schema.generation != "state_5":
        problems.append(f"generation {schema.generation} is not the current state_5")
    others = [db for db in dbs if db.name != "state_5.sqlite"]  # the state database is judged with `schema`
    for verdict in _verdicts(others):
        problems += verdict.problems
        warnings += verdict.warnings
    return Shapes(tuple(problems), tuple(warnings))


def _verdicts(dbs: Sequence[Path]) -> list[ShapeVerdict]:
    try:
        return judge_all(dbs)
    except SQLITE_ERRORS as exc:
        raise damaged(next((db for db in dbs if db.exists()), dbs[0]), exc) from None


def unwritable(shapes: Shapes) -> UnknownShape | None:
    if not shapes.problems:
        return None
    return UnknownShape(f"refusing to write: {'; '.join(shapes.problems)}",
                        details={"schema_problems": list(shapes.problems)})


def running_refusal(check: RunningCheck) -> Refused | None:
    """Codex running here refuses a write; so does another codex-sessions run holding a database
    open (named as such, never as Codex)."""
    if check.other_runs and not check.running:
        return HomeInUse(f"another codex-sessions run is using this home: {'; '.join(check.other_runs)}. "
                         "Wait for it to finish, then try again.", details={"other_runs": list(check.other_runs)})
    if check.running:
        return CodexRunning(f"Codex appears to be running: {check.describe()}. Stop Codex and try again.",
                            details={"writer_locks": list(check.held_writer_locks),
                                     "locked_databases": list(check.locked_databases),
                                     "processes": [p.__dict__ for p in check.processes]})
    return None


def desktop_app_refusal(listing: Iterable[Any] | None = None) -> Refused | None:
    """Before writing the desktop app's own state file: no copy of the app may run, whatever its
    home (it keeps the file in memory and writes it back whole, so a change made now is lost)."""
    found = desktop_app_processes(listing=listing)
    if not found:
        return None
    named = ", ".join(f"pid {p.pid} ({p.name})" for p in found[:5])
    return CodexRunning(f"the Codex desktop app is running: {named}. Quit it (and its background processes) "
                        "first: it keeps .codex-global-state.json in memory and writes it back whole, so a change "
                        "made now would be lost", details={"processes": [p.__dict__ for p in found]})


def refuse_if_desktop_app_running(listing: Iterable[Any] | None = None) -> None:
    refusal = desktop_app_refusal(listing)
    if refusal is not None:
        raise refusal


def refuse_if_damaged(databases: Iterable[Path]) -> None:
    """PRAGMA quick_check on each database (read-only), and a header that lets it be written;
    never write to a damaged one."""
    for db in databases:
        if not db.exists():
            continue
        refuse_if_read_only(db)
        try:
            conn = connect_ro(str(db))
            try:
                rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            finally:
                conn.close()
        except SQLITE_ERRORS as exc:  # cannot be read at all: the same error (exit 1) on every command
            raise damaged(db, exc) from None
        if rows != ["ok"]:  # damaged: the same error (exit 1) whichever command meets it
            raise DatabaseDamaged(f"{db} is damaged (quick_check: {'; '.join(map(str, rows))}); nothing was "
                                  f"changed. {RECOVERY_ADVICE}",
                                  details={"database": str(db), "quick_check": rows, "advice": RECOVERY_ADVICE})


def refuse_if_read_only(db: Path) -> None:
    """A header whose write version is above 2 (bytes 18) makes SQLite open the file read-only:
    every write would fail midway through a run, so it is refused before the first one. Found by
    the fuzzer: one flipped bit there, and a `fix` stopped after its first phase."""
    try:
        with db.open("rb") as handle:
            header = handle.read(20)
    except OSError as exc:
        raise damaged(db, exc) from None
    if len(header) == 20 and header.startswith(b"SQLite format 3\x00") and header[18] > 2:
        raise DatabaseDamaged(
            f"{db} is damaged: its header marks it read-only (file format write version {header[18]}, "
            f"SQLite writes 1 or 2), so no write to it could succeed; nothing was changed. {RECOVERY_ADVICE}",
            details={"database": str(db), "write_version": header[18], "advice": RECOVERY_ADVICE})


def check_databases(home: CodexHome) -> None:
    """The databases of this home, checked before a journal command plans anything: the same error
    every other command meets (a state database with no `threads` is damaged too)."""
    refuse_if_damaged(home.databases)
    if home.state_db is not None and home.state_db.exists():
        inspect_state_db(home.state_db)


def databases_touched(home: CodexHome, effects: Iterable[Effect]) -> list[Path]:
    """The state database and every database an effect writes."""
    dbs = {Path(e.db) for e in effects if isinstance(e, SqlEffect)}
    if home.state_db is not None:
        dbs.add(home.state_db)
    return sorted(dbs)


def _refusals(home: CodexHome, dbs: Sequence[Path], shapes: Shapes, app_state: bool,
              running: RunningCheck | None) -> list[Refused]:
    found: list[Refused] = []
    shape_refusal = unwritable(shapes)
    if shape_refusal is not None:
        found.append(shape_refusal)
    check = running if running is not None else check_running(home.codex_home, list(dbs))  # the one process scan
    running_found = running_refusal(check)
    if running_found is not None:
        found.append(running_found)
    app = desktop_app_refusal() if app_state else None
    if app is not None:
        found.append(app)
    return found


def preflight(home: CodexHome, dbs: Sequence[Path], shapes: Shapes, *, app_state: bool,
              running: RunningCheck | None = None) -> list[GateReason]:
    """Why `--apply` would be refused right now: the gate's checks, collected instead of raised, so
    that a dry run can say so at its top. A damaged database is an error here too. `running`: the
    command's one check of Codex, when it made it already."""
    reasons = [GateReason(r.code, r.message) for r in _refusals(home, dbs, shapes, app_state, running)]
    refuse_if_damaged(dbs)
    return reasons


def admit(home: CodexHome, dbs: Sequence[Path], shapes: Shapes, *, app_state: bool,
          running: RunningCheck | None = None) -> None:
    """Raise the first reason this write must not happen; nothing has been written yet."""
    found = _refusals(home, dbs, shapes, app_state, running)
    if found:
        raise found[0]
    refuse_if_damaged(sorted({*home.databases, *dbs}))  # every database of the home, as undo and redo check them


Gate = Callable[[Sequence[PlannedOp]], Mapping[str, Any]]


def gate_for(home: CodexHome, services: Services, *, backups: bool = True) -> Gate:
    """The gate as a hook for the journal engine: given the operations about to run (under the
    journal's lock), refuse what must be refused, then take an online backup of each database they
    touch; returns what to record in the run's meta."""

    def gate(ops: Sequence[PlannedOp]) -> Mapping[str, Any]:
        effects = [e for op in ops for e in op.effects]
        dbs = databases_touched(home, effects)
        verdicts = _verdicts(dbs)
        shapes = Shapes(tuple(p for v in verdicts for p in v.problems), tuple(w for v in verdicts for w in v.warnings))
        admit(home, dbs, shapes, app_state=writes_state_file(effects))
        if not backups or home.journal is None:
            return {}
        return {"backups": [asdict(b) for b in take_backups(dbs, home.journal, services)]}

    return gate
