"""The risk flag's page in Chromium, desktop and phone, both languages: the reviews behind it, and a supervisor's
confirm recorded with their name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from crm.models import RiskFlag
from tests.browser.support import in_thread
from tests.browser.test_desk_pages import SIZES, log_in
from tests.crm import factories as f

pytestmark = pytest.mark.browser


def make_flag() -> int:
    from core.demo import ensure_demo_logins

    ensure_demo_logins()
    who = f.consumer("FLAGGED", display_name="赵六")
    review = f.review(f.order(who, f.merchant(name="星河数码旗舰店")), (1, 1, 1), "不退款就打13800138000投诉")
    return RiskFlag.objects.create(consumer=who, kind="extortion", detected_at=timezone.now(),
                                   evidence={"review_ids": [review.pk], "phrases": ["投诉"]}).pk  # fmt: skip


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_supervisor_confirms_a_flag_on_its_page(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    pk = in_thread(make_flag)
    for size in SIZES:
        page = log_in(browser, live_server, "supervisor", language, size)
        page.goto(f"{live_server.url}/admin/crm/riskflag/{pk}/change/")
        assert "不退款就打138****8000投诉" in page.content()
        page.screenshot(path=str(screenshot_dir / f"riskflag-{size}-{language}.png"), full_page=True)
        if size == "desktop":
            page.click('button[name="status"][value="confirmed"]')
            page.wait_for_selector(".messagelist .success")
            page.screenshot(path=str(screenshot_dir / f"riskflag-confirmed-{language}.png"), full_page=True)
        page.context.close()
    flag = RiskFlag.objects.select_related("reviewed_by").get(pk=pk)
    assert flag.status == "confirmed" and flag.reviewed_by is not None and flag.reviewed_by.username == "supervisor"
