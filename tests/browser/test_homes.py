"""The four homes in a real Chromium, in Chinese and English, on a desktop and a phone; the wallboard live."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from core.demo import DEMO_LOGINS, ensure_demo_logins
from tests.browser.support import in_thread
from tests.browser.test_live_chat import asgi_server  # noqa: F401  (the fixture: daphne on the test database)

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
ACCEPT = {"zh-hans": "zh-CN,zh;q=0.9", "en": "en-US,en;q=0.9"}
HEADINGS = {
    "zh-hans": {"agent": "我的工作台", "supervisor": "实时看板", "merchant": "我的店铺"},
    "en": {"agent": "My desk", "supervisor": "Wallboard", "merchant": "My shop"},
}


def make_desk() -> None:
    """A desk with work on it: the agent's tickets, a waiting chat, the shop's tickets and its score."""
    from decimal import Decimal

    from django.contrib.auth.models import User

    from chat.models import ChatSession
    from merchants.models import MerchantMembership, MerchantScore
    from tests.crm import factories as f
    from tickets.models import AgentProfile, Department, Ticket

    ensure_demo_logins()
    agent, merchant = User.objects.get(username="agent"), User.objects.get(username="merchant")
    AgentProfile.objects.update_or_create(user=agent, defaults={"available": True})
    shop = f.merchant(name="星河数码旗舰店")
    MerchantMembership.objects.get_or_create(user=merchant, defaults={"merchant": shop})
    MerchantScore.objects.create(merchant=shop, day=timezone.localdate(), reviews=40, dsr_item=Decimal("4.8"),
                                 dsr_service=Decimal("4.7"), dsr_logistics=Decimal("4.6"), orders=120,
                                 dispute_rate=Decimal("0.01"), service_score=Decimal("86.40"),
                                 traffic_weight=Decimal("1.1"))  # fmt: skip
    after_sales = Department.objects.create(code="after-sales", name="售后")
    Department.objects.create(code="logistics", name="物流")
    now = timezone.now()
    states = [Ticket.SLAState.OK, Ticket.SLAState.AT_RISK, Ticket.SLAState.BREACHED, Ticket.SLAState.OK]
    for k, sla_state in enumerate(states):
        who = f.consumer(display_name=f"顾客{k}")
        Ticket.objects.create(subject=f"耳机没声音 {k}", department=after_sales, consumer=who, merchant=shop,
                              order=f.order(who, shop), assignee=agent if k < 3 else None, status="open",
                              sla_state=sla_state, created_at=now, updated_at=now)  # fmt: skip
    who = f.consumer(display_name="陈晓")
    waiting = Ticket.objects.create(subject="在线聊天", department=after_sales, consumer=who, channel="chat",
                                    created_at=now, updated_at=now)  # fmt: skip
    ChatSession.objects.create(ticket=waiting, consumer=who, state="waiting", queued_at=now - timedelta(seconds=95),
                               created_at=now, last_activity_at=now)  # fmt: skip


def login(browser: Any, base: str, username: str, language: str, viewport: str) -> Any:
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": ACCEPT[language]},
                                  viewport=VIEWPORTS[viewport])  # fmt: skip
    page = context.new_page()
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD[username])
    page.press("#id_password", "Enter")
    page.wait_for_load_state("networkidle")
    return page


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_role_lands_on_its_home(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    in_thread(make_desk)
    for viewport in VIEWPORTS:
        for username in ("agent", "supervisor", "merchant", "business"):
            page = login(browser, live_server.url, username, language, viewport)
            shot = str(screenshot_dir / f"home-{username}-{viewport}-{language}.png")
            if username == "business":
                assert page.url == f"{live_server.url}/radio/"
                page.screenshot(path=shot, full_page=True)
                page.context.close()
                continue
            assert page.url == f"{live_server.url}/admin/"
            assert page.locator("h1").first.inner_text() == HEADINGS[language][username]
            assert page.locator("#content-main .app-tickets").count() == 1  # the app list, below
            if username == "agent":
                figures = page.locator(".tile .figure").all_inner_texts()
                assert figures[:4] == ["3", "1", "1", "1"]  # my open, due soon, breached, chats waiting
            if username == "merchant":
                assert page.locator(".tile .figure").all_inner_texts() == ["4", "86.40"]
                assert page.locator(".home-table tbody tr").count() == 4  # the shop's, not only "mine"
            if username == "supervisor":
                row = page.locator('#wallboard-departments tr:has-text("售后")')
                assert row.locator('[data-k="waiting"]').inner_text() == "1"
            page.screenshot(path=shot, full_page=True)
            page.context.close()


def test_the_wallboard_updates_over_the_events_socket(browser: Any, asgi_server: str, screenshot_dir: Path) -> None:  # noqa: F811
    in_thread(make_desk)
    page = login(browser, asgi_server, "supervisor", "zh-hans", "desktop")
    page.wait_for_selector("#wallboard-live.on")
    row = page.locator('#wallboard-departments tr:has-text("物流")')
    assert row.locator('[data-k="unassigned"]').inner_text() == "0"

    def more_work_and_push() -> None:
        from home import tasks
        from tests.crm import factories as f
        from tickets.models import Department, Ticket

        now = timezone.now()
        logistics = Department.objects.get(code="logistics")
        for k in range(2):
            Ticket.objects.create(subject=f"快递丢了 {k}", department=logistics, consumer=f.consumer(), status="new",
                                  created_at=now, updated_at=now)  # fmt: skip
        tasks.push_wallboard()
        connection.close()

    thread = threading.Thread(target=more_work_and_push)
    thread.start()
    thread.join()
    row.locator('[data-k="unassigned"]:has-text("2")').wait_for(timeout=10_000)
    # The pushed figures are written by the script as the page writes them: a wait in words, not "1:35".
    pushed = page.locator('#wallboard-departments tr:has-text("售后") [data-k="longest_wait"]').inner_text()
    assert re.fullmatch(r"1分(3[5-9]|4\d)秒", pushed), pushed
    page.screenshot(path=str(screenshot_dir / "home-wallboard-live-desktop-zh-hans.png"), full_page=True)
    page.context.close()
