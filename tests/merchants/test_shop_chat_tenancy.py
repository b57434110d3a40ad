"""A shop's own bot in the admin and on the chat pages: merchant staff edit their shop's articles and proactive
rules only (core.tenancy), see their shop's chats only, and a token or the demo page names a real shop only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from chat import services
from chat.models import ChatSession, KnowledgeArticle, ProactiveRule
from chat.tokens import read_chat_token
from core import roles
from merchants.models import Merchant, MerchantMembership
from radio.models import Nomination
from tests.crm import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_rows() -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for key, shop in (("a", f.merchant("SHOP-A", name="店铺A")), ("b", f.merchant("SHOP-B", name="店铺B")),
                      ("platform", None)):  # fmt: skip
        rows[key] = {
            "shop": shop,
            "article": KnowledgeArticle.objects.create(shop=shop, title=f"文章{key}", answer=f"答案{key}"),
            "rule": ProactiveRule.objects.create(
                shop=shop, name=f"规则{key}", condition="late_delivery", message=f"消息{key}"
            ),
        }
    return rows


@pytest.fixture
def staff_of_a(
    shop_rows: dict[str, Any], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> Client:
    user = make_user("staff-a", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=user, merchant=shop_rows["a"]["shop"])
    return client_for(user)


@pytest.mark.parametrize(("url", "key"), [("/admin/chat/knowledgearticle/", "article"),
                                          ("/admin/chat/proactiverule/", "rule")])  # fmt: skip
def test_merchant_staff_see_and_change_only_their_shops_articles_and_rules(
    staff_of_a: Client, shop_rows: dict[str, Any], url: str, key: str
) -> None:
    html = staff_of_a.get(url).content.decode()
    own, other, platform = (shop_rows[k][key] for k in ("a", "b", "platform"))
    assert f"{url}{own.pk}/change/" in html
    assert f"{url}{other.pk}/change/" not in html and f"{url}{platform.pk}/change/" not in html
    assert staff_of_a.get(f"{url}{own.pk}/change/").status_code == 200
    for row in (other, platform):
        assert staff_of_a.get(f"{url}{row.pk}/change/")["Location"] == "/admin/"
        staff_of_a.post(f"{url}{row.pk}/delete/", {"post": "yes"})
        assert type(row).objects.filter(pk=row.pk).exists()


def test_an_article_merchant_staff_add_is_their_shops_whatever_they_post(
    staff_of_a: Client, shop_rows: dict[str, Any]
) -> None:
    form = staff_of_a.get("/admin/chat/knowledgearticle/add/").content.decode()
    assert 'name="shop"' not in form
    response = staff_of_a.post("/admin/chat/knowledgearticle/add/", {
        "title": "本店退换货", "questions": "怎么退货", "answer": "七天无理由。", "language": "zh-hans",
        "active": "on", "shop": shop_rows["b"]["shop"].pk,
    })  # fmt: skip
    assert response.status_code == 302
    assert KnowledgeArticle.objects.get(title="本店退换货").shop_id == shop_rows["a"]["shop"].pk


def test_merchant_staff_see_only_their_shops_chats(
    staff_of_a: Client, shop_rows: dict[str, Any], make_user: Callable[..., User]
) -> None:
    chats = {}
    for key in ("a", "b", "platform"):
        shop = shop_rows[key]["shop"]
        chats[key], _created = services.start_chat(f.consumer().pk, "zh-hans", shop_id=shop.pk if shop else None)
    html = staff_of_a.get("/admin/chat/chatsession/").content.decode()
    assert f"/admin/tickets/ticket/{chats['a'].ticket_id}/change/" in html
    for key in ("b", "platform"):
        assert f"/admin/tickets/ticket/{chats[key].ticket_id}/change/" not in html
        assert staff_of_a.get(f"/admin/chat/chatsession/{chats[key].pk}/change/")["Location"] == "/admin/"
    # Their console page opens (their shop's desk); the ticket of the chat is their shop's too.
    assert staff_of_a.get("/admin/chat/chatsession/console/").status_code == 200
    assert ChatSession.objects.get(pk=chats["a"].pk).ticket.merchant_id == shop_rows["a"]["shop"].pk


def test_merchant_staff_without_a_shop_get_no_console(make_user: Callable[..., User], client_for: Any) -> None:
    orphan = client_for(make_user("orphan", roles.MERCHANT_STAFF))
    assert orphan.get("/admin/chat/chatsession/console/").status_code == 403


def test_a_token_for_a_shop_is_issued_only_for_a_shop_that_takes_chats(
    shop_rows: dict[str, Any], make_user: Callable[..., User]
) -> None:
    api = APIClient()
    api.force_authenticate(make_user("sup", roles.SUPERVISOR))
    who = f.consumer()
    Merchant.objects.filter(pk=shop_rows["b"]["shop"].pk).update(takes_chats=False)
    for code in ("NO-SUCH-SHOP", "SHOP-B"):
        refused = api.post("/api/chat/tokens/", {"consumer": who.external_id, "shop": code}, format="json")
        assert (refused.status_code, refused.json()["errors"]) == (
            400, {"shop": ["没有使用该编码且接待在线咨询的店铺。"]})  # fmt: skip
    issued = api.post("/api/chat/tokens/", {"consumer": who.external_id, "shop": "SHOP-A"}, format="json")
    assert issued.status_code == 201 and issued.json()["shop"] == "SHOP-A"
    token = read_chat_token(issued.json()["token"])
    assert token is not None and (token.consumer_id, token.shop_id) == (who.pk, shop_rows["a"]["shop"].pk)
    platform = api.post("/api/chat/tokens/", {"consumer": who.external_id}, format="json")
    assert platform.json()["shop"] is None and read_chat_token(platform.json()["token"]).shop_id is None  # type: ignore[union-attr]


def test_the_demo_page_chats_with_a_real_shop_only(
    shop_rows: dict[str, Any], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    staff = client_for(make_user("sup", roles.SUPERVISOR))
    assert "没有使用该编码且接待在线咨询的店铺。" in staff.get("/chat/?shop=NOPE").content.decode()
    page = staff.get("/chat/?shop=SHOP-A").content.decode()
    assert '<input type="hidden" name="shop" value="SHOP-A">' in page
    who = f.consumer()
    opened = staff.post("/chat/", {"consumer": who.external_id, "shop": "SHOP-A"}).content.decode()
    assert '"token": "' in opened
    refused = staff.post("/chat/", {"consumer": who.external_id, "shop": "NOPE"}).content.decode()
    assert "没有使用该编码且接待在线咨询的店铺。" in refused and '"token": "' not in refused


def _console_config(client: Client) -> dict[str, Any]:
    page = client.get("/admin/chat/chatsession/console/")
    assert page.status_code == 200
    return dict(page.context["config"])


def test_the_console_offers_merchant_staff_no_platform_only_action(
    staff_of_a: Client, shop_rows: dict[str, Any], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    config = _console_config(staff_of_a)
    assert (config["nominateUrl"], config["mayRefund"]) == ("", False)
    # An agent of the platform is offered both.
    agent = _console_config(client_for(make_user("agent-n", roles.AGENT)))
    assert (agent["nominateUrl"], agent["mayRefund"]) == ("/radio/nominate/", True)
    # And what the console does not offer, the server refuses: the radio's form is not theirs.
    chat, _created = services.start_chat(f.consumer().pk, "zh-hans", shop_id=shop_rows["a"]["shop"].pk)
    assert staff_of_a.get(f"/radio/nominate/?source=chat&id={chat.pk}").status_code == 403
    assert staff_of_a.post("/radio/nominate/", {"source": "chat", "id": chat.pk, "quote": "好"}).status_code == 403
    assert Nomination.objects.count() == 0
