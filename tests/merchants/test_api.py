from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from merchants.models import Merchant, MerchantMembership, MerchantScore

EN = {"accept-language": "en"}
DAY = date(2026, 3, 10)


def make_merchant(code: str, category: str = "数码", city: str = "深圳") -> Merchant:
    return Merchant.objects.create(
        code=code, name=f"店铺{code}", category=category, city=city, opened_at=datetime(2020, 1, 1, tzinfo=UTC)
    )


def make_score(merchant: Merchant, day: date, service_score: str, **fields: Any) -> MerchantScore:
    values: dict[str, Any] = {
        "reviews": 40,
        "dsr_item": Decimal("4.800"),
        "dsr_service": Decimal("4.700"),
        "dsr_logistics": Decimal("4.600"),
        "orders": 120,
        "dispute_rate": Decimal("0.01000"),
        "refund_hours": Decimal("12.50"),
        "service_score": Decimal(service_score),
        "traffic_weight": Decimal("0.5") + Decimal(service_score) / 100,
        **fields,
    }
    return MerchantScore.objects.create(merchant=merchant, day=day, **values)


@pytest.fixture
def shops(db: None) -> dict[str, Merchant]:
    """Three merchants created out of code order: A and B scored on two days, C never."""
    c = make_merchant("M003", city="")
    a = make_merchant("M001")
    b = make_merchant("M002", category="零食", city="杭州")
    make_score(a, DAY - timedelta(days=1), "70.00")
    make_score(a, DAY, "80.00")
    make_score(b, DAY - timedelta(days=1), "90.00", refund_hours=None)
    make_score(b, DAY, "91.00")
    return {"A": a, "B": b, "C": c}


def staff_of(merchant: Merchant, make_user: Callable[..., User], username: str = "shop-staff") -> User:
    user = make_user(username, "merchant_staff")
    MerchantMembership.objects.create(user=user, merchant=merchant)
    return user


def listed(merchant: Merchant, day: str | None, score: str | None, weight: str | None) -> dict[str, Any]:
    return {
        "id": merchant.pk,
        "code": merchant.code,
        "name": merchant.name,
        "category": merchant.category,
        "city": merchant.city,
        "score_day": day,
        "service_score": score,
        "traffic_weight": weight,
    }


# --- list --------------------------------------------------------------------------------------------


def test_agent_lists_merchants_by_code_with_their_latest_score(
    agent: User, shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).get("/api/merchants/")

    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            listed(shops["A"], "2026-03-10", "80.00", "1.300"),
            listed(shops["B"], "2026-03-10", "91.00", "1.410"),
            listed(shops["C"], None, None, None),
        ],
    }


def test_the_merchant_list_filters_by_category(
    agent: User, shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).get("/api/merchants/", {"category": "数码"})

    assert [row["code"] for row in response.json()["results"]] == ["M001", "M003"]


