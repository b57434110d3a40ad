"""Refunds at the desk: decisions said in their colour, no refund of a fully refunded order, the review page
(facts, approve, reject with a reason), the list opening on the reviews, and a refund named by its number."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import CreditTier, Order, RiskFlag
from tests.crm import factories as f
from tickets import refunds, services
from tickets.models import Department, RefundRequest, Ticket, TicketEvent

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-hans"}


def tier(name: str) -> CreditTier:
    return CreditTier.objects.get(name=name)


def ticket_with_order(amount: str = "100.00", tier_name: str = "88VIP", **consumer: Any) -> Ticket:
    who = f.consumer(tier=tier(tier_name), **consumer)
    order = f.order(who, f.merchant(), amount, status="delivered", delivered_at=timezone.now())
    department = Department.objects.get_or_create(code="after-sales", defaults={"name": "售后"})[0]
    return services.open_ticket(who, subject="退款", department=department, order=order, kind="refund")


def messages_of(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_a_rejected_refund_is_said_as_a_failure_with_its_reason_on_the_timeline(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    ticket = ticket_with_order("50.00")
    client = client_for(agent)
    response = client.post(f"/admin/tickets/ticket/{ticket.pk}/act/",
                           {"action": "refund", "amount": "80.00", "reason": "x", "key": "too-much"},
                           follow=True, headers=EN)  # fmt: skip
    refund = RefundRequest.objects.get()
    assert refund.decision == "rejected"
    assert messages_of(response) == [
        ("error", f"Refund #{refund.pk} of ¥80.00: Rejected. Only 50.00 yuan of the order is left to refund.")
    ]
    html = response.content.decode()
    assert '<div class="change refund rejected">✗ Refund ¥80.00: Rejected' in html
    assert '<span class="why">Only 50.00 yuan of the order is left to refund.</span>' in html
    assert '<p class="refund-line rejected">' in html


def test_an_instant_refund_is_a_success_and_a_manual_one_a_warning(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    vip, restricted = ticket_with_order("30.00"), ticket_with_order("30.00", "受限")
    levels = []
    for ticket in (vip, restricted):
        data = {"action": "refund", "amount": "10.00", "key": f"k{ticket.pk}"}
        response = client.post(f"/admin/tickets/ticket/{ticket.pk}/act/", data, follow=True)
        levels.append(messages_of(response)[0][0])
    assert levels == ["success", "warning"]


def test_a_fully_refunded_order_offers_no_refund_form_and_refuses_a_forged_one(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    ticket = ticket_with_order("40.00")
    assert ticket.order is not None
    refunds.request_refund(ticket.order, Decimal("40.00"), "x", key="all-of-it", ticket=ticket)
    client = client_for(agent)
    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/", headers=EN).content.decode()
    assert 'class="refund-form"' not in page and "Fully refunded: nothing is left to refund." in page
    forged = {"action": "refund", "amount": "1.00", "key": "forged"}
    response = client.post(f"/admin/tickets/ticket/{ticket.pk}/act/", forged, follow=True, headers=EN)
    assert messages_of(response) == [("error", "This order is fully refunded: there is nothing left to refund.")]
    assert RefundRequest.objects.count() == 1
    add = client.post("/admin/tickets/refundrequest/add/",
                      {"order": ticket.order.pk, "amount": "1.00", "reason": "x", "idempotency_key": "forged-2"},
                      headers=EN)  # fmt: skip
    assert add.status_code == 200
    assert add.context["adminform"].form.non_field_errors() == [
        "This order is fully refunded: there is nothing left to refund."
    ]
    assert RefundRequest.objects.count() == 1


def waiting_refund() -> RefundRequest:
    ticket = ticket_with_order("90.00", "受限", display_name="赵六", phone="13912345678")
    assert ticket.order is not None
    RiskFlag.objects.create(consumer=ticket.consumer, kind="extortion", status="open", detected_at=timezone.now())
    refund = refunds.request_refund(ticket.order, Decimal("60.00"), "未收到货", key="wait", ticket=ticket)
    assert refund.decision == "manual"
    return refund


def test_the_review_page_shows_what_a_reviewer_weighs_and_the_buttons(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    refund = waiting_refund()
    client = client_for(supervisor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/tickets/refundrequest/{refund.pk}/change/", headers=EN)
    html = response.content.decode()
    assert response.status_code == 200
    for expected in (
        f"<title>Refund #{refund.pk} of ¥60.00 (Waiting for manual review)",
        "赵六", refund.consumer.external_id, "13912345678", "受限", "Extortion", "未收到货",
        "Tier 受限 refunds only up to 0.00 yuan instantly.",
        f'href="/admin/tickets/ticket/{refund.ticket_id}/change/"', 'value="approve"', 'value="reject"',
        '<textarea id="reject-note" name="note" rows="2" maxlength="200" required>',
        "left to refund ¥90.00",
    ):  # fmt: skip
        assert expected in html, expected
    assert len(queries) == 7  # session, user, groups, the refund with its rows, permissions twice, flags


def test_the_review_page_masks_the_phone_and_hides_the_buttons_from_agents(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    refund = waiting_refund()
    html = client_for(agent).get(f"/admin/tickets/refundrequest/{refund.pk}/change/").content.decode()
    assert "139****5678" in html and "13912345678" not in html
    assert 'value="approve"' not in html and 'value="reject"' not in html
    response = client_for(agent).post(f"/admin/tickets/refundrequest/{refund.pk}/review/", {"verdict": "approve"})
    assert response.status_code == 403
    refund.refresh_from_db()
    assert refund.decision == "manual"


def test_a_rejection_needs_a_reason_which_is_stored_and_shown_on_the_ticket(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    refund = waiting_refund()
    client = client_for(supervisor)
    url = f"/admin/tickets/refundrequest/{refund.pk}/review/"
    response = client.post(url, {"verdict": "reject", "note": "  "}, follow=True, headers=EN)
    assert messages_of(response) == [("error", "Say why the refund is rejected.")]
    refund.refresh_from_db()
    assert (refund.decision, refund.decided_by) == ("manual", None)
    response = client.post(url, {"verdict": "reject", "note": "物流显示已签收"}, follow=True, headers=EN)
    refund.refresh_from_db()
    assert (refund.decision, refund.decided_by, refund.reasons[-1]) == (
        "rejected", supervisor, {"code": "rejected_on_review", "params": {"note": "物流显示已签收"}},
    )  # fmt: skip
    assert messages_of(response)[0][0] == "error"
    assert "Rejected on review: 物流显示已签收" in messages_of(response)[0][1]
    ticket_page = client.get(f"/admin/tickets/ticket/{refund.ticket_id}/change/", headers=EN).content.decode()
    assert "Rejected on review: 物流显示已签收" in ticket_page
    assert '<div class="change refund rejected">' in ticket_page
    again = client.post(url, {"verdict": "approve"}, follow=True, headers=EN)
    assert messages_of(again) == [("error", "This refund request is already decided.")]


def test_approving_on_the_review_page_refunds_and_names_the_reviewer(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    boss = make_user("boss", "supervisor", first_name="周主管")
    refund = waiting_refund()
    response = client_for(boss).post(f"/admin/tickets/refundrequest/{refund.pk}/review/", {"verdict": "approve"},
                                     follow=True, headers=EN)  # fmt: skip
    refund.refresh_from_db()
    order = Order.objects.get(pk=refund.order_id)
    assert (refund.decision, refund.decided_by, order.refunded_amount) == ("approved", boss, Decimal("60.00"))
    assert messages_of(response)[0][0] == "success"
    assert "Reviewed by 周主管." in response.content.decode()
    listing = client_for(boss).get("/admin/tickets/refundrequest/?decision=all").content.decode()
    assert '<td class="field-decider">周主管</td>' in listing


def test_the_list_opens_on_the_manual_reviews_for_reviewers_and_on_everything_for_agents(
    supervisor: User, agent: User, client_for: Callable[[User], Client]
) -> None:
    waiting = waiting_refund()
    vip = ticket_with_order("30.00")
    assert vip.order is not None
    instant = refunds.request_refund(vip.order, Decimal("10.00"), "x", key="instant")

    def shown(user: User, query: str = "") -> set[int]:
        response = client_for(user).get(f"/admin/tickets/refundrequest/{query}")
        return {row.pk for row in response.context["cl"].result_list}

    assert shown(supervisor) == {waiting.pk}
    assert shown(supervisor, "?decision=all") == {waiting.pk, instant.pk}
    assert shown(agent) == {waiting.pk, instant.pk}
    assert shown(agent, "?decision=instant") == {instant.pk}


def test_the_refund_list_costs_the_same_queries_whatever_the_page_size(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    ticket = ticket_with_order("1000.00", "受限")
    assert ticket.order is not None

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/tickets/refundrequest/").status_code == 200
        return len(queries)

    refunds.request_refund(ticket.order, Decimal("1.00"), "x", key="first")
    few = count()
    for n in range(20):
        refunds.request_refund(ticket.order, Decimal("1.00"), "x", key=f"more-{n}")
    assert count() == few


@pytest.mark.parametrize(
    ("headers", "expected"),
    [(EN, "Refund #{pk} of ¥39.23: Refunded instantly. Tier 88VIP refunds up to 5000.00 yuan instantly."),
     (ZH, "退款申请 #{pk}（¥39.23）：已即时退款。 信用等级 88VIP 可即时退款 5000.00 元以内。")],
)  # fmt: skip
def test_the_add_page_says_the_decision_of_the_refund_by_its_own_number(
    agent: User, client_for: Callable[[User], Client], headers: dict[str, str], expected: str
) -> None:
    ticket = ticket_with_order("100.00")
    assert ticket.order is not None
    response = client_for(agent).post("/admin/tickets/refundrequest/add/",
                                      {"order": ticket.order.pk, "amount": "39.23", "reason": "破损",
                                       "idempotency_key": "add-1"}, follow=True, headers=headers)  # fmt: skip
    refund = RefundRequest.objects.get()
    assert response.redirect_chain == [(f"/admin/tickets/refundrequest/{refund.pk}/change/", 302)]
    assert messages_of(response) == [("success", expected.format(pk=refund.pk))]
    assert f"#{refund.pk}" in response.content.decode()
    assert not TicketEvent.objects.filter(kind="refund").exists()  # no ticket: no timeline


def refund_of_a_new_order(key: str) -> RefundRequest:
    order = ticket_with_order().order
    assert order is not None
    return refunds.request_refund(order, Decimal("10.00"), "x", key=key)


def test_the_refunds_list_costs_the_same_queries_for_one_refund_or_six(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    refund_of_a_new_order("count-0")
    client.get("/admin/tickets/refundrequest/?decision=all")  # warm: the session, the user's permissions
    with CaptureQueriesContext(connection) as one:
        assert client.get("/admin/tickets/refundrequest/?decision=all").status_code == 200
    for n in range(1, 6):
        refund_of_a_new_order(f"count-{n}")
    with CaptureQueriesContext(connection) as six:
        page = client.get("/admin/tickets/refundrequest/?decision=all").content.decode()
    assert page.count('class="field-consumer_name"') == 6
    assert len(six) == len(one)  # the consumer, order, merchant and decider come with the rows
