"""``core.prepared``: a queryset compiled once gives what the ORM gives — the same instances with what they
select_related, for each call's own values — in one statement, without compiling again; and it refuses what the
ORM refuses (a row lock outside a transaction) and markers it cannot place."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.prepared import Prepared
from tests.crm import factories as f
from tickets.models import Department, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

MARKER = -1_000_000_009


def open_tickets(consumer_id: int) -> Any:
    return (Ticket.objects.filter(consumer_id=consumer_id, status__in=("new", "open"))
            .select_related("department", "consumer").order_by("pk"))  # fmt: skip


def made_ticket(**fields: Any) -> Ticket:
    now = timezone.now()
    return Ticket.objects.create(created_at=now, updated_at=now, **fields)


@pytest.fixture
def tickets() -> dict[str, list[Ticket]]:
    sales, after = (
        Department.objects.create(code="sales", name="售前"),
        Department.objects.create(code="after", name="售后"),
    )
    one, two = f.consumer(display_name="甲"), f.consumer(display_name="乙")
    made = {
        "one": [made_ticket(consumer=one, department=sales, subject="耳机没声音"),
                made_ticket(consumer=one, department=after, subject="退款", status="open")],
        "two": [made_ticket(consumer=two, department=sales, subject="发票")],
    }  # fmt: skip
    made_ticket(consumer=one, department=sales, subject="closed", status="closed")
    return made


def count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    as_sql = SQLCompiler.as_sql

    def counted(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counted)
    return calls


def test_it_gives_the_orms_instances_with_their_related_rows_for_each_calls_values(
    tickets: dict[str, list[Ticket]], django_assert_num_queries: Any
) -> None:
    prepared = Prepared(open_tickets, consumer_id=MARKER)
    for who in ("one", "two"):
        consumer_id = tickets[who][0].consumer_id
        with django_assert_num_queries(1):  # the related rows come with it
            found = prepared(consumer_id=consumer_id)
            related = [(t.department.name, t.consumer.display_name) for t in found]
        expected = list(open_tickets(consumer_id))
        assert [t.pk for t in found] == [t.pk for t in expected] == [t.pk for t in tickets[who]]
        for got, want in zip(found, expected, strict=True):
            assert {k: v for k, v in got.__dict__.items() if k != "_state"} == {
                k: v for k, v in want.__dict__.items() if k != "_state"}  # fmt: skip
            assert got._state.adding is False and got._state.db == "default"
        assert related == [(t.department.name, t.consumer.display_name) for t in expected]
    assert prepared(consumer_id=MARKER) == []


def test_a_json_column_is_converted_as_the_orm_converts_it(tickets: dict[str, list[Ticket]]) -> None:
    ticket = tickets["one"][0]
    data = {"quotes": ["在吗", 1], "n": {"deep": None}}
    TicketEvent.objects.create(ticket=ticket, kind="message", author_kind="consumer", body="在吗", data=data,
                               created_at=timezone.now())  # fmt: skip
    prepared = Prepared(lambda ticket_id: TicketEvent.objects.filter(ticket_id=ticket_id).select_related(
        "ticket__department"), ticket_id=MARKER)  # fmt: skip
    (event,) = prepared(ticket_id=ticket.pk)
    assert event.data == data
    assert event.ticket.department.code == "sales" and event.created_at == TicketEvent.objects.get().created_at


def test_it_compiles_once_per_connection(tickets: dict[str, list[Ticket]], monkeypatch: pytest.MonkeyPatch) -> None:
    compiles = count_compiles(monkeypatch)
    prepared = Prepared(open_tickets, consumer_id=MARKER)
    for _ in range(5):
        prepared(consumer_id=tickets["one"][0].consumer_id)
        prepared(consumer_id=tickets["two"][0].consumer_id)
    assert len(compiles) == 1
    list(open_tickets(tickets["one"][0].consumer_id))  # the ORM's own: compiled every time
    list(open_tickets(tickets["one"][0].consumer_id))
    assert len(compiles) == 3


def test_annotations_are_set_as_the_orm_sets_them(tickets: dict[str, list[Ticket]]) -> None:
    prepared = Prepared(lambda consumer_id: Ticket.objects.filter(consumer_id=consumer_id).annotate(
        shelf=F("department__name")).order_by("pk"), consumer_id=MARKER)  # fmt: skip
    found = prepared(consumer_id=tickets["one"][0].consumer_id)
    shelves = [t.shelf for t in found]  # type: ignore[attr-defined]
    assert shelves == ["售前", "售后", "售前"]


def test_a_row_lock_needs_a_transaction_as_in_the_orm(tickets: dict[str, list[Ticket]]) -> None:
    prepared = Prepared(lambda consumer_id: Ticket.objects.filter(consumer_id=consumer_id).select_for_update(),
                        consumer_id=MARKER)  # fmt: skip
    consumer_id = tickets["two"][0].consumer_id
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert [t.pk for t in prepared(consumer_id=consumer_id)] == [tickets["two"][0].pk]
    assert queries[0]["sql"].endswith("FOR UPDATE")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_row_lock_is_refused(tickets: dict[str, list[Ticket]]) -> None:
    prepared = Prepared(lambda consumer_id: Ticket.objects.filter(consumer_id=consumer_id).select_for_update(),
                        consumer_id=MARKER)  # fmt: skip
    with pytest.raises(TransactionManagementError, match="outside of a transaction"):
        prepared(consumer_id=tickets["two"][0].consumer_id)
    with pytest.raises(TransactionManagementError):  # what the ORM itself says
        list(Ticket.objects.filter(consumer_id=tickets["two"][0].consumer_id).select_for_update())


def test_a_marker_it_cannot_place_once_is_refused(tickets: dict[str, list[Ticket]]) -> None:
    twice = Prepared(lambda consumer_id: Ticket.objects.filter(consumer_id=consumer_id, department_id=consumer_id),
                     consumer_id=MARKER)  # fmt: skip
    with pytest.raises(ValueError, match="2 times"):
        twice(consumer_id=1)
    nowhere = Prepared(lambda consumer_id: Ticket.objects.filter(subject="x"), consumer_id=MARKER)
    with pytest.raises(ValueError, match="0 times"):
        nowhere(consumer_id=1)


def test_wrong_parameters_are_a_type_error(tickets: dict[str, list[Ticket]]) -> None:
    prepared = Prepared(open_tickets, consumer_id=MARKER)
    with pytest.raises(TypeError, match="consumer_id"):
        prepared(consumer=1)
    with pytest.raises(TypeError):
        prepared()


def test_a_small_integer_marker_is_placed_as_the_driver_wraps_it(tickets: dict[str, list[Ticket]]) -> None:
    """The driver's value for a small-integer column is a wrapped int; the marker is found among them all the same
    (one in the column's range: the ORM folds an out-of-range value out of the query)."""
    prepared = Prepared(lambda priority: Ticket.objects.filter(priority=priority).order_by("pk"), priority=32_749)
    assert [t.pk for t in prepared(priority=Ticket.Priority.NORMAL)] == [
        t.pk for t in Ticket.objects.filter(priority=Ticket.Priority.NORMAL).order_by("pk")]  # fmt: skip
    assert prepared(priority=Ticket.Priority.URGENT) == []
    out_of_range = Prepared(lambda priority: Ticket.objects.filter(priority=priority), priority=-1_000_000_009)
    with pytest.raises(ValueError, match="fold the query away"):
        out_of_range(priority=1)


@pytest.mark.django_db(transaction=True)
def test_its_row_lock_holds_against_another_connection(tickets: dict[str, list[Ticket]]) -> None:
    """The lock is the ORM's own FOR UPDATE: while the transaction lasts, another connection cannot take the row."""
    prepared = Prepared(lambda consumer_id: Ticket.objects.filter(consumer_id=consumer_id).select_for_update(),
                        consumer_id=MARKER)  # fmt: skip
    consumer_id = tickets["two"][0].consumer_id
    seen: list[str] = []

    def other() -> None:
        try:
            with transaction.atomic():
                list(Ticket.objects.filter(consumer_id=consumer_id).select_for_update(nowait=True))
            seen.append("taken")
        except DatabaseError:
            seen.append("locked")
        finally:
            connections.close_all()

    with transaction.atomic():
        prepared(consumer_id=consumer_id)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen == ["locked"]
    other()  # once the transaction is over, the row is free
    assert seen == ["locked", "taken"]
