"""The request log's trusted reader (the summary cache's fast path) agrees with the checking one."""

from __future__ import annotations

import pytest

from agent_session.cache import _session_builder
from agent_session.requests import RequestLog


def sample() -> RequestLog:
    log = RequestLog()
    log.append(1_700_000_000_000, "m-a", (10, 20, 30, 40, 5))
    log.append(1_700_000_000_500, "m-b", (1, 2, 3, 4, 0))
    log.append(1_700_000_000_400, "m-a", (0, 0, 0, 7, 0))  # out of order: a negative delta
    return log


def test_trusted_reader_equals_the_checking_reader() -> None:
    obj = sample().to_json_obj()
    fast = RequestLog.from_trusted_json_obj(obj)
    assert fast == RequestLog.from_json_obj(obj) == sample()
    assert fast.to_json_obj() == obj
    assert RequestLog.from_trusted_json_obj(RequestLog().to_json_obj()) == RequestLog()


@pytest.mark.parametrize(
    "change",
    [
        {"mi": [0, 5, 0]},  # model index out of range
        {"in": [10, -1, 0]},  # negative count
        {"t": [-5, 0, 0]},  # negative time
        {"out": [1, 2]},  # short column
        {"cw": [1, 2.5, 3]},  # not an integer
        {"m": ["m-a", "m-a"]},  # duplicate names
        {"extra": []},  # unknown key
    ],
)
def test_trusted_reader_refuses_what_the_checking_reader_refuses(change: dict[str, object]) -> None:
    obj = {**sample().to_json_obj(), **change}
    with pytest.raises((KeyError, TypeError, ValueError, OverflowError)):
        RequestLog.from_trusted_json_obj(obj)
    if "extra" not in change:
        with pytest.raises(ValueError):
            RequestLog.from_json_obj(obj)


def test_cache_builder_falls_back_to_the_checking_reader_for_a_missing_key() -> None:
    from agent_session.model import AgentSession

    build = _session_builder()
    assert build is not None
    s = AgentSession(agent_type="claude", session_id="abc", path="/x.jsonl")
    data = s.model_dump(mode="json", exclude_computed_fields=True)
    data["requests"] = {"m": [], "mi": [], "t": []}  # bucket columns left out: the checking reader's defaults
    with pytest.raises(KeyError):
        RequestLog.from_trusted_json_obj(data["requests"])
    rebuilt = build(data)
    assert rebuilt.requests == RequestLog() and len(rebuilt.requests) == 0
