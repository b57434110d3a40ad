"""The Nine O'Clock Radio in a real Chromium, with a real Celery worker:
agent nominates from a ticket → curator approves → the morning task runs → the business user reads,
listens and answers → the agent sees the answer."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from mutagen.mp3 import MPEGInfo

from core.demo import DEMO_LOGINS, ensure_demo_logins
from radio import building, services, sources
from radio.models import Channel, Digest, DigestItem, Nomination, Reply, Subscription
from radio.tasks import build_morning_digests
from radio.templatetags.radio import duration
from tests.browser.support import in_thread
from tests.crm import factories as f
from tickets import services as ticket_services
from tickets.models import Department, TicketEvent

pytestmark = pytest.mark.browser
PASSWORD = {login.username: login.password for login in DEMO_LOGINS}
DOCS = Path(settings.BASE_DIR) / "docs"

# A morning's other cases, already screened: (channel, consumer's words, agent's note, severity, customers).
OTHERS = [
    ("logistics", "快递员没打电话就放驿站了，还显示本人签收", "顾客要求先电话确认再放驿站", 3, 4),
    ("logistics", "物流显示已签收，但我根本没收到包裹", "多为代签收，顾客要求平台介入", 3, 2),
    ("refunds", "退款申请提交三天了还没到账", "银行卡退款时效说明不清", 2, 5),
    ("refunds", "I would like a refund, the item arrived damaged.", "海外买家，英文沟通", 2, 1),
    ("app", "刚下单就发现地址写错了，App 里改不了", "建议在订单详情里开放改地址", 2, 3),
]
HEADLINES = {
    "快递员没打电话就放驿站了，还显示本人签收": "快递员未经同意放驿站",
    "物流显示已签收，但我根本没收到包裹": "显示签收却没收到包裹",
    "退款申请提交三天了还没到账": "退款审核通过三天仍未到账",
    "I would like a refund, the item arrived damaged.": "Damaged on arrival, refund wanted",
    "刚下单就发现地址写错了，App 里改不了": "App 里不能自己改收货地址",
}


@pytest.fixture
def radio_media(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The worker records into a temporary MEDIA_ROOT, which the live server serves from."""
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    return media


def morning() -> dict[str, Any]:
    ensure_demo_logins()
    from django.contrib.auth.models import User

    users = {u.username: u for u in User.objects.filter(username__in=["agent", "supervisor", "business"])}
    depts = {code: Department.objects.create(code=code, name=name)
             for code, name in (("logistics", "物流"), ("refunds", "退款"), ("product", "商品"))}  # fmt: skip
    channels = {
        "logistics": Channel.objects.create(code="logistics", name="快递与配送", department=depts["logistics"],
                                            description="揽收、转运、派送、驿站与签收。"),
        "refunds": Channel.objects.create(code="refunds", name="退款政策", department=depts["refunds"],
                                          description="退款规则、时效与到账。"),
        "app": Channel.objects.create(code="app", name="App 与下单体验", department=depts["product"],
                                      description="顾客在 App 里做不到的事。"),
    }  # fmt: skip
    for channel in channels.values():
        Subscription.objects.create(user=users["business"], channel=channel)
    who = f.consumer(display_name="王小明", phone="13800138000")
    ticket = ticket_services.open_ticket(
        who, subject="快递三天没动", department=depts["logistics"], route=False,
        body="我的快递三天没动了，订单号 T2026112301，电话13800138000，麻烦帮忙查一下",
    )  # fmt: skip
    ticket_services.assign_ticket(ticket, users["agent"])
    ticket_services.add_message(ticket, body="您好，正在为您核实", author_kind=TicketEvent.Author.AGENT)
    # Two weeks of earlier mornings, for the trend, and today's other cases.
    today = timezone.localdate()
    n = 0
    for back in range(13, -1, -1):
        day = today - timedelta(days=back)
        evening = timezone.make_aware(datetime.combine(day - timedelta(days=1), clock(18)))
        for code, quote, note, severity, customers in OTHERS:
            if back and (back + len(quote)) % 3:
                continue
            n += 1
            case = f.consumer()
            t = ticket_services.open_ticket(case, subject=quote[:20], department=depts["logistics"], route=False,
                                            body=quote, now=evening - timedelta(hours=3))  # fmt: skip
            made, _created = services.nominate(sources.resolve("ticket", t.pk), by=users["agent"], quote=quote,
                                               note=note, severity=severity, now=evening)  # fmt: skip
            Nomination.objects.filter(pk=made.pk).update(customers=customers + back % 3)
            services.approve_nomination(made, [channels[code]], by=users["supervisor"], now=evening,
                                        headline=HEADLINES[quote])  # fmt: skip
        if back:
            building.build_digests(day, now=timezone.make_aware(datetime.combine(day, clock(8, 30))))
    return {"ticket": ticket, "channels": channels, **users}


