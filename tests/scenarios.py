"""The writing commands on small generated homes, each as a `Scenario` (tests/faultpoints.py):
the home before, the command, and the home after it."""

from __future__ import annotations

from pathlib import Path

from fixtures.generator import HomeSpec, build_home
from tests.faultpoints import Scenario, prepare
from tests.helpers import cli_json

COMMANDS = ("apply", "fix-unarchive", "import", "merge", "undo", "redo", "undo-undo", "replay")


def home_at(root: Path, **spec: object) -> Path:
    """A home of `sessions` threads made under `openai` while `azure` is configured."""
    defaults: dict[str, object] = {"sessions": 1, "archived_share": 0.0, "exec_share": 0.0,
                                   "providers": ("openai",), "seed": 5}
    build_home(root, HomeSpec(**{**defaults, **spec}))  # type: ignore[arg-type]
    return root


def _migrated(home: Path) -> str:
    code, applied = cli_json("run", "migrate-provider", "--apply", "--codex-home", str(home))
    assert code == 0, applied
    return str(applied["data"]["run"])


def scenario(tmp_path: Path, command: str, sessions: int = 1) -> Scenario:
    """`command` (one of COMMANDS) ready to run on a fresh home under `tmp_path`."""
    archived = command == "fix-unarchive"
    if command in ("import", "merge"):  # a home of 0.171 under azure takes threads made by 0.169 under openai
        home = home_at(tmp_path / "home", version="0.171.0", providers=("azure",), seed=22)
    else:
        home = home_at(tmp_path / "home", sessions=sessions, archived_share=1.0 if archived else 0.0,
                       seed=3 if archived else 5)
    at = ["--codex-home", str(home)]
    compare_after = True
    if command == "apply":
        args = ["run", "migrate-provider", "--apply", *at]
    elif command == "fix-unarchive":  # migrates each archived file in place, then moves it out
        args = ["fix", "--unarchive", "--apply", *at]
        compare_after = False  # a second fix touches the unarchived files' mtimes with a later clock
    elif command == "undo":
        args = ["undo", _migrated(home), "--apply", *at]
    elif command in ("redo", "undo-undo", "replay"):
        run = _migrated(home)
        code, undone = cli_json("undo", run, "--apply", *at)
        assert code == 0, undone
        args = (["replay", run, "--apply", *at] if command == "replay"
                else [command.split("-")[0], undone["data"]["run"], "--apply", *at])  # undo of the undo run
    elif command in ("import", "merge"):
        source = home_at(tmp_path / "source", version="0.169.0", sessions=sessions + 1, seed=21)
        if command == "merge":
            args = ["merge", "--from-home", str(source), "--to-provider", "azure", "--apply", *at]
        else:
            bundle = tmp_path / "moved.zip"
            assert cli_json("export", "-o", str(bundle), "--codex-home", str(source))[0] == 0
            args = ["import", str(bundle), "--to-provider", "azure", "--apply", *at]
    else:
        raise ValueError(command)
    return prepare(home, tmp_path / "pristine", args, compare_after=compare_after)
