"""What to do next, as data: each step a stable `kind`, words for a person, and, where a command
of this tool does it, that command as data (its words and option names). The CLI spells it with
the option names it declares (operations/cli/steps_view.py), so no command string lives here."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from operations.path_spelling import home_of_rollout, is_windows_spelling

if TYPE_CHECKING:
    from operations.audit_model import AuditReport, ThreadAudit
    from operations.threads import ThreadRow


@dataclass(frozen=True)
class Placeholder:
    """A value the person fills in (shown as `NAME`)."""

    name: str


OptionValue = str | bool | Placeholder


@dataclass(frozen=True)
class Command:
    """One command of this tool: `words` (e.g. ("run", "archive")), and its options by the names
    the operations declare (e.g. ("thread", ID)); True is a flag given."""

    words: tuple[str, ...]
    options: tuple[tuple[str, OptionValue], ...] = ()
    apply: bool = False


@dataclass(frozen=True)
class Step:
    """A next step: `text` first, then the command (if any), then `after`."""

    kind: str
    text: str = ""
    command: Command | None = None
    after: str = ""


ID = Placeholder("ID")


def run(operation: str, *options: tuple[str, OptionValue], apply: bool = False) -> Command:
    return Command(("run", operation), options, apply)


def fix(*options: tuple[str, OptionValue], apply: bool = False) -> Command:
    return Command(("fix",), options, apply)


def suggestions(rows: Sequence[ThreadRow], threads: Sequence[ThreadAudit]) -> list[Step]:
    """Cwds missing on this machine, sessions beyond Codex's scan window, rows pointing into
    another home: each with the operation that deals with it."""
    out: list[Step] = []
    per_cwd = Counter(r.cwd for r in rows if r.cwd)
    missing = Counter({cwd: n for cwd, n in per_cwd.items() if not os.path.isdir(cwd)})
    for cwd, n in missing.most_common(10):
        style = (("from_style", "windows"),) if is_windows_spelling(cwd) or cwd.startswith("/mnt/") else ()
        out.append(Step("cwd_missing", f"{n} thread(s) in {cwd}, which does not exist here",
                        run("rewrite-cwd", ("from_folder", cwd), ("to_folder", Placeholder("NEW_FOLDER")), *style)))
    homes: Counter[str] = Counter()
    for t in threads:
        if t.row is not None and "rollout_path_outside_home" in t.problems and "db_not_on_disk" not in t.problems:
            old = home_of_rollout(t.row.rollout_path)
            if old:
                homes[old] += 1
    beyond = sum(1 for t in threads if "scan_window" in t.problems)
    if beyond:
        out.append(Step("scan_window", f"{beyond} session(s) are older than the newest 10,000 rollout files, where "
                        "Codex's file scan stops: resume one by id (`codex resume ID`), or archive newer sessions you "
                        "no longer need", run("archive", ("thread", ID)), " so that older ones come back into view"))
    for old, n in homes.most_common(3):
        out.append(Step("other_home", f"{n} row(s) point into another home, {old}, and their files are here",
                        run("relocate-home", ("from_home", old))))
    return out


def thread_steps(t: ThreadAudit, current: str) -> list[Step]:
    """What would make this thread visible: each command one that would plan something for it
    (a thread whose rollout exists nowhere can only be retired)."""
    steps: list[Step] = []
    thread = ("thread", t.id)
    if "active_orphan" in t.problems:
        return [Step("live", "none now: the session is live; let Codex finish it, then audit again")]
    if "db_not_on_disk" in t.problems:
        return [Step("rollout_nowhere", "its rollout exists nowhere in this home, so nothing can make it visible; if "
                     "you have the file, copy it into sessions/ and audit again; else retire the row",
                     fix(("forget_missing", True), thread, apply=True))]
    readable = t.facts is not None and t.facts.in_scan
    if "stale_rollout_path" in t.problems:
        steps.append(Step("repair_paths", command=run("repair-paths", thread, apply=True)))
    elif "rollout_path_outside_home" in t.problems and t.row is not None:
        steps.append(Step("relocate_home", command=run("relocate-home", thread, apply=True)))
    archived = bool(t.facts and t.facts.archived and readable)
    if t.row is None and "disk_not_in_db" in t.problems and readable:
        steps.append(Step("import_orphan", command=fix(("unarchive", True), thread, apply=True) if archived
                          else run("import-orphans", thread, apply=True)))
    elif archived and t.row is not None and t.row.archived:
        steps.append(Step("unarchive", command=run("unarchive", thread, apply=True)))
    elif archived:
        steps.append(Step("archived_by_folder", "(its file is in archived_sessions/ while its row says not archived: "
                          "Codex goes by the folder, so it is archived; `codex unarchive ID` or the app's archive view "
                          "brings it back)"))
    if t.facts and t.facts.provider != current and readable:
        steps.append(Step("migrate_provider", command=run("migrate-provider", ("to_provider", current), thread,
                                                          apply=True)))
    if t.facts and not readable and t.facts.file_problem:
        steps.append(Step("unreadable", f"(no readable rollout: {t.facts.file_problem}; nothing this tool can repair)"))
    if t.facts and t.facts.source not in ("cli", "vscode"):
        steps.append(Step("not_interactive", f"(source `{t.facts.source}`: list it with `codex resume "
                          "--include-non-interactive`, or in app-server with sourceKinds; the source is not changed "
                          "by this tool)"))
    if "scan_window" in t.problems:
        steps.append(Step("scan_window", f"(beyond Codex's 10,000-file scan window: resume it by id with `codex resume "
                          f"{t.id}`, or archive newer sessions you no longer need", run("archive", ("thread", ID),
                                                                                         apply=True), ")"))
    if t.facts and t.facts.empty_preview:
        steps.append(Step("empty_preview", "(no user message: Codex never lists it; resume it by id with `codex resume "
                          + t.id + "`)"))
    return steps


def next_steps(report: AuditReport, desktop: Sequence[Step] = ()) -> list[Step]:
    """The `fix` this home needs, with its options, and what no repair changes."""
    problems = report.problems
    hidden = report.visibility["ide"]["by_kind"]
    fixable = any(problems.get(p) for p in ("missing_rollout_path", "rollout_path_outside_home", "disk_not_in_db",
                                             "provider_mismatch")) or hidden.get("provider", 0) > 0
    flags: list[tuple[str, OptionValue]] = []
    if hidden.get("archived"):
        flags.append(("unarchive", True))
    if problems.get("db_not_on_disk"):
        flags.append(("forget_missing", True))
    steps = []
    if fixable or flags:
        steps.append(Step("fix", "see what would bring sessions back (a dry run; add --apply to make it so, and undo "
                          "takes it back whole)", fix(*flags)))
        if hidden.get("archived"):
            steps.append(Step("fix_unarchive", f"{hidden['archived']} archived session(s) are hidden, so the fix "
                              "unarchives them; leave that option out to keep them archived"))
        if problems.get("db_not_on_disk"):
            steps.append(Step("fix_forget_missing", f"{problems['db_not_on_disk']} row(s) whose rollout exists nowhere "
                              "are retired (undoable); leave that option out if you will put the files back"))
    if hidden.get("source"):
        steps.append(Step("not_interactive", f"{hidden['source']} session(s) are not interactive (e.g. `codex exec`): "
                          "`codex resume --include-non-interactive` lists them; no repair is needed"))
    return steps + list(desktop)


HOW_TO_SEE = {
    "source": Step("source", "not an interactive session (e.g. `codex exec`): `codex resume --include-non-interactive` "
                   "lists it; the IDE and the app do not"),
    "archived": Step("archived", "archived, so hidden; unarchive it", fix(("unarchive", True)),
                     ", or find it in Codex's archived list"),
    "scan_window": Step("scan_window", "older than Codex's 10,000-file scan window: resume it by id (`codex resume "
                        "ID`), or archive newer sessions you no longer need"),
    "empty_preview": Step("empty_preview", "it has no user message, so Codex never lists it: resume it by id (`codex "
                          "resume ID`)"),
    "file": Step("file", "no readable rollout for it here: nothing Codex can list"),
    "provider": Step("provider", "it belongs to another provider than Codex's current one", fix(
        ("to_provider", Placeholder("PROVIDER"))), ", or switch Codex's provider"),
    "recent_window": Step("recent_window", "beyond the desktop app's 50 most recent: pin it in the app, or open it "
                          "from the IDE list"),
}


def how_to_see(kind: str) -> Step:
    """How to see a thread a client keeps hiding for this kind of reason, whatever is repaired."""
    return HOW_TO_SEE.get(kind, Step(kind))
