from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from core.seeding import foreign_keys_checked_after, indexes_built_after
from crm.models import Order
from tests.crm import factories

pytestmark = pytest.mark.django_db


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def test_a_load_runs_without_the_plain_indexes_and_ends_with_all_of_them_rebuilt_as_they_were() -> None:
    before = _indexes("crm_order")
    with transaction.atomic():
        with indexes_built_after(Order):
            during = _indexes("crm_order")
        after = _indexes("crm_order")

    # The primary key and the order number's unique index stay (conflicts and references need them).
    assert set(during) == {"crm_order_pkey", "crm_order_order_no_unique"}
    assert {"crm_order_consumer_placed", "crm_order_merchant_placed"} <= set(before) - set(during)
    assert after == before


def test_a_load_that_fails_leaves_the_indexes_in_place() -> None:
    before = _indexes("crm_order")
    with pytest.raises(ZeroDivisionError), transaction.atomic(), indexes_built_after(Order):
        1 / 0  # noqa: B018
    assert _indexes("crm_order") == before


def _foreign_keys(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid = %s::regclass",
            [table],
        )
        return dict(cursor.fetchall())


def test_a_load_runs_without_the_foreign_keys_and_ends_with_all_of_them_added_as_they_were() -> None:
    before = _foreign_keys("crm_order")
    with transaction.atomic():
        with foreign_keys_checked_after(Order):
            during = _foreign_keys("crm_order")
        after = _foreign_keys("crm_order")

    assert len(before) == 2  # consumer and merchant
    assert all("DEFERRABLE INITIALLY DEFERRED" in definition for definition in before.values())
    assert during == {}
    assert after == before


def test_rows_loaded_without_the_foreign_keys_are_checked_when_they_come_back() -> None:
    shop, buyer = factories.merchant(), factories.consumer()
    with pytest.raises(IntegrityError), transaction.atomic(), foreign_keys_checked_after(Order):
        kept = factories.order(buyer, shop)
        Order.objects.filter(pk=kept.pk).update(consumer_id=buyer.pk + 1_000_000)  # refers to no consumer
    assert Order.objects.count() == 0
    assert len(_foreign_keys("crm_order")) == 2


def test_a_load_that_fails_leaves_the_foreign_keys_in_place() -> None:
    before = _foreign_keys("crm_order")
    with pytest.raises(ZeroDivisionError), transaction.atomic(), foreign_keys_checked_after(Order):
        1 / 0  # noqa: B018
    assert _foreign_keys("crm_order") == before
