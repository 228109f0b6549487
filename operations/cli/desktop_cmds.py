"""`run` operations for the desktop app's layers (issue 22): each plans with its module in
`operations/desktop/` and runs through the same `_run` as every other operation."""

from __future__ import annotations

from operations.cli.options import (
    ApplyOpt,
    CodexHomeOpt,
    CwdOpt,
    DbOpt,
    JournalOpt,
    JsonOpt,
    ProviderOpt,
    SinceOpt,
    ThreadOpt,
    UntilOpt,
    VerboseOpt,
)
from operations.cli.output import handles
from operations.cli.run_cmd import Common, _run
from operations.desktop.assign import plan_assign_projects
from operations.desktop.rebuild import plan_rebuild_state
from operations.desktop.restore import plan_restore_state


@handles("run")
def assign_projects_cmd(thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None,
                        since: SinceOpt = None, until: UntilOpt = None, verbose: VerboseOpt = False,
                        apply: ApplyOpt = False, db: DbOpt = None, codex_home: CodexHomeOpt = None,
                        journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """Give a thread with no project the one project whose roots hold its folder (threads.project_id).

    Two projects that could both claim it: left alone, never guessed.
    Example: codex-sessions run assign-projects
    """
    _run("assign-projects", plan_assign_projects,
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@handles("run")
def restore_desktop_state_cmd(verbose: VerboseOpt = False, apply: ApplyOpt = False, db: DbOpt = None,
                              codex_home: CodexHomeOpt = None, journal: JournalOpt = None,
                              json_: JsonOpt = False) -> None:
    """The desktop app's .codex-global-state.json does not parse or holds NUL bytes: put its own .bak back.

    Refused while the desktop app runs. Example: codex-sessions run restore-desktop-state --apply
    """
    _run("restore-desktop-state", plan_restore_state,
         Common(None, None, None, None, None, verbose, apply, db, codex_home, journal, json_))


@handles("run")
def rebuild_desktop_state_cmd(verbose: VerboseOpt = False, apply: ApplyOpt = False, db: DbOpt = None,
                              codex_home: CodexHomeOpt = None, journal: JournalOpt = None,
                              json_: JsonOpt = False) -> None:
    """Bring back the desktop app's lost projects and thread assignments from state_5.

    Completes local-projects, project-order, the legacy-id map and thread-project-assignments; refused while
    the desktop app runs, or when the file holds entries of a shape this tool does not know.
    Example: codex-sessions run rebuild-desktop-state
    """
    _run("rebuild-desktop-state", plan_rebuild_state,
         Common(None, None, None, None, None, verbose, apply, db, codex_home, journal, json_))
