"""import_orders of orders: exact values from CSV and JSONL, bad rows named by line and field, reruns that
change nothing, refused files, fixed queries per batch, a crash mid-import, look-ups by index."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from core.importing import ImportReport
from crm import importing
from crm.models import Order
from tests.crm.import_support import REVIEW_HEADER, SHANGHAI, local, run, write

pytestmark = pytest.mark.usefixtures("english")

ORDER_HEADER = "order_no,consumer,merchant,item_title,amount,status,placed_at"


def test_good_orders_csv_is_loaded_with_exact_values(
    shops: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        ORDER_HEADER + ",delivered_at,refund_requested_at,refunded_at,refunded_amount,returned,dispute,channel",
        "A1,C1,M1,无线蓝牙耳机,199.90,refunded,2026-03-01T10:15:00,2026-03-03T09:00:00+08:00,"
        "2026-03-04T01:00:00Z,2026-03-05 12:00,50.5,yes,consumer_won,app",
        'A2,C2,M2,"靠垫, 两只装",35,paid,2026-03-02T08:00:00+00:00,,,,,,,web',
    )
    out = StringIO()
    call_command("import_orders", str(path), "--kind", "orders", stdout=out)

    assert out.getvalue().splitlines() == ["2 created, 0 updated, 0 unchanged, 0 rejected"]
    assert "100%" in capsys.readouterr().err  # the progress bar ran to the end
    a1, a2 = Order.objects.select_related("consumer", "merchant").order_by("order_no")
    assert (a1.consumer.external_id, a1.merchant.code, a1.item_title) == ("C1", "M1", "无线蓝牙耳机")
    assert a1.amount == Decimal("199.90") and a1.refunded_amount == Decimal("50.50")
    assert a1.status == Order.Status.REFUNDED and a1.returned is True and a1.dispute == Order.Dispute.CONSUMER_WON
    assert a1.placed_at == datetime(2026, 3, 1, 10, 15, tzinfo=SHANGHAI)  # naive means Asia/Shanghai
    assert local(a1.placed_at) == "2026-03-01T10:15:00+08:00"
    assert local(a1.delivered_at) == "2026-03-03T09:00:00+08:00"
    assert local(a1.refund_requested_at) == "2026-03-04T09:00:00+08:00"
    assert local(a1.refunded_at) == "2026-03-05T12:00:00+08:00"
    assert (a2.consumer.external_id, a2.merchant.code, a2.item_title) == ("C2", "M2", "靠垫, 两只装")
    assert a2.amount == Decimal("35.00") and a2.refunded_amount == Decimal("0.00")
    assert (a2.status, a2.returned, a2.dispute, a2.delivered_at, a2.refunded_at) == ("paid", False, "", None, None)
    assert local(a2.placed_at) == "2026-03-02T16:00:00+08:00"


def test_good_orders_jsonl_is_loaded_with_exact_values(shops: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders.jsonl",
        '{"order_no": "J1", "consumer": "C1", "merchant": "M1", "item_title": "耳机", "amount": 12.5,'
        ' "status": "delivered", "placed_at": "2026-03-01T10:15:00", "delivered_at": "2026-03-02T10:00:00",'
        ' "returned": false, "dispute": null, "source": "app"}',
        "",
        '{"order_no": "J2", "consumer": "C2", "merchant": "M2", "item_title": "台灯", "amount": "1234567.89",'
        ' "status": "refunded", "placed_at": "2026-03-01T23:30:00-05:00", "refunded_amount": 100,'
        ' "refunded_at": "2026-03-05T10:00:00",'
        ' "returned": "1", "dispute": "merchant_won", "dispute_closed_at": "2026-03-09T10:00:00"}',
    )
    lines, error = run(path, "orders")

    assert (lines, error) == (["2 created, 0 updated, 0 unchanged, 0 rejected"], None)
    j1, j2 = Order.objects.order_by("order_no")
    assert j1.amount == Decimal("12.50") and j1.status == "delivered" and j1.returned is False and j1.dispute == ""
    assert local(j1.placed_at) == "2026-03-01T10:15:00+08:00"
    assert local(j1.delivered_at) == "2026-03-02T10:00:00+08:00"
    assert j2.amount == Decimal("1234567.89") and j2.refunded_amount == Decimal("100.00")
    assert j2.returned is True and j2.dispute == "merchant_won"
    assert local(j2.placed_at) == "2026-03-02T12:30:00+08:00"
    assert local(j2.dispute_closed_at) == "2026-03-09T10:00:00+08:00"


def test_mixed_orders_file_reports_bad_rows_by_line_and_field_and_loads_the_good_ones(
    shops: None, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        ORDER_HEADER + ",refunded_amount,dispute,note",
        "A1,C1,M1,耳机,99.00,paid,2026-03-01T10:00:00,,,ok",
        "A2,C1,M1,耳机,99.999,paid,2026-03-01T10:00:00,,,",
        "A3,C9,M1,耳机,10,paid,2026-03-01T10:00:00,,,",
        "A4,C1,M1,耳机,10,lost,yesterday,,,",
        "A1,C2,M2,耳机,5,paid,2026-03-01T10:00:00,,,",
        "A5,C2,M2,,0,paid,2026-03-01T10:00:00,1.00,maybe,",
        "A6,C2,M2,耳机,10.00,refunded,2026-03-01T10:00:00,12.00,consumer_won,",
        "A7,C2,M3,耳机,abc,paid,2026-03-01T10:00:00,,,",
        "A8,C2,M2,耳机,20,shipped,2026-03-01 10:00,,,",
        "A9,C2,M2",
        "A10,C2,M9,耳机,20,paid,2026-03-01T10:00:00,,,",
    )
    lines, error = run(path, "orders")

    assert lines == [
        "2 created, 0 updated, 0 unchanged, 9 rejected",
        'line 3: amount: "99.999" has more than 2 decimal places.',
        'line 4: consumer: No consumer has the external id "C9".',
        'line 5: status: "lost" is not one of paid, shipped, delivered, completed, cancelled, refunded.',
        'line 5: placed_at: "yesterday" is not an ISO 8601 date and time like 2026-03-01T10:15:00.',
        'line 6: order_no: "A1" already appears on line 2.',
        "line 7: item_title: This field is required.",
        "line 7: amount: The amount must be greater than 0.",
        'line 7: dispute: "maybe" is not one of open, consumer_won, merchant_won.',
        "line 7: refunded_at: A refunded amount needs the time it was refunded.",
        "line 8: refunded_amount: The refunded amount 12.00 is more than the amount 10.00.",
        'line 9: amount: "abc" is not an amount of yuan like 199.00.',
        "line 11: row: Expected 10 values, one for each column of the header, found 3.",
        'line 12: merchant: No merchant has the code "M9".',
    ]
    assert error == "9 rows were rejected; the other rows were loaded."
    assert list(Order.objects.order_by("order_no").values_list("order_no", "consumer__external_id")) == [
        ("A1", "C1"),
        ("A8", "C2"),
    ]
    assert local(Order.objects.get(order_no="A8").placed_at) == "2026-03-01T10:00:00+08:00"


def test_rerunning_an_orders_file_loads_nothing_new_and_reports_skips(shops: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        ORDER_HEADER,
        "A1,C1,M1,耳机,99.00,paid,2026-03-01T10:00:00",
        "A2,C9,M1,耳机,99.00,paid,2026-03-01T10:00:00",
        "A3,C2,M2,台灯,59.00,paid,2026-03-01T11:00:00",
    )
    first, _ = run(path, "orders")
    before = list(Order.objects.order_by("pk").values())
    again, error = run(path, "orders")

    assert first[0] == "2 created, 0 updated, 0 unchanged, 1 rejected"
    assert again == [
        "0 created, 0 updated, 2 unchanged, 1 rejected",
        'line 3: consumer: No consumer has the external id "C9".',
    ]
    assert error == "1 row was rejected; the other rows were loaded."
    assert list(Order.objects.order_by("pk").values()) == before


def test_an_order_imported_again_with_new_values_is_updated_in_place(shops: None, tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", ORDER_HEADER, "A1,C1,M1,耳机,99.00,paid,2026-03-01T10:00:00")
    run(path, "orders")
    pk = Order.objects.get().pk
    changed = write(tmp_path, "changed.csv", ORDER_HEADER, "A1,C2,M2,别的,1.00,cancelled,2026-03-09T10:00:00")

    assert run(changed, "orders") == (["0 created, 1 updated, 0 unchanged, 0 rejected"], None)
    fields = ("pk", "consumer__external_id", "merchant__code", "item_title", "amount", "status")
    assert Order.objects.values_list(*fields).get() == (pk, "C2", "M2", "别的", Decimal("1.00"), "cancelled")


def _row_versions(table: str, key: str) -> dict[str, tuple[str, str]]:
    """Each row's (ctid, xmax): a rewrite moves the row (a new ctid), a lock (FOR UPDATE, ON CONFLICT) sets xmax."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key}, ctid::text, xmax::text FROM {table}")
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


