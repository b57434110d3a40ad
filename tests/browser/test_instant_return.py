"""极速退货 in a real Chromium: an agent presses "Instant return" on a gold member's ticket and reads where the
goods go and by when; the carrier's scan later refunds it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from core.demo import DEMO_LOGINS, ensure_demo_logins
from crm.models import CreditTier
from tests.browser.support import in_thread
from tests.crm import factories as f
from tickets import services
from tickets.models import Department, ReturnRequest, Ticket
from tickets.returns import record_return_scan

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
ADDRESS = "杭州市余杭区文一西路 969 号 星河数码售后仓"


def make_ticket() -> Ticket:
    ensure_demo_logins()
    gold = f.consumer(display_name="王小明", tier=CreditTier.objects.get(name="金牌会员"))
    shop = f.merchant(name="星河数码旗舰店", return_address=ADDRESS)
    order = f.order(gold, shop, "399.00", status="delivered", delivered_at=timezone.now() - timedelta(days=2))
    dept = Department.objects.create(code="after-sales", name="售后")
    ticket = services.open_ticket(gold, subject="耳机尺寸不合适，想退货", department=dept, order=order, kind="return",
                                  body="戴着不舒服，想退货")  # fmt: skip
    services.assign_ticket(ticket, User.objects.get(username="agent"))
    return ticket


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_agent_approves_a_gold_members_return_at_once(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    ticket: Ticket = in_thread(make_ticket)
    header = "zh-CN" if language == "zh-hans" else "en"
    page = browser.new_context(locale=header, extra_http_headers={"Accept-Language": header},
                               viewport={"width": 1280, "height": 900}).new_page()  # fmt: skip
    page.goto(f"{live_server.url}/admin/login/?next=/admin/tickets/ticket/{ticket.pk}/change/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", PASSWORD["agent"])
    page.press("#id_password", "Enter")
    page.wait_for_selector(".timeline")

    page.fill(".return-form input[name=reason]", "尺寸不合适")
    page.click(".return-form button[value=return]")
    page.wait_for_selector(".messagelist")

    made = ReturnRequest.objects.get()
    assert made.decision == "instant" and made.ticket_id == ticket.pk
    said = page.locator(".messagelist").inner_text()
    assert ADDRESS in said and timezone.localtime(made.ship_by).strftime("%Y-%m-%d") in said
    assert page.locator(".return-line").count() == 1
    page.screenshot(path=str(screenshot_dir / f"agent-instant-return-{language}.png"), full_page=True)
    page.context.close()

    in_thread(lambda: record_return_scan(made, tracking_no="SF1234567890"))
    made.refresh_from_db()
    assert made.refund is not None and made.refund.amount == Decimal("399.00")
