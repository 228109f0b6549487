"""Every command has --json and help, and errors come in the same JSON envelope."""

from __future__ import annotations

from pathlib import Path

import typer.core
import typer.main

from operations.cli.app import app
from tests.helpers import cli, cli_json

ENVELOPE = {"schema_version", "command", "status", "exit_code", "data", "errors"}


def test_every_command_has_json_and_help() -> None:
    group = typer.main.get_group(app)
    assert set(group.commands) == {"audit", "fix", "run", "prune", "export", "import", "merge",
                                   "log", "show", "undo", "redo", "replay", "verify",
                                   "recover", "transcript", "skill"}
    commands = [((name,), command) for name, command in group.commands.items() if name not in ("run", "skill")]
    run = group.commands["run"]
    assert isinstance(run, typer.core.TyperGroup)
    commands += [(("run", name), command) for name, command in run.commands.items()]
    assert len(run.commands) == 11
    skill = group.commands["skill"]
    assert isinstance(skill, typer.core.TyperGroup) and set(skill.commands) == {"install", "uninstall"}
    commands += [(("skill", name), command) for name, command in skill.commands.items()]
    for path, command in commands:
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert "--json" in options, path
        assert command.help and "Example: codex-sessions" in command.help, path
        result = cli(*path, "--help")
        assert result.exit_code == 0 and "--json" in result.stdout, path


def test_each_run_operation_takes_only_its_own_options() -> None:
    run = typer.main.get_group(app).commands["run"]
    assert isinstance(run, typer.core.TyperGroup)
    options = {name: {opt for param in command.params if not getattr(param, "hidden", False)
                      for opt in getattr(param, "opts", [])} for name, command in run.commands.items()}
    whole_file = {name: options.pop(name) for name in ("restore-desktop-state", "rebuild-desktop-state")}
    shared = set.intersection(*options.values())
    # the desktop app's state file is one file for every thread: no thread filters there
    assert all(opts == {"--verbose", "-v", "--apply", "--db", "--codex-home", "--journal", "--json"}
               for opts in whole_file.values()), whole_file
    assert {"--thread", "--since", "--apply", "--json", "--codex-home"} <= shared
    own = {name: opts - shared for name, opts in options.items()}
    assert own["migrate-provider"] == {"--to-provider", "--from-provider", "--db-only", "--force"}
    assert own["rewrite-cwd"] == {"--from-folder", "--to-folder", "--map", "--from-style"}
    assert own["relocate-home"] == {"--from-home"} and own["import-orphans"] == {"--via-backfill"}
    assert own["repair-paths"] == own["unarchive"] == own["forget-missing"] == own["assign-projects"] == set()
    bad = cli("run", "unarchive", "--to", "azure")  # no longer accepted where it means nothing
    assert bad.exit_code == 2


def test_errors_use_the_envelope_and_documented_codes(tmp_path: object) -> None:
    code, data = cli_json("audit", "--codex-home", "/nonexistent/codex-home")
    assert code == 2 and set(data) == ENVELOPE
    assert data["status"] == "error" and data["errors"][0]["code"] == "usage"
    assert data["schema_version"] == "1" and data["command"] == "audit"
    code, data = cli_json("show", "0193abcd", "--journal", "/nonexistent/journal.jsonl")
    assert code == 2 and set(data) == ENVELOPE and data["errors"][0]["code"] == "not_found"


def test_log_and_verify_on_a_journal_not_written_yet_say_so_and_succeed() -> None:
    for command in ("log", "verify"):
        code, data = cli_json(command, "--journal", "/nonexistent/journal.jsonl")
        assert code == 0 and data["data"]["recorded"] is False, command
        result = cli(command, "--journal", "/nonexistent/journal.jsonl")
        assert result.exit_code == 0 and "nothing has been recorded yet" in result.stdout


def test_usage_errors_exit_2() -> None:
    assert cli("run", "no-such-operation").exit_code == 2
    assert cli("log", "--limit", "0").exit_code == 2


def test_version_global_options_and_exit_codes_in_help(tmp_path: Path) -> None:
    from fixtures.generator import HomeSpec, build_home

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("codex-sessions ")
    assert "Exit codes: 0 success" in cli("--help").stdout
    built = build_home(tmp_path / "home", HomeSpec(sessions=3, seed=1))
    code, data = cli_json("--codex-home", str(built.root), "audit")
    assert code == 0 and data["data"]["codex_dir"] == str(built.root)
    code, data = cli_json("--codex-home", str(built.root), "run", "unarchive", "--thread", "ffffffff-dead")
    assert code == 2 and data["errors"][0]["code"] == "not_found" and "no thread" in data["errors"][0]["message"]
    code, data = cli_json("--codex-home", str(built.root), "fix", "--thread", "ffffffff-dead")
    assert code == 2 and data["errors"][0]["code"] == "not_found"
