"""``agentsession doctor``: generated homes with known contents, and an injected process table."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.sessions import spec_for, synth

from agent_session.cli import main
from agent_session.doctor import MAX_UNKNOWN_TYPES, diagnose
from agent_session.model import AgentType, make_display_id
from agent_session.process import ProcessInfo, ProcessSnapshot

COUNTS = {"claude": 2, "codex": 3, "gemini": 1}
T0 = 1_795_000_000.0
CODEX_NATIVE = "/n/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"


@pytest.fixture
def populated(home: Path) -> dict[str, list[Path]]:
    """2 Claude, 3 Codex and 1 Gemini sessions; the first Codex file has 3 records of an unknown type."""
    paths: dict[str, list[Path]] = {}
    for agent, n in COUNTS.items():
        paths[agent] = [synth(agent).write_session(home, spec_for(agent, i)) for i in range(n)]
    with paths["codex"][0].open("a") as f:
        for _ in range(3):
            f.write(json.dumps({"timestamp": "2026-11-18T10:00:00Z", "type": "mystery_record"}) + "\n")
    return paths


def _no_processes() -> ProcessSnapshot:
    return ProcessSnapshot((), 1_795_000_100_000)


def _agent(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in report["agents"] if a["agent"] == name)


def test_counts_folders_and_unknown_types(home: Path, populated: dict[str, list[Path]]) -> None:
    report = diagnose(home, cache=False, snapshot=_no_processes).to_json()
    assert report["home"] == str(home)
    assert report["sessions"] == 6
    claude, codex, gemini = (_agent(report, a) for a in ("claude", "codex", "gemini"))
    assert [(h["path"], h["state"]) for h in claude["homes"]] == [
        (str(home / ".config" / "claude"), "missing"),
        (str(home / ".claude"), "found"),
    ]
    assert [(f["path"], f["state"], f["files"], f["sessions"]) for f in codex["folders"]] == [
        (str(home / ".codex" / "sessions"), "found", 3, 3),
        (str(home / ".codex" / "archived_sessions"), "missing", 0, 0),
    ]
    assert [a["sessions"] for a in (claude, codex, gemini)] == [2, 3, 1]
    assert codex["unknown_types"] == {"mystery_record": 3} and codex["unknown_types_other"] == 0
    assert claude["unknown_types"] == {} and gemini["unknown_types"] == {}
    assert all(a["unreadable_total"] == 0 and a["advice"] == [] for a in (claude, codex, gemini))
    assert report["cache"] == {
        "enabled": False,
        "off_reason": "--no-cache",
        "path": None,
        "exists": False,
        "size": None,
        "diagnostic": None,
    }
    assert report["processes"] == {"available": True, "error": None, "seen": 0, "matched": 0, "trees": []}


def test_missing_homes_say_where_they_were_looked_for(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "elsewhere")}
    (tmp_path / ".codex").mkdir()
    report = diagnose(env=env, cache=False, snapshot=_no_processes)
    data = report.to_json()
    assert data["home"] is None and data["sessions"] == 0
    assert _agent(data, "claude")["advice"] == [
        f"no Claude Code home at {tmp_path / 'elsewhere'} (CLAUDE_CONFIG_DIR={tmp_path / 'elsewhere'})"
    ]
    assert _agent(data, "codex")["advice"] == [
        f"{tmp_path / '.codex'} exists but has no sessions/ or archived_sessions/: "
        "Codex CLI has not saved a session there"
    ]
    assert _agent(data, "gemini")["advice"] == [
        f"no Gemini CLI home at {tmp_path / '.gemini'} (GEMINI_CLI_HOME not set)"
    ]
    text = report.to_text()
    # The user's own home is written as "~" in the text report.
    assert "  -> no Claude Code home at ~/elsewhere (CLAUDE_CONFIG_DIR=~/elsewhere)\n" in text
    assert "  -> no Gemini CLI home at ~/.gemini (GEMINI_CLI_HOME not set)\n" in text
    assert text.endswith("No session found for any agent: see the '->' lines above for why.\n")


@pytest.fixture
def deny_scandir(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Folders whose listing fails with EACCES (root reads everything, so chmod cannot show it)."""
    denied: set[str] = set()
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) in denied:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    yield denied


