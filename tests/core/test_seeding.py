from __future__ import annotations

import pytest
from django.db import connection, transaction

from core.seeding import indexes_built_after
from crm.models import Order

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
