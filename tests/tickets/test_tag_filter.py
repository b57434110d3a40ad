"""The queue's tag filter: the tags macros add are offered, a tag shows only its tickets (within the queue's
scope), a bad tag shows none, a saved view keeps it, and the page costs the same queries for 2 or 40 tickets."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.crm import factories as f
from tickets import services, views_saved
from tickets.models import Department, Macro, Ticket

pytestmark = pytest.mark.django_db
QUEUE = "/admin/tickets/ticket/"


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="after-sales", name="售后")


def tagged(dept: Department, n: int, *tags: str) -> list[Ticket]:
    made = [services.open_ticket(f.consumer(), subject=f"问题{i}", department=dept, route=False) for i in range(n)]
    for ticket in made:
        if tags:
            services.add_tags(ticket, list(tags))
    return made


def listed(client: Client, query: str) -> list[int]:
    response = client.get(f"{QUEUE}?{query}")
    assert response.status_code == 200
    return sorted(t.pk for t in response.context["cl"].result_list)


def test_the_queue_filters_by_a_tag_and_offers_the_macros_tags(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    Macro.objects.create(name="升级", tags=["vip", "escalated"])
    Macro.objects.create(name="物流", owner=agent, tags=["logistics", "vip"])
    vip = tagged(dept, 2, "vip")
    escalated = tagged(dept, 1, "escalated", "vip")
    plain = tagged(dept, 1)
    client = client_for(agent)
    assert listed(client, "queue=all&tag=vip") == sorted(t.pk for t in vip + escalated)
    assert listed(client, "queue=all&tag=escalated") == [escalated[0].pk]
    assert listed(client, "queue=all&tag=unknown") == []
    assert listed(client, "queue=all") == sorted(t.pk for t in vip + escalated + plain)
    html = client.get(f"{QUEUE}?queue=all", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    offered = re.findall(r'<a href="\?[^"]*tag=([^"&]+)[^"]*"[^>]*>([^<]+)</a>', html)
    assert sorted({value for value, _label in offered}) == ["escalated", "logistics", "vip"]
    assert "By tag" in html


def test_a_tag_no_macro_adds_any_more_is_still_offered_when_asked_for(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    old = tagged(dept, 1, "legacy")
    client = client_for(agent)
    assert listed(client, "queue=all&tag=legacy") == [old[0].pk]
    html = client.get(f"{QUEUE}?queue=all&tag=legacy").content.decode()
    assert re.search(r'<li class="selected">\s*<a href="\?[^"]*tag=legacy[^"]*"[^>]*>legacy</a>', html)


@pytest.mark.parametrize("bad", ["x" * 33, "a%09b", "%0A"])
def test_a_bad_tag_shows_nothing_rather_than_failing(
    dept: Department, agent: User, client_for: Callable[[User], Client], bad: str
) -> None:
    tagged(dept, 2, "vip")
    assert listed(client_for(agent), f"queue=all&tag={bad}") == []


def test_a_saved_view_keeps_the_tag_and_counts_by_it(dept: Department, agent: User) -> None:
    tagged(dept, 3, "vip")
    tagged(dept, 2)
    view = views_saved.save_view(agent, "VIP", {"queue": "all", "tag": "vip"})
    assert view.query == "queue=all&tag=vip"
    assert views_saved.listed(agent, Ticket.objects.all()) == [(view, 3)]
    assert views_saved.save_view(agent, "too long", {"queue": "all", "tag": "x" * 33}).query == "queue=all"


def test_the_tag_filtered_queue_costs_the_same_queries_whatever_the_page_size(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    Macro.objects.create(name="升级", tags=["vip"])
    client = client_for(agent)
    tagged(dept, 2, "vip")
    client.get(f"{QUEUE}?queue=all&tag=vip")  # warm (session, content types)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{QUEUE}?queue=all&tag=vip").status_code == 200
    tagged(dept, 40, "vip")
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"{QUEUE}?queue=all&tag=vip").status_code == 200
    assert len(few) == len(many)


def test_the_tags_offered_are_of_the_macros_the_agent_may_use_and_a_tag_is_found_whatever_its_case(
    dept: Department, agent: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    other = make_user("other-agent", role="agent")
    Macro.objects.create(name="他的私人宏", owner=other, tags=["his-secret"])
    Macro.objects.create(name="共享", tags=["shared"])
    vip = tagged(dept, 1, "vip")
    client = client_for(agent)
    html = client.get(f"{QUEUE}?queue=all").content.decode()
    offered = {value for value, _label in re.findall(r'<a href="\?[^"]*tag=([^"&]+)[^"]*"[^>]*>([^<]+)</a>', html)}
    assert offered == {"shared"}
    assert listed(client, "queue=all&tag=VIP") == [vip[0].pk]
    view = views_saved.save_view(agent, "贵宾", {"queue": "all", "tag": "VIP"})
    assert [(saved.pk, count) for saved, count in views_saved.listed(agent, Ticket.objects.all())] == [(view.pk, 1)]