def login(page: Any, url: str, who: str, *, radio: bool = False) -> None:
    page.goto(f"{url}/radio/login/" if radio else f"{url}/admin/login/")
    page.fill("#id_username", who)
    page.fill("#id_password", PASSWORD[who])
    page.press("#id_password", "Enter")
    page.wait_for_load_state("networkidle")


@pytest.fixture
def contexts(browser: Any) -> Iterator[dict[str, Any]]:
    made: dict[str, Any] = {}

    def new(name: str, *, width: int = 1280, height: int = 900, locale: str = "zh-CN", scale: int = 1) -> Any:
        context = browser.new_context(
            locale=locale, extra_http_headers={"Accept-Language": locale},
            viewport={"width": width, "height": height}, device_scale_factor=scale,
        )  # fmt: skip
        made[name] = context
        return context.new_page()

    yield {"new": new}
    for context in made.values():
        context.close()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make test installs it)")
def test_agent_nominates_curator_approves_task_runs_business_answers_agent_reads(
    contexts: dict[str, Any], live_server: Any, screenshot_dir: Path, transactional_db: None, radio_media: Path,
    celery_worker: Popen[bytes],
) -> None:  # fmt: skip
    data = in_thread(morning)
    ticket = data["ticket"]
    url = live_server.url

    # 1. The agent, on the ticket: "Nominate to the radio"; the form holds the consumer's words, masked.
    agent = contexts["new"]("agent")
    login(agent, url, "agent")
    agent.goto(f"{url}/admin/tickets/ticket/{ticket.pk}/change/")
    agent.click("a.radio-nominate")
    agent.wait_for_selector("#id_quote")
    quote = agent.input_value("#id_quote")
    assert quote == "我的快递三天没动了，订单号 T2026112301，电话138****8000，麻烦帮忙查一下"
    assert agent.input_value("#id_channel") == str(data["channels"]["logistics"].pk)  # the ticket's department's
    agent.fill("#id_note", "华东转运中心这周第三起，顾客很着急")
    agent.select_option("#id_severity", "3")
    agent.screenshot(path=str(screenshot_dir / "radio-nominate-zh-hans.png"), full_page=True)
    agent.click(".submit-row input[type=submit]")
    agent.wait_for_url(f"{url}/admin/tickets/ticket/{ticket.pk}/change/")
    assert agent.locator(".messagelist").count() == 1
    nomination = Nomination.objects.get(source_kind="ticket", source_id=ticket.pk)
    assert (nomination.status, nomination.severity, nomination.nominated_by_id) == ("pending", 3, data["agent"].pk)

    # 2. The curator screens it: the queue opens on what waits; approve into the channel with a headline.
    curator = contexts["new"]("curator")
    login(curator, url, "supervisor")
    curator.goto(f"{url}/admin/radio/nomination/")
    assert curator.locator("#result_list tbody tr").count() == 1
    curator.screenshot(path=str(screenshot_dir / "radio-screening-queue-zh-hans.png"), full_page=True)
    curator.click("#result_list tbody tr th a")
    curator.wait_for_selector(".radio-screen")
    curator.fill("#id_headline", "揽收后三天不更新物流")
    curator.click("button[value=approve]")
    curator.wait_for_selector(".messagelist")
    curator.screenshot(path=str(screenshot_dir / "radio-screening-zh-hans.png"), full_page=True)
    assert Nomination.objects.get(pk=nomination.pk).status == "approved"

    # 3. The morning task runs on the worker: the digests, then their recordings.
    build_morning_digests.delay()
    deadline = time.monotonic() + 90
    today = timezone.localdate()
    while (
        not Digest.objects.filter(day=today).exists()
        or Digest.objects.filter(day=today, audio_status=Digest.Audio.PENDING).exists()
    ):
        assert time.monotonic() < deadline, "the morning task did not run"
        time.sleep(0.3)
    digest = Digest.objects.get(day=today, channel__code="logistics")
    assert digest.audio_status == Digest.Audio.READY, digest.audio_error
    item = DigestItem.objects.get(digest=digest, nomination=nomination)

    # 4. The business user opens the radio on their phone and on their desk: reads, listens, answers.
    phone = contexts["new"]("phone", width=390, height=844, scale=2)
    login(phone, url, "business", radio=True)
    assert phone.url == f"{url}/radio/"
    phone.wait_for_selector(f"#item-{item.pk}")
    assert "138****8000" in phone.locator(f"#item-{item.pk} blockquote").inner_text()
    assert "13800138000" not in phone.content()
    phone.screenshot(path=str(screenshot_dir / "radio-phone-zh-hans.png"))
    desk = contexts["new"]("desk", locale="en-US")
    login(desk, url, "business", radio=True)
    audio_src = desk.get_attribute("#channel-logistics audio", "src")
    recording = desk.request.get(f"{url}{audio_src}")
    assert recording.status == 200 and recording.headers["content-type"] == "audio/mpeg"
    seconds = MPEGInfo(io.BytesIO(recording.body())).length
    assert seconds > 10 and abs(seconds - digest.audio_seconds) < 0.2
    # The player knows the length before it is pressed (preload="metadata"), and the page says it.
    desk.wait_for_function("document.querySelector('#channel-logistics audio').duration > 0")
    played = desk.evaluate("document.querySelector('#channel-logistics audio').duration")
    assert abs(played - seconds) < 1, (played, seconds)
    assert desk.locator("#channel-logistics .listen time.length").inner_text() == duration(digest.audio_seconds)
    phone_en = contexts["new"]("phone-en", width=390, height=844, scale=2, locale="en-US")
    login(phone_en, url, "business", radio=True)
    phone_en.wait_for_function("document.querySelector('#channel-logistics audio').duration > 0")
    phone_en.screenshot(path=str(screenshot_dir / "radio-phone-en.png"))
    # Acknowledging updates the item in place: no reload, the count moves, the confirmation stays.
    desk.evaluate("window.notReloaded = true")
    count_before = desk.locator("#channel-logistics .ack-count").inner_text()
    desk.click(f"#item-{item.pk} button.ack")
    desk.wait_for_selector(f"#item-{item.pk} .acked-by[role=status]")
    assert desk.evaluate("window.notReloaded") is True
    assert desk.locator(f"#item-{item.pk} .acked-by").inner_text().startswith("✓ Acknowledged by")
    assert desk.locator("#channel-logistics .ack-count").inner_text() != count_before
    assert desk.locator(f"#item-{item.pk}.acked").count() == 1
    desk.screenshot(path=str(screenshot_dir / "radio-acknowledged-desktop-en.png"))
    desk_zh = contexts["new"]("desk-zh")
    login(desk_zh, url, "business", radio=True)
    desk_zh.wait_for_selector(f"#item-{item.pk} .acked-by")
    desk_zh.screenshot(path=str(screenshot_dir / "radio-desktop-zh-hans.png"), full_page=True)
    desk.click(f"#item-{item.pk} .reply-box summary")
    desk.fill(f"#reply-{item.pk}", "已和中通华东转运中心对接，周五前恢复正常揽收")
    desk.click(f"#item-{item.pk} .reply-box button")
    desk.wait_for_selector(f"#item-{item.pk} .replies")
    desk.screenshot(path=str(screenshot_dir / "radio-desktop-en.png"), full_page=True)
    desk.goto(f"{url}/radio/")
    desk.wait_for_selector(".channel")
    desk.screenshot(path=str(DOCS / "radio.png"))
    assert Reply.objects.get(item=item).author_id == data["business"].pk
    assert DigestItem.objects.get(pk=item.pk).acknowledged_by_id == data["business"].pk

    # 5. The agent sees the answer on their nomination in the admin.
    agent.goto(f"{url}/admin/radio/nomination/{nomination.pk}/change/")
    feedback = agent.locator(".feedback").inner_text()
    assert "已和中通华东转运中心对接，周五前恢复正常揽收" in feedback
    agent.screenshot(path=str(screenshot_dir / "radio-agent-feedback-zh-hans.png"), full_page=True)
