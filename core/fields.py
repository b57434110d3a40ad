"""API input fields stricter than DRF's: text must arrive as a JSON string (DRF turns 0 into "0")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StringField(serializers.CharField):
    default_error_messages = {"invalid": _("Give text (a JSON string).")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))
