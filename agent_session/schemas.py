"""JSON Schemas of every ``agentsession`` output, built from the pydantic models that produce it.

Why generated and not written by hand: a schema kept apart from the code
drifts; here ``list``/``show`` come from :class:`~agent_session.model.AgentSession`
itself, ``watch`` from the event models in :mod:`agent_session.events`, and
``match``/``report`` from the models below, which describe those commands'
JSON exactly (tests validate real output against each schema).

Schemas describe the *serialized* form (computed fields such as
``display_id`` and ``total_tokens`` included), in JSON Schema draft 2020-12.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from .events import WATCH_EVENT_ADAPTER
from .model import AgentSession, AgentType, TokenUsage
from .schema_names import SCHEMA_NAMES  # apart, so the CLI's parser need not import pydantic

__all__ = ["SCHEMA_NAMES", "MatchRecord", "Report", "ReportRow", "ReportTotals", "schema_for"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class MatchRecord(BaseModel):
    """One element of ``agentsession match --json``: a live agent process tree and its session."""

    model_config = ConfigDict(extra="forbid")

    root_pid: int
    matched_pids: list[int] = Field(description="The root and its tool children, root first.")
    agent_type: AgentType
    session_id: str
    display_id: str
    path: str
    evidence: str = Field(description="How the process was tied to the session (pid file, open file…).")
    confidence: float = Field(ge=0, le=1)


class ReportRow(BaseModel):
    """One line of ``agentsession report --json``: usage of one period (project, model…), agent and model.

    Reports add fields of their own (a block's end, a tool's calls): allowed, not described.
    """

    model_config = ConfigDict(extra="allow")

    period: str = Field(
        description="The row's label: a day, week, month, 5-hour block, project, model or tool."
    )
    agent_type: AgentType | None = Field(default=None, description="Set on --breakdown rows.")
    model: str | None = Field(default=None, description="Set on --breakdown rows and in the models report.")
    usage: TokenUsage
    cost_usd: float | None = Field(description="null when no model of the row has a known price.")
    sessions: int = Field(ge=0)
    requests: int = Field(default=0, ge=0)
    models: list[str] = Field(default_factory=list)
    unpriced_models: list[str] = Field(default_factory=list)


#: The totals line has the shape of a row.
ReportTotals = ReportRow


class Report(BaseModel):
    """``agentsession report KIND --json``; options the report was computed with may be echoed too."""

    model_config = ConfigDict(extra="allow")

    report: str = Field(description="Which report: daily, weekly, monthly, blocks, projects, models, tools.")
    rows: list[ReportRow]
    totals: ReportRow
    mcp_servers: list[ReportRow] | None = Field(
        default=None, description="Per MCP server sums (tools report)."
    )


class _Generator(GenerateJsonSchema):
    """Pydantic's generator, plus the request log (a custom type with a JSON form of its own)."""

    def function_plain_schema(self, schema: core_schema.PlainValidatorFunctionSchema) -> JsonSchemaValue:
        # The only plain-validator field in the models is RequestLog: columns of ints.
        ints = {"type": "array", "items": {"type": "integer"}}
        return {
            "type": "object",
            "description": "Per-request records as columns (see agent_session/requests.py): model names, "
            "model index, delta-encoded times and the five token buckets.",
            "properties": {
                "m": {"type": "array", "items": {"type": "string"}},
                **{k: ints for k in ("mi", "t", "in", "out", "cw", "cr", "rs")},
            },
        }


def _schema(adapter: TypeAdapter[Any], title: str) -> dict[str, Any]:
    out = adapter.json_schema(mode="serialization", schema_generator=_Generator)
    return {"$schema": _DIALECT, "title": title, **{k: v for k, v in out.items() if k != "title"}}


def schema_for(name: Literal["list", "show", "match", "watch", "report"] | str) -> dict[str, Any]:
    """The JSON Schema of one command's ``--json`` output (``watch``: of one line)."""
    if name == "list":
        return _schema(TypeAdapter(list[AgentSession]), "agentsession list --json")
    if name == "show":
        return _schema(TypeAdapter(AgentSession), "agentsession show --json")
    if name == "match":
        return _schema(TypeAdapter(list[MatchRecord]), "agentsession match --json")
    if name == "watch":
        return _schema(WATCH_EVENT_ADAPTER, "agentsession watch (one line)")
    if name == "report":
        return _schema(TypeAdapter(Report), "agentsession report --json")
    raise ValueError(f"no schema named {name!r} (known: {', '.join(SCHEMA_NAMES)})")
