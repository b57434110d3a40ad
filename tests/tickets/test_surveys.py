"""The satisfaction survey of a ticket resolved outside chat: the signed link in the resolution notice, one answer
per ticket, and a clear page (never a 500) for an altered, expired or no longer current link or a bad answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from tests.crm import factories as f
from tickets import services, surveys
from tickets.models import Department, Ticket, TicketEvent, TicketSatisfaction

pytestmark = pytest.mark.django_db
S = Ticket.Status
LINK = re.compile(r"http://localhost:8000(/survey/[^/\s]+/)")


def resolved(channel: str = Ticket.Channel.PHONE, *, by: User | None = None, days_ago: int = 0) -> Ticket:
    department, _created = Department.objects.get_or_create(code="after-sales", defaults={"name": "售后"})
    ticket = services.open_ticket(f.consumer(), subject="快递丢了", department=department, channel=channel,
                                  route=False)  # fmt: skip
    return services.transition_ticket(ticket, S.RESOLVED, by=by, now=timezone.now() - timedelta(days=days_ago))


def notices(ticket: Ticket) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, data__survey=True).order_by("pk"))


def link_of(ticket: Ticket) -> str:
    match = LINK.search(notices(ticket)[-1].body)
    assert match is not None
    return match.group(1)


# --- the link in the resolution notice ---------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Ticket.Channel.PHONE, Ticket.Channel.WEB])
def test_resolving_a_phone_or_web_ticket_tells_the_consumer_the_survey_link(channel: str, agent: User) -> None:
    ticket = resolved(channel, by=agent)
    [notice] = notices(ticket)
    # A message the consumer sees (not an internal note), from the system, in the desk's language, after the status.
    assert (notice.kind, notice.author_kind, notice.author_id) == (TicketEvent.Kind.MESSAGE, "system", None)
    assert notice.body == f"我们做得怎么样？轻点一下为我们的服务打分（链接 7 天内有效）：{surveys.survey_url(ticket)}"
    last_two = TicketEvent.objects.filter(ticket=ticket).order_by("-pk")[:2]
    assert [e.kind for e in last_two] == [TicketEvent.Kind.MESSAGE, TicketEvent.Kind.STATUS]
    assert surveys.survey_url(ticket).startswith("http://localhost:8000/survey/")


def test_a_chats_ticket_gets_no_survey_link_it_is_rated_in_the_chat() -> None:
    ticket = resolved(Ticket.Channel.CHAT)
    assert notices(ticket) == []
    assert surveys.resolution_notice(ticket) == ""


def test_the_link_starts_with_the_public_address(settings: Any) -> None:
    settings.PUBLIC_BASE_URL = "https://help.example.com"
    ticket = resolved()
    assert notices(ticket)[0].body.endswith(f"https://help.example.com/survey/{surveys.survey_token(ticket)}/")


def test_an_answered_ticket_resolved_again_is_not_asked_again() -> None:
    ticket = resolved()
    surveys.answer_survey(surveys.survey_token(ticket), 5)
    services.transition_ticket(ticket, S.OPEN)
    services.transition_ticket(ticket, S.RESOLVED)
    assert len(notices(ticket)) == 1


# --- the page -------------------------------------------------------------------------------------------------


def test_the_consumer_answers_without_logging_in_and_the_answer_is_stored() -> None:
    ticket = resolved()
    client = Client()
    page = client.get(link_of(ticket))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="zh-hans">' in html and "您对我们处理您的问题满意吗？" in html
    assert html.count('type="radio" name="score"') == 5 and 'name="comment"' in html
    assert 'action="/i18n/setlang/"' in html  # the language switch
    sent = client.post(link_of(ticket), {"score": "4", "comment": " 很快\x00 "})
    assert (sent.status_code, sent["Location"]) == (303, f"{link_of(ticket)}?thanks=1")
    answer = TicketSatisfaction.objects.get()
    assert (answer.ticket_id, answer.score, answer.comment) == (ticket.pk, 4, "很快")
    thanks = client.get(sent["Location"]).content.decode()
    assert "谢谢！" in thanks and "您的回答已记录。" in thanks and "4 / 5" in thanks
    assert 'name="score"' not in thanks


def test_the_page_speaks_english_for_an_english_browser() -> None:
    ticket = resolved()
    html = Client().get(link_of(ticket), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in html and "How satisfied are you with how we handled your request?" in html
    assert "Very satisfied" in html and f"Request #{ticket.pk}, resolved on" in html


def test_a_second_answer_is_refused_as_already_answered_and_the_first_stays() -> None:
    ticket = resolved()
    client = Client()
    client.post(link_of(ticket), {"score": "2"})
    again = client.post(link_of(ticket), {"score": "5", "comment": "改主意了"}, HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 409
    assert "This survey has already been answered. Thank you!" in again.content.decode()
    assert list(TicketSatisfaction.objects.values_list("score", "comment")) == [(2, "")]
    shown = client.get(link_of(ticket), HTTP_ACCEPT_LANGUAGE="en")
    assert shown.status_code == 200 and "already been answered" in shown.content.decode()


def test_one_answer_per_ticket_is_the_databases_rule_too() -> None:
    ticket = resolved()
    TicketSatisfaction.objects.create(ticket=ticket, score=3, created_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketSatisfaction.objects.create(ticket=ticket, score=4, created_at=timezone.now())


@pytest.mark.parametrize("score", ["0", "6", "4.5", "abc", "", "-1", "٣", "99999999999999999999"])
def test_a_bad_score_is_refused_naming_the_field_and_nothing_is_stored(score: str) -> None:
    ticket = resolved()
    response = Client().post(link_of(ticket), {"score": score, "comment": "留着"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    html = response.content.decode()
    assert "The field “score” must be a whole number from 1 to 5." in html
    assert html.count('type="radio" name="score"') == 5 and ">留着</textarea>" in html  # the form again, as typed
    assert TicketSatisfaction.objects.count() == 0


def test_a_missing_score_and_a_too_long_comment_are_refused() -> None:
    ticket = resolved()
    assert Client().post(link_of(ticket), {}).status_code == 400
    long = Client().post(link_of(ticket), {"score": "5", "comment": "长" * 501}, HTTP_ACCEPT_LANGUAGE="en")
    assert long.status_code == 400 and "at most 500 characters" in long.content.decode()
    assert TicketSatisfaction.objects.count() == 0


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature altered
        lambda token: token.replace(token.split(":")[0], "eyJ0Ijo5OTk5OSwiYXQiOjF9", 1),  # another ticket's payload
        lambda _token: "made-up",
        lambda _token: ":::",
    ],
    ids=["signature", "payload", "made-up", "colons"],
)
def test_an_altered_or_made_up_link_gets_a_clear_400_page(mangle: Callable[[str], str]) -> None:
    ticket = resolved()
    bad = f"/survey/{mangle(surveys.survey_token(ticket))}/"
    for response in (Client().get(bad, HTTP_ACCEPT_LANGUAGE="en"), Client().post(bad, {"score": "5"})):
        assert response.status_code == 400
    html = Client().get(bad, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This survey link is not valid. Please use the link exactly as you got it." in html
    assert TicketSatisfaction.objects.count() == 0


def test_a_link_older_than_seven_days_has_expired_410() -> None:
    old, fresh = resolved(days_ago=8), resolved(days_ago=6)
    expired = Client().post(link_of(old), {"score": "5"}, HTTP_ACCEPT_LANGUAGE="en")
    assert expired.status_code == 410 and "This survey link has expired." in expired.content.decode()
    assert Client().get(link_of(old)).status_code == 410
    assert Client().post(link_of(fresh), {"score": "5"}).status_code == 303
    assert list(TicketSatisfaction.objects.values_list("ticket_id", flat=True)) == [fresh.pk]


def test_a_reopened_ticket_refuses_the_old_link_and_its_new_resolution_brings_a_new_one() -> None:
    ticket = resolved(days_ago=1)
    first = link_of(ticket)
    services.transition_ticket(ticket, S.OPEN)
    reopened = Client().get(first, HTTP_ACCEPT_LANGUAGE="en")
    assert reopened.status_code == 409 and "This request was opened again" in reopened.content.decode()
    services.transition_ticket(ticket, S.RESOLVED)
    second = link_of(ticket)
    assert second != first and len(notices(ticket)) == 2
    assert Client().post(first, {"score": "5"}).status_code == 409
    assert Client().post(second, {"score": "5"}).status_code == 303


def test_a_deleted_tickets_link_is_404_and_a_closed_ticket_may_still_be_rated() -> None:
    gone, closed = resolved(), resolved()
    gone_link = link_of(gone)
    gone.delete()
    assert Client().get(gone_link).status_code == 404
    services.transition_ticket(closed, S.CLOSED)
    assert Client().post(link_of(closed), {"score": "3"}).status_code == 303


def test_only_get_and_post() -> None:
    assert Client().put(link_of(resolved())).status_code == 405


# --- the agent's ticket page ------------------------------------------------------------------------------------


def test_the_ticket_page_shows_the_link_to_copy_then_the_answer(
    agent: User, client_for: Callable[[User], Client], django_assert_num_queries: Any
) -> None:
    ticket = resolved(by=agent)
    client = client_for(agent)
    page = f"/admin/tickets/ticket/{ticket.pk}/change/"
    html = client.get(page).content.decode()
    assert f'class="survey-link" readonly value="{surveys.survey_url(ticket)}"' in html
    with django_assert_num_queries(1):
        surveys.desk_survey(ticket, agent)
    surveys.answer_survey(surveys.survey_token(ticket), 2, "等了太久，回电 13812345678")
    html = client.get(page).content.decode()
    assert "<strong>2★</strong>" in html and "survey-link" not in html
    assert "13812345678" not in html and "等了太久" in html  # the comment, personal numbers masked


def test_an_open_or_chat_ticket_page_has_no_survey_box(agent: User, client_for: Callable[[User], Client]) -> None:
    department = Department.objects.create(code="pre", name="售前")
    open_one = services.open_ticket(f.consumer(), subject="在吗", department=department, route=False)
    assert surveys.desk_survey(open_one, agent) is None
    assert surveys.desk_survey(resolved(Ticket.Channel.CHAT), agent) is None
    assert "survey-card" not in client_for(agent).get(f"/admin/tickets/ticket/{open_one.pk}/change/").content.decode()