def test_merchant_staff_list_only_their_own_merchant(
    make_user: Callable[..., User], shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    response = client_for(staff_of(shops["B"], make_user)).get("/api/merchants/")

    assert response.status_code == 200
    assert response.json()["results"] == [listed(shops["B"], "2026-03-10", "91.00", "1.410")]


def test_the_merchant_list_pages_with_a_cursor(agent: User, client_for: Callable[[User], Client], db: None) -> None:
    for i in range(51):
        make_merchant(f"P{i:03d}")
    client = client_for(agent)

    first = client.get("/api/merchants/").json()
    second = client.get(first["next"]).json()

    assert [row["code"] for row in first["results"]] == [f"P{i:03d}" for i in range(50)]
    assert [row["code"] for row in second["results"]] == ["P050"]
    assert second["next"] is None


def list_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/merchants/")
    assert response.status_code == 200
    return len(queries)


def test_the_merchant_list_costs_the_same_queries_for_2_and_30_merchants(
    agent: User, client_for: Callable[[User], Client], db: None
) -> None:
    client = client_for(agent)
    for i in range(30):
        make_score(make_merchant(f"Q{i:03d}"), DAY, "75.00")
    client.get("/api/merchants/")  # warm the session, so both counts below start alike

    thirty = list_queries(client)
    Merchant.objects.filter(code__gte="Q002").delete()
    two = list_queries(client)

    # session, user, user's permissions, groups' permissions, merchant-staff check, the page itself.
    assert (two, thirty) == (6, 6)


# --- detail ------------------------------------------------------------------------------------------


def test_agent_sees_one_merchant_with_its_latest_score(
    agent: User, shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)

    assert client.get("/api/merchants/M001/").json() == listed(shops["A"], "2026-03-10", "80.00", "1.300")
    assert client.get("/api/merchants/M003/").json() == listed(shops["C"], None, None, None)


def test_an_unknown_merchant_is_a_json_404(
    agent: User, shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)

    for url in ("/api/merchants/NOPE/", "/api/merchants/NOPE/scores/"):
        response = client.get(url, headers=EN)
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "No Merchant matches the given query."}


@pytest.mark.parametrize("suffix", ["", "scores/"])
def test_merchant_staff_see_their_own_merchant_and_not_another(
    suffix: str, make_user: Callable[..., User], shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    client = client_for(staff_of(shops["A"], make_user))

    own = client.get(f"/api/merchants/M001/{suffix}")
    other = client.get(f"/api/merchants/M002/{suffix}")

    assert own.status_code == 200
    assert other.status_code == 404
    assert "店铺M002" not in other.content.decode()
    assert "91.00" not in other.content.decode()


def test_merchant_staff_without_a_membership_see_no_merchant(
    make_user: Callable[..., User], shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    client = client_for(make_user("orphan", "merchant_staff"))

    assert client.get("/api/merchants/").json()["results"] == []
    assert client.get("/api/merchants/M001/").status_code == 404
    assert client.get("/api/merchants/M001/scores/").status_code == 404


# --- score history -----------------------------------------------------------------------------------


def test_agent_sees_a_merchants_score_history_with_marketplace_medians(
    agent: User, shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).get("/api/merchants/M002/scores/")

    assert response.status_code == 200
    common = {
        "reviews": 40,
        "dsr_item": "4.800",
        "dsr_service": "4.700",
        "dsr_logistics": "4.600",
        "orders": 120,
        "dispute_rate": "0.01000",
    }
    assert response.json() == [
        {
            "day": "2026-03-09",
            **common,
            "refund_hours": None,
            "service_score": "90.00",
            "traffic_weight": "1.400",
            "marketplace_median": "80.00",  # median of 70 and 90
        },
        {
            "day": "2026-03-10",
            **common,
            "refund_hours": "12.50",
            "service_score": "91.00",
            "traffic_weight": "1.410",
            "marketplace_median": "85.50",  # median of 80 and 91
        },
    ]


def test_days_keeps_the_latest_scores_and_defaults_to_90(
    agent: User, client_for: Callable[[User], Client], db: None
) -> None:
    merchant = make_merchant("M001")
    for offset in range(100):
        make_score(merchant, DAY - timedelta(days=offset), "80.00")
    client = client_for(agent)

    two = client.get("/api/merchants/M001/scores/", {"days": "2"}).json()
    default = client.get("/api/merchants/M001/scores/").json()
    blank = client.get("/api/merchants/M001/scores/", {"days": ""}).json()  # an empty form field: the default
    year = client.get("/api/merchants/M001/scores/", {"days": "365"}).json()

    assert [row["day"] for row in two] == ["2026-03-09", "2026-03-10"]
    assert (len(default), default[0]["day"], default[-1]["day"]) == (90, "2025-12-11", "2026-03-10")
    assert blank == default
    assert len(year) == 100


def test_a_merchant_with_no_scores_has_an_empty_history(
    agent: User, shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).get("/api/merchants/M003/scores/")

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("abc", "A valid integer is required."),
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-5", "Ensure this value is greater than or equal to 1."),
        ("9999", "Ensure this value is less than or equal to 365."),
    ],
)
def test_bad_days_is_a_400_naming_days(
    days: str, message: str, agent: User, shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).get("/api/merchants/M001/scores/", {"days": days}, headers=EN)

    assert response.status_code == 400
    assert response.json()["errors"] == {"days": [message]}


