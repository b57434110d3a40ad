"""radio/migrations/0003: words stored before the detector knew Chinese numerals are masked again."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import User

from radio.models import Nomination
from tests.radio import factories

pytestmark = pytest.mark.django_db

remask = import_module("radio.migrations.0003_remask_stored_words").remask


def test_stored_quotes_notes_and_headlines_are_masked_again(agent: User) -> None:
    made = factories.nomination(agent, quote="快递没到")
    untouched = factories.nomination(agent, quote="还没发货")
    Nomination.objects.filter(pk=made.pk).update(
        quote="打我电话一三八一二三四五六七八", note="卡号6222020200112233445", headline="回电 13912345678"
    )
    remask(apps, None)
    made.refresh_from_db()
    assert (made.quote, made.note, made.headline) == (
        "打我电话138****5678",
        "卡号**** **** **** 3445",
        "回电 139****5678",
    )
    assert Nomination.objects.get(pk=untouched.pk).quote == "还没发货"
