"""The journal engine on its own: a program that can import nothing from `operations/` (nor
the CLI) journals a run of every effect kind on temporary files and a temporary database,
undoes it byte for byte, redoes it, and lists it, through the public API (`import journal`).
It runs in a child interpreter whose import system refuses `operations`, so a hidden
dependency fails the test."""

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

import journal
from journal import FileReplace, PlannedOp, RowChange, RowsUpdate, RowUpdate, Services, ToolInfo, plan_file_edit

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
)), PlannedOp("move", (journal.plan_file_move(src, dst),))]
path = os.path.join(root, "journal.jsonl")
services = Services(tool=ToolInfo("engine-test", "0"))
with journal.open_writer(path, services) as writer:
    run = journal.run(writer, "apply", ops, roots=[root])
assert run.status == "ok", run
after = state()
assert after[0] == [("a", 1, 11), ("a", 2, 21), ("b", 1, 31)] and after[1].count(b"new") == 2
assert after[2] == before[2] and after[4] and not after[3] and after[5] == b'{"a":1}'
assert not journal.plan(path, "undo", run.run_id).conflicts
undone = journal.undo(path, run.run_id, services, roots=[root]).result
assert undone is not None and undone.status == "ok" and state() == before, state()
redone = journal.redo(path, undone.run_id, services, roots=[root]).result
assert redone is not None and redone.status == "ok" and state()[:2] == after[:2]
listing = journal.log(path)
states = [item["state"] for item in listing.entries if item["type"] == "op"]
assert listing.health().ok and states.count("redone") == 2 and states.count("in effect") == 2, states
assert not any(name == "operations" or name.startswith("operations.") for name in sys.modules)
print("ok")
'''


def test_the_journal_engine_works_without_operations(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
