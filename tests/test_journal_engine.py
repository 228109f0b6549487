"""The journal engine's own tests (`tests/journal/`) run here, in a child pytest whose import
system refuses `operations` (see `tests/journal/conftest.py`): they reach the engine through its
public API alone, and an engine module that leans on the application fails them. The top-level
suite ignores that folder (`collect_ignore` in `tests/conftest.py`), so `pytest` (and
`scripts/test`, which CI runs) runs them once, this way."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_journal_engine_tests_pass_where_the_application_cannot_be_imported() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/journal", "-q", "-p", "no:cacheprovider"],
                          cwd=REPO, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"})
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 25, summary
    assert not re.search(r"failed|error|skipped", summary), summary
