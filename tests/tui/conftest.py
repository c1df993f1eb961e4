"""Fixtures for the monitor tests (helpers live in ``tui_helpers``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tui_helpers import NOW_S, Corpus, FakeProbe, write_corpus

from agent_session import AgentHomes
from tui_app.app import MonitorApp
from tui_app.monitor import Monitor


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Show times in UTC whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    return write_corpus(tmp_path / "home")


@pytest.fixture
def make_app(corpus: Corpus) -> Callable[..., MonitorApp]:
    """An app on the corpus with a frozen clock, no file watcher and a long interval.

    With a one-hour interval only explicit refreshes (``r``) happen during a test.
    """

    def make(probe: FakeProbe | None = None, monitor: Monitor | None = None, **kw: object) -> MonitorApp:
        kw.setdefault("interval", 3600.0)
        kw.setdefault("watch", False)
        if monitor is None:
            monitor = Monitor(
                AgentHomes.resolve(corpus.home),
                user_home=corpus.home,
                clock=lambda: NOW_S,
                probe=probe if probe is not None else FakeProbe(),
                watch=bool(kw["watch"]),  # the app relays the store's watcher, the only one
            )
        return MonitorApp(monitor, **kw)  # type: ignore[arg-type]

    return make
