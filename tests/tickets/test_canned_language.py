"""Canned replies are offered in the conversation's language: the chat's on the console and on a chat's ticket
page, the desk's own (settings.LANGUAGE_CODE) on a phone or web ticket; a reply without a language is offered
in every one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from chat import desk as chat_desk
from chat import selectors as chat_selectors
from chat import services as chat_services
from tests.chat.support import make_agent, plain_consumer, staffed_all_day
from tests.crm import factories as f
from tickets import services
from tickets.models import CannedReply, Department

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _replies(settings: Any) -> None:
    staffed_all_day(settings)
    CannedReply.objects.create(title="问候", body="{consumer}您好", language="zh-hans")
    CannedReply.objects.create(title="Greeting", body="Hello {consumer}", language="en")
    CannedReply.objects.create(title="emoji", body="👍")
    CannedReply.objects.create(title="Old greeting", body="Hi", language="en", active=False)


def offered_on_page(client: Client, ticket_id: int) -> list[str]:
    response = client.get(f"/admin/tickets/ticket/{ticket_id}/change/")
    assert response.status_code == 200
    return sorted(title for title, _text in response.context["canned"])


@pytest.mark.parametrize(("language", "offered"), [("en", ["Greeting", "emoji"]), ("zh-hans", ["emoji", "问候"])])
def test_the_console_offers_the_replies_of_the_chats_language_and_the_language_less_ones(
    make_user: Callable[..., User], language: str, offered: list[str]
) -> None:
    agent = make_agent(make_user, "console-agent")
    who = plain_consumer()
    chat, _created = chat_services.start_chat(who.pk, language)
    chat_services.request_human(who.pk)
    chat = chat_desk.accept_chat(chat.pk, agent)
    found = chat_selectors.chat(chat.pk, agent)
    assert found is not None
    assert sorted(reply["title"] for reply in found["canned"]) == offered


@pytest.mark.parametrize(("language", "offered"), [("en", ["Greeting", "emoji"]), ("zh-hans", ["emoji", "问候"])])
def test_a_chats_ticket_page_offers_the_replies_of_the_chats_language(
    make_user: Callable[..., User], client_for: Callable[[User], Client], language: str, offered: list[str]
) -> None:
    agent = make_agent(make_user, "page-agent")
    who = plain_consumer()
    chat, _created = chat_services.start_chat(who.pk, language)
    assert offered_on_page(client_for(agent), chat.ticket_id) == offered


def test_a_phone_tickets_page_offers_the_desks_language(
    agent: User, client_for: Callable[[User], Client], settings: Any
) -> None:
    dept = Department.objects.create(code="after-sales", name="售后")
    ticket = services.open_ticket(f.consumer(), subject="电话", department=dept, channel="phone")
    client = client_for(agent)
    assert offered_on_page(client, ticket.pk) == ["emoji", "问候"]
    settings.LANGUAGE_CODE = "en"
    assert offered_on_page(client, ticket.pk) == ["Greeting", "emoji"]


def test_the_admin_lists_and_filters_canned_replies_by_language(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    admin = make_user("root", is_superuser=True)
    html = client_for(admin).get("/admin/tickets/cannedreply/?language__exact=en").content.decode()
    assert "Greeting" in html and "Old greeting" in html
    assert "问候" not in html and "emoji" not in html
    assert "English" in html  # the column and the filter show the language's name


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "zh", "EN", "zh-Hans", "zh-hant", "en-us-xx", " en"])
def test_an_unknown_language_is_refused_naming_the_field(language: str) -> None:
    reply = CannedReply(title="Bonjour", body="Bonjour {consumer}", language=language)
    with pytest.raises(ValidationError) as refused:
        reply.full_clean()
    assert set(refused.value.message_dict) == {"language"}
    assert CannedReply.objects.filter(title="Bonjour").count() == 0


@pytest.mark.parametrize("language", ["en", "zh-hans", ""])
def test_the_known_languages_and_blank_are_accepted(language: str) -> None:
    CannedReply(title="ok", body="ok", language=language).full_clean()


@pytest.mark.parametrize(("language", "message"), [
    ("fr", "Select a valid choice. fr is not one of the available choices."),
    ("zh", "Select a valid choice. zh is not one of the available choices."),
    ("x" * 50, f"Select a valid choice. {'x' * 50} is not one of the available choices."),
])  # fmt: skip
def test_the_admin_form_refuses_an_unknown_language_on_its_field_and_stores_nothing(
    make_user: Callable[..., User], client_for: Callable[[User], Client], language: str, message: str
) -> None:
    client = client_for(make_user("root", is_superuser=True))
    posted = {"title": "Bonjour", "body": "Bonjour", "language": language, "active": "on"}
    response = client.post("/admin/tickets/cannedreply/add/", posted, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200  # the form again, not a redirect
    assert response.context["adminform"].form.errors == {"language": [message]}
    assert CannedReply.objects.filter(title="Bonjour").count() == 0
    reply = CannedReply.objects.get(title="问候")
    edited = client.post(
        f"/admin/tickets/cannedreply/{reply.pk}/change/", {"title": "问候", "body": "您好", "language": language},
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip
    assert edited.status_code == 200 and list(edited.context["adminform"].form.errors) == ["language"]
    reply.refresh_from_db()
    assert (reply.language, reply.body) == ("zh-hans", "{consumer}您好")


def test_the_admin_form_says_it_in_chinese(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(make_user("root", is_superuser=True))
    response = client.post("/admin/tickets/cannedreply/add/", {"title": "x", "body": "x", "language": "fr"},
                           HTTP_ACCEPT_LANGUAGE="zh-hans")  # fmt: skip
    assert response.context["adminform"].form.errors == {"language": ["选择一个有效的选项。 fr 不在可用的选项中。"]}


def test_filtering_the_list_by_an_unknown_language_lists_nothing_and_does_not_fail(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(make_user("root", is_superuser=True))
    for value in ("fr", "x" * 300, "%00"):
        response = client.get("/admin/tickets/cannedreply/", {"language__exact": value})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0


def test_a_conversation_in_an_unknown_language_is_offered_only_the_language_less_replies() -> None:
    assert [r.title for r in CannedReply.objects.offered(0, "fr")] == ["emoji"]
