"""Read-only and offline: the CLI and the monitor never write to an agent home and never touch the network.

A home with generated sessions of all three agents (plus the side files the
CLIs keep: Gemini's project map, Claude pid files, a compressed archived Codex
rollout, Claude subagents) is snapshot byte for byte with every mtime and
directory listing; then every CLI command and the monitor (``--once --json``
and the interactive app driven by Pilot) run against it under a guard that
records every write and refuses every socket. Afterwards the home must be
identical and the guard's record empty for it.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import orjson
import pytest
from guards import Record, watching

from agent_session.cli import main as cli_main
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

ROOT = Path(__file__).resolve().parents[2]
START_MS = 1_795_000_000_000
CACHE_TEMP = re.compile(r"\.summaries-[0-9a-f]{16}-[0-9a-f]{16}\.tmp")


def build_home(home: Path) -> dict[str, str]:
    """Sessions of every agent and format; returns agent -> one session id."""
    ids = {}
    claude = SynthSpec(
        session_id="c0ffee00-1111-4222-8333-444455556666",
        cwd="/home/dev/src/app",
        start_ms=START_MS,
        models=("claude-sonnet-4-5",),
        turns=3,
        extra={"subagents": 1},
    )
    synth_claude.write_session(home, claude)
    ids["claude"] = claude.session_id
    codex_extras: tuple[dict[str, object], ...] = ({}, {"archived": True, "zst": True})
    for i, extra in enumerate(codex_extras):
        codex = SynthSpec(
            session_id=f"0199c0de-000{i}-7bbb-8ccc-ddddeeeeffff",
            cwd="/home/dev/src/api",
            start_ms=START_MS + 60_000 * (i + 1),
            models=("gpt-5", "gpt-5-codex"),
            turns=3,
            extra=extra,
        )
        synth_codex.write_session(home, codex)
    ids["codex"] = "0199c0de-0000-7bbb-8ccc-ddddeeeeffff"
    gemini_extras: tuple[dict[str, object], ...] = ({}, {"legacy": True})
    for i, extra in enumerate(gemini_extras):
        gem = SynthSpec(
            session_id=f"9e9ec0de-000{i}-4567-89ab-cdef01234567",
            cwd=f"/home/dev/src/web{i}",
            start_ms=START_MS + 600_000 * (i + 1),
            models=("gemini-2.5-pro",),
            turns=2,
            extra=extra,
        )
        synth_gemini.write_session(home, gem)
    ids["gemini"] = "9e9ec0de-0000-4567-89ab-cdef01234567"
    # Process evidence Claude keeps while running, and files that are not sessions.
    sessions = home / ".claude" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / f"{os.getpid()}.json").write_text(
        orjson.dumps({"pid": os.getpid(), "sessionId": claude.session_id, "startedAt": 1}).decode()
    )
    (home / ".claude" / "history.jsonl").write_text('{"display":"hi","timestamp":1}\n')
    (home / ".codex" / "session_index.jsonl").write_text("{}\n")
    (home / ".gemini" / "settings.json").write_text("{}\n")
    return ids


def snapshot_tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root``: kind, mode, size, mtime_ns and a digest of its bytes."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        st = os.lstat(dirpath)
        out[os.path.relpath(dirpath, root)] = (
            "dir",
            st.st_mode,
            st.st_mtime_ns,
            tuple(sorted(dirnames + filenames)),
        )
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            with open(p, "rb") as fh:
                digest = hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
            out[os.path.relpath(p, root)] = ("file", st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    home = tmp_path / "home"
    home.mkdir()
    ids = build_home(home)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    cache = tmp_path / "cache"
    # Nothing may go to the real user's dirs either: caches are pointed here.
    monkeypatch.setenv("AGENTSESSION_CACHE_DIR", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(cwd)
    os.utime(home / ".claude" / "history.jsonl", ns=(1, 1))  # a distinctive mtime to keep
    before = snapshot_tree(home)
    yield {"home": home, "ids": ids, "cwd": cwd, "cache": cache, "before": before}
    assert snapshot_tree(home) == before, "the agent home changed"
    assert snapshot_tree(cwd) == {".": ("dir", os.lstat(cwd).st_mode, os.lstat(cwd).st_mtime_ns, ())}


def assert_clean(record: Record, world: dict[str, Any]) -> None:
    assert record.writes_under(world["home"]) == [], "writes into the agent home"
    assert record.writes_under(world["cwd"]) == []
    # The only place anything may be written is the (redirected) user cache dir.
    elsewhere = [w for w in record.writes if w not in record.writes_under(world["cache"])]
    assert elsewhere == [], f"writes outside the cache dir: {elsewhere[:5]}"
    # Opens relative to a directory descriptor (the cache's own, link-safe
    # writes) cannot be placed by the audit hook; they must be cache temp files.
    stray = [name for name in record.relative_writes if not CACHE_TEMP.fullmatch(name)]
    assert stray == [], f"relative writes that are not cache temp files: {stray[:5]}"
    assert record.network == [], "network use"


def run_cli(argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = cli_main(argv)
    return rc, buf.getvalue()


def test_every_cli_command_leaves_the_home_untouched_and_stays_offline(world: dict[str, Any]) -> None:
    home, ids = str(world["home"]), world["ids"]
    commands = [
        ["list"],
        ["list", "--json"],
        ["list", "--agent", "codex"],
        ["list", "--since", "3650d"],
        *(["show", sid] for sid in ids.values()),
        ["show", "--json", ids["claude"]],
        ["match"],
        ["match", "--json"],
        ["match", "--pid", str(os.getpid())],
        ["watch", "--once", "--from-start", "--events", "session_started"],
    ]
    with watching() as record:
        codes = [run_cli([*argv, "--home", home]) for argv in commands]
    assert_clean(record, world)
    assert [rc for rc, _ in codes[:-2]] == [0] * (len(commands) - 2)
    listed = orjson.loads(codes[1][1])
    assert len(listed) == 6  # claude + its subagent, two codex, two gemini
    assert codes[-1][0] == 0 and codes[-1][1].count("\n") == 6


@pytest.mark.slow
def test_the_installed_entry_point_in_its_own_process(world: dict[str, Any]) -> None:
    exe = Path(sys.executable).with_name("agentsession")
    if not exe.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    env = dict(os.environ)
    for argv in (["list"], ["show", world["ids"]["codex"]], ["watch", "--once"], ["match", "--json"]):
        done = subprocess.run(
            [str(exe), *argv, "--home", str(world["home"])],
            capture_output=True,
            env=env,
            cwd=world["cwd"],
            timeout=60,
        )
        assert done.returncode == 0, done.stderr.decode()


def test_monitor_once_json_leaves_the_home_untouched_and_stays_offline(world: dict[str, Any]) -> None:
    from tui_app.app import main as top_main

    buf = io.StringIO()
    with watching() as record, redirect_stdout(buf):
        rc = top_main(["--once", "--json", "--home", str(world["home"])])
    assert rc == 0
    assert_clean(record, world)
    snap = orjson.loads(buf.getvalue())
    assert len(snap["sessions"]) == 6


async def _until(pilot: Any, cond: Callable[[], object], limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, "the monitor did not get there"
        await pilot.pause(0.02)


@pytest.mark.slow
async def test_interactive_monitor_leaves_the_home_untouched_and_stays_offline(world: dict[str, Any]) -> None:
    from agent_session import AgentHomes
    from tui_app.app import MonitorApp
    from tui_app.monitor import Monitor

    with watching(unix_pairs=True) as record:
        monitor = Monitor(AgentHomes.resolve(world["home"]), user_home=world["home"])
        app = MonitorApp(monitor, interval=0.25, watch=True)
        async with app.run_test(size=(160, 48)) as pilot:
            await _until(pilot, lambda: app.collections >= 2)
            await _until(pilot, lambda: app.snapshot is not None and app.snapshot.detail is not None)
            for keys in (("s",), ("S",), ("t",), ("t",), ("a",), ("a",), ("r",)):
                await pilot.press(*keys)
            await pilot.press("enter")  # the tool-call list of the selected session
            await pilot.pause(0.3)
            await pilot.press("enter")  # one call
            await pilot.pause(0.1)
            await pilot.press("escape", "escape")
            await pilot.press("slash", *"codex", "enter", "escape")
            before = app.collections
            await _until(pilot, lambda: app.collections >= before + 2)
            await pilot.press("q")
    assert_clean(record, world)
    assert len(app.snapshot.sessions) == 6 if app.snapshot else False


# ------------------------------------------------------------------ static
_NETWORK_MODULES = (
    "socket",
    "ssl",
    "http",
    "urllib.request",
    "urllib3",
    "requests",
    "httpx",
    "httpx2",
    "aiohttp",
    "websocket",
    "websockets",
    "ftplib",
    "smtplib",
    "xmlrpc",
    "grpc",
)
_FORBIDDEN_NAMES = ("UpdatePrices", "wait_prices_updated_sync", "wait_prices_updated_async", "update_prices")


#: ``agentsession serve`` exists to talk to the network (a scrape endpoint on
#: loopback by default, an OTLP push when asked): it is the one place allowed
#: to, and nothing else may import it at module level (see below).
SERVE = ROOT / "agent_session" / "serve"


def _sources() -> list[Path]:
    files = sorted((ROOT / "agent_session").rglob("*.py")) + sorted((ROOT / "tui_app").rglob("*.py"))
    assert len(files) > 20
    return [f for f in files if SERVE not in f.parents]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_serve_command_loads_the_serve_package(path: Path) -> None:
    """Module-level imports never reach ``agent_session.serve``; only the ``serve`` command does."""
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            module = ("." * node.level) + (node.module or "")
            names = [module] + [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        assert not any(n.endswith("serve") or ".serve." in n for n in names), f"{path}:{node.lineno}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_network_code_at_all(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if node.module == "genai_prices":
                bad = [a.name for a in node.names if a.name in _FORBIDDEN_NAMES]
                assert not bad, f"{path}:{line} imports {bad} (fetches prices over the network)"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        elif isinstance(node, ast.Attribute) and node.attr in _FORBIDDEN_NAMES:
            raise AssertionError(f"{path}:{line} uses {node.attr}")
        elif isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            raise AssertionError(f"{path}:{line} uses {node.id}")
        for name in names:
            for mod in _NETWORK_MODULES:
                assert name != mod and not name.startswith(mod + "."), f"{path}:{line} imports {name}"


def test_the_guard_sees_writes_and_refuses_sockets(tmp_path: Path) -> None:
    """The guard itself: without this, an empty record would prove nothing."""
    import _socket
    import socket

    target = tmp_path / "w.txt"
    with watching() as record:
        target.write_text("x")
        os.utime(target, ns=(1, 1))
        for attempt in (
            lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM),
            lambda: _socket.socket(socket.AF_INET6, socket.SOCK_DGRAM),
            lambda: socket.create_connection(("127.0.0.1", 9)),
            lambda: socket.getaddrinfo("localhost", 80),
            lambda: socket.socketpair(),
        ):
            with pytest.raises(PermissionError):
                attempt()
    assert ("open", str(target)) in record.writes and ("os.utime", str(target)) in record.writes
    assert len(record.network) >= 5
    with watching(unix_pairs=True) as record:
        a, b = socket.socketpair()
        a.close()
        b.close()
        with pytest.raises(PermissionError):
            socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert record.unix_pairs >= 1
