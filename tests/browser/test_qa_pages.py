"""The QA pages in a real Chromium, in Chinese and English, on a desktop and a phone: the findings queue (one
row per rule per call, the audio column), a finding with its other matches, a rule's backtest with a run
over history, the rule's detector settings, the transcript list's language filter, and a scorecard's chart.

Screenshots of each go to var/screenshots/qa-pages-<page>-<language>-<device>.png.
"""

from __future__ import annotations

import io
import wave
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import timezone

from core.demo import DEMO_LOGINS, ensure_demo_logins
from qa import evaluation, scorecards, services
from qa.models import Finding, Recording, Rule, RuleRun, Scorecard
from tests.crm.factories import consumer
from tests.qa import factories

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
DEVICES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
LANGUAGES = {"zh-hans": "zh-CN", "en": "en"}


def silent_wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()


def make_desk() -> dict[str, Any]:
    ensure_demo_logins()
    agent = User.objects.get(username="agent")
    supervisor = User.objects.get(username="supervisor")
    banned = factories.rule("服务禁语", "phrase", speaker="agent", terms=["说了多少遍", "你自己看", "爱买不买"],
                            severity=3, category="courtesy")  # fmt: skip
    factories.rule("读出手机号", "pii", speaker="agent", severity=4, category="privacy", pii_kinds=["phone"])
    promise = factories.rule(
        "违规承诺退款", "proximity", speaker="agent", terms=["保证"], near_terms=["退款"], distance=4, scope="call",
        negations=["没法", "不能"], negation_window=2, severity=3, category="compliance", active=False,
    )  # fmt: skip
    now = timezone.localtime()
    monday = timezone.make_aware(datetime.combine(now.date() - timedelta(days=now.weekday()), time.min))
    recording = Recording.objects.create(
        audio=ContentFile(silent_wav(20), name="call.wav"), agent=agent, consumer=consumer(), called_at=now,
        language="zh", status=Recording.Status.DONE,
    )  # fmt: skip
    recent = max(now - timedelta(hours=2), monday + timedelta(minutes=5))  # this week, whatever the day
    recorded = factories.transcript(
        [("consumer", "退款什么时候到？"), ("agent", "我都说了多少遍了，你自己看短信"), ("consumer", "什么态度"),
         ("agent", "爱买不买，你的手机13800138000对吧")],
        agent=agent, recording=recording, started_at=recent,
    )  # fmt: skip
    promised = factories.transcript(
        [("agent", "您好，我保证"), ("consumer", "真的吗"), ("agent", "今天给您退款"), ("agent", "运费没法保证退款")],
        agent=agent, started_at=now - timedelta(days=3),
    )  # fmt: skip
    chat = factories.transcript(
        [("agent", "爱买不买")], agent=agent, kind="chat", started_at=recent + timedelta(minutes=2)
    )
    english = factories.transcript([("agent", "Hello, call 13912345678")], agent=agent, language="en",
                                   started_at=recent + timedelta(minutes=1))  # fmt: skip
    evaluation.evaluate_transcripts([recorded.pk, promised.pk, chat.pk, english.pk])
    # Twelve weeks of scorecards for two agents: the trend and the team median.
    other = User.objects.create(username="qa-agent-9", first_name="小周", is_staff=True)
    for weeks_ago in range(1, 12):
        day = now - timedelta(weeks=weeks_ago)
        mine = [("agent", "您好"), ("agent", "爱买不买")] if weeks_ago % 3 else [("agent", "您好")]
        for who, lines in ((agent, mine), (other, [("agent", "您好"), ("agent", "你自己看")])):
            if who is agent and weeks_ago > 8:
                continue  # the agent joined later than the team: the median starts before their line
            made = factories.transcript(lines, agent=who, started_at=day)
            evaluation.evaluate_transcripts([made.pk])
    old = Finding.objects.filter(occurred_at__lt=monday)
    services.review_findings(list(old), verdict="confirmed", by=supervisor, note="历史")
    for weeks_ago in range(12):
        scorecards.compute_week((now - timedelta(weeks=weeks_ago)).date())
    run = services.apply_rule_to_history(promise, days=7, by=supervisor)
    evaluation.apply_rule_run(run.pk)
    return {"recorded": recorded, "promise": promise, "banned": banned, "agent": agent}


