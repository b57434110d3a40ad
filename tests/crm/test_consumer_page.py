"""The consumer's page: their tickets, chats and calls (latest first, linked, a fixed query count), and the phone
and ID number masked for everyone, supervisors revealing them one logged look at a time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import ChatSession
from crm.models import Consumer, PiiReveal
from qa.models import Recording
from tests.crm import factories as f
from tickets.models import Department, Ticket

PHONE, ID_NUMBER = "13912345678", "110105199001011234"


@pytest.fixture
def who(db: None) -> Consumer:
    return f.consumer("PAGE", display_name="王小明", phone=PHONE, id_number=ID_NUMBER)


def add_contacts(who: Consumer, agent: User, n: int, start: int = 0) -> None:
    now = timezone.now()
    dept, _ = Department.objects.get_or_create(code="after-sales", defaults={"name": "售后"})
    for k in range(start, start + n):
        at = now - timedelta(days=k)
        ticket = Ticket.objects.create(subject=f"问题{k} 电话13800138000", consumer=who, channel="phone",
                                       department=dept, created_at=at, updated_at=at)  # fmt: skip
        chatted = Ticket.objects.create(subject=f"在线聊天{k}", consumer=who, channel="chat", department=dept,
                                        created_at=at, updated_at=at)  # fmt: skip
        ChatSession.objects.create(ticket=chatted, consumer=who, agent=agent, state="ended", created_at=at,
                                   last_activity_at=at, ended_at=at)  # fmt: skip
        Recording.objects.create(audio=ContentFile(b"RIFF", name="call.wav"), agent=agent, consumer=who,
                                 called_at=at, duration_seconds=75, ticket=ticket)  # fmt: skip


def page(client: Client, who: Consumer) -> str:
    response = client.get(f"/admin/crm/consumer/{who.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_consumer_page_lists_tickets_chats_and_calls_latest_first_and_linked(
    agent: User, who: Consumer, client_for: Callable[[User], Client]
) -> None:
    add_contacts(who, agent, 2)
    html = page(client_for(agent), who)
    newest, older = Ticket.objects.filter(consumer=who, channel="phone").order_by("-created_at")
    assert f'href="/admin/tickets/ticket/{newest.pk}/change/">#{newest.pk}</a>' in html
    assert html.index(f"#{newest.pk}<") < html.index(f"#{older.pk}<")
    assert "问题0 电话138****8000" in html and "13800138000" not in html  # subjects masked like everywhere
    chats = ChatSession.objects.filter(ticket__consumer=who).order_by("-created_at")
    assert html.index(f"/admin/chat/chatsession/{chats[0].pk}/change/") < html.index(
        f"/admin/chat/chatsession/{chats[1].pk}/change/"
    )
    calls = Recording.objects.filter(consumer=who).order_by("-called_at")
    assert html.index(f"/admin/qa/recording/{calls[0].pk}/change/") < html.index(
        f"/admin/qa/recording/{calls[1].pk}/change/"
    )
    assert "1:15" in html  # the call's length


def test_consumer_page_without_contacts_says_none(
    agent: User, who: Consumer, client_for: Callable[[User], Client]
) -> None:
    html = page(client_for(agent), who)
    assert html.count('<p class="quiet">') == 3


def test_consumer_page_costs_the_same_queries_for_one_or_many_contacts(
    supervisor: User, who: Consumer, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    add_contacts(who, supervisor, 1)
    page(client, who)  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        page(client, who)
    add_contacts(who, supervisor, 6, start=1)
    with CaptureQueriesContext(connection) as many:
        html = page(client, who)
    assert len(re.findall(r"/admin/qa/recording/\d+/change/", html)) == 7
    assert len(few) == len(many) == 13


def test_supervisor_sees_the_phone_and_id_masked_with_reveal_buttons_and_no_edit_form(
    supervisor: User, who: Consumer, client_for: Callable[[User], Client]
) -> None:
    html = page(client_for(supervisor), who)
    assert "139****5678" in html and "110***********1234" in html
    assert PHONE not in html and ID_NUMBER not in html
    assert 'name="phone"' not in html
    assert html.count('class="button reveal"') == 2
    assert PiiReveal.objects.count() == 0  # looking at the page reveals nothing


def test_agent_gets_no_reveal_button(agent: User, who: Consumer, client_for: Callable[[User], Client]) -> None:
    html = page(client_for(agent), who)
    assert "139****5678" in html and "reveal" not in html.split('id="content"')[1].split("</form>")[0]


def test_reveal_shows_the_whole_number_and_logs_who_when_and_which(
    supervisor: User, who: Consumer, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    before = timezone.now()
    response = client.post(f"/admin/crm/consumer/{who.pk}/reveal/", {"field": "phone"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json() == {"field": "phone", "value": PHONE}
    response = client.post(f"/admin/crm/consumer/{who.pk}/reveal/", {"field": "id_number"})  # no JavaScript
    assert response.status_code == 200 and ID_NUMBER in response.content.decode()
    logged = list(PiiReveal.objects.order_by("pk").values_list("consumer", "field", "revealed_by"))
    assert logged == [(who.pk, "phone", supervisor.pk), (who.pk, "id_number", supervisor.pk)]
    assert all(before <= r.revealed_at <= timezone.now() for r in PiiReveal.objects.all())


def test_supervisors_read_the_reveal_log_in_the_admin_and_agents_do_not(
    supervisor: User, agent: User, who: Consumer, client_for: Callable[[User], Client]
) -> None:
    PiiReveal.objects.create(consumer=who, field="phone", revealed_by=supervisor)
    listing = client_for(supervisor).get("/admin/crm/piireveal/")
    assert listing.status_code == 200 and "王小明" in listing.content.decode()
    assert client_for(agent).get("/admin/crm/piireveal/").status_code == 403


def test_forged_reveal_by_an_agent_is_refused_and_logs_nothing(
    agent: User, make_user: Callable[..., User], who: Consumer, client_for: Callable[[User], Client]
) -> None:
    for user in (agent, make_user("shop-user", "merchant_staff")):
        response = client_for(user).post(f"/admin/crm/consumer/{who.pk}/reveal/", {"field": "phone"})
        assert response.status_code in (403, 404)
        assert PHONE not in response.content.decode()
    assert client_for(agent).post(f"/admin/crm/consumer/{who.pk}/reveal/", {"field": "phone"}).status_code == 403
    assert PiiReveal.objects.count() == 0


def test_reveal_of_an_unknown_field_or_by_get_is_refused(
    supervisor: User, who: Consumer, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    for field in ("display_name", "", "phone\x00"):
        assert client.post(f"/admin/crm/consumer/{who.pk}/reveal/", {"field": field}).status_code == 400
    assert client.get(f"/admin/crm/consumer/{who.pk}/reveal/?field=phone").status_code == 405
    assert client.post("/admin/crm/consumer/999999/reveal/", {"field": "phone"}).status_code == 404
    assert PiiReveal.objects.count() == 0
