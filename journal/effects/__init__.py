"""The kinds of change the journal records, each in its own module with all its behaviour.

`file_move` (move.py), `file_edit` (file_edit.py, format 3), `zstd_edit` (zstd_edit.py: the same
splices inside a zstd-compressed file), `file_replace` (replace.py: a small file's whole
content), `row_update`, `row_insert`, `row_delete` and `rows_update` (rows.py), and the earlier
formats' `line_rewrite` and `line_splice` (lines.py), still read, undone and redone.
"""

from __future__ import annotations

from typing import Any

from journal.effects.base import REGISTRY, Effect, Probe, State, StepHook, effect_from_json, row_target
from journal.effects.diff import json_changes, splice_of
from journal.effects.file_edit import FileEdit, Splice, plan_file_edit
from journal.effects.lines import LineRewrite, LineSplice
from journal.effects.move import FileMove
from journal.effects.replace import FileReplace, Witness
from journal.effects.rows import RowChange, RowDelete, RowInsert, RowsUpdate, RowUpdate, SqlEffect
from journal.effects.zstd_edit import ZstdEdit, plan_zstd_edit

__all__ = [
    "REGISTRY", "Effect", "FileEdit", "FileMove", "FileReplace", "LineRewrite", "LineSplice", "Probe", "RowChange",
    "RowDelete", "RowInsert", "RowUpdate", "RowsUpdate", "Splice", "SqlEffect", "State", "StepHook", "Witness",
    "ZstdEdit", "effect_from_json", "effect_to_json", "json_changes", "json_targets", "plan_file_edit",
    "plan_zstd_edit", "row_target", "splice_of",
]


def effect_to_json(effect: Effect) -> dict[str, Any]:
    return effect.to_json()


def json_targets(data: dict[str, Any]) -> list[str]:
    """The targets of an effect as the journal stores it, as its own kind names them
    (`Effect.targets_in_json`); an unknown kind names none."""
    kind = data.get("kind")
    cls = REGISTRY.get(kind) if isinstance(kind, str) else None
    return list(cls.targets_in_json(data)) if cls is not None else []
