"""The exceptions ``agent_session`` raises on purpose, under one base.

A caller that wants to tell "the library refused this" from a bug or an
unexpected ``OSError`` catches :class:`AgentSessionError`; each subclass also
derives from the builtin a caller would naturally expect (a lookup failure is a
``LookupError``, a bad value a ``ValueError``), so code written against the
builtins keeps working.

Not everything is raised: a malformed line, an unknown record type or an
unreadable file never stops a scan. Those are *reported* instead, in
``AgentSession.diagnostics`` and ``SessionStore.errors``, because one bad file
must not hide every other session.

Subclasses:

- :class:`~agent_session.store.SessionLookupError` (also ``LookupError``): an
  id matched no session, or several. Defined next to the store that raises it.
- :class:`InvalidArgument` (also ``ValueError``): a value typed by a user (an
  age, a date, an interval) that cannot mean anything sensible.
- :class:`SessionUnreadable` (also ``OSError``): the session asked for exists as
  a file but cannot be read, so "no such session" would be a lie.
"""

from __future__ import annotations

__all__ = ["AgentSessionError", "InvalidArgument", "SessionUnreadable"]


class AgentSessionError(Exception):
    """Base of every exception ``agent_session`` raises deliberately."""


class InvalidArgument(AgentSessionError, ValueError):
    """A user-supplied value (``--since 999999d``, ``--interval nan``) that cannot be used.

    The message is one line meant to be shown as is, after the program name.
    """


class SessionUnreadable(AgentSessionError, OSError):
    """The session's file exists but cannot be read (permissions, I/O error, not a regular file).

    ``path`` names the file and ``reason`` says what went wrong, as the store
    recorded it in ``SessionStore.errors``.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"session file {path} is unreadable: {reason}")
