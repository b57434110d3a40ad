from __future__ import annotations

from django.contrib import admin

from merchants.models import Merchant, MerchantMembership


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "category", "city", "opened_at")
    list_filter = ("category",)
    search_fields = ("code", "name")
    list_select_related = ()
    show_full_result_count = False


@admin.register(MerchantMembership)
class MerchantMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "merchant", "created_at")
    list_filter = ("created_at",)
    search_fields = ("user__username", "merchant__name", "merchant__code")
    list_select_related = ("user", "merchant")
    autocomplete_fields = ("user", "merchant")