def open_page(browser: Any, live_server: Any, language: str, device: str) -> Any:
    context = browser.new_context(
        locale=LANGUAGES[language], extra_http_headers={"Accept-Language": LANGUAGES[language]},
        viewport=DEVICES[device],
    )  # fmt: skip
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", PASSWORD["supervisor"])
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_qa_pages_in_both_languages_on_a_desktop_and_a_phone(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, settings: Any, tmp_path: Path,
    language: str, device: str,
) -> None:  # fmt: skip
    settings.MEDIA_ROOT = str(tmp_path)
    made = make_desk()
    url = live_server.url
    page = open_page(browser, live_server, language, device)

    def shot(name: str) -> None:
        page.screenshot(path=str(screenshot_dir / f"qa-pages-{name}-{language}-{device}.png"), full_page=True)

    # The queue: the recorded call's three banned phrases are one row, with the audio at the first.
    page.goto(f"{url}/admin/qa/finding/")
    rows = page.locator("#result_list tbody tr")
    open_findings = Finding.objects.filter(status="open")
    assert open_findings.count() == 7  # 禁语 ×3 and a phone in the call, 禁语 in the chat, two phones, the promise
    assert rows.count() == 5  # the three banned phrases of the call in one row
    banned_row = rows.filter(has=page.locator(f"a[href*='/transcript/{made['recorded'].pk}/']")).filter(
        has_text="说了多少遍"
    )
    assert banned_row.locator(".also").inner_text() == (
        "本次通话另有 2 处" if language == "zh-hans" else "+2 more in this call"
    )
    assert banned_row.locator("a.play").get_attribute("href").endswith("?t=5#seg-1")
    shot("findings-queue")

    # The finding: its other matches listed; the verdict covers them.
    banned_row.locator("th a").click()
    page.wait_for_selector(".review-box")
    assert [t.strip() for t in page.locator("ul.also-here mark").all_inner_texts()] == ["你自己看", "爱买不买"]
    assert page.locator("audio").count() == 1
    shot("finding-review")

    # The backtest of the inactive promise rule, with its run over history done.
    page.goto(f"{url}/admin/qa/rule/{made['promise'].pk}/backtest/")
    run = RuleRun.objects.get()
    row = page.locator(f"table.qa-runs tr[data-run='{run.pk}']")
    assert row.locator("[data-field=count]").inner_text() == "4 / 4"  # the four calls and chats of the week
    assert row.locator("[data-field=added]").inner_text() == "1"
    assert Finding.objects.get(rule=made["promise"]).matched_text == "保证"  # across turns, the negated one dropped
    shot("backtest")
    page.fill("#id_days", "365")
    page.click("form.qa-apply button[type=submit]")  # the browser refuses it (the server does too, tests/qa)
    assert page.locator("#id_days").evaluate("n => n.validity.rangeOverflow") is True
    assert RuleRun.objects.count() == 1

    # The rule list: names and kinds in the page's language (the demo's rule names are Chinese data).
    page.goto(f"{url}/admin/qa/rule/")
    assert page.locator("#result_list tbody tr").count() == 3
    shot("rule-list")

    # The rule's settings: negations, the call scope, and the PII parts on the PII rule.
    page.goto(f"{url}/admin/qa/rule/{made['promise'].pk}/change/")
    assert page.locator("#id_negations").input_value() == "没法\n不能"
    assert page.locator("#id_scope").input_value() == "call"
    shot("rule-change")
    pii = Rule.objects.get(kind="pii")
    page.goto(f"{url}/admin/qa/rule/{pii.pk}/change/")
    assert page.locator("input[name=pii_kinds]:checked").evaluate_all("ns => ns.map(n => n.value)") == ["phone"]

    # The transcript list: the language filter names the languages.
    page.goto(f"{url}/admin/qa/transcript/")
    labels = page.locator("#changelist-filter a[href*='language__exact']").all_inner_texts()
    assert labels == (["英文", "中文"] if language == "zh-hans" else ["English", "Chinese"])
    shot("transcript-list")

    # The agent's scorecard: every week labelled, the median from the axis.
    card = Scorecard.objects.filter(agent=made["agent"]).order_by("-week").first()
    assert card is not None
    page.goto(f"{url}/admin/qa/scorecard/{card.pk}/change/")
    page.wait_for_selector(".chart svg.trend")
    days = page.locator(".chart svg.trend text.day").evaluate_all("ns => ns.map(n => n.lastChild.nodeValue)")
    assert len(days) == 12 and days[-1] == card.week.strftime("%m-%d")
    median = page.locator(".chart svg.trend polyline.median").get_attribute("points")
    assert median.split()[0].startswith("28.0,")
    score = page.locator(".chart svg.trend polyline.score").get_attribute("points")
    assert float(score.split()[0].split(",")[0]) > 28.0  # the agent joined later than the team
    shot("scorecard")
    page.context.close()