def test_unreadable_folder_is_named_with_its_reason(
    home: Path, populated: dict[str, list[Path]], deny_scandir: set[str]
) -> None:
    sessions_dir = home / ".codex" / "sessions"
    deny_scandir.add(str(sessions_dir))
    report = diagnose(home, cache=False, snapshot=_no_processes)
    codex = _agent(report.to_json(), "codex")
    assert codex["folders"][0] == {
        "path": str(sessions_dir),
        "state": "unreadable",
        "reason": "PermissionError: Permission denied",
        "files": 0,
        "sessions": 0,
    }
    assert codex["sessions"] == 0
    assert codex["unreadable_total"] == 1
    assert codex["unreadable"][0]["path"] == str(sessions_dir)
    assert "Permission denied" in codex["unreadable"][0]["reason"]
    assert codex["advice"] == [
        f"cannot read {sessions_dir} (PermissionError: Permission denied): sessions inside are not shown",
        "1 file(s) or folder(s) could not be read: their sessions are missing",
    ]
    assert report.sessions == 3  # Claude and Gemini are unaffected
    assert f"folder  {sessions_dir}: unreadable (PermissionError: Permission denied)\n" in report.to_text()


def test_unknown_types_are_bounded(home: Path) -> None:
    path = synth("codex").write_session(home, spec_for("codex", 0))
    with path.open("a") as f:
        for i in range(MAX_UNKNOWN_TYPES + 5):
            for _ in range(i + 1):
                f.write(json.dumps({"timestamp": "2026-11-18T10:00:00Z", "type": f"kind{i:02d}"}) + "\n")
    codex = _agent(diagnose(home, cache=False, snapshot=_no_processes).to_json(), "codex")
    # The most frequent MAX_UNKNOWN_TYPES are listed, the 5 rarest only counted.
    assert list(codex["unknown_types"]) == [f"kind{i:02d}" for i in range(MAX_UNKNOWN_TYPES + 4, 4, -1)]
    assert codex["unknown_types"]["kind24"] == 25
    assert codex["unknown_types_other"] == 5


def _proc(pid: int, ppid: int, *cmd: str, cwd: str | None = None, files: tuple[str, ...] = ()) -> ProcessInfo:
    return ProcessInfo(
        pid=pid,
        ppid=ppid,
        create_time=T0,
        name=cmd[0].rsplit("/", 1)[-1],
        cmdline=cmd,
        cwd=cwd,
        open_files=files,
    )


def test_processes_from_an_injected_snapshot(home: Path, populated: dict[str, list[Path]]) -> None:
    rollout = str(populated["codex"][1])
    codex_id = spec_for("codex", 1).session_id

    def snapshot() -> ProcessSnapshot:
        return ProcessSnapshot(
            (
                _proc(1, 0, "/sbin/init"),
                _proc(200, 1, "node", "/usr/local/bin/codex", cwd="/w"),
                _proc(201, 200, CODEX_NATIVE, cwd="/w", files=(rollout,)),
                _proc(300, 1, "claude", cwd="/nowhere"),
                _proc(400, 1, "python", "run.py", "--model", "claude-x"),  # not an agent
            ),
            1_795_000_100_000,
        )

    report = diagnose(home, cache=False, snapshot=snapshot)
    procs = report.to_json()["processes"]
    assert (procs["seen"], procs["matched"]) == (2, 1)
    by_pid = {t["pid"]: t for t in procs["trees"]}
    assert sorted(by_pid) == [200, 300]
    assert by_pid[200]["session"] == make_display_id(AgentType.CODEX, codex_id)
    assert by_pid[200]["path"] == rollout
    assert (by_pid[200]["evidence"], by_pid[200]["confidence"]) == ("open_file", 0.9)
    assert by_pid[200]["pids"] == [200, 201]
    assert by_pid[300]["session"] is None and by_pid[300]["cwd"] == "/nowhere"
    text = report.to_text()
    assert "  2 agent process tree(s) seen, 1 matched to a session\n" in text
    assert "pid 300     claude  not matched" in text


