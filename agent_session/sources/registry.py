"""Agent type -> source module. Adding an agent means adding a module and a line here.

A source module provides ``find_session_files(root: Path) -> list[SessionFile]``
(walk one agent home with :func:`~agent_session.sources.walk.walk_tree`, given
its own session folders and name rules, so files that are not sessions are
never taken) and its ``SessionParser`` subclass.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Protocol, cast

from ..model import AgentType
from .base import SessionFile

__all__ = ["Source", "source_for"]

_MODULES = {
    AgentType.CLAUDE: "agent_session.sources.claude",
    AgentType.CODEX: "agent_session.sources.codex",
    AgentType.GEMINI: "agent_session.sources.gemini",
}


class Source(Protocol):
    def find_session_files(self, root: Path) -> list[SessionFile]: ...


def source_for(agent: AgentType) -> Source:
    module: ModuleType = importlib.import_module(_MODULES[agent])
    return cast(Source, module)