def test_a_rerun_neither_rewrites_nor_locks_the_rows_it_leaves_unchanged(shops: None, tmp_path: Path) -> None:
    # ON CONFLICT DO UPDATE ... WHERE locks every conflicting row, those the WHERE leaves alone included.
    lines = ["A1,C1,M1,耳机,99.00,paid,2026-03-01T10:00:00", "A2,C2,M2,台灯,59.00,paid,2026-03-01T11:00:00"]
    run(write(tmp_path, "orders.csv", ORDER_HEADER, *lines), "orders")
    reviews = write(tmp_path, "reviews.csv", REVIEW_HEADER, "A1,5,5,5,2026-03-05T09:00:00,好", "A2,2,2,2,2026-03-05,")
    run(reviews, "reviews")
    orders_before, reviews_before = _row_versions("crm_order", "order_no"), _row_versions("crm_review", "text")
    changed = write(tmp_path, "changed.csv", ORDER_HEADER, lines[0], "A2,C2,M2,台灯,49.00,paid,2026-03-01T11:00:00")

    assert run(changed, "orders") == (["0 created, 1 updated, 1 unchanged, 0 rejected"], None)
    assert run(reviews, "reviews") == (["0 created, 0 updated, 2 unchanged, 0 rejected"], None)
    orders_after = _row_versions("crm_order", "order_no")
    assert orders_before["A1"] == orders_after["A1"] and orders_before["A1"][1] == "0"
    assert orders_after["A2"][0] != orders_before["A2"][0]
    assert _row_versions("crm_review", "text") == reviews_before
    assert set(reviews_before.values()) == {(ctid, "0") for ctid, _xmax in reviews_before.values()}


