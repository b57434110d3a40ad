"""Loading a marketplace: every kind's good rows, bad input by line and field, reruns, the folder and the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import translation

from core.api import api_error
from core.exceptions import ImportStopped
from crm.models import Consumer, Order, Review, RiskFlag
from merchants.models import Merchant, MerchantMembership

SHANGHAI = ZoneInfo("Asia/Shanghai")
EN = {"Accept-Language": "en"}
pytestmark = pytest.mark.django_db

CONSUMERS = [
    "external_id,display_name,phone,id_number,registered_at",
    "C1,王小明,13912345678,11010519491231002x,2025-01-01T10:00:00",
    "C2,李华,,,2025-02-01T10:00:00+00:00",
]
MERCHANTS = [
    "code,name,category,city,opened_at,instant_refunds,instant_refund_cap",
    "M1,优品数码旗舰店,数码,杭州,2020-01-01T00:00:00,yes,",
    "M2,家居生活馆,家居,,2021-01-01T00:00:00,no,300",
]
ORDERS = [
    "order_no,consumer,merchant,item_title,amount,status,placed_at,delivered_at,refunded_amount,refunded_at",
    "O1,C1,M1,耳机,99.00,completed,2026-03-01T10:00:00,2026-03-03T10:00:00,,",
    "O2,C2,M2,台灯,59.00,refunded,2026-03-02T10:00:00,2026-03-04T10:00:00,59.00,2026-03-06T10:00:00",
]
REVIEWS = [
    "order_no,item_stars,service_stars,logistics_stars,created_at,text",
    "O1,5,5,4,2026-03-04T10:00:00,很好",
    "O2,1,2,3,2026-03-05T10:00:00,不退款就差评",
]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def write(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str) -> tuple[list[str], str | None]:
    out = StringIO()
    try:
        call_command("import_marketplace", *args, "--quiet", stdout=out, stderr=StringIO())
    except CommandError as error:
        return out.getvalue().splitlines(), str(error)
    return out.getvalue().splitlines(), None


def load_all(folder: Path) -> None:
    for kind, lines in (("merchants", MERCHANTS), ("consumers", CONSUMERS), ("orders", ORDERS),
                        ("reviews", REVIEWS)):  # fmt: skip
        assert run(kind, str(write(folder, f"{kind}.csv", lines)))[1] is None


def test_every_kind_is_loaded_with_exact_values(tmp_path: Path) -> None:
    load_all(tmp_path)

    c1, c2 = Consumer.objects.order_by("external_id")
    assert (c1.display_name, c1.phone, c1.id_number) == ("王小明", "13912345678", "11010519491231002X")
    assert c1.registered_at == datetime(2025, 1, 1, 10, tzinfo=SHANGHAI)
    assert (c2.phone, c2.registered_at) == ("", datetime(2025, 2, 1, 18, tzinfo=SHANGHAI))
    m1, m2 = Merchant.objects.order_by("code")
    assert (m1.name, m1.city, m1.instant_refunds, m1.instant_refund_cap) == ("优品数码旗舰店", "杭州", True, None)
    assert (m2.city, m2.instant_refunds, m2.instant_refund_cap) == ("", False, Decimal("300.00"))
    o2 = Order.objects.get(order_no="O2")
    assert (o2.consumer_id, o2.merchant_id, o2.status, o2.refunded_amount) == (c2.pk, m2.pk, "refunded", Decimal("59"))
    r1, r2 = Review.objects.order_by("order__order_no")
    assert (r1.consumer_id, r1.merchant_id, r1.is_negative, r1.moderation) == (c1.pk, m1.pk, False, "published")
    assert (r2.item_stars, r2.service_stars, r2.logistics_stars, r2.text, r2.is_negative) == (
        1,
        2,
        3,
        "不退款就差评",
        True,
    )


def test_rerunning_every_file_changes_nothing_and_says_so(tmp_path: Path) -> None:
    load_all(tmp_path)
    before = [list(model.objects.order_by("pk").values()) for model in (Consumer, Merchant, Order, Review)]
    for kind in ("merchants", "consumers", "orders", "reviews"):
        assert run(kind, str(tmp_path / f"{kind}.csv")) == (["0 created, 0 updated, 2 unchanged, 0 rejected"], None)
    assert [list(model.objects.order_by("pk").values()) for model in (Consumer, Merchant, Order, Review)] == before
    # Not even locked: ON CONFLICT DO UPDATE would have set each conflicting row's xmax.
    tables = [model._meta.db_table for model in (Consumer, Merchant, Order, Review)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT xmax::text FROM {table}" for table in tables))
        assert {row[0] for row in cursor.fetchall()} == {"0"}


def test_a_changed_review_is_updated_and_keeps_its_moderation(tmp_path: Path) -> None:
    load_all(tmp_path)
    Review.objects.filter(order__order_no="O2").update(moderation="removed")
    changed = write(tmp_path, "again.csv", [REVIEWS[0], "O2,1,1,1,2026-03-05T10:00:00,改了"])

    assert run("reviews", str(changed)) == (["0 created, 1 updated, 0 unchanged, 0 rejected"], None)
    review = Review.objects.get(order__order_no="O2")
    assert (review.text, review.item_stars, review.moderation) == ("改了", 1, "removed")


def test_a_new_negative_review_of_a_confirmed_malicious_reviewer_is_held(tmp_path: Path) -> None:
    load_all(tmp_path)
    Review.objects.all().delete()
    consumer = Consumer.objects.get(external_id="C2")
    RiskFlag.objects.create(consumer=consumer, kind="extortion", status="confirmed", detected_at=consumer.registered_at)
    run("reviews", str(tmp_path / "reviews.csv"))

    assert dict(Review.objects.values_list("order__order_no", "moderation")) == {"O1": "published", "O2": "held"}


def test_bad_consumers_and_merchants_are_rejected_by_line_and_field(tmp_path: Path) -> None:
    consumers = write(tmp_path, "c.csv", [CONSUMERS[0], "C1,,1391234,12345,2025-01-01", "C1,重复,,,2025-01-01",
                                          "C3,未来,,,2099-01-01T00:00:00", "C4,好人,,,2025-01-01"])  # fmt: skip
    merchants = write(tmp_path, "m.jsonl", ['{"code": "M1", "name": "店", "category": "数码", "opened_at": "x"}',
                                            '{"code": "M2", "category": "数码", "opened_at": "2020-01-01",'
                                            ' "instant_refund_cap": "-1"}'])  # fmt: skip

    assert run("consumers", str(consumers)) == (
        [
            "1 created, 0 updated, 0 unchanged, 3 rejected",
            "line 2: display_name: This field is required.",
            'line 2: phone: "1391234" is not a phone number.',
            'line 2: id_number: "12345" is not an ID number of 18 (or 15) digits.',
            'line 3: external_id: "C1" already appears on line 2.',
            "line 4: registered_at: 2099-01-01T00:00:00+08:00 is in the future.",
        ],
        "3 rows were rejected; the other rows were loaded.",
    )
    assert list(Consumer.objects.values_list("external_id", flat=True)) == ["C4"]
    assert run("merchants", str(merchants)) == (
        [
            "0 created, 0 updated, 0 unchanged, 2 rejected",
            'line 1: opened_at: "x" is not an ISO 8601 date and time like 2026-03-01T10:15:00.',
            "line 2: name: This field is required.",
            "line 2: instant_refund_cap: The amount cannot be negative.",
        ],
        "2 rows were rejected; the other rows were loaded.",
    )
    assert not Merchant.objects.exists()


def test_orders_whose_amounts_status_and_dates_disagree_are_rejected_naming_the_field(tmp_path: Path) -> None:
    load_all(tmp_path)
    orders = write(
        tmp_path,
        "bad.csv",
        [
            ORDERS[0] + ",refund_requested_at,dispute,dispute_closed_at",
            "B1,C1,M1,耳机,99.00,refunded,2026-03-01T10:00:00,2026-03-02T10:00:00,0,2026-03-05T10:00:00,,,",
            "B2,C1,M1,耳机,99.00,delivered,2026-03-05T10:00:00,2026-03-01T10:00:00,,,,,",
            "B3,C1,M1,耳机,99.00,completed,2026-03-05T10:00:00,,,,,,",
            "B4,C1,M1,耳机,99.00,paid,2026-03-05T10:00:00,2026-03-06T10:00:00,,,,,",
            "B5,C1,M1,耳机,99.00,completed,2026-03-05T10:00:00,2026-03-06T10:00:00,99.00,2026-03-07T10:00:00,,,",
            "B6,C1,M1,耳机,99.00,cancelled,2026-03-05T10:00:00,,10,2026-03-07T10:00:00,2026-03-08T10:00:00,,",
            "B7,C1,M1,耳机,99.00,shipped,2026-03-05T10:00:00,,5,,,open,2026-03-09T10:00:00",
            "B8,C1,M1,耳机,99.00,cancelled,2026-03-05T10:00:00,,99,2026-03-06T10:00:00,2026-03-05T11:00:00,,",
        ],
    )
    lines, error = run("orders", str(orders))

    assert lines == [
        "1 created, 0 updated, 0 unchanged, 7 rejected",
        "line 2: refunded_amount: A refunded order needs the amount refunded, more than 0.",
        "line 3: delivered_at: 2026-03-01T10:00:00+08:00 is before placed_at (2026-03-05T10:00:00+08:00).",
        "line 4: delivered_at: A completed order needs the time it was delivered.",
        "line 5: delivered_at: A paid order has not been delivered yet.",
        "line 6: status: The whole amount was refunded, so the status must be refunded or cancelled.",
        "line 7: refunded_at: 2026-03-07T10:00:00+08:00 is before refund_requested_at (2026-03-08T10:00:00+08:00).",
        "line 8: dispute_closed_at: Only a dispute won by one side has a closing time.",
        "line 8: refunded_at: A refunded amount needs the time it was refunded.",
    ]
    assert error == "7 rows were rejected; the other rows were loaded."
    assert sorted(Order.objects.values_list("order_no", flat=True)) == ["B8", "O1", "O2"]


def test_reviews_of_unknown_orders_or_dated_before_the_order_are_rejected(tmp_path: Path) -> None:
    load_all(tmp_path)
    Review.objects.all().delete()
    reviews = write(tmp_path, "bad.csv", [REVIEWS[0], "O9,5,5,5,2026-03-04T10:00:00,", "O1,5,5,5,2026-02-01T10:00:00,",
                                          "O2,0,5,6,2026-03-05T10:00:00,"])  # fmt: skip

    assert run("reviews", str(reviews)) == (
        [
            "0 created, 0 updated, 0 unchanged, 3 rejected",
            'line 2: order_no: No order has the number "O9".',
            "line 3: created_at: The review is dated before its order was placed (2026-03-01T10:00:00+08:00).",
            'line 4: item_stars: Stars must be whole numbers from 1 to 5; got "0".',
            'line 4: logistics_stars: Stars must be whole numbers from 1 to 5; got "6".',
        ],
        "3 rows were rejected; the other rows were loaded.",
    )
    assert not Review.objects.exists()


def test_memberships_attach_users_to_merchants_and_move_them_on_a_rerun(
    tmp_path: Path, make_user: Callable[..., User]
) -> None:
    load_all(tmp_path)
    staff = make_user("shop-staff", "merchant_staff")
    first = write(tmp_path, "memberships.csv", ["user,merchant", "shop-staff,M1", "nobody,M1", "shop-staff,M2"])
    moved = write(
        tmp_path, "moved.jsonl", ['{"user": "shop-staff", "merchant": "M2"}', '{"user": "x", "merchant": "M9"}']
    )

    assert run("memberships", str(first)) == (
        [
            "1 created, 0 updated, 0 unchanged, 2 rejected",
            'line 3: user: No user has the username "nobody".',
            'line 4: user: "shop-staff" already appears on line 2.',
        ],
        "2 rows were rejected; the other rows were loaded.",
    )
    assert MerchantMembership.objects.get(user=staff).merchant.code == "M1"
    assert run("memberships", str(moved)) == (
        [
            "0 created, 1 updated, 0 unchanged, 1 rejected",
            'line 2: user: No user has the username "x".',
            'line 2: merchant: No merchant has the code "M9".',
        ],
        "1 row was rejected; the other rows were loaded.",
    )
    assert MerchantMembership.objects.get(user=staff).merchant.code == "M2"


def test_a_folder_is_loaded_in_dependency_order_whatever_the_file_names_sort_to(tmp_path: Path) -> None:
    write(tmp_path, "reviews.csv", REVIEWS)
    write(tmp_path, "orders.csv", ORDERS)
    people = [f'{{"external_id": "C{n}", "display_name": "顾客{n}", "registered_at": "2025-01-01"}}' for n in (1, 2)]
    write(tmp_path, "consumers.jsonl", people)
    write(tmp_path, "merchants.csv", MERCHANTS)
    write(tmp_path, "notes.txt", ["not a kind"])

    lines, error = run("folder", str(tmp_path))

    assert error is None
    assert [line for line in lines if ": " in line and "created" not in line] == [
        f"merchants: {tmp_path / 'merchants.csv'}",
        f"consumers: {tmp_path / 'consumers.jsonl'}",
        f"orders: {tmp_path / 'orders.csv'}",
        f"reviews: {tmp_path / 'reviews.csv'}",
    ]
    assert (Merchant.objects.count(), Consumer.objects.count(), Order.objects.count(), Review.objects.count()) == (
        2, 2, 2, 2,
    )  # fmt: skip


def test_an_empty_folder_or_an_unreadable_file_is_refused_before_anything_is_loaded(tmp_path: Path) -> None:
    assert run("folder", str(tmp_path))[1] == (
        f"{tmp_path} holds none of merchants, consumers, orders, reviews, memberships (.csv or .jsonl)."
    )
    (tmp_path / "consumers.csv").write_bytes(CONSUMERS[0].encode() + b"\nC1,\xff\xfe,,,2025-01-01\n")
    assert run("consumers", str(tmp_path / "consumers.csv")) == (
        [],
        "Line 2 is not UTF-8 text; save the file as UTF-8 and try again.",
    )
    assert not Consumer.objects.exists()


def upload(name: str, lines: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode())


def test_supervisor_imports_through_the_api_and_gets_the_rejections_as_json(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    response = client.post(
        "/api/import/consumers/", {"file": upload("people.csv", [*CONSUMERS, "C3,,,,2025-01-01"])}, headers=EN
    )
    again = client.post("/api/import/consumers/", {"file": upload("people.csv", CONSUMERS)}, headers=EN)

    assert response.status_code == 200
    assert response.json() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "rejections": [{"line": 4, "field": "display_name", "message": "This field is required."}],
    }
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 0, "rejections": []}
    assert Consumer.objects.count() == 2


def test_the_import_api_refuses_bad_requests_and_roles_without_the_permission(
    supervisor: User, agent: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    planets = client.post("/api/import/planets/", {"file": upload("p.csv", CONSUMERS)}, headers=EN)
    assert (planets.status_code, planets.json()) == (
        404,
        {"code": "not_found", "message": "Unknown kind; one of merchants, consumers, orders, reviews, memberships."},
    )
    invalid = {"code": "invalid", "message": "Invalid input."}
    missing = client.post("/api/import/consumers/", {}, headers=EN)
    assert (missing.status_code, missing.json()) == (
        400,
        {**invalid, "errors": {"file": ["Send the file as the multipart field file."]}},
    )
    unknown = client.post("/api/import/consumers/", {"file": upload("people.xlsx", CONSUMERS)}, headers=EN)
    assert (unknown.status_code, unknown.json()) == (
        400,
        {
            **invalid,
            "errors": {
                "file": ["Cannot tell the format of people.xlsx; name the file .csv or .jsonl, or pass format."]
            },
        },
    )
    header = client.post("/api/import/consumers/", {"file": upload("p.csv", ["external_id", "C1"])}, headers=EN)
    assert header.json() == {
        **invalid,
        "errors": {"file": ["The header lacks the required columns display_name, registered_at; nothing was loaded."]},
    }
    assert (
        client_for(agent).post("/api/import/consumers/", {"file": upload("p.csv", CONSUMERS)}, headers=EN).status_code
        == 403
    )
    assert Client().post("/api/import/consumers/", {"file": upload("p.csv", CONSUMERS)}, headers=EN).status_code in (
        401,
        403,
    )
    assert not Consumer.objects.exists()


def test_a_batch_the_database_refused_answers_400_with_the_report_of_what_was_loaded_before() -> None:
    stopped = ImportStopped("The database refused the rows on lines 5002 to 10001.", {"created": 5000, "rejected": 0})
    error = api_error(stopped)
    assert error is not None
    assert (error.status, error.body()) == (
        400,
        {
            "code": "import_stopped",
            "message": "The database refused the rows on lines 5002 to 10001.",
            "errors": {"created": 5000, "rejected": 0},
        },
    )
