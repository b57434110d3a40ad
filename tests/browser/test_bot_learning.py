"""The bot's confirmation and learning in real browsers: the widget's 确认 button files the refund it
proposed (and only that); the console teaches a consumer's question to an article; the supervisors'
missed-questions page teaches one in a click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chat.models import KnowledgeArticle
from tests.browser.support import in_thread
from tests.browser.test_live_chat import PASSWORD, asgi_server, make_world  # noqa: F401  (a fixture)
from tickets.models import RefundRequest

pytestmark = pytest.mark.browser


def _login(browser: Any, server: str, username: str, next_url: str) -> Any:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{server}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD[username])
    page.press("#id_password", "Enter")
    return page


def test_the_widget_asks_before_refunding_and_files_once_on_confirm(
    browser: Any,
    asgi_server: str,  # noqa: F811  (the fixture imported above)
    screenshot_dir: Path,
) -> None:
    made = make_world()
    order_no = made["order"].order_no
    # A phone: the conversation scrolls, and the newest message stays in view above the choices.
    shopper = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    shopper.goto(f"{asgi_server}/chat/?token={made['token']}")
    shopper.wait_for_selector(".msg.from-bot")
    shopper.fill("#text", "你们什么时候发货")  # a longer conversation than the widget holds: it scrolls
    shopper.press("#text", "Enter")
    shopper.wait_for_function("document.querySelectorAll('.msg.from-bot').length >= 2")
    shopper.fill("#text", f"退款 {order_no}")
    shopper.press("#text", "Enter")
    shopper.wait_for_selector(f".msg.from-bot:has-text('为订单 {order_no} 申请退款 ¥299.00？')")
    assert shopper.locator("#suggestions button").all_inner_texts() == ["确认", "取消"]
    below = (
        "() => { const m = document.getElementById('messages'); return m.scrollHeight - m.scrollTop - m.clientHeight; }"
    )
    assert shopper.evaluate("() => { const m = document.getElementById('messages'); "
                            "return m.scrollHeight > m.clientHeight; }")  # fmt: skip
    assert shopper.evaluate(below) <= 1
    assert in_thread(RefundRequest.objects.count) == 0
    shopper.screenshot(path=str(screenshot_dir / "chat-refund-confirm.png"), full_page=True)
    shopper.click("#suggestions button.choice-confirm")
    shopper.wait_for_selector(f".msg.from-bot:has-text('{order_no}'):not(:has-text('？'))")
    assert shopper.locator(".msg.from-consumer .bubble").last.inner_text() == "确认"
    assert in_thread(lambda: list(RefundRequest.objects.values_list("order__order_no", flat=True))) == [order_no]
    assert shopper.locator("#suggestions button").count() == 0


def test_the_console_teaches_the_bot_and_the_supervisor_teaches_a_miss(
    browser: Any,
    asgi_server: str,  # noqa: F811  (the fixture imported above)
) -> None:
    made = make_world()
    article = in_thread(lambda: KnowledgeArticle.objects.get(title="如何开具发票"))
    shopper = browser.new_context(locale="zh-CN", viewport={"width": 520, "height": 860}).new_page()
    shopper.goto(f"{asgi_server}/chat/?token={made['token']}")
    shopper.wait_for_selector(".msg.from-bot")
    for text in ("冰箱能寄吗", "转人工"):
        shopper.fill("#text", text)
        shopper.press("#text", "Enter")
        shopper.wait_for_selector(f".msg.from-consumer:has-text('{text}')")
    desk = _login(browser, asgi_server, "agent", "/admin/chat/chatsession/console/")
    desk.wait_for_selector(".queue li.waiting")
    desk.locator(".queue li.waiting button.accept").first.click()
    card = desk.locator(".chat-card").first
    card.wait_for()
    card.locator("select.teach-question").select_option(label="冰箱能寄吗")
    card.locator("select.teach-article").select_option(label="如何开具发票")
    card.locator("button.teach-button").click()
    card.locator(".taught").wait_for()
    assert in_thread(lambda: KnowledgeArticle.objects.get(pk=article.pk).questions).endswith("\n冰箱能寄吗")

    boss = _login(browser, asgi_server, "supervisor", "/admin/chat/knowledgearticle/missed/")
    row = boss.locator("#missed tbody tr").first
    row.wait_for()
    assert row.locator(".question").inner_text() == "冰箱能寄吗" and row.locator(".count").inner_text() == "1"
    boss.set_viewport_size({"width": 390, "height": 844})  # a phone: the question readable, nothing off the side
    assert boss.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert row.locator(".question").bounding_box()["width"] > 200
    boss.set_viewport_size({"width": 1400, "height": 900})
    row.locator("select[name=article]").select_option(label="修改收货地址 (简体中文)")
    row.locator("button[type=submit]").click()
    boss.wait_for_selector(".messagelist .success")
    moved = in_thread(lambda: KnowledgeArticle.objects.get(title="修改收货地址").questions)
    assert moved.endswith("\n冰箱能寄吗")