def test_process_table_failure_is_reported_not_raised(home: Path) -> None:
    def broken() -> ProcessSnapshot:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    procs = diagnose(home, cache=False, snapshot=broken).to_json()["processes"]
    assert procs == {
        "available": False,
        "error": "PermissionError: [Errno 1] Operation not permitted",
        "seen": 0,
        "matched": 0,
        "trees": [],
    }


def test_cache_state_is_reported(
    home: Path, populated: dict[str, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "c"
    monkeypatch.setenv("AGENTSESSION_CACHE_DIR", str(cache_dir))
    cache = diagnose(home, cache=True, snapshot=_no_processes).to_json()["cache"]
    assert cache["enabled"] is True and cache["off_reason"] is None and cache["diagnostic"] is None
    assert cache["path"].startswith(str(cache_dir) + os.sep)
    assert cache["exists"] is True and cache["size"] == os.path.getsize(cache["path"]) > 0


def test_cli_doctor_json_and_text(
    home: Path,
    populated: dict[str, list[Path]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agent_session.process

    monkeypatch.setattr(agent_session.process, "snapshot_processes", _no_processes)  # never the real table
    assert main(["doctor", "--home", str(home), "--json", "--no-cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["home", "sessions", "agents", "processes", "cache"]
    assert data["sessions"] == 6 and data["processes"]["seen"] == 0
    assert [a["agent"] for a in data["agents"]] == ["claude", "codex", "gemini"]
    assert main(["doctor", "--home", str(home), "--no-cache"]) == 0
    text = capsys.readouterr().out
    assert f"  folder  {home / '.codex' / 'sessions'}: found, 3 file(s), 3 session(s)\n" in text
    assert "  unknown record types (ignored): mystery_record×3\n" in text
    assert text.endswith("6 session(s) in all.\n")


def test_skipped_files_are_listed_with_the_store_reason(home: Path, populated: dict[str, list[Path]]) -> None:
    from agent_session import AgentHomes, SessionStore

    empty = (
        populated["codex"][0].parent
        / "rollout-2026-11-18T10-00-00-0199ffff-aaaa-7bbb-8ccc-ddddeeeeffff.jsonl"
    )
    empty.write_bytes(b"")
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    if not hasattr(store, "skipped"):
        pytest.skip("this store does not report skipped files yet")
    reasons: dict[str, str] = store.skipped
    assert list(reasons) == [str(empty)]
    codex = _agent(diagnose(home, cache=False, snapshot=_no_processes).to_json(), "codex")
    assert codex["skipped"] == [{"path": str(empty), "reason": reasons[str(empty)]}]
    assert codex["skipped_total"] == 1 and codex["sessions"] == 3


def test_names_fields_a_newer_cli_added(home: Path, populated: dict[str, list[Path]]) -> None:
    """One Claude session whose usage objects gained a field: doctor names it, once per session."""
    path = populated["claude"][0]
    lines = []
    for raw in path.read_bytes().splitlines():
        obj = json.loads(raw)
        if obj.get("type") == "assistant" and isinstance(obj["message"].get("usage"), dict):
            obj["message"]["usage"]["flash_tokens"] = 5
        lines.append(json.dumps(obj))
    path.write_text("\n".join(lines) + "\n")
    report = diagnose(home, cache=False, snapshot=_no_processes)
    data = report.to_json()
    assert _agent(data, "claude")["unknown_fields"] == {"claude.usage.flash_tokens": 1}
    assert _agent(data, "codex")["unknown_fields"] == {} and _agent(data, "gemini")["unknown_fields"] == {}
    assert "claude.usage.flash_tokens in 1 session(s)" in report.to_text()
