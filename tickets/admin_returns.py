"""Return requests (极速退货) in the admin: the list, the review queue (approve or reject), read-only pages.

Returns are requested from the ticket page or the API (``tickets.returns.request_return``), never added here:
a return needs a ticket's or a caller's idempotency key. Registered by ``tickets.admin``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_actions import apply_to_each
from core.paginator import CappedPaginator
from core.tenancy import TenantScopedAdmin
from core.users import actor
from tickets import returns
from tickets.models import ReturnRequest


@admin.register(ReturnRequest)
class ReturnRequestAdmin(TenantScopedAdmin):
    list_display = (
        "id", "order", "consumer", "merchant", "amount", "decision", "why", "ship_by", "scanned_at", "refunded_at",
        "created_at",
    )  # fmt: skip
    list_filter = ("decision", "refund_at_once")
    search_fields = ("=order__order_no", "=consumer__external_id", "=tracking_no")
    list_select_related = ("order", "consumer", "merchant")
    raw_id_fields = ("order", "consumer", "merchant", "ticket", "refund")
    show_full_result_count = False
    paginator = CappedPaginator
    actions = ["approve", "reject"]

    @admin.display(description=_("why"))
    def why(self, obj: ReturnRequest) -> str:
        return " ".join(returns.explain(obj.reasons))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # from a ticket or the API, with an idempotency key

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Decisions change only through the review actions and the carrier's scan; the page is read-only.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Approve the selected returns"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        self._review(request, queryset, approve=True)

    @admin.action(description=_("Reject the selected returns"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        self._review(request, queryset, approve=False)

    def _review(self, request: HttpRequest, queryset: QuerySet[ReturnRequest], *, approve: bool) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda row: returns.review_return(row, approve=approve, by=actor(request)),
            lambda n: ngettext("%d return decided.", "%d returns decided.", n) % n,
        )
