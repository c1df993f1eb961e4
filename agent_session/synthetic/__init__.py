"""Generators of session files shaped like the real CLIs write them.

Used by the tests (generated variants of every format), by the monitor's
``--demo`` and by the benchmark corpus generator, so there is one writer per
format and it is tested against the parser. Files are written compact, one
JSON object per line, exactly as the CLIs do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SynthSpec"]


@dataclass(frozen=True)
class SynthSpec:
    """What to generate for one session.

    ``models``: the model in force for each turn is ``models[turn % len(models)]``,
    so more than one model gives model switches. ``tools_per_turn`` tool calls
    per turn with results; ``output_bytes`` sizes the tool outputs (large outputs
    are what make real transcripts big). ``seed`` makes token numbers and text
    deterministic.
    """

    session_id: str
    cwd: str
    start_ms: int
    models: tuple[str, ...]
    turns: int = 3
    tools_per_turn: int = 2
    output_bytes: int = 200
    seed: int = 0
    prompts: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)
