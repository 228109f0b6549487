"""An event-sourced, write-ahead journal of reversible changes to files and SQLite rows.

Nothing here knows about Codex: the journal records effects (file moves, line rewrites,
row updates, inserts and deletes) with their before and after values, executes them only
after their intent is durable, and derives every operation's state by reading the file.
"""

FORMAT_VERSION = 2  # what this release writes
READABLE_VERSIONS = (1, 2)  # 1: whole-line `line_rewrite` effects; 2: `line_splice`, only what changed
