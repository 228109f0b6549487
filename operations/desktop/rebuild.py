"""`rebuild-desktop-state` (and `fix --desktop`): the app's projects brought back from state_5.

After app updates the app's `.codex-global-state.json` loses `local-projects` and
`thread-project-assignments` while `state_5.sqlite` still holds the projects, their roots, the
app's own id for each (the `project_idempotency_keys.key` it created them with) and often
`threads.project_id` (openai/codex #42739, #42867, #39121, #19615). Users rebuilt these keys by
hand with the app closed, and it held after a restart (#36663, #42739); some still saw an empty
sidebar (#42739: a feature gate), so a right repair may still not show.

What is completed, never removed: `local-projects` (a project of state_5 the file lacks),
`project-order` (appended), this home's legacy-id map entry
(`app-server-project-id-by-legacy-project-id-by-host["local:<home>"]`), and
`thread-project-assignments` for threads whose `project_id` names a project and whose entry is
missing or names a project the file lacks. New entries copy the exact keys existing entries
have (else the reported minimal shapes). Refused, with nothing written, when: the file is
damaged (restore it first), holds an entry of a shape this tool does not know, has project
deletions pending, names no host that is this home, holds the rebuilt keys twice (in
`electron-persisted-atom-state` too) with different values, or a project has no single id for
the app. The migration markers are left as they are. The file is rewritten whole in its own
layout (indentation, newline at the end); one journaled `file_replace`, compare-and-swap on the
file. Checked against reported shapes only: the app cannot run here.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from journal.effects import FileReplace
from journal.runner import PlannedOp
from operations.desktop.assign import projects_of
from operations.desktop.projects import Project, ProjectsView
from operations.desktop.restore import SUBJECT, state_files
from operations.desktop.statefile import (
    ASSIGNMENTS,
    ATOM_STATE,
    LEGACY_MAP,
    LOCAL_PROJECTS,
    PROJECT_ORDER,
    REBUILT_KEYS,
    StateFile,
    StateView,
    host_key,
    interpret,
)
from operations.repair.plan import Plan, Why
from operations.repair.selection import RepairContext, ThreadFilter

DEFAULT_PROJECT_FIELDS = ("id", "name", "rootPaths")  # reported minimal entry (peers' readers, #42739)
DEFAULT_ASSIGNMENT_FIELDS = ("projectKind", "projectId")


@dataclass
class Rebuild:
    """What the rebuild adds, section by section."""

    projects: list[str] = field(default_factory=list)  # local ids added to local-projects
    order: list[str] = field(default_factory=list)
    legacy: dict[str, str] = field(default_factory=dict)
    assignments: dict[str, str] = field(default_factory=dict)  # thread -> local id
    notes: list[str] = field(default_factory=list)
    project_of: dict[str, str] = field(default_factory=dict)  # local id -> state_5 project id

    @property
    def empty(self) -> bool:
        return not (self.projects or self.order or self.legacy or self.assignments)

    def describe(self) -> str:
        return (f"{len(self.projects)} project(s), {len(self.order)} project-order entr(ies), {len(self.legacy)} "
                f"legacy-id map entr(ies), {len(self.assignments)} thread assignment(s)")


def plan_rebuild_state(ctx: RepairContext, flt: ThreadFilter) -> Plan:
    """The filters do not apply: the state file is one file for every thread."""
    plan = Plan("rebuild-desktop-state")
    state, _ = state_files(ctx)
    main = Path(state.path)
    projects = projects_of(ctx)
    if not state.exists or not projects.projects:
        return plan
    plan.considered = 1
    refusal = _refusal(state, projects)
    if refusal is not None:
        plan.leave(str(main), refusal)
        return plan
    assert state.data is not None and state.raw is not None
    view = interpret(state.data)
    host = host_key(state.data, ctx.home.codex_home)
    problem = _view_refusal(view, host, state.data)
    if problem is not None:
        plan.leave(str(main), problem)
        return plan
    assert host is not None
    try:
        rebuild = _additions(view, host, projects)
    except ValueError as exc:
        plan.leave(str(main), Why("no_single_id", str(exc)))
        return plan
    plan.warnings += rebuild.notes
    if rebuild.empty:
        return plan
    data = _rebuilt(state.data, host, projects, rebuild)
    new = serialise(data, state.raw)
    if orjson.loads(new) != data:  # the written bytes say exactly what was meant
        plan.leave(str(main), Why("not_read_back", "the rebuilt file does not read back as built; nothing written"))
        return plan
    if serialise(state.data, state.raw) != state.raw:
        plan.warnings.append(f"{main.name} is laid out differently from how this tool writes JSON: the whole file is "
                             "rewritten with the same content, spaced as its indentation says")
    effect = FileReplace(str(main), state.raw, new)
    plan.ops.append(PlannedOp(f"rebuild the desktop app's projects from state_5: {rebuild.describe()}", (effect,),
                              subject=SUBJECT))
    plan.options = {"added": {"local_projects": rebuild.projects, "project_order": rebuild.order,
                              "legacy_map": rebuild.legacy, "assignments": len(rebuild.assignments)}}
    return plan


def _refusal(state: StateFile, projects: ProjectsView) -> Why | None:
    if state.symlink:
        return Why("symlink", f"{state.path} is a symlink; it is left alone")
    if not state.healthy or state.data is None or state.raw is None:
        damage = state.error or f"{state.nul_bytes} NUL byte(s)"
        return Why("state_file_damaged", f"{state.path} is damaged ({damage}); restore it first "
                   "(restore-desktop-state, also part of fix --desktop)")
    if projects.error:
        return Why("projects_unreadable", f"the projects in state_5 cannot be read: {projects.error}")
    return None


def _view_refusal(view: StateView, host: str | None, data: dict[str, Any]) -> Why | None:
    if view.shape_problems:
        return Why("state_unknown_shape", "the file holds entries of a shape this tool does not know, so it writes "
                   "nothing: " + "; ".join(view.shape_problems[:3]))
    if view.pending_deletions:
        return Why("state_pending_deletions", f"project deletions are pending in the app "
                   f"({', '.join(sorted(view.pending_deletions))}): let the app finish them, then run this again")
    if host is None:
        return Why("state_no_host", "the file names no host that is this Codex home (`local:<home>`); the tool does "
                   "not guess the app's key")
    atom = data.get(ATOM_STATE)
    if isinstance(atom, dict):
        differ = [k for k in REBUILT_KEYS if k in atom and atom[k] != data.get(k)]
        if differ:
            return Why("state_keys_differ", f"`{ATOM_STATE}` repeats {', '.join(differ)} with other values than the "
                       "file's top level; which one the app reads is not known, so nothing is written")
    return None


def _local_id(project: Project, view: StateView, host: str) -> str:
    """The app's own id for a state_5 project: its legacy-map entry, else its idempotency key."""
    for local, mapped in (view.legacy_maps.get(host) or {}).items():
        if mapped == project.id:
            return local
    present = [k for k in project.idempotency_keys if k in view.local_projects]
    if len(present) == 1:
        return present[0]
    if len(project.idempotency_keys) == 1:
        return project.idempotency_keys[0]
    raise ValueError(f"project {project.name} ({project.id}) has {len(project.idempotency_keys)} idempotency keys, "
                     "so the app's id for it is not known; nothing written")


