"""A home per role at /admin/: the agent's desk, the supervisors' wallboard, the shop, business to the radio."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from chat.models import ChatSession
from core import roles
from core.durations import formats as duration_formats
from home import selectors
from home.templatetags.home import wait
from merchants.models import Merchant, MerchantMembership, MerchantScore
from qa import evaluation
from tests.crm import factories as f
from tests.qa import factories as qa_factories
from tickets import views_saved
from tickets.models import AgentProfile, Department, RefundRequest, Ticket, TicketEvent

pytestmark = pytest.mark.django_db
SLA = Ticket.SLAState


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="after-sales", name="售后")


def ticket(dept: Department, **fields: Any) -> Ticket:
    now = fields.pop("created_at", timezone.now())
    fields.setdefault("subject", "问题")
    fields["consumer"] = fields.get("consumer") or f.consumer()
    return Ticket.objects.create(department=dept, created_at=now, updated_at=now, **fields)


def chat(dept: Department, state: str, *, agent: User | None = None, waited: int = 0) -> ChatSession:
    row = ticket(dept, channel=Ticket.Channel.CHAT)
    now = timezone.now()
    return ChatSession.objects.create(ticket=row, consumer=row.consumer, state=state, agent=agent,
                                      queued_at=now - timedelta(seconds=waited), created_at=now,
                                      last_activity_at=now)  # fmt: skip


def figures(html: str) -> dict[str, str]:
    """Each tile's figure by its data-tile name."""
    found = re.findall(r'data-tile="(\w+)">\s*<span class="figure[^"]*">([^<]*)</span>', html)
    return dict(found)


# --- agents -------------------------------------------------------------------------------------


def test_agent_home_counts_my_open_due_soon_breached_and_waiting_chats(
    client_for: Callable[[User], Client], agent: User, make_user: Callable[..., User], dept: Department
) -> None:
    other = make_user("agent2", roles.AGENT)
    soon = timezone.now() + timedelta(minutes=30)
    later = timezone.now() + timedelta(hours=5)
    ticket(dept, assignee=agent, status=Ticket.Status.OPEN, sla_state=SLA.OK, resolution_due=later)
    ticket(dept, assignee=agent, status=Ticket.Status.OPEN, sla_state=SLA.OK, resolution_due=soon)
    ticket(dept, assignee=agent, status=Ticket.Status.PENDING, sla_state=SLA.AT_RISK)
    ticket(dept, assignee=agent, status=Ticket.Status.OPEN, sla_state=SLA.BREACHED)
    ticket(dept, assignee=agent, status=Ticket.Status.RESOLVED, sla_state=SLA.BREACHED)  # closed: not counted
    ticket(dept, assignee=other, status=Ticket.Status.OPEN, sla_state=SLA.BREACHED)  # someone else's
    chat(dept, ChatSession.State.WAITING, waited=125)
    chat(dept, ChatSession.State.WAITING, waited=20)
    chat(dept, ChatSession.State.ACTIVE, agent=agent)
    chat(dept, ChatSession.State.ACTIVE, agent=other)
    AgentProfile.objects.create(user=agent, available=True)

    assert selectors.agent_home(agent) | {"longest_wait": 0} == {
        "open": 4, "due_soon": 2, "breached": 1, "waiting": 2, "longest_wait": 0, "my_chats": 1,
        "available": True, "chat_capacity": 5,
    }  # fmt: skip
    assert 125 <= selectors.agent_home(agent)["longest_wait"] <= 127
    html = client_for(agent).get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert figures(html) == {"open": "4", "due_soon": "2", "breached": "1", "waiting": "2", "availability": "Available"}
    assert 'href="/admin/chat/chatsession/console/"' in html
    assert 'href="/admin/tickets/ticket/?sla_state__exact=breached"' in html
    assert "model-ticket" in html  # the app list stays below


def test_agent_home_in_english_says_away_when_no_profile(client_for: Callable[[User], Client], agent: User) -> None:
    html = client_for(agent).get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>My desk</h1>" in html
    assert "wallboard-config" not in html and "Wallboard" not in html  # the supervisors' numbers are not theirs
    assert figures(html) == {"open": "0", "due_soon": "0", "breached": "0", "waiting": "0", "availability": "Away"}


