"""A forbidden page in the admin's look and the reader's language, and the favicon."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

from core import roles
from merchants.models import MerchantMembership
from tests.crm import factories as f


@pytest.fixture
def shop_staff(make_user: Callable[..., User]) -> User:
    staff = make_user("shop-staff", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=f.merchant())
    return staff


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "Your account does not have access to this page."), ("zh-hans", "您的账号无权访问此页面。")],
)
def test_merchant_staff_get_a_translated_styled_forbidden_page(
    shop_staff: User, client_for: Callable[[User], Client], language: str, words: str
) -> None:
    response = client_for(shop_staff).post(
        "/admin/tickets/ticket/availability/", {"available": "1"}, headers={"Accept-Language": language}
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert words in html
    assert '<div id="site-name">' in html and 'href="/static/core/admin.css"' in html
    assert "403 Forbidden" not in html


def test_the_favicon_is_an_svg_linked_from_every_admin_page(db: None) -> None:
    assert finders.find("core/favicon.svg") is not None
    login = Client().get("/admin/login/").content.decode()
    assert '<link rel="icon" href="/static/core/favicon.svg" type="image/svg+xml">' in login
    response = Client().get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/core/favicon.svg")


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "There is no page at this address."), ("zh-hans", "此地址没有页面。")],
)
def test_a_missing_page_is_translated_and_styled_for_staff_and_consumers(
    shop_staff: User, client_for: Callable[[User], Client], language: str, words: str
) -> None:
    for client in (client_for(shop_staff), Client()):
        response = client.get("/no-such-page/", headers={"Accept-Language": language})
        html = response.content.decode()
        assert response.status_code == 404
        assert words in html and "/no-such-page/" in html
        assert '<div id="site-name">' in html and 'href="/static/core/admin.css"' in html
        assert "Not Found" not in html and "The requested resource was not found" not in html
