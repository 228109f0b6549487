"""Undo, redo, replay and recover of a Codex home: the journal engine's own safe sequence
(`journal.api`: lock, reload, re-plan, refuse, gate, execute) with what only this tool knows:
the home's roots and how a refusal names them, the command line's spelling of its commands,
and the one write gate (`operations/gate.py`: Codex not running, databases sound, known table
shapes, the desktop app closed; then an online backup of every database the run writes, as
`run` takes)."""

from __future__ import annotations

from collections.abc import Sequence

import journal
from journal.clock import Services, Spelling, ToolInfo
from operations.gate import check_databases, gate_for
from operations.home import CodexHome

TOOL = "codex-sessions"


class CommandLine(Spelling):
    """The engine's messages name this tool's commands as they are typed: `codex-sessions recover
    --apply`, `--force`."""

    def command(self, tool: str, action: str, *args: str, **options: str | bool) -> str:
        words = [tool, action, *args]
        for name, value in options.items():
            flag = self.option(name)
            words += [flag] if value is True else [flag, str(value)]
        return " ".join(words)

    def option(self, name: str) -> str:
        return "--" + name.replace("_", "-")


def tool_info(version: str) -> ToolInfo:
    """Who writes the journal: this tool, its version, its command line."""
    return ToolInfo(TOOL, version, CommandLine())


def roots_of(loc: CodexHome) -> journal.Roots:
    """Writes stay inside the Codex home and its SQLite home; a refusal says so, and how to name
    the home a journal's operations were made in."""
    return journal.Roots((str(loc.codex_home), str(loc.sqlite_home)),
                         name=f"this Codex home and its SQLite home ({loc.codex_home})",
                         hint="pass the home these operations were made in with --codex-home")


def preview(action: journal.Action, ref: str, loc: CodexHome, tool: ToolInfo, *, force: bool = False,
            cascade: bool = False) -> journal.Compensation:
    """The dry run: the plan, and what `--apply` would refuse. Writes nothing."""
    journal.require_journal(loc.journal)
    check_databases(loc)  # a damaged database is the same error here as on `run`, not a conflict
    return journal.preview(loc.journal, action, ref, roots=roots_of(loc), force=force, cascade=cascade, tool=tool)


def compensate(action: journal.Action, ref: str, loc: CodexHome, services: Services, argv: Sequence[str], *,
               force: bool = False, cascade: bool = False) -> journal.Compensation:
    """Undo, redo or replay through the engine's sequence, with this home's gate and backups."""
    journal.require_journal(loc.journal)
    check_databases(loc)  # a damaged database is the same error here as on `run`, not a conflict
    return journal.compensate(loc.journal, action, ref, services, roots=roots_of(loc),
                              gate=gate_for(loc, services, backups=True), argv=argv, force=force, cascade=cascade)


def recover(loc: CodexHome, services: Services, argv: Sequence[str], *, apply: bool,
            accept: Sequence[str] = ()) -> journal.Recovery:
    """Assess pending operations; with `apply`, settle them once the gate lets them (no backup: a
    recovery must work on a disk with no room left)."""
    return journal.recover(loc.journal, services, roots=roots_of(loc), apply=apply, accept=accept,
                           gate=gate_for(loc, services, backups=False), argv=argv)
