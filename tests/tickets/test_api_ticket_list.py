"""The ticket list's filters and cursor pages, and the list's and a ticket's fixed query counts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm.models import CreditTier
from tests.crm import factories as f
from tests.tickets.api_support import ids
from tickets import services
from tickets.models import Department, SLAPolicy, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(dept: Department, desk_agent: User, make_user: Callable[..., User]) -> dict[str, Ticket]:
    SLAPolicy.objects.create(name="全部", first_response_minutes=60, resolution_minutes=24 * 60)
    other_dept = Department.objects.create(code="logistics", name="物流")
    colleague = make_user("colleague")
    gold = CreditTier.objects.get(name="金牌会员")
    shop = f.merchant("SHOP-X")
    rows = {
        "mine": services.open_ticket(f.consumer("C-1", tier=gold), subject="1", department=dept, kind="refund"),
        "theirs": services.open_ticket(f.consumer("C-2"), subject="2", department=other_dept, channel="phone",
                                       priority=4, order=None),
        "queue": services.open_ticket(f.consumer("C-3"), subject="3", department=dept, kind="dispute"),
    }  # fmt: skip
    with_order = f.order(rows["queue"].consumer, shop)
    rows["shop"] = services.open_ticket(rows["queue"].consumer, subject="4", department=dept, order=with_order)
    services.assign_ticket(rows["mine"], desk_agent)
    services.assign_ticket(rows["theirs"], colleague)
    services.transition_ticket(rows["theirs"], "pending")
    return rows


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", ["theirs"]),
        ("kind=dispute", ["queue"]),
        ("channel=phone", ["theirs"]),
        ("department=logistics", ["theirs"]),
        ("priority=4", ["theirs"]),
        ("assignee=me", ["mine"]),
        ("assignee=none", ["shop", "queue"]),
        ("merchant=SHOP-X", ["shop"]),
        ("consumer=C-1", ["mine"]),
        ("tier=金牌会员", ["mine"]),
        ("department=refunds&kind=refund", ["mine"]),
        ("merchant=NOPE", []),
        ("sla_state=paused", ["theirs"]),
        ("sla_state=ok", ["mine", "shop", "queue"]),
    ],
)
def test_ticket_list_filters(api: Client, many: dict[str, Ticket], query: str, expected: list[str]) -> None:
    response = api.get(f"/api/tickets/?{query}")

    assert response.status_code == 200
    assert ids(response) == [many[key].pk for key in expected]


def test_ticket_list_filters_by_assignee_id(api: Client, many: dict[str, Ticket]) -> None:
    colleague = User.objects.get(username="colleague")

    assert ids(api.get(f"/api/tickets/?assignee={colleague.pk}")) == [many["theirs"].pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("priority=9", "priority"),
        ("assignee=bob", "assignee"),
        ("sla_state=x", "sla_state"),
    ],
)
def test_ticket_list_rejects_bad_filters(api: Client, many: dict[str, Ticket], query: str, field: str) -> None:
    response = api.get(f"/api/tickets/?{query}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_ticket_list_is_newest_activity_first_in_cursor_pages(api: Client, many: dict[str, Ticket]) -> None:
    first = api.get("/api/tickets/?page_size=3").json()
    second = api.get(first["next"]).json()

    # "theirs" was assigned and then paused last; "mine" was assigned before it.
    assert [*[r["id"] for r in first["results"]], *[r["id"] for r in second["results"]]] == [
        many[k].pk for k in ("theirs", "mine", "shop", "queue")
    ]
    assert (first["previous"], second["next"]) == (None, None)


def test_ticket_list_costs_the_same_queries_for_3_and_30_tickets(
    api: Client, dept: Department, make_user: Callable[..., User]
) -> None:
    def add(n: int) -> None:
        for i in range(n):
            who = f.consumer(tier=CreditTier.objects.create(name=f"档{i}-{n}", min_score=100 + i + n * 40))
            ticket = services.open_ticket(who, subject="x", department=dept, order=f.order(who, f.merchant()))
            services.assign_ticket(ticket, make_user(f"agent-{n}-{i}"))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/tickets/?page_size=100")
        assert response.status_code == 200
        return len(queries)

    add(3)
    three = count()
    add(27)
    thirty = count()

    assert len(api.get("/api/tickets/?page_size=100").json()["results"]) == 30
    assert (three, thirty) == (6, 6)


def test_ticket_detail_costs_the_same_queries_for_a_short_and_a_long_timeline(
    api: Client, ticket_a: Ticket, make_user: Callable[..., User]
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/api/tickets/{ticket_a.pk}/")
        assert response.status_code == 200
        return len(queries)

    short = count()
    for i in range(15):
        services.add_message(ticket_a, body=f"回复{i}", author_kind="agent", author=make_user(f"replier-{i}"))
    assert len(api.get(f"/api/tickets/{ticket_a.pk}/").json()["timeline"]) > 15
    assert count() == short


# Refunds ----------------------------------------------------------------------------------------