def test_each_home_costs_the_same_queries_for_one_row_or_many(
    client_for: Callable[[User], Client], agent: User, supervisor: User, make_user: Callable[..., User],
    dept: Department,
) -> None:  # fmt: skip
    shop = f.merchant()
    staff = make_user("shop-staff", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    clients = {"agent": client_for(agent), "supervisor": client_for(supervisor), "merchant": client_for(staff)}

    def seed(n: int) -> None:
        for k in range(n):
            who = f.consumer()
            order = f.order(who, shop)
            ticket(dept, consumer=who, assignee=agent, status=Ticket.Status.OPEN, merchant=shop, order=order)
            chat(dept, ChatSession.State.WAITING, waited=k)
            Department.objects.create(code=f"d{dept.pk}-{n}-{k}", name=f"部门{n}-{k}")
            views_saved.save_view(agent, f"视图{n}-{k}", {"queue": "open", "priority__exact": str(k % 4 + 1)})

    seed(1)
    first = {name: _count(client) for name, client in clients.items()}
    seed(12)
    assert {name: _count(client) for name, client in clients.items()} == first
    # session, user, the index's own reads (groups, the app list's permissions) + the home's reads (the agent's:
    # their desk 3, their saved views 2)
    assert first == {"agent": 12, "supervisor": 15, "merchant": 11}


def _count(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/admin/").status_code == 200
    return len(captured)


# --- supervisors --------------------------------------------------------------------------------


def test_wallboard_counts_queues_agents_breaches_medians_findings_and_refunds(
    make_user: Callable[..., User], agent: User, dept: Department
) -> None:
    other = Department.objects.create(code="logistics", name="物流")
    chat(dept, ChatSession.State.WAITING, waited=300)
    chat(dept, ChatSession.State.WAITING, waited=60)
    ticket(other, status=Ticket.Status.NEW)
    busy = make_user("busy", roles.AGENT)
    away = make_user("away", roles.AGENT)
    AgentProfile.objects.create(user=agent, available=True, chat_capacity=2)
    AgentProfile.objects.create(user=busy, available=True, chat_capacity=1)
    AgentProfile.objects.create(user=away, available=False)
    chat(dept, ChatSession.State.ACTIVE, agent=agent)  # 1 of 2 slots: still available
    chat(dept, ChatSession.State.ACTIVE, agent=busy)  # full: busy
    now = timezone.now()
    today = selectors.local_day_start(now)
    breached = ticket(dept)
    TicketEvent.objects.create(ticket=breached, kind="sla", author_kind="system", data={"from": "ok", "to": "breached"},
                               created_at=now)  # fmt: skip
    TicketEvent.objects.create(ticket=breached, kind="sla", author_kind="system", data={"from": "ok", "to": "breached"},
                               created_at=today - timedelta(minutes=1))  # yesterday: not today's  # fmt: skip
    TicketEvent.objects.create(ticket=breached, kind="sla", author_kind="system", data={"from": "ok", "to": "at_risk"},
                               created_at=now)  # fmt: skip
    for minutes in (10, 20, 90):  # today: median 20 minutes
        start = now - timedelta(minutes=minutes)
        ticket(dept, created_at=start, first_response_at=now, resolved_at=now, status=Ticket.Status.RESOLVED)
    for minutes in (30, 50):  # two days ago: median 40 minutes
        start = today - timedelta(days=2)
        ticket(dept, created_at=start, first_response_at=start + timedelta(minutes=minutes),
               resolved_at=start + timedelta(minutes=2 * minutes), status=Ticket.Status.RESOLVED)  # fmt: skip
    qa_factories.rule("rude", "keyword", speaker="agent", terms=["爱买不买"], severity=3, category="courtesy")
    evaluation.evaluate_transcripts([qa_factories.transcript([("agent", "爱买不买")], agent=agent).pk])
    who = f.consumer()
    order = f.order(who, f.merchant())
    for key, decision in (("a", "manual"), ("b", "manual"), ("c", "instant")):
        RefundRequest.objects.create(idempotency_key=key, order=order, consumer=who, merchant=order.merchant,
                                     amount=Decimal("1.00"), reason="r", decision=decision, created_at=now)  # fmt: skip

    board = selectors.wallboard(now)
    departments = {row["name"]: row for row in board["departments"]}
    assert departments["售后"]["waiting"] == 2 and 300 <= departments["售后"]["longest_wait"] <= 302
    assert departments["物流"] == {"id": other.pk, "name": "物流", "waiting": 0, "longest_wait": 0, "unassigned": 1}
    assert board["agents"] == {"available": 1, "busy": 1, "away": 1}
    assert board["breaches_today"] == 1
    assert board["first_response_today"] == 20 * 60
    assert board["first_response_last_week"] == 40 * 60
    assert board["resolution_today"] == 20 * 60
    assert board["resolution_last_week"] == 80 * 60
    assert [(row["severity"], row["open"]) for row in board["findings"]] == [(4, 0), (3, 1), (2, 0), (1, 0)]
    assert board["refunds_waiting"] == 2


def test_wallboard_page_for_supervisors_has_the_socket_and_the_app_list(
    client_for: Callable[[User], Client], supervisor: User, dept: Department
) -> None:
    html = client_for(supervisor).get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<h1>实时看板</h1>" in html
    assert '"socket": "/ws/events/"' in html
    assert 'href="/admin/tickets/refundrequest/?decision__exact=manual"' in html
    assert f'data-dept="{dept.pk}"' in html
    assert "model-ticket" in html  # the app list, below


def test_superusers_get_the_wallboard(client_for: Callable[[User], Client], make_user: Callable[..., User]) -> None:
    admin = make_user("root", is_superuser=True)
    assert client_for(admin).get("/admin/").context["home_kind"] == "supervisor"


# --- business and merchant staff ----------------------------------------------------------------


def test_business_users_go_straight_to_the_radio(client_for: Callable[[User], Client],
                                                 make_user: Callable[..., User]) -> None:  # fmt: skip
    response = client_for(make_user("biz", roles.BUSINESS)).get("/admin/")
    assert (response.status_code, response["Location"]) == (302, "/radio/")


def test_signed_out_visitors_are_sent_to_the_login(db: None) -> None:
    response = Client().get("/admin/")
    assert (response.status_code, response["Location"]) == (302, "/admin/login/?next=/admin/")


def test_users_who_are_not_staff_are_sent_to_the_login(make_user: Callable[..., User]) -> None:
    client = Client()
    client.force_login(make_user("nobody", is_staff=False))
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"


def test_merchant_home_shows_all_the_shops_open_tickets_and_its_score_only(
    client_for: Callable[[User], Client], make_user: Callable[..., User], agent: User, dept: Department
) -> None:
    shop, rival = f.merchant(name="好店"), f.merchant(name="别家")
    staff = make_user("shop-staff", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    for k, owner in enumerate([shop, shop, shop, rival]):
        who = f.consumer()
        ticket(dept, consumer=who, order=f.order(who, owner), merchant=owner, subject=f"工单{k}",
               assignee=agent if k == 0 else None, status=Ticket.Status.OPEN)  # fmt: skip
    who = f.consumer()
    ticket(dept, consumer=who, merchant=shop, order=f.order(who, shop), status=Ticket.Status.CLOSED, subject="已关")
    day = timezone.localdate()
    for merchant, score in ((shop, "88.50"), (rival, "99.00")):
        MerchantScore.objects.create(merchant=merchant, day=day, reviews=1, dsr_item=Decimal("4.8"),
                                     dsr_service=Decimal("4.8"), dsr_logistics=Decimal("4.8"), orders=1,
                                     dispute_rate=Decimal("0"), service_score=Decimal(score),
                                     traffic_weight=Decimal("1"))  # fmt: skip

    home = selectors.merchant_home(staff)
    assert (home.merchant, home.open_tickets, home.score.service_score) == (shop, 3, Decimal("88.50"))  # type: ignore[union-attr]
    assert sorted(t.subject for t in home.tickets) == ["工单0", "工单1", "工单2"]
    html = client_for(staff).get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>My shop</h1>" in html
    assert figures(html) == {"shop_open": "3", "score": "88.50"}
    assert "别家" not in html and "99.00" not in html and "已关" not in html
    assert 'href="/admin/tickets/ticket/?queue=open"' in html


def test_merchant_staff_without_a_shop_see_a_note_not_someone_elses_tickets(
    client_for: Callable[[User], Client], make_user: Callable[..., User], dept: Department
) -> None:
    ticket(dept, status=Ticket.Status.OPEN)
    staff = make_user("lost", roles.MERCHANT_STAFF)
    html = client_for(staff).get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your account is not linked to a shop yet" in html
    assert figures(html) == {}
    assert Merchant.objects.count() == 0


@pytest.mark.parametrize(
    ("language", "shown"),
    [("zh-hans", ["—", "20秒", "2分5秒", "10小时32分", "1天2小时"]), ("en", ["—", "20s", "2m 5s", "10h 32m", "1d 2h"])],
)
def test_waits_are_written_in_words_not_as_a_clock_time(language: str, shown: list[str]) -> None:
    # "10:32:17" beside the board's "updated at 07:33:17" read as a time of day.
    with translation.override(language):
        assert [wait(s) for s in (None, 20, 125, 10 * 3600 + 32 * 60 + 17, 26 * 3600 + 5)] == shown
        assert duration_formats()["ms"] % {"m": 2, "s": 5} == shown[2]  # what the wallboard's script fills in


def test_the_wallboard_writes_the_longest_wait_in_words(
    dept: Department, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    chat(dept, ChatSession.State.WAITING, waited=3 * 3600 + 600)
    html = client_for(supervisor).get("/admin/", headers={"accept-language": "zh-hans"}).content.decode()
    assert re.search(r'data-k="longest_wait" data-wait="\d+">3小时1[01]分</td>', html)
    assert '"durations": {"dh": "%(d)s\\u5929' in html  # the script's formats, in the page's language
