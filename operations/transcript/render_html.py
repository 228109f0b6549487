"""The transcript as one self-contained HTML page: inline CSS, no script, nothing fetched.

Every piece of text from the rollout is escaped (`html.escape`, quotes too), so a message
holding `<script>` or `<img src=…>` shows as those characters. Nothing is turned into a link
or an image, and a Content-Security-Policy of `default-src 'none'` tells the browser to load
nothing even if it found something. The layout is one column that fits a phone's width.
"""

from __future__ import annotations

from html import escape

from operations.transcript.model import (
    ASSISTANT,
    COMPACTION,
    REASONING,
    TOOL_CALL,
    TOOL_OUTPUT,
    USER,
    Entry,
    Transcript,
)
from operations.transcript.render_common import Sink, display_time, header_facts, label, peek

CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--user:#ddf4ff;--box:#f6f8fa;
--mark:#fff8c5}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--user:#0c2d6b;
--box:#151b23;--mark:#3b2e00}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
-webkit-text-size-adjust:100%;text-size-adjust:100%}
header,main,footer{max-width:52rem;margin:0 auto;padding:.8rem 1rem}
h1{font-size:1.3rem;margin:.2rem 0 .8rem;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.15rem .8rem;margin:0;font-size:.9rem}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
@media (max-width:34rem){dl{grid-template-columns:minmax(0,1fr)}dd{margin-bottom:.35rem}}
.notes{color:var(--muted);font-size:.9rem;padding-left:1.2rem}
.msg{border:1px solid var(--line);border-radius:.6rem;padding:.55rem .8rem;margin:.8rem 0}
.user{background:var(--user)}.assistant{background:var(--box)}
.who{margin:0 0 .25rem;font-weight:600;font-size:.85rem;color:var(--muted)}
.text{white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
margin:.4rem 0 0;padding:.5rem;border-radius:.4rem;background:var(--box);max-height:32rem;overflow:auto}
details{margin:.35rem 0;padding:.2rem .6rem;border-left:3px solid var(--line)}
summary{cursor:pointer;color:var(--muted);font-size:.9rem;overflow-wrap:anywhere}
summary code{color:var(--fg)}
.marker{margin:.8rem 0;padding:.45rem .75rem;border-radius:.4rem;background:var(--mark);font-size:.9rem;
overflow-wrap:anywhere}
.inherited{border-left:4px dashed var(--muted)}
.badge{font-size:.75rem;color:var(--muted);font-weight:400}
time{color:var(--muted);font-weight:400;font-size:.8rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
footer{color:var(--muted);font-size:.8rem}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def render_html(transcript: Transcript, write: Sink) -> int:
    header = transcript.header
    write("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
          "<meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"generator\" content=\"codex-sessions\">\n"
          f"<title>{escape(header.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n"
          f"<h1>{escape(header.title)}</h1>\n<dl>\n")
    for name, value in header_facts(header):
        write(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>\n")
    write("</dl>\n")
    if header.notes:
        write("<ul class=\"notes\">" + "".join(f"<li>{escape(n)}</li>" for n in header.notes) + "</ul>\n")
    write("</header>\n<main>\n")
    count = 0
    for entry in transcript.entries:
        write(_entry(entry))
        count += 1
    write("</main>\n<footer>Written by codex-sessions from the rollout file: tool calls and outputs are shortened, "
          "reasoning is shown only as its summaries.</footer>\n</body>\n</html>\n")
    return count


def _time(entry: Entry) -> str:
    if not entry.time:
        return ""
    return f" <time datetime=\"{escape(entry.time)}\">{escape(display_time(entry.time))}</time>"


def _badge(entry: Entry) -> str:
    return f" <span class=\"badge\">inherited from {escape(entry.thread)}</span>" if entry.inherited else ""


def _classes(*names: str, entry: Entry) -> str:
    return " ".join((*names, "inherited") if entry.inherited else names)


def _left_out(entry: Entry) -> str:
    return f"<p class=\"badge\">({entry.omitted:,} characters left out)</p>" if entry.omitted and entry.kind in (
        USER, ASSISTANT, REASONING) else ""


def _entry(entry: Entry) -> str:
    text = escape(entry.text)
    if entry.kind in (USER, ASSISTANT):
        css = _classes("msg", "user" if entry.kind == USER else "assistant", entry=entry)
        return (f"<section class=\"{css}\"><p class=\"who\">{escape(label(entry))}{_time(entry)}{_badge(entry)}</p>"
                f"<div class=\"text\">{text}</div>{_left_out(entry)}</section>\n")
    if entry.kind == REASONING:
        return (f"<details class=\"{_classes('reasoning', entry=entry)}\"><summary>{escape(label(entry))}"
                f"{_time(entry)}{_badge(entry)}</summary><div class=\"text\">{text}</div>{_left_out(entry)}"
                "</details>\n")
    if entry.kind in (TOOL_CALL, TOOL_OUTPUT):
        what = "Tool call" if entry.kind == TOOL_CALL else "Output of"
        name = f" <code>{escape(entry.title)}</code>" if entry.title else ""
        glimpse = f" <span class=\"badge\">{escape(peek(entry.text))}</span>" if entry.kind == TOOL_CALL else ""
        return (f"<details class=\"{_classes('tool', entry=entry)}\"><summary>{what}{name}{glimpse}{_time(entry)}"
                f"{_badge(entry)}</summary><pre>{text}</pre></details>\n")
    if entry.kind == COMPACTION:
        css = _classes("marker", "compaction", entry=entry)
        return (f"<div class=\"{css}\"><strong>{escape(label(entry))}</strong>"
                f"{_time(entry)}{_badge(entry)}<details><summary>Summary</summary><div class=\"text\">{text}</div>"
                "</details></div>\n")
    return (f"<div class=\"{_classes('marker', entry.kind, entry=entry)}\"><strong>{escape(label(entry))}</strong>"
            f"{_time(entry)}{_badge(entry)}: {text}</div>\n")