def _additions(view: StateView, host: str, projects: ProjectsView) -> Rebuild:
    rebuild = Rebuild()
    legacy = view.legacy_maps.get(host) or {}
    local_of: dict[str, str] = {}
    for project in sorted(projects.projects.values(), key=lambda p: (p.position, p.id)):
        local = _local_id(project, view, host)
        if local in legacy and legacy[local] != project.id:
            raise ValueError(f"the legacy-id map gives {local} to project {legacy[local]}, not {project.id}; "
                             "nothing written")
        local_of[project.id] = local
        rebuild.project_of[local] = project.id
        if local not in view.local_projects:
            rebuild.projects.append(local)
        if local not in view.project_order:
            rebuild.order.append(local)
        if local not in legacy:
            rebuild.legacy[local] = project.id
    known = set(view.local_projects) | set(rebuild.projects)
    for thread, project_id in sorted(projects.thread_project.items()):
        if project_id is None or project_id not in local_of or thread in projects.subagents:
            continue
        current = view.assignments.get(thread)
        if current is None or current.project_id not in known:
            rebuild.assignments[thread] = local_of[project_id]
        elif current.project_id != local_of[project_id]:
            rebuild.notes.append(f"thread {thread} is assigned in the app to {current.project_id}, while state_5 "
                                 f"says {project_id}: left as the app has it")
    return rebuild


