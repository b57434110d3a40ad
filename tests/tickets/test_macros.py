"""Macros: several actions on a ticket in one click, all or nothing, through the ticket services' rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.test import Client

from core import roles
from merchants.models import MerchantMembership
from tests.crm import factories as f
from tickets import macros, services
from tickets.models import AgentProfile, Department, Macro, Ticket, TicketEvent

pytestmark = pytest.mark.django_db
EN = {"accept-language": "en"}


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="after-sales", name="售后")


def ticket(dept: Department, subject: str = "耳机没声音", **kw: Any) -> Ticket:
    who = f.consumer(display_name="王小明")
    return services.open_ticket(who, subject=subject, department=dept, route=False, **kw)


def said(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def snapshot(t: Ticket) -> tuple[Any, ...]:
    t.refresh_from_db()
    events = list(TicketEvent.objects.filter(ticket=t).values_list("kind", flat=True).order_by("id"))
    return (t.status, t.priority, t.assignee_id, t.tags, t.first_response_at, events)


def test_a_macro_replies_with_placeholders_sets_status_priority_tags_and_assigns_in_one_click(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    agent.first_name = "小李"
    agent.save()
    made = ticket(dept)
    macro = Macro.objects.create(
        name="等待照片", owner=agent, reply="{consumer}您好，我是{agent}，请发照片（{ticket}）。",
        status="pending", priority=3, tags=["Photo", "photo", "耳机"], assign_to_me=True,
    )  # fmt: skip
    response = client_for(agent).post(f"/admin/tickets/ticket/{made.pk}/act/", {"action": "macro", "macro": macro.pk},
                                      headers=EN)  # fmt: skip
    assert response.status_code == 302
    assert said(response) == ["Macro “等待照片” applied."]
    made.refresh_from_db()
    assert (made.status, made.priority, made.assignee_id, made.tags) == ("pending", 3, agent.pk, ["photo", "耳机"])
    reply = TicketEvent.objects.get(ticket=made, kind=TicketEvent.Kind.MESSAGE, author_kind="agent")
    assert reply.body == f"王小明您好，我是小李，请发照片（#{made.pk}）。"
    kinds = list(TicketEvent.objects.filter(ticket=made).order_by("id").values_list("kind", "data"))
    assert kinds[1:] == [
        ("assignment", kinds[1][1]),
        ("message", {}),
        ("status", {"from": "new", "to": "open"}),
        ("status", {"from": "open", "to": "pending"}),
        ("priority", {"from": 2, "to": 3}),
    ]


def test_a_failing_step_leaves_the_ticket_unchanged(dept: Department, agent: User) -> None:
    made = ticket(dept)
    before = snapshot(made)
    # Reply, assignment and tags would work; "closed" cannot follow "open" (after the reply): all refused.
    macro = Macro.objects.create(name="关闭", owner=agent, reply="好的", status="closed", tags=["x"], assign_to_me=True)
    with pytest.raises(ValidationError):
        macros.apply_macro(macro, made, by=agent)
    assert snapshot(made) == before


def test_merchant_staff_are_refused_the_whole_macro_that_would_resolve_a_complaint_about_their_shop(
    dept: Department, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    shop = f.merchant("SHOP-M")
    staff = make_user("staff-m", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    who = f.consumer()
    complaint = services.open_ticket(who, subject="投诉", department=dept, kind="complaint", order=f.order(who, shop),
                                     route=False)  # fmt: skip
    before = snapshot(complaint)
    macro = Macro.objects.create(name="结案", owner=staff, reply="已处理", status="resolved", tags=["done"])
    response = client_for(staff).post(f"/admin/tickets/ticket/{complaint.pk}/act/",
                                      {"action": "macro", "macro": macro.pk}, headers=EN)  # fmt: skip
    assert response.status_code == 302
    assert said(response) == [
        "A complaint or dispute about your shop is settled by the platform: you may reply and propose a solution,"
        " but not set it to “Resolved”."
    ]
    assert snapshot(complaint) == before


def test_another_agents_personal_macro_cannot_be_applied_nor_opened(
    dept: Department, agent: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    other = make_user("agent2", roles.AGENT)
    theirs = Macro.objects.create(name="别人的", owner=other, status="pending")
    made = ticket(dept)
    client = client_for(agent)
    response = client.post(f"/admin/tickets/ticket/{made.pk}/act/", {"action": "macro", "macro": theirs.pk},
                           headers=EN)  # fmt: skip
    assert said(response) == ["Choose one of your macros."]
    made.refresh_from_db()
    assert made.status == "new"
    page = client.get(f"/admin/tickets/ticket/{made.pk}/change/").content.decode()
    assert "别人的" not in page
    # Their change page is not there for this agent (the admin's "does not exist": back to the index).
    opened = client.get(f"/admin/tickets/macro/{theirs.pk}/change/")
    assert (opened.status_code, opened["Location"]) == (302, "/admin/")
    deleted = client.post(f"/admin/tickets/macro/{theirs.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert Macro.objects.filter(pk=theirs.pk).exists()


def test_shared_macros_are_the_supervisors_agents_use_them_but_cannot_edit_them(
    dept: Department, agent: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    other_dept = Department.objects.create(code="logistics", name="物流")
    AgentProfile.objects.create(user=agent, department=dept)
    made = client_for(supervisor).post("/admin/tickets/macro/add/", {
        "name": "全员：已收到", "reply": "收到", "status": "", "priority": "", "tags": "收到, 跟进", "shared": "on",
    })  # fmt: skip
    assert made.status_code == 302
    shared = Macro.objects.get(name="全员：已收到")
    assert (shared.owner_id, shared.tags) == (None, ["收到", "跟进"])
    Macro.objects.create(name="物流专用", department=other_dept)
    Macro.objects.create(name="售后专用", department=dept)
    assert sorted(m.name for m in macros.macros_for(agent)) == sorted(["售后专用", "全员：已收到"])
    client = client_for(agent)
    assert client.get(f"/admin/tickets/macro/{shared.pk}/change/").status_code == 200  # to read
    edit = client.post(f"/admin/tickets/macro/{shared.pk}/change/", {"name": "改了", "reply": "", "tags": ""})
    assert edit.status_code == 403
    # An agent's "shared" tick is ignored: their macro is their own.
    client.post("/admin/tickets/macro/add/", {"name": "我的", "reply": "", "tags": "", "shared": "on"})
    assert Macro.objects.get(name="我的").owner_id == agent.pk


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "status": ""}, "This field is required."),
        ({"name": "x" * 81, "status": ""}, "Ensure this value has at most 80 characters (it has 81)."),
        (
            {"name": "坏状态", "status": "archived"},
            "Select a valid choice. archived is not one of the available choices.",
        ),
        ({"name": "坏标签", "status": "", "tags": "a" * 33}, "Up to 10 tags of 32 characters at most."),
    ],
)
def test_a_macro_with_bad_input_is_not_saved(
    agent: User, client_for: Callable[[User], Client], data: dict[str, str], error: str
) -> None:
    response = client_for(agent).post("/admin/tickets/macro/add/", {"reply": "", "tags": "", **data}, headers=EN)
    assert response.status_code == 200
    assert error in [e for errors in response.context["adminform"].form.errors.values() for e in errors]
    assert not Macro.objects.exists()


def test_a_macro_applied_to_several_tickets_from_the_queue_reports_done_and_refused(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    fine, also_fine, closed = ticket(dept, "一"), ticket(dept, "二"), ticket(dept, "三")
    services.transition_ticket(closed, "resolved")
    services.transition_ticket(closed, "closed")
    macro = Macro.objects.create(name="跟进", owner=agent, reply="我们在跟进", tags=["跟进"], priority=3)
    response = client_for(agent).post(
        "/admin/tickets/ticket/?queue=all",
        {"action": f"macro_{macro.pk}", "_selected_action": [fine.pk, also_fine.pk, closed.pk]},
        headers=EN,
    )
    assert response.status_code == 302
    assert said(response) == [
        f"#{closed.pk} 三: This ticket is closed; open a new one.",
        "Macro “跟进”: 2 done, 1 refused.",
    ]
    for t in (fine, also_fine):
        t.refresh_from_db()
        assert (t.priority, t.tags) == (3, ["跟进"])
    closed.refresh_from_db()
    assert (closed.priority, closed.tags) == (2, [])


def test_the_ticket_page_offers_the_macros_in_chinese(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    made = ticket(dept)
    Macro.objects.create(name="催单", owner=agent, status="pending")
    html = client_for(agent).get(f"/admin/tickets/ticket/{made.pk}/change/", headers={"accept-language": "zh-hans"})
    text = html.content.decode()
    assert "执行宏" in text and ">催单</option>" in text
