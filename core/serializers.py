"""DRF pieces every app's API shares: related fields that look rows up among those the requesting user may
see (core.tenancy.scope), and the one message for "does not exist" and "not yours"."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from core.tenancy import scope


class ScopedSlugRelatedField(serializers.SlugRelatedField[Any]):
    """A lookup by a natural key among the rows the requesting user may see."""

    def get_queryset(self) -> QuerySet[Any]:
        return _scoped(super().get_queryset(), self.context)

    def to_internal_value(self, data: Any) -> Any:
        # PostgreSQL refuses text with NUL in a query (a DataError, so a 500): no key holds one anyway.
        if not isinstance(data, str | int) or "\x00" in str(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField[Any]):
    def get_queryset(self) -> QuerySet[Any]:
        return _scoped(super().get_queryset(), self.context)


def _scoped(queryset: QuerySet[Any] | None, context: dict[str, Any]) -> QuerySet[Any]:
    assert queryset is not None, "a writable related field has a queryset"
    request = context.get("request")
    return scope(queryset, request.user if request else None)


def no_such(what: Any) -> dict[str, Any]:
    # One message for "does not exist" and "not yours", so that merchant staff cannot probe other shops.
    return {"does_not_exist": what, "invalid": what, "incorrect_type": what}
