"""The live process tree: agent roots and their children, updated node by node.

Nodes are kept across snapshots (matched by ``pid:create_time``), so a user's
expansion, collapse and cursor survive every refresh. A tree deeper than the
monitor shows ends in a dimmed "… N deeper processes not shown" leaf.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text, TextType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ..monitor import ProcNode
from .style import agent_style

__all__ = ["ProcessTree"]

_EMPTY = "no agent processes running"


class ProcessTree(Tree[ProcNode]):
    """Agent roots → children. ``Enter`` on a matched process drills into its session."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("processes", **kwargs)
        self.show_root = False
        self.auto_expand = False
        self.guide_depth = 2
        self._empty: TreeNode[ProcNode] | None = None
        self._collapsed: set[str] = set()

    def process_label(self, label: TextType) -> Text:
        # A plain str label is text, never markup (process names come from the system).
        text = Text(label) if isinstance(label, str) else label
        return text.split()[0] if "\n" in text.plain else text

    def on_mount(self) -> None:
        self._empty = self.root.add_leaf(Text(_EMPTY, style="dim italic"))

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
        self._sync(self.root, nodes)
        if not nodes and self._empty is None:
            self._empty = self.root.add_leaf(Text(_EMPTY, style="dim italic"))
        if cursor is not None:
            node = self.find(cursor.key)
            if node is not None and self.cursor_node is not node:
                self.move_cursor(node, animate=False)

    def _sync(self, parent: TreeNode[ProcNode], desired: Sequence[ProcNode]) -> None:
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
                    self._label(n),
                    data=n,
                    before=before,
                    expand=n.key not in self._collapsed,
                    allow_expand=bool(n.children),
                )
            else:
                if node.data is None or node.data.label != n.label:
                    node.set_label(self._label(n))
                node.data = n
                node.allow_expand = bool(n.children)
            self._sync(node, n.children)

    def _remember(self, node: TreeNode[ProcNode]) -> None:
        if node.data is not None and not node.is_expanded and node.children:
            self._collapsed.add(node.data.key)
        for c in node.children:
            self._remember(c)

    def _forget(self, node: TreeNode[ProcNode]) -> None:
        if node.data is not None:
            self._collapsed.discard(node.data.key)

    def _label(self, n: ProcNode) -> Text:
        if n.hidden:
            # The marker for a subtree cut at the depth limit: not a process, so dimmed.
            return Text(n.label, style="dim italic")
        if n.agent:
            return Text(n.label, style=f"bold {agent_style(n.agent)}".strip())
        return Text(n.label)
