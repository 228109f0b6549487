"""The recovery method as a skill for Codex's own agent: `codex-sessions skill install`."""

from operations.skill.install import SKILL_NAME, SkillResult, install, shipped_files, skill_dir, uninstall

__all__ = ["SKILL_NAME", "SkillResult", "install", "shipped_files", "skill_dir", "uninstall"]
