"""The admin of the agents' saved views and macros (tickets.models.desk): owners edit their own, supervisors
the shared ones; nobody sees another agent's personal ones (they are not in the queryset: a 404-like redirect)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.tenancy import TenantScopedAdmin, is_merchant_staff
from core.users import Actor, actor
from tickets.macros import is_supervisor, visible_to
from tickets.models import Macro, SavedView
from tickets.views_saved import clean_query


def manages_shared(user: Actor) -> bool:
    return is_supervisor(user) and not is_merchant_staff(user)


class DeskToolForm(forms.ModelForm):
    shared = forms.BooleanField(
        label=_("shared"), required=False, help_text=_("For every agent (or the department below). Supervisors only.")
    )


class MacroForm(DeskToolForm):
    tags = forms.CharField(label=_("add tags"), required=False, help_text=_("Comma-separated."))

    class Meta:
        model = Macro
        fields = ("name", "reply", "status", "priority", "tags", "assign_to_me", "shared", "department")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_tags(self) -> list[str]:
        tags = [tag.strip().lower() for tag in self.cleaned_data["tags"].replace("，", ",").split(",") if tag.strip()]
        if any(len(tag) > 32 for tag in tags) or len(tags) > 10:
            raise forms.ValidationError(_("Up to 10 tags of 32 characters at most."))
        return tags


class SavedViewForm(DeskToolForm):
    class Meta:
        model = SavedView
        fields = ("name", "query", "shared", "department")


class DeskToolAdmin(TenantScopedAdmin):
    # A macro or a view belongs to its owner (or, shared, to the platform's desk), not to a merchant: the rows a
    # user may see are ``visible_to`` them (a merchant's staff: their own), so the queryset is not the tenancy's.
    list_display: tuple[str, ...] = ("name", "owner", "department")
    search_fields = ("name",)
    list_select_related = ("owner", "department")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        found, user = admin.ModelAdmin.get_queryset(self, request), actor(request)
        if manages_shared(user):
            return found.filter(visible_to(user) | Q(owner__isnull=True))
        return found.filter(visible_to(user))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("tickets.change_ticket"))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self.has_module_permission(request) or obj is None:
            return self.has_module_permission(request)
        return bool(obj.owner_id == request.user.pk or (obj.owner_id is None and manages_shared(actor(request))))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if not manages_shared(actor(request)):
            form.base_fields.pop("shared", None)
            form.base_fields.pop("department", None)
        elif obj is not None:
            form.base_fields["shared"].initial = obj.owner_id is None
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        shared = bool(form.cleaned_data.get("shared")) and manages_shared(actor(request))
        obj.owner = None if shared else (obj.owner if change and obj.owner_id else request.user)
        if not shared:
            obj.department = None
        super().save_model(request, obj, form, change)


@admin.register(Macro)
class MacroAdmin(DeskToolAdmin):
    form = MacroForm
    list_display = ("name", "status", "priority", "assign_to_me", "owner", "department")


@admin.register(SavedView)
class SavedViewAdmin(DeskToolAdmin):
    form = SavedViewForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.query = clean_query(dict(parse_qsl(obj.query)), actor(request))
        super().save_model(request, obj, form, change)
