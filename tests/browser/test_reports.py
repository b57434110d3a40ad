"""CSAT and the reports in a real browser, in zh-hans and en: the consumer ends a chat and answers the survey
in the widget; the supervisor opens the reports from the wallboard and finds the answer counted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from chat.models import Satisfaction
from core.demo import ensure_demo_logins
from tests.browser.support import in_thread
from tests.browser.test_live_chat import PASSWORD, asgi_server, read_in_thread  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
LOCALES = {"zh-hans": "zh-CN", "en": "en-US"}


def _consumer_token() -> str:
    def build() -> str:
        from chat.tokens import issue_token
        from crm.models import CreditTier
        from tests.crm import factories as f

        ensure_demo_logins()
        consumer = f.consumer(display_name="陈晓", tier=CreditTier.objects.get(name="普通会员"))
        connection.close()
        return issue_token(consumer.pk)

    return str(in_thread(build))


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_the_consumer_rates_the_chat_and_the_supervisor_sees_it_in_the_reports(
    lang: str,
    browser: Any,
    asgi_server: str,  # noqa: F811  (the fixture imported above)
    screenshot_dir: Path,
) -> None:
    token = _consumer_token()
    for size, viewport in SIZES.items():
        if size == "phone":
            token = _consumer_token()
        shopper = browser.new_context(locale=LOCALES[lang], viewport=viewport).new_page()
        shopper.goto(f"{asgi_server}/chat/?token={token}")
        shopper.wait_for_selector(".msg.from-bot")
        shopper.click("#end")
        shopper.wait_for_selector("#survey")
        question = shopper.inner_text("#survey p")
        assert question == ("您对本次服务满意吗？" if lang == "zh-hans" else "How satisfied are you with this service?")
        assert shopper.locator("#survey button.primary").is_disabled()
        shopper.click("#survey .stars button[data-score='4']")
        assert shopper.locator("#survey .stars button.on").count() == 4
        shopper.fill("#survey textarea", "回复很快，电话 13812345678")
        shopper.screenshot(path=str(screenshot_dir / f"csat-survey-{lang}-{size}.png"), full_page=True)
        shopper.click("#survey button.primary")
        shopper.wait_for_selector("#survey .thanks")
        shopper.screenshot(path=str(screenshot_dir / f"csat-thanks-{lang}-{size}.png"), full_page=True)
        shopper.context.close()

    deadline = time.monotonic() + 10
    scores: list[int] = []
    while time.monotonic() < deadline and len(scores) < 2:
        scores = read_in_thread(lambda: list(Satisfaction.objects.values_list("score", flat=True)))
        time.sleep(0.2)
    assert scores == [4, 4]

    for size, viewport in SIZES.items():
        desk = browser.new_context(locale=LOCALES[lang], viewport=viewport).new_page()
        desk.goto(f"{asgi_server}/admin/login/?next=/admin/")
        desk.fill("#id_username", "supervisor")
        desk.fill("#id_password", PASSWORD["supervisor"])
        desk.press("#id_password", "Enter")
        desk.click("#reports-link")
        desk.wait_for_selector("#fig-csat")
        assert desk.inner_text("#fig-csat") == "100.0%"
        assert desk.inner_text("#fig-containment") == "100.0%"
        assert desk.locator(".report-card").count() == 6
        assert desk.locator(".report-card svg.trend").count() == 5  # no ticket under an SLA: the SLA card says so
        assert desk.get_attribute("#report-csv", "href").startswith("/admin/reports/csv/")
        desk.screenshot(path=str(screenshot_dir / f"reports-{lang}-{size}.png"), full_page=True)
        desk.fill("input[name=start]", "2026-12-09")
        desk.fill("input[name=end]", "2026-12-01")
        desk.click("form.report-range button[type=submit]")
        desk.wait_for_selector(".report-errors")
        expected = "结束日期早于开始日期。" if lang == "zh-hans" else "The end date is before the start date."
        assert desk.inner_text(".report-errors") == expected
        desk.context.close()
