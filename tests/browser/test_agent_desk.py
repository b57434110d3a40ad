"""The agent's path in a real Chromium: queue → ticket → canned reply → instant refund → resolve,
and a restricted consumer's refund going to manual review."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from core.demo import DEMO_LOGINS, ensure_demo_logins
from crm.models import CreditTier, Order
from tests.crm import factories as f
from tickets import services
from tickets.models import CannedReply, Department, RefundRequest, Ticket

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}


def make_desk() -> dict[str, Any]:
    """The agent's two tickets. Run in a thread of its own: realtime events are sent with async_to_sync,
    which refuses to run in the thread where Playwright's event loop lives."""
    from django.contrib.auth.models import User

    made: dict[str, Any] = {}

    def build() -> None:
        ensure_demo_logins()
        agent = User.objects.get(username="agent")
        dept = Department.objects.create(code="after-sales", name="售后")
        CannedReply.objects.create(title="致歉并退款", body="{consumer}您好，非常抱歉，已为您办理退款。")
        vip = f.consumer(display_name="王小明", tier=CreditTier.objects.get(name="88VIP"))
        made["vip_order"] = f.order(vip, f.merchant(name="星河数码旗舰店"), "199.00", status="delivered")
        made["ticket"] = services.open_ticket(vip, subject="耳机左耳没声音", department=dept, order=made["vip_order"],
                                              kind="refund", body="左耳没声音，申请退款")  # fmt: skip
        services.assign_ticket(made["ticket"], agent)
        poor = f.consumer(display_name="李四", tier=CreditTier.objects.get(name="受限"))
        made["poor_ticket"] = services.open_ticket(poor, subject="要退款", department=dept,
                                                   order=f.order(poor, f.merchant(), "80.00"))  # fmt: skip
        services.assign_ticket(made["poor_ticket"], agent)
        connection.close()

    thread = threading.Thread(target=build)
    thread.start()
    thread.join()
    return made


def test_agent_works_a_ticket_end_to_end(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None
) -> None:
    made = make_desk()
    vip_order, ticket, poor_ticket = made["vip_order"], made["ticket"], made["poor_ticket"]

    page = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"},
                               viewport={"width": 1280, "height": 900}).new_page()  # fmt: skip
    page.goto(f"{live_server.url}/admin/login/?next=/admin/tickets/ticket/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", PASSWORD["agent"])
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/admin/tickets/ticket/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2  # my open tickets, the default view
    page.screenshot(path=str(screenshot_dir / "agent-queue-zh-hans.png"), full_page=True)

    page.get_by_role("link", name="耳机左耳没声音").click()
    page.wait_for_selector(".timeline")
    assert "左耳没声音，申请退款" in page.locator(".timeline").inner_text()
    page.select_option("#canned", label="致歉并退款")
    assert page.input_value("#reply-body") == "王小明您好，非常抱歉，已为您办理退款。"
    page.click("button[value=reply]")
    page.wait_for_selector(".messagelist")
    page.fill(".refund-form input[name=amount]", "199.00")
    page.fill(".refund-form input[name=reason]", "质量问题")
    page.click(".refund-form button[value=refund]")
    page.wait_for_selector(".messagelist")
    assert (
        "即时" in page.locator(".messagelist").inner_text()
        or "instant" in page.locator(".messagelist").inner_text().lower()
    )
    page.click("button.status-resolved")
    page.wait_for_selector(".badge.status.resolved")
    page.screenshot(path=str(screenshot_dir / "agent-ticket-zh-hans.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/tickets/ticket/{poor_ticket.pk}/change/")
    page.fill(".refund-form input[name=amount]", "80")
    page.click(".refund-form button[value=refund]")
    page.wait_for_selector(".messagelist")
    page.context.close()

    vip_order.refresh_from_db()
    ticket.refresh_from_db()
    assert (vip_order.refunded_amount, vip_order.status, ticket.status) == (
        Decimal("199.00"),
        Order.Status.REFUNDED,
        "resolved",
    )
    assert ticket.first_response_at is not None
    decisions = dict(RefundRequest.objects.values_list("order__consumer__display_name", "decision"))
    assert decisions == {"王小明": "instant", "李四": "manual"}
    assert Ticket.objects.get(pk=poor_ticket.pk).status == "new"
