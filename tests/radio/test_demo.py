"""The radio's demo: a week of digests across several departments, and something on /radio/ this morning."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from radio.models import Channel, Digest, DigestItem, Nomination, Reply

pytestmark = pytest.mark.django_db


def test_demo_puts_a_week_on_air_and_the_business_user_finds_this_morning() -> None:
    call_command("seed_demo", quiet=True, stdout=StringIO())
    today = timezone.localdate()
    assert Channel.objects.values("department").distinct().count() >= 5
    days = set(Digest.objects.values_list("day", flat=True))
    assert days == {today - timedelta(days=n) for n in range(8)}  # a week before today, and today
    assert Digest.objects.filter(day=today, items_count__gt=0).count() >= 5
    assert Digest.objects.filter(customers__gt=0).count() > Digest.objects.count() // 2
    statuses = set(Nomination.objects.values_list("status", flat=True))
    assert statuses == {"pending", "approved", "merged", "rejected"}
    assert Nomination.objects.filter(customers__gt=1).exists()  # merged duplicates count their customers
    assert set(Nomination.objects.values_list("source_kind", flat=True)) >= {"ticket", "transcript", "finding"}
    earlier = DigestItem.objects.filter(
        digest__day__lt=today, digest__channel__subscriptions__user__username="business"
    )
    assert earlier.filter(acknowledged_at__isnull=False).exists() and earlier.filter(acknowledged_at=None).exists()
    assert Reply.objects.exists()
    # No phone number whole (an order number's twelve digits may start like one).
    assert not DigestItem.objects.filter(quote__regex=r"(^|\D)1[3-9]\d{9}(\D|$)").exists()

    client = Client()
    client.force_login(User.objects.get(username="business"))
    page = client.get(reverse("radio:today"))
    assert page.status_code == 200 and page.context["day"] == today
    blocks = page.context["blocks"]
    assert [b.subscribed for b in blocks] == [True, True, True]
    assert sum(len(b.items) for b in blocks) >= 3

    before = Nomination.objects.count()
    call_command("seed_demo", quiet=True, stdout=StringIO())
    assert Nomination.objects.count() == before
