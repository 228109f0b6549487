"""Every write, fsync, rename and commit of an apply, an undo, a redo, an import and a
`fix --unarchive` fails in turn, with ENOSPC and with EIO (`journal.faults`).

After each: a clear message and a documented code (`io_error`, exit 1), never a traceback; a
journal `verify` finds valid (operations may be pending, never damaged); and once
`recover --apply` has run (nothing left pending, nothing foreign), the home is byte for byte
(files, mtimes, rows) at the command's after state once the rest is done (after each ENOSPC),
or at its before state once what stands of it is undone (after each EIO).
"""

from __future__ import annotations

import errno
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.faultpoints import failing_at, settle_and_check
from tests.helpers import _invoke, cli_json
from tests.scenarios import scenario as make_scenario

pytestmark = pytest.mark.crash
ERRORS = (errno.ENOSPC, errno.EIO)


@pytest.mark.parametrize("command", ["apply", "undo", "redo", "import", "fix-unarchive"])
def test_every_write_fsync_rename_and_commit_failing_ends_in_a_message_and_a_recoverable_home(
        tmp_path: Path, command: str) -> None:
    scenario = make_scenario(tmp_path, command)
    kinds = Counter(kind for kind, _ in scenario.points)
    assert {"journal_write", "journal_fsync", "commit"} <= set(kinds), kinds
    faults = 0
    for number in range(1, len(scenario.points) + 1):
        for code in ERRORS:
            scenario.restore()
            hit: list[tuple[str, str]] = []
            with failing_at(number, code, hit):
                result = _invoke([*scenario.args, "--json"])
            label = f"{errno.errorcode[code]} at point {number} ({scenario.points[number - 1][0]})"
            assert hit, f"{label}: the point was not reached again"
            assert result.exception is None or isinstance(result.exception, SystemExit), \
                f"{label}: a traceback: {result.exception!r}"
            out = orjson.loads(result.stdout)
            assert (result.exit_code, out["exit_code"]) == (1, 1), (label, out)
            [error] = out["errors"]
            assert error["code"] == "io_error", (label, error)
            assert any(word in error["message"] for word in ("No space left", "Input/output error", "disk is full",
                                                             "disk I/O error")), (label, error)
            assert "recover --apply" in error["message"] or "run the command again" in error["message"] \
                or "do the rest" in error["message"], (label, error)
            code_v, verified = cli_json("verify", "--codex-home", str(scenario.home))
            assert verified["data"]["problems"] == [], (label, verified)
            # one state byte for byte per fault, both over the matrix: after a disk full, the rest is
            # done and the home is at its after state; after an I/O error, what stands is undone
            settle_and_check(scenario, label, finish=code == errno.ENOSPC, take_back=code == errno.EIO)
            faults += 1
    print(f"{scenario.args[0]}: {len(scenario.points)} points x {len(ERRORS)} errors = {faults} injected faults; "
          f"{dict(kinds)}")
