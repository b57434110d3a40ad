"""Lower apps link to the radio's nominate form by URL name (core.links), never by importing radio."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from core.links import nominate_url


def test_the_nominate_link_names_the_source_and_where_to_come_back() -> None:
    url = nominate_url("finding", 42, "/admin/qa/finding/42/change/?x=1&y=2")
    back = "%2Fadmin%2Fqa%2Ffinding%2F42%2Fchange%2F%3Fx%3D1%26y%3D2"
    assert url == f"{reverse('radio:nominate')}?source=finding&id=42&next={back}"


def test_without_the_radio_there_is_no_nominate_link(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.core.urls_without_radio"
    assert nominate_url("ticket", 1, "/") is None
