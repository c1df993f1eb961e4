"""The `agentsession` command: output shapes and exit codes."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    assert code == 2
    # Both display ids are codex:0199aa.effff: the message names the full ids instead.
    assert err == (
        "agentsession: '0199aaaa' is ambiguous: it matches 2 sessions: "
        "codex:0199aaaa-0001-7bbb-8ccc-ddddeeeeffff, codex:0199aaaa-0000-7bbb-8ccc-ddddeeeeffff; "
        "give more of the id\n"
    )


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


# -- bad arguments: one line, exit 2 -----------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--since", "999999d"], "argument --since: age too large: '999999d' (at most 36500d)"),
        (
            ["list", "--since", "99999999999999999999999999w"],
            "argument --since: age too large: '99999999999999999999999999w' (at most 36500d)",
        ),
        (
            ["list", "--since", "last tuesday"],
            "argument --since: not a date, time or age (like 2026-11-01, 7d or 12h): 'last tuesday'",
        ),
        (["list", "--until", "0001-01-01"], "argument --until: date out of range: '0001-01-01'"),
        (["list", "--until", "999999d"], "argument --until: age too large: '999999d' (at most 36500d)"),
        *(
            (
                ["watch", f"--interval={value}"],
                f"argument --interval: interval must be between 0.1 and 86400 seconds, not '{value}'",
            )
            for value in ("0", "-1", "nan", "inf", "-inf", "1e-9", "86401", "1e400")
        ),
        (["watch", "--interval", "soon"], "argument --interval: not a number of seconds: 'soon'"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"agentsession {argv[0]}: error: {message}"
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e-9", "100000"])
def test_monitor_rejects_bad_intervals(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tui_app.app import main as top_main

    with pytest.raises(SystemExit) as exc:
        top_main(["--interval", value, "--once"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"agentsession-top: error: argument --interval: interval must be between 0.1 and 86400 seconds, not '{value}'"
    )


def test_since_after_until_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["list", "--home", str(tmp_path), "--since", "2026-11-20T00:00Z", "--until", "2026-11-19T00:00Z"],
        capsys,
    )
    assert (code, out, err) == (2, "", "agentsession: --since is after --until: no session can match\n")


def test_until_keeps_sessions_started_before(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = make_home(tmp_path)  # sessions start at 1_795_000_000_000 and one second later
    # 1_795_000_000_500 ms is 2026-11-18T11:06:40.5Z: between the two starts.
    _, out, _ = run(
        ["list", "--json", "--home", str(tmp_path), "--until", "2026-11-18T11:06:40.500+00:00"], capsys
    )
    assert [d["session_id"] for d in json.loads(out)] == [specs[0].session_id]
    _, out, _ = run(
        ["list", "--json", "--home", str(tmp_path), "--until", "2026-11-18T11:06:40+00:00"], capsys
    )
    assert json.loads(out) == []
    _, out, _ = run(
        ["list", "--json", "--home", str(tmp_path), "--until", "2026-11-18T11:06:42+00:00"], capsys
    )
    assert len(json.loads(out)) == 2


# -- output that cannot be written ----------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent_session.cli", *args]


def _closed_pipe_run(
    argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout on a pipe whose reader is already gone (what ``| head -c0`` or ``| true`` leave)."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run(argv, stdout=w, stderr=subprocess.PIPE, check=False, timeout=120, env=env)
    finally:
        os.close(w)


def test_broken_pipe_exits_141_quietly(tmp_path: Path) -> None:
    make_home(tmp_path)
    for args in (["list", "--home", str(tmp_path)], ["list", "--json", "--home", str(tmp_path)]):
        result = _closed_pipe_run(_cli(*args))
        assert (result.returncode, result.stderr) == (141, b"")


@pytest.mark.slow
def test_monitor_once_into_a_closed_pipe_exits_141_quietly(tmp_path: Path) -> None:
    make_home(tmp_path, 1)
    result = _closed_pipe_run(
        [sys.executable, "-m", "tui_app", "--once", "--json", "--no-cache", "--home", str(tmp_path)]
    )
    assert (result.returncode, result.stderr) == (141, b"")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_full_disk_is_one_line_and_exit_1(tmp_path: Path) -> None:
    make_home(tmp_path)
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            _cli("list", "--json", "--home", str(tmp_path)), stdout=full, stderr=subprocess.PIPE, check=False
        )
    assert result.returncode == 1
    assert result.stderr == b"agentsession: cannot write output: No space left on device\n"


def test_closed_stdout_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *_cli("list", "--home", str(tmp_path))],
        stderr=subprocess.PIPE,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == b"agentsession: cannot write output: standard output is closed\n"


@pytest.mark.slow
def test_ascii_locale_never_crashes(tmp_path: Path) -> None:
    spec = SynthSpec(
        session_id="0199aaaa-0000-7bbb-8ccc-ddddeeeeffff",
        cwd="/src/日本語",
        start_ms=1_795_000_000_000,
        models=("gpt-5",),
        prompts=("プロンプト " * 20,),  # long: the table cuts it with the tool's own "…"
    )
    synth_codex.write_session(tmp_path, spec)
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C"}
    for args in (["list"], ["show", spec.session_id]):
        result = subprocess.run(
            _cli(*args, "--home", str(tmp_path)), capture_output=True, env=env, check=False, timeout=120
        )
        assert (result.returncode, result.stderr) == (0, b"")
        text = result.stdout.decode("ascii")  # every byte ASCII: unencodable characters became "?"
        assert "/src/???" in text
    assert "????? ?????" in text  # the prompt, in the events section of `show`


# -- alignment by terminal cells --------------------------------------------------------


def test_table_aligns_wide_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent_session.text import display_width

    cwds = ["/src/日本語のプロジェクト", "/src/emoji😀😀", "/src/plain", "/src/cafe\u0301"]
    for i, cwd in enumerate(cwds):
        synth_codex.write_session(
            tmp_path,
            SynthSpec(
                session_id=f"0199aaaa-000{i}-7bbb-8ccc-ddddeeeeffff",
                cwd=cwd,
                start_ms=1_795_000_000_000 + i * 1000,
                models=("gpt-5",),
                prompts=(f"PROMPT{i}",),
            ),
        )
    code, out, _ = run(["list", "--home", str(tmp_path)], capsys)
    assert code == 0
    lines = out.splitlines()
    header = lines[0]
    column = display_width(header[: header.index("PROMPT")])
    # The widest cwd, "/src/日本語のプロジェクト", takes 5 + 2 * 10 = 25 cells.
    assert column == display_width(header[: header.index("CWD")]) + 25 + 2
    starts = {display_width(line[: line.index(f"PROMPT{i}")]) for i, line in enumerate(lines[1:5][::-1])}
    assert starts == {column}


# -- unreadable files are named -------------------------------------------------------------


def _deny_open(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Opening ``target`` fails with EACCES (tests run as root, where chmod 000 does not stop a read)."""
    real = os.open

    def fake(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == str(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(target))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake)


