"""Merchant tenancy, enforced here and nowhere else.

A ``merchant_staff`` user belongs to one merchant (``merchants.MerchantMembership``) and may see only
rows of that merchant. Every model that merchant staff could reach declares ``tenant_field``: the
path from the model to its merchant (``"merchant"``, ``"pk"`` for the merchant itself, or ``None``
for rows that belong to no merchant, which merchant staff never see). The admin base class and the
API mixin below apply ``scope()`` to every queryset they serve, to every object they show or change,
and to every foreign-key choice they offer. A test walks every registered admin and API view.

Core reads the membership through the user's reverse relation, so it needs no import of merchants.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.auth.models import User
from django.db import models
from django.http import HttpRequest

from core.roles import MERCHANT_STAFF
from core.users import RequestUser

M = TypeVar("M", bound=models.Model)


def is_merchant_staff(user: RequestUser | None) -> bool:
    """True for a user whose only window on the data is one merchant (superusers never are)."""
    if not isinstance(user, User) or user.is_superuser:  # the anonymous user, or nobody
        return False
    cached = getattr(user, "_is_merchant_staff", None)
    if cached is None:
        cached = user.groups.filter(name=MERCHANT_STAFF).exists()
        setattr(user, "_is_merchant_staff", cached)  # a memo for the request, on its user  # noqa: B010
    return bool(cached)


def merchant_id_of(user: RequestUser | None) -> int | None:
    if not isinstance(user, User):
        return None
    try:
        return int(user.merchant_membership.merchant_id)
    except (AttributeError, models.ObjectDoesNotExist):
        return None


def scope(queryset: models.QuerySet[M], user: RequestUser | None) -> models.QuerySet[M]:
    """The rows of ``queryset`` this user may see: all for marketplace staff, one merchant's for merchant staff."""
    if not is_merchant_staff(user):
        return queryset
    field = getattr(queryset.model, "tenant_field", None)
    merchant_id = merchant_id_of(user)
    if field is None or merchant_id is None:
        return queryset.none()
    lookup = "pk" if field == "pk" else f"{field}_id"
    return queryset.filter(**{lookup: merchant_id})


def allows(user: RequestUser | None, obj: models.Model | None) -> bool:
    """May this user see this one object? (None: the question is about the model, not a row.)"""
    if obj is None or not is_merchant_staff(user):
        return True
    return scope(type(obj)._default_manager.filter(pk=obj.pk), user).exists()


class TenantScopedAdmin(admin.ModelAdmin):
    """Base class of every ModelAdmin in the project: merchant staff see and touch only their merchant's rows."""

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return scope(super().get_queryset(request), request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and allows(request.user, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and allows(request.user, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and allows(request.user, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        queryset = getattr(field, "queryset", None)
        if field is not None and queryset is not None:
            field.queryset = scope(queryset, request.user)
        return field

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        queryset = getattr(field, "queryset", None)
        if field is not None and queryset is not None:
            field.queryset = scope(queryset, request.user)
        return field


class TenantScopedInline(admin.TabularInline):
    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return scope(super().get_queryset(request), request.user)


class TenantScopedQuerysetMixin:
    """For DRF views: the queryset is always scoped to the requesting user's merchant."""

    request: Any

    def get_queryset(self) -> models.QuerySet[Any]:
        return scope(super().get_queryset(), self.request.user)  # type: ignore[misc]
