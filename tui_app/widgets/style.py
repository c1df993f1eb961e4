"""Colours shared by the widgets (one place, so the palette stays consistent)."""

from __future__ import annotations

__all__ = ["AGENT_STYLE", "STATUS_STYLE", "agent_style"]

AGENT_STYLE: dict[str, str] = {
    "claude": "#d97757",
    "codex": "#10a37f",
    "gemini": "#4f8ef7",
}

STATUS_STYLE: dict[str, str] = {
    "ok": "green",
    "fail": "bold red",
    "pending": "yellow",
    "observed": "cyan",
}


def agent_style(agent: str | None) -> str:
    if not agent:
        return ""
    return AGENT_STYLE.get(agent.split("/", 1)[0], "")
