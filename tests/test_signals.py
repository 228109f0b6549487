"""SIGINT and SIGTERM stop every writing command at an operation boundary: what is done is
durable and recorded, the rest is recorded as not started, the message says what was done,
what was not, and the exact commands to go on or take it back, and the exit code is 130. A
second signal changes nothing; a signal before any write ends the command at once.

The signals are real (the process sends them to itself from a fault point, `journal.faults`),
and so is the handler; only the moment is chosen, so no test depends on timing.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from journal.scan import scan
from operations import audit
from tests.faultpoints import Scenario, counting, killed_at, prepare, settle_and_check
from tests.helpers import _invoke, cli, cli_json
from tests.scenarios import home_at
from tests.scenarios import scenario as make_scenario

pytestmark = [pytest.mark.crash, pytest.mark.posix]


def _scenario(tmp_path: Path, command: str) -> Scenario:
    return make_scenario(tmp_path, {"run": "apply", "fix": "fix-unarchive"}.get(command, command), sessions=3)


def _during_first_operation(scenario: Scenario) -> int:
    """The point just after the first operation's first effect began."""
    return next(n for n, (kind, _) in enumerate(scenario.points, 1) if kind in ("write", "link", "sql")
                and "staging" not in _)


def _signals_at(numbers: list[int], signum: int) -> object:
    from journal import faults

    count = 0

    def hook(_kind: str, _path: str) -> None:
        nonlocal count
        count += 1
        if count in numbers:
            import os

            os.kill(os.getpid(), signum)

    return faults.injected(hook)


@pytest.mark.parametrize("command", ["run", "fix", "import", "merge", "undo", "redo", "replay"])
def test_a_signal_mid_run_stops_at_a_boundary_and_says_what_was_done_and_how_to_go_on(
        tmp_path: Path, command: str) -> None:
    scenario = _scenario(tmp_path, command)
    signum = signal.SIGTERM if command in ("import", "redo") else signal.SIGINT
    with _signals_at([_during_first_operation(scenario)], signum):
        result = _invoke(scenario.args)
    assert result.exit_code == 130, result.output
    name = signal.Signals(signum).name
    said = result.stderr if hasattr(result, "stderr") else result.output
    assert f"interrupted by {name} at an operation boundary" in said, said
    assert "1 operation(s) applied and recorded" in said, said
    assert "not started" in said and "nothing to recover" in said
    assert "To take back what was done: `codex-sessions undo " in said
    assert f"To do the rest: `codex-sessions {' '.join(scenario.args[:1])}" in said
    journal = scenario.home / "codex-sessions" / "journal.jsonl"
    assert not scan(str(journal)).pending and not scan(str(journal)).open_runs  # durable, recorded, ended
    settle_and_check(scenario, f"{command} interrupted")


def test_a_second_signal_while_stopping_changes_nothing(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "run")
    first = _during_first_operation(scenario)
    with _signals_at([first, first + 1, first + 2], signal.SIGINT):
        code, out = cli_json(*scenario.args)
    assert code == 130 and out["errors"][0]["code"] == "interrupted", out
    assert out["errors"][0]["counts"]["applied"] == 1 and out["errors"][0]["counts"]["not_applied"] == 2
    assert not scan(str(scenario.home / "codex-sessions" / "journal.jsonl")).pending
    settle_and_check(scenario, "interrupted three times")


def test_a_signal_before_any_write_ends_at_once_with_nothing_changed(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = _scenario(tmp_path, "fix")
    real = audit.scan_home

    def interrupted_scan(*args: object, **kwargs: object) -> object:
        import os

        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "scan_home", interrupted_scan)
    result = cli(*scenario.args)
    assert result.exit_code == 130
    assert "interrupted by SIGINT before any change was made: nothing was changed" in result.output
    monkeypatch.setattr(audit, "scan_home", real)
    settle_and_check(scenario, "interrupted while auditing")


def test_recover_interrupted_between_groups_says_how_to_go_on(tmp_path: Path) -> None:
    home = home_at(tmp_path / "home", sessions=3, seed=11)
    args = ["run", "migrate-provider", "--apply", "--codex-home", str(home)]
    seen: list[tuple[str, str]] = []
    scenario = prepare(home, tmp_path / "pristine", args)
    commits = [n for n, (kind, _) in enumerate(scenario.points, 1) if kind == "commit"]
    assert killed_at(commits[0], lambda: cli(*args)) == -signal.SIGKILL  # three operations left pending
    journal = home / "codex-sessions" / "journal.jsonl"
    assert len(scan(str(journal)).pending) == 3
    with counting(seen):
        code, dry = cli_json("recover", "--codex-home", str(home))
    assert code == 0 and not seen  # the dry run writes nothing
    seen.clear()
    with _signals_at([3, 4, 5], signal.SIGINT):  # once the first group began, Ctrl-C again and again
        code, out = cli_json("recover", "--apply", "--codex-home", str(home))
    assert code == 130 and out["errors"][0]["code"] == "interrupted", out
    assert "To go on: `codex-sessions recover --apply`" in out["errors"][0]["message"]
    assert 0 < out["errors"][0]["pending"] < 3
    settle_and_check(scenario, "recover interrupted")
