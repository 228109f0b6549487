"""The desktop app's layers on top of Codex: projects, the sidebar, the app's state file.

The desktop app (macOS, Windows) runs Codex's app-server and keeps state of its own:
`.codex-global-state.json` in the Codex home (its projects, which thread sits in which
project, pins) and a thread catalog in `sqlite/codex-dev.db`. Codex's own `state_5.sqlite`
holds `projects`, `project_roots` and `threads.project_id`. One module per job:

* `statefile.py` reads the state file and its `.bak` (bounded, untrusted);
* `catalog.py` reads the catalog, read-only;
* `projects.py` reads the projects in `state_5.sqlite` and which project could claim a thread;
* `sidebar.py` models what the sidebar shows, per thread and per project;
* `report.py` puts them together for the audit;
* `assign.py`, `restore.py`, `rebuild.py` plan the repairs.

What was checked against the real Codex binary and what only against users' reports is said
in each module and in docs/desktop.md.
"""
