"""agentsession: find, parse and watch the sessions of local coding agents.

The library half of the project: no UI, no network, and it never writes into
an agent's directory. Typical use::

    from agent_session import SessionStore

    store = SessionStore()          # ~/.claude, ~/.codex, ~/.gemini and env overrides
    store.refresh()                 # later calls read only what was appended
    for s in store.sessions():
        print(s.display_id, s.model, s.usage.total_tokens, s.cost_usd)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .discovery import AgentHomes, find_session_files
from .model import (
    AgentSession,
    AgentType,
    FileAccess,
    LlmResponse,
    ParseDiagnostics,
    PlanStep,
    SessionEvents,
    TokenUsage,
    ToolCategory,
    ToolEvent,
    ToolPath,
    ToolStatus,
    UserPrompt,
    make_display_id,
)
from .sources.base import ParseContext, SessionFile, SessionParser
from .store import RefreshStats, SessionLookupError, SessionStore

try:
    __version__ = version("agentsession")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"

__all__ = [
    "AgentHomes",
    "AgentSession",
    "AgentType",
    "FileAccess",
    "LlmResponse",
    "ParseContext",
    "ParseDiagnostics",
    "PlanStep",
    "RefreshStats",
    "SessionEvents",
    "SessionFile",
    "SessionLookupError",
    "SessionParser",
    "SessionStore",
    "TokenUsage",
    "ToolCategory",
    "ToolEvent",
    "ToolPath",
    "ToolStatus",
    "UserPrompt",
    "__version__",
    "find_session_files",
    "make_display_id",
]
