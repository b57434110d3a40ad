"""The QA supervisor's path in a real Chromium: the findings queue → review one by one → bulk-clear the
queue with a note → search a Chinese phrase → the transcript at the hit → backtest an inactive rule →
the agent reads the confirmed finding and the note on their scorecard.

The UI runs in its default language (zh-hans); assertions are on data (texts, counts, highlighted
passages), never on labels.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Count
from django.utils import timezone

from core.demo import DEMO_LOGINS, ensure_demo_logins
from qa import evaluation, scorecards
from qa.models import Finding, Rule, Scorecard, Transcript
from tests.qa import factories

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
CONFIRM_NOTE = "读出了顾客的完整手机号，违反隐私规范"
RUDE_NOTE = "态度恶劣：对顾客说“爱买不买”"


def make_desk() -> dict[str, Any]:
    """Four active rules, one inactive one, and five conversations (Chinese calls, an English chat)."""
    ensure_demo_logins()
    agent = User.objects.get(username="agent")
    factories.rule("个人信息外泄", "pii", speaker="agent", severity=4, category="privacy")
    factories.rule("服务禁语", "keyword", speaker="agent", terms=["爱买不买", "whatever"], severity=3,
                   category="courtesy")  # fmt: skip
    factories.rule("擅自承诺全额退款", "phrase", speaker="agent", terms=["全额退款", "full refund"], severity=2,
                   category="risk")  # fmt: skip
    factories.rule("开场问候", "required", speaker="agent", terms=["您好", "hello", "hi"], severity=1)
    inactive = factories.rule("投诉升级风险", "keyword", speaker="consumer", terms=["投诉", "12315", "complaint"],
                              severity=3, category="risk", active=False)  # fmt: skip

    # This week, whatever the hour: the scorecard counts the three conversations below in one week.
    now = timezone.localtime()
    monday = timezone.make_aware(datetime.combine(now.date() - timedelta(days=now.weekday()), time.min))
    base = max(now - timedelta(minutes=30), monday + timedelta(minutes=1))
    rude_call = factories.transcript(
        [
            ("consumer", "喂，我买的耳机左耳没声音，我要退款"),
            ("agent", "爱买不买，这个不归我管"),
            ("consumer", "你什么态度？我要去12315投诉你们"),
            ("agent", "你的手机是13800138000对吧，我给你登记一下"),
        ],
        agent=agent, started_at=base,
    )  # fmt: skip
    refund_call = factories.transcript(
        [
            ("agent", "您好，这里是星河数码售后，请问有什么可以帮您？"),
            ("consumer", "衣服洗一次就掉色了，我要全额退款"),
            ("agent", "好的，马上给您全额退款，不用寄回"),
        ],
        agent=agent, started_at=base + timedelta(minutes=1),
    )  # fmt: skip
    english_chat = factories.transcript(
        [
            ("agent", "Hi, this is Wang from after-sales. How can I help?"),
            ("consumer", "The blender arrived broken. I want my money back or I will file a complaint."),
            ("agent", "Whatever. Send me your bank card 6222 0200 1234 5678 901 and I will see."),
            ("agent", "Fine, a full refund then."),
        ],
        agent=agent, kind="chat", started_at=base + timedelta(minutes=2),
    )  # fmt: skip
    old_call = factories.transcript(
        [("agent", "您好，请讲"), ("consumer", "再不处理我就投诉到12315"), ("agent", "请您稍等，我帮您查一下")],
        agent=agent, started_at=now - timedelta(days=20),
    )  # fmt: skip
    clean_call = factories.transcript(
        [("agent", "您好，请问有什么可以帮您？"), ("consumer", "查一下物流"), ("agent", "已经发货了，明天到")],
        agent=agent, started_at=now - timedelta(days=10),
    )  # fmt: skip
    ids = [rude_call.pk, refund_call.pk, english_chat.pk, old_call.pk, clean_call.pk]
    evaluation.evaluate_transcripts(ids)
    for earlier in (old_call, clean_call):  # the nightly job already scored the earlier weeks: the trend has a past
        scorecards.compute_week(timezone.localdate(earlier.started_at))
    return {"agent": agent, "inactive": inactive, "rude_call": rude_call, "refund_call": refund_call}


def login(browser: Any, live_server: Any, username: str) -> Any:
    context = browser.new_context(
        locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"}, viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD[username])
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def marks(page: Any, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(f"{selector} mark").all_inner_texts()]


def severities(page: Any) -> list[int]:
    classes = page.locator("#result_list tbody tr .sev").evaluate_all("nodes => nodes.map(n => n.className)")
    return [int(re.search(r"sev(\d)", name).group(1)) for name in classes]  # type: ignore[union-attr]


def test_supervisor_clears_the_queue_searches_backtests_and_the_agent_reads_the_verdict(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None
) -> None:
    made = make_desk()
    url = live_server.url
    assert Finding.objects.count() == 7  # pii ×2, 禁语 ×2, 全额退款 ×2, a missing greeting

    # --- The queue: open findings, most severe first, the passages highlighted ---------------------
    page = login(browser, live_server, "supervisor")
    page.goto(f"{url}/admin/qa/finding/")
    assert page.locator("#result_list tbody tr").count() == 7
    assert severities(page) == [4, 4, 3, 3, 2, 2, 1]
    passages = marks(page, "#result_list td.field-passage_in_context")
    assert passages == ["13800138000", "6222 0200 1234 5678 901", "爱买不买", "Whatever", "全额退款", "full refund"]
    assert "您好 / hello / hi" in page.locator("#result_list tbody tr").nth(6).inner_text()  # the greeting never said
    page.screenshot(path=str(screenshot_dir / "qa-findings-queue-zh-hans.png"), full_page=True)

    # --- One finding: the passage in its conversation; confirm with a note -------------------------
    page.locator("#result_list tbody tr").first.locator("th a").click()
    page.wait_for_selector(".review-box")
    first_url = page.url
    assert page.locator(".segments li.current mark").inner_text() == "13800138000"
    assert page.locator(".segments li").count() == 4  # the segments around it: the whole short call
    assert "爱买不买，这个不归我管" in page.locator(".segments").inner_text()
    page.screenshot(path=str(screenshot_dir / "qa-finding-review-zh-hans.png"), full_page=True)
    page.fill("#note", CONFIRM_NOTE)
    page.click("button[value=confirmed]")
    # The page moves on to the next open finding, the other critical one: dismiss it.
    page.wait_for_url(lambda moved: moved != first_url and "/change/" in moved)
    page.wait_for_selector(".review-box")
    assert page.locator(".segments li.current mark").inner_text() == "6222 0200 1234 5678 901"
    assert page.locator(".messagelist").count() == 1
    page.click("button[value=dismissed]")
    page.wait_for_selector(".segments li.current mark")
    assert page.locator(".segments li.current mark").inner_text() == "爱买不买"  # next: the first 禁语

    # --- Back in the queue: bulk confirm one with a note, then select all and dismiss ---------------
    page.goto(f"{url}/admin/qa/finding/")
    assert page.locator("#result_list tbody tr").count() == 5
    assert severities(page) == [3, 3, 2, 2, 1]
    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.select_option("select[name=action]", "confirm")
    page.fill("input[name=note]", RUDE_NOTE)
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert page.locator("#result_list tbody tr").count() == 4
    page.check("#action-toggle")
    page.select_option("select[name=action]", "dismiss")
    page.fill("input[name=note]", "不构成违规")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert page.locator("#result_list").count() == 0 and page.locator(".qa-empty").is_visible()
    assert page.locator("p.paginator").inner_text().strip().startswith("0")
    page.screenshot(path=str(screenshot_dir / "qa-findings-queue-empty-zh-hans.png"), full_page=True)
    assert dict(Finding.objects.values_list("status").annotate(n=Count("id"))) == {"confirmed": 2, "dismissed": 5}
    confirmed = dict(Finding.objects.filter(status="confirmed").values_list("matched_text", "note"))
    assert confirmed == {"13800138000": CONFIRM_NOTE, "爱买不买": RUDE_NOTE}

    # --- Search a quoted Chinese phrase; follow a hit to the transcript ----------------------------
    page.goto(f"{url}/admin/qa/transcript/")
    page.locator("#content .object-tools a[href$='/search/']").click()
    page.fill(".search-form input[name=q]", '"全额退款"')
    page.press(".search-form input[name=q]", "Enter")
    page.wait_for_selector("ol.hits")
    hits = page.locator("ol.hits > li")
    assert hits.count() == 2  # the consumer's and the agent's turn of the same call; "full refund" is not it
    assert marks(page, "ol.hits") == ["全额退款", "全额退款"]
    assert "马上给您全额退款" in hits.first.inner_text()  # newest first: the agent's reply
    assert re.search(r"\b2\b", page.locator(".qa-page > p.quiet").inner_text())
    page.screenshot(path=str(screenshot_dir / "qa-search-zh-hans.png"), full_page=True)
    hits.first.locator(".where a").click()
    page.wait_for_url(re.compile(rf"/admin/qa/transcript/{made['refund_call'].pk}/change/#seg-2$"))
    target = page.locator(".segments li:target")
    assert target.get_attribute("id") == "seg-2"
    assert marks(page, ".segments li:target") == ["全额退款"]  # the finding, marked in place
    assert page.locator(".segments li").count() == 3
    page.screenshot(path=str(screenshot_dir / "qa-transcript-zh-hans.png"), full_page=True)

    # --- Backtest a rule that is not active yet ----------------------------------------------------
    page.goto(f"{url}/admin/qa/rule/")
    row = page.locator("#result_list tbody tr", has_text="投诉升级风险")
    row.locator("a[href$='/backtest/']").click()
    page.wait_for_selector(".figures")
    assert page.locator(".figure.main .value").inner_text() == "2"  # last 7 days: the rude call and the chat
    page.select_option("#days", "30")
    page.click("form.qa-actions button[type=submit]")
    page.wait_for_url(re.compile(r"days=30"))
    assert page.locator(".figure.main .value").inner_text() == "3"  # and the call of 20 days ago
    assert page.locator(".figure").nth(1).locator(".value").inner_text() == "5"  # 12315, 投诉 ×2, complaint
    assert "12315" in marks(page, "ul.samples")
    page.screenshot(path=str(screenshot_dir / "qa-backtest-zh-hans.png"), full_page=True)
    assert not Finding.objects.filter(rule=made["inactive"]).exists()
    assert not Rule.objects.get(pk=made["inactive"].pk).active
    page.context.close()

    # --- The agent: their scorecard shows the confirmed findings with the supervisor's notes -------
    page = login(browser, live_server, "agent")
    page.goto(f"{url}/admin/qa/scorecard/")
    assert page.locator("#result_list tbody tr").count() == 3  # this week first, then two earlier ones
    page.locator("#result_list tbody tr").first.locator("th a").click()
    page.wait_for_selector(".figures")
    handled = Transcript.objects.filter(started_at__gte=timezone.now() - timedelta(days=1)).count()
    assert handled == 3
    assert page.locator(".figure.main .value").inner_text() == str(scorecards.score(handled, 10 + 6))
    items = page.locator("ul.hits > li")
    assert items.count() == 2
    assert "138****8000" in items.first.inner_text()  # agents see the number masked
    assert "13800138000" not in page.content()
    assert CONFIRM_NOTE in items.first.inner_text() and RUDE_NOTE in items.nth(1).inner_text()
    points = page.locator(".chart svg.trend polyline.score").get_attribute("points")
    assert len(points.split()) == 3  # three weeks in the trend: 100, 100, then this one
    page.screenshot(path=str(screenshot_dir / "qa-scorecard-agent-zh-hans.png"), full_page=True)
    card = Scorecard.objects.get(agent=made["agent"], week=scorecards.week_of(timezone.localdate()))
    assert (card.calls, card.chats, card.confirmed) == (2, 1, {"privacy": 1, "courtesy": 1})
    # The finding itself, read-only for the agent: the verdict, who gave it, and the note.
    items.first.locator(".where a").click()
    page.wait_for_selector(".verdict.confirmed")
    assert page.locator(".review-box").count() == 0
    assert page.locator("blockquote").inner_text() == CONFIRM_NOTE
    assert "supervisor" in page.locator(".qa-page").inner_text()
    assert marks(page, ".segments li.current") == ["138****8000"]
    page.context.close()
