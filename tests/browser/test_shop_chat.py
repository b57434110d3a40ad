"""A shop's own chat in two real browsers: the consumer opens /chat/ with a shop's token, the shop's bot answers
from the shop's article, the handoff reaches the shop's own staff (the demo "merchant" login) in their console,
who answer; in Chinese and in English, screenshots at 1440×900 and 390×844."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.demo import DEMO_LOGINS, ensure_demo_logins
from tests.browser.support import in_thread
from tests.browser.test_live_chat import asgi_server  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
WIDE, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
# (language, browser locale, question, the shop's answer, the words that hand off, the shop staff's reply)
CASES = {
    "zh-hans": ("zh-CN", "本店多久发货", "本店 16:00 前付款当天发出。", "转人工", "您好，星河数码客服为您服务"),
    "en": ("en-US", "When does this shop ship?", "This shop ships the same day before 16:00.", "human",
           "Hello, the Star River desk here"),
}  # fmt: skip


def make_shop(language: str) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        from django.contrib.auth.models import User

        from chat import knowledge
        from chat.models import KnowledgeArticle
        from chat.tokens import issue_token
        from merchants.models import MerchantMembership
        from tests.crm import factories as f
        from tickets.models import AgentProfile

        ensure_demo_logins()
        shop = f.merchant("SHOP-STAR", name="星河数码旗舰店")
        other = f.merchant("SHOP-MOON", name="月光女装")
        staff = User.objects.get(username="merchant")
        MerchantMembership.objects.update_or_create(user=staff, defaults={"merchant": shop})
        AgentProfile.objects.update_or_create(user=staff, defaults={"available": True, "chat_capacity": 3})
        _locale, question, answer, _handoff, _reply = CASES[language]
        KnowledgeArticle.objects.create(shop=shop, title=question, answer=answer, language=language)
        KnowledgeArticle.objects.create(shop=other, title=question, answer="月光女装：不对的店铺。", language=language)
        knowledge.rebuild_index()
        consumer = f.consumer(display_name="陈晓" if language == "zh-hans" else "Chen Xiao")
        return {"token": issue_token(consumer.pk, shop.pk)}

    return in_thread(build)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_consumer_to_the_shops_bot_to_the_shops_own_staff(
    browser: Any,
    asgi_server: str,  # noqa: F811
    screenshot_dir: Path,
    language: str,
) -> None:
    made = make_shop(language)
    locale, question, answer, handoff, reply = CASES[language]
    shopper_context = browser.new_context(locale=locale, viewport=PHONE)
    shopper = shopper_context.new_page()
    shopper.goto(f"{asgi_server}/chat/?token={made['token']}")
    shopper.wait_for_selector(".msg.from-bot")
    assert "星河数码旗舰店" in shopper.inner_text("#shop")
    assert shopper.is_visible("#escalate")  # 平台介入 is offered in a shop's chat
    shopper.fill("#text", question)
    shopper.press("#text", "Enter")
    shopper.wait_for_selector(f".msg.from-bot:has-text('{answer}')")
    assert "不对的店铺" not in shopper.inner_text("#messages")
    shopper.fill("#text", handoff)
    shopper.press("#text", "Enter")
    shopper.wait_for_selector(".msg.from-system[data-code=queued]")

    desk = browser.new_context(locale=locale, viewport=WIDE).new_page()
    desk.goto(f"{asgi_server}/admin/login/?next=/admin/chat/chatsession/console/")
    desk.fill("#id_username", "merchant")
    desk.fill("#id_password", PASSWORD["merchant"])
    desk.press("#id_password", "Enter")
    desk.wait_for_selector(".queue li.waiting")
    assert desk.locator(".queue li.waiting").count() == 1
    desk.screenshot(path=str(screenshot_dir / f"shop-chat-console-queue-{language}-1440.png"), full_page=True)
    desk.locator(".queue li.waiting").first.locator("button.accept").click()
    card = desk.locator(".chat-card").first
    card.wait_for()
    card.locator("textarea").fill(reply)
    card.locator("textarea").press("Enter")
    shopper.wait_for_selector(f".msg.from-agent:has-text('{reply}')")
    card.locator(f".msg.from-agent:has-text('{reply}')").wait_for()

    desk.screenshot(path=str(screenshot_dir / f"shop-chat-console-{language}-1440.png"), full_page=True)
    desk.set_viewport_size(PHONE)
    desk.screenshot(path=str(screenshot_dir / f"shop-chat-console-{language}-390.png"), full_page=True)
    shopper.screenshot(path=str(screenshot_dir / f"shop-chat-consumer-{language}-390.png"), full_page=True)
    shopper.set_viewport_size(WIDE)
    shopper.screenshot(path=str(screenshot_dir / f"shop-chat-consumer-{language}-1440.png"), full_page=True)
