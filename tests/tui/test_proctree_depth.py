"""A process tree deeper than the monitor shows is cut with a visible marker, never silently."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from tui_helpers import NOW_S, Corpus, probe_result, settled

from agent_session import AgentHomes, AgentSession
from agent_session.process import ProcessInfo
from tui_app.app import MonitorApp
from tui_app.monitor import MAX_TREE_DEPTH, Monitor, ProbeResult, ProcNode
from tui_app.widgets import ProcessTree

ROOT = 5000


@dataclass
class ChainProbe:
    """An injected snapshot: one claude root, then a chain of shells each started by the previous one."""

    length: int

    def __call__(self, sessions: Sequence[AgentSession]) -> ProbeResult:
        procs = [
            ProcessInfo(
                ROOT + i, ROOT + i - 1 if i else 1, 100.0 + i, "claude" if i == 0 else "sh", cmdline=("sh",)
            )
            for i in range(self.length)
        ]
        return probe_result([("claude", procs, None, None)])


def _chain(home: Path, length: int) -> tuple[ProcNode, ...]:
    monitor = Monitor(AgentHomes.resolve(home), user_home=home, clock=lambda: NOW_S, probe=ChainProbe(length))
    return monitor.collect().roots


def _deepest(root: ProcNode) -> tuple[list[int], ProcNode]:
    """Pids down the chain and the last node reached."""
    pids = [root.pid]
    node = root
    while node.children:
        (node,) = node.children
        pids.append(node.pid)
    return pids, node


def test_a_deep_chain_ends_in_a_marker_counting_what_is_cut(tmp_path: Path) -> None:
    (root,) = _chain(tmp_path, 200)
    pids, marker = _deepest(root)
    shown = MAX_TREE_DEPTH + 1  # the root and 64 levels below it
    assert pids[:-1] == list(range(ROOT, ROOT + shown))
    assert (marker.pid, marker.hidden, marker.label) == (0, 200 - shown, "… 135 deeper processes not shown")
    assert marker.key == f"{ROOT + shown - 1}:{100.0 + shown - 1:.2f}:deeper"
    assert marker.children == ()


def test_a_chain_that_fits_has_no_marker_and_one_over_says_one(tmp_path: Path) -> None:
    (root,) = _chain(tmp_path, MAX_TREE_DEPTH + 1)
    pids, last = _deepest(root)
    assert pids == list(range(ROOT, ROOT + MAX_TREE_DEPTH + 1)) and last.hidden == 0
    (root,) = _chain(tmp_path, MAX_TREE_DEPTH + 2)
    _, marker = _deepest(root)
    assert (marker.hidden, marker.label) == (1, "… 1 deeper process not shown")


@pytest.mark.slow
async def test_the_process_pane_shows_the_marker(make_app: Callable[..., MonitorApp], corpus: Corpus) -> None:
    app = make_app(ChainProbe(100))
    async with app.run_test(size=(160, 48)) as pilot:
        # The first snapshot and the selected session's detail: nothing left in flight at exit.
        await settled(pilot, app)
        tree = app.query_one(ProcessTree)
        cut = ROOT + MAX_TREE_DEPTH
        node = tree.find(f"{cut}:{100.0 + MAX_TREE_DEPTH:.2f}:deeper")
        assert node is not None and node.data is not None
        assert node.label.plain == f"… {100 - MAX_TREE_DEPTH - 1} deeper processes not shown"
        assert node.label.style == "dim italic"
        assert node.parent is not None and node.parent.data is not None and node.parent.data.pid == cut
