"""Codex-specific work (finding a Codex home, auditing it, repairing it) and the CLI."""
