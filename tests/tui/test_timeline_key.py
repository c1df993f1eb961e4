"""``g`` opens the selected session's timeline full screen; Escape returns."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tui_helpers import settled, wait_for

from tui_app.app import MonitorApp
from tui_app.widgets.timeline import TimelineScreen


@pytest.mark.slow
async def test_g_opens_the_timeline_of_the_selected_session(make_app: Callable[..., MonitorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and app.snapshot.detail is not None
                and app.snapshot.detail.session is not None
            ),
            "the detail",
        )
        selected = app.snapshot.detail.session  # type: ignore[union-attr]
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), "the timeline")
        assert app.screen.session is selected  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TimelineScreen), "back")
