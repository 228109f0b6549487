"""`audit --codex-doctor`: Codex's own parity figures beside the audit's, as text."""

from __future__ import annotations

from typing import Any

from operations.cli.output import echo
from operations.doctor import DIFFERENCES, SAME, DoctorComparison


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return str(value)


def render_doctor(comparison: DoctorComparison) -> None:
    echo("")
    echo(f"codex doctor ({comparison.binary}, Codex {comparison.codex_version or '?'}), state.rollout_db_parity: "
         f"{comparison.status or '?'}: {comparison.summary or ''}")
    names = {text: key for key, text in DIFFERENCES.items()}
    echo(f"  {'figure':30} {'doctor':>9} {'audit':>9} {'audit, as doctor counts':>24}  definition")
    for f in comparison.figures:
        if isinstance(f.doctor, dict) or isinstance(f.expected, dict):
            mark = "" if f.agrees else "  !! differs"
            echo(f"  {f.name:30} doctor: {_shown(f.doctor)}{mark}")
            if f.audit is not None and f.audit != f.doctor:
                echo(f"  {'':30} audit:  {_shown(f.audit)}")
            continue
        definition = "same" if f.definition.startswith(SAME) else names.get(f.definition, "differs")
        if not f.comparable:
            definition += " (not compared: the doctor's scan cap)"
        elif not f.agrees:
            definition += "  !! the doctor counts otherwise"
        echo(f"  {f.name:30} {_shown(f.doctor):>9} {_shown(f.audit):>9} {_shown(f.expected):>24}  {definition}")
    echo("  where the definitions differ:")
    for key in ("files", "missing rows", "archive mismatches", "duplicates", "scan cap"):
        echo(f"    {key}: {DIFFERENCES[key]}")
    if comparison.disagreements:
        echo(f"  {len(comparison.disagreements)} figure(s) differ from the audit's data counted the doctor's way: "
             "please report it (audit --redact --json, and `codex doctor --json`)")
    for name, value in comparison.unknown.items():
        echo(f"  (the doctor also reports {name}: {_shown(value)})")
