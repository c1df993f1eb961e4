"""Oracle: ``agentsession report daily`` per-day token totals equal ccusage 20.0.24's on the same home.

ccusage is run only when the benchmarks installed it (``benchmarks/.tools``,
see ``ensure_ccusage`` in ``benchmarks/run.py``); this test never installs it
and skips, saying why, when it is missing. The home is Claude-only (ccusage
compares every agent it detects): the shared usage-trap home
(``helpers.usage_corpus``: subagent files, growing usage lines, Codex resets,
forks and resumes, Gemini rewinds and re-written messages…) without its one
zstd-compressed Codex file, which ccusage does not read, plus Claude
sessions on other days and one whose requests run across UTC midnight. Both
sides run with the zone fixed to UTC; totals are compared per day, and per
day and agent.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.sessions import spec_for, synth
from helpers.usage_corpus import write_home
from test_reports import BLOCK_REQS, write_claude

from agent_session.cli_report import add_report_parser, run_report

ROOT = Path(__file__).resolve().parent.parent


def _ccusage_bin() -> Path:
    """Where ``benchmarks/run.py`` installs the ccusage binary (read from it, so the two never drift)."""
    spec = importlib.util.spec_from_file_location("_bench_run", ROOT / "benchmarks" / "run.py")
    if spec is None or spec.loader is None:
        pytest.skip("benchmarks/run.py not found: no way to locate ccusage")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path: Path = module.CCUSAGE_BIN
    return path


@pytest.fixture
def ccusage(tmp_path: Path) -> Path:
    path = _ccusage_bin()
    if not path.is_file():
        pytest.skip(f"ccusage 20.0.24 not installed at {path} (run benchmarks/run.py once to install it)")
    if not os.access(path, os.X_OK):
        # npm leaves the binary 0644 until run.py chmods it: run a private executable copy
        # rather than change the shared install.
        copy = tmp_path / "ccusage"
        shutil.copyfile(path, copy)
        copy.chmod(0o755)
        return copy
    return path


def _home(home: Path) -> None:
    write_home(home, seeds=2)
    for path in home.rglob("*.zst"):
        path.unlink()  # ccusage 20.0.24 skips compressed archives (we read them): not comparable
    day = 86_400_000
    midnight = 1_793_577_600_000  # 2026-11-02T00:00:00Z
    # Claude sessions on more days; the second starts 5 s before midnight, so its later turns
    # are on the next day (turns are 2.5 s apart).
    starts = [
        midnight - day + 9 * 3_600_000,
        midnight - 5_000,
        midnight + 3 * day + 600_000,
        midnight + 3 * day,
    ]
    for n, start in enumerate(starts):
        extra: dict[str, Any] = {"subagents": 2} if n == 0 else {}
        spec = spec_for("claude", 100 + n, start_ms=start, turns=4, extra=extra)
        synth("claude").write_session(home, spec)


def _report(home: Path, kind: str, *extra: str) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    argv = ["report", kind, "--json", "--tz", "UTC", "--home", str(home), "--no-cache", *extra]
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    assert run_report(args, out, err) == 0, err.getvalue()
    rows: list[dict[str, Any]] = json.loads(out.getvalue())["rows"]
    return rows


def _ours(home: Path, *extra: str) -> dict[str, int]:
    return {r["period"]: r["usage"]["total_tokens"] for r in _report(home, "daily", *extra)}


def _run(ccusage: Path, home: Path, *argv: str) -> Any:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TZ": "UTC"}
    proc = subprocess.run(
        [str(ccusage), *argv, "--json", "--offline", "--timezone", "UTC"],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout)


def _total(r: dict[str, Any]) -> int:
    total = r.get("totalTokens")
    if total is None:
        keys = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
        total = sum(int(r.get(k, 0)) for k in keys)
    return int(total)


def _theirs(ccusage: Path, home: Path) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """ccusage's totals per day, and per (day, agent) from ``--by-agent``."""
    data = _run(ccusage, home, "daily", "--by-agent")
    per_day: dict[str, int] = {}
    per_agent: dict[tuple[str, str], int] = {}
    for r in data.get("daily", []):
        day = str(r.get("period", r.get("date")))
        per_day[day] = _total(r)
        for a in r.get("agents", []):
            per_agent[(day, str(a["agent"]))] = _total(a)
    return per_day, per_agent


def test_daily_totals_match_ccusage(ccusage: Path, home: Path) -> None:
    _home(home)
    ours = _ours(home)
    per_day, per_agent = _theirs(ccusage, home)
    assert len(ours) == 5 and per_day == ours
    mine = {
        (day, agent): n
        for agent in ("claude", "codex", "gemini")
        for day, n in _ours(home, "--agent", agent).items()
    }
    assert len(mine) == 7 and per_agent == mine  # claude x4 days, codex x2, gemini x1


def test_oracle_home_crosses_midnight(home: Path) -> None:
    """The oracle's home really has a session split over two days (checked without ccusage)."""
    _home(home)
    ours = _ours(home)
    assert {"2026-11-01", "2026-11-02", "2026-11-05", "2026-11-18", "2026-11-21"} == set(ours)
    by_session = _ours(home, "--project", "proj101")
    assert list(by_session) == ["2026-11-01", "2026-11-02"]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_blocks_match_ccusage(ccusage: Path, home: Path) -> None:
    """Block starts and totals equal ccusage's (its blocks are Claude's; its gap rows have no usage)."""
    _home(home)
    write_claude(home, "blocks", BLOCK_REQS)
    theirs = [
        (_utc(b["startTime"]), int(b["totalTokens"]), int(b["entries"]))
        for b in _run(ccusage, home, "blocks")["blocks"]
        if not b.get("isGap")
    ]
    ours = [
        (_utc(r["start"]), r["usage"]["total_tokens"], r["requests"])
        for r in _report(home, "blocks", "--agent", "claude")
    ]
    assert len(ours) >= 7 and theirs == ours