# --- who may read ------------------------------------------------------------------------------------

URLS = ["/api/merchants/", "/api/merchants/M001/", "/api/merchants/M001/scores/"]


@pytest.mark.parametrize("url", URLS)
def test_supervisor_may_read_every_merchant_endpoint(
    url: str, supervisor: User, shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    assert client_for(supervisor).get(url).status_code == 200


@pytest.mark.parametrize("url", URLS)
def test_business_role_cannot_read_merchants(
    url: str, make_user: Callable[..., User], shops: dict[str, Merchant], client_for: Callable[[User], Client]
) -> None:
    response = client_for(make_user("boss", "business")).get(url)

    assert response.status_code == 403
    assert "M001" not in response.content.decode()


@pytest.mark.parametrize("url", URLS)
def test_anonymous_client_cannot_read_merchants(url: str, shops: dict[str, Merchant]) -> None:
    response = Client().get(url)

    assert response.status_code == 403
    assert "M001" not in response.content.decode()


@pytest.mark.parametrize(
    ("url", "method", "status"),
    [
        # A supervisor holds add and change_merchant but not delete: the permission check comes first.
        ("/api/merchants/", "post", 405),
        ("/api/merchants/M001/", "put", 405),
        ("/api/merchants/M001/", "patch", 405),
        ("/api/merchants/M001/", "delete", 403),
        ("/api/merchants/M001/scores/", "post", 405),
        ("/api/merchants/M001/scores/", "put", 405),
        ("/api/merchants/M001/scores/", "delete", 403),
    ],
)
def test_the_merchant_endpoints_are_read_only(
    url: str,
    method: str,
    status: int,
    supervisor: User,
    shops: dict[str, Merchant],
    client_for: Callable[[User], Client],
) -> None:
    body = {"code": "M001", "name": "改名", "category": "零食", "day": "2026-03-11", "service_score": "1.00"}

    response = getattr(client_for(supervisor), method)(url, body, content_type="application/json")

    assert response.status_code == status
    assert list(Merchant.objects.order_by("code").values_list("code", "name")) == [
        ("M001", "店铺M001"),
        ("M002", "店铺M002"),
        ("M003", "店铺M003"),
    ]
    assert MerchantScore.objects.count() == 4


# --- schema ------------------------------------------------------------------------------------------


def test_the_schema_documents_the_merchant_endpoints(agent: User, client_for: Callable[[User], Client]) -> None:
    response = client_for(agent).get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    for url in ("/api/merchants/", "/api/merchants/{code}/", "/api/merchants/{code}/scores/"):
        assert set(paths[url]) == {"get"}
    days = next(p for p in paths["/api/merchants/{code}/scores/"]["get"]["parameters"] if p["name"] == "days")
    assert days["schema"] == {"type": "integer", "minimum": 1, "maximum": 365, "default": 90}


def test_the_crm_and_merchant_api_schema_generates_without_warnings(db: None) -> None:
    GENERATOR_STATS.reset()
    patterns = [path("api/", include("crm.urls")), path("api/", include("merchants.urls"))]

    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)

    assert sorted(schema["paths"]) == [
        "/api/consumers/{external_id}/",
        "/api/import/{kind}/",
        "/api/merchants/",
        "/api/merchants/{code}/",
        "/api/merchants/{code}/explanation/",
        "/api/merchants/{code}/scores/",
    ]
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
