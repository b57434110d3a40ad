from __future__ import annotations

from importlib import import_module

from django.apps import apps


def test_radio_is_installed_with_its_admin_module() -> None:
    assert apps.get_app_config("radio").name == "radio"
    import_module("radio.admin")
