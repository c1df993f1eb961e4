"""Files written by the real CLIs (shared/samples/real) against the usage the model server returned."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_session import AgentHomes, SessionStore
from agent_session.cli import main as cli_main

KEYS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens")


@pytest.fixture
def truth(samples: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((samples / "real" / "truth.json").read_text())
    return data


@pytest.fixture
def store(real_home: Path) -> SessionStore:
    s = SessionStore(AgentHomes.resolve(real_home))
    s.refresh()
    return s


def test_every_real_session_is_found_once(store: SessionStore, truth: list[dict[str, Any]]) -> None:
    assert sorted(s.session_id for s in store.sessions()) == sorted(t["session_id"] for t in truth)


def test_real_usage_is_exact(store: SessionStore, truth: list[dict[str, Any]]) -> None:
    for t in truth:
        s = next((x for x in store.sessions() if x.session_id == t["session_id"]), None)
        assert s is not None, t["session_id"]
        usage = s.usage.model_dump()
        assert {k: usage[k] for k in KEYS} == t["usage"], t["agent_type"]
        got_models = {m: {k: u.model_dump()[k] for k in KEYS} for m, u in s.model_usage.items()}
        assert got_models == t["model_usage"], t["agent_type"]
        assert s.agent_type.value == t["agent_type"]
        assert s.cwd == t["cwd"]
        assert s.path.endswith(t["path"])


def test_real_tools_files_and_prompts(store: SessionStore, truth: list[dict[str, Any]]) -> None:
    for t in truth:
        full = store.detail(t["session_id"])
        assert full.events is not None
        assert sum(full.tools.values()) == t["tool_calls"] == len(full.events.tools), t["agent_type"]
        assert sorted(full.files) == sorted(t["files_touched"]), t["agent_type"]
        assert [p.text for p in full.events.prompts] == t["prompts"], t["agent_type"]
        assert full.prompt_preview == t["prompts"][0]
        # Every call got its result linked: status, end time and duration.
        for call in full.events.tools:
            assert call.status.value == "ok", (t["agent_type"], call.tool_name)
            assert call.end_ts_ms is not None and call.duration_ms is not None


def test_real_times_come_from_records_not_mtime(store: SessionStore) -> None:
    for s in store.sessions():
        assert s.start_timestamp_ms is not None and s.end_timestamp_ms is not None
        assert s.start_timestamp_ms <= s.end_timestamp_ms
        # All three runs happened on 2026-11-24 between 09:15 and 09:16 UTC.
        assert 1795511700000 <= s.start_timestamp_ms <= 1795511760000, s.agent_type


def test_real_costs_are_priced(store: SessionStore) -> None:
    for s in store.sessions():
        assert s.cost_usd is not None and s.cost_usd > 0, s.agent_type
        assert s.unpriced_models == []


def test_cli_list_json_matches_truth_with_compare_tool(
    real_home: Path, samples: Path, tmp_path: Path
) -> None:
    out = io.StringIO()
    sys_stdout = sys.stdout
    try:
        sys.stdout = out
        assert cli_main(["list", "--json", "--home", str(real_home)]) == 0
    finally:
        sys.stdout = sys_stdout
    listing = tmp_path / "list.json"
    listing.write_text(out.getvalue())
    tool = samples.parent / "tools" / "compare_usage.py"
    result = subprocess.run(
        [sys.executable, str(tool), str(samples / "real" / "truth.json"), str(listing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exact 3/3" in result.stdout
