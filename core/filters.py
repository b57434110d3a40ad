"""The API's filter sets: a listed choice given empty is refused (400 naming the parameter), not read as "any"."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _


class StrictFilterSet(django_filters.FilterSet):
    """django-filter reads ``?status=`` as no filter; the schema lists the choices, so an empty one is an error."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, given in self.filters.items():
            if isinstance(given, django_filters.ChoiceFilter) and self.data.get(name, None) == "":
                self.form.add_error(name, _("Choose one of the listed values; leave the parameter out for any."))
                valid = False
        return valid
