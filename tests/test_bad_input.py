"""Every bad input ends in a documented exit code and message, never a traceback, also under
--json: empty and ambiguous ids in every command that takes one, a damaged state database, a
journal path that is a folder, click's own usage errors, and option values that cannot mean
anything."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import BuiltHome, HomeSpec, build_home
from tests.codexhome import snapshot
from tests.helpers import cli, cli_json

USAGE, ERROR = 2, 1


def _home(root: Path, sessions: int = 12, seed: int = 21) -> BuiltHome:
    return build_home(root, HomeSpec(version="0.171.0", sessions=sessions, providers=("openai", "azure"),
                                     archived_share=0.2, exec_share=0.0, seed=seed))


def _error(result: tuple[int, dict[str, Any]]) -> tuple[int, str, str]:
    code, data = result
    assert data["exit_code"] == code and data["status"] in ("error", "refused") and len(data["errors"]) == 1, data
    return code, data["errors"][0]["code"], data["errors"][0]["message"]


def _shared_prefix(ids: list[str]) -> tuple[str, list[str]]:
    """The longest prefix at least two ids share, and those ids."""
    ordered = sorted(ids)
    best = max((os.path.commonprefix([a, b]) for a, b in zip(ordered, ordered[1:], strict=False)), key=len)
    return best, [i for i in ordered if i.startswith(best)]


def _with_a_run(tmp_path: Path) -> tuple[BuiltHome, str]:
    built = _home(tmp_path / "home")
    code, ran = cli_json("run", "migrate-provider", "--to-provider", "azure", "--apply", "--codex-home",
                         str(built.root))
    assert code == 0, ran
    return built, ran["data"]["run"]


# ------------------------------------------------------------------------- ids


def id_commands(home: Path, other: Path, bundle: Path) -> dict[str, list[str]]:
    """Every command that takes a thread id, with `{}` where the id goes."""
    h = ["--codex-home", str(home)]
    commands = {f"run {op}": ["run", op, "--thread", "{}", *h] for op in (
        "repair-paths", "unarchive", "archive", "migrate-provider", "import-orphans", "forget-missing")}
    commands["run rewrite-cwd"] = ["run", "rewrite-cwd", "--from-folder", "/a", "--to-folder", "/b", "--thread",
                                   "{}", *h]
    commands["run relocate-home"] = ["run", "relocate-home", "--from-home", "/old/.codex", "--thread", "{}", *h]
    commands["fix"] = ["fix", "--thread", "{}", *h]
    commands["export"] = ["export", "-o", str(bundle), "--thread", "{}", *h]
    commands["merge"] = ["merge", "--from-home", str(other), "--thread", "{}", "--codex-home", str(home)]
    commands["audit --explain"] = ["audit", "--explain", "{}", *h]
    return commands


def test_an_empty_thread_id_is_a_usage_error_in_every_command(tmp_path: Path) -> None:
    built, other = _home(tmp_path / "home"), _home(tmp_path / "other", seed=22)
    before = snapshot(built.root)
    for name, args in id_commands(built.root, other.root, tmp_path / "out.zip").items():
        for empty in ("", "  "):
            code, kind, message = _error(cli_json(*[empty if a == "{}" else a for a in args]))
            assert (code, kind) == (USAGE, "usage"), (name, message)
            assert "empty" in message, (name, message)
    assert snapshot(built.root) == before and not (tmp_path / "out.zip").exists()


def test_an_ambiguous_prefix_is_refused_with_what_it_could_mean_in_every_command(tmp_path: Path) -> None:
    built, other = _home(tmp_path / "home"), _home(tmp_path / "other", seed=22)
    prefix, meant = _shared_prefix(sorted(built.sessions))
    assert len(meant) >= 2
    other_prefix, _ = _shared_prefix(sorted(other.sessions))
    before = snapshot(built.root)
    for name, args in id_commands(built.root, other.root, tmp_path / "out.zip").items():
        ref = other_prefix if name == "merge" else prefix  # merge chooses among the other home's threads
        code, kind, message = _error(cli_json(*[ref.upper() if a == "{}" else a for a in args]))
        assert (code, kind) == (USAGE, "ambiguous_id"), (name, message)
        wanted = [i for i in sorted(other.sessions if name == "merge" else built.sessions) if i.startswith(ref)]
        assert all(i in message for i in wanted[:10]) and "could mean" in message, (name, message)
    assert snapshot(built.root) == before and not (tmp_path / "out.zip").exists()
    code, one = cli_json("run", "migrate-provider", "--to-provider", "azure", "--thread", meant[0][:len(prefix) + 4],
                         "--codex-home", str(built.root))  # a prefix only one thread has still selects it
    assert code == 0 and {op["subject"] for op in one["data"]["plan"]["operations"]} <= {meant[0]}
    assert one["data"]["plan"]["considered"] <= 1


def test_journal_ids_empty_or_ambiguous(tmp_path: Path) -> None:
    built, run_id = _with_a_run(tmp_path)
    h = ["--codex-home", str(built.root)]
    for command in (["show"], ["undo"], ["redo"], ["replay"]):
        code, kind, message = _error(cli_json(*command, "", *h))
        assert (code, kind) == (USAGE, "usage") and "empty" in message, (command, message)
    code, kind, message = _error(cli_json("undo", run_id[:8], *h))  # the run and its operations share it
    assert (code, kind) == (USAGE, "ambiguous_id") and run_id in message
    for option in ("--run", "--op", "--target"):
        code, kind, message = _error(cli_json("log", option, "", *h))
        assert (code, kind) == (USAGE, "usage"), (option, message)


# ------------------------------------------------------------------------- a damaged state database


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty_sqlite"])
def test_a_damaged_state_database_is_exit_1_with_codex_recovery_as_advice_on_every_command(
        tmp_path: Path, damage: str) -> None:
    built, run_id = _with_a_run(tmp_path)
    other = _home(tmp_path / "other", seed=22)
    db = built.root / "state_5.sqlite"
    for sidecar in ("-wal", "-shm"):
        Path(str(db) + sidecar).unlink(missing_ok=True)
    if damage == "garbage":
        db.write_bytes(b"this is not a database, it was a text file all along\n" * 200)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:3000])
    else:
        db.unlink()
        sqlite3.connect(db).execute("CREATE TABLE something_else (x)").connection.close()
    h = ["--codex-home", str(built.root)]
    rollouts = {p: p.read_bytes() for p in (built.root / "sessions").rglob("*.jsonl")}
    for args in (["audit"], ["audit", "--explain", sorted(built.sessions)[0]], ["fix"], ["fix", "--apply"],
                 ["run", "migrate-provider", "--to-provider", "openai"], ["run", "archive", "--apply"],
                 ["export", "-o", str(tmp_path / "x.zip")], ["merge", "--from-home", str(other.root)],
                 ["undo", run_id], ["undo", run_id, "--apply"], ["redo", run_id], ["replay", run_id, "--apply"]):
        code, kind, message = _error(cli_json(*args, *h))
        assert (code, kind) == (ERROR, "database_damaged"), (args, message)
        assert "db-backups" in message and "nothing was changed" in message, (args, message)
    assert {p: p.read_bytes() for p in rollouts} == rollouts
    for args in (["log"], ["verify"], ["recover"]):  # the journal alone: they need no database
        assert cli_json(*args, *h)[0] == 0, args
    code, shown = cli_json("show", run_id, *h)  # a view of the journal: each row is shown as unreadable now
    rows = [e for op in shown["data"]["operations"] for e in op["effects"] if e.get("db") == str(db)]
    assert code == 0 and rows and all(e["now"] == "other" and "cannot read" in e["now_detail"] for e in rows)
    text = cli("fix", *h)
    assert text.exit_code == ERROR and "Let Codex recover it" in text.stderr and "Traceback" not in text.stderr


# ------------------------------------------------------------------------- the journal's path


def test_a_journal_path_that_is_a_folder_is_a_clear_error_on_every_command(tmp_path: Path) -> None:
    built, run_id = _with_a_run(tmp_path)
    folder = tmp_path / "journals"
    folder.mkdir()
    h = ["--codex-home", str(built.root)]
    commands = [["log"], ["show", run_id], ["undo", run_id], ["redo", run_id], ["replay", run_id], ["verify"],
                ["recover"], ["prune"], ["fix"], ["fix", "--apply"], ["run", "archive", "--apply"],
                ["run", "forget-missing"]]
    for args in commands:
        for where in (["--journal", str(folder)], ["global"]):
            argv = [*args, *where, *h] if where[0] != "global" else ["--journal", str(folder), *args, *h]
            code, kind, message = _error(cli_json(*argv))
            assert (code, kind) == (USAGE, "usage") and "is a folder" in message, (argv, message)
        plain = cli(*args, "--journal", str(folder), *h)
        assert plain.exit_code == USAGE and "Traceback" not in plain.stderr and "is a folder" in plain.stderr
    file_as_folder = tmp_path / "a-file"
    file_as_folder.write_text("x")
    code, kind, message = _error(cli_json("run", "archive", "--apply", "--journal", str(file_as_folder / "j.jsonl"),
                                          *h))
    assert (code, kind) == (USAGE, "usage") and "is not a folder" in message


# ------------------------------------------------------------------------- click's usage errors


@pytest.mark.parametrize("args", [
    ["audit", "--bogus"], ["fix", "--apply", "--no-such-flag"], ["run", "migrate-provider", "--to-provider", "a", "b"],
    ["undo"], ["run", "no-such-operation"], ["log", "--limit", "zero"], ["--codex-home", "", "audit"],
    ["export"], ["prune", "--keep", "-1"],
])
def test_a_usage_error_under_json_is_the_envelope(args: list[str]) -> None:
    code, data = cli_json(*args)
    assert code == USAGE and data["exit_code"] == USAGE and data["status"] == "error", data
    assert data["errors"][0]["code"] == "usage" and data["errors"][0]["message"]
    assert data["command"] == next(a for a in args if not a.startswith("-") and a)
    plain = cli(*args)
    assert plain.exit_code == USAGE and not plain.stdout.startswith("{")


# ------------------------------------------------------------------------- option values


def test_option_values_that_cannot_mean_anything_are_refused(tmp_path: Path) -> None:
    built = _home(tmp_path / "home")
    h = ["--codex-home", str(built.root)]
    before = snapshot(built.root)
    refused = {
        "from-style": ["run", "rewrite-cwd", "--from-folder", "/a", "--to-folder", "/b", "--from-style", "klingon"],
        "fix from-style": ["fix", "--from-folder", "/a", "--to-folder", "/b", "--from-style", "klingon"],
        "relative --to": ["run", "rewrite-cwd", "--from-folder", "/home/u/proj-a", "--to-folder", "proj-b"],
        "empty --to": ["run", "rewrite-cwd", "--from-folder", "/home/u/proj-a", "--to-folder", ""],
        "empty --from": ["run", "rewrite-cwd", "--from-folder", "", "--to-folder", "/srv/b"],
        "relative --to-folder": ["fix", "--from-folder", "/home/u/proj-a", "--to-folder", "../b"],
        "relative --from folder": ["fix", "--from-folder", "proj-a", "--to-folder", "/srv/b"],
        "empty provider --to": ["run", "migrate-provider", "--to-provider", ""],
        "empty provider --from": ["run", "migrate-provider", "--from-provider", ""],
        "empty fix --to": ["fix", "--to-provider", ""],
        "empty --provider": ["run", "archive", "--provider", ""],
        "empty --cwd": ["fix", "--cwd", ""],
        "since after until": ["fix", "--since", "2026-07-01", "--until", "2026-06-01"],
        "since equals until": ["run", "archive", "--since", "2026-07-01", "--until", "2026-07-01"],
        "not a date": ["run", "archive", "--since", "yesterday"],
        "relative OLD_HOME": ["run", "relocate-home", "--from-home", "old/.codex"],
        "empty --db": ["audit", "--db", ""],
        "empty --map": ["fix", "--map", ""],
        "odd pairs": ["run", "rewrite-cwd", "--from-folder", "/a", "--from-folder", "/b", "--to-folder", "/c"],
        "expect-head": ["verify", "--expect-head", "not-a-hash"],
    }
    for name, args in refused.items():
        code, kind, message = _error(cli_json(*args, *h))
        assert (code, kind) == (USAGE, "usage"), (name, message)
    bad_map = tmp_path / "map.txt"
    bad_map.write_text("/home/u/proj-a\trelative/b\n")
    code, kind, message = _error(cli_json("fix", "--map", str(bad_map), *h))
    assert (code, kind) == (USAGE, "usage") and "relative" in message
    assert snapshot(built.root) == before
    for name, args in (("windows style", ["run", "rewrite-cwd", "--from-folder", "C:\\proj", "--to-folder", "/srv/proj",
                                          "--from-style", "windows"]),
                       ("relative --cwd is taken from here", ["run", "archive", "--cwd", "."])):
        code, data = cli_json(*args, *h)
        assert code == 0, (name, data)
    help_text = " ".join(cli("run", "rewrite-cwd", "--help").stdout.replace("│", " ").split())
    assert "posix, windows or wsl" in help_text and "absolute" in help_text, help_text
