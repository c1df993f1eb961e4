"""One exception base: everything the library raises on purpose is an AgentSessionError."""

from __future__ import annotations

from pathlib import Path

import pytest

import agent_session
from agent_session import (
    AgentHomes,
    AgentSessionError,
    InvalidArgument,
    SessionLookupError,
    SessionStore,
    SessionUnreadable,
)


def test_public_and_catchable_by_base_or_builtin(home: Path) -> None:
    for name in ("AgentSessionError", "InvalidArgument", "SessionLookupError", "SessionUnreadable"):
        assert name in agent_session.__all__
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    with pytest.raises(AgentSessionError) as exc:
        store.resolve("nope")
    assert isinstance(exc.value, SessionLookupError) and isinstance(exc.value, LookupError)
    assert str(exc.value) == "no session matches 'nope'"
    assert issubclass(InvalidArgument, ValueError)


def test_session_unreadable_carries_path_and_reason() -> None:
    exc = SessionUnreadable("/h/.codex/sessions/x.jsonl", "PermissionError: denied")
    assert isinstance(exc, AgentSessionError) and isinstance(exc, OSError)
    assert (exc.path, exc.reason) == ("/h/.codex/sessions/x.jsonl", "PermissionError: denied")
    assert str(exc) == "session file /h/.codex/sessions/x.jsonl is unreadable: PermissionError: denied"


def test_tools_reexports_the_shell_module() -> None:
    from agent_session import shell, tools

    assert tools.shell_paths is shell.shell_paths
    assert tools.shell_script is shell.shell_script
    assert tools.resolve_path is shell.resolve_path
