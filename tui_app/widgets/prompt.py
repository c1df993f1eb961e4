"""A one-line question with a typed answer in a modal dialog (alert limits from the command palette).

``enter`` submits what ``parse`` accepts; a value it refuses keeps the
dialog open with the reason shown, so a typo never sets a silly limit.
``escape`` cancels. An empty answer means "off" and dismisses with None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

__all__ = ["ValuePrompt"]

#: The dialog's result: ``("set", value)``, ``("off", None)`` or ``("cancel", None)``.
PromptResult = tuple[str, float | None]


class ValuePrompt(ModalScreen[PromptResult]):
    """Asks ``question``; ``parse`` turns the typed text into a value or raises ``ValueError``."""

    DEFAULT_CSS = """
    ValuePrompt {
        align: center middle;
    }
    ValuePrompt > #prompt-pane {
        width: 60;
        max-width: 95%;
        height: auto;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    ValuePrompt #prompt-error {
        color: $error;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Leave the value as it is", id="prompt.cancel"),
    ]

    def __init__(self, question: str, current: str, parse: Callable[[str], float]) -> None:
        super().__init__()
        self.question = question
        self.current = current
        self.parse = parse

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-pane"):
            yield Static(Text(self.question, style="bold"))
            yield Input(value=self.current, placeholder="empty: off", id="prompt-input")
            yield Static("", id="prompt-error")

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.dismiss(("off", None))
            return
        try:
            value = self.parse(text)
        except ValueError as exc:
            self.query_one("#prompt-error", Static).update(Text(str(exc)))
            return
        self.dismiss(("set", value))

    def action_cancel(self) -> None:
        self.dismiss(("cancel", None))
