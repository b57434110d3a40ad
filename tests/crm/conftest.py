"""The crm import tests' shared fixtures: English messages, and the consumers and shops an import refers to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone, translation

from crm.models import Consumer
from merchants.models import Merchant


@pytest.fixture
def english() -> Iterator[None]:
    # The messages are asserted in English whatever LANGUAGE_CODE and the catalogues say.
    with translation.override("en"):
        yield


@pytest.fixture
def shops(db: None) -> None:
    for external_id, name in (("C1", "王小明"), ("C2", "李华")):
        Consumer.objects.create(external_id=external_id, display_name=name, registered_at=timezone.now())
    for code, name in (("M1", "优品数码旗舰店"), ("M2", "家居生活馆")):
        Merchant.objects.create(code=code, name=name, category="数码", opened_at=timezone.now())
