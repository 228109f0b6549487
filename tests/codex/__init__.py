"""Harness for driving the real Codex binary offline."""
