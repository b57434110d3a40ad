"""The supervisor's reports: exact figures on a small hand-made week, the CSV, denied paths and bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from chat.models import ChatSession, Satisfaction
from core import roles
from home import reports
from merchants.models import MerchantMembership
from tests.crm import factories as f
from tickets.models import Department, Ticket, TicketSatisfaction

pytestmark = pytest.mark.django_db
SLA, Channel, Kind = Ticket.SLAState, Ticket.Channel, Ticket.Kind
LOCAL = ZoneInfo("Asia/Shanghai")
DAY1, DAY2, DAY3 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)
RANGE = {"start": "2026-11-02", "end": "2026-11-04"}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL)


def ticket(dept: Department, created: datetime, *, fr: int | None, handled: int | None, **fields: Any) -> Ticket:
    consumer = f.consumer()
    return Ticket.objects.create(
        subject="问题", department=dept, consumer=consumer, created_at=created, updated_at=created,
        first_response_at=None if fr is None else created + timedelta(minutes=fr),
        resolved_at=None if handled is None else created + timedelta(minutes=handled), **fields,
    )  # fmt: skip


def ended_chat(row: Ticket, ended: datetime, *, handoff: str = "", accepted: bool = False,
               score: int | None = None) -> ChatSession:  # fmt: skip
    chat = ChatSession.objects.create(
        ticket=row, consumer=row.consumer, state=ChatSession.State.ENDED, handoff_reason=handoff,
        accepted_at=ended - timedelta(minutes=3) if accepted else None, created_at=row.created_at,
        last_activity_at=ended, ended_at=ended,
    )  # fmt: skip
    if score is not None:
        Satisfaction.objects.create(chat=chat, score=score, comment="", created_at=ended + timedelta(minutes=1))
    return chat


@pytest.fixture
def week() -> dict[str, Department]:
    """Two days of work in two departments, the third day empty; the figures in the tests are worked by hand."""
    after, before = (
        Department.objects.create(code="after", name="售后"),
        Department.objects.create(code="pre", name="售前"),
    )
    t1 = ticket(after, at(DAY1, 10), fr=2, handled=10, channel=Channel.CHAT, kind=Kind.CONSULTATION, sla_state=SLA.MET)
    ticket(after, at(DAY1, 11), fr=4, handled=30, channel=Channel.PHONE, kind=Kind.REFUND, sla_state=SLA.BREACHED)
    # 23:30 in Shanghai is 15:30 UTC: still the first local day.
    ticket(after, at(DAY1, 23, 30), fr=None, handled=None, channel=Channel.WEB, kind=Kind.COMPLAINT)
    t4 = ticket(after, at(DAY2, 9), fr=6, handled=20, channel=Channel.CHAT, kind=Kind.CONSULTATION, sla_state=SLA.OK)
    t5 = ticket(before, at(DAY2, 9, 30), fr=1, handled=5, channel=Channel.CHAT, kind=Kind.REFUND, sla_state=SLA.MET)
    ticket(after, at(DAY3 + timedelta(days=1), 0, 5), fr=1, handled=1, channel=Channel.PHONE)  # after the range
    ended_chat(t1, at(DAY1, 14), score=5)  # the bot alone: contained
    ended_chat(t4, at(DAY2, 10), handoff=ChatSession.Handoff.ASKED, accepted=True, score=3)
    ended_chat(t5, at(DAY2, 11), handoff=ChatSession.Handoff.ASKED, score=4)  # left while waiting: not contained
    return {"after": after, "before": before}


def figures(query: dict[str, str]) -> reports.Report:
    return reports.report(reports.parse_range(query))


def test_volume_is_counted_per_local_day_by_channel_and_kind(week: dict[str, Department]) -> None:
    result = figures(RANGE)
    assert [(d.day, d.tickets, d.channels, d.kinds) for d in result.days] == [
        (DAY1, 3, {"chat": 1, "phone": 1, "web": 1}, {"consultation": 1, "refund": 1, "complaint": 1}),
        (DAY2, 2, {"chat": 2}, {"consultation": 1, "refund": 1}),
        (DAY3, 0, {}, {}),
    ]
    assert (result.total.tickets, result.total.channels) == (5, {"chat": 3, "phone": 1, "web": 1})


def test_response_and_handle_times_are_medians_and_p90s_in_minutes(week: dict[str, Department]) -> None:
    result = figures(RANGE)
    times = [(d.first_response_median, d.first_response_p90, d.handle_median, d.handle_p90) for d in result.days]
    assert times == [(3.0, 3.8, 20.0, 28.0), (3.5, 5.5, 12.5, 18.5), (None, None, None, None)]
    total = result.total
    assert (total.first_response_median, total.first_response_p90, total.handle_median, total.handle_p90) == (
        3.0, 5.4, 15.0, 27.0,
    )  # fmt: skip


def test_sla_attainment_counts_only_tickets_under_an_sla(week: dict[str, Department]) -> None:
    result = figures(RANGE)
    assert [(d.sla_tickets, d.sla_met, d.sla_attainment) for d in result.days] == [
        (2, 1, 50.0),
        (2, 2, 100.0),
        (0, 0, None),
    ]
    assert result.total.sla_attainment == 75.0


def test_csat_and_bot_containment(week: dict[str, Department]) -> None:
    result = figures(RANGE)
    assert [(d.csat_responses, d.csat_satisfied_share, d.csat_average) for d in result.days] == [
        (1, 100.0, 5.0), (2, 50.0, 3.5), (0, None, None),
    ]  # fmt: skip
    assert [(d.chats_ended, d.chats_contained, d.containment) for d in result.days] == [
        (1, 1, 100.0), (2, 0, 0.0), (0, 0, None),
    ]  # fmt: skip
    total = result.total
    assert (total.csat_responses, total.csat_satisfied_share, total.csat_average) == (3, 66.7, 4.0)
    assert (total.chats_ended, total.containment) == (3, 33.3)


def rate_ticket(channel: str, created: datetime, score: int, answered: datetime, comment: str = "") -> Ticket:
    row = Ticket.objects.get(channel=channel, created_at=created)
    TicketSatisfaction.objects.create(ticket=row, score=score, comment=comment, created_at=answered)
    return row


def test_csat_counts_the_answers_of_phone_and_web_tickets_with_the_chats(week: dict[str, Department]) -> None:
    rate_ticket(Channel.PHONE, at(DAY1, 11), 1, at(DAY1, 12))
    rate_ticket(Channel.WEB, at(DAY1, 23, 30), 4, at(DAY3, 8))  # counted on the day it was answered
    result = figures(RANGE)
    assert [(d.csat_responses, d.csat_satisfied_share, d.csat_average) for d in result.days] == [
        (2, 50.0, 3.0), (2, 50.0, 3.5), (1, 100.0, 4.0),
    ]  # fmt: skip
    total = result.total
    assert (total.csat_responses, total.csat_satisfied, total.csat_average) == (5, 3, 3.4)  # 5+1+3+4+4 = 17
    after = figures({**RANGE, "department": str(week["after"].pk)}).total  # t5 (售前) is cut
    assert (after.csat_responses, after.csat_average) == (4, 3.25)


def test_a_chats_ticket_is_counted_once_by_its_chats_answer(week: dict[str, Department]) -> None:
    # The survey never offers a chat's ticket a link; were an answer stored for it anyway, the chat's counts.
    rate_ticket(Channel.CHAT, at(DAY1, 10), 1, at(DAY1, 15), comment="重复")
    day1 = figures(RANGE).days[0]
    assert (day1.csat_responses, day1.csat_average) == (1, 5.0)
    assert reports.latest_comments(reports.parse_range(RANGE), User(is_superuser=True)) == []


def test_a_department_cuts_every_figure(week: dict[str, Department]) -> None:
    result = figures({**RANGE, "department": str(week["after"].pk)})
    day2 = result.days[1]
    assert (day2.tickets, day2.first_response_median, day2.handle_p90, day2.sla_attainment) == (1, 6.0, 20.0, 100.0)
    assert (day2.csat_responses, day2.csat_average, day2.chats_ended, day2.containment) == (1, 3.0, 1, 0.0)
    assert (result.total.tickets, result.total.csat_responses, result.total.chats_ended) == (4, 2, 2)


def test_the_default_range_is_the_last_seven_days() -> None:
    span = reports.parse_range({}, today=date(2026, 12, 7))
    assert (span.start, span.end, span.department) == (date(2026, 12, 1), date(2026, 12, 7), None)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"start": "2026-13-01"}, "start", "Enter a date as YYYY-MM-DD."),
        ({"end": "yesterday"}, "end", "Enter a date as YYYY-MM-DD."),
        ({"start": "2026-11-05", "end": "2026-11-04"}, "end", "The end date is before the start date."),
        ({"start": "2026-01-01", "end": "2026-04-03"}, "end", "A report covers at most 92 days."),
        ({"department": "999999"}, "department", "There is no such department."),
        ({"department": "售后"}, "department", "There is no such department."),
    ],
)
def test_bad_ranges_are_refused_naming_the_field(query: dict[str, str], field: str, message: str) -> None:
    with translation.override("en"), pytest.raises(reports.ValidationError) as refused:
        reports.parse_range(query)
    assert refused.value.message_dict == {field: [message]}


def test_ninety_two_days_is_allowed() -> None:
    span = reports.parse_range({"start": "2026-01-01", "end": "2026-04-02"})
    assert len(span.days) == 92


# --- the page and the CSV ---------------------------------------------------------------------------


def test_supervisor_sees_the_report_in_a_fixed_number_of_queries(
    week: dict[str, Department], client_for: Callable[[User], Client], supervisor: User
) -> None:
    client = client_for(supervisor)
    client.get("/admin/reports/", RANGE)  # warm the session and content types
    with CaptureQueriesContext(connection) as first:
        response = client.get("/admin/reports/", RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="figure" id="fig-tickets">5</span>' in html
    assert '<span class="figure" id="fig-sla">75.0%</span>' in html
    assert '<span class="figure" id="fig-csat">66.7%</span>' in html
    assert '<span class="figure" id="fig-containment">33.3%</span>' in html
    assert html.count('<svg class="trend"') == 6
    for day in (DAY2 + timedelta(days=1), DAY2 + timedelta(days=2)):  # more rows, the same queries
        t = ticket(week["after"], at(day - timedelta(days=1), 15), fr=3, handled=9, channel=Channel.CHAT)
        ended_chat(t, at(day - timedelta(days=1), 16), score=2)
    with CaptureQueriesContext(connection) as second:
        assert client.get("/admin/reports/", RANGE).status_code == 200
    # Session, user, 2× permissions (the admin's sidebar), 2× groups (the role), 10 for the figures, 2 for the
    # comments (chats' and tickets'), departments.
    assert len(first) == len(second) == 19


def test_the_page_speaks_english(week: dict[str, Department], client_for: Callable[[User], Client],
                                 supervisor: User) -> None:  # fmt: skip
    html = client_for(supervisor).get("/admin/reports/", RANGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Bot containment" in html and "Export CSV" in html


def test_the_csv_has_a_bom_a_header_and_a_line_per_day_and_the_total(
    week: dict[str, Department], client_for: Callable[[User], Client], supervisor: User
) -> None:
    response = client_for(supervisor).get("/admin/reports/csv/", RANGE, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="report-2026-11-02-2026-11-04.csv"'
    body = response.content
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == [
        "Date", "Tickets", "Channel: Chat", "Channel: Phone", "Channel: Web", "Kind: Consultation", "Kind: Refund",
        "Kind: Return", "Kind: Dispute (维权)", "Kind: Complaint", "First response, median (min)",
        "First response, p90 (min)", "Handle time, median (min)", "Handle time, p90 (min)", "Tickets under an SLA",
        "SLA attainment (%)", "CSAT responses", "CSAT satisfied (%)", "CSAT average (1–5)", "Chats ended",
        "Bot containment (%)",
    ]  # fmt: skip
    assert rows[1:] == [
        ["2026-11-02", "3", "1", "1", "1", "1", "1", "0", "0", "1", "3.0", "3.8", "20.0", "28.0", "2", "50.0",
         "1", "100.0", "5.0", "1", "100.0"],
        ["2026-11-03", "2", "2", "0", "0", "1", "1", "0", "0", "0", "3.5", "5.5", "12.5", "18.5", "2", "100.0",
         "2", "50.0", "3.5", "2", "0.0"],
        ["2026-11-04", "0", "0", "0", "0", "0", "0", "0", "0", "0", "", "", "", "", "0", "", "0", "", "", "0", ""],
        ["Total", "5", "3", "1", "1", "2", "2", "0", "0", "1", "3.0", "5.4", "15.0", "27.0", "4", "75.0",
         "3", "66.7", "4.0", "3", "33.3"],
    ]  # fmt: skip


def test_the_csv_headers_are_chinese_for_chinese_users(client_for: Callable[[User], Client], supervisor: User) -> None:
    body = client_for(supervisor).get("/admin/reports/csv/", RANGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content
    header = next(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert header[:3] == ["日期", "工单", "渠道：在线聊天"]


def test_bad_input_is_refused_with_a_clear_message(client_for: Callable[[User], Client], supervisor: User) -> None:
    client = client_for(supervisor)
    page = client.get("/admin/reports/", {"start": "2026-02-30"}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 400
    assert "Enter a date as YYYY-MM-DD." in page.content.decode()
    assert "fig-tickets" not in page.content.decode()
    sheet = client.get("/admin/reports/csv/", {"start": "2026-11-05", "end": "2026-11-01"}, HTTP_ACCEPT_LANGUAGE="en")
    assert (sheet.status_code, sheet.content.decode()) == (400, "end: The end date is before the start date.")


@pytest.mark.parametrize("url", ["/admin/reports/", "/admin/reports/csv/"])
def test_agents_and_merchant_staff_are_refused(
    url: str, week: dict[str, Department], client_for: Callable[[User], Client], agent: User,
    make_user: Callable[..., User],
) -> None:  # fmt: skip
    staff = make_user("shop-staff", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=f.merchant(name="小店"))
    for user in (agent, staff):
        response = client_for(user).get(url, RANGE)
        assert response.status_code == 403
        assert b"75.0" not in response.content


def test_signed_out_users_are_sent_to_the_login() -> None:
    response = Client().get("/admin/reports/")
    assert (response.status_code, response["Location"]) == (302, "/admin/login/?next=/admin/reports/")


def test_the_wallboard_links_to_the_reports(client_for: Callable[[User], Client], supervisor: User) -> None:
    html = client_for(supervisor).get("/admin/").content.decode()
    assert '<a class="report-link" id="reports-link" href="/admin/reports/">' in html


def test_csat_comments_are_listed_newest_first_masked_for_those_who_may_not_see_personal_numbers(
    week: dict[str, Department], supervisor: User, agent: User
) -> None:
    chat = ChatSession.objects.get(ticket__created_at=at(DAY2, 9))
    Satisfaction.objects.filter(chat=chat).update(comment="慢，回电 13812345678")
    span = reports.parse_range(RANGE)
    assert [(c.score, c.text) for c in reports.latest_comments(span, supervisor)] == [(3, "慢，回电 13812345678")]
    assert [(c.ticket_id, c.text) for c in reports.latest_comments(span, agent)] == [
        (chat.ticket_id, "慢，回电 138****5678")
    ]
    other = reports.parse_range({**RANGE, "department": str(week["before"].pk)})
    assert reports.latest_comments(other, supervisor) == []


def test_the_comments_of_ticket_answers_are_listed_among_the_chats(week: dict[str, Department], agent: User) -> None:
    chat = ChatSession.objects.get(ticket__created_at=at(DAY2, 9))
    Satisfaction.objects.filter(chat=chat).update(comment="还行")  # answered DAY2 10:01
    phone = rate_ticket(Channel.PHONE, at(DAY1, 11), 1, at(DAY2, 12), comment="电话没人接 13812345678")
    web = rate_ticket(Channel.WEB, at(DAY1, 23, 30), 5, at(DAY1, 23, 50), comment="好")
    found = reports.latest_comments(reports.parse_range(RANGE), agent)
    assert [(c.ticket_id, c.score, c.text) for c in found] == [
        (phone.pk, 1, "电话没人接 138****5678"), (chat.ticket_id, 3, "还行"), (web.pk, 5, "好"),
    ]  # fmt: skip
