"""Drive the real Codex CLI (npm @openai/codex) offline against a loopback model API.

Every process started here is tracked and stopped by `CodexSession.close()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.codex.mock_api import MockResponsesAPI

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CODEX_SESSIONS_CODEX_CACHE", REPO / ".cache" / "codex"))
VERSIONS = ("0.171.0", "0.169.0", "0.128.0")  # as scripts/install-codex pins them
# scripts/canary adds the newest release on npm to the scenarios and fixture checks
EXTRA = tuple(v for v in [os.environ.get("CODEX_SESSIONS_EXTRA_VERSION", "")] if v and v not in VERSIONS)
TIMEOUT_S = 120


def codex_binary(version: str) -> Path | None:
    path = CACHE / version / "node_modules" / ".bin" / "codex"
    return path if path.exists() else None


class CodexFailed(AssertionError):
    pass


def require_temporary(path: Path) -> None:
    """A Codex binary is only ever started on a home inside the temporary folder (tests, schema
    captures): never on a real one."""
    temp = os.path.realpath(tempfile.gettempdir())
    real = os.path.realpath(path)
    if os.path.commonpath([temp, real]) != temp:
        raise CodexFailed(f"refusing to run Codex on {path}: not inside the temporary folder {temp}")


@dataclass
class CodexSession:
    """One Codex home driven by one Codex version, with its own mock API."""

    binary: Path
    home: Path
    api: MockResponsesAPI
    providers: tuple[str, ...] = ("mockA", "mockB")
    current: str = "mockA"
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    user_home: Path = field(init=False)

    def __post_init__(self) -> None:
        """Codex runs with its home and the user's home both in a temporary folder: it writes helper
        binaries, logs and caches under them, and must never reach the real ones."""
        require_temporary(self.home)
        self.user_home = self.home.parent / f"{self.home.name}.user-home"
        self.user_home.mkdir(parents=True, exist_ok=True)

    def write_config(self, current: str | None = None, providers: Sequence[str] | None = None,
                     extra: str = "") -> None:
        self.current = current or self.current
        if providers is not None:
            self.providers = tuple(providers)
        lines = ['model = "gpt-5"', f'model_provider = "{self.current}"', extra]
        for provider in self.providers:
            lines += [f"[model_providers.{provider}]", f'name = "{provider}"', f'base_url = "{self.api.base_url}"',
                      'wire_api = "responses"', 'env_key = "MOCK_KEY"']
        (self.home / "config.toml").write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OPENAI_", "XDG_"))}
        user = str(self.user_home)
        env.update({"CODEX_HOME": str(self.home), "HOME": user, "USERPROFILE": user,
                    "XDG_CONFIG_HOME": os.path.join(user, ".config"), "XDG_DATA_HOME": os.path.join(user, ".local"),
                    "XDG_CACHE_HOME": os.path.join(user, ".cache"), "XDG_STATE_HOME": os.path.join(user, ".state"),
                    "MOCK_KEY": "x", "RUST_LOG": "error", "NO_COLOR": "1"})
        return env

    def run(self, args: Sequence[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.Popen([str(self.binary), *args], cwd=cwd or self.home, env=self.env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        self.processes.append(proc)
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        finally:
            stop(proc)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise CodexFailed(f"codex {' '.join(args)} failed ({proc.returncode}): {err[-2000:]}")
        return result

    def exec(self, prompt: str, cwd: Path) -> str:
        """Make one session with `codex exec`; returns its thread id."""
        cwd.mkdir(parents=True, exist_ok=True)
        result = self.run(["exec", "--skip-git-repo-check", prompt], cwd=cwd)
        for line in (result.stderr + result.stdout).splitlines():
            if line.startswith("session id:"):
                return line.split(":", 1)[1].strip()
        raise CodexFailed(f"no session id in exec output: {result.stderr[-1000:]}")

    def resume(self, thread_id: str, prompt: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        cwd.mkdir(parents=True, exist_ok=True)
        return self.run(["exec", "--skip-git-repo-check", "resume", thread_id, prompt], cwd=cwd, check=check)

    def archive(self, thread_id: str) -> None:
        self.run(["archive", thread_id])

    def unarchive(self, thread_id: str) -> None:
        self.run(["unarchive", thread_id])

    def thread_list(self, **params: Any) -> list[dict[str, Any]]:
        """Every page of app-server `thread/list` with these params."""
        with AppServer(self) as server:
            return server.thread_list(**params)

    def close(self) -> None:
        """Stop every process we started, then any stray that still names this home (a child
        that left its process group), and wait until they are gone."""
        for proc in self.processes:
            stop(proc)
        deadline = time.monotonic() + 10
        while (strays := processes_mentioning(str(self.home))) and time.monotonic() < deadline:
            for pid in strays:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def live_processes(self) -> list[int]:
        """Processes of ours still alive, the children of the npm wrapper included (same group)."""
        alive = [p.pid for p in self.processes if p.poll() is None]
        return alive + [pid for pid in processes_mentioning(str(self.home)) if pid not in alive]


def stop(proc: subprocess.Popen[Any]) -> None:
    """Kill the process and its whole group (the npm wrapper starts the native binary as a child)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line or environment mentions `text` (e.g. a test's CODEX_HOME)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    continue  # a zombie has exited; it only waits to be reaped
        except (OSError, IndexError):
            continue
        for part in ("cmdline", "environ"):
            try:
                with open(f"/proc/{entry}/{part}", "rb") as handle:
                    if text.encode() in handle.read():
                        found.append(int(entry))
                        break
            except OSError:
                continue
    return found


class AppServer:
    """`codex app-server` over stdio: JSON-RPC, one object per line. `experimental`: ask for the
    experimental API in `initialize` (projects, `thread/list` by `projectId`)."""

    def __init__(self, session: CodexSession, *, experimental: bool = False) -> None:
        self.session = session
        self.experimental = experimental
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.next_id = 1

    def __enter__(self) -> AppServer:
        self.proc = subprocess.Popen([str(self.session.binary), "app-server"], cwd=self.session.home,
                                     env=self.session.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1, start_new_session=True)
        self.session.processes.append(self.proc)
        threading.Thread(target=self._pump, daemon=True).start()
        capabilities = {"capabilities": {"experimentalApi": True}} if self.experimental else {}
        self.request("initialize", {"clientInfo": {"name": "codex-sessions-tests", "version": "0"}, **capabilities})
        self.notify("initialized")
        return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._send({"method": method, **({"params": params} if params is not None else {})})

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> Any:
        request_id = self.next_id
        self.next_id += 1
        self._send({"id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise CodexFailed(f"app-server exited during {method}")
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise CodexFailed(f"{method}: {message['error']}")
                return message.get("result")
        raise CodexFailed(f"no answer to {method} within {TIMEOUT_S} s")

    def thread_list(self, **params: Any) -> list[dict[str, Any]]:
        threads: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.request("thread/list", {**params, **({"cursor": cursor} if cursor else {})})
            threads.extend(page.get("data", []))
            cursor = page.get("nextCursor")
            if not cursor:
                return threads

    def __exit__(self, *_exc: object) -> None:
        assert self.proc is not None
        if self.proc.stdin:
            self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        stop(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()
