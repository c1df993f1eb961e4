"""Per-format builders for the bad-input corpus: a generated session plus lines to break it.

``Target`` holds one generated session (its spec, its lines, where it goes)
and knows how to write extra *usage-bearing* lines in that format from raw
(possibly wrong-typed) counts, so a case can say exactly what the valid part
of its file must add up to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from robustkit import expected_usage, make_spec, synth, write_lines

from agent_session import TokenUsage
from agent_session.synthetic import SynthSpec

_TS = "2026-11-18T23:00:00.000Z"


@dataclass
class Target:
    fmt: str
    home: Path
    spec: SynthSpec
    lines: list[bytes] = field(default_factory=list)

    @classmethod
    def make(cls, fmt: str, home: Path, n: int = 1, **kw: Any) -> Target:
        spec = make_spec(fmt, n, **kw)
        t = cls(fmt, home, spec)
        if fmt != "legacy":
            t.lines = list(synth(fmt).session_lines(spec))
        return t

    @property
    def path(self) -> Path:
        path: Path = synth(self.fmt).session_path(self.home, self.spec)
        return path

    @property
    def session_id(self) -> str:
        return self.spec.session_id

    @property
    def model(self) -> str:
        """The model the file's last usage is charged to."""
        models = self.spec.models
        return models[(self.spec.turns - 1) % len(models)]

    def expected(self) -> dict[str, tuple[int, ...]]:
        return expected_usage(self.fmt, self.spec)

    def write(self, lines: list[bytes] | None = None) -> Path:
        """The session's lines (or ``lines``) at its path, plus the format's side files."""
        if self.fmt == "gemini":
            # Let the writer create projects.json and the project folder, then replace the file.
            synth("gemini").write_session(self.home, self.spec)
        return write_lines(self.path, self.lines if lines is None else lines)

    def write_document(self, data: bytes) -> Path:
        """Legacy Gemini: the project mapping as the CLI keeps it, and ``data`` as the document."""
        synth("gemini").write_session(self.home, self.spec)
        self.path.write_bytes(data)
        return self.path

    def document(self) -> bytes:
        doc: bytes = synth("gemini").legacy_document(self.spec)
        return doc

    # ----------------------------------------------------------- extra lines
    def usage_line(self, tag: str, raw: dict[str, Any]) -> bytes:
        """One more request with usage ``raw`` (field names of this format)."""
        rec: dict[str, Any]
        if self.fmt == "claude":
            rec = {
                "parentUuid": None,
                "isSidechain": False,
                "type": "assistant",
                "message": {
                    "id": f"msg_{tag}",
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [{"type": "text", "text": "extra"}],
                    "usage": raw,
                },
                "requestId": f"req_{tag}",
                "uuid": f"uuid-{tag}",
                "timestamp": _TS,
                "sessionId": self.session_id,
            }
        elif self.fmt == "codex":
            rec = {
                "timestamp": _TS,
                "type": "event_msg",
                "payload": {
                    "type": "token_count",
                    "info": {"total_token_usage": raw, "last_token_usage": None},
                },
            }
        elif self.fmt == "gemini":
            rec = {
                "id": f"g-{tag}",
                "timestamp": _TS,
                "type": "gemini",
                "content": "extra",
                "thoughts": [],
                "tokens": raw,
                "model": self.model,
            }
        else:
            raise ValueError(self.fmt)
        return orjson.dumps(rec) + b"\n"

    def last_codex_total(self) -> dict[str, int]:
        for line in reversed(self.lines):
            if b'"total_token_usage"' in line:
                rec = orjson.loads(line)
                return dict(rec["payload"]["info"]["total_token_usage"])
        return {}

    def plain_usage(self, tag: str, counts: tuple[int, int, int, int]) -> tuple[bytes, TokenUsage]:
        """A valid extra request adding ``counts`` = (input, output, cached, other) in IR terms."""
        fresh, out, cached, other = counts
        if self.fmt == "claude":
            raw = {
                "input_tokens": fresh,
                "output_tokens": out,
                "cache_creation_input_tokens": other,
                "cache_read_input_tokens": cached,
            }
            return self.usage_line(tag, raw), TokenUsage(
                input_tokens=fresh, output_tokens=out, cache_creation_tokens=other, cache_read_tokens=cached
            )
        if self.fmt == "codex":
            total = self.last_codex_total()
            raw = dict(total)
            raw["input_tokens"] = total["input_tokens"] + fresh + cached
            raw["cached_input_tokens"] = total["cached_input_tokens"] + cached
            raw["output_tokens"] = total["output_tokens"] + out
            raw["total_tokens"] = total["total_tokens"] + fresh + cached + out
            return self.usage_line(tag, raw), TokenUsage(
                input_tokens=fresh, output_tokens=out, cache_read_tokens=cached
            )
        raw = {
            "input": fresh + cached,
            "output": out,
            "cached": cached,
            "thoughts": 0,
            "tool": 0,
            "total": fresh + cached + out,
        }
        return self.usage_line(tag, raw), TokenUsage(
            input_tokens=fresh, output_tokens=out, cache_read_tokens=cached
        )
