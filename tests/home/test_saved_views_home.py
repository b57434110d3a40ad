"""The agent's home lists their saved views of the queue, their own and those shared with them, each with how
many tickets it shows in what they may see, as links to the queue; the same queries whatever the number of views
(tests/home/test_homes.py counts the whole page)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from core import roles
from home import selectors
from merchants.models import MerchantMembership
from tests.crm import factories as f
from tickets import services, views_saved
from tickets.models import AgentProfile, Department, SavedView, Ticket

pytestmark = pytest.mark.django_db
LINK = re.compile(r'<a href="/admin/tickets/ticket/\?([^"]*)" class="saved-view[^"]*" data-view="\d+">'
                  r'<span class="name">([^<]+)</span> <span class="count">(\d+)</span>')  # fmt: skip


def tickets(dept: Department, n: int, *, assignee: User | None = None, priority: int = 2) -> list[Ticket]:
    made = [services.open_ticket(f.consumer(), subject=f"问题{i}", department=dept, priority=priority, route=False)
            for i in range(n)]  # fmt: skip
    for ticket in made:
        if assignee is not None:
            services.assign_ticket(ticket, assignee)
    return made


def test_the_agent_home_links_my_views_and_the_shared_ones_with_their_counts(
    client_for: Callable[[User], Client], agent: User, supervisor: User, make_user: Callable[..., User]
) -> None:
    dept = Department.objects.create(code="after-sales", name="售后")
    other = Department.objects.create(code="logistics", name="物流")
    AgentProfile.objects.create(user=agent, department=dept)
    tickets(dept, 2, assignee=agent, priority=4)
    tickets(dept, 3, priority=4)
    vip = tickets(other, 1)[0]
    services.add_tags(vip, ["vip"])
    views_saved.save_view(agent, "紧急的", {"queue": "open", "priority__exact": "4"})
    views_saved.save_view(agent, "VIP", {"queue": "all", "tag": "vip"})
    views_saved.save_view(supervisor, "全部未分配", {"queue": "unassigned"}, shared=True)
    SavedView.objects.create(name="物流部的", department=other, query="queue=open")  # another department's
    views_saved.save_view(make_user("agent2", roles.AGENT), "别人的", {"queue": "all"})

    html = client_for(agent).get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "My saved views" in html
    assert sorted(LINK.findall(html)) == [
        ("queue=all&amp;tag=vip", "VIP", "1"),
        ("queue=open&amp;priority__exact=4", "紧急的", "5"),
        ("queue=unassigned", "全部未分配", "4"),
    ]


def test_an_agent_without_views_is_told_how_to_make_one(client_for: Callable[[User], Client], agent: User) -> None:
    html = client_for(agent).get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "None yet: filter the queue, then “Save view”." in html and not LINK.findall(html)
    zh = client_for(agent).get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的已保存视图" in zh


def test_the_saved_views_cost_the_same_queries_for_one_view_or_twenty(
    agent: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    dept = Department.objects.create(code="after-sales", name="售后")
    tickets(dept, 3, assignee=agent)
    views_saved.save_view(agent, "mine", {})
    # merchant staff or not (the home has asked already: cached on the user), the views, their counts
    fresh = User.objects.get(pk=agent.pk)
    with django_assert_num_queries(3):
        assert [(v.name, n) for v, n in selectors.saved_views(fresh)] == [("mine", 3)]
    for i in range(19):
        views_saved.save_view(agent, f"view {i:02d}", {"queue": "all", "priority__exact": "2"})
    fresh = User.objects.get(pk=agent.pk)
    with django_assert_num_queries(3):
        listed = selectors.saved_views(fresh)
    assert len(listed) == 20 and {n for _v, n in listed} == {3}


def test_merchant_staff_counts_stay_in_their_shop(make_user: Callable[..., User]) -> None:
    dept = Department.objects.create(code="after-sales", name="售后")
    shop, elsewhere = f.merchant(), f.merchant()
    staff = make_user("shop-staff", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    for merchant in (shop, elsewhere, elsewhere):
        services.open_ticket(f.consumer(), subject="问题", department=dept, merchant_id=merchant.pk, route=False)
    views_saved.save_view(staff, "all", {"queue": "all"})
    assert [n for _v, n in selectors.saved_views(staff)] == [1]
