"""agentsession: find, parse and watch the sessions of local coding agents.

The library half of the project: no UI, no network, and it never writes into
an agent's directory. Typical use::

    from agent_session import SessionStore

    store = SessionStore()          # ~/.claude, ~/.codex, ~/.gemini and env overrides
    store.refresh()                 # later calls read only what was appended
    for s in store.sessions():
        print(s.display_id, s.model, s.usage.total_tokens, s.cost_usd)

Every public name is imported on first use (PEP 562 ``__getattr__``), so
``import agent_session`` and ``agentsession --help`` pay for neither pydantic
nor the parsers, and a command loads only what it uses.
"""

from __future__ import annotations

# Not ``typing.TYPE_CHECKING``: importing typing is a good part of this module's cost.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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

    __version__: str

#: Public name -> the module that defines it (relative to this package).
_LAZY: dict[str, str] = {
    "AgentHomes": ".discovery",
    "find_session_files": ".discovery",
    "AgentSessionError": ".errors",
    "InvalidArgument": ".errors",
    "SessionUnreadable": ".errors",
    **dict.fromkeys(
        (
            "AgentSession",
            "AgentType",
            "FileAccess",
            "LlmResponse",
            "ParseDiagnostics",
            "PlanStep",
            "SessionEvents",
            "TokenUsage",
            "ToolCategory",
            "ToolEvent",
            "ToolPath",
            "ToolStatus",
            "UserPrompt",
            "make_display_id",
        ),
        ".model",
    ),
    "price_requests": ".pricing",
    "RequestLog": ".requests",
    "RequestRecord": ".requests",
    "ParseContext": ".sources.base",
    "SessionFile": ".sources.base",
    "SessionParser": ".sources.base",
    "scan_summary": ".sources.scan",
    "RefreshStats": ".store",
    "SessionLookupError": ".store",
    "SessionStore": ".store",
}

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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agentsession")
    except PackageNotFoundError:  # running from a source tree
        return "0.0.0+local"


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and keep the name here for next time."""
    if name == "__version__":
        value: Any = _version()
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        # The import statement's machinery (not importlib.import_module), so
        # ``python -X importtime`` shows the module like any other import.
        value = getattr(__import__(module[1:], globals(), None, [name], 1), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