def test_a_header_without_a_required_column_is_refused_before_anything_is_loaded(shops: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        "order_no,consumer,merchant,item_title,status,placed_at",
        "A1,C1,M1,耳机,paid,2026-03-01T10:00:00",
    )
    lines, error = run(path, "orders")

    assert lines == []
    assert error == "The header lacks the required column amount; nothing was loaded."
    assert not Order.objects.exists()
    reviews = write(tmp_path, "reviews.csv", "order_no,stars,text", "O1,5,好")
    assert run(reviews, "reviews")[1] == (
        "The header lacks the required columns item_stars, service_stars, logistics_stars, created_at;"
        " nothing was loaded."
    )


def test_malformed_and_mistyped_jsonl_lines_are_rejected_and_the_rest_loaded(shops: None, tmp_path: Path) -> None:
    good = '"consumer": "C1", "merchant": "M1", "item_title": "耳机", "status": "paid", "placed_at": "2026-03-01"'
    path = write(
        tmp_path,
        "orders.jsonl",
        '{"order_no": "J1", "amount": "10.00", ' + good + "}",
        '{"order_no": "J2", "amount": "10.00", ' + good,
        '["J3", "C1"]',
        '{"order_no": 4, "amount": true, ' + good + "}",
        '{"order_no": "J5", "amount": NaN, ' + good + "}",
        '{"order_no": "J6", ' + good + ', "returned": "perhaps"}',
        '{"order_no": "J7", "amount": 7, ' + good + "}",
    )
    lines, error = run(path, "orders")

    assert lines == [
        "2 created, 0 updated, 0 unchanged, 5 rejected",
        "line 2: row: Malformed JSON at column 138: Expecting ',' delimiter.",
        'line 3: row: Each line must be one JSON object, like {"order_no": "..."}.',
        "line 4: order_no: Expected text, got 4.",
        "line 4: amount: true is not an amount of yuan like 199.00.",
        "line 5: row: Malformed JSON: NaN.",
        "line 6: amount: This field is required.",
        'line 6: returned: "perhaps" is not one of true, false, 1, 0, yes, no.',
    ]
    assert error == "5 rows were rejected; the other rows were loaded."
    assert list(Order.objects.order_by("order_no").values_list("order_no", "amount")) == [
        ("J1", Decimal("10.00")),
        ("J7", Decimal("7.00")),
    ]
    assert local(Order.objects.get(order_no="J1").placed_at) == "2026-03-01T00:00:00+08:00"


