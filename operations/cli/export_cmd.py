"""`export`: chosen threads to one bundle file, read-only on the home."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from journal.fileio import file_digest
from operations.audit import run_audit
from operations.bundle import check_output, collect, write
from operations.cli import context
from operations.cli.build import command
from operations.cli.output import echo, emit, scan_progress
from operations.home import discover
from operations.locations import resolve_codex_home
from operations.operation import OptionSpec
from operations.option_specs import CODEX_HOME, DB, FILTERS, JSON
from operations.option_values import filters_of
from operations.repair.selection import require_known_threads

OUTPUT = OptionSpec("output", ("--output", "-o"), metavar="FILE", required=True, help="The bundle file to write.")


def export(values: dict[str, Any]) -> None:
    out = Path(values["output"]).expanduser().absolute()
    check_output(out)  # before the home is read
    home = discover(resolve_codex_home(values["codex_home"]), values["db"])
    report = run_audit(home, now=context.make_services().clock.now(), progress=scan_progress(values["json_"]))
    bundle = collect(report, require_known_threads(filters_of(values), report), home, digests=False)
    manifest = write(bundle, out)
    digest, size = file_digest(out)
    odd = [{"id": t.id, "columns": t.undecodable_columns} for t in bundle.threads if t.undecodable_columns]
    data = {"output": str(out), "sha256": digest, "bytes": size, "threads": len(bundle.threads),
            "left_out": bundle.left_out, "undecodable": odd, "source": manifest["source"]}

    def human() -> None:
        echo(f"wrote {out}: {len(bundle.threads)} thread(s), {size} bytes, sha256 {digest}")
        for left in bundle.left_out:
            echo(f"left out {left['id']}: {left['reason']}")
        for item in odd:
            echo(f"note {item['id']}: its row's {', '.join(item['columns'])} held bytes that are not UTF-8; "
                 "exported as the audit reads them (U+FFFD in their place)")

    emit("export", data, values["json_"], human)


export_cmd = command("export", (OUTPUT, *FILTERS, DB, CODEX_HOME, JSON), export,
                     "Write chosen threads to one bundle file (read-only on the home). "
                     "Example: codex-sessions export -o moved.zip")
