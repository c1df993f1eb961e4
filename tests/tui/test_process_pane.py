"""The process pane: column headers, aligned columns, agent names, ports, and ``k``/``K``.

An injected probe plays /proc, so every number is fixed; the signaller is
replaced by a recorder, so no process is ever signalled here (the real
signalling is tested on stand-in processes in ``tests/test_process_control.py``).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from textual.pilot import Pilot
from tui_helpers import Corpus, probe_result, settled, wait_for

from agent_session import AgentSession
from agent_session.process import ProcessInfo, SignalReport
from tui_app.app import MonitorApp
from tui_app.monitor import PROCESS_HEADER, ProbeResult, fmt_elapsed, fmt_mem
from tui_app.widgets import ProcessTree
from tui_app.widgets.confirm import ConfirmScreen

MB = 1024 * 1024
GEMINI_JS = "/usr/lib/node_modules/@google/gemini-cli/dist/index.js"


@dataclass
class PaneProbe:
    """A Gemini agent run by node (root 4242, a tool shell 4243 with a grandchild 4244 on :8080)."""

    session_id: str | None = None
    calls: int = 0

    def __call__(self, sessions: Sequence[AgentSession]) -> ProbeResult:
        self.calls += 1
        procs = (
            ProcessInfo(
                4242, 1, 1000.25, "node", cmdline=("node", GEMINI_JS), cpu_percent=12.5, rss=171 * MB
            ),
            ProcessInfo(4243, 4242, 1001.5, "bash", cmdline=("/bin/bash", "-c", "npm start")),
            ProcessInfo(
                4244, 4243, 1002.75, "node", cmdline=("node", "server.js"), cpu_percent=1.0, rss=45 * MB
            ),
        )
        return probe_result(
            [("gemini", procs, self.session_id, "cwd" if self.session_id else None)],
            elapsed={4242: 3723.0, 4243: 65.0, 4244: 64.0},
            ports={4244: (8080,)},
            states={4242: "waiting"},
        )


@dataclass
class Recorder:
    calls: list[tuple[tuple[int, float], str, int, dict[int, float]]] = field(default_factory=list)

    def __call__(
        self, root: tuple[int, float], agent: str, sig: int, expected: Mapping[int, float]
    ) -> SignalReport:
        self.calls.append((root, agent, sig, dict(expected)))
        return SignalReport(
            signal.Signals(sig).name, root[0], ((4244, "node"), (4243, "bash"), (4242, "node"))
        )


def _lines(tree: ProcessTree, n: int) -> list[str]:
    return [tree.render_line(y).text.rstrip() for y in range(n)]


def _col_end(line: str, word: str) -> int:
    return line.index(word) + len(word)


async def test_header_and_aligned_columns(make_app: Callable[..., MonitorApp], corpus: Corpus) -> None:
    gemini = corpus.spec("gemini", 0)
    app = make_app(PaneProbe(gemini.spec.session_id))
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        tree = app.query_one(ProcessTree)
        assert str(tree.root.label) == PROCESS_HEADER
        header, agent, shell, server = _lines(tree, 4)
        assert header.split() == ["PID", "CPU%", "MEM", "TIME", "STATE", "COMMAND"]
        # Node runs Gemini: the row says "gemini", with the tree's port and the session.
        assert agent.split()[2:9] == ["4242", "12.5%", "171M", "1:02:03", "waiting", "gemini", ":8080"]
        row = app.snapshot.row(corpus.key(gemini)) if app.snapshot is not None else None
        assert row is not None
        label = str(tree.root.children[0].label)
        assert f"gemini :8080  {row.display_id} · gemini-2.5-pro · " in label and label.endswith(
            " tok · cwd 0.55"
        )
        assert shell.split()[2:7] == ["4243", "0.0%", "0B", "1:05", "bash"]
        assert server.split()[1:8] == ["4244", "1.0%", "45M", "1:04", "node", "server.js", ":8080"]
        # Every value column ends where its header ends, at every depth (guides and icons absorbed).
        for word, values in (
            ("PID", ("4242", "4243", "4244")),
            ("CPU%", ("12.5%", "0.0%", "1.0%")),
            ("MEM", ("171M", "0B", "45M")),
            ("TIME", ("1:02:03", "1:05", "1:04")),
        ):
            assert [_col_end(line, v) for line, v in zip((agent, shell, server), values, strict=True)] == [
                _col_end(header, word)
            ] * 3
        assert agent.index("waiting") == header.index("STATE")
        assert server.index("node server.js") == shell.index("bash -c") == agent.index("gemini :8080")
        # The cursor never rests on the header line.
        tree.focus()
        await pilot.press("home")
        assert tree.cursor_line == 1 and tree.cursor_process is not None and tree.cursor_process.pid == 4242
        await pilot.press("up")
        assert tree.cursor_line == 1


@dataclass
class ManyProbe:
    """One claude root (500) with ``n`` tool children: more rows than the pane has."""

    n: int = 40

    def __call__(self, sessions: Sequence[AgentSession]) -> ProbeResult:
        procs = [ProcessInfo(500, 1, 10.0, "claude", cmdline=("claude",), cpu_percent=1.0, rss=MB)]
        procs += [
            ProcessInfo(500 + i, 500, 10.0 + i, "sh", cmdline=("sh",), rss=MB) for i in range(1, self.n + 1)
        ]
        elapsed = {p.pid: 4.0 for p in procs} | {500: 5.0}
        return probe_result([("claude", procs, None, None)], elapsed=elapsed, states={500: "idle"})


@pytest.mark.slow
async def test_the_header_stays_on_top_and_never_covers_the_cursor(
    make_app: Callable[..., MonitorApp],
) -> None:
    app = make_app(ManyProbe())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.applied >= 1, "the first snapshot")
        await pilot.pause()
        tree = app.query_one(ProcessTree)
        tree.focus()
        height = tree.scrollable_content_region.height
        assert 3 < height < 41  # the pane scrolls
        await pilot.press("end")
        await pilot.pause()
        assert tree.cursor_process is not None and tree.cursor_process.pid == 540
        for _ in range(41):
            top = tree.scroll_offset.y
            assert tree.render_line(0).text.split() == PROCESS_HEADER.split()
            # The cursor's row is below the header row and inside the pane.
            assert 1 <= tree.cursor_line - top < height
            await pilot.press("up")
            await pilot.pause()
        assert (tree.cursor_line, tree.scroll_offset.y) == (1, 0)


def test_memory_and_time_formats() -> None:
    assert [fmt_mem(n) for n in (0, 512, 1024, 4 * MB + MB // 2, 171 * MB, 1288 * MB, 3 << 40)] == [
        "0B",
        "512B",
        "1.0K",
        "4.5M",
        "171M",
        "1.3G",
        "3.0T",
    ]
    assert [fmt_elapsed(s) for s in (None, 0.4, 59, 61, 3723, 86_400 + 4 * 3600 + 5)] == [
        "-",
        "0:00",
        "0:59",
        "1:01",
        "1:02:03",
        "1d04h",
    ]


async def _open_confirm(pilot: Pilot[None], app: MonitorApp, key: str, row: int) -> ProcessTree:
    tree = app.query_one(ProcessTree)
    tree.focus()
    tree.cursor_line = row
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
    return tree


@pytest.mark.slow
async def test_k_asks_then_terms_the_selected_agent_tree(make_app: Callable[..., MonitorApp]) -> None:
    probe = PaneProbe()
    recorder = Recorder()
    app = make_app(probe)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.applied >= 1, "the first snapshot")
        await pilot.pause()
        tree = await _open_confirm(pilot, app, "k", 3)  # on the grandchild: its agent tree is meant
        tree.signaller = recorder
        screen = app.screen
        assert isinstance(screen, ConfirmScreen)
        assert screen.question == "Send SIGTERM to gemini 4242 and its 2 child processes?"
        assert [d.split()[0] for d in screen.details] == ["4242", "4243", "4244"]
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen) and recorder.calls == []

        calls = probe.calls
        await _open_confirm(pilot, app, "k", 2)
        await pilot.press("y")
        await wait_for(pilot, lambda: recorder.calls, "the signal")
        assert recorder.calls == [
            ((4242, 1000.25), "gemini", int(signal.SIGTERM), {4242: 1000.25, 4243: 1001.5, 4244: 1002.75})
        ]
        # The report is shown and the pane refreshes at once.
        await wait_for(pilot, lambda: probe.calls > calls, "a refresh after the signal")
        assert any(
            "SIGTERM sent to node 4244, bash 4243, node 4242" in str(n.message) for n in app._notifications
        )


@pytest.mark.slow
async def test_shift_k_kills_and_a_refusal_is_reported(make_app: Callable[..., MonitorApp]) -> None:
    app = make_app(PaneProbe())
    seen: list[int] = []

    def refuse(root: tuple[int, float], agent: str, sig: int, expected: Mapping[int, float]) -> SignalReport:
        seen.append(sig)
        return SignalReport(
            "SIGKILL", root[0], refused="pid now belongs to another process (start time changed)"
        )

    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.applied >= 1, "the first snapshot")
        await pilot.pause()
        app.query_one(ProcessTree).focus()
        await pilot.press("t")  # the flat view: a row's agent is the nearest agent row above it
        assert not app.tree_mode
        tree = await _open_confirm(pilot, app, "K", 3)
        assert tree.cursor_process is not None and tree.cursor_process.pid == 4244
        tree.signaller = refuse
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Send SIGKILL to gemini 4242 and its 2 child processes?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: seen, "the signal")
        assert seen == [int(signal.SIGKILL)]
        await wait_for(
            pilot,
            lambda: any(
                "SIGKILL not sent to 4242: pid now belongs" in str(n.message) for n in app._notifications
            ),
            "the refusal",
        )
