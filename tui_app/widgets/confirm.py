"""A yes/no question in a modal dialog, for actions that cannot be undone (ending processes).

The text is shown as plain text (process names come from the system and are
never read as markup). ``y`` or ``enter`` answer yes; ``n``, ``escape`` or
``q`` answer no, so a stray key never confirms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from agent_session.text import one_line

__all__ = ["ConfirmScreen"]

#: Lines of detail shown at most (a tree may have hundreds of processes).
MAX_DETAIL_LINES = 12


class ConfirmScreen(ModalScreen[bool]):
    """Asks ``question``; dismisses with True (yes) or False (no)."""

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > #confirm-pane {
        width: auto;
        max-width: 90%;
        height: auto;
        max-height: 80%;
        border: thick $error;
        background: $surface;
        padding: 1 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes", tooltip="Yes, do it", id="confirm.yes"),
        Binding("n,escape,q", "answer(False)", "No", tooltip="No, leave it", id="confirm.no"),
    ]

    def __init__(self, question: str, details: Sequence[str] = ()) -> None:
        super().__init__()
        self.question = one_line(question, 200) or "?"
        self.details = [one_line(d, 160) or "" for d in details]

    def compose(self) -> ComposeResult:
        text = Text(end="")
        text.append(self.question + "\n", style="bold")
        shown = self.details[:MAX_DETAIL_LINES]
        if shown:
            text.append("\n")
        for line in shown:
            text.append(f"  {line}\n")
        if len(self.details) > len(shown):
            text.append(f"  … and {len(self.details) - len(shown)} more\n", style="dim")
        text.append("\n")
        text.append("y", style="bold")
        text.append(" yes    ")
        text.append("n", style="bold")
        text.append(" / esc  no")
        with Vertical(id="confirm-pane"):
            yield Static(text, id="confirm-text")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
