"""The names of the commands whose JSON output has a schema (``agentsession schema NAME``).

Apart from :mod:`agent_session.schemas` (which builds the schemas with
pydantic) so the CLI's parser can offer them as choices without importing
pydantic: ``agentsession --help`` stays light.
"""

from __future__ import annotations

__all__ = ["SCHEMA_NAMES"]

SCHEMA_NAMES: tuple[str, ...] = ("list", "show", "match", "watch", "report")
