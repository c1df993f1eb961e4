"""One module per agent format, plus a registry so adding an agent means adding a module."""

from __future__ import annotations

from .base import ParseContext, SessionParser

__all__ = ["ParseContext", "SessionParser"]
