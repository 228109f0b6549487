"""The desktop app's processes on macOS and Windows are recognised from fake process records
(names and paths as users reported them: openai/codex #33778, #41125, #13786, #26157)."""

from __future__ import annotations

from pathlib import Path

import pytest

from operations.errors import CodexRunning
from operations.gate import refuse_if_desktop_app_running
from operations.processes import _is_codex, codex_processes, desktop_app_processes, is_desktop_app
from tests.desktophome import FakeProcess

STORE = "C:\\Program Files\\WindowsApps\\OpenAI.Codex_26.915.4065.0_x64__2p2nqsd0c76g0\\app\\"


@pytest.mark.parametrize(("name", "cmdline", "exe", "desktop"), [
    ("ChatGPT", ["/Applications/ChatGPT.app/Contents/MacOS/ChatGPT"], "", True),
    ("ChatGPT Helper (Renderer)", ["/Applications/ChatGPT.app/Contents/Frameworks/ChatGPT Helper (Renderer).app/"
                                   "Contents/MacOS/ChatGPT Helper (Renderer)", "--type=renderer"], "", True),
    ("Codex", ["/Applications/Codex.app/Contents/MacOS/Codex"], "", True),
    ("Codex Helper (GPU)", [], "/Applications/Codex.app/Contents/Frameworks/Codex Helper (GPU).app/x", True),
    ("ChatGPT.exe", [STORE + "ChatGPT.exe"], STORE + "ChatGPT.exe", True),
    ("codex-desktop.exe", ["C:\\Users\\me\\AppData\\Local\\Programs\\codex-desktop\\codex-desktop.exe"], "", True),
    ("Codex.exe", [], STORE + "Codex.exe", True),  # an older build's name, inside the Store package
    ("codex.exe", [STORE + "resources\\codex.exe", "app-server"], "", True),  # the bundled app-server
    ("codex", ["/usr/local/bin/codex", "app-server"], "", False),  # Codex itself, not the desktop app
    ("Safari", ["/Applications/Safari.app/Contents/MacOS/Safari"], "", False),
    ("python3", ["python3", "-m", "codex_sessions_like", "ChatGPT.app"], "", False),
])
def test_what_counts_as_the_desktop_app(name: str, cmdline: list[str], exe: str, desktop: bool) -> None:
    assert is_desktop_app(name, cmdline, exe) is desktop
    assert _is_codex(name, cmdline, exe) is (desktop or name.lower().startswith("codex"))


def test_a_desktop_app_whose_home_cannot_be_read_is_taken_to_use_this_one(tmp_path: Path) -> None:
    home = tmp_path / ".codex"
    denied = FakeProcess(11, "ChatGPT", ["/Applications/ChatGPT.app/Contents/MacOS/ChatGPT"])
    elsewhere = FakeProcess(12, "ChatGPT.exe", [STORE + "ChatGPT.exe"], env={"USERPROFILE": "C:\\Users\\other"},
                            files=[])
    by_env = FakeProcess(13, "Codex", ["/Applications/Codex.app/Contents/MacOS/Codex"],
                         env={"HOME": str(tmp_path)}, files=[])
    cli_denied = FakeProcess(14, "codex", ["/usr/bin/codex", "exec"])  # Codex itself: not assumed
    found = {p.pid: p for p in codex_processes(home, listing=[denied, elsewhere, by_env, cli_denied])}
    assert set(found) == {11, 13}
    assert found[11].desktop_app and "cannot be read" in found[11].why
    assert found[13].why == "default home ~/.codex"


def test_the_state_file_waits_for_every_copy_of_the_app_whatever_its_home() -> None:
    other = FakeProcess(21, "ChatGPT.exe", [STORE + "ChatGPT.exe"], env={"USERPROFILE": "C:\\Users\\x"}, files=[])
    codex_cli = FakeProcess(22, "codex", ["/usr/bin/codex"], env={}, files=[])
    assert [p.pid for p in desktop_app_processes(listing=[other, codex_cli])] == [21]
    with pytest.raises(CodexRunning, match="desktop app is running: pid 21"):
        refuse_if_desktop_app_running(listing=[other, codex_cli])
    refuse_if_desktop_app_running(listing=[codex_cli])  # Codex alone does not hold the app's file
