from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RadioConfig(AppConfig):
    name = "radio"
    verbose_name = _("Nine O'Clock Radio")
