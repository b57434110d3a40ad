"""Admin pagination for tables of millions of rows."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property


class CappedPaginator(Paginator):
    """Counts at most CAP rows: a big table is never counted whole just to draw page links."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet):  # a list (never the admin's): counted as it is
            return min(len(rows), self.CAP)
        # Without the ORDER BY, PostgreSQL counts from whichever index fits the filter.
        return rows.order_by()[: self.CAP].count()
