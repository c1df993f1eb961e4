"""``agentsession-top``: a live terminal monitor of coding agents and their sessions.

Imports :mod:`agent_session` (never the other way round). The entry point is
:func:`tui_app.app.main`; :mod:`tui_app.monitor` holds the Textual-free worker
half that collects snapshots.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> int:
    """Console entry point (imports Textual only when called)."""
    from .app import main as run

    return run()
