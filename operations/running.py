"""Is Codex running on this home? Its writer locks, the database's locks and its processes tell
us (operations/lock_probes.py, operations/processes.py); one check, made once per command."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from operations import processes
from operations.lock_probes import PROBE, LockProbe, database_is_locked, held_writer_locks
from operations.processes import CodexProcess


@dataclass(frozen=True)
class RunningCheck:
    held_writer_locks: tuple[str, ...]
    locked_databases: tuple[str, ...]
    processes: tuple[CodexProcess, ...] = ()
    other_runs: tuple[str, ...] = ()  # databases held open by another codex-sessions run, not by Codex

    @property
    def running(self) -> bool:
        return bool(self.held_writer_locks or self.locked_databases or self.processes)

    def describe(self) -> str:
        parts = []
        if self.held_writer_locks:
            parts.append(f"live session writer lock(s) held: {', '.join(self.held_writer_locks[:5])}")
        if self.locked_databases:
            parts.append(f"database(s) in use by another process: {', '.join(self.locked_databases)}")
        if self.processes:
            parts.append("Codex process(es) using this home: " + ", ".join(
                f"pid {p.pid} ({p.name}; {p.why})" for p in self.processes[:5]))
        return "; ".join(parts) or "no sign of a running Codex"


def check_running(codex_home: Path, databases: list[Path], *, try_write_lock: bool = True,
                  probe: LockProbe | None = None) -> RunningCheck:
    """Writer locks, databases open in another process, Codex processes, and (when allowed) a
    write-lock test."""
    probe = probe or PROBE
    locks = tuple(held_writer_locks(codex_home, probe))
    locked: list[str] = []
    others: list[str] = []
    for db in databases:
        pid = probe.database_user(db)
        if pid is not None and pid != os.getpid():
            who = processes.identify_pid(pid)
            (others if who.kind == "codex_sessions" else locked).append(f"{db} (open in {who.describe()})")
        elif try_write_lock and database_is_locked(db):
            locked.append(f"{db} (locked by another process)")
    return RunningCheck(locks, tuple(locked), tuple(processes.codex_processes(codex_home)), tuple(others))
