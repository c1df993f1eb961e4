"""Fixtures of the real-CLI tier: installed CLIs (cached per version), a model server, a sandbox.

The tier is opt-in: its tests carry the ``realcli`` marker and are deselected
unless the ``-m`` expression names ``realcli`` (``pytest -m realcli
tests/realcli``), so the default ``pytest -q`` stays fast and offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import clis
from .server import ModelServer

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "realcli" in (config.option.markexpr or ""):
        return
    ours = [i for i in items if HERE in Path(str(i.path)).parents]
    if ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [i for i in items if i not in ours]


@pytest.fixture(scope="session")
def versions() -> dict[str, tuple[str, str]]:
    try:
        return clis.wanted_versions()
    except clis.CliUnavailable as exc:
        pytest.skip(str(exc))


def _cli(agent: str, versions: dict[str, tuple[str, str]]) -> clis.Cli:
    pkg, ver = versions[agent]
    try:
        return clis.install(agent, pkg, ver)
    except clis.CliUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def claude(versions: dict[str, tuple[str, str]]) -> clis.Cli:
    return _cli("claude", versions)


@pytest.fixture(scope="session")
def codex(versions: dict[str, tuple[str, str]]) -> clis.Cli:
    return _cli("codex", versions)


@pytest.fixture(scope="session")
def gemini(versions: dict[str, tuple[str, str]]) -> clis.Cli:
    return _cli("gemini", versions)


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer() as srv:
        yield srv
        assert srv.errors == [], f"model server errors: {srv.errors}"


@pytest.fixture
def sandbox(tmp_path: Path, server: ModelServer) -> clis.Sandbox:
    return clis.Sandbox.create(tmp_path, server.base_url)
