"""Every role logs into the admin in Chinese and in English, in a real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pytest

from core.demo import DEMO_LOGINS, ensure_demo_logins

pytestmark = pytest.mark.browser


class Words(TypedDict):
    accept: str
    login_button: str
    homes: dict[str, str]  # login -> the heading of its home


LANGUAGES: dict[str, Words] = {
    "zh-hans": {"accept": "zh-CN,zh;q=0.9", "login_button": "登录",
                "homes": {"admin": "实时看板", "agent": "我的工作台", "supervisor": "实时看板",
                          "merchant": "我的店铺"}},
    "en": {"accept": "en-US,en;q=0.9", "login_button": "Log in",
           "homes": {"admin": "Wallboard", "agent": "My desk", "supervisor": "Wallboard", "merchant": "My shop"}},
}  # fmt: skip


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_each_role_logs_into_the_admin(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    ensure_demo_logins()
    words = LANGUAGES[language]
    for login in DEMO_LOGINS:
        context = browser.new_context(
            locale=language,
            extra_http_headers={"Accept-Language": words["accept"]},
            viewport={"width": 1280, "height": 800},
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", login.username)
        page.fill("#id_password", login.password)
        page.get_by_role("button", name=words["login_button"]).click()
        if login.username == "business":  # business teams read the radio: /admin/ sends them there
            page.wait_for_url(f"{live_server.url}/radio/")
            context.close()
            continue
        page.wait_for_url(f"{live_server.url}/admin/")
        assert page.locator("h1").first.inner_text() == words["homes"][login.username]
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("#language-select").is_visible()
        page.screenshot(path=str(screenshot_dir / f"admin-{login.username}-{language}.png"), full_page=True)
        context.close()


def test_the_language_switch_changes_the_admin_language(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None
) -> None:
    ensure_demo_logins()
    context = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    assert page.locator("h1, #site-name").first.inner_text() == "客服工作台"
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    assert page.locator("#site-name").inner_text() == "Service Desk"
    page.screenshot(path=str(screenshot_dir / "admin-login-en.png"))
    context.close()
