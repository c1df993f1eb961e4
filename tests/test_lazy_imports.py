"""``import agent_session`` loads no heavy dependency; a name imports its module on first use.

Looked at in a fresh interpreter (its ``sys.modules``), since this test
process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys

import agent_session

HEAVY = ("pydantic", "pydantic_core", "genai_prices", "textual", "orjson", "rich", "watchfiles")


def imported_modules(code: str) -> set[str]:
    """Every module a fresh interpreter has loaded after running ``code``."""
    proc = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(proc.stdout.split())


def test_import_agent_session_loads_nothing_heavy() -> None:
    mods = imported_modules("import agent_session")
    assert "agent_session" in mods
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    assert not {m for m in mods if m.startswith("agent_session.")}
    assert "importlib.metadata" not in mods  # the version is looked up when asked for


def test_a_public_name_imports_only_its_module() -> None:
    mods = imported_modules("from agent_session import AgentHomes")
    assert "agent_session.discovery" in mods
    assert "agent_session.store" not in mods and "agent_session.cache" not in mods
    assert not {m for m in mods if m.split(".")[0] in ("genai_prices", "textual", "watchfiles")}


def test_the_store_loads_no_prices_ui_or_watcher() -> None:
    mods = imported_modules("from agent_session import SessionStore")
    assert "agent_session.store" in mods
    assert not {m for m in mods if m.split(".")[0] in ("genai_prices", "textual", "watchfiles")}


def test_every_public_name_resolves() -> None:
    for name in agent_session.__all__:
        assert getattr(agent_session, name) is not None, name
    assert agent_session.SessionStore.__module__ == "agent_session.store"
    assert isinstance(agent_session.__version__, str) and agent_session.__version__
    try:
        agent_session.NoSuchName  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


CLI_HELP = """
import contextlib, io
from agent_session.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0, exc.code
assert "list sessions, most recently active first" in out.getvalue()
assert "token and cost totals per day" in out.getvalue()
"""


def test_cli_help_imports_no_pydantic_prices_or_ui() -> None:
    mods = imported_modules(CLI_HELP)
    assert "agent_session.cli" in mods
    assert not {
        m for m in mods if m.split(".")[0] in ("pydantic", "pydantic_core", "genai_prices", "textual")
    }
    # Nor the modules that would bring pydantic along.
    assert not {"agent_session.model", "agent_session.store", "agent_session.cli_report"} & mods


def test_the_report_command_still_loads_its_whole_parser() -> None:
    mods = imported_modules(
        "import contextlib, io\n"
        "from agent_session.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        main(['report', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert '{daily,weekly,monthly,blocks,projects,models,tools}' in out.getvalue(), out.getvalue()\n"
    )
    assert "agent_session.cli_report" in mods


def test_the_light_parser_agrees_with_the_whole_one() -> None:
    """Names the CLI spells out to stay light are the models' and the events' own."""
    from agent_session.cli import _EVENT_NAMES_SHOWN, AGENT_NAMES, build_parser
    from agent_session.events import EVENT_NAMES
    from agent_session.model import AgentType
    from agent_session.schema_names import SCHEMA_NAMES
    from agent_session.schemas import SCHEMA_NAMES as FROM_SCHEMAS

    assert tuple(a.value for a in AgentType) == AGENT_NAMES
    assert _EVENT_NAMES_SHOWN == EVENT_NAMES
    assert SCHEMA_NAMES is FROM_SCHEMAS
    assert build_parser(lazy=True).format_help() == build_parser().format_help()