def test_a_file_that_is_not_utf8_is_refused_before_anything_is_loaded(shops: None, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(
        (ORDER_HEADER + "\nA1,C1,M1,耳机,1.00,paid,2026-03-01T10:00:00\n").encode()
        + "A2,C1,M1,耳机,1.00,paid,2026-03-01T10:00:00\n".encode("gbk")
    )

    assert run(path, "orders") == ([], "Line 3 is not UTF-8 text; save the file as UTF-8 and try again.")
    assert not Order.objects.exists()


def test_the_format_comes_from_the_extension_or_the_option(shops: None, tmp_path: Path) -> None:
    path = write(tmp_path, "orders.txt", ORDER_HEADER, "A1,C1,M1,耳机,1.00,paid,2026-03-01T10:00:00")

    assert run(path, "orders")[1] == f"Cannot tell the format of {path} from its extension; pass --format."
    assert run(path, "orders", "--format", "csv") == (["1 created, 0 updated, 0 unchanged, 0 rejected"], None)


def test_orders_are_resolved_with_the_same_queries_however_many_rows_a_batch_has(shops: None, tmp_path: Path) -> None:
    def queries(rows: int, prefix: str) -> int:
        lines = [f"{prefix}{i},C{i % 2 + 1},M{i % 2 + 1},耳机,1.00,paid,2026-03-01T10:00:00" for i in range(rows)]
        path = write(tmp_path, f"{prefix}.csv", ORDER_HEADER, *lines)
        with CaptureQueriesContext(connection) as captured:
            assert run(path, "orders")[1] is None
        return len(captured)

    # savepoint, the batch's settings, drop and create the stage table (COPY is not captured), unknown consumers,
    # unknown merchants, upsert, release
    assert queries(2, "S") == 7
    assert queries(40, "L") == 7
    assert Order.objects.count() == 42


def test_a_crash_in_the_second_batch_keeps_the_first_and_a_rerun_completes_it(
    transactional_db: None, shops: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        ORDER_HEADER,
        *(f"A{i},C1,M1,耳机,{i}.00,paid,2026-03-01T10:00:00" for i in range(1, 6)),
    )
    real, calls = importing.ORDERS, []

    def load_then_fail_second_batch(rows: list[tuple[object, ...]]) -> ImportReport:
        calls.append(len(rows))
        outcome = real.load(rows)  # the rows are inserted, then the batch fails before its commit
        if len(calls) == 2:
            raise DatabaseError("server closed the connection unexpectedly")
        return outcome

    monkeypatch.setitem(importing.KINDS, "orders", replace(real, load=load_then_fail_second_batch))
    lines, error = run(path, "orders", "--batch-size", "2")

    assert calls == [2, 2]
    assert lines == ["2 created, 0 updated, 0 unchanged, 0 rejected"]
    assert error == (
        "The database refused the rows on lines 4 to 5 (server closed the connection unexpectedly); none of them"
        " was written. The rows before them are loaded: fix the cause and import the same file again to continue."
    )
    assert list(Order.objects.order_by("order_no").values_list("order_no", flat=True)) == ["A1", "A2"]

    monkeypatch.undo()
    assert run(path, "orders", "--batch-size", "2") == (["3 created, 0 updated, 2 unchanged, 0 rejected"], None)
    assert list(Order.objects.order_by("order_no").values_list("order_no", "amount")) == [
        (f"A{i}", Decimal(f"{i}.00")) for i in range(1, 6)
    ]


def test_a_batch_looks_its_references_up_by_index_whatever_the_statistics_say(shops: None, tmp_path: Path) -> None:
    # Left to itself the planner scanned (hashed) the whole order table for every batch of reviews.
    plans: list[str] = []

    def explain(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "FROM import_stage s" in sql and sql.lstrip().startswith("SELECT s.line"):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql, params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return execute(sql, params, many, context)

    lines = [f"A{i},C1,M1,耳机,1.00,paid,2026-03-01T10:00:00" for i in range(50)]
    with connection.execute_wrapper(explain):
        assert run(write(tmp_path, "orders.csv", ORDER_HEADER, *lines), "orders")[1] is None

    assert len(plans) == 2 and all("Nested Loop" in plan for plan in plans), plans
    assert not any("Hash" in plan or "Merge" in plan for plan in plans), plans
