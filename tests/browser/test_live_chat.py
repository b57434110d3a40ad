"""Live chat in two real browsers against a real ASGI server (daphne) on the test database and Redis:
consumer → bot → handoff → the agent accepts in the console → replies both ways → resolve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import translation

from chat.admin import CONSOLE_STRINGS
from chat.models import ChatSession
from core.demo import DEMO_LOGINS, ensure_demo_logins

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[str]:
    """daphne serving config.asgi on this test's database and Redis, staffed around the clock."""
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}:{db['PASSWORD']}@/{db['NAME']}?host={db['HOST']}"
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url,
           "SUPPORT_HOURS": "00:00-24:00", "SUPPORT_WEEKDAYS": "0-6"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("daphne did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def read_in_thread(read: Any) -> Any:
    """Run an ORM read off Playwright's thread (its event loop lives there)."""
    holder: dict[str, Any] = {}

    def run() -> None:
        holder["value"] = read()
        connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return holder["value"]


def make_world() -> dict[str, Any]:
    """Rows for the test, made in a thread of its own (Playwright's event loop lives in this one)."""
    made: dict[str, Any] = {}

    def build() -> None:
        from chat.tokens import issue_token
        from crm.models import CreditTier
        from tests.chat.support import knowledge_base
        from tests.crm import factories as f
        from tickets.models import AgentProfile, CannedReply

        ensure_demo_logins()
        from django.contrib.auth.models import User

        agent = User.objects.get(username="agent")
        AgentProfile.objects.update_or_create(user=agent, defaults={"available": True, "chat_capacity": 3})
        CannedReply.objects.create(title="问候", body="{consumer}您好，我是客服，马上为您查看。")
        consumer = f.consumer(display_name="陈晓", tier=CreditTier.objects.get(name="金牌会员"))
        made["order"] = f.order(consumer, f.merchant(name="星河数码旗舰店"), "299.00", status="shipped",
                                item_title="降噪耳机")  # fmt: skip
        knowledge_base()
        made["token"] = issue_token(consumer.pk)
        made["consumer"] = consumer
        connection.close()

    thread = threading.Thread(target=build)
    thread.start()
    thread.join()
    return made


def test_consumer_and_agent_talk_through_the_bot_and_the_handoff(
    browser: Any, asgi_server: str, screenshot_dir: Path
) -> None:
    made = make_world()
    shopper = browser.new_context(locale="zh-CN", viewport={"width": 520, "height": 860}).new_page()
    shopper.goto(f"{asgi_server}/chat/?token={made['token']}")
    shopper.wait_for_selector(".msg.from-bot")
    assert "陈晓" in shopper.locator(".msg.from-bot").first.inner_text()

    shopper.fill("#text", "请问发票怎么开？")
    shopper.press("#text", "Enter")
    shopper.wait_for_selector(".msg.from-bot:has-text('申请开票')")
    shopper.fill("#text", "转人工")
    shopper.press("#text", "Enter")
    shopper.wait_for_selector("#banner:not([hidden])")
    assert "1" in shopper.inner_text("#banner")

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900}).new_page()
    desk.goto(f"{asgi_server}/admin/login/?next=/admin/chat/chatsession/console/")
    desk.fill("#id_username", "agent")
    desk.fill("#id_password", PASSWORD["agent"])
    desk.press("#id_password", "Enter")
    desk.wait_for_selector(".queue li.waiting")
    item = desk.locator(".queue li.waiting").first
    assert "陈晓" in item.inner_text() and "“转人工”" in item.inner_text()
    desk.screenshot(path=str(screenshot_dir / "chat-console-queue.png"), full_page=True)
    item.locator("button.accept").click()
    card = desk.locator(".chat-card").first
    card.wait_for()
    assert made["order"].order_no in desk.inner_text("#context")  # recent orders beside the chat
    shopper.wait_for_selector(".msg.from-system[data-code=joined]")

    card.locator("select.canned").select_option(label="问候")
    assert card.locator("textarea").input_value() == "陈晓您好，我是客服，马上为您查看。"
    card.locator("textarea").press("Enter")
    shopper.wait_for_selector(".msg.from-agent:has-text('马上为您查看')")
    shopper.fill("#text", "耳机一直没发货")
    shopper.press("#text", "Enter")
    card.locator(".msg.from-consumer:has-text('耳机一直没发货')").wait_for()
    desk.screenshot(path=str(screenshot_dir / "chat-console-talking.png"), full_page=True)
    shopper.screenshot(path=str(screenshot_dir / "chat-consumer-widget.png"), full_page=True)

    nominate = card.locator("a.nominate")  # offered when the radio is installed: its form, prefilled
    assert nominate.count() == 0 or "?source=chat&id=" in (nominate.get_attribute("href") or "")
    desk.on("dialog", lambda dialog: dialog.accept())
    card.locator("button.resolve").click()
    shopper.wait_for_selector(".msg.from-system[data-code=ended]")
    with translation.override("zh-hans"):  # the console's language here (the desk's browser is zh-CN)
        closed = str(CONSOLE_STRINGS["closed"])
    desk.wait_for_selector(f".chat-card p.ended:has-text('{closed}')")
    deadline = time.monotonic() + 10
    state = ""
    while time.monotonic() < deadline and state != "ended":
        state = read_in_thread(lambda: ChatSession.objects.get(consumer=made["consumer"]).state)
        time.sleep(0.2)
    assert state == "ended"
    texts = shopper.locator(".msg .bubble").all_inner_texts()
    assert texts.index("耳机一直没发货") < len(texts) - 1  # the ended notice came after
