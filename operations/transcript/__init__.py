"""Read one session as a person would: `codex-sessions transcript THREAD`."""

from operations.transcript.build import build_transcript
from operations.transcript.locate import HomeIndex, index_home, resolve
from operations.transcript.model import Entry, Header, Limits, Transcript
from operations.transcript.redaction import Redactor
from operations.transcript.render_html import render_html
from operations.transcript.render_json import render_json
from operations.transcript.render_markdown import render_markdown

RENDERERS = {"markdown": render_markdown, "html": render_html, "json": render_json}

__all__ = ["RENDERERS", "Entry", "Header", "HomeIndex", "Limits", "Redactor", "Transcript", "build_transcript",
           "index_home", "render_html", "render_json", "render_markdown", "resolve"]
