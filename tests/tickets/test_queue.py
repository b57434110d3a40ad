"""The ticket queue: urgency order, the breached filter, agents by name, search by consumer and by words."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.crm import factories as f
from tickets import services
from tickets.models import Department, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="after-sales", name="售后")


def ticket(dept: Department, subject: str, **sla: Any) -> Ticket:
    made = services.open_ticket(f.consumer(), subject=subject, department=dept, route=False)
    Ticket.objects.filter(pk=made.pk).update(**sla)
    return made


def listed(client: Client, query: str = "?queue=open") -> list[int]:
    return [row.pk for row in client.get(f"/admin/tickets/ticket/{query}").context["cl"].result_list]


def test_the_queue_sorts_breached_first_then_due_soonest_then_priority_then_oldest(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    now = timezone.now()
    later = ticket(dept, "later", sla_state="ok", first_response_due=now + timedelta(hours=5))
    no_sla_old = ticket(dept, "no sla old", sla_state="none", first_response_due=None, resolution_due=None,
                        created_at=now - timedelta(days=2))  # fmt: skip
    no_sla_urgent = ticket(dept, "no sla urgent", sla_state="none", first_response_due=None, resolution_due=None,
                           priority=4)  # fmt: skip
    soon = ticket(dept, "soon", sla_state="at_risk", first_response_due=now + timedelta(minutes=10))
    breached = ticket(dept, "breached", sla_state="breached", first_response_due=now - timedelta(hours=1))
    answered = ticket(dept, "answered", sla_state="ok", first_response_at=now, first_response_due=now,
                      resolution_due=now + timedelta(hours=1))  # fmt: skip
    expected = [breached.pk, soon.pk, answered.pk, later.pk, no_sla_urgent.pk, no_sla_old.pk]
    assert listed(client_for(agent)) == expected
    assert set(listed(client_for(agent), "?queue=all")) == set(expected)  # the history: by update time


def test_the_breached_filter_lists_only_breached_tickets_and_each_says_breached(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    now = timezone.now()
    # The first response came late: breached for good, though the resolution is still 3 hours away.
    late = {"first_response_due": now - timedelta(hours=1), "resolution_due": now + timedelta(hours=3)}
    late_reply = ticket(dept, "late reply", sla_state="breached", first_response_at=now, **late)
    overdue = ticket(
        dept, "overdue", sla_state="breached", first_response_due=now - timedelta(minutes=90) + timedelta(seconds=30)
    )
    ticket(dept, "fine", sla_state="ok", first_response_due=now + timedelta(hours=2))
    response = client_for(agent).get("/admin/tickets/ticket/?queue=open&sla_state__exact=breached",
                                     headers={"Accept-Language": "en"})  # fmt: skip
    assert {row.pk for row in response.context["cl"].result_list} == {late_reply.pk, overdue.pk}
    html = response.content.decode()
    assert html.count('<span class="sla breached">') == 2
    assert '<span class="sla breached">Breached</span>' in html
    assert '<span class="sla breached">1h 30m overdue</span>' in html
    assert " left</span>" not in html


def test_agents_are_listed_by_full_name_and_else_by_username(
    dept: Department, agent: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    named = make_user("zhang", "agent", first_name="张", last_name="三")
    services.assign_ticket(ticket(dept, "a"), named)
    services.assign_ticket(ticket(dept, "b"), agent)
    html = client_for(agent).get("/admin/tickets/ticket/?queue=open").content.decode()
    assert '<td class="field-assignee_name">张 三</td>' in html
    assert '<td class="field-assignee_name">agent1</td>' in html
    assert '<span class="badge status new">' in html


def test_search_finds_a_ticket_by_the_consumers_exact_name_phone_and_a_word_of_the_conversation(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    caller = f.consumer(display_name="陈小春", phone="13800001111")
    by_caller = services.open_ticket(caller, subject="来电", department=dept, route=False)
    talked = services.open_ticket(f.consumer(), subject="问题", department=dept, route=False,
                                  body="我的蓝牙耳机左耳没有声音了 Bluetooth")  # fmt: skip
    services.add_message(talked, body="内部记录：耳机库存不足", author_kind="agent", author=agent, internal=True)
    noted = services.open_ticket(f.consumer(), subject="别的", department=dept, route=False)
    services.add_message(noted, body="仅备注里有的词：退货地址", author_kind="agent", author=agent, internal=True)
    client = client_for(agent)

    def found(term: str) -> set[int]:
        return {
            row.pk
            for row in client.get("/admin/tickets/ticket/", {"queue": "all", "q": term}).context["cl"].result_list
        }

    assert found("陈小春") == {by_caller.pk}
    assert found("陈小") == set()  # names match exactly
    assert found("13800001111") == {by_caller.pk}
    assert found(caller.external_id) == {by_caller.pk}
    assert found("左耳没有") == {talked.pk}
    assert found("bluetooth") == {talked.pk}
    assert found("耳没声") == set()  # every bigram is there, the substring is not
    assert found("退货地址") == set()  # internal notes are not searched
    assert found(f"#{talked.pk}") == {talked.pk}


def test_search_costs_the_same_queries_whatever_it_finds(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    services.open_ticket(f.consumer(), subject="x", department=dept, route=False, body="快递丢了")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/tickets/ticket/", {"queue": "all", "q": "快递"}).status_code == 200
        return len(queries)

    few = count()
    for n in range(15):
        services.open_ticket(f.consumer(), subject=f"x{n}", department=dept, route=False, body=f"快递丢了{n}")
    assert count() == few


def test_the_search_uses_the_events_bigram_index(dept: Department) -> None:
    words = services.search_ticket_ids("左耳没有")
    sql, params = words.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "tickets_event_bigrams" in plan


def test_the_radio_link_is_an_inline_svg_not_an_emoji(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    made = ticket(dept, "电台")
    html = client_for(agent).get(f"/admin/tickets/ticket/{made.pk}/change/").content.decode()
    assert 'class="radio-nominate"><svg class="icon"' in html
    assert "📻" not in html


def test_the_updated_column_is_narrow_the_clock_today_month_and_day_this_year_the_date_before(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    now = timezone.localtime()
    this_year = now.replace(month=1, day=1, hour=12) if now.month > 1 or now.day > 1 else None
    last_year = now.replace(year=now.year - 1, month=6, day=9, hour=12)
    ticket(dept, "today", updated_at=now.replace(hour=0, minute=5))
    ticket(dept, "last year", updated_at=last_year)
    if this_year is not None:
        ticket(dept, "this year", updated_at=this_year)
    client = client_for(agent)
    for language, jan_first, june in (
        ("zh-hans", "1月1日", f"{now.year - 1}年6月9日"),
        ("en", "01/01", f"06/09/{now.year - 1}"),
    ):
        page = client.get("/admin/tickets/ticket/?queue=all", headers={"accept-language": language}).content.decode()
        shown = re.findall(r'<td class="field-updated"><time [^>]*>([^<]*)</time>', page)
        assert shown == ["00:05", *([jan_first] if this_year else []), june]
