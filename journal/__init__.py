"""An event-sourced, write-ahead journal of reversible changes to files and SQLite rows.

Nothing here knows about Codex: the journal records effects (file moves, edits inside
lines, row updates, inserts and deletes) with their before and after values, executes them only
after their intent is durable, and derives every operation's state by reading the file.
"""

FORMAT_VERSION = 3  # what this release writes
# 1: whole-line `line_rewrite` effects; 2: `line_splice`, the bytes that changed in a line, with
# line and file digests; 3: `file_edit` (one per file: its digests once, the splices grouped) and
# `rows_update` (many rows of one table, shared parts once)
READABLE_VERSIONS = (1, 2, 3)
