"""The console for a shift in Chromium: my chats on the left with unread counts, one conversation at a time,
the consumer beside it, shortcuts, local times, a real availability switch and the title alert."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from chat.models import ChatSession
from core.demo import DEMO_LOGINS, ensure_demo_logins
from tests.browser.support import in_thread
from tests.browser.test_live_chat import asgi_server  # noqa: F401  (the fixture: daphne on the test database)

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
ACCEPT = {"zh-hans": "zh-CN,zh;q=0.9", "en": "en-US,en;q=0.9"}
WORDS = {"zh-hans": {"available": "可接单", "away": "离开", "more": "还有 3 个订单"},
         "en": {"available": "Available", "away": "Away", "more": "3 more orders"}}  # fmt: skip


def two_chats_held_by_the_agent() -> dict[str, Any]:
    """Two consumers handed to the demo agent, the first with five orders; made off Playwright's thread."""
    from django.contrib.auth.models import User

    from chat import desk, services
    from tests.crm import factories as f
    from tickets.models import AgentProfile

    ensure_demo_logins()
    agent = User.objects.get(username="agent")
    AgentProfile.objects.update_or_create(user=agent, defaults={"available": True, "chat_capacity": 5})
    shop = f.merchant(name="星河数码旗舰店")
    made: dict[str, Any] = {"chats": []}
    for name, orders in (("陈晓", 5), ("李雷", 1)):
        who = f.consumer(display_name=name)
        for k in range(orders):
            f.order(who, shop, "99.00", item_title=f"耳机{k}", placed_at=timezone.now() - timedelta(days=k))
        services.start_chat(who.pk, "zh-hans")
        services.request_human(who.pk)
        chat = desk.accept_chat(ChatSession.objects.get(consumer_id=who.pk).pk, agent)
        made["chats"].append((chat.pk, who.pk))
    return made


def consumer_says(consumer_id: int, text: str) -> None:
    def run() -> None:
        from chat import services

        services.consumer_message(consumer_id, "zh-hans", text)
        connection.close()

    in_thread(run)


def open_console(browser: Any, base: str, language: str, viewport: str) -> Any:
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": ACCEPT[language]},
                                  viewport=VIEWPORTS[viewport], timezone_id="UTC")  # fmt: skip
    page = context.new_page()
    page.goto(f"{base}/admin/login/?next=/admin/chat/chatsession/console/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", PASSWORD["agent"])
    page.press("#id_password", "Enter")
    page.wait_for_selector("#mine .tab")
    return page


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_console_for_a_shift(browser: Any, asgi_server: str, screenshot_dir: Path, language: str) -> None:  # noqa: F811
    made = in_thread(two_chats_held_by_the_agent)
    (first, first_consumer), (second, second_consumer) = made["chats"]
    words = WORDS[language]
    for viewport in VIEWPORTS:
        page = open_console(browser, asgi_server, language, viewport)
        page.wait_for_function("document.querySelectorAll('#mine .tab').length === 2")
        assert page.locator(".chat-card").count() == 1  # one conversation at a time
        assert page.get_attribute(".chat-card", "data-chat") == str(first)
        # The consumer's context beside it: the 2 most recent orders, the rest behind "more".
        assert page.locator("#context .order").count() == 2
        assert page.inner_text("#context .more-orders") == words["more"]
        # The availability switch: a switch, both states written, the current one marked.
        switch = page.locator("#availability")
        assert (switch.get_attribute("role"), switch.get_attribute("aria-checked")) == ("switch", "true")
        assert words["available"] in page.inner_text(".availability-switch")
        assert words["away"] in page.inner_text(".availability-switch")
        # Times are Asia/Shanghai's, whatever the browser's zone (UTC here).
        shown = page.locator(".chat-card time").first
        stamp = shown.get_attribute("datetime") or ""
        hour = (int(stamp[11:13]) + 8) % 24
        assert re.fullmatch(rf"{hour:02d}:\d\d", shown.inner_text()), (stamp, shown.inner_text())

        # A new message in the other chat: unread count on its tab and in the title.
        consumer_says(second_consumer, f"还在吗 {viewport}")
        page.wait_for_selector(f'#mine .tab[data-chat="{second}"] .unread')
        assert page.inner_text(f'#mine .tab[data-chat="{second}"] .unread') == "1"
        assert page.title().startswith("(1) ")
        page.screenshot(path=str(screenshot_dir / f"console-{viewport}-{language}.png"), full_page=True)

        # Alt+↓: the next chat; reading it clears the count and the title.
        page.locator(".chat-card textarea").focus()
        page.keyboard.press("Alt+ArrowDown")
        page.wait_for_selector(f'.chat-card[data-chat="{second}"]')
        assert page.locator(f'#mine .tab[data-chat="{second}"] .unread').count() == 0
        assert not page.title().startswith("(")
        assert page.locator(".chat-card .msg.from-consumer", has_text=f"还在吗 {viewport}").count() == 1
        # Alt+C: the canned replies; Enter sends.
        page.keyboard.press("Alt+KeyC")
        assert page.evaluate("document.activeElement.classList.contains('canned')")
        page.locator(".chat-card textarea").fill(f"在的 {viewport}")
        page.locator(".chat-card textarea").press("Enter")
        page.locator(".chat-card .msg.from-agent", has_text=f"在的 {viewport}").wait_for()

        # One click on the switch: away, and said so; another: available again.
        switch.click()
        page.wait_for_selector('#availability[aria-checked="false"]')
        switch.click()
        page.wait_for_selector('#availability[aria-checked="true"]')
        page.context.close()
    assert first != second and first_consumer != second_consumer


def test_the_consumer_widget_hides_the_person_button_while_with_a_person(
    browser: Any,
    asgi_server: str,  # noqa: F811
    screenshot_dir: Path,
) -> None:
    def consumer_with_token() -> dict[str, Any]:
        from chat.tokens import issue_token
        from tests.crm import factories as f
        from tickets.models import AgentProfile

        ensure_demo_logins()
        from django.contrib.auth.models import User

        AgentProfile.objects.update_or_create(user=User.objects.get(username="agent"), defaults={"available": True})
        who = f.consumer(display_name="王芳")
        return {"token": issue_token(who.pk), "consumer": who.pk}

    made = in_thread(consumer_with_token)
    for viewport in ("desktop", "phone"):
        shopper = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport]).new_page()
        shopper.goto(f"{asgi_server}/chat/?token={made['token']}")
        shopper.wait_for_selector(".msg.from-bot")
        if viewport == "desktop":
            assert shopper.is_visible("#human")
            shopper.click("#human")
            shopper.wait_for_selector("#human", state="hidden")

            def accept() -> None:
                from django.contrib.auth.models import User

                from chat import desk

                chat = ChatSession.objects.get(consumer_id=made["consumer"])
                desk.accept_chat(chat.pk, User.objects.get(username="agent"))
                connection.close()

            in_thread(accept)
            shopper.wait_for_selector(".msg.from-system[data-code=joined]")
        else:  # a reload while talking to a person: the button stays hidden
            shopper.wait_for_selector("#human", state="hidden")
        assert "当前没有人工客服在线" not in shopper.inner_text("#messages")
        shopper.screenshot(path=str(screenshot_dir / f"chat-widget-with-agent-{viewport}-zh-hans.png"), full_page=True)
        shopper.context.close()