def _model(entries: dict[str, Any], default: tuple[str, ...]) -> tuple[str, ...]:
    """The keys existing entries have (the first one's, in its order), else the default shape."""
    for entry in entries.values():
        if isinstance(entry, dict):
            return tuple(entry)
    return default


def _time(value_ms: int, model: Any) -> int:
    """A time in the unit the existing entries use (milliseconds unless they hold seconds)."""
    return value_ms // 1000 if isinstance(model, int | float) and model < 100_000_000_000 else value_ms


def _rebuilt(data: dict[str, Any], host: str, projects: ProjectsView, rebuild: Rebuild) -> dict[str, Any]:
    out = copy.deepcopy(data)
    local_projects = out.setdefault(LOCAL_PROJECTS, {})
    project_fields = _model(local_projects, DEFAULT_PROJECT_FIELDS)
    sample: dict[str, Any] = next(iter(local_projects.values()), {})
    for local in rebuild.projects:
        project = projects.projects[rebuild.project_of[local]]
        values = {"id": local, "name": project.name, "rootPaths": list(project.roots),
                  "createdAt": _time(project.created_at_ms, sample.get("createdAt")),
                  "updatedAt": _time(project.updated_at_ms, sample.get("updatedAt"))}
        local_projects[local] = {f: values[f] for f in project_fields}
    out.setdefault(PROJECT_ORDER, []).extend(rebuild.order)
    if rebuild.legacy:
        out.setdefault(LEGACY_MAP, {}).setdefault(host, {}).update(rebuild.legacy)
    assignments = out.setdefault(ASSIGNMENTS, {})
    assignment_fields = _model(assignments, DEFAULT_ASSIGNMENT_FIELDS)
    for thread, local in rebuild.assignments.items():
        values = {"projectKind": "local", "projectId": local, "cwd": projects.thread_cwd.get(thread, ""),
                  "pendingCoreUpdate": False}
        assignments[thread] = {f: values[f] for f in assignment_fields}
    atom = out.get(ATOM_STATE)
    if isinstance(atom, dict):  # it repeated them with the same values (checked): keep the two copies equal
        for key in REBUILT_KEYS:
            if key in atom:
                atom[key] = copy.deepcopy(out[key])
    return out


def serialise(data: dict[str, Any], like: bytes) -> bytes:
    """`data` as JSON laid out as `like` is: compact, or indented with its own indentation, its
    line ending and its final newline; non-ASCII kept as is."""
    text = like.decode("utf-8", "replace")
    newline = "\r\n" if "\r\n" in text else "\n"
    body = text.rstrip("\r\n")
    indent = None
    if "\n" in body:
        for line in body.split("\n")[1:]:
            stripped = line.lstrip(" \t")
            if stripped and stripped != line:
                indent = line[: len(line) - len(stripped)]
                break
    if indent is None:
        out = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    else:
        out = json.dumps(data, ensure_ascii=False, indent=indent, separators=(",", ": ")).replace("\n", newline)
    return (out + (newline if text.endswith(("\n", "\r\n")) else "")).encode("utf-8")
