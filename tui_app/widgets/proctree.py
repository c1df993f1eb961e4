"""The live process pane: column headers, agent roots and their children, ``k``/``K`` to end a tree.

Nodes are kept across snapshots (matched by ``pid:create_time``), so a user's
expansion, collapse and cursor survive every refresh. A tree deeper than the
monitor shows ends in a dimmed "… N deeper processes not shown" leaf.

The header is the tree's root line (``PROCESS_HEADER``); the cursor never
rests on it. Each label starts with a right-aligned PID column wider than any
pid, and the tree guides of a row are taken out of that column's padding, so
CPU%, MEM, TIME and STATE stay aligned under their headers at every depth
while children are still indented under their agent.

``k`` (SIGTERM) and ``K`` (SIGKILL) act on the agent tree of the selected
row after a confirmation. The signalling itself runs in a worker thread (it
re-reads the processes to rule out reused pids) and its report is posted as
:class:`ProcessTree.Signalled` and shown as a notification.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text, TextType
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from agent_session.process import SignalReport, signal_agent_tree

from ..monitor import PROCESS_HEADER, ProcNode
from .confirm import ConfirmScreen
from .style import agent_style

__all__ = ["ProcessTree", "Signaller", "node_identity"]

_EMPTY = "no agent processes running"
#: Columns the tree guides take per level (``guide_depth`` 2).
_GUIDE = 2

#: ``(root identity, agent, signal, expected pid → create_time)`` → what was done.
Signaller = Callable[[tuple[int, float], str, int, Mapping[int, float]], SignalReport]


def _default_signaller(
    root: tuple[int, float], agent: str, sig: int, expected: Mapping[int, float]
) -> SignalReport:
    return signal_agent_tree(root, agent, sig, expected)


def node_identity(node: ProcNode) -> tuple[int, float] | None:
    """``(pid, create_time)`` from a node's ``pid:create_time`` key (None for the depth marker)."""
    if node.pid <= 0 or node.hidden:
        return None
    _, _, rest = node.key.partition(":")
    try:
        return (node.pid, float(rest))
    except ValueError:
        return None


