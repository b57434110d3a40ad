"""The pages crm and merchants add, in a real Chromium: the consumer's story and the merchant's scorecard."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import translation

from core.demo import DEMO_LOGINS
from crm.indicators import INDICATORS
from crm.models import Consumer, RiskFlag
from merchants.models import MerchantMembership
from tests.browser.support import in_thread

pytestmark = pytest.mark.browser
PASSWORDS = {login.username: login.password for login in DEMO_LOGINS}


PHONE = {"width": 390, "height": 844}


def login(browser: Any, live_server: Any, username: str, language: str = "zh-hans", *, phone: bool = False) -> Any:
    context = browser.new_context(
        locale=language,
        extra_http_headers={"Accept-Language": "zh-CN" if language == "zh-hans" else "en"},
        viewport=PHONE if phone else {"width": 1280, "height": 900},
        is_mobile=phone,
        has_touch=phone,
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORDS[username])
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def test_agent_reads_why_a_flagged_consumer_is_in_their_tier(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None
) -> None:
    in_thread(lambda: call_command("seed_demo", quiet=True, stdout=StringIO()))
    # A consumer whose rating counted a confirmed flag (flags the demo confirms after the night's rating wait for
    # the next one).
    flagged = (
        Consumer.objects.filter(
            risk_flags__status=RiskFlag.Status.CONFIRMED, rating__contributions__confirmed_risk_flags__0__gt=0
        )
        .order_by("pk")
        .first()
    )
    assert flagged is not None
    page = login(browser, live_server, "agent")
    page.goto(f"{live_server.url}/admin/crm/consumer/{flagged.pk}/change/")
    breakdown = page.locator("table.rating-breakdown")
    assert breakdown.is_visible()
    with translation.override("zh-hans"):
        label = str(next(i.label for i in INDICATORS if i.key == "confirmed_risk_flags"))
    # The largest effect comes first: the confirmed flag's -300 points, in the page's language.
    assert breakdown.locator("tbody tr").first.inner_text().startswith(label)
    assert flagged.phone not in page.content()  # agents see the masked phone only
    assert page.locator(".field-tier .readonly").inner_text() != "-"  # every score has a tier
    page.screenshot(path=str(screenshot_dir / "consumer-story-agent-zh-hans.png"), full_page=True)
    page.context.close()


def test_merchant_staff_read_why_their_score_is_what_it_is(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None
) -> None:
    in_thread(lambda: call_command("seed_demo", quiet=True, stdout=StringIO()))
    own = MerchantMembership.objects.select_related("merchant").get(user__username="merchant").merchant
    for language, phone in (("zh-hans", False), ("en", False), ("zh-hans", True), ("en", True)):
        page = login(browser, live_server, "merchant", language, phone=phone)
        page.goto(f"{live_server.url}/admin/merchants/merchant/")
        assert page.locator("#result_list tbody tr").count() == 1  # their own shop only
        page.goto(f"{live_server.url}/admin/merchants/merchant/{own.pk}/scores/")
        assert page.locator("svg.trend polyline.score").is_visible()
        assert page.locator(".figure.main .value").inner_text().strip() != ""
        assert page.locator("table.components tbody tr").count() == 7  # every component with its points
        assert 1 <= page.locator("ol.improvements li").count() <= 3
        # nothing runs off a phone's screen but the components' table, which scrolls in its own box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        device = "phone" if phone else "desktop"
        page.screenshot(path=str(screenshot_dir / f"merchant-scorecard-{device}-{language}.png"), full_page=True)
        page.context.close()
