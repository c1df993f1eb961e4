"""The rough edges of ``agentsession``: global options, --home checks, ids, sorting, help, formatting."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from agent_session import AgentHomes, SessionStore
from agent_session.cli import build_parser, main, session_json
from agent_session.formatting import fmt_cost, fmt_tokens, plural
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex

CLAUDE_SID = "01a20c00-1111-2222-3333-444444a4cb6b"
#: Codex ids begin with their creation time: these share "0199aaaa-".
CODEX_SIDS = (
    "0199aaaa-0001-7bbb-8ccc-ddddeeee1111",
    "0199aaaa-0002-7bbb-8ccc-ddddeeee2222",
    "0199aaaa-0003-7bbb-8ccc-ddddeeee3333",
)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    synth_claude.write_session(
        tmp_path,
        SynthSpec(
            session_id=CLAUDE_SID,
            cwd="/src/x",
            start_ms=1_795_000_000_000,
            models=("claude-sonnet-4-5",),
            turns=1,
            tools_per_turn=1,
        ),
    )
    # Different sizes, times and prices: turns drive tokens, the last model has no known price.
    for i, (sid, turns, model) in enumerate(
        zip(CODEX_SIDS, (2, 6, 4), ("gpt-5", "gpt-5", "made-up-model-x"), strict=True)
    ):
        synth_codex.write_session(
            tmp_path,
            SynthSpec(
                session_id=sid,
                cwd=f"/src/c{i}",
                start_ms=1_795_000_100_000 + i * 100_000,
                models=(model,),
                turns=turns,
                seed=i,
            ),
        )
    return tmp_path


def _ids(out: str) -> list[str]:
    return [d["session_id"] for d in json.loads(out)]


# -- global options ----------------------------------------------------------------------------


def test_global_options_before_or_after_the_command(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = run(["list", "--json", "--no-cache", "--home", str(home)], capsys)
    assert expected[0] == 0 and len(json.loads(expected[1])) == 4
    for argv in (
        ["--home", str(home), "list", "--json"],
        ["--home", str(home), "--json", "--no-cache", "list"],
        ["--json", "list", "--home", str(home)],
        ["--no-cache", "--home", str(home), "list", "--json"],
    ):
        assert run(argv, capsys) == expected, argv
    # A value given before the command is not reset by the command's own parser.
    code, out, _ = run(["--home", str(home), "show", "4cb6b", "--json"], capsys)
    assert code == 0 and json.loads(out)["session_id"] == CLAUDE_SID


@pytest.mark.parametrize("command", [["list"], ["show", "x"], ["match"], ["watch", "--once"], ["doctor"]])
def test_a_missing_home_is_a_clear_error(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert run([*command, "--home", str(missing)], capsys) == (
        2,
        "",
        f"agentsession: --home {missing}: no such directory\n",
    )
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert run(["--home", str(a_file), *command], capsys) == (
        2,
        "",
        f"agentsession: --home {a_file}: not a directory\n",
    )


# -- ids ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("4cb6b", CLAUDE_SID),  # the second part of the display id
        ("01a20c.4cb6b", CLAUDE_SID),  # the whole display id, without the agent
        ("claude:01a20c.4cb6b", CLAUDE_SID),
        ("01a20c", CLAUDE_SID),  # the first part
        ("01a20c00-1111", CLAUDE_SID),  # a prefix of the full id
        ("e2222", CODEX_SIDS[1]),  # Codex: the end tells sessions of the same time apart
        ("0199aa.e3333", CODEX_SIDS[2]),
        ("codex:0199aaaa-0001", CODEX_SIDS[0]),
        (CODEX_SIDS[2], CODEX_SIDS[2]),
    ],
)
def test_show_matches_ids_by_prefix_or_either_display_part(
    home: Path, query: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["show", query, "--json", "--home", str(home)], capsys)
    assert (code, err) == (0, "")
    assert json.loads(out)["session_id"] == expected


def test_an_ambiguous_id_says_how_many_more_matched(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    synth_codex.write_session(
        home,
        SynthSpec(
            session_id="0199aaaa-0004-7bbb-8ccc-ddddeeee4444",
            cwd="/src/c4",
            start_ms=1_795_000_900_000,
            models=("gpt-5",),
        ),
    )
    code, out, err = run(["show", "0199aaaa", "--home", str(home)], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("agentsession: '0199aaaa' is ambiguous: it matches 4 sessions: codex:0199aa.e")
    assert err.endswith(" … and 1 more; give more of the id\n")
    assert err.count("codex:0199aa.e") == 3
    code, _, err = run(["show", "0199aaaa-0001", "--home", str(home)], capsys)
    assert code == 0 and err == ""


# -- list ----------------------------------------------------------------------------------------------


def test_list_sort_and_limit(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def listed(*extra: str) -> list[dict[str, object]]:
        code, out, _ = run(["list", "--json", "--home", str(home), *extra], capsys)
        assert code == 0
        data: list[dict[str, object]] = json.loads(out)
        return data

    by_tokens = listed("--sort", "tokens")
    totals = [d["usage"]["total_tokens"] + d["subagent_usage"]["total_tokens"] for d in by_tokens]  # type: ignore[index]
    assert totals == sorted(totals, reverse=True) and len(set(totals)) == 4
    assert by_tokens[0]["session_id"] == CODEX_SIDS[1]  # six turns: the biggest
    by_cost = listed("--sort", "cost")
    costs = [d["cost_usd"] for d in by_cost]
    assert costs[-1] is None and by_cost[-1]["session_id"] == CODEX_SIDS[2]  # no price: last
    assert costs[:3] == sorted(costs[:3], reverse=True)  # type: ignore[type-var]
    by_active = listed()  # the default
    times = [d["last_activity_ms"] for d in by_active]
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]
    assert [d["session_id"] for d in listed("--sort", "tokens", "--limit", "2")] == [
        d["session_id"] for d in by_tokens[:2]
    ]
    code, out, _ = run(["list", "--home", str(home), "--limit", "1"], capsys)
    assert code == 0 and len(out.splitlines()) == 2  # the header and one session
    with pytest.raises(SystemExit) as exc:
        main(["list", "--limit", "0"])
    assert exc.value.code == 2


def test_list_json_streams_the_same_array(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["list", "--json", "--home", str(home)], capsys)
    store = SessionStore(AgentHomes.resolve(home), follow=False)  # the one-shot store `list` uses
    store.refresh()
    expected = {s.session_id: session_json(s) for s in store.sessions()}
    data = json.loads(out)
    assert code == 0 and {d["session_id"]: d for d in data} == expected
    lines = out.splitlines()
    # "[", one session per line, "]": a consumer can also read it line by line.
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == len(expected) + 2


def test_list_numbers_are_right_aligned_and_costs_marked(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["list", "--home", str(home)], capsys)
    assert code == 0
    header, *rows = out.splitlines()
    tokens_end = header.index("TOKENS") + len("TOKENS")
    cost_end = header.index("COST") + len("COST")
    for row in rows:
        assert row[tokens_end - 1] != " " and row[tokens_end] == " "
        assert row[cost_end - 1] != " " and row[cost_end] == " "
    unpriced = next(r for r in rows if r.startswith("codex:0199aa.e3333"))
    assert unpriced[cost_end - 3 : cost_end] == "  ?"  # unknown, never "$0.00"


def test_one_formatting_for_cli_and_monitor() -> None:
    import tui_app.formatting as tui_formatting
    from agent_session import formatting

    assert tui_formatting.fmt_cost is formatting.fmt_cost
    assert tui_formatting.fmt_tokens is formatting.fmt_tokens
    assert set(formatting.__all__) <= set(tui_formatting.__all__)
    assert [fmt_cost(c) for c in (None, float("nan"), 0.0, 0.004, 0.0099, 0.01, 1234.5)] == [
        "?",
        "?",
        "$0.00",
        "<$0.01",
        "<$0.01",
        "$0.01",
        "$1,234.50",
    ]
    assert [fmt_tokens(n) for n in (950, 12_345, 1_234_567, 3_400_000_000)] == ["950", "12k", "1.2M", "3.4B"]
    assert [plural(1, "tool call"), plural(2, "tool call"), plural(0, "file"), plural(1204, "file")] == [
        "1 tool call",
        "2 tool calls",
        "0 files",
        "1,204 files",
    ]


# -- show ---------------------------------------------------------------------------------------------


def test_show_uses_plurals_and_full_model_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = ("gpt-5-codex-preview-2026-01-01", "gpt-5-codex-preview-2026-02-02")
    synth_codex.write_session(
        tmp_path,
        SynthSpec(
            session_id=CODEX_SIDS[0],
            cwd="/src/p",
            start_ms=1_795_000_000_000,
            models=models,
            turns=2,
            tools_per_turn=1,
        ),
    )
    synth_claude.write_session(
        tmp_path,
        SynthSpec(
            session_id=CLAUDE_SID,
            cwd="/src/x",
            start_ms=1_795_000_000_000,
            models=("claude-sonnet-4-5",),
            turns=1,
            tools_per_turn=1,
        ),
    )
    code, out, _ = run(["show", "e1111", "--home", str(tmp_path)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert "2 tool calls" in lines and "2 prompts" in lines
    model_lines = [line for line in lines if line.startswith("  gpt-5-codex-preview-")]
    assert [line.split()[0] for line in model_lines] == list(models)
    code, out, _ = run(["show", "4cb6b", "--home", str(tmp_path)], capsys)
    lines = out.splitlines()
    assert code == 0 and "1 tool call" in lines and "1 prompt" in lines and "1 file" in lines


# -- help -----------------------------------------------------------------------------------------------


def _parsers() -> list[argparse.ArgumentParser]:
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [parser, *subs.choices.values()]


def test_every_option_has_help_with_its_default() -> None:
    missing = []
    for p in _parsers():
        for action in p._actions:
            if isinstance(
                action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
            ):
                continue
            if action.help == argparse.SUPPRESS:
                continue
            if not action.help or (
                (action.option_strings or not action.required) and "default" not in action.help
            ):
                missing.append(f"{p.prog} {action.dest}")
    assert missing == []


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    for p in _parsers():
        text = p.format_help()
        assert "`" not in text and "``" not in text, p.prog
    with pytest.raises(SystemExit) as exc:
        main(["watch", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "--from-start" in out and "(default: only new events)" in out
