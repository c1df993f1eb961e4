"""A tiny Claude Code session writer with exact request times and token counts.

The synthetic generators pick their own times and sizes; rate and window
tests need to say "this request, at this second, with these tokens". Each
call to :meth:`ClaudeWriter.request` appends one assistant line (one request)
to the session file, as the CLI does while a session runs.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agent_session.synthetic.claude import encode_cwd

__all__ = ["ClaudeWriter"]

_ids = itertools.count(1)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class ClaudeWriter:
    home: Path
    session_id: str
    cwd: str
    model: str = "claude-sonnet-4-5"
    started_ms: int = 0
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        folder = self.home / ".claude" / "projects" / encode_cwd(self.cwd)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{self.session_id}.jsonl"
        self._write(
            {
                "type": "user",
                "uuid": f"u-{next(_ids)}",
                "parentUuid": None,
                "isSidechain": False,
                "timestamp": _iso(self.started_ms),
                "sessionId": self.session_id,
                "cwd": self.cwd,
                "version": "2.1.330",
                "message": {"role": "user", "content": "go"},
            }
        )

    def _write(self, obj: dict[str, object]) -> None:
        with self.path.open("ab") as f:
            f.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def request(
        self, ts_ms: int, input_tokens: int, output_tokens: int = 0, cache_read: int = 0, cache_write: int = 0
    ) -> None:
        """Append one request (one assistant message with its final usage) at ``ts_ms``."""
        n = next(_ids)
        self._write(
            {
                "type": "assistant",
                "uuid": f"a-{n}",
                "parentUuid": None,
                "isSidechain": False,
                "timestamp": _iso(ts_ms),
                "sessionId": self.session_id,
                "cwd": self.cwd,
                "version": "2.1.330",
                "requestId": f"req_{n:08d}",
                "message": {
                    "id": f"msg_{n:08d}",
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [{"type": "text", "text": "ok"}],
                    "stop_reason": "end_turn",
                    "usage": {
                        "input_tokens": input_tokens,
                        "cache_creation_input_tokens": cache_write,
                        "cache_read_input_tokens": cache_read,
                        "output_tokens": output_tokens,
                    },
                },
            }
        )
