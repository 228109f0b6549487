"""The parts of Codex's `config.toml` that decide which sessions are listed, read as Codex reads it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.fileio import open_regular

MAX_CONFIG_BYTES = 16 << 20  # a config.toml is a few KB; more is not a config to trust whole


@dataclass(frozen=True)
class CodexConfig:
    """The parts of config.toml that decide which sessions are listed."""

    model_provider: str = "openai"
    model_provider_explicit: bool = False
    providers: tuple[str, ...] = ()
    sqlite_home: str | None = None
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


BUILTIN_PROVIDERS = ("openai", "amazon-bedrock", "ollama", "lmstudio")
# A config.toml with a [model_providers.<one of these>] table is refused by Codex 0.128 to 0.171
# ("reserved built-in provider IDs"; checked against the binaries): the CLI exits 1, and the
# app-server runs with the defaults, so it lists the `openai` provider's sessions only.
RESERVED_PROVIDER_IDS = ("openai", "ollama", "lmstudio")


def read_config(codex_home: Path) -> CodexConfig:
    path = codex_home / "config.toml"
    if not path.exists():
        return CodexConfig()
    try:
        with open_regular(path) as handle:  # a FIFO named config.toml must not hang a read-only audit
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            return CodexConfig(error=f"cannot read {path}: larger than {MAX_CONFIG_BYTES >> 20} MB")
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        return CodexConfig(error=f"cannot read {path}: {exc}")
    providers = data.get("model_providers") or {}
    reserved = sorted(p for p in providers if p in RESERVED_PROVIDER_IDS)
    if reserved:  # as Codex: the whole file is refused, and the defaults apply
        names = ", ".join(f"`{p}`" for p in reserved)
        return CodexConfig(error=(
            f"Codex refuses {path}: model_providers contains reserved built-in provider IDs ({names}); the CLI "
            "exits with that error and the app-server runs with the defaults, listing only `openai` sessions. "
            f"Rename the table (for example [model_providers.{reserved[0]}-custom]) and point model_provider at it"),
            raw=data)
    provider = data.get("model_provider")
    return CodexConfig(
        model_provider=str(provider) if provider else "openai",
        model_provider_explicit=provider is not None,
        providers=tuple(sorted(p for p in providers if isinstance(providers.get(p), dict))),
        sqlite_home=data.get("sqlite_home"),
        raw=data,
    )
