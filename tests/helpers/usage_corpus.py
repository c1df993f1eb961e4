"""A generated home with every agent's usage traps, and a one-shot full parse of a file.

Shared by the request-record, pricing and summary-scan tests: each of them
checks an invariant over *all* these files, so the traps are listed once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.sessions import spec_for, synth

from agent_session import AgentSession
from agent_session.model import AgentType
from agent_session.sources.base import SessionFile
from agent_session.sources.registry import source_for

#: (agent, extra options) per generated session; each agent also gets plain seeds.
TRAPS: list[tuple[str, dict[str, Any]]] = [
    ("claude", {"subagents": 2}),
    ("claude", {"growing_usage": True}),
    ("claude", {"slash_command": False, "models": ("claude-opus-4-1", "claude-sonnet-4-5")}),
    ("codex", {"reset_totals": True, "parent_id": "0199zzzz-aaaa-7bbb-8ccc-ddddeeeeffff"}),
    ("codex", {"fork": True, "parent_id": "0199yyyy-aaaa-7bbb-8ccc-ddddeeeeffff"}),
    ("codex", {"parent_id": "0199xxxx-aaaa-7bbb-8ccc-ddddeeeeffff", "parent_model": "o3"}),
    ("codex", {"user_events": False, "resume_turn": 1}),
    ("codex", {"archived": True, "zst": True}),
    ("gemini", {"legacy": True}),
    ("gemini", {"rewind": True}),
    ("gemini", {"resume": True}),
    ("gemini", {"tokens_null": True}),
    ("gemini", {"token_update": True}),
    ("gemini", {"checkpoint": True}),
    ("gemini", {"sha_folder": True}),
]


def write_home(home: Path, seeds: int = 3) -> None:
    """Plain sessions (``seeds`` per agent, 2-5 turns) plus one session per trap."""
    n = 0
    for agent in ("claude", "codex", "gemini"):
        for seed in range(seeds):
            synth(agent).write_session(home, spec_for(agent, n, seed=seed, turns=2 + seed % 4))
            n += 1
    for agent, extra in TRAPS:
        kw: dict[str, Any] = {"turns": 4}
        options = dict(extra)
        if "models" in options:
            kw["models"] = options.pop("models")
        synth(agent).write_session(home, spec_for(agent, n, seed=n, extra=options, **kw))
        n += 1


def session_files(home: Path) -> list[SessionFile]:
    """Every session file discovery finds under a home (``.claude``, ``.codex``, ``.gemini``)."""
    out: list[SessionFile] = []
    for agent, folder in (
        (AgentType.CLAUDE, ".claude"),
        (AgentType.CODEX, ".codex"),
        (AgentType.GEMINI, ".gemini"),
    ):
        root = home / folder
        if root.is_dir():
            out.extend(source_for(agent).find_session_files(root))
    return out


def sample_files(samples: Path) -> list[SessionFile]:
    """Every session file in ../shared/samples: the real CLIs' home and the public fixtures."""
    from agent_session.sources.claude import ClaudeParser
    from agent_session.sources.codex import CodexParser
    from agent_session.sources.gemini import GeminiLegacyParser, GeminiParser

    out = session_files(samples / "real" / "home")
    for path in sorted((samples / "claude").rglob("*.jsonl")):
        out.append(SessionFile(path=path, agent_type=AgentType.CLAUDE, parser_cls=ClaudeParser))
    for path in sorted((samples / "codex").glob("*.jsonl")):
        out.append(SessionFile(path=path, agent_type=AgentType.CODEX, parser_cls=CodexParser))
    for path in sorted((samples / "gemini").glob("*.json*")):
        cls = GeminiLegacyParser if path.suffix == ".json" else GeminiParser
        out.append(SessionFile(path=path, agent_type=AgentType.GEMINI, parser_cls=cls))
    return out


def read_bytes(sf: SessionFile) -> bytes:
    data = sf.path.read_bytes()
    if sf.codec == "zst":
        import zstandard

        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def full_parse(sf: SessionFile, *, detail: bool = False) -> AgentSession:
    """The reference: the file's parser fed the whole file in one go."""
    parser = sf.new_parser(detail=detail)
    data = read_bytes(sf)
    if sf.parser_cls.append_only:
        parser.feed(data)
    else:
        parser.feed_document(data)
    return parser.snapshot()
