"""The refusals this tool's Codex work can meet, each with a stable `code` for `--json`.

They extend the one hierarchy in `journal.errors` (the refusals: exit 3, nothing changed; and
the errors of `audit --codex-doctor`); the codes are listed in docs/exit-codes.md.
"""

from __future__ import annotations

from journal.errors import Refused, ToolError, UsageProblem


class CodexRunning(Refused):
    """Codex holds a writer lock, the database, or runs with this home."""

    code = "codex_running"


class HomeInUse(Refused):
    """Another codex-sessions run is writing to this home."""

    code = "home_in_use"


class UnknownShape(Refused):
    """A table a write would touch has a shape no known Codex release has."""

    code = "unknown_shape"


class ConfigRefused(Refused):
    """Codex itself cannot use config.toml, so its provider is no basis for a migration."""

    code = "config_refused"


class ProviderUndefined(Refused):
    """The target provider is neither built in nor defined in config.toml."""

    code = "provider_undefined"


class BundleRefused(Refused):
    """A bundle that breaks a rule the import checks (`details`: the part and the rule)."""

    code = "bundle_refused"


class NoStateDatabase(Refused):
    """The target home has no state database yet (Codex never ran there)."""

    code = "no_state_database"


class CodexNotFound(UsageProblem):
    """`audit --codex-doctor` was asked for, and no `codex` is on the PATH."""

    code = "codex_not_found"


class DoctorFailed(ToolError):
    """`codex doctor --json` did not run, or gave no parity report to compare with."""

    code = "doctor_failed"


class OutputRefused(Refused):
    """A file a read-only command was asked to write already exists, or lies inside the Codex home."""

    code = "output_refused"


class SkillRefused(Refused):
    """A skill folder this tool did not write (or changed since) would be overwritten or removed."""

    code = "skill_refused"


class RolloutUnreadable(ToolError):
    """A rollout that cannot be opened at all (an error, exit 1, not a refusal: nothing was written)."""

    code = "rollout_unreadable"
