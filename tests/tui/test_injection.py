"""Session text is data: markup is shown literally, escape sequences are stripped, nothing runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytest
from rich.text import Text
from textual.widgets import Static
from tui_helpers import NOW_MS, PROJECTS, Corpus, FakeProbe, replace_processes, settled, wait_for

from agent_session import AgentSession, ToolEvent, ToolStatus
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from tui_app.app import MonitorApp
from tui_app.monitor import ProbeResult
from tui_app.widgets import ProcessTree, SessionsTable, ToolCallScreen
from tui_app.widgets.detail import DetailPane

MakeApp = Callable[..., MonitorApp]

PROMPT = "[bold red]PWNED[/] [link=https://evil.example]click[/link] \x1b[31mred\x1b[0m \x1b]0;owned\x07title"
CWD = str(PROJECTS / "src" / "[blink]x[/blink]")
SID = "1badbad0-0000-4000-8000-00000000beef"


def assert_plain(text: Text) -> None:
    assert "\x1b" not in text.plain and "\x07" not in text.plain
    for span in text.spans:
        style = str(span.style)
        assert "link" not in style and "blink" not in style


class EvilProbe(FakeProbe):
    def __call__(self, sessions: Sequence[AgentSession]) -> ProbeResult:
        return replace_processes(
            super().__call__(sessions),
            lambda p: dataclasses.replace(
                p, name="[red]evil[/red]\x1b[2J", cmdline=("[b]x[/b]", "\x1b]0;t\x07")
            ),
        )


@pytest.mark.slow
async def test_markup_and_escapes_in_session_text_are_inert(make_app: MakeApp, corpus: Corpus) -> None:
    spec = SynthSpec(
        session_id=SID,
        cwd=CWD,
        start_ms=NOW_MS - 60_000,
        models=("claude-sonnet-4-5",),
        prompts=(PROMPT,),
        turns=2,
    )
    synth_claude.write_session(corpus.home, spec)
    app = make_app(EvilProbe({777: ("claude", SID)}))
    async with app.run_test(size=(260, 48)) as pilot:  # wide: the Cwd column is whole
        await settled(pilot, app)
        await pilot.press("slash", *"1badbad0", "enter")
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and app.snapshot.detail is not None
                and app.snapshot.detail.key == f"claude:{SID}"
                and app.snapshot.detail.session is not None
            ),
            "the injected session's detail",
        )
        await pilot.pause()
        body = app.query_one(DetailPane).query_one("#detail-body", Static).content
        assert isinstance(body, Text)
        assert "[bold red]PWNED[/] [link=https://evil.example]click[/link] red title" in body.plain
        assert "[blink]x[/blink]" in body.plain
        assert_plain(body)

        table = app.query_one(SessionsTable)
        cells = table.get_row(f"claude:{SID}")
        cwd_cell = cells[-1]
        assert isinstance(cwd_cell, Text) and cwd_cell.plain.endswith("[blink]x[/blink]")
        assert_plain(cwd_cell)

        tree = app.query_one(ProcessTree)
        root = tree.root.children[0]
        label = root.label
        # The agent row names the agent, not the (hostile) process name.
        assert isinstance(label, Text) and label.plain.split()[0] == "777" and " claude  " in label.plain
        assert "evil" not in label.plain
        child = root.children[0].label
        assert isinstance(child, Text) and "[b]x[/b]" in child.plain
        assert_plain(label)
        assert_plain(child)


async def test_tool_input_and_output_are_shown_as_plain_text(make_app: MakeApp) -> None:
    tool = ToolEvent(
        call_id="c1",
        tool_name="Bash[bold]",
        command="echo [link=https://x]hi[/link]",
        input='{"command": "printf \\"\\u001b[2J\\""}',
        output_preview="\x1b[2J\x1b]8;;https://x\x07link\x1b]8;;\x07 [blink]b[/blink]\r\nnext",
        status=ToolStatus.OK,
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot, app)
        await app.push_screen(ToolCallScreen(tool, 0))
        await pilot.pause()
        body = app.screen.query_one("#call-body", Static).content
        assert isinstance(body, Text)
        assert "Bash[bold]" in body.plain and "echo [link=https://x]hi[/link]" in body.plain
        assert "link [blink]b[/blink]\nnext" in body.plain
        assert_plain(body)
