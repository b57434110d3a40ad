"""The daily merchant digest on /radio/: a screened nomination about a shop goes on that shop's own channel too,
the morning build makes a shop's digest only on a day it has items, and a shop's staff read their shop's digest
only — never another shop's, never the departments' channels — while business users and curators read the
departments' digests as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from core import roles
from crm.models import Consumer
from merchants.models import Merchant, MerchantMembership
from radio import building, services, sources
from radio.models import Channel, Digest, DigestItem, Nomination, Placement, Subscription
from radio.tasks import build_morning_digests
from tests.crm import factories as f
from tests.radio import factories as rf
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def shop_ticket(shop: Merchant | None, words: str) -> Ticket:
    who: Consumer = f.consumer(display_name="王小明", phone="13800138000")
    order = f.order(who, shop) if shop is not None else None
    return ticket_services.open_ticket(who, subject=words, department=rf.department(), body=words, order=order,
                                       route=False)  # fmt: skip


def screened(agent: User, curator: User, channel: Channel, shop: Merchant | None, words: str) -> Nomination:
    ticket = shop_ticket(shop, words)
    nomination, _created = services.nominate(sources.resolve("ticket", ticket.pk), by=agent, quote=words)
    return services.approve_nomination(nomination, [channel], by=curator)


def shop_staff(make_user: Callable[..., User], name: str, shop: Merchant) -> User:
    user = make_user(name, roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=user, merchant=shop)
    return user


@pytest.fixture
def morning(agent: User, supervisor: User, business: User, make_user: Callable[..., User]) -> dict[str, Any]:
    a, b = f.merchant("SHOP-A", name="店铺A"), f.merchant("SHOP-B", name="店铺B")
    f.merchant("SHOP-C", name="店铺C")  # no voice about it: no channel, no digest
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.create(user=business, channel=logistics)
    rows = {
        "a": screened(agent, supervisor, logistics, a, "店铺A的快递三天没动"),
        "b": screened(agent, supervisor, logistics, b, "店铺B的包裹显示签收却没收到"),
        "platform": screened(agent, supervisor, logistics, None, "平台App里改不了地址"),
    }
    result = build_morning_digests()  # the beat's task: the same build makes the shops' digests
    return {
        **rows, "shop_a": a, "shop_b": b, "logistics": logistics, "built": result,
        "staff_a": shop_staff(make_user, "staff-a", a), "staff_b": shop_staff(make_user, "staff-b", b),
    }  # fmt: skip


def test_a_nomination_carries_the_shop_its_case_is_about(morning: dict[str, Any]) -> None:
    assert (morning["a"].merchant_id, morning["b"].merchant_id, morning["platform"].merchant_id) == (
        morning["shop_a"].pk, morning["shop_b"].pk, None)  # fmt: skip


def test_the_morning_build_makes_a_digest_per_shop_with_screened_items(morning: dict[str, Any]) -> None:
    shops = {c.merchant_id: c for c in Channel.objects.filter(merchant__isnull=False)}
    assert set(shops) == {morning["shop_a"].pk, morning["shop_b"].pk}  # none for shop C
    for key in ("a", "b"):
        channel = shops[morning[f"shop_{key}"].pk]
        assert (channel.name, channel.department_id, channel.code) == (f"店铺{key.upper()}", None,
                                                                       f"shop-{morning[f'shop_{key}'].pk}")  # fmt: skip
        digest = Digest.objects.get(channel=channel)
        items = list(DigestItem.objects.filter(digest=digest).values_list("nomination_id", "quote"))
        assert items == [(morning[key].pk, morning[key].quote)]
        assert (digest.items_count, digest.customers, digest.audio_status) == (1, 1, "pending")
    # The department's digest is as before: every screened item, the shops' ones included.
    logistics = Digest.objects.get(channel=morning["logistics"])
    assert logistics.items_count == 3
    assert morning["built"]["digests"] == 3


def test_a_second_build_adds_nothing_and_a_quiet_day_makes_no_shop_digest(
    morning: dict[str, Any], agent: User, supervisor: User
) -> None:
    assert building.build_digests() == []
    assert Placement.objects.filter(channel__merchant__isnull=False).count() == 2
    tomorrow = timezone.localdate() + timedelta(days=1)
    later = timezone.now() + timedelta(days=1)
    created = building.build_digests(tomorrow, now=later)
    assert list(Digest.objects.filter(pk__in=created).values_list("channel__code", flat=True)) == ["logistics"]
    # A shop's voice approved into two channels goes on its shop's channel once.
    refunds = rf.channel("refunds", "退款政策")
    twice = screened(agent, supervisor, morning["logistics"], morning["shop_a"], "店铺A又一位顾客")
    services.approve_nomination(twice, [refunds], by=supervisor)
    day_after = timezone.localdate() + timedelta(days=2)
    building.build_digests(day_after, now=timezone.now() + timedelta(days=2))
    shop_digest = Digest.objects.get(channel__merchant=morning["shop_a"], day=day_after)
    assert list(shop_digest.items.values_list("nomination_id", flat=True)) == [twice.pk]


def test_a_shops_staff_read_only_their_shops_digest(
    morning: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    for key, other in (("a", "b"), ("b", "a")):
        page = client_for(morning[f"staff_{key}"]).get("/radio/")
        assert page.status_code == 200
        assert [b.channel.merchant_id for b in page.context["blocks"]] == [morning[f"shop_{key}"].pk]
        html = page.content.decode()
        assert morning[key].quote in html
        assert morning[other].quote not in html and morning["platform"].quote not in html
        assert f"店铺{key.upper()} · 您的顾客心声，由平台精选" in html  # the header names the shop
        assert "快递与配送" not in html


def test_a_shops_staff_reach_nothing_of_another_shop_or_of_the_departments(
    morning: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    client = client_for(morning["staff_a"])
    today = timezone.localdate().isoformat()
    own = Channel.objects.get(merchant=morning["shop_a"])
    other = Channel.objects.get(merchant=morning["shop_b"])
    assert client.get(f"/radio/{today}/{own.code}/").status_code == 200
    for code in (other.code, "logistics"):
        assert client.get(f"/radio/{today}/{code}/").status_code == 404, code
    other_item = DigestItem.objects.get(digest__channel=other)
    department_item = DigestItem.objects.get(digest__channel=morning["logistics"], nomination=morning["a"])
    for item in (other_item, department_item):
        assert client.post(f"/radio/items/{item.pk}/acknowledge/").status_code == 404
        assert client.post(f"/radio/items/{item.pk}/reply/", {"body": "收到"}).status_code == 404
        assert client.get(f"/radio/audio/{item.digest_id}.wav").status_code == 404
    assert DigestItem.objects.filter(acknowledged_at__isnull=False).count() == 0
    own_item = DigestItem.objects.get(digest__channel=own)
    assert client.post(f"/radio/items/{own_item.pk}/acknowledge/").status_code == 302
    assert DigestItem.objects.get(pk=own_item.pk).acknowledged_by_id == morning["staff_a"].pk
    # The channels page lists their shop's channel only, and they follow nothing.
    listed = client.get("/radio/channels/")
    assert [c.pk for c in listed.context["channels"]] == [own.pk]
    assert client.post("/radio/channels/", {"channel": morning["logistics"].pk}).status_code == 403
    assert Subscription.objects.filter(user=morning["staff_a"]).count() == 0
    # The admin's digests are the platform's: a shop's staff read theirs on /radio/.
    assert client.get("/admin/radio/digest/").status_code == 403


def test_business_users_and_curators_still_read_the_departments_digest(
    morning: dict[str, Any], business: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    page = client_for(business).get("/radio/")
    assert [b.channel.code for b in page.context["blocks"]] == ["logistics"]
    html = page.content.decode()
    assert all(morning[key].quote in html for key in ("a", "b", "platform"))
    assert "您的顾客心声" not in html
    curator = client_for(supervisor)
    assert [b.channel.code for b in curator.get("/radio/").context["blocks"]] == ["logistics"]
    shop_channel = Channel.objects.get(merchant=morning["shop_a"])
    assert curator.get(f"/radio/{timezone.localdate().isoformat()}/{shop_channel.code}/").status_code == 200
    # Nobody follows a shop's channel; it is not on the channels page to follow.
    assert shop_channel.pk not in [c.pk for c in client_for(business).get("/radio/channels/").context["channels"]]
    with pytest.raises(ValidationError):
        services.subscribe(business, shop_channel)
    client_for(business).post("/radio/channels/", {"channel": shop_channel.pk})
    assert Subscription.objects.filter(channel=shop_channel).count() == 0


def test_merchant_staff_without_a_shop_have_no_digest_page(
    morning: dict[str, Any], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    orphan = client_for(make_user("orphan", roles.MERCHANT_STAFF))
    assert orphan.get("/radio/").status_code == 403
    assert orphan.get("/radio/channels/").status_code == 403


def test_a_shops_digest_page_costs_a_fixed_number_of_queries(
    morning: dict[str, Any], agent: User, supervisor: User, client_for: Callable[[User], Client],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    client = client_for(morning["staff_a"])
    client.get("/radio/")
    with django_assert_num_queries(QUERIES):
        client.get("/radio/")
    tomorrow = timezone.localdate() + timedelta(days=1)
    for i in range(4):
        screened(agent, supervisor, morning["logistics"], morning["shop_a"], f"店铺A第{i}位顾客")
    building.build_digests(tomorrow, now=timezone.now() + timedelta(days=1))
    with django_assert_num_queries(QUERIES):
        assert len(client.get(f"/radio/{tomorrow.isoformat()}/").context["blocks"][0].items) == 4


QUERIES = 14


def test_a_shops_digest_carries_the_voice_but_never_the_agents_note(
    morning: dict[str, Any], agent: User, supervisor: User
) -> None:
    ticket = shop_ticket(morning["shop_a"], "店铺A的客服一直不回")
    note = "和店铺B的问题一样，内部跟进中"
    noted, _created = services.nominate(
        sources.resolve("ticket", ticket.pk), by=agent, quote="店铺A的客服一直不回", note=note
    )
    services.approve_nomination(noted, [morning["logistics"]], by=supervisor)
    tomorrow = timezone.localdate() + timedelta(days=1)
    building.build_digests(tomorrow, now=timezone.now() + timedelta(days=1))
    items = DigestItem.objects.filter(nomination=noted, digest__day=tomorrow)
    notes = dict(items.values_list("digest__channel__code", "note"))
    assert notes == {"logistics": note, f"shop-{morning['shop_a'].pk}": ""}


def test_a_second_build_the_same_day_puts_nothing_on_air_not_even_a_new_shops_voice(
    morning: dict[str, Any], agent: User, supervisor: User
) -> None:
    shop_c = Merchant.objects.get(code="SHOP-C")
    screened(agent, supervisor, morning["logistics"], shop_c, "店铺C的发票开不出来")
    assert building.build_digests() == []
    assert not Channel.objects.filter(merchant=shop_c).exists()
    tomorrow = timezone.localdate() + timedelta(days=1)
    building.build_digests(tomorrow, now=timezone.now() + timedelta(days=1))
    assert Digest.objects.filter(channel__merchant=shop_c, day=tomorrow, items_count=1).exists()


def test_a_departments_channel_cannot_take_a_shops_code() -> None:
    with pytest.raises(ValidationError) as refused:
        Channel(code="shop-7", name="伪装的频道").full_clean()
    assert list(refused.value.message_dict) == ["code"]
