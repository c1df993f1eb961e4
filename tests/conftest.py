"""Shared fixtures: where ../shared/samples is (tests that need it skip cleanly without it)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "samples"
REAL_HOME = SAMPLES / "real" / "home"


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and monitor keep a summary cache in the user cache dir: never the real one in tests."""
    monkeypatch.setenv("AGENTSESSION_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("AGENTSESSION_NO_CACHE", raising=False)


@pytest.fixture
def samples() -> Path:
    """../shared/samples, or skip when this checkout has no shared/ beside it."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples not present")
    return SAMPLES


@pytest.fixture
def real_home(samples: Path) -> Path:
    """The user home written by the real CLIs (samples/real/home)."""
    return samples / "real" / "home"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty user home (agents write under home/.claude, home/.codex, home/.gemini)."""
    h = tmp_path / "home"
    h.mkdir()
    return h
