"""One vocabulary for options, declared once as data: a provider is `--to-provider`, folders are
`--from-folder`/`--to-folder`, a home is `--from-home`; the filters and the options every
writing command takes. The CLI builds its options from these (operations/cli/build.py)."""

from __future__ import annotations

from dataclasses import replace

from operations.operation import OptionSpec
from operations.option_values import absolute_folder, non_empty
from operations.path_spelling import STYLES

# --- every writing command --------------------------------------------------------------------
THREAD = OptionSpec("thread", ("--thread",), metavar="ID", repeatable=True, check=non_empty,
                    help="Only this thread (repeatable): its id, or a prefix that names only it (any case); an "
                         "ambiguous prefix is an error listing what it could mean.")
PROVIDER = OptionSpec("provider", ("--provider",), metavar="P", check=non_empty, help="Only threads of this provider.")
CWD = OptionSpec("cwd", ("--cwd",), metavar="DIR", check=non_empty,
                 help="Only threads whose cwd is this folder or below (a relative DIR is taken from the current "
                      "folder).")
SINCE = OptionSpec("since", ("--since",), metavar="DATE", check=non_empty,
                   help="Only threads created at or after DATE (YYYY-MM-DD or ISO 8601, UTC unless it names a zone).")
UNTIL = OptionSpec("until", ("--until",), metavar="DATE", check=non_empty,
                   help="Only threads created before DATE (same format as --since; after --since when both are "
                        "given).")
VERBOSE = OptionSpec("verbose", ("--verbose", "-v"), bool, help="List every operation with every effect.")
APPLY = OptionSpec("apply", ("--apply",), bool, help="Make the changes; without it, only show them.")
DB = OptionSpec("db", ("--db",), metavar="PATH", check=non_empty,
                help="The state database, when two candidates exist.")
CODEX_HOME = OptionSpec("codex_home", ("--codex-home",), metavar="PATH", check=non_empty,
                        help="Codex home (default: $CODEX_HOME or ~/.codex).")
JOURNAL = OptionSpec("journal", ("--journal",), metavar="PATH", check=non_empty,
                     help="Journal file, not a folder (default: $CODEX_SESSIONS_JOURNAL, else "
                          "<codex-home>/codex-sessions/journal.jsonl).")
JSON = OptionSpec("json_", ("--json",), bool, help="Print one JSON document on stdout.")

FILTERS = (THREAD, PROVIDER, CWD, SINCE, UNTIL)
RUNNING = (VERBOSE, APPLY, DB, CODEX_HOME, JOURNAL, JSON)  # how a writing command runs

# --- providers, folders, homes ----------------------------------------------------------------
TO_PROVIDER = OptionSpec("to_provider", ("--to-provider",), metavar="PROVIDER", check=non_empty,
                         help="The provider the threads get here, as migrate-provider gives it (default: none).")
FORCE_PROVIDER = OptionSpec("force", ("--force",), bool, help="Allow a --to-provider config.toml does not define.")
FROM_FOLDER = OptionSpec("from_folder", ("--from-folder",), metavar="OLD", repeatable=True, check=non_empty,
                         deprecated=("--from",),
                         help="A folder to rewrite, absolute (repeatable, paired with --to-folder).")
TO_FOLDER = OptionSpec("to_folder", ("--to-folder",), metavar="NEW", repeatable=True, check=non_empty,
                       deprecated=("--to",), help="The new folder for the --from-folder before it, absolute.")
MAP = OptionSpec("map_file", ("--map",), metavar="FILE", check=non_empty,
                 help="Folder pairs: FROM<TAB>TO (or FROM -> TO), one a line; both absolute.")
FROM_STYLE = OptionSpec("from_style", ("--from-style",), metavar="STYLE", choices=STYLES, default="posix",
                        help="How the old folders are spelled: posix, windows or wsl (windows and wsl also match "
                             "/mnt/c/… for C:\\…).")
FOLDERS = (FROM_FOLDER, TO_FOLDER, MAP, FROM_STYLE)
FROM_HOME = OptionSpec("from_home", ("--from-home",), metavar="OLD_HOME", check=absolute_folder,
                       deprecated=("--from",), help="The home the rows point into, absolute (default: inferred).")


# --- bringing threads in (import, merge) ---------------------------------------------------------
REPLACE = OptionSpec("replace", ("--replace",), bool, help="Overwrite a thread here that has other content "
                     "(journaled, undoable).")
OTHER_HOME = OptionSpec("from_home", ("--from-home",), metavar="OTHER_HOME", deprecated=("--from",),
                        help="The home to take threads from (required).", check=non_empty)


def without_deprecated(spec: OptionSpec) -> OptionSpec:
    return replace(spec, deprecated=())
