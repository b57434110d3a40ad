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
from radio.models import Digest, DigestItem, Reply, Subscription
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


# --- replying in place ----------------------------------------------------------------------------------------


def test_replying_with_json_answers_the_reply_as_the_page_shows_it_and_the_acknowledgement(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    business.first_name = "小周"
    business.save(update_fields=["first_name"])
    first, _second = digest_of(agent, supervisor, business, 2)
    client = client_for(business)
    client.get(reverse("radio:today"))  # warm the session
    # session, user, the item, shop staff?, permissions (2), may read the channel (2), the reply and its
    # acknowledgement (savepoint, insert, update, nominator, release), the reply shown, the acknowledgement shown (2)
    with django_assert_num_queries(16):
        answer = client.post(reverse("radio:reply", args=[first.pk]), {"body": "已排期\n周五修复，回电 13812345678"},
                             headers=JSON | {"Accept-Language": "en"})  # fmt: skip
    reply = Reply.objects.get()
    when = reply.created_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m-%d %H:%M")
    assert answer.status_code == 201
    assert answer.json() == {
        "item": first.pk, "reply": reply.pk, "author": "小周", "at": when, "body": "已排期\n周五修复，回电 138****5678",
        "sent_label": "Reply sent: the agent who nominated it will see it.",
        "label": f"Acknowledged by 小周 · {when}", "count_label": "1 of 2 acknowledged", "acknowledged_count": 1,
    }  # fmt: skip
    assert reply.body == "已排期\n周五修复，回电 138****5678"  # masked when saved (radio.services), shown masked
    zh = client.post(
        reverse("radio:reply", args=[first.pk]), {"body": "好"}, headers=JSON | {"Accept-Language": "zh-hans"}
    )
    assert (zh.json()["sent_label"], zh.json()["count_label"]) == (
        "回复已发送：推荐该案例的客服将会看到。",
        "已确认 1 / 2",
    )


@pytest.mark.parametrize(("body", "message"), [
    ("", "This field is required."),
    ("   ", "This field is required."),
    ("长" * 2001, "Ensure this value has at most 2000 characters (it has 2001)."),
])  # fmt: skip
def test_a_bad_reply_with_json_says_why_on_its_field_and_nothing_is_stored(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User, body: str, message: str
) -> None:
    (item,) = digest_of(agent, supervisor, business, 1)
    refused = client_for(business).post(reverse("radio:reply", args=[item.pk]), {"body": body},
                                        headers=JSON | {"Accept-Language": "en"})  # fmt: skip
    assert refused.status_code == 400
    assert refused.json() == {"errors": {"body": [message]}}
    assert not Reply.objects.exists() and DigestItem.objects.get(pk=item.pk).acknowledged_at is None


def test_without_javascript_a_reply_still_posts_and_comes_back_to_the_item(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    (item,) = digest_of(agent, supervisor, business, 1)
    back = reverse("radio:today")
    response = client_for(business).post(reverse("radio:reply", args=[item.pk]), {"body": "收到", "next": back})
    assert (response.status_code, response["Location"]) == (302, f"{back}#item-{item.pk}")
    assert Reply.objects.get().body == "收到"


def test_the_page_wires_its_reply_forms_to_the_script(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User
) -> None:
    (item,) = digest_of(agent, supervisor, business, 1)
    html = client_for(business).get(reverse("radio:today"), headers={"Accept-Language": "en"}).content.decode()
    action = reverse("radio:reply", args=[item.pk])
    assert f'<form class="reply-form" method="post" action="{action}" data-error="Could not send the reply' in html
