"""In Chromium, zh-hans and en, 1440×900 and 390×844: the consumer answers the survey of a phone ticket by its
link (and switches its language), the agent's ticket page shows the link then the answer; a business user
answers a radio digest item without the page reloading, and a refused reply says why beside its box."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.demo import DEMO_LOGINS, ensure_demo_logins
from tests.browser.support import in_thread
from tests.browser.test_desk_pages import ACCEPT, SIZES, log_in
from tests.crm import factories as f

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}


def resolved_phone_ticket() -> tuple[int, str]:
    from tickets import services, surveys
    from tickets.models import Department, Ticket

    ensure_demo_logins()
    department, _created = Department.objects.get_or_create(code="after-sales", defaults={"name": "售后"})
    ticket = services.open_ticket(f.consumer(display_name="陈晓"), subject="电话：快递丢了", department=department,
                                  channel=Ticket.Channel.PHONE, body="来电说快递丢了", route=False)  # fmt: skip
    ticket = services.transition_ticket(ticket, Ticket.Status.RESOLVED)
    return ticket.pk, f"/survey/{surveys.survey_token(ticket)}/"


def page_for(browser: Any, language: str, size: str) -> Any:
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": ACCEPT[language]},
                                  viewport=SIZES[size], device_scale_factor=2 if size == "phone" else 1)  # fmt: skip
    return context.new_page()


@pytest.mark.parametrize("language", list(ACCEPT))
def test_the_consumer_answers_a_phone_tickets_survey_by_its_link(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    from tickets.models import TicketSatisfaction

    question = {
        "zh-hans": "您对我们处理您的问题满意吗？",
        "en": "How satisfied are you with how we handled your request?",
    }
    thanks = {"zh-hans": "您的回答已记录。", "en": "Your answer has been recorded."}
    for size in SIZES:
        pk, path = in_thread(resolved_phone_ticket)
        page = page_for(browser, language, size)
        page.goto(f"{live_server.url}{path}")
        assert page.inner_text("h1") == question[language]
        assert page.locator("label.score").count() == 5
        # Nothing sideways on a phone: the card fits the viewport.
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
        page.screenshot(path=str(screenshot_dir / f"ticket-survey-{size}-{language}.png"), full_page=True)
        page.click("label.score:has(input[value='4'])")
        page.fill("#comment", "接线员很耐心")
        page.click("button.primary")
        page.wait_for_selector(".state.answered")
        assert thanks[language] in page.inner_text(".state.answered")
        page.screenshot(path=str(screenshot_dir / f"ticket-survey-thanks-{size}-{language}.png"), full_page=True)
        answers = in_thread(lambda: list(TicketSatisfaction.objects.values_list("ticket", "score", "comment")))
        assert answers == [(pk, 4, "接线员很耐心")]
        page.goto(f"{live_server.url}{path}")  # again: answered, no form
        assert page.locator("input[name=score]").count() == 0
        in_thread(TicketSatisfaction.objects.all().delete)  # the next size answers its own ticket
        page.context.close()
    bad = page_for(browser, language, "phone")
    response = bad.goto(f"{live_server.url}{path[:-3]}x/")
    assert response is not None and response.status == 400
    bad.screenshot(path=str(screenshot_dir / f"ticket-survey-bad-link-phone-{language}.png"), full_page=True)
    bad.context.close()


def test_the_survey_page_switches_language_and_the_agent_sees_the_link_then_the_answer(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None
) -> None:
    from tickets.models import TicketSatisfaction

    pk, path = in_thread(resolved_phone_ticket)
    page = page_for(browser, "en", "phone")
    page.goto(f"{live_server.url}{path}")
    assert page.get_attribute("html", "lang") == "en"
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    assert page.get_attribute("html", "lang") == "zh-hans" and page.inner_text("h1") == "您对我们处理您的问题满意吗？"
    page.context.close()
    for language in ACCEPT:
        desk = log_in(browser, live_server, "agent", language, "desktop")
        desk.goto(f"{live_server.url}/admin/tickets/ticket/{pk}/change/")
        assert desk.input_value(".survey-link") == f"http://localhost:8000{path}"
        desk.screenshot(path=str(screenshot_dir / f"ticket-page-survey-link-desktop-{language}.png"), full_page=True)
        desk.context.close()
    consumer = page_for(browser, "zh-hans", "phone")
    consumer.goto(f"{live_server.url}{path}")
    consumer.click("label.score:has(input[value='2'])")
    consumer.click("button.primary")
    consumer.wait_for_selector(".state.answered")
    consumer.context.close()
    assert in_thread(lambda: TicketSatisfaction.objects.get(ticket=pk).score) == 2
    for language in ACCEPT:
        for size in SIZES:
            desk = log_in(browser, live_server, "agent", language, size)
            desk.goto(f"{live_server.url}/admin/tickets/ticket/{pk}/change/")
            assert desk.inner_text(".survey-answer strong") == "2★"
            desk.screenshot(path=str(screenshot_dir / f"ticket-page-survey-answer-{size}-{language}.png"),
                            full_page=True)  # fmt: skip
            desk.context.close()


# --- the radio digest: replying in place --------------------------------------------------------------------


def morning_digest() -> int:
    from django.contrib.auth.models import User

    from radio import building
    from radio.models import Digest, Subscription
    from tests.radio import factories as rf

    ensure_demo_logins()
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.get_or_create(user=User.objects.get(username="business"), channel=logistics)
    agent, curator = User.objects.get(username="agent"), User.objects.get(username="supervisor")
    for quote in ("快递三天没动，客服说联系不上快递员", "包裹显示签收但我没收到"):
        rf.approved(agent, curator, [logistics], quote=quote)
    building.build_digests()
    return int(Digest.objects.get().items.order_by("position").values_list("pk", flat=True)[0])


def radio_page(browser: Any, live_server: Any, language: str, size: str) -> Any:
    page = page_for(browser, language, size)
    page.goto(f"{live_server.url}/radio/login/")
    page.fill("#id_username", "business")
    page.fill("#id_password", PASSWORD["business"])
    page.press("#id_password", "Enter")
    page.wait_for_selector(".channel")
    return page


@pytest.mark.parametrize("language", list(ACCEPT))
def test_a_business_user_replies_to_a_digest_item_without_a_reload(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, language: str
) -> None:
    from radio.models import DigestItem, Reply

    item = in_thread(morning_digest)
    sent = {
        "zh-hans": "回复已发送：推荐该案例的客服将会看到。",
        "en": "Reply sent: the agent who nominated it will see it.",
    }
    required = {"zh-hans": "此字段为必填项。", "en": "This field is required."}
    for size in SIZES:
        page = radio_page(browser, live_server, language, size)
        page.evaluate("window.notReloaded = true")
        count_before = page.inner_text("#channel-logistics .ack-count")
        page.click(f"#item-{item} .reply-box summary")
        page.fill(f"#reply-{item}", "   ")  # passes the box's `required`, refused by the server: said in place
        page.click(f"#item-{item} .reply-box button")
        page.wait_for_selector(f"#item-{item} .reply-error[role=alert]")
        assert page.inner_text(f"#item-{item} .reply-error") == required[language]
        page.screenshot(path=str(screenshot_dir / f"radio-reply-refused-{size}-{language}.png"), full_page=True)
        text = f"已和转运中心对接（{size}），周五前恢复，回电 13812345678"
        page.fill(f"#reply-{item}", text)
        page.click(f"#item-{item} .reply-box button")
        page.wait_for_selector(f"#item-{item} .reply-sent[role=status]")
        assert page.evaluate("window.notReloaded") is True
        assert page.inner_text(f"#item-{item} .reply-sent") == sent[language]
        assert page.locator(f"#item-{item} .reply-error").count() == 0
        last = page.locator(f"#item-{item} .replies li").last
        assert "已和转运中心对接" in last.inner_text() and "138****5678" in last.inner_text()
        assert page.input_value(f"#reply-{item}") == ""
        assert page.locator(f"#item-{item}.acked").count() == 1  # the reply acknowledged it, in place too
        if size == "desktop":
            assert page.inner_text("#channel-logistics .ack-count") != count_before
        page.screenshot(path=str(screenshot_dir / f"radio-reply-in-place-{size}-{language}.png"), full_page=True)
        page.reload()  # what the server kept is what the page showed
        assert page.locator(f"#item-{item} .replies li").count() == (1 if size == "desktop" else 2)
        page.context.close()
    assert in_thread(lambda: Reply.objects.filter(item=item).count()) == 2
    assert in_thread(lambda: DigestItem.objects.get(pk=item).acknowledged_at is not None)
