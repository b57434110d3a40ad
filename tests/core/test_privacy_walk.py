"""One conversation full of personal numbers, walked over every route that shows consumers' words, per role.

Agents without ``crm.view_consumer_pii`` and merchant staff never see the numbers, however the route shows
the words (API, ticket queue and page, chat admin, QA transcripts, findings and search); supervisors see
them whole. The radio keeps only masked copies, for everyone, and never reads a number aloud.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from chat import desk as chat_desk
from chat import services as chat_services
from chat.models import ChatSession
from core import roles
from merchants.models import MerchantMembership
from qa import chats, evaluation
from qa import services as qa_services
from qa.models import Finding, Transcript
from radio import audio, sources
from radio import building as radio_building
from radio import services as radio_services
from radio.models import Digest, DigestItem, Nomination
from tests.chat.support import make_agent, plain_consumer, staffed_all_day
from tests.crm import factories as f
from tests.qa import factories as qa_factories
from tests.radio import factories as radio_factories
from tickets import services
from tickets.models import Department, Ticket

SAID = "我的手机13912345678 身份证110101199003071234 卡号6222020200112233445 一三八一二三四五六七八"
RAW = ("13912345678", "110101199003071234", "6222020200112233445", "一三八一二三四五六七八")
MASKS = ("139****5678", "110***********1234", "**** **** **** 3445", "138****5678")

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user: Callable[..., User], settings: Any) -> dict[str, Any]:
    staffed_all_day(settings)
    shop = f.merchant("SHOP-WALK")
    people = {
        "agent": make_agent(make_user, "agent-walk"),
        "supervisor": make_agent(make_user, "supervisor-walk", roles.SUPERVISOR),
        "merchant": make_user("staff-walk", roles.MERCHANT_STAFF),
    }
    MerchantMembership.objects.create(user=people["merchant"], merchant=shop)
    agent = people["agent"]
    # A web ticket about the shop, held by the agent: the words are its subject and its first message.
    who = f.consumer("C-WALK")
    ticket = services.open_ticket(
        who, subject=SAID, department=Department.objects.create(code="walk", name="售后"), body=SAID,
        order=f.order(who, shop), route=False,
    )  # fmt: skip
    services.assign_ticket(ticket, agent)
    # A live chat the agent took: the bot's summary quotes the words; QA turns the chat into a transcript.
    talker = plain_consumer()
    chat, _created = chat_services.start_chat(talker.pk, "zh-hans")
    chat_services.consumer_message(talker.pk, "zh-hans", SAID)
    chat_services.request_human(talker.pk)
    chat = chat_desk.accept_chat(chat.pk, agent)
    chats.collect_chats([chat.ticket_id])
    chat_transcript = Transcript.objects.get(ticket_id=chat.ticket_id)
    # A call of the agent's, and a QA finding in it that its supervisor confirmed.
    qa_factories.rule("card", "keyword", speaker="consumer", terms=["卡号"], severity=3, category="privacy")
    call = qa_factories.transcript([("consumer", SAID), ("agent", "好的")], agent=agent, ticket=ticket)
    evaluation.evaluate_transcripts([call.pk])
    finding = Finding.objects.get(transcript=call)
    qa_services.review_findings(Finding.objects.filter(pk=finding.pk), verdict="confirmed", by=people["supervisor"])
    return {
        **people, "ticket": ticket, "chat": chat, "call": call, "chat_transcript": chat_transcript,
        "finding": finding,
    }  # fmt: skip


def shows_words(world: dict[str, Any]) -> list[str]:
    """Every route that shows the consumer's words to whoever may read the case."""
    ticket, chat = world["ticket"], world["chat"]
    return [
        "/api/tickets/",
        f"/api/tickets/{ticket.pk}/",
        f"/api/tickets/{chat.ticket_id}/",
        "/admin/tickets/ticket/?queue=all",
        f"/admin/tickets/ticket/?queue=all&q={ticket.pk}",
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        f"/admin/tickets/ticket/{chat.ticket_id}/change/",
        f"/admin/chat/chatsession/{chat.pk}/change/",
        f"/admin/qa/transcript/{world['call'].pk}/change/",
        f"/admin/qa/transcript/{world['chat_transcript'].pk}/change/",
        "/admin/qa/finding/?status=all",
        f"/admin/qa/finding/{world['finding'].pk}/change/",
        "/admin/qa/transcript/search/?q=卡号",
    ]


def text_of(response: Any) -> str:
    if response.get("Content-Type", "").startswith("application/json"):
        return json.dumps(response.json(), ensure_ascii=False)
    return str(response.content.decode())


