"""The journal engine on its own: a program that can import nothing from `operations/` (nor
the CLI) journals a run of every effect kind on temporary files and a temporary database,
undoes it byte for byte, redoes it, and lists it. It runs in a child interpreter whose import
system refuses `operations`, so a hidden dependency fails the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROGRAM = r'''
import importlib.abc, os, sqlite3, sys

class NoOperations(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "operations" or name.startswith("operations."):
            raise ImportError(f"the journal engine imported {name}")
        return None

sys.meta_path.insert(0, NoOperations())
root = sys.argv[1]

from journal.clock import Services, ToolInfo
from journal.effects import FileMove, FileReplace, RowChange, RowsUpdate, RowUpdate, plan_file_edit
from journal.fileio import file_digest
from journal.guard import PathGuard
from journal.index import JournalIndex
from journal.logview import LogHealth, iter_log
from journal.planner import plan_redo, plan_undo
from journal.runner import PlannedOp, execute_run
from journal.store import JournalWriter

db = os.path.join(root, "db.sqlite")
conn = sqlite3.connect(db)
conn.execute("CREATE TABLE t (k TEXT, j INTEGER, v INTEGER, PRIMARY KEY (k, j))")
conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [("a", 1, 10), ("a", 2, 20), ("b", 1, 30)])
conn.commit()
conn.close()
doc = os.path.join(root, "doc.jsonl")
with open(doc, "wb") as handle:
    handle.write(b'{"p":"old"}\n{"q":1,"p":"old"}\n')
os.utime(doc, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
small = os.path.join(root, "small.json")
with open(small, "wb") as handle:
    handle.write(b'{"a":\x00')
src, dst = os.path.join(root, "x.txt"), os.path.join(root, "sub", "x.txt")
with open(src, "wb") as handle:
    handle.write(b"moved")
data = open(doc, "rb").read()
sha, size = file_digest(src)

def state():
    rows = sqlite3.connect(db).execute("SELECT * FROM t ORDER BY k, j").fetchall()
    return (rows, open(doc, "rb").read(), os.stat(doc).st_mtime_ns, os.path.exists(src), os.path.exists(dst),
            open(small, "rb").read())

before = state()
ops = [PlannedOp("edit and shift", (
    plan_file_edit(doc, {1: b'{"p":"new"}', 2: b'{"q":1,"p":"new"}'}, data),
    RowsUpdate(db, "t", {"k": "a"}, ("j",), ("v",), (RowChange((1,), (10,), (11,)), RowChange((2,), (20,), (21,)))),
    RowUpdate(db, "t", {"k": "b", "j": 1}, {"v": 30}, {"v": 31}),
    FileReplace(small, b'{"a":\x00', b'{"a":1}'),
)), PlannedOp("move", (FileMove(src, dst, sha, size, os.stat(src).st_mtime_ns),))]
journal = os.path.join(root, "journal.jsonl")
services = Services(tool=ToolInfo("engine-test", "0"))
guard = PathGuard([root])
with JournalWriter(journal, services) as writer:
    run = execute_run(writer, "apply", ops, guard=guard)
assert run.status == "ok", run
after = state()
assert after[0] == [("a", 1, 11), ("a", 2, 21), ("b", 1, 31)] and after[1].count(b"new") == 2
assert after[2] == before[2] and after[4] and not after[3] and after[5] == b'{"a":1}'
with JournalWriter(journal, services) as writer:
    plan = plan_undo(JournalIndex.load(journal), run.run_id)
    assert not plan.conflicts, plan.conflicts
    undone = execute_run(writer, "undo", plan.ops, links={"undoes": run.run_id}, guard=guard)
assert undone.status == "ok" and state() == before, state()
with JournalWriter(journal, services) as writer:
    plan = plan_redo(JournalIndex.load(journal), undone.run_id)
    redone = execute_run(writer, "redo", plan.ops, links={"redoes": undone.run_id}, guard=guard)
assert redone.status == "ok" and state()[:2] == after[:2]
health = LogHealth()
states = [item["state"] for item in iter_log(journal, health=health) if item["type"] == "op"]
assert health.ok and states.count("redone") == 2 and states.count("in effect") == 2, states
assert not any(name == "operations" or name.startswith("operations.") for name in sys.modules)
print("ok")
'''


def test_the_journal_engine_works_without_operations(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
