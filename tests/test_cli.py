"""The `agentsession` command: output shapes and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_session.cli import main
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import codex as synth_codex


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_home(tmp_path: Path, n: int = 2) -> list[SynthSpec]:
    specs = [
        SynthSpec(
            session_id=f"0199aaaa-000{i}-7bbb-8ccc-ddddeeeeffff",
            cwd=f"/src/p{i}",
            start_ms=1_795_000_000_000 + i * 1000,
            models=("gpt-5",),
            seed=i,
            prompts=(f"[bold red]prompt {i}\x1b]0;pwned\x07",),
        )
        for i in range(n)
    ]
    for spec in specs:
        synth_codex.write_session(tmp_path, spec)
    return specs


def test_list_json_on_empty_home_is_an_empty_array(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["list", "--json", "--home", str(tmp_path)], capsys)
    assert code == 0 and json.loads(out) == []


def test_list_table_on_empty_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["list", "--home", str(tmp_path)], capsys)
    assert code == 0 and "no sessions found" in out


def test_list_json_has_ir_fields_and_no_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = make_home(tmp_path)
    code, out, _ = run(["list", "--json", "--home", str(tmp_path)], capsys)
    assert code == 0
    data = json.loads(out)
    assert sorted(d["session_id"] for d in data) == sorted(s.session_id for s in specs)
    for d in data:
        assert "events" not in d
        assert d["display_id"].startswith("codex:")
        u = d["usage"]
        assert (
            u["total_tokens"]
            == u["input_tokens"] + u["output_tokens"] + u["cache_creation_tokens"] + u["cache_read_tokens"]
        )
        assert sum(m["total_tokens"] for m in d["model_usage"].values()) == u["total_tokens"]


def test_list_filters_by_agent_and_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_home(tmp_path)
    _, out, _ = run(["list", "--json", "--home", str(tmp_path), "--agent", "claude"], capsys)
    assert json.loads(out) == []
    _, out, _ = run(["list", "--json", "--home", str(tmp_path), "--since", "2026-11-20"], capsys)
    assert len(json.loads(out)) == 2  # start 1795000000000 ms is 2026-11-18; activity runs later
    _, out, _ = run(["list", "--json", "--home", str(tmp_path), "--since", "2027-01-01"], capsys)
    assert json.loads(out) == []


def test_table_output_is_terminal_safe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_home(tmp_path, 1)
    code, out, _ = run(["list", "--home", str(tmp_path)], capsys)
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "[bold red]prompt 0" in out  # markup shown literally


def test_show_unknown_and_ambiguous_ids_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_home(tmp_path)
    code, _, err = run(["show", "nope", "--home", str(tmp_path)], capsys)
    assert code == 2 and "no session matches 'nope'" in err
    code, _, err = run(["show", "0199aaaa", "--home", str(tmp_path)], capsys)
    assert code == 2 and "ambiguous" in err


def test_show_json_includes_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = make_home(tmp_path, 1)
    code, out, _ = run(["show", specs[0].session_id[:13], "--json", "--home", str(tmp_path)], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["session_id"] == specs[0].session_id
    assert d["events"]["prompts"][0]["text"].startswith("[bold red]prompt 0")
    assert "\x1b" not in d["events"]["prompts"][0]["text"]
    assert len(d["events"]["tools"]) == sum(d["tools"].values()) > 0


def test_show_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = make_home(tmp_path, 1)
    code, out, _ = run(["show", specs[0].session_id, "--home", str(tmp_path)], capsys)
    assert code == 0
    assert specs[0].session_id in out and "tool calls" in out and "\x1b" not in out


def test_console_script_runs_as_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent_session.cli", "list", "--json", "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]"
