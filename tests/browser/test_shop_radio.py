"""The daily merchant digest in a real Chromium: the demo "merchant" login (a shop's staff) signs in on the radio's
door and reads their shop's customers' voices, screened by the platform's curators — the header names the shop,
another shop's voices and the departments' channels are not there; in Chinese and in English, 1280 and 390 wide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.demo import DEMO_LOGINS, ensure_demo_logins
from tests.browser.support import in_thread

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
OWN = ("揽收后三天不更新物流", "我买的耳机快递三天没动了，电话13800138000，麻烦帮忙查一下")
OTHER = ("另一家店的包裹", "月光女装的包裹显示签收却没收到")


def shop_morning() -> dict[str, Any]:
    from django.contrib.auth.models import User

    from merchants.models import MerchantMembership
    from radio import building, services, sources
    from tests.crm import factories as f
    from tests.radio import factories as rf
    from tickets import services as ticket_services

    ensure_demo_logins()
    star, moon = f.merchant("SHOP-STAR", name="星河数码旗舰店"), f.merchant("SHOP-MOON", name="月光女装")
    MerchantMembership.objects.update_or_create(user=User.objects.get(username="merchant"), defaults={"merchant": star})
    agent, curator = User.objects.get(username="agent"), User.objects.get(username="supervisor")
    logistics = rf.channel("logistics", "快递与配送")
    for shop, (headline, words) in ((star, OWN), (moon, OTHER)):
        who = f.consumer(display_name="王小明", phone="13800138000")
        ticket = ticket_services.open_ticket(who, subject=headline, department=rf.department(), body=words,
                                             order=f.order(who, shop), route=False)  # fmt: skip
        made, _created = services.nominate(sources.resolve("ticket", ticket.pk), by=agent, quote=words,
                                           note="这周第三次了", severity=3)  # fmt: skip
        services.approve_nomination(made, [logistics], by=curator, headline=headline)
    building.build_digests()
    return {"shop": star.name}


@pytest.mark.parametrize(("language", "locale", "header"), [
    ("zh-hans", "zh-CN", "星河数码旗舰店 · 您的顾客心声，由平台精选"),
    ("en", "en-US", "星河数码旗舰店 · your customers' voices, screened by the platform's curators"),
])  # fmt: skip
def test_a_shops_staff_read_their_shops_digest_on_the_radio(
    browser: Any, live_server: Any, transactional_db: None, screenshot_dir: Path, language: str, locale: str,
    header: str,
) -> None:  # fmt: skip
    in_thread(shop_morning)
    context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale},
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    page = context.new_page()
    page.goto(f"{live_server.url}/radio/login/")
    page.fill("#id_username", "merchant")
    page.fill("#id_password", PASSWORD["merchant"])
    page.press("#id_password", "Enter")
    page.wait_for_selector(".shop-line")
    assert page.url == f"{live_server.url}/radio/"
    assert page.inner_text(".shop-line") == header
    text = page.inner_text("main")
    assert OWN[0] in text and "138****8000" in text
    assert OTHER[0] not in text and OTHER[1] not in text and "快递与配送" not in text
    assert "13800138000" not in page.content()
    page.screenshot(path=str(screenshot_dir / f"radio-shop-digest-{language}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / f"radio-shop-digest-{language}-390.png"), full_page=True)
    context.close()
