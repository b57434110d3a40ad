"""The queue's views of open tickets read their page in order of urgency from an index, never by sorting every open
ticket of an agent, a department or an SLA state (at 1 M tickets that sort spilled to disk: 0.9-1.6 s a page).

The plan is read with sorting and sequential scans priced out (``enable_sort``/``enable_seqscan`` off): a small test
table would otherwise be sorted in memory, whatever the indexes. The index is used only if its expressions are the
very ones the queue orders by (``tickets.models.tickets.URGENCY``), so a change to one that forgets the other fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.crm import factories as f
from tickets import services
from tickets.models import Department, Ticket

pytestmark = pytest.mark.django_db


def queue_plan(client: Client, query: str) -> str:
    """The plan of the ticket list's own SELECT of its page."""
    with CaptureQueriesContext(connection) as seen:
        assert client.get(f"/admin/tickets/ticket/{query}").status_code == 200
    page = [q["sql"] for q in seen.captured_queries
            if q["sql"].startswith('SELECT "tickets_ticket"."id"') and "ORDER BY" in q["sql"]]  # fmt: skip
    assert page, "the queue's page query was not seen"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + page[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_sort; RESET enable_seqscan")
    return plan


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("", "tickets_open_assignee_urgency"),  # my open tickets, the agent's default view
        ("?queue=open&department__id__exact={dept}", "tickets_open_dept_urgency"),
        ("?queue=open&sla_state__exact=breached", "tickets_open_sla_urgency"),
        ("?queue=open&sla_state__exact=at_risk", "tickets_open_sla_urgency"),
    ],
)
def test_a_view_of_open_tickets_reads_its_page_in_urgency_order_from_its_index(
    query: str, index: str, agent: User, client_for: Callable[[User], Client]
) -> None:
    dept = Department.objects.create(code="after-sales", name="售后")
    Department.objects.create(code="logistics", name="物流")  # Django shows (and applies) a filter of two or more
    for n in range(3):
        made = services.open_ticket(f.consumer(), subject=f"问题 {n}", department=dept, route=False)
        Ticket.objects.filter(pk=made.pk).update(assignee=agent, status="open")

    plan = queue_plan(client_for(agent), query.format(dept=dept.pk))

    assert index in plan, plan
    assert "Sort" not in plan, plan


def test_every_ticket_is_not_an_open_view_and_keeps_its_own_order(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    plan: Any = queue_plan(client_for(agent), "?queue=all")  # newest activity first: tickets_updated

    assert "urgency" not in plan, plan
