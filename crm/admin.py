from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from crm.models import Consumer, Order

PII_FIELDS = {"phone", "id_number"}


def can_see_pii(request: HttpRequest) -> bool:
    return request.user.has_perm("crm.view_consumer_pii")


@admin.register(Consumer)
class ConsumerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "display_name", "phone_display", "registered_at")
    list_filter = ("registered_at",)
    search_fields = ("external_id", "display_name")
    list_select_related = ()
    show_full_result_count = False

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # A filter on the phone (?phone__startswith=139...) would reveal it digit by digit.
        if lookup.split("__")[0] in PII_FIELDS and (request is None or not can_see_pii(request)):
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("phone"))
    def phone_display(self, obj: Consumer) -> str:
        return obj.masked_phone

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields = ["external_id", "display_name", "phone", "registered_at"]
        if not can_see_pii(request):
            fields[fields.index("phone")] = "phone_display"
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if can_see_pii(request) else ["phone_display"]

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        if can_see_pii(request):
            return ("external_id", "display_name", "phone", "registered_at")
        return tuple(self.list_display)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("order_no", "consumer", "merchant", "item_title", "amount", "status", "placed_at")
    list_filter = ("status", "placed_at")
    search_fields = ("order_no",)
    list_select_related = ("consumer", "merchant")
    autocomplete_fields = ("consumer", "merchant")
    show_full_result_count = False
