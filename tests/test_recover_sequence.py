"""Recovery judges a batch as the sequence it ran in: the dead end of issue 19, and its way out.

The recipe: `fix --unarchive --apply` migrates an archived rollout in place and then moves it
out of `archived_sessions/` (two operations on one file), `undo` takes both back, and a
`redo` is killed (or interrupted) at every write, fsync, rename and commit. Judged one by one,
the redo of the migration finds its file gone (the later move took it) and blocked every
later write; judged in sequence, every operation ends applied or not applied.
"""

from __future__ import annotations

import errno
import signal
from pathlib import Path

import pytest

from fixtures.generator import HomeSpec, build_home
from journal.scan import scan
from tests.codexhome import snapshot
from tests.faultpoints import (
    Scenario,
    counting,
    failing_at,
    interrupted_at,
    killed_at,
    prepare,
    restore_home,
    settle_and_check,
)
from tests.helpers import cli, cli_json

pytestmark = pytest.mark.crash


def _undone_unarchive(tmp_path: Path, sessions: int = 2) -> tuple[Scenario, str, str]:
    """A home whose archived threads of another provider were fixed (migrated, then unarchived)
    and undone; the scenario is the redo of that undo. Returns (scenario, fix run, undo run)."""
    home = tmp_path / "home"
    build_home(home, HomeSpec(sessions=sessions, archived_share=1.0, exec_share=0.0, providers=("openai",),
                              seed=3))
    original = snapshot(home)
    code, fixed = cli_json("fix", "--unarchive", "--apply", "--codex-home", str(home))
    assert code == 0, fixed
    labels = [o["label"].split()[0] for o in fixed["data"]["operations"]]
    assert labels == ["migrate"] * sessions + ["unarchive"] * sessions  # two operations on each file
    code, undone = cli_json("undo", fixed["data"]["run"], "--apply", "--codex-home", str(home))
    assert code == 0 and snapshot(home) == original, undone
    redo = ["redo", undone["data"]["run"], "--apply", "--codex-home", str(home)]
    scenario = prepare(home, tmp_path / "pristine", redo)
    assert scenario.before == original
    return scenario, fixed["data"]["run"], undone["data"]["run"]


def test_a_redo_killed_at_every_point_always_recovers_and_writes_go_on(tmp_path: Path) -> None:
    scenario, _, _ = _undone_unarchive(tmp_path)
    verdicts: set[str] = set()
    pending_seen = 0
    for number in range(1, len(scenario.points) + 1):
        scenario.restore()
        assert killed_at(number, lambda: cli(*scenario.args)) == -signal.SIGKILL
        pending_seen = max(pending_seen, len(scan(str(scenario.home / "codex-sessions" / "journal.jsonl")).pending))
        recovered = settle_and_check(scenario, f"killed at point {number} ({scenario.points[number - 1][0]})")
        verdicts |= {i["verdict"] for i in recovered["data"]["operations"]}
    assert pending_seen == 4
    assert {"completed", "not_applied", "applied"} <= verdicts, verdicts  # judged in sequence, and not
    print(f"redo of an undone unarchive: {len(scenario.points)} kill points, verdicts {sorted(verdicts)}")


def test_a_redo_interrupted_at_every_point_stops_at_a_boundary_with_nothing_to_recover(tmp_path: Path) -> None:
    scenario, _, _ = _undone_unarchive(tmp_path)
    backup_points = next(n for n, (kind, path) in enumerate(scenario.points) if "backups" not in path)
    assert backup_points > 0  # an undo or redo backs its databases up first, as `run` does
    stopped = 0
    for number in range(1, len(scenario.points) + 1):
        scenario.restore()
        with interrupted_at(number):
            code, out = cli_json(*scenario.args)
        if code == 130:
            stopped += 1
            error = out["errors"][0]
            if number <= backup_points:  # amid the backups the redo takes first, as `run` does
                assert error["code"] == "interrupted" and "nothing was changed" in error["message"], out
            else:
                assert error["code"] == "interrupted" and "nothing to recover" in error["message"], out
                assert error["go_on"].startswith("codex-sessions redo "), error
        else:  # the signal came after the last operation: the run ended whole
            assert code == 0, out
        assert not scan(str(scenario.home / "codex-sessions" / "journal.jsonl")).pending
        settle_and_check(scenario, f"interrupted at point {number}", take_back=False)  # go on: the after state
    assert stopped >= len(scenario.points) // 2
    print(f"redo interrupted at {len(scenario.points)} points, {stopped} stopped at a boundary")


