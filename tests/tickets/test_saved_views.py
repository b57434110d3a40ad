"""Saved views: the queue's filters, search and order under a name; only known, valid parameters are kept,
and opening one goes through the queue's scope as always (merchant staff still see only their shop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import roles
from merchants.models import MerchantMembership
from tests.crm import factories as f
from tickets import services, views_saved
from tickets.models import Department, SavedView, Ticket

pytestmark = pytest.mark.django_db
EN = {"accept-language": "en"}
QUEUE = "/admin/tickets/ticket/"


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="after-sales", name="售后")


def ticket(dept: Department, subject: str, **kw: Any) -> Ticket:
    return services.open_ticket(f.consumer(), subject=subject, department=dept, route=False, **kw)


def said(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_agent_saves_the_queues_filters_and_opens_them_again(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    urgent = ticket(dept, "急", priority=4)
    ticket(dept, "不急", priority=2)
    client = client_for(agent)
    response = client.post(f"{QUEUE}saved-views/save/", {
        "name": "全部加急", "query": "queue=all&priority__exact=4&o=-1&evil=1&status__exact=bogus",
    }, headers=EN)  # fmt: skip
    view = SavedView.objects.get()
    assert (view.name, view.owner_id, view.query) == ("全部加急", agent.pk, "queue=all&priority__exact=4&o=-1")
    assert (response.status_code, response["Location"]) == (302, f"{QUEUE}?queue=all&priority__exact=4&o=-1")
    assert said(response) == ["View “全部加急” saved."]
    opened = client.get(response["Location"])
    assert [t.pk for t in opened.context["cl"].result_list] == [urgent.pk]
    listed = client.get(QUEUE, {"queue": "all"})
    assert listed.context["saved_views"] == [(view, 1)]
    assert 'href="?queue=all&amp;priority__exact=4&amp;o=-1"' in listed.content.decode()


@pytest.mark.parametrize(
    ("params", "kept"),
    [
        ({"queue": "mine-and-yours"}, ""),
        ({"status__exact": "open", "kind__exact": "complaint"}, "status__exact=open&kind__exact=complaint"),
        ({"priority__exact": "9"}, ""),
        ({"department__id__exact": "999999"}, ""),
        ({"department__id__exact": "1 OR 1=1"}, ""),
        ({"q": "退款", "o": "2.-1"}, "q=%E9%80%80%E6%AC%BE&o=2.-1"),
        ({"q": "x" * 201}, ""),
        ({"o": "1;drop"}, ""),
        ({"p": "3", "_changelist_filters": "x", "all": ""}, ""),
    ],
)
def test_only_known_parameters_with_valid_values_are_kept(agent: User, params: dict[str, str], kept: str) -> None:
    assert views_saved.clean_query(params, agent) == kept


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "A view needs a name."),
        ("   ", "A view needs a name."),
        ("视" * 81, "A view's name is 80 characters at most."),
    ],
)
def test_a_view_needs_a_name_of_80_characters_at_most(
    agent: User, client_for: Callable[[User], Client], name: str, error: str
) -> None:
    response = client_for(agent).post(f"{QUEUE}saved-views/save/", {"name": name, "query": "queue=all"}, headers=EN)
    assert (response.status_code, response["Location"], said(response)) == (302, f"{QUEUE}?queue=all", [error])
    assert not SavedView.objects.exists()


def test_only_supervisors_share_views_and_everyone_sees_the_shared_ones(
    dept: Department, agent: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    refused = client_for(agent).post(f"{QUEUE}saved-views/save/", {"name": "共享", "query": "", "shared": "1"})
    assert refused.status_code == 403
    client_for(supervisor).post(f"{QUEUE}saved-views/save/", {"name": "全部", "query": "queue=all", "shared": "1"})
    shared = SavedView.objects.get()
    assert shared.owner_id is None
    assert list(views_saved.views_for(agent)) == [shared]


def test_another_agents_personal_view_is_neither_listed_nor_opened(
    agent: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    theirs = SavedView.objects.create(name="别人的视图", owner=make_user("agent2", roles.AGENT), query="queue=all")
    client = client_for(agent)
    assert client.get(QUEUE).context["saved_views"] == []
    opened = client.get(f"/admin/tickets/savedview/{theirs.pk}/change/")
    assert (opened.status_code, opened["Location"]) == (302, "/admin/")
    client.post(f"/admin/tickets/savedview/{theirs.pk}/delete/", {"post": "yes"})
    assert SavedView.objects.filter(pk=theirs.pk).exists()


def test_a_view_never_widens_what_merchant_staff_see(
    dept: Department, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    shop, other = f.merchant("SHOP-V"), f.merchant("SHOP-W")
    staff = make_user("staff-v", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    who = f.consumer()
    mine = services.open_ticket(who, subject="本店", department=dept, order=f.order(who, shop), route=False)
    services.open_ticket(who, subject="他店", department=dept, order=f.order(who, other), route=False)
    view = SavedView.objects.create(name="别家", owner=staff, query="queue=all&merchant_code=SHOP-W")
    everything = SavedView.objects.create(name="全部", owner=staff, query="queue=all")
    client = client_for(staff)
    page = client.get(QUEUE, {"queue": "all"})
    assert {v.name: n for v, n in page.context["saved_views"]} == {view.name: 0, everything.name: 1}
    assert [t.pk for t in client.get(f"{QUEUE}?{everything.query}").context["cl"].result_list] == [mine.pk]
    assert list(client.get(f"{QUEUE}?{view.query}").context["cl"].result_list) == []


def test_the_queue_with_views_listed_costs_the_same_queries_however_many_views(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    for n in range(3):
        ticket(dept, f"t{n}", body=f"快递丢了{n}")
    client = client_for(agent)
    SavedView.objects.create(name="v0", owner=agent, query="queue=all&q=快递")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(QUEUE, {"queue": "all"}).status_code == 200
        return len(queries)

    few = count()
    for n in range(1, 12):
        SavedView.objects.create(name=f"v{n}", owner=agent, query=f"queue=open&priority__exact={n % 4 + 1}")
    SavedView.objects.create(name="shared", query="queue=unassigned")
    assert count() == few
