"""The commands over the journal, one small module each; each asks the journal's API
(`journal.api`; the writing ones through `operations.compensate`, which adds this home's roots
and gate) and only parses and renders."""

from __future__ import annotations

from operations.cli.journal_compensate import redo_cmd, replay_cmd, undo_cmd
from operations.cli.journal_log import log_cmd
from operations.cli.journal_recover import recover_cmd
from operations.cli.journal_show import show_cmd
from operations.cli.journal_verify import verify_cmd

__all__ = ["log_cmd", "recover_cmd", "redo_cmd", "replay_cmd", "show_cmd", "undo_cmd", "verify_cmd"]
