"""Acknowledging from the digest page without a reload: the JSON answer says who and when and the digest's new
count, in the reader's language, at a fixed number of queries; the page wires its forms to do so."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries

from core import roles
from radio import building, services
from radio.models import Digest, DigestItem, Subscription
from tests.radio import factories as rf

pytestmark = pytest.mark.django_db
JSON = {"Accept": "application/json"}


def digest_of(agent: User, curator: User, business: User, n: int) -> list[DigestItem]:
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.create(user=business, channel=logistics)
    for i in range(n):
        rf.approved(agent, curator, [logistics], quote=f"第{i}位顾客：快递三天没动")
    building.build_digests()
    return list(Digest.objects.get().items.order_by("position"))


def test_acknowledging_with_json_answers_who_when_and_the_new_count(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    business.first_name = "小周"
    business.save(update_fields=["first_name"])
    first, second, _third = digest_of(agent, supervisor, business, 3)
    client = client_for(business)
    client.get(reverse("radio:today"))  # warm the session
    services.acknowledge_item(second, by=supervisor)
    # session, user, the item, whether the reader is a shop's staff (the shop digest), permissions (2), may read the
    # channel (2: the view's and the service's), the claim (savepoint, update, nominator, release), and the
    # acknowledgement shown (the item, the count)
    with django_assert_num_queries(14):
        answer = client.post(reverse("radio:acknowledge", args=[first.pk]), headers=JSON | {"Accept-Language": "en"})
    acknowledged = DigestItem.objects.get(pk=first.pk).acknowledged_at
    assert acknowledged is not None
    when = acknowledged.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m-%d %H:%M")
    assert answer.status_code == 200
    assert answer.json() == {
        "item": first.pk, "acknowledged": True, "first": True, "label": f"Acknowledged by 小周 · {when}",
        "count_label": "2 of 3 acknowledged", "acknowledged_count": 2,
    }  # fmt: skip
    again = client.post(reverse("radio:acknowledge", args=[first.pk]), headers=JSON | {"Accept-Language": "zh-hans"})
    assert again.json()["first"] is False and again.json()["count_label"] == "已确认 2 / 3"
    assert DigestItem.objects.get(pk=first.pk).acknowledged_at == acknowledged  # the first acknowledgement counts


def test_a_reader_who_may_not_answer_gets_no_acknowledgement(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User,
    make_user: Callable[..., User],
) -> None:  # fmt: skip
    (item,) = digest_of(agent, supervisor, business, 1)
    outsider = client_for(make_user("biz2", roles.BUSINESS))
    assert outsider.post(reverse("radio:acknowledge", args=[item.pk]), headers=JSON).status_code == 404
    assert DigestItem.objects.get(pk=item.pk).acknowledged_at is None


def test_the_page_wires_its_acknowledge_forms_to_the_script(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    (item,) = digest_of(agent, supervisor, business, 1)
    html = client_for(business).get(reverse("radio:today"), headers={"Accept-Language": "en"}).content.decode()
    action = reverse("radio:acknowledge", args=[item.pk])
    assert f'<form class="ack-form" method="post" action="{action}" data-error="Could not acknowledge' in html
    assert '<script src="/static/radio/digest.js" defer></script>' in html
