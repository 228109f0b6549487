"""Operations are registered in one place, and the CLI is built from there: every `run` command
and every `fix` option comes from the registry, an operation added through the documented
recipe (docs/adding-an-operation.md) is a working, journaled, undoable command, and each
command checks for a running Codex once."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from fixtures.generator import HomeSpec, build_home, sample_spec
from journal.runner import PlannedOp
from operations import processes, registry
from operations.cli.app import app
from operations.cli.run_cmd import build_run_app
from operations.cli.usage import JsonUsageErrors
from operations.operation import Operation, OptionSpec
from operations.option_specs import FILTERS, RUNNING
from operations.option_values import non_empty
from operations.repair.plan import Plan, Why
from operations.repair.rows import current_rows, row_update
from operations.repair.selection import RepairContext, ThreadFilter
from tests.codexhome import row, snapshot, undo
from tests.helpers import cli, cli_json


def _flags(params: list[Any], hidden: bool) -> set[str]:
    return {flag for p in params if getattr(p, "hidden", False) == hidden for flag in p.opts}


def test_every_run_command_and_every_fix_option_comes_from_the_registry() -> None:
    group: Any = typer.main.get_command(app)
    run = group.commands["run"]
    assert list(run.commands) == [op.name for op in registry.operations()]
    for op in registry.operations():
        command = run.commands[op.name]
        declared = {f for spec in (*op.options, *(FILTERS if op.filters else ()), *RUNNING) for f in spec.flags}
        assert _flags(command.params, hidden=False) == declared, op.name
        assert _flags(command.params, hidden=True) == {f for spec in op.options for f in spec.deprecated}, op.name
        assert op.summary in (command.help or ""), op.name
    fix = group.commands["fix"]
    declared = {f for spec in (*registry.fix_options(), *FILTERS, *RUNNING) for f in spec.flags}
    assert _flags(fix.params, hidden=False) == declared
    phases = [op.name for op in registry.fix_phases()]
    assert phases[:4] == ["relocate-home", "repair-paths", "import-orphans", "migrate-provider"]
    assert set(phases) <= set(run.commands)  # every phase of fix is a run command too


def test_help_uses_one_vocabulary_and_shows_no_bool_type() -> None:
    for args in (["fix", "--help"], ["run", "migrate-provider", "--help"], ["run", "rewrite-cwd", "--help"],
                 ["run", "relocate-home", "--help"], ["import", "--help"], ["merge", "--help"], ["audit", "--help"]):
        text = cli(*args).stdout
        assert "<bool>" not in text, args
        assert "--to " not in text and "--from " not in text, args  # old spellings are hidden
    assert "--to-provider" in cli("run", "migrate-provider", "--help").stdout
    assert "--from-home" in cli("merge", "--help").stdout


def test_an_old_spelling_is_still_understood_for_one_release(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", sample_spec())
    new = cli_json("run", "migrate-provider", "--to-provider", "azure", "--codex-home", str(built.root))
    old = cli_json("run", "migrate-provider", "--to", "azure", "--codex-home", str(built.root))
    assert new[0] == old[0] == 0
    assert new[1]["data"]["plan"]["summary"] == old[1]["data"]["plan"]["summary"]
    assert new[1]["data"]["plan"]["summary"]["operations"] > 0


# --- the recipe, followed here word for word ------------------------------------------------------
def plan_retitle(ctx: RepairContext, flt: ThreadFilter, args: Any) -> Plan:
    plan = Plan("retitle", options={"title": args["title"]})
    chosen = ctx.selected(flt)
    rows = current_rows(ctx.home, [t.id for t in chosen])
    for t in chosen:
        plan.considered += 1
        found = rows.get(t.id)
        if found is None:
            plan.leave(t.id, Why("no_row", "it has no row to give a title to"))
            continue
        update = row_update(ctx.home, t.id, found, {"title": args["title"]})
        plan.ops.append(PlannedOp(f"retitle {t.id}", (update,), subject=t.id))
    return plan


TITLE = OptionSpec("title", ("--title",), metavar="TEXT", required=True, check=non_empty,
                   help="The title the threads get.")
RETITLE = Operation("retitle", "Give the chosen threads one title.",
                    "codex-sessions run retitle --title X --thread 01a2", plan_retitle, options=(TITLE,))


@pytest.fixture
def retitle() -> Iterator[typer.Typer]:
    registry.register(RETITLE)
    try:
        built = typer.Typer(cls=JsonUsageErrors)
        built.add_typer(build_run_app(), name="run")
        yield built
    finally:
        registry.unregister("retitle")


def _run(application: typer.Typer, *args: str) -> tuple[int, dict[str, Any]]:
    saved = sys.argv
    sys.argv = ["codex-sessions", *args]
    try:
        result = CliRunner().invoke(application, [*args, "--json"])
    finally:
        sys.argv = saved
    return result.exit_code, orjson.loads(result.stdout)


def test_an_operation_added_through_the_recipe_runs_journaled_and_is_undone(tmp_path: Path,
                                                                           retitle: typer.Typer) -> None:
    built = build_home(tmp_path / "home", HomeSpec(sessions=6, seed=3))
    thread = sorted(built.sessions)[0]
    before = snapshot(built.root)
    code, dry = _run(retitle, "run", "retitle", "--title", "Renamed", "--thread", thread,
                     "--codex-home", str(built.root))
    assert code == 0 and dry["data"]["plan"]["summary"]["operations"] == 1, dry
    assert snapshot(built.root) == before  # the dry run wrote nothing
    code, missing = _run(retitle, "run", "retitle", "--codex-home", str(built.root))
    assert code == 2 and "--title" in missing["errors"][0]["message"], missing  # its option is required
    code, applied = _run(retitle, "run", "retitle", "--title", "Renamed", "--thread", thread, "--apply",
                         "--codex-home", str(built.root))
    assert code == 0 and applied["data"]["counts"]["applied"] == 1, applied
    found = row(built.root, thread)
    assert found is not None and found["title"] == "Renamed"
    code, undone = undo(built.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(built.root) == before


def test_a_command_looks_for_a_running_codex_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = build_home(tmp_path / "home", sample_spec())
    calls: list[Path] = []
    real = processes.codex_processes

    def counted(home: Path, *args: Any, **kwargs: Any) -> Any:
        calls.append(home)
        return real(home, *args, **kwargs)

    monkeypatch.setattr(processes, "codex_processes", counted)
    code, dry = cli_json("fix", "--unarchive", "--codex-home", str(built.root))
    assert code == 0 and dry["data"]["operations"] > 0 and len(calls) == 1, (len(calls), dry["data"]["operations"])
    calls.clear()
    code, applied = cli_json("fix", "--apply", "--codex-home", str(built.root))
    assert code == 0 and applied["data"]["counts"]["applied"] > 0 and len(calls) == 1, len(calls)
