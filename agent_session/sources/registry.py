"""Agent type -> source: its module and the folders under a home that hold its sessions.

Adding an agent means adding a source module and one entry here. A source
module provides ``find_session_files(root: Path) -> list[SessionFile]`` (walk
one agent home with :func:`~agent_session.sources.walk.walk_tree`, given its
own session folders and name rules, so files that are not sessions are never
taken) and its ``SessionParser`` subclass. The entry also declares where the
module's walk looks (``trees``: folder under the home and how deep sessions
nest) and the small files its discovery reads (``mapping_files``): the store
watches only those trees, and rediscovers when one of those files changes.
The modules themselves are imported on first use (``source_for``), so
``import agent_session`` stays light.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol, cast

from ..model import AgentType
from .base import SessionFile

__all__ = ["MAPPING_FILES", "SESSION_TREES", "SOURCES", "Source", "SourceSpec", "source_for"]


@dataclass(frozen=True)
class SourceSpec:
    """What the store needs to know about one agent's source without importing it."""

    module: str
    #: ``(folder under the home, depth)`` of every tree that holds session files.
    trees: tuple[tuple[str, int], ...]
    #: Small files (by name, anywhere in the home's trees) that discovery reads to resolve context.
    mapping_files: frozenset[str] = frozenset()


SOURCES: dict[AgentType, SourceSpec] = {
    AgentType.CLAUDE: SourceSpec("agent_session.sources.claude", (("projects", 8),)),
    AgentType.CODEX: SourceSpec("agent_session.sources.codex", (("sessions", 5), ("archived_sessions", 1))),
    AgentType.GEMINI: SourceSpec(
        "agent_session.sources.gemini", (("tmp", 4),), frozenset({"projects.json", ".project_root"})
    ),
}

#: Where each agent keeps session files under its home, and how deep they nest.
SESSION_TREES: dict[AgentType, tuple[tuple[str, int], ...]] = {a: s.trees for a, s in SOURCES.items()}
#: Small files discovery reads to resolve a session's context: a change means rediscovery.
MAPPING_FILES: frozenset[str] = frozenset().union(*(s.mapping_files for s in SOURCES.values()))


class Source(Protocol):
    def find_session_files(self, root: Path) -> list[SessionFile]: ...


def source_for(agent: AgentType) -> Source:
    module: ModuleType = importlib.import_module(SOURCES[agent].module)
    return cast(Source, module)