def test_list_json_names_unreadable_files_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = make_home(tmp_path)
    bad = synth_codex.session_path(tmp_path, specs[1])
    _deny_open(monkeypatch, bad)
    code, out, err = run(["list", "--json", "--no-cache", "--home", str(tmp_path)], capsys)
    assert code == 0
    assert [d["session_id"] for d in json.loads(out)] == [specs[0].session_id]
    warnings = [json.loads(line) for line in err.splitlines()]
    assert warnings == [
        {
            "warning": "unreadable",
            "path": str(bad),
            "reason": f"PermissionError: [Errno 13] Permission denied: '{bad}'",
        }
    ]
    code, out, err = run(["list", "--no-cache", "--home", str(tmp_path)], capsys)
    assert code == 0
    assert err == f"agentsession: unreadable: {bad}: PermissionError: [Errno 13] Permission denied: '{bad}'\n"
    assert "0 sessions with skipped lines, 1 unreadable file, 0 skipped files" in out


def test_show_of_an_unreadable_session_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = make_home(tmp_path)
    bad = synth_codex.session_path(tmp_path, specs[1])
    _deny_open(monkeypatch, bad)
    for query in (specs[1].session_id, "codex:" + specs[1].session_id[:13]):
        code, out, err = run(["show", query, "--no-cache", "--home", str(tmp_path)], capsys)
        assert (code, out) == (1, "")
        assert err == (
            f"agentsession: session file {bad} is unreadable: "
            f"PermissionError: [Errno 13] Permission denied: '{bad}'\n"
        )
    # A lookup that names no unreadable file stays "no session", with a pointer to doctor.
    code, _, err = run(["show", "nope-nope", "--no-cache", "--home", str(tmp_path)], capsys)
    assert code == 2
    assert err == (
        "agentsession: no session matches 'nope-nope' "
        "(1 unreadable file or folder may hide it: `agentsession doctor`)\n"
    )


def test_list_json_names_skipped_files_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent_session import AgentHomes, SessionStore

    specs = make_home(tmp_path, 1)
    empty = synth_codex.session_path(tmp_path, specs[0]).with_name(
        "rollout-2026-11-18T10-00-00-0199ffff-aaaa-7bbb-8ccc-ddddeeeeffff.jsonl"
    )
    empty.write_bytes(b"")
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    if not hasattr(store, "skipped"):
        pytest.skip("this store does not report skipped files yet")
    code, out, err = run(["list", "--json", "--no-cache", "--home", str(tmp_path)], capsys)
    assert code == 0 and len(json.loads(out)) == 1
    assert [json.loads(line) for line in err.splitlines()] == [
        {"warning": "skipped", "path": str(empty), "reason": store.skipped[str(empty)]}
    ]
