"""One Chinese word per concept, and labels that read as words: a ticket's channel is 渠道 and a radio channel
频道; the radio's morning digest is 早报 everywhere (never 日报); the agent's note is a label apart from its
text."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from radio import building
from radio.models import Channel, Digest, Subscription
from tests.radio import factories as rf
from tickets.models import Ticket

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_a_tickets_channel_is_qudao_and_a_radio_channel_pindao() -> None:
    with translation.override("zh-hans"):
        assert str(Ticket._meta.get_field("channel").verbose_name) == "渠道"
        assert str(Channel._meta.verbose_name) == "频道"
        assert str(Digest._meta.get_field("channel").verbose_name) == "频道"
        assert str(Subscription._meta.get_field("channel").verbose_name) == "频道"


def test_the_radios_digest_is_zaobao_in_every_translation() -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    assert "日报" not in text
    with translation.override("zh-hans"):
        assert str(Digest._meta.verbose_name) == "早报"


@pytest.mark.django_db
def test_the_agents_note_label_is_apart_from_the_note(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.create(user=business, channel=logistics)
    rf.approved(agent, supervisor, [logistics], quote="快递三天没动")
    building.build_digests()
    html = client_for(business).get(reverse("radio:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r"<b>Agent(&#x27;|')s note</b> 这周第三次了", html), html