@pytest.mark.parametrize("role", ["agent", "merchant"])
def test_no_route_shows_an_agent_or_merchant_staff_the_numbers_a_consumer_wrote(
    world: dict[str, Any], client_for: Callable[[User], Client], role: str
) -> None:
    client = client_for(world[role])
    seen = 0
    for url in shows_words(world):
        response = client.get(url)
        # 302 to the admin's index is its "does not exist" for a row outside the user's scope: nothing shown.
        refused_as_missing = response.status_code == 302 and response["Location"] == "/admin/"
        assert response.status_code in (200, 403, 404) or refused_as_missing, (url, response.status_code)
        page = text_of(response)
        assert [raw for raw in RAW if raw in page] == [], url
        seen += response.status_code == 200 and all(mask in page for mask in MASKS)
    # The routes each role may read showed the words, masked (not merely nothing).
    assert seen == {"agent": 12, "merchant": 5}[role]


def test_every_route_shows_a_supervisor_the_numbers_whole(
    world: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    client = client_for(world["supervisor"])
    for url in shows_words(world):
        response = client.get(url)
        assert response.status_code == 200, url
        page = text_of(response)
        assert [raw for raw in RAW if raw not in page] == [], url


def test_the_radio_keeps_and_reads_only_masked_words_even_for_supervisors(
    world: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    agent, supervisor, ticket = world["agent"], world["supervisor"], world["ticket"]
    prefilled = client_for(agent).get(f"/radio/nominate/?source=ticket&id={ticket.pk}")
    assert prefilled.status_code == 200
    page = text_of(prefilled)
    assert [raw for raw in RAW if raw in page] == [] and all(mask in page for mask in MASKS)
    # Nominated with the consumer's words typed back whole, as an agent might paste them.
    nominated = client_for(agent).post(
        "/radio/nominate/", {"source": "ticket", "id": ticket.pk, "quote": SAID, "note": f"回电 {SAID}"}
    )
    assert nominated.status_code == 302
    nomination = Nomination.objects.get()
    masked = "我的手机139****5678 身份证110***********1234 卡号**** **** **** 3445 138****5678"
    assert (nomination.quote, nomination.note) == (masked, f"回电 {masked}")
    channel = radio_factories.channel("walk", dept=ticket.department)
    radio_services.approve_nomination(nomination, [channel], by=supervisor)
    radio_building.build_digests()
    digest = Digest.objects.get(channel=channel)
    script = " ".join(audio.digest_script(digest, list(DigestItem.objects.filter(digest=digest))))
    assert [raw for raw in RAW if raw in script] == [] and masked in script
    for url in ("/admin/radio/nomination/", f"/admin/radio/nomination/{nomination.pk}/change/",
                "/admin/radio/digestitem/", "/radio/"):  # fmt: skip
        response = client_for(supervisor).get(url)
        assert response.status_code == 200, url
        assert [raw for raw in RAW if raw in text_of(response)] == [], url


def test_a_ticket_named_anywhere_in_the_admin_is_named_masked() -> None:
    who = f.consumer("C-STR")
    ticket = services.open_ticket(
        who, subject=f"回电 {RAW[3]}", department=Department.objects.create(code="str", name="售后"), route=False
    )
    assert str(ticket) == f"#{ticket.pk} 回电 138****5678"
    assert str(Ticket.objects.get(pk=ticket.pk)) == str(ticket)
    with translation.override("en"):
        assert sources.resolve("ticket", ticket.pk).label == f"Ticket #{ticket.pk}: 回电 138****5678"


def test_the_chat_list_and_page_count_no_extra_queries_for_masking(
    world: dict[str, Any], client_for: Callable[[User], Client], django_assert_max_num_queries: Any
) -> None:
    chat: ChatSession = world["chat"]
    client = client_for(world["agent"])
    with django_assert_max_num_queries(12):
        assert client.get(f"/admin/chat/chatsession/{chat.pk}/change/").status_code == 200


def test_a_number_is_no_search_term_for_whoever_sees_it_masked(
    world: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    def found(role: str, url: str, term: str) -> list[int]:
        page = client_for(world[role]).get(url, {"q": term, **({"status": "all"} if "finding" in url else {})})
        assert page.status_code == 200
        return [row.pk for row in page.context["cl"].result_list]

    mine = sorted([world["call"].pk, world["chat_transcript"].pk])
    for term in ("13912345678", "一三八一二三四五六七八"):
        assert found("agent", "/admin/qa/transcript/", term) == [], term
        assert found("agent", "/admin/qa/finding/", term) == [], term
    assert sorted(found("supervisor", "/admin/qa/transcript/", "13912345678")) == mine
    # Words that are no number are searched as ever.
    assert sorted(found("agent", "/admin/qa/transcript/", "身份证")) == mine
