"""Derive the `threads` row Codex would derive from a rollout (storage doc, section 3.4).

session_meta gives source, provider, cwd, cli version, git; turn_context gives model,
sandbox and approval; the first user message gives title, first_user_message and preview;
the last token_count gives tokens_used; a thread_settings_applied event overrides the
provider, model and cwd; the file's mtime gives updated_at.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from operations.rollout_io import read_content
from operations.rollouts import Rollout, source_kind


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def derive_row(rollout: Rollout, columns: tuple[str, ...], default_provider: str, archived: bool,
               *, permission_profile_rows: bool = True) -> dict[str, Any]:
    """The row; `permission_profile_rows`: newer Codex stores the permission profile as sandbox_policy.

    Seen in real rows: 0.128 stores the legacy sandbox policy, 0.144 and 0.169 the permission
    profile (upstream #23165, 2026-05-29).
    """
    lines = read_content(rollout.path)[1].split(b"\n")  # a compressed rollout is read decompressed
    meta: dict[str, Any] = {}
    info: dict[str, Any] = {"model": None, "effort": None, "sandbox": None, "approval": None, "tokens": 0,
                            "first_user": None, "goal": None, "provider": None, "cwd": None}
    for raw in lines:
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue  # a line Codex cannot parse either: skipped, as a broken line is
        kind, payload = record.get("type"), _obj(record.get("payload"))
        if kind == "session_meta" and not meta:
            meta = payload
        elif kind == "turn_context":
            info["model"] = _text(payload.get("model"), info["model"])
            info["effort"] = _text(payload.get("effort"), info["effort"])
            order = ("permission_profile", "sandbox_policy") if permission_profile_rows else (
                "sandbox_policy", "permission_profile")
            chosen = next((payload[k] for k in order if payload.get(k) is not None), None)
            if chosen is not None:
                info["sandbox"] = chosen
            info["approval"] = payload.get("approval_policy", info["approval"])
        elif kind == "event_msg":
            _event(payload, info)
    mtime_ns = os.stat(rollout.path).st_mtime_ns
    created_ms = _ms(meta.get("timestamp")) or mtime_ns // 1_000_000
    updated_s, updated_ms = mtime_ns // 1_000_000_000, mtime_ns // 1_000_000
    first = info["first_user"] or ""
    git = _obj(meta.get("git"))
    meta = {k: v for k, v in meta.items() if k in ("git", "source") or isinstance(v, str)}  # as Codex reads them
    values: dict[str, Any] = {
        "id": meta.get("id") or rollout.file_id, "rollout_path": rollout.plain_path,
        "created_at": created_ms // 1000, "updated_at": updated_s,
        "source": source_kind(meta.get("source")),
        "model_provider": info["provider"] or meta.get("model_provider") or default_provider,
        "cwd": info["cwd"] or meta.get("cwd") or "", "title": first,
        "sandbox_policy": _compact(info["sandbox"] or {"type": "read-only"}),
        "approval_mode": _compact(info["approval"] or "on-request"), "tokens_used": info["tokens"],
        "has_user_event": 0, "archived": 1 if archived else 0, "archived_at": updated_s if archived else None,
        "git_sha": _text(git.get("commit_hash")), "git_branch": _text(git.get("branch")),
        "git_origin_url": _text(git.get("repository_url")),
        "cli_version": meta.get("cli_version") or "", "first_user_message": first,
        "agent_nickname": meta.get("agent_nickname"), "agent_role": meta.get("agent_role") or meta.get("agent_type"),
        "memory_mode": meta.get("memory_mode") or "enabled", "model": info["model"], "reasoning_effort": info["effort"],
        "agent_path": meta.get("agent_path"), "created_at_ms": created_ms, "updated_at_ms": updated_ms,
        "thread_source": meta.get("thread_source"), "preview": first or (info["goal"] or ""),
        "recency_at": updated_s, "recency_at_ms": updated_ms, "history_mode": meta.get("history_mode") or "legacy",
        "name": None, "is_pinned": 0, "thread_section_id": None, "section_position": None,
        "section_entered_at_ms": None, "project_id": None, "originator": meta.get("originator"),
        "daybreak_enabled": None, "creator_user_id": None, "creator_account_id": None,
        "attached_thread_parent_id": None,
    }
    return {c: values[c] for c in columns if c in values}


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object where one is expected; anything else reads as empty (a damaged line)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any, default: str | None = None) -> str | None:
    return value if isinstance(value, str) else default


def _event(payload: dict[str, Any], info: dict[str, Any]) -> None:
    kind = payload.get("type")
    if kind == "user_message" and info["first_user"] is None:
        info["first_user"] = _text(payload.get("message")) or None
    elif kind == "item_completed" and info["first_user"] is None:
        item = _obj(payload.get("item"))
        content = item.get("content")
        if item.get("type") == "UserMessage" and isinstance(content, list):
            texts = [_text(c.get("text"), "") for c in content if isinstance(c, dict)]
            info["first_user"] = "".join(t for t in texts if t) or None
    elif kind == "token_count":
        tokens = _obj(_obj(payload.get("info")).get("total_token_usage")).get("total_tokens")
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            info["tokens"] = tokens
    elif kind == "thread_goal_updated" and info["goal"] is None:
        info["goal"] = _text(_obj(payload.get("goal")).get("objective")) or _text(payload.get("objective"))
    elif kind == "thread_settings_applied":
        settings = _obj(payload.get("thread_settings"))
        info["provider"] = _text(settings.get("model_provider_id"), info["provider"])
        info["model"] = _text(settings.get("model"), info["model"])
        info["cwd"] = _text(settings.get("cwd"), info["cwd"])


def _ms(stamp: Any) -> int | None:
    from datetime import datetime

    if not isinstance(stamp, str):
        return None
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
