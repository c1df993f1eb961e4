"""The model server itself: unique usage numbers, and the three wire formats it streams."""

from __future__ import annotations

import itertools
import json
import urllib.request
from typing import Any

import pytest

from .server import ModelServer, answer, iter_sse, shell, usage_for

pytestmark = pytest.mark.realcli


def test_usage_sums_identify_the_responses() -> None:
    """No two multisets of ≤10 responses (each counted 0, 1 or 2 times) share a bucket sum."""
    columns = {
        tuple(getattr(usage_for(n, protocol), bucket) for n in range(1, 11))
        for protocol in ("anthropic", "openai", "gemini")
        for bucket in ("input", "output", "cache_creation", "cache_read", "reasoning")
    }
    columns.discard((0,) * 10)
    assert len(columns) == 4  # factors 1, 2, 3, 4 (Gemini fresh + tool = 2)
    for values in columns:
        sums = {
            sum(c * v for c, v in zip(mult, values, strict=True))
            for mult in itertools.product((0, 1, 2), repeat=10)
        }
        assert len(sums) == 3**10, values
    assert usage_for(1, "anthropic").total == 1 + 4 + 2 + 3
    assert usage_for(3, "gemini").input == 9 + 9  # fresh + tool-use prompt


def _post(url: str, body: dict[str, Any]) -> str:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.read().decode())


def test_wire_formats_and_log() -> None:
    with ModelServer() as srv:
        tag = srv.script("w", [shell("ls"), answer("fin")])
        # Anthropic: a main request (tools offered) at step 0 → a Bash tool_use.
        events = list(
            iter_sse(
                _post(
                    f"{srv.base_url}/v1/messages",
                    {
                        "model": "m-a",
                        "stream": True,
                        "tools": [{"name": "Bash"}],
                        "messages": [{"role": "user", "content": f"go {tag}"}],
                    },
                )
            )
        )
        assert next(e["type"] for e in events) == "message_start"
        delta = next(e for e in events if e["type"] == "message_delta")
        assert delta["usage"] == {
            "input_tokens": 1,
            "cache_creation_input_tokens": 2,
            "cache_read_input_tokens": 3,
            "output_tokens": 4,
        }
        start = [e for e in events if e["type"] == "content_block_start"][1]
        assert start["content_block"]["name"] == "Bash"
        # OpenAI Responses: one tool result after the tag → step 1, the answer.
        events = list(
            iter_sse(
                _post(
                    f"{srv.base_url}/v1/responses",
                    {
                        "model": "m-o",
                        "tools": [{"type": "function", "name": "exec_command"}],
                        "input": [
                            {
                                "type": "message",
                                "role": "user",
                                "content": [{"type": "input_text", "text": tag}],
                            },
                            {
                                "type": "function_call",
                                "call_id": "c1",
                                "name": "exec_command",
                                "arguments": "{}",
                            },
                            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
                        ],
                    },
                )
            )
        )
        done = events[-1]["response"]
        assert done["output"][0]["content"][0]["text"] == "fin"
        assert done["usage"]["input_tokens"] == 3 + 9 and done["usage"]["input_tokens_details"] == {
            "cached_tokens": 9
        }
        # Gemini: no tools offered → a side request (router), logged apart.
        body = json.loads(
            _post(
                f"{srv.base_url}/v1beta/models/g-1:generateContent",
                {"contents": [{"role": "user", "parts": [{"text": "pick model_choice"}]}]},
            )
        )
        assert json.loads(body["candidates"][0]["content"]["parts"][0]["text"])["model_choice"] == "flash"
        assert [(r.protocol, r.model, r.main, r.step, r.action) for r in srv.log] == [
            ("anthropic", "m-a", True, 0, "shell"),
            ("openai", "m-o", True, 1, "answer"),
            ("gemini", "g-1", False, 0, "answer"),
        ]
        assert srv.errors == []
