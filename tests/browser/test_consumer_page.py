"""The consumer's page in Chromium, desktop and phone, both languages: the phone masked until a supervisor presses
reveal, which shows the whole number in place (fetch, no reload) and logs the look."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crm.models import PiiReveal
from tests.browser.support import in_thread
from tests.browser.test_desk_pages import SIZES, log_in
from tests.crm import factories as f

pytestmark = pytest.mark.browser


def make_consumer() -> int:
    from core.demo import ensure_demo_logins

    ensure_demo_logins()
    return f.consumer("SEEN", display_name="赵六", phone="13912345678", id_number="110105199001011234").pk


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_supervisor_reveals_the_phone_in_place_and_the_look_is_logged(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    pk = in_thread(make_consumer)
    for size in SIZES:
        page = log_in(browser, live_server, "supervisor", language, size)
        page.goto(f"{live_server.url}/admin/crm/consumer/{pk}/change/")
        assert page.locator('.pii[data-field="phone"]').inner_text() == "139****5678"
        page.screenshot(path=str(screenshot_dir / f"consumer-{size}-{language}.png"), full_page=True)
        url = page.url
        page.click('button.reveal[value="phone"]')
        page.wait_for_selector('.pii.revealed[data-field="phone"]')
        assert page.url == url and page.locator('.pii[data-field="phone"]').inner_text() == "13912345678"
        assert page.locator('.pii[data-field="id_number"]').inner_text() == "110***********1234"
        page.screenshot(path=str(screenshot_dir / f"consumer-revealed-{size}-{language}.png"), full_page=True)
        page.context.close()
    assert PiiReveal.objects.filter(consumer_id=pk, field="phone").count() == 2
    assert PiiReveal.objects.filter(field="id_number").count() == 0
