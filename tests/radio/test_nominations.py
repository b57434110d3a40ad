"""Nominating a case: the consumer's own words from each kind of source, masked; once per source; the view."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from core import roles
from qa.models import Finding, Rule, RuleVersion
from radio import services, sources
from radio.models import Nomination
from tests.qa import factories as qa_factories
from tests.radio import factories as rf

pytestmark = pytest.mark.django_db


def test_ticket_quote_is_the_consumers_messages_only_with_pii_masked() -> None:
    made = rf.ticket("快递三天没动了，电话13800138000", "身份证110101199003071234也登记了")
    source = sources.resolve("ticket", made.pk)
    assert source.quote == "快递三天没动了，电话138****8000\n身份证110***********1234也登记了"
    assert "正在为您核实" not in source.quote  # the agent's reply is not the consumer's words
    assert source.department == made.department


def test_transcript_quote_is_the_consumer_segments_and_a_finding_quotes_the_nearest_consumer_turns(
    agent: User,
) -> None:
    transcript = qa_factories.transcript(
        [
            ("consumer", "我要退款，手机13912345678"),
            ("agent", "爱买不买"),
            ("consumer", "你这什么态度"),
            ("agent", "好的"),
        ],
        agent=agent,
    )
    assert sources.resolve("transcript", transcript.pk).quote == "我要退款，手机139****5678\n你这什么态度"
    rule = Rule.objects.create(name="rude", kind="keyword", terms=["爱买不买"], category="courtesy", severity=3)
    version = RuleVersion.objects.create(rule=rule, number=1, kind="keyword", category="courtesy", severity=3)
    segments = {s.seq: s for s in transcript.segments.all()}
    on_agent = Finding.objects.create(
        transcript=transcript, rule=rule, rule_version=version, category="courtesy", severity=3,
        segment=segments[1], matched_text="爱买不买", occurred_at=timezone.now(),
    )  # fmt: skip
    source = sources.resolve("finding", on_agent.pk)
    assert source.quote == "我要退款，手机139****5678\n你这什么态度"  # the turn before and the turn after
    assert source.severity == 3
    on_consumer = Finding.objects.create(
        transcript=transcript, rule=rule, rule_version=version, category="courtesy", severity=2,
        segment=segments[2], matched_text="态度", occurred_at=timezone.now(),
    )  # fmt: skip
    assert sources.resolve("finding", on_consumer.pk).quote == "你这什么态度"


def test_nominating_the_same_source_twice_is_one_nomination(agent: User) -> None:
    made = rf.ticket("快递三天没动了")
    source = sources.resolve("ticket", made.pk)
    first, created = services.nominate(source, by=agent, quote="快递三天没动了")
    again, created_again = services.nominate(source, by=agent, quote="another wording", note="x")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.quote == "快递三天没动了"
    assert Nomination.objects.count() == 1


def test_concurrent_nominations_of_one_source_make_one_row(
    transactional_db: None, make_user: Callable[..., User]
) -> None:
    agent = make_user("agent-c", roles.AGENT)
    source = sources.resolve("ticket", rf.ticket("快递丢了").pk)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(services.nominate(source, by=agent, quote="快递丢了")[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert Nomination.objects.count() == 1


def test_bad_input_names_the_field(agent: User) -> None:
    source = sources.resolve("ticket", rf.ticket("x").pk)
    with pytest.raises(ValidationError) as blank:
        services.nominate(source, by=agent, quote="   ")
    assert list(blank.value.message_dict) == ["quote"]
    with pytest.raises(ValidationError) as long:
        services.nominate(source, by=agent, quote="长" * 2001)
    assert list(long.value.message_dict) == ["quote"]
    with pytest.raises(ValidationError) as closed:
        services.nominate(source, by=agent, quote="ok", channel=rf.channel("old", active=False))
    assert list(closed.value.message_dict) == ["channel"]
    with pytest.raises(ValidationError) as kind:
        sources.resolve("email", 1)
    assert list(kind.value.message_dict) == ["source"]
    with pytest.raises(ValidationError) as missing:
        sources.resolve("ticket", 987654)
    assert list(missing.value.message_dict) == ["id"]
    assert Nomination.objects.count() == 0


def test_nominate_page_is_prefilled_and_post_redirects_to_a_safe_next(
    client_for: Callable[[User], Client], agent: User
) -> None:
    made = rf.ticket("耳机左耳没声音，13800138000")
    logistics = rf.channel("logistics", "快递与配送", dept=made.department)
    client = client_for(agent)
    url = reverse("radio:nominate")
    page = client.get(url, {"source": "ticket", "id": str(made.pk), "next": f"/admin/tickets/ticket/{made.pk}/change/"})
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["quote"] == "耳机左耳没声音，138****8000"
    assert form.initial["channel"] == logistics.pk  # the ticket's department's channel
    back = f"/admin/tickets/ticket/{made.pk}/change/"
    response = client.post(url, {"source": "ticket", "id": str(made.pk), "quote": "耳机左耳没声音 13800138000",
                                 "note": "批次问题", "channel": logistics.pk, "severity": 3, "next": back})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == back
    nomination = Nomination.objects.get()
    assert (nomination.quote, nomination.note, nomination.severity) == ("耳机左耳没声音 138****8000", "批次问题", 3)
    assert (nomination.nominated_by, nomination.suggested_channel, nomination.ticket) == (agent, logistics, made)
    evil = client.post(url, {"source": "ticket", "id": str(made.pk), "quote": "x", "severity": 2,
                             "next": "https://evil.example.com/"})  # fmt: skip
    assert evil["Location"] == reverse("admin:radio_nomination_changelist")  # unsafe next ignored
    assert Nomination.objects.count() == 1  # and nothing new: same source


def test_nominate_answers_json_for_the_chat_console(client_for: Callable[[User], Client], agent: User) -> None:
    made = rf.ticket("客服态度太差")
    rf.channel("service", "服务体验", dept=made.department)
    client = client_for(agent)
    headers = {"Accept": "application/json"}
    data = {"source": "ticket", "id": str(made.pk), "quote": "客服态度太差", "note": "n", "channel": "service"}
    first = client.post(reverse("radio:nominate"), data, headers=headers)
    assert first.status_code == 201
    body = first.json()
    assert body["created"] is True and body["status"] == "pending"
    assert Nomination.objects.get(pk=body["id"]).suggested_channel.code == "service"  # type: ignore[union-attr]
    second = client.post(reverse("radio:nominate"), data, headers=headers)
    assert second.status_code == 200 and second.json() == {**body, "created": False}
    bad = client.post(reverse("radio:nominate"), {**data, "quote": ""}, headers=headers)
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["quote"]
    unknown = client.post(reverse("radio:nominate"), {**data, "source": "fax"}, headers=headers)
    assert unknown.status_code == 400 and list(unknown.json()["errors"]) == ["source"]


def test_only_agents_who_may_see_the_source_can_nominate(
    client_for: Callable[[User], Client], make_user: Callable[..., User]
) -> None:
    made = rf.ticket("x")
    url = reverse("radio:nominate")
    business = make_user("biz", roles.BUSINESS)
    merchant = make_user("shop", roles.MERCHANT_STAFF)
    for user in (business, merchant):
        client = client_for(user)
        assert client.get(url, {"source": "ticket", "id": str(made.pk)}).status_code == 403
        denied = client.post(url, {"source": "ticket", "id": str(made.pk), "quote": "x", "severity": 2},
                             headers={"Accept": "application/json"})  # fmt: skip
        assert denied.status_code == 403
    assert Nomination.objects.count() == 0
    anonymous = Client().get(url, {"source": "ticket", "id": str(made.pk)})
    assert anonymous.status_code == 302


def test_ticket_desk_links_to_the_nominate_page(client_for: Callable[[User], Client], agent: User) -> None:
    made = rf.ticket("快递三天没动了")
    page = client_for(agent).get(reverse("admin:tickets_ticket_change", args=[made.pk]))
    with translation.override("en"):
        link = reverse("radio:nominate")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{link}?source=ticket&amp;id={made.pk}" in html


def test_nominate_json_errors_are_json(client_for: Callable[[User], Client], agent: User) -> None:
    response = client_for(agent).post(
        reverse("radio:nominate"), {"source": "ticket", "id": "abc"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert json.loads(response.content)["errors"].keys() == {"id"}


def test_a_chat_is_nominated_with_its_consumers_messages(client_for: Callable[[User], Client], agent: User) -> None:
    from chat.models import ChatSession

    made = rf.ticket("人工客服！我的退款到底什么时候到？", "我的卡号6222021234567890123")
    chat = ChatSession.objects.create(ticket=made, consumer=made.consumer, state="active", agent=agent,
                                      created_at=timezone.now(), last_activity_at=timezone.now())  # fmt: skip
    source = sources.resolve("chat", chat.pk)
    assert source.quote == "人工客服！我的退款到底什么时候到？\n我的卡号**** **** **** 0123"
    assert (source.ticket, source.kind) == (made, "chat")
    response = client_for(agent).post(
        reverse("radio:nominate"), {"source": "chat", "id": chat.pk, "quote": source.quote, "note": "退款时效"},
        headers={"Accept": "application/json"},
    )  # fmt: skip
    assert response.status_code == 201
    assert Nomination.objects.get().ticket == made
