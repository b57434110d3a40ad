"""import_orders of reviews: loaded through record_review, missing orders and bad stars rejected, reruns,
the rejections report, text stored exactly."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from crm.models import Consumer, Order, Review
from merchants.models import Merchant
from tests.crm.import_support import REVIEW_HEADER, SHANGHAI, local, run, write

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def orders(shops: None) -> None:
    consumer, merchant = Consumer.objects.get(external_id="C1"), Merchant.objects.get(code="M1")
    for order_no in ("O1", "O2", "O3", "O4"):
        Order.objects.create(
            order_no=order_no,
            consumer=consumer,
            merchant=merchant,
            item_title="无线蓝牙耳机",
            amount=Decimal("99.00"),
            placed_at=datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI),
        )


def test_good_reviews_csv_is_loaded_through_record_review(orders: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reviews.csv",
        REVIEW_HEADER,
        'O1,5,5,4,2026-03-02T09:00:00,"很好, 推荐"',
        'O2,1,3,3,2026-03-02T09:30:00+08:00,"质量差',
        '不推荐"',
        "O3,4,4,4,2026-03-02T01:30:00Z,",
        "O4,5,x,5,2026-03-02T01:30:00Z,",
    )
    lines, error = run(path, "reviews")

    assert lines == [
        "3 created, 0 updated, 0 unchanged, 1 rejected",
        'line 6: service_stars: Stars must be whole numbers from 1 to 5; got "x".',  # the quoted newline counts
    ]
    assert error == "1 row was rejected; the other rows were loaded."
    rows = Review.objects.order_by("order__order_no").values_list(
        "order__order_no", "consumer__external_id", "merchant__code", "item_stars", "service_stars",
        "logistics_stars", "text", "is_negative", "moderation",
    )  # fmt: skip
    assert list(rows) == [
        ("O1", "C1", "M1", 5, 5, 4, "很好, 推荐", False, "published"),
        ("O2", "C1", "M1", 1, 3, 3, "质量差\n不推荐", True, "published"),
        ("O3", "C1", "M1", 4, 4, 4, "", False, "published"),
    ]
    created = [
        local(moment) for moment in Review.objects.order_by("order__order_no").values_list("created_at", flat=True)
    ]
    assert created == ["2026-03-02T09:00:00+08:00", "2026-03-02T09:30:00+08:00", "2026-03-02T09:30:00+08:00"]


def test_good_reviews_jsonl_is_loaded(orders: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reviews.jsonl",
        '{"order_no": "O1", "item_stars": 2, "service_stars": "5", "logistics_stars": 5,'
        ' "created_at": "2026-03-02T09:00:00", "text": "和描述不符", "nickname": "x"}',
        '{"order_no": "O2", "item_stars": 5, "service_stars": 5, "logistics_stars": 5, "created_at": "2026-03-02"}',
    )
    lines, error = run(path, "reviews")

    assert (lines, error) == (["2 created, 0 updated, 0 unchanged, 0 rejected"], None)
    o1, o2 = Review.objects.order_by("order__order_no")
    assert (o1.item_stars, o1.service_stars, o1.logistics_stars, o1.text, o1.is_negative) == (
        2,
        5,
        5,
        "和描述不符",
        True,
    )
    assert local(o1.created_at) == "2026-03-02T09:00:00+08:00"
    assert (o2.text, o2.is_negative, local(o2.created_at)) == ("", False, "2026-03-02T00:00:00+08:00")


def test_a_review_for_a_missing_order_is_rejected(orders: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reviews.jsonl",
        '{"order_no": "NOPE", "item_stars": 5, "service_stars": 5, "logistics_stars": 5, "created_at": "2026-03-02"}',
        '{"order_no": "O1", "item_stars": 5, "service_stars": 5, "logistics_stars": 5, "created_at": "2026-03-02"}',
        '{"order_no": "O1", "item_stars": 1, "service_stars": 1, "logistics_stars": 1, "created_at": "2026-03-03"}',
        '{"item_stars": 5, "service_stars": 5, "logistics_stars": 5, "created_at": "2026-03-02"}',
    )
    lines, error = run(path, "reviews")

    assert lines == [
        "1 created, 0 updated, 0 unchanged, 3 rejected",
        'line 1: order_no: No order has the number "NOPE".',
        'line 3: order_no: "O1" already appears on line 2.',
        "line 4: order_no: This field is required.",
    ]
    assert error == "3 rows were rejected; the other rows were loaded."
    assert list(Review.objects.values_list("order__order_no", "item_stars")) == [("O1", 5)]


def test_stars_out_of_range_are_rejected(orders: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reviews.csv",
        REVIEW_HEADER,
        "O1,0,5,5,2026-03-02T09:00:00,",
        "O2,5,6,5,2026-03-02T09:00:00,",
        "O3,5,5,4.5,2026-03-02T09:00:00,",
        "O4,5,5,5,2026-03-02T09:00:00,",
    )
    jsonl = write(
        tmp_path,
        "reviews.jsonl",
        '{"order_no": "O1", "item_stars": 6, "service_stars": true, "logistics_stars": -1, "created_at": "x"}',
    )
    lines, error = run(path, "reviews")

    assert error == "3 rows were rejected; the other rows were loaded."
    assert lines == [
        "1 created, 0 updated, 0 unchanged, 3 rejected",
        'line 2: item_stars: Stars must be whole numbers from 1 to 5; got "0".',
        'line 3: service_stars: Stars must be whole numbers from 1 to 5; got "6".',
        'line 4: logistics_stars: Stars must be whole numbers from 1 to 5; got "4.5".',
    ]
    assert run(jsonl, "reviews")[0] == [
        "0 created, 0 updated, 0 unchanged, 1 rejected",
        "line 1: item_stars: Stars must be whole numbers from 1 to 5; got 6.",
        "line 1: service_stars: Stars must be whole numbers from 1 to 5; got true.",
        "line 1: logistics_stars: Stars must be whole numbers from 1 to 5; got -1.",
        'line 1: created_at: "x" is not an ISO 8601 date and time like 2026-03-01T10:15:00.',
    ]
    assert list(Review.objects.values_list("order__order_no", flat=True)) == ["O4"]


def test_rerunning_a_reviews_file_skips_orders_already_reviewed(orders: None, tmp_path: Path) -> None:
    path = write(tmp_path, "reviews.csv", REVIEW_HEADER, "O1,5,5,5,2026-03-02T09:00:00,好", "O2,4,4,4,2026-03-02,")
    first = run(path, "reviews")
    before = list(Review.objects.order_by("pk").values())

    assert first == (["2 created, 0 updated, 0 unchanged, 0 rejected"], None)
    assert run(path, "reviews") == (["0 created, 0 updated, 2 unchanged, 0 rejected"], None)
    assert list(Review.objects.order_by("pk").values()) == before


def test_the_report_option_writes_the_rejections_as_csv(orders: None, tmp_path: Path) -> None:
    path = write(tmp_path, "reviews.csv", REVIEW_HEADER, "O1,9,5,5,2026-03-02,", "O9,5,5,5,2026-03-02,")
    report = tmp_path / "rejected.csv"
    run(path, "reviews", "--report", str(report))

    with report.open(encoding="utf-8", newline="") as file:
        assert list(csv.reader(file)) == [
            ["line", "field", "message"],
            ["2", "item_stars", 'Stars must be whole numbers from 1 to 5; got "9".'],
            ["3", "order_no", 'No order has the number "O9".'],
        ]


def test_review_text_with_backslashes_tabs_and_line_breaks_is_stored_exactly(orders: None, tmp_path: Path) -> None:
    # The reading thread writes COPY's text format itself: these characters must be escaped, not interpreted.
    texts = {"O1": "差评\\N", "O2": "a\tb\\tc", "O3": "第一行\n第二行\r\n\\", "O4": "\\\\"}
    path = tmp_path / "reviews.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"order_no": order_no, "item_stars": 5, "service_stars": 5, "logistics_stars": 5,
                        "created_at": "2026-03-02T09:00:00", "text": text}, ensure_ascii=False)
            for order_no, text in texts.items()
        ) + "\n",
        encoding="utf-8",
    )  # fmt: skip

    assert run(path, "reviews") == (["4 created, 0 updated, 0 unchanged, 0 rejected"], None)
    # text_value strips the ends, as for every text field
    assert dict(Review.objects.values_list("order__order_no", "text")) == {k: v.strip() for k, v in texts.items()}
    assert run(path, "reviews") == (["0 created, 0 updated, 4 unchanged, 0 rejected"], None)
