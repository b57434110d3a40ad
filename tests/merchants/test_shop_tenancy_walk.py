"""Every shop-scoped route, walked with a second shop's staff: they get 403/404, the admin's "does not exist"
redirect, or a list without the first shop's rows — never a row of shop A, on any admin page, API or page.

The routes come from the admin registry and the URL resolver, so a route added later cannot be forgotten: a
registered admin of a model with a ``tenant_field`` needs a row of shop A below, and every other URL pattern
must be listed here, either with the URL of shop A's row or as a route that serves no shop's rows. Shop A's
own staff open the same URLs and see the row, so the walk cannot pass by showing nothing to anyone.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from chat import attachments as chat_attachments
from chat import services as chat_services
from chat.models import ChatSession, KnowledgeArticle, ProactiveRule
from core import roles
from merchants.models import Merchant, MerchantMembership, MerchantScore
from qa import evaluation
from qa.models import Finding, Recording, Segment
from radio import building as radio_building
from radio import services as radio_services
from radio import sources
from radio.models import Channel, Digest, DigestItem
from tests.chat.support import make_agent, staffed_all_day
from tests.core.test_url_walk import routes
from tests.crm import factories as f
from tests.qa import factories as qa_factories
from tests.radio import factories as rf
from tickets import refunds, returns
from tickets import services as ticket_services
from tickets.models import Department, RefundRequest, ReturnRequest, Ticket

SECRET = "甲店机密"  # in every row of shop A that has words; never on a page shop B's staff open
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user: Callable[..., User], settings: Any, tmp_path: Path) -> dict[str, Any]:
    staffed_all_day(settings)
    settings.MEDIA_ROOT = tmp_path / "media"  # the walk's image stays out of var/media
    a = f.merchant("SHOP-A", name=f"{SECRET}旗舰店")
    b = f.merchant("SHOP-B", name="乙店")
    staff = {}
    for key, shop in (("a", a), ("b", b)):
        staff[key] = make_agent(make_user, f"staff-{key}", roles.MERCHANT_STAFF)
        MerchantMembership.objects.create(user=staff[key], merchant=shop)
    agent, supervisor = make_agent(make_user, "agent-w"), make_user("sup-w", roles.SUPERVISOR)
    who = f.consumer("C-WALK", display_name="王小明")
    order = f.order(who, a, item_title=f"{SECRET}耳机", status="delivered")
    department = Department.objects.create(code="walk", name="售后")
    ticket = ticket_services.open_ticket(who, subject=f"{SECRET}的快递", department=department, body=SECRET,
                                         order=order, kind=Ticket.Kind.DISPUTE, route=False)  # fmt: skip
    chat, _created = chat_services.start_chat(f.consumer("C-CHAT").pk, "zh-hans", shop_id=a.pk)
    chat_services.consumer_message(chat.consumer_id, "zh-hans", f"{SECRET}转人工")
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, format="PNG")
    photo = SimpleUploadedFile("photo.png", png.getvalue(), "image/png")
    image, _created = chat_attachments.consumer_image(chat.consumer_id, photo, key="walk", shop_id=a.pk)
    call = qa_factories.transcript([("consumer", f"{SECRET} 卡号"), ("agent", "好的")], agent=agent, ticket=ticket)
    qa_factories.rule("card", "keyword", speaker="consumer", terms=["卡号"], severity=3, category="privacy")
    evaluation.evaluate_transcripts([call.pk])
    nomination, _ = radio_services.nominate(sources.resolve("ticket", ticket.pk), by=agent, quote=SECRET)
    radio_services.approve_nomination(nomination, [rf.channel("logistics")], by=supervisor)
    radio_building.build_digests()
    shop_channel = Channel.objects.get(merchant=a)
    rows: dict[str, Any] = {
        "crm.order": order,
        "crm.review": f.review(order, (1, 1, 1), f"{SECRET}差评"),
        "merchants.merchant": a,
        "merchants.merchantscore": MerchantScore.objects.create(
            merchant=a,
            day=timezone.localdate(),
            reviews=1,
            dsr_item=5,
            dsr_service=5,
            dsr_logistics=5,
            orders=1,
            dispute_rate=0,
            service_score=90,
            traffic_weight=1.4,
        ),
        "merchants.merchantmembership": MerchantMembership.objects.get(user=staff["a"]),
        "tickets.ticket": ticket,
        "tickets.refundrequest": refunds.request_refund(
            order, Decimal("1.00"), SECRET, key="walk-refund", requested_by=agent, ticket=ticket
        ),
        "tickets.returnrequest": returns.request_return(
            order, SECRET, key="walk-return", requested_by=agent, ticket=ticket
        ),
        "chat.chatsession": ChatSession.objects.get(pk=chat.pk),
        "chat.knowledgearticle": KnowledgeArticle.objects.create(shop=a, title=f"{SECRET}发票", answer=SECRET),
        "chat.proactiverule": ProactiveRule.objects.create(
            shop=a, name=f"{SECRET}规则", condition="late_delivery", message=SECRET
        ),
        "qa.transcript": call,
        "qa.segment": Segment.objects.filter(transcript=call).first(),
        "qa.finding": Finding.objects.get(transcript=call),
        "qa.recording": Recording.objects.create(
            audio="recordings/walk.wav", agent=agent, ticket=ticket, consumer=who, called_at=timezone.now()
        ),
        "radio.channel": shop_channel,
        "radio.digest": Digest.objects.get(channel=shop_channel),
        "radio.digestitem": DigestItem.objects.get(digest__channel=shop_channel),
    }
    return {"a": a, "b": b, "staff": staff, "rows": rows, "ticket": ticket, "order": order, "chat": chat,
            "transcript": call, "image": image}  # fmt: skip


# Changelists whose default filter hides rows: the walk asks for all of them.
ALL_ROWS = {"tickets.ticket": "?queue=all", "qa.finding": "?status=all", "radio.nomination": "?status=all"}


def _shop_owned_admins() -> list[str]:
    return sorted(
        model._meta.label_lower for model in admin.site._registry if getattr(model, "tenant_field", None) is not None
    )


def _refused(response: Any) -> bool:
    """403, 404, or the admin's redirect for a row outside the user's scope (its "does not exist")."""
    return response.status_code in (403, 404) or (response.status_code == 302 and response["Location"] == "/admin/")


def test_every_shop_owned_admin_has_a_row_of_shop_a_in_the_walk(world: dict[str, Any]) -> None:
    assert [label for label in _shop_owned_admins() if label not in world["rows"]] == []


def test_no_admin_page_shows_a_second_shops_staff_the_first_shops_rows(
    world: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    other, own = client_for(world["staff"]["b"]), client_for(world["staff"]["a"])
    own_seen = []
    for label in _shop_owned_admins():
        row = world["rows"][label]
        base = f"/admin/{label.replace('.', '/')}/"
        listing = other.get(base + ALL_ROWS.get(label, ""))
        assert listing.status_code in (200, 403), label
        if listing.status_code == 200:
            assert row.pk not in [r.pk for r in listing.context["cl"].result_list], label
            assert SECRET not in listing.content.decode(), label
        for page in ("change/", "delete/", "history/"):
            assert _refused(other.get(f"{base}{row.pk}/{page}")), (label, page)
        mine = own.get(base + ALL_ROWS.get(label, ""))
        if mine.status_code == 200:
            assert row.pk in [r.pk for r in mine.context["cl"].result_list], label
            own_seen.append(label)
    # Shop A's staff see their rows on every admin their role opens: the walk is not vacuous.
    assert own_seen == [
        "chat.chatsession", "chat.knowledgearticle", "chat.proactiverule", "crm.order", "crm.review",
        "merchants.merchant", "merchants.merchantscore", "tickets.refundrequest", "tickets.returnrequest",
        "tickets.ticket",
    ]  # fmt: skip


def shop_routes(world: dict[str, Any]) -> dict[str, list[str]]:
    """Every URL pattern that is no model admin's standard page: the URLs of shop A's rows on it, or [] when it
    serves no shop's rows (a form, a login, the marketplace's own data, merchant staff refused by role)."""
    ticket, chat, order, a = world["ticket"], world["chat"], world["order"], world["a"]
    digest = world["rows"]["radio.digest"]
    item = world["rows"]["radio.digestitem"]
    recording = world["rows"]["qa.recording"]
    today = timezone.localdate().isoformat()
    return {
        "": [], "favicon.ico": [], "healthz": [], "i18n/setlang/": [], "chat/": [],
        "survey/<str:token>/": [],  # no login: the signed link is the key (tests/tickets/test_surveys.py)
        "admin/": [], "admin/login/": [], "admin/logout/": [], "admin/password_change/": [],
        "admin/password_change/done/": [], "admin/jsi18n/": [], "admin/autocomplete/": [],
        "admin/(?P<app_label>core|auth|django_celery_beat|crm|merchants|tickets|chat|qa|radio)/": [],
        "admin/(?P<url>.*)": [], "admin/auth/user/<id>/password/": [],
        "admin/r/<path:content_type_id>/<path:object_id>/": [],
        "admin/chat/chatsession/console/": [],  # the socket checks the shop: tests/chat/test_shop_chat.py
        "admin/chat/knowledgearticle/missed/": [],
        "admin/crm/consumer/<int:pk>/reveal/": [f"/admin/crm/consumer/{order.consumer_id}/reveal/"],
        "admin/crm/riskflag/<int:pk>/review/": [], "admin/crm/riskpattern/backtest/": [],
        "admin/merchants/merchant/<int:pk>/scores/": [f"/admin/merchants/merchant/{a.pk}/scores/"],
        "admin/qa/recording/<int:pk>/audio/": [f"/admin/qa/recording/{recording.pk}/audio/"],
        "admin/qa/rule/<int:pk>/apply/": [], "admin/qa/rule/<int:pk>/backtest/": [], "admin/qa/rule/<int:pk>/runs/": [],
        "admin/qa/transcript/<int:pk>/audio/": [f"/admin/qa/transcript/{world['transcript'].pk}/audio/"],
        "admin/qa/transcript/search/": [f"/admin/qa/transcript/search/?q={SECRET}"],
        "admin/radio/nomination/<int:pk>/screen/": [],
        "admin/reports/": ["/admin/reports/"], "admin/reports/csv/": ["/admin/reports/csv/"],
        "admin/tickets/refundrequest/<int:pk>/review/": [
            f"/admin/tickets/refundrequest/{world['rows']['tickets.refundrequest'].pk}/review/"],
        "admin/tickets/ticket/<int:pk>/act/": [f"/admin/tickets/ticket/{ticket.pk}/act/"],
        "admin/tickets/ticket/availability/": [], "admin/tickets/ticket/saved-views/save/": [],
        "api/chat/tokens/": [], "api/chat/attachments/": [], "api/chat/console/attachments/": [],
        "api/chat/attachments/<int:message>/": [f"/api/chat/attachments/{world['image'].event_id}/"],
        "api/docs/": [], "api/schema/": [], "api/import/<str:kind>/": [],
        "api/consumers/<str:external_id>/": [f"/api/consumers/{order.consumer.external_id}/"],
        "api/merchants/": ["/api/merchants/"],
        "api/merchants/<str:code>/": [f"/api/merchants/{a.code}/"],
        "api/merchants/<str:code>/explanation/": [f"/api/merchants/{a.code}/explanation/"],
        "api/merchants/<str:code>/scores/": [f"/api/merchants/{a.code}/scores/"],
        "api/recordings/": ["/api/recordings/"], "api/recordings/<int:pk>/": [f"/api/recordings/{recording.pk}/"],
        "api/recordings/<int:pk>/retry/": [f"/api/recordings/{recording.pk}/retry/"],
        "api/refunds/": ["/api/refunds/"],
        "api/refunds/<int:pk>/": [f"/api/refunds/{world['rows']['tickets.refundrequest'].pk}/"],
        "api/returns/": ["/api/returns/"],
        "api/returns/<int:pk>/": [f"/api/returns/{world['rows']['tickets.returnrequest'].pk}/"],
        "api/returns/<int:pk>/scan/": [f"/api/returns/{world['rows']['tickets.returnrequest'].pk}/scan/"],
        "api/tickets/": ["/api/tickets/"], "api/tickets/<int:pk>/": [f"/api/tickets/{ticket.pk}/"],
        "api/tickets/<int:pk>/reply/": [f"/api/tickets/{ticket.pk}/reply/"],
        "api/tickets/<int:pk>/transition/": [f"/api/tickets/{ticket.pk}/transition/"],
        "api/transcripts/import/": [],
        "radio/": ["/radio/"], "radio/login/": [], "radio/logout/": [],
        "radio/(?P<day>d{4}-d{2}-d{2})/": [f"/radio/{today}/"],
        "radio/(?P<day>d{4}-d{2}-d{2})/(?P<code>[-a-zA-Z0-9_]+)/": [f"/radio/{today}/{digest.channel.code}/"],
        "radio/audio/<int:pk>/": [f"/radio/audio/{digest.pk}/"],
        "radio/channels/": ["/radio/channels/"],
        "radio/items/<int:pk>/acknowledge/": [f"/radio/items/{item.pk}/acknowledge/"],
        "radio/items/<int:pk>/reply/": [f"/radio/items/{item.pk}/reply/"],
        "radio/nominate/": [f"/radio/nominate/?source=chat&id={chat.pk}",
                            f"/radio/nominate/?source=ticket&id={ticket.pk}"],
    }  # fmt: skip


def _standard_admin_route(template: str) -> bool:
    for model in admin.site._registry:
        base = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        if template.startswith(base) and template[len(base) :] in (
            "", "add/", "<path:object_id>/", "<path:object_id>/change/", "<path:object_id>/delete/",
            "<path:object_id>/history/",
        ):  # fmt: skip
            return True
    return False


def test_every_url_pattern_is_in_the_walk(world: dict[str, Any]) -> None:
    listed = shop_routes(world)
    unlisted = [t for t in routes() if not _standard_admin_route(t) and t not in listed]
    assert unlisted == [], "list each new route in shop_routes(), with shop A's row on it or []"
    assert [t for t in listed if t not in routes()] == []


def _text(response: Any) -> str:
    if response.get("Content-Type", "").startswith("application/json"):
        return json.dumps(response.json(), ensure_ascii=False)
    return (
        b"".join(response.streaming_content).decode(errors="replace")
        if response.streaming
        else response.content.decode()
    )


def test_no_route_shows_or_changes_a_first_shops_row_for_a_second_shops_staff(
    world: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    other = client_for(world["staff"]["b"])
    other.raise_request_exception = False
    before = (Ticket.objects.get(pk=world["ticket"].pk).status, RefundRequest.objects.count(),
              ReturnRequest.objects.count())  # fmt: skip
    answers = {}
    for urls in shop_routes(world).values():
        for url in urls:
            for method in ("get", "post"):
                response = getattr(other, method)(url)
                answers[(method, url)] = response.status_code
                assert response.status_code < 500, (method, url)
                if response.status_code == 200:
                    assert SECRET not in _text(response), (method, url)
                else:
                    assert response.status_code in (302, 400, 403, 404, 405), (method, url, response.status_code)
                    if response.status_code == 302:
                        assert response["Location"].startswith(("/admin/", "/radio/")), (method, url)
    after = (Ticket.objects.get(pk=world["ticket"].pk).status, RefundRequest.objects.count(),
             ReturnRequest.objects.count())  # fmt: skip
    assert after == before
    assert DigestItem.objects.filter(acknowledged_at__isnull=False).count() == 0
    # The lists answer, empty of shop A's rows (not merely refused).
    assert {url: answers[("get", url)] for url in ("/api/tickets/", "/api/refunds/", "/api/returns/", "/radio/")} == {
        "/api/tickets/": 200, "/api/refunds/": 200, "/api/returns/": 200, "/radio/": 200}  # fmt: skip


def test_the_first_shops_staff_see_their_rows_on_the_same_routes(
    world: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    own = client_for(world["staff"]["a"])
    seen = sorted(url for urls in shop_routes(world).values() for url in urls if SECRET in _text(own.get(url)))
    today = timezone.localdate().isoformat()
    digest = world["rows"]["radio.digest"]
    a, ticket = world["a"], world["ticket"]
    refund, ret = world["rows"]["tickets.refundrequest"], world["rows"]["tickets.returnrequest"]
    assert seen == sorted([
        f"/admin/merchants/merchant/{a.pk}/scores/", "/api/merchants/", f"/api/merchants/{a.code}/",
        "/api/refunds/", f"/api/refunds/{refund.pk}/", "/api/returns/", f"/api/returns/{ret.pk}/",
        "/api/tickets/", f"/api/tickets/{ticket.pk}/",
        "/radio/", f"/radio/{today}/", f"/radio/{today}/{digest.channel.code}/", "/radio/channels/",
    ])  # fmt: skip


def test_merchant_staff_of_a_shop_with_no_row_see_an_empty_world(
    world: dict[str, Any], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    shop_c = Merchant.objects.create(code="SHOP-C", name="丙店", category="x", opened_at=timezone.now())
    user = make_user("staff-c", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=user, merchant=shop_c)
    client = client_for(user)
    assert client.get("/api/tickets/").json()["results"] == []
    assert client.get("/radio/").context["blocks"] == []


def test_a_shops_chat_image_is_its_own_staffs_and_no_other_shops(
    world: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    url = f"/api/chat/attachments/{world['image'].event_id}/"
    own, other = client_for(world["staff"]["a"]).get(url), client_for(world["staff"]["b"]).get(url)
    assert (own.status_code, own["Content-Type"], other.status_code) == (200, "image/png", 404)
