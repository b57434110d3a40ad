"""The admin's capped paginator: a huge table is counted only as far as the cap."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import DemoDataset
from core.paginator import CappedPaginator

pytestmark = pytest.mark.django_db


class SmallCap(CappedPaginator):
    CAP = 3


def test_counts_stop_at_the_cap_and_skip_the_ordering() -> None:
    DemoDataset.objects.bulk_create(DemoDataset(seed=i, scale=1) for i in range(5))
    with CaptureQueriesContext(connection) as queries:
        paginator = SmallCap(DemoDataset.objects.order_by("-seed"), 2)
        assert (paginator.count, paginator.num_pages) == (3, 2)
    assert len(queries) == 1 and "ORDER BY" not in queries[0]["sql"] and "LIMIT 3" in queries[0]["sql"]
    assert [row.seed for row in paginator.page(1)] == [4, 3]


def test_a_table_under_the_cap_is_counted_exactly() -> None:
    DemoDataset.objects.bulk_create(DemoDataset(seed=i, scale=1) for i in range(2))
    assert CappedPaginator(DemoDataset.objects.order_by("pk"), 50).count == 2
