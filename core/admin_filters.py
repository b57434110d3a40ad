"""List filters shared by the apps' admins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices  # the stubs' shape of one choice


class DefaultChoiceFilter(admin.SimpleListFilter):
    """A list filter whose page opens on a working view instead of Django's "All".

    Either the default is a view of its own, listed first as ``default_title`` (its link drops the
    parameter), or it is one of the lookups, named by ``default_lookup()`` and shown selected while the
    URL has no parameter. The subclass's ``queryset`` applies the default when ``self.value()`` is None.
    """

    parameter_name: str
    default_title: Any = None

    def default_lookup(self) -> str | None:
        return None

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        value = self.value()
        if self.default_title is not None:
            yield {
                "selected": value is None,
                "query_string": changelist.get_query_string(remove=[self.parameter_name]),
                "display": self.default_title,
            }
        default = self.default_lookup()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup) or (value is None and default is not None and lookup == default),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }
