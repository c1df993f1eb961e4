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
from .errors import AgentSessionError, InvalidArgument, SessionUnreadable
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
from .pricing import price_requests
from .requests import RequestLog, RequestRecord
from .sources.base import ParseContext, SessionFile, SessionParser
from .sources.scan import scan_summary
from .store import RefreshStats, SessionLookupError, SessionStore

try:
    __version__ = version("agentsession")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"

__all__ = [
    "AgentHomes",
    "AgentSession",
    "AgentSessionError",
    "AgentType",
    "FileAccess",
    "InvalidArgument",
    "LlmResponse",
    "ParseContext",
    "ParseDiagnostics",
    "PlanStep",
    "RefreshStats",
    "RequestLog",
    "RequestRecord",
    "SessionEvents",
    "SessionFile",
    "SessionLookupError",
    "SessionParser",
    "SessionStore",
    "SessionUnreadable",
    "TokenUsage",
    "ToolCategory",
    "ToolEvent",
    "ToolPath",
    "ToolStatus",
    "UserPrompt",
    "__version__",
    "find_session_files",
    "make_display_id",
    "price_requests",
    "scan_summary",
]
