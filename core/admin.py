from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.models import DemoDataset
from core.tenancy import TenantScopedAdmin

admin.site.site_header = _("Service Desk")
admin.site.site_title = _("Service Desk")
admin.site.index_title = _("Customer service administration")


@admin.register(DemoDataset)
class DemoDatasetAdmin(TenantScopedAdmin):
    list_display = ("id", "seed", "scale", "loaded_at", "finished_at")
    list_filter = ("loaded_at",)
    search_fields = ("seed",)
    list_select_related = ()
    readonly_fields = ("seed", "scale", "counts", "loaded_at", "finished_at")

    def has_add_permission(self, request: object) -> bool:
        return False