def test_a_redo_whose_journal_lost_its_last_300_bytes_recovers(tmp_path: Path) -> None:
    scenario, _, _ = _undone_unarchive(tmp_path, sessions=8)
    code, _ = cli_json(*scenario.args)
    assert code == 0
    journal = scenario.home / "codex-sessions" / "journal.jsonl"
    data = journal.read_bytes()
    journal.write_bytes(data[:-300])  # the outcomes and the run's end, torn
    assert scan(str(journal)).pending
    settle_and_check(scenario, "journal cut by 300 bytes")


def test_a_value_the_journal_never_wrote_is_reported_the_rest_settled_and_accept_lets_writes_go_on(
        tmp_path: Path) -> None:
    scenario, fix_run, _ = _undone_unarchive(tmp_path)
    unlinks = [n for n, (kind, _) in enumerate(scenario.points, 1) if kind == "unlink"]
    assert killed_at(unlinks[-1] + 1, lambda: cli(*scenario.args)) == -signal.SIGKILL  # both files moved
    moved = sorted((scenario.home / "sessions").rglob("rollout-*.jsonl"))
    assert len(moved) == 2
    with moved[0].open("ab") as handle:  # someone else writes into one of them before recovery
        handle.write(b"not a line of ours\n")
    home = ["--codex-home", str(scenario.home)]
    code, recovered = cli_json("recover", "--apply", *home)
    assert code == 3, recovered
    foreign = recovered["data"]["foreign"]
    assert len(foreign) == 1
    assert recovered["data"]["accept"] == [f"codex-sessions recover --apply --accept {foreign[0]}"]
    settled = {i["op_id"]: i["verdict"] for i in recovered["data"]["operations"]}
    assert sorted(settled.values()).count("foreign") == 1 and len(settled) == 4
    code, refused = cli_json("undo", fix_run, "--apply", *home)
    assert code == 3 and refused["errors"][0]["code"] == "pending_recovery"
    code, accepted = cli_json("recover", "--apply", "--accept", foreign[0][:13] + foreign[0][13:], *home)
    assert code == 0, accepted
    [item] = [i for i in accepted["data"]["operations"] if i["op_id"] == foreign[0]]
    assert item["verdict"] == "accepted" and any(a["now"] for a in item["accepted"])
    code, log = cli_json("log", "--op", foreign[0], *home)
    assert [e["state"] for e in log["data"]["entries"] if e["type"] == "op"] == ["abandoned"]
    code, verified = cli_json("verify", *home)
    assert code == 0 and verified["data"]["ok"], verified
    code, again = cli_json("recover", "--apply", *home)
    assert code == 0 and again["data"]["operations"] == []  # writes go on


def test_recovery_itself_killed_or_failing_at_every_point_is_run_again_to_the_same_end(tmp_path: Path) -> None:
    scenario, _, _ = _undone_unarchive(tmp_path, sessions=1)
    commit = next(n for n, (kind, _) in enumerate(scenario.points, 1) if kind == "commit")
    assert killed_at(commit, lambda: cli(*scenario.args)) == -signal.SIGKILL  # files moved and edited, rows not
    crashed = tmp_path / "crashed"
    restore_home(scenario.home, crashed)
    recover = ["recover", "--apply", "--codex-home", str(scenario.home)]
    seen: list[tuple[str, str]] = []
    with counting(seen):
        code, first = cli_json(*recover)
    assert code == 0 and {i["verdict"] for i in first["data"]["operations"]} == {"completed"}, first
    for number in range(1, len(seen) + 1):
        restore_home(crashed, scenario.home)
        assert killed_at(number, lambda: cli(*recover)) == -signal.SIGKILL
        settle_and_check(scenario, f"recover killed at point {number} ({seen[number - 1][0]})", take_back=False)
        restore_home(crashed, scenario.home)
        with failing_at(number, errno.EIO):
            code, failed = cli_json(*recover)
        assert code == 1 and failed["errors"][0]["code"] == "io_error", failed
        assert "recover --apply` again" in failed["errors"][0]["message"] or "recover --apply" in \
            failed["errors"][0]["message"], failed
        settle_and_check(scenario, f"recover failing at point {number} ({seen[number - 1][0]})", finish=False)
    print(f"recover of a killed redo: {len(seen)} kill points and {len(seen)} injected faults")
