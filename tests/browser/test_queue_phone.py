"""The ticket queue on a phone (390 px) shows each ticket's status and SLA time left without scrolling sideways;
at 1440 px with the sidebar open a status stays on one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import in_thread
from tests.browser.test_desk_pages import log_in, make_desk

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_queue_shows_status_and_time_left_within_a_phone_and_one_line_statuses_on_a_desktop(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    in_thread(make_desk)
    for size, width in (("phone", 390), ("desktop", 1440)):
        page = log_in(browser, live_server, "supervisor", language, size)
        page.goto(f"{live_server.url}/admin/tickets/ticket/?queue=open")
        page.screenshot(path=str(screenshot_dir / f"queue-{size}-{language}.png"), full_page=True)
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 8  # make_desk: seven open tickets and a late one waiting on the consumer
        for row in range(rows.count()):
            for column in ("status_badge", "time_left"):
                box = rows.nth(row).locator(f"td.field-{column}").bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (size, column, box)
            badge = rows.nth(row).locator("td.field-status_badge .badge").bounding_box()
            assert badge is not None and badge["height"] < 30  # one line, not four
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        results = page.locator("#changelist .results").bounding_box()
        assert results is not None
        for cell in page.locator("#result_list tbody tr:first-child td:visible").all():  # nothing cut off the right
            box = cell.bounding_box()
            assert box is not None and box["x"] + box["width"] <= results["x"] + results["width"] + 1, (size, box)
        page.context.close()