class ProcessTree(Tree[ProcNode]):
    """Agent roots → children. ``Enter`` on a matched process drills into its session."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "end_tree('TERM')", "End agent", tooltip="SIGTERM the selected agent tree (asks first)"),
        Binding(
            "K", "end_tree('KILL')", "Kill agent", tooltip="SIGKILL the selected agent tree (asks first)"
        ),
    ]

    class Signalled(Message):
        """An agent tree was signalled (or refused): what was sent to which pid."""

        def __init__(self, report: SignalReport) -> None:
            super().__init__()
            self.report = report

    def __init__(self, signaller: Signaller | None = None, **kwargs: Any) -> None:
        super().__init__(Text(PROCESS_HEADER, style="bold"), **kwargs)
        self.show_root = True
        self.auto_expand = False
        self.guide_depth = _GUIDE
        #: Sends the signals; tests inject a recorder instead of ending real processes.
        self.signaller: Signaller = signaller or _default_signaller
        self._empty: TreeNode[ProcNode] | None = None
        self._collapsed: set[str] = set()

    def process_label(self, label: TextType) -> Text:
        # A plain str label is text, never markup (process names come from the system).
        text = Text(label) if isinstance(label, str) else label
        return text.split()[0] if "\n" in text.plain else text

    def on_mount(self) -> None:
        self._empty = self.root.add_leaf(Text(_EMPTY, style="dim italic"))
        self.root.expand()
        # The header line has no expand icon, so it starts where the columns do.
        self.root.allow_expand = False

    # ------------------------------------------------------------------ the header line
    def validate_cursor_line(self, value: int) -> int:
        # Line 0 is the column header: never a cursor position while a process row exists.
        line = super().validate_cursor_line(value)
        return 1 if line == 0 and self.show_root and self.last_line >= 1 else line

    def render_line(self, y: int) -> Strip:
        # Scrolled down, the top row keeps showing the header (the line under it is
        # reachable: ``scroll_to_line`` keeps the cursor one row below the header).
        if y == 0 and self.show_root and self.scroll_offset.y > 0:
            scroll_x = self.scroll_offset.x
            return self._render_line(0, scroll_x, scroll_x + self.size.width, self.rich_style)
        return super().render_line(y)

    def scroll_to_line(self, line: int, animate: bool = True) -> None:
        if line < 0 or line >= len(self._tree_lines):
            return
        # Reveal the line above too, so the sticky header never covers the cursor.
        top = max(0, line - 1)
        self.scroll_to_region(
            Region(0, top, 1, line - top + 1),
            animate=animate,
            force=True,
            center=self.center_scroll,
            origin_visible=False,
            x_axis=False,
        )

    async def _on_click(self, event: events.Click) -> None:
        if event.style.meta.get("line") == 0:
            event.stop()  # the header row: nothing to select or toggle
            return
        await super()._on_click(event)

    def action_toggle_node(self) -> None:
        if self.cursor_node is not None and self.cursor_node.is_root:
            return  # the header does not collapse
        super().action_toggle_node()

    def _toggle_node(self, node: TreeNode[ProcNode]) -> None:
        if not node.is_root:
            super()._toggle_node(node)

    # ------------------------------------------------------------------ data
    @property
    def cursor_process(self) -> ProcNode | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def find(self, key: str) -> TreeNode[ProcNode] | None:
        stack = list(self.root.children)
        while stack:
            node = stack.pop()
            if node.data is not None and node.data.key == key:
                return node
            stack.extend(node.children)
        return None

    def apply(self, nodes: Sequence[ProcNode]) -> None:
        """Show ``nodes``; reuse existing tree nodes so expansion and cursor stay."""
        cursor = self.cursor_process
        if nodes and self._empty is not None:
            self._empty.remove()
            self._empty = None
        self._sync(self.root, nodes, 1)
        if not nodes and self._empty is None:
            self._empty = self.root.add_leaf(Text(_EMPTY, style="dim italic"))
        if cursor is not None:
            node = self.find(cursor.key)
            if node is not None and self.cursor_node is not node:
                self.move_cursor(node, animate=False)

    def _sync(self, parent: TreeNode[ProcNode], desired: Sequence[ProcNode], depth: int) -> None:
        existing = {c.data.key: c for c in parent.children if c.data is not None}
        wanted = {n.key for n in desired}
        for key, child in list(existing.items()):
            if key not in wanted:
                self._forget(child)
                child.remove()
                del existing[key]
        kept = [c.data.key for c in parent.children if c.data is not None]
        if kept != [n.key for n in desired if n.key in existing]:
            # Order changed (rare: keys are sorted by pid): rebuild this level only.
            for child in list(parent.children):
                if child.data is not None:
                    self._remember(child)
                    child.remove()
            existing = {}
        for index, n in enumerate(desired):
            node = existing.get(n.key)
            if node is None:
                before = index if index < len(parent.children) else None
                node = parent.add(
                    self._label(n, depth),
                    data=n,
                    before=before,
                    expand=n.key not in self._collapsed,
                    allow_expand=bool(n.children),
                )
            else:
                expandable = bool(n.children)
                if node.data is None or node.data.label != n.label or node.allow_expand != expandable:
                    node.allow_expand = expandable
                    node.set_label(self._label(n, depth))
                node.data = n
            self._sync(node, n.children, depth + 1)

    def _remember(self, node: TreeNode[ProcNode]) -> None:
        if node.data is not None and not node.is_expanded and node.children:
            self._collapsed.add(node.data.key)
        for c in node.children:
            self._remember(c)

    def _forget(self, node: TreeNode[ProcNode]) -> None:
        if node.data is not None:
            self._collapsed.discard(node.data.key)

    def _label(self, n: ProcNode, depth: int) -> Text:
        if n.hidden:
            # The marker for a subtree cut at the depth limit: not a process, so dimmed.
            return Text(n.label, style="dim italic")
        # The guides in front of this row take ``_GUIDE`` columns per level, and a row
        # with children has an expand icon: take both out of the PID column's left
        # padding, so the columns stay under their headers.
        indent = _GUIDE * depth + (cell_len(self.ICON_NODE_EXPANDED) if n.children else 0)
        label = n.label
        pad = len(label) - len(label.lstrip(" "))
        label = label[min(pad, indent) :]
        if n.agent:
            return Text(label, style=f"bold {agent_style(n.agent)}".strip())
        return Text(label)

    # ------------------------------------------------------------------ k / K
    def agent_group(self, node: TreeNode[ProcNode] | None) -> tuple[ProcNode, list[ProcNode]] | None:
        """The agent root a row belongs to and every process row of its tree (root first).

        In the tree view that is the nearest ancestor with an agent; in the flat
        view (``t``) rows follow their root, so it is the nearest agent row above.
        """
        if node is None or node.data is None:
            return None
        walk: TreeNode[ProcNode] | None = node
        while walk is not None and walk.data is not None and not walk.data.agent:
            walk = walk.parent
        if walk is not None and walk.data is not None and walk.data.agent:
            members: list[ProcNode] = []
            stack = [walk]
            while stack:
                current = stack.pop()
                if current.data is not None:
                    members.append(current.data)
                stack.extend(reversed(current.children))
            return walk.data, members
        # Flat view: siblings at the top level, each tree's root before its processes.
        siblings = list(self.root.children)
        index = next((i for i, s in enumerate(siblings) if s is node), -1)
        start = next(
            (i for i in range(index, -1, -1) if (d := siblings[i].data) is not None and d.agent), None
        )
        if start is None:
            return None
        group = [siblings[start].data]
        for s in siblings[start + 1 :]:
            if s.data is None or s.data.agent:
                break
            group.append(s.data)
        root = group[0]
        assert root is not None
        return root, [d for d in group if d is not None]

    def action_end_tree(self, signal_name: str) -> None:
        """Ask, then send SIGTERM/SIGKILL to the selected agent tree (children first)."""
        sig = signal.Signals[f"SIG{signal_name}"]
        group = self.agent_group(self.cursor_node)
        if group is None:
            self.notify("Select an agent process first", severity="warning")
            return
        root, members = group
        root_id = node_identity(root)
        if root_id is None or root.agent is None:
            return
        expected = {ident[0]: ident[1] for m in members if (ident := node_identity(m)) is not None}
        agent = root.agent
        others = len(expected) - 1
        question = (
            f"Send {sig.name} to {agent} {root.pid}"
            + (f" and its {others} child process{'es' if others != 1 else ''}" if others else "")
            + "?"
        )
        details = [m.label.strip() for m in members if node_identity(m) is not None]

        def answered(yes: bool | None) -> None:
            if yes:
                self._send(root_id, agent, int(sig), expected)

        self.app.push_screen(ConfirmScreen(question, details), answered)

    @work(thread=True, exit_on_error=False, group="signal")
    def _send(self, root: tuple[int, float], agent: str, sig: int, expected: Mapping[int, float]) -> None:
        """Signal off the UI thread: the re-check reads the process table."""
        try:
            report = self.signaller(root, agent, sig, expected)
        except Exception as exc:  # a psutil quirk must not take the monitor down
            report = SignalReport(signal.Signals(sig).name, root[0], refused=f"{type(exc).__name__}: {exc}")
        self.post_message(self.Signalled(report))

    def on_process_tree_signalled(self, message: Signalled) -> None:
        report = message.report
        self.notify(report.summary(), severity="information" if report.ok else "warning", timeout=8)
        # Show the tree as it is now, without waiting for the next interval.
        refresh = getattr(self.app, "action_refresh_now", None)
        if callable(refresh):
            refresh()
