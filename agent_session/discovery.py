"""Where each agent keeps its sessions, with every override a user can set.

Homes are resolved once into an :class:`AgentHomes` value, so the store, the
matcher and the CLI agree on one answer, and tests can build one by hand. The
walk itself belongs to each source module (it knows its own layout and which
files are *not* sessions); this module only resolves roots and dispatches.
Nothing here ever writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .model import AgentType
from .sources.base import SessionFile
from .sources.walk import collect_walk

__all__ = ["AgentHomes", "find_session_files"]


def _split_list(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


@dataclass(frozen=True)
class AgentHomes:
    """Agent data directories (``~/.claude``-like), existing or not.

    ``claude`` may hold several roots (``CLAUDE_CONFIG_DIR`` is a comma list;
    by default both ``~/.config/claude`` and ``~/.claude`` are read).
    """

    claude: tuple[Path, ...] = ()
    codex: tuple[Path, ...] = ()
    gemini: tuple[Path, ...] = ()

    @classmethod
    def resolve(cls, home: str | Path | None = None, env: Mapping[str, str] | None = None) -> AgentHomes:
        """Homes for an explicit user home, else from the environment and defaults.

        With ``home`` (the ``--home DIR`` of the CLIs) DIR is taken as the user's
        home directory and environment overrides are ignored, so a test or a
        look at another user's data is never mixed with one's own.
        """
        if home is not None:
            h = Path(home).expanduser()
            return cls(
                claude=(h / ".config" / "claude", h / ".claude"),
                codex=(h / ".codex",),
                gemini=(h / ".gemini",),
            )
        env = os.environ if env is None else env
        user_home = Path(env.get("HOME") or Path.home())
        if env.get("CLAUDE_CONFIG_DIR"):
            claude = tuple(_claude_root(Path(p).expanduser()) for p in _split_list(env["CLAUDE_CONFIG_DIR"]))
        else:
            xdg = Path(env.get("XDG_CONFIG_HOME") or user_home / ".config")
            claude = (xdg / "claude", user_home / ".claude")
        if env.get("CODEX_HOME"):
            codex = tuple(Path(p).expanduser() for p in _split_list(env["CODEX_HOME"]))
        else:
            codex = (user_home / ".codex",)
        # GEMINI_CLI_HOME replaces the *home dir*; the data dir is always `.gemini` under it.
        gemini_home = Path(env["GEMINI_CLI_HOME"]).expanduser() if env.get("GEMINI_CLI_HOME") else user_home
        return cls(claude=_dedupe(claude), codex=_dedupe(codex), gemini=(gemini_home / ".gemini",))

    def roots(self, agent: AgentType) -> tuple[Path, ...]:
        return {AgentType.CLAUDE: self.claude, AgentType.CODEX: self.codex, AgentType.GEMINI: self.gemini}[
            agent
        ]

    def existing(self) -> dict[AgentType, list[Path]]:
        """Roots that exist, per agent (an agent with none is simply not installed)."""
        out: dict[AgentType, list[Path]] = {}
        for agent in AgentType:
            found = [r for r in self.roots(agent) if r.is_dir()]
            if found:
                out[agent] = found
        return out


def _claude_root(p: Path) -> Path:
    # ccusage accepts either the config dir or its projects/ folder; so do we.
    return p.parent if p.name == "projects" else p


def _dedupe(paths: Iterable[Path]) -> tuple[Path, ...]:
    seen: set[str] = set()
    out: list[Path] = []
    for p in paths:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return tuple(out)


def find_session_files(
    homes: AgentHomes,
    agents: Iterable[AgentType] | None = None,
    *,
    errors: dict[str, str] | None = None,
    skipped: dict[str, str] | None = None,
) -> list[SessionFile]:
    """Every session file under the homes, for the chosen agents. Never capped.

    Unreadable or vanished directories are skipped (the walkers use scandir and
    tolerate ``OSError``), so one bad folder never hides the rest. With
    ``errors``, what could not be listed or is no regular file despite a
    session file's name (permission denied, a symlink loop, a folder or FIFO
    named ``*.jsonl``) is added to it by path, so it can be reported: an
    unreadable folder hides every session inside it. Missing paths are not errors.
    With ``skipped``, what the walk deliberately did not take is added by path
    with the reason: a symlink below a session tree is never followed
    (``sources/walk.py`` says why), whether its target is outside the tree or inside it.
    """
    from .sources import registry

    wanted = set(agents) if agents is not None else set(AgentType)
    files: list[SessionFile] = []
    with collect_walk() as report:
        for agent in AgentType:
            if agent not in wanted:
                continue
            source = registry.source_for(agent)
            for root in homes.roots(agent):
                files.extend(source.find_session_files(root))
    if errors is not None:
        errors.update(report.errors)
    if skipped is not None:
        skipped.update(report.skipped)
    return files
