"""The desk's pages in a real Chromium, desktop and phone, Chinese and English: the queue, a ticket, opening a
ticket, a refund's review page (rejected with a reason, said in red) and the forbidden page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.demo import DEMO_LOGINS, ensure_demo_logins
from crm.models import CreditTier, RiskFlag
from tests.browser.support import in_thread
from tests.crm import factories as f
from tickets import refunds, services
from tickets.models import AgentProfile, Department, RefundRequest, Ticket

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
ACCEPT = {"zh-hans": "zh-CN,zh;q=0.9", "en": "en-US,en;q=0.9"}


def make_desk() -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.utils import timezone

    ensure_demo_logins()
    supervisor = User.objects.get(username="supervisor")
    dept = Department.objects.create(code="after-sales", name="售后")
    AgentProfile.objects.update_or_create(user=User.objects.get(username="agent"), defaults={"department": dept})
    who = f.consumer(display_name="赵六", phone="13912345678", tier=CreditTier.objects.get(name="受限"),
                     credit_score=420)  # fmt: skip
    RiskFlag.objects.create(consumer=who, kind="extortion", status="open", detected_at=timezone.now())
    order = f.order(who, f.merchant(name="星河数码旗舰店"), "90.00", status="delivered", delivered_at=timezone.now())
    ticket = services.open_ticket(who, subject="耳机左耳没声音，申请退款", department=dept, order=order,
                                  kind="refund", body="左耳没声音，我要退款")  # fmt: skip
    services.assign_ticket(ticket, supervisor)
    for n in range(6):
        other = services.open_ticket(f.consumer(), subject=f"等待消费者回复的问题{n}", department=dept, route=False)
        services.assign_ticket(other, supervisor)
        if n % 2:
            services.transition_ticket(other, "pending")
    # The widest cells of the queue in English: an old ticket (its date), two days overdue, waiting on the consumer.
    late = services.open_ticket(f.consumer(), subject="快递员未经同意放驿站", department=dept, route=False)
    services.assign_ticket(late, supervisor)
    Ticket.objects.filter(pk=late.pk).update(status="pending", sla_state="breached",
                                             resolution_due=timezone.now() - timedelta(days=2, hours=14),
                                             updated_at=timezone.now() - timedelta(days=40))  # fmt: skip
    waiting = refunds.request_refund(order, Decimal("60.00"), "未收到货", key="browser-wait", ticket=ticket)
    assert waiting.decision == "manual"
    return {"ticket": ticket.pk, "refund": waiting.pk}


def log_in(browser: Any, live_server: Any, username: str, language: str, size: str) -> Any:
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": ACCEPT[language]},
                                  viewport=SIZES[size])  # fmt: skip
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD[username])
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.mark.parametrize("language", list(ACCEPT))
def test_the_desk_pages_in_both_languages_and_sizes_and_a_refund_rejected_with_a_reason(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    made = in_thread(make_desk)
    base = live_server.url
    pages = {
        "queue": "/admin/tickets/ticket/?queue=open",
        "ticket": f"/admin/tickets/ticket/{made['ticket']}/change/",
        "new-ticket": "/admin/tickets/ticket/add/",
        "refunds": "/admin/tickets/refundrequest/",
        "refund-review": f"/admin/tickets/refundrequest/{made['refund']}/change/",
    }
    for size in SIZES:
        page = log_in(browser, live_server, "supervisor", language, size)
        for name, url in pages.items():
            page.goto(base + url)
            page.screenshot(path=str(screenshot_dir / f"desk-{name}-{size}-{language}.png"), full_page=True)
        page.goto(base + pages["queue"])
        status = page.locator("#result_list td.field-status_badge .badge").first
        assert status.is_visible() and page.locator("#result_list td.field-time_left").first.is_visible()
        box = status.bounding_box()
        assert box is not None and box["height"] < 30  # one line, not four
        if size == "desktop":  # with the navigation sidebar open: no column pushed out of view, in English too
            assert page.locator("#main.shifted").count() == 1
            assert page.evaluate("() => { const r = document.querySelector('.results'); "
                                 "return r.scrollWidth - r.clientWidth; }") == 0  # fmt: skip
            assert page.locator("#result_list td.field-updated").last.is_visible()
            filters = "[...document.querySelectorAll('#changelist-filter, #changelist-filter .module')]"
            assert page.evaluate(f"() => {filters}.filter(n => n.scrollWidth > n.clientWidth).length") == 0
            page.goto(base + pages["refunds"] + "?decision=all")  # the refunds list too: one line a row, all in view
            assert page.evaluate("() => { const r = document.querySelector('.results'); "
                                 "return r.scrollWidth - r.clientWidth; }") == 0  # fmt: skip
            assert page.locator("#result_list td.field-decider").first.is_visible()
            assert page.locator("#result_list tbody tr").first.bounding_box()["height"] < 45
            page.goto(base + pages["ticket"])
            # The desk's buttons are the admin's (not the browser's grey boxes): send is the default one.
            look = "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).borderTopStyle]"
            assert page.locator('button[value="reply"]').evaluate(look) == ["rgb(32, 80, 103)", "none"]
            assert page.locator('button[value="status"]').first.evaluate(look) == ["rgb(65, 118, 144)", "none"]
        page.context.close()

    page = log_in(browser, live_server, "supervisor", language, "desktop")
    page.goto(base + pages["refund-review"])
    assert "赵六" in page.locator(".side").inner_text() and "139****5678" not in page.content()
    page.click("button[value=reject]")  # the reason is required: the browser keeps the form
    assert page.url.endswith(pages["refund-review"])
    page.fill("#reject-note", "物流显示已签收")
    page.click("button[value=reject]")
    page.wait_for_selector(".messagelist .error")
    page.screenshot(path=str(screenshot_dir / f"desk-refund-rejected-{language}.png"), full_page=True)
    page.goto(base + pages["ticket"])
    assert page.locator(".timeline .change.refund.rejected").count() == 1
    assert "物流显示已签收" in page.locator(".timeline .change.refund.rejected").inner_text()
    page.screenshot(path=str(screenshot_dir / f"desk-ticket-after-rejection-{language}.png"), full_page=True)
    page.context.close()
    assert RefundRequest.objects.get(pk=made["refund"]).decision == "rejected"

    merchant = log_in(browser, live_server, "merchant", language, "desktop")
    merchant.goto(base + "/admin/tickets/refundrequest/add/")
    merchant.screenshot(path=str(screenshot_dir / f"desk-forbidden-{language}.png"), full_page=True)
    assert "403 Forbidden" not in merchant.content()
    merchant.context.close()
