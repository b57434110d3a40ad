"""The digest page: who sees which channel, what it shows (no PII), a fixed number of queries, closing the loop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django import DjangoAssertNumQueries

from core import roles
from radio import building, services
from radio.models import Channel, Digest, DigestItem, Reply, Subscription
from tests.radio import factories as rf

pytestmark = pytest.mark.django_db


def on_air(agent: User, curator: User, channel: Channel | list[Channel], n: int, *, day: date | None = None,
           **fields: Any) -> Digest:  # fmt: skip
    """``n`` approved nominations in each channel, then the day's build; returns the (first) channel's digest."""
    channels = channel if isinstance(channel, list) else [channel]
    for each in channels:
        for i in range(n):
            rf.approved(agent, curator, [each], quote=f"第{i}位顾客：快递三天没动，电话1380013800{i % 10}", **fields)
    day = day or timezone.localdate()
    building.build_digests(day)
    return Digest.objects.get(channel=channels[0], day=day)


def test_business_user_sees_only_subscribed_channels_curators_see_all(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    logistics, refunds = rf.channel("logistics", "快递与配送"), rf.channel("refunds", "退款政策")
    Subscription.objects.create(user=business, channel=logistics)
    for channel in (logistics, refunds):
        rf.approved(agent, supervisor, [channel], quote=f"{channel.name}的顾客心声")
    building.build_digests()
    page = client_for(business).get(reverse("radio:today"))
    assert page.status_code == 200
    assert [b.channel.code for b in page.context["blocks"]] == ["logistics"]
    html = page.content.decode()
    assert "快递与配送的顾客心声" in html and "退款政策的顾客心声" not in html
    Subscription.objects.create(user=supervisor, channel=refunds)
    curator_page = client_for(supervisor).get(reverse("radio:today"))
    assert [b.channel.code for b in curator_page.context["blocks"]] == ["refunds", "logistics"]  # theirs first
    today = timezone.localdate().isoformat()
    assert client_for(business).get(reverse("radio:channel", args=[today, "refunds"])).status_code == 404
    assert client_for(business).get(reverse("radio:channel", args=[today, "logistics"])).status_code == 200


def test_agents_and_merchant_staff_have_no_digest_page(
    client_for: Callable[[User], Client], agent: User, make_user: Callable[..., User]
) -> None:
    assert client_for(agent).get(reverse("radio:today")).status_code == 403
    assert client_for(make_user("shop", roles.MERCHANT_STAFF)).get(reverse("radio:today")).status_code == 403
    anonymous = Client().get(reverse("radio:today"))
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"{reverse('radio:login')}?next=/radio/"


def test_business_user_logs_in_on_the_radio_login_and_lands_on_the_digest(
    make_user: Callable[..., User],
) -> None:
    make_user("reader", roles.BUSINESS, is_staff=False)  # not an admin user at all
    client = Client()
    response = client.post(
        reverse("radio:login"), {"username": "reader", "password": "pw-for-tests", "next": "/radio/"}
    )
    assert response.status_code == 302 and response["Location"] == "/radio/"
    assert client.get("/radio/").status_code == 200


def test_page_shows_quote_count_source_and_note_without_pii(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.create(user=business, channel=logistics)
    digest = on_air(agent, supervisor, logistics, 1)
    item = digest.items.get()
    # Even text that reached a digest unmasked (an edit straight in the database) leaves the page masked.
    DigestItem.objects.filter(pk=item.pk).update(quote="我的手机13912345678，身份证110101199003071234", customers=7)
    with translation.override("en"):
        html = client_for(business).get(reverse("radio:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "13912345678" not in html and "110101199003071234" not in html
    assert "139****5678" in html and "110***********1234" in html
    assert "这周第三次了" in html  # the agent's note
    assert ">7<" in html  # how many customers
    assert "Ticket" in html  # the source kind


def test_page_costs_the_same_queries_for_3_or_40_items(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    channels = [rf.channel(f"c{i}", f"频道{i}") for i in range(3)]
    for channel in channels:
        Subscription.objects.create(user=business, channel=channel)
    yesterday = timezone.localdate() - timedelta(days=1)
    on_air(agent, supervisor, channels[:2], 3, day=yesterday)
    client = client_for(business)
    url = reverse("radio:day", args=[yesterday.isoformat()])
    # 12: one of them asks whether the user is a shop's staff (their page is their shop's channel only).
    with django_assert_num_queries(12):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(16):
        assert client.get(reverse("radio:channel", args=[yesterday.isoformat(), "c0"])).status_code == 200
    day = timezone.localdate()
    on_air(agent, supervisor, channels, 40, day=day)
    for item in DigestItem.objects.filter(digest__day=day)[:30]:
        services.reply_to_item(item, "已转给仓库", by=business)
    with django_assert_num_queries(12):
        response = client.get(reverse("radio:day", args=[day.isoformat()]))
    assert sum(len(b.items) for b in response.context["blocks"]) == 30  # 10 per channel, then "all 40"
    channel_url = reverse("radio:channel", args=[day.isoformat(), "c0"])
    with django_assert_num_queries(16):
        assert len(client.get(channel_url).context["blocks"][0].items) == 40


def test_acknowledge_and_reply_reach_the_nominating_agent(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    logistics = rf.channel("logistics")
    Subscription.objects.create(user=business, channel=logistics)
    item = on_air(agent, supervisor, logistics, 1).items.get()
    client = client_for(business)
    back = reverse("radio:today")
    response = client.post(reverse("radio:acknowledge", args=[item.pk]), {"next": back})
    assert response.status_code == 302 and response["Location"] == f"{back}#item-{item.pk}"
    item.refresh_from_db()
    assert item.acknowledged_by == business and item.acknowledged_at is not None
    first_ack = item.acknowledged_at
    client.post(reverse("radio:acknowledge", args=[item.pk]))
    assert DigestItem.objects.get(pk=item.pk).acknowledged_at == first_ack  # the first acknowledgement counts
    client.post(reverse("radio:reply", args=[item.pk]), {"body": "已排期，周五修复", "next": back})
    assert Reply.objects.get().body == "已排期，周五修复"
    empty = client.post(reverse("radio:reply", args=[item.pk]), {"body": ""}, headers={"Accept": "application/json"})
    assert empty.status_code == 400 and list(empty.json()["errors"]) == ["body"]
    page = client_for(agent).get(reverse("admin:radio_nomination_change", args=[item.nomination_id]))
    assert "已排期，周五修复" in page.content.decode()
    replies = client_for(agent).get(reverse("admin:radio_reply_changelist"))
    assert [r.body for r in replies.context["cl"].result_list] == ["已排期，周五修复"]


def test_unsubscribed_users_cannot_acknowledge_reply_or_listen(
    client_for: Callable[[User], Client], agent: User, supervisor: User, make_user: Callable[..., User]
) -> None:
    logistics = rf.channel("logistics")
    digest = on_air(agent, supervisor, logistics, 1)
    digest.audio.save("x.wav", ContentFile(b"RIFF"), save=False)
    Digest.objects.filter(pk=digest.pk).update(audio=digest.audio.name, audio_status=Digest.Audio.READY)
    item = digest.items.get()
    outsider = client_for(make_user("other-biz", roles.BUSINESS))
    assert outsider.post(reverse("radio:acknowledge", args=[item.pk])).status_code == 404
    assert outsider.post(reverse("radio:reply", args=[item.pk]), {"body": "x"}).status_code == 404
    assert outsider.get(reverse("radio:audio", args=[digest.pk])).status_code == 404
    assert client_for(agent).get(reverse("radio:audio", args=[digest.pk])).status_code == 404
    assert DigestItem.objects.get(pk=item.pk).acknowledged_at is None and not Reply.objects.exists()
    listener = client_for(supervisor).get(reverse("radio:audio", args=[digest.pk]))
    assert listener.status_code == 200 and listener["Content-Type"] == "audio/wav"
    assert b"".join(listener.streaming_content) == b"RIFF"  # type: ignore[attr-defined]
    # The admin links the recording through the same checked view, never the file's media URL.
    admin_page = client_for(supervisor).get(reverse("admin:radio_digest_change", args=[digest.pk])).content.decode()
    assert reverse("radio:audio", args=[digest.pk]) in admin_page and digest.audio.url not in admin_page


def test_business_users_follow_and_leave_channels(client_for: Callable[[User], Client], business: User) -> None:
    logistics = rf.channel("logistics", "快递与配送")
    client = client_for(business)
    assert client.get(reverse("radio:channels")).status_code == 200
    client.post(reverse("radio:channels"), {"channel": logistics.pk, "action": "follow"})
    assert list(Subscription.objects.values_list("user", "channel")) == [(business.pk, logistics.pk)]
    client.post(reverse("radio:channels"), {"channel": logistics.pk, "action": "leave"})
    assert not Subscription.objects.exists()


def test_before_the_digest_time_today_shows_the_latest_digest_and_says_so(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    logistics = rf.channel("logistics")
    Subscription.objects.create(user=business, channel=logistics)
    yesterday = timezone.localdate() - timedelta(days=1)
    on_air(agent, supervisor, logistics, 2, day=yesterday)
    page = client_for(business).get(reverse("radio:today"))
    assert page.context["day"] == yesterday and page.context["fallback"] is True
    assert len(page.context["blocks"][0].items) == 2


def test_empty_digest_says_nothing_today(
    client_for: Callable[[User], Client], business: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    quiet = rf.channel("quiet", "安静频道")
    Subscription.objects.create(user=business, channel=quiet)
    building.build_digests()
    with translation.override("en"):
        html = client_for(business).get(reverse("radio:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Nothing today." in html
    assert "<audio" not in html


def test_trend_covers_fourteen_days_of_customers(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    logistics = rf.channel("logistics")
    Subscription.objects.create(user=business, channel=logistics)
    today = timezone.localdate()
    on_air(agent, supervisor, logistics, 2, day=today - timedelta(days=3))
    on_air(agent, supervisor, logistics, 1, day=today)
    block = client_for(business).get(reverse("radio:today")).context["blocks"][0]
    assert len(block.trend) == 14
    assert block.trend[-1] == (today, 1, 1) and block.trend[-4] == (today - timedelta(days=3), 2, 2)
    assert sum(customers for _d, _n, customers in block.trend) == 3
    assert 'class="bar shown"' in str(block.chart)


def test_channel_choice_refuses_bad_input_and_users_without_the_radio(
    client_for: Callable[[User], Client], agent: User, business: User
) -> None:
    rf.channel("closed", active=False)
    client = client_for(business)
    url = reverse("radio:channels")
    for value in ("", "abc", "999999", str(Channel.objects.get(code="closed").pk)):
        assert client.post(url, {"channel": value, "action": "follow"}).status_code == 404
    logistics = rf.channel("logistics")
    denied = client_for(agent)
    assert denied.get(url).status_code == 403
    assert denied.post(url, {"channel": logistics.pk, "action": "follow"}).status_code == 403
    assert Client().post(url, {"channel": logistics.pk, "action": "follow"}).status_code == 302  # to the login
    assert not Subscription.objects.exists()


def test_reply_and_acknowledge_refuse_bad_input_and_readers_who_may_not_respond(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User,
    make_user: Callable[..., User],
) -> None:  # fmt: skip
    logistics = rf.channel("logistics")
    Subscription.objects.create(user=business, channel=logistics)
    item = on_air(agent, supervisor, logistics, 1).items.get()
    client = client_for(business)
    json = {"Accept": "application/json"}
    too_long = client.post(reverse("radio:reply", args=[item.pk]), {"body": "长" * 2001}, headers=json)
    assert too_long.status_code == 400 and list(too_long.json()["errors"]) == ["body"]
    assert client.get(reverse("radio:acknowledge", args=[item.pk])).status_code == 405
    assert client.post(reverse("radio:acknowledge", args=[987654])).status_code == 404
    # A reader without the permission to answer (view_digest only) reads the item but cannot acknowledge it.
    reader = make_user("reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_digest", content_type__app_label="radio"))
    Subscription.objects.create(user=reader, channel=logistics)
    readers = client_for(reader)
    assert readers.get(reverse("radio:today")).status_code == 200
    assert readers.post(reverse("radio:acknowledge", args=[item.pk])).status_code == 403
    assert readers.post(reverse("radio:reply", args=[item.pk]), {"body": "好"}).status_code == 403
    assert DigestItem.objects.get(pk=item.pk).acknowledged_at is None and not Reply.objects.exists()


def test_audio_that_is_not_ready_and_days_that_do_not_exist_are_not_found(
    client_for: Callable[[User], Client], agent: User, supervisor: User
) -> None:
    digest = on_air(agent, supervisor, rf.channel("logistics"), 1)
    client = client_for(supervisor)
    assert digest.audio_status == Digest.Audio.PENDING
    assert client.get(reverse("radio:audio", args=[digest.pk])).status_code == 404
    assert client.get("/radio/2026-02-30/").status_code == 404
    assert client.get("/radio/2026-02-30/logistics/").status_code == 404
    assert client.get(reverse("radio:channel", args=[digest.day.isoformat(), "nope"])).status_code == 404
