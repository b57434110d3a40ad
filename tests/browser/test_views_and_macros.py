"""An agent saves a view of the queue and works a ticket with a macro, in Chinese and English, on a desktop
and a phone; then finds the view on their home and the macro's tag in the queue's tag filter. The screenshots
are kept under var/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.demo import DEMO_LOGINS, ensure_demo_logins
from tests.browser.support import in_thread
from tests.crm import factories as f
from tickets import services
from tickets.models import Department, Macro, SavedView, Ticket

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
WORDS = {
    "zh-hans": {"locale": "zh-CN", "applied": "已执行宏“请补充照片”。", "saved": "视图“加急的”已保存。"},
    "en": {"locale": "en-US", "applied": "Macro “请补充照片” applied.", "saved": "View “加急的” saved."},
}


def make_desk() -> Ticket:
    from django.contrib.auth.models import User

    ensure_demo_logins()
    agent = User.objects.get(username="agent")
    dept = Department.objects.create(code="after-sales", name="售后")
    who = f.consumer(display_name="王小明")
    urgent = services.open_ticket(who, subject="耳机左耳没声音", department=dept, priority=4, route=False,
                                  body="左耳没声音")  # fmt: skip
    services.open_ticket(f.consumer(), subject="发票抬头", department=dept, route=False)
    Macro.objects.create(name="请补充照片", owner=agent, reply="{consumer}您好，请发一张耳机的照片。",
                         status="pending", priority=3, tags=["照片"])  # fmt: skip
    return urgent


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_agent_saves_a_view_and_applies_a_macro(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    urgent = in_thread(make_desk)
    words = WORDS[language]
    for size, viewport in SIZES.items():
        context = browser.new_context(locale=words["locale"], viewport=viewport,
                                      extra_http_headers={"Accept-Language": language})  # fmt: skip
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "agent")
        page.fill("#id_password", PASSWORD["agent"])
        page.press("#id_password", "Enter")
        page.wait_for_load_state()
        page.goto(f"{live_server.url}/admin/tickets/ticket/?queue=all&priority__exact=4")
        page.wait_for_selector("#changelist")
        if size == "desktop":
            page.fill(".save-view input[name=name]", "加急的")
            page.click(".save-view button[type=submit]")
            page.wait_for_selector(".messagelist")
            assert words["saved"] in page.locator(".messagelist").inner_text()
        page.goto(f"{live_server.url}/admin/tickets/ticket/")
        page.click(".saved-view:has-text('加急的')")
        page.wait_for_selector("#changelist")
        # On the phone, after the macro lowered its priority on the desktop, the urgent view is empty.
        shown = 1 if size == "desktop" else 0
        assert page.locator("#result_list tbody tr").count() == shown
        assert page.locator(".saved-view:has-text('加急的') .count").inner_text() == str(shown)
        page.screenshot(path=str(screenshot_dir / f"saved-views-{language}-{size}.png"), full_page=True)
        page.goto(f"{live_server.url}/admin/tickets/ticket/{urgent.pk}/change/")
        if size == "desktop":
            page.select_option("form.macro select[name=macro]", label="请补充照片")
            page.click("form.macro button[value=macro]")
            page.wait_for_selector(".messagelist")
            assert words["applied"] in page.locator(".messagelist").inner_text()
            assert page.locator(".ticket-head .tag").inner_text() == "#照片"
        page.screenshot(path=str(screenshot_dir / f"macro-ticket-{language}-{size}.png"), full_page=True)
        # The agent's home links the saved view with its count (0: the macro lowered the priority) ...
        page.goto(f"{live_server.url}/admin/")
        page.wait_for_selector(".home-views")
        assert page.locator(".home-views .saved-view:has-text('加急的') .count").inner_text() == "0"
        page.screenshot(path=str(screenshot_dir / f"home-saved-views-{language}-{size}.png"), full_page=True)
        # ... and the queue filters by the tag the macro added.
        page.goto(f"{live_server.url}/admin/tickets/ticket/?queue=all&tag=照片")
        page.wait_for_selector("#changelist")
        assert page.locator("#result_list tbody tr").count() == 1
        page.screenshot(path=str(screenshot_dir / f"queue-tag-{language}-{size}.png"), full_page=True)
        context.close()
    urgent.refresh_from_db()
    assert (urgent.status, urgent.priority, urgent.tags) == ("pending", 3, ["照片"])
    assert SavedView.objects.get().query == "queue=all&priority__exact=4"
