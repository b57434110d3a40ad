from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from crm.indicators import INDICATORS
from crm.models import Consumer, CreditRating, CreditTier, RiskFlag
from merchants.models import Merchant, MerchantMembership

URL = "/api/consumers/C1/"
EN = {"accept-language": "en"}


@pytest.fixture
def consumer(db: None) -> Consumer:
    tier = CreditTier.objects.create(
        name="测试档", min_score=777, instant_refund_limit=Decimal("1234.50"), priority_routing=True
    )
    consumer = Consumer.objects.create(
        external_id="C1",
        display_name="王小明",
        phone="13912345678",
        registered_at=datetime(2024, 1, 1, tzinfo=UTC),
        credit_score=812,
        tier=tier,
    )
    CreditRating.objects.create(
        consumer=consumer,
        score=812,
        tier=tier,
        computed_at=datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
        contributions={
            "orders_total": [12, 4.8],
            "refund_rate": [0.5, -40.0],
            "identity_verified": [1, 30.0],
            "avg_order_value": [None, 0],
            "retired_indicator": [3, -1.5],
        },
    )
    RiskFlag.objects.create(
        consumer=consumer, kind=RiskFlag.Kind.NEGATIVE_BURST, detected_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    RiskFlag.objects.create(
        consumer=consumer,
        kind=RiskFlag.Kind.EXTORTION,
        status=RiskFlag.Status.CONFIRMED,
        detected_at=datetime(2026, 2, 10, tzinfo=UTC),
    )
    RiskFlag.objects.create(
        consumer=consumer,
        kind=RiskFlag.Kind.DUPLICATE_TEXT,
        status=RiskFlag.Status.CLEARED,
        detected_at=datetime(2026, 2, 20, tzinfo=UTC),
    )
    return consumer


@pytest.fixture
def merchant_staff(make_user: Callable[..., User]) -> User:
    merchant = Merchant.objects.create(code="M1", name="优品数码旗舰店", category="数码", opened_at=datetime.now(UTC))
    user = make_user("shop-staff", "merchant_staff")
    MerchantMembership.objects.create(user=user, merchant=merchant)
    return user


def test_agent_sees_tier_rating_breakdown_and_live_risk_flags(
    agent: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).get(URL, headers=EN)

    assert response.status_code == 200
    assert response.json() == {
        "external_id": "C1",
        "display_name": "王小明",
        "phone": "139****5678",
        "tier": {"name": "测试档", "min_score": 777, "instant_refund_limit": "1234.50", "priority_routing": True},
        "credit_score": 812,
        "rating": {
            "score": 812,
            "computed_at": "2026-03-01T10:00:00+08:00",
            "base_score": 450,
            "contributions": [
                {"key": "refund_rate", "label": "Share of orders refunded", "raw": 0.5, "points": -40.0, "weight": -80},
                {"key": "identity_verified", "label": "Identity verified", "raw": 1, "points": 30.0, "weight": 30},
                {"key": "orders_total", "label": "Orders placed", "raw": 12, "points": 4.8, "weight": 40},
                # An indicator retired since the rating was computed keeps its key as the label.
                {"key": "retired_indicator", "label": "retired_indicator", "raw": 3, "points": -1.5, "weight": None},
                {
                    "key": "avg_order_value",
                    "label": "Average order value (yuan)",
                    "raw": None,
                    "points": 0,
                    "weight": 10,
                },
            ],
        },
        "risk_flags": [
            {"kind": "extortion", "status": "confirmed", "detected_at": "2026-02-10T08:00:00+08:00"},
            {"kind": "negative_burst", "status": "open", "detected_at": "2026-02-01T08:00:00+08:00"},
        ],
    }


def test_contribution_labels_are_in_the_request_language(
    agent: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    labels = {indicator.key: indicator.label for indicator in INDICATORS}
    with translation.override("zh-hans"):
        chinese = {key: str(labels[key]) for key in ("refund_rate", "identity_verified")}

    response = client_for(agent).get(URL, headers={"accept-language": "zh-hans"})

    rows = {row["key"]: row["label"] for row in response.json()["rating"]["contributions"]}
    assert {key: rows[key] for key in chinese} == chinese


def test_supervisor_sees_the_phone_masked_too(
    supervisor: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    response = client_for(supervisor).get(URL)

    assert response.status_code == 200
    assert response.json()["phone"] == "139****5678"
    assert "13912345678" not in response.content.decode()


def test_an_unrated_consumer_has_no_tier_rating_or_flags(agent: User, client_for: Callable[[User], Client]) -> None:
    Consumer.objects.create(external_id="C2", display_name="李四", registered_at=datetime(2025, 5, 1, tzinfo=UTC))

    response = client_for(agent).get("/api/consumers/C2/")

    assert response.status_code == 200
    assert response.json() == {
        "external_id": "C2",
        "display_name": "李四",
        "phone": "",
        "tier": None,
        "credit_score": None,
        "rating": None,
        "risk_flags": [],
    }


def test_an_unknown_consumer_is_a_json_404(
    agent: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).get("/api/consumers/NOPE/", headers=EN)

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No Consumer matches the given query."}


def test_merchant_staff_cannot_see_consumers(
    merchant_staff: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    response = client_for(merchant_staff).get(URL)

    assert response.status_code == 403
    assert "王小明" not in response.content.decode()


def test_business_role_cannot_see_consumers(
    make_user: Callable[..., User], consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    response = client_for(make_user("boss", "business")).get(URL)

    assert response.status_code == 403
    assert "王小明" not in response.content.decode()


def test_anonymous_client_cannot_see_consumers(consumer: Consumer) -> None:
    response = Client().get(URL)

    assert response.status_code == 403
    assert "王小明" not in response.content.decode()


@pytest.mark.parametrize(
    ("method", "agent_status", "supervisor_status"),
    [
        # The permission check comes first: a role without the model permission gets 403, one with it 405.
        ("post", 403, 405),  # supervisors may add consumers (the admin, the import)
        ("put", 403, 405),
        ("patch", 403, 405),
        ("delete", 403, 403),
    ],
)
def test_the_consumer_endpoint_is_read_only(
    method: str,
    agent_status: int,
    supervisor_status: int,
    agent: User,
    supervisor: User,
    consumer: Consumer,
    client_for: Callable[[User], Client],
) -> None:
    body = {"display_name": "改名", "credit_score": 1000}
    for user, status in ((agent, agent_status), (supervisor, supervisor_status)):
        response = getattr(client_for(user), method)(URL, body, content_type="application/json")
        assert response.status_code == status

    consumer.refresh_from_db()
    assert (consumer.display_name, consumer.credit_score) == ("王小明", 812)
    assert Consumer.objects.count() == 1


def test_the_schema_documents_the_consumer_endpoint(agent: User, client_for: Callable[[User], Client]) -> None:
    response = client_for(agent).get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"})

    assert response.status_code == 200
    assert set(response.json()["paths"]["/api/consumers/{external_id}/"]) == {"get"}


def test_the_consumer_endpoint_costs_the_same_queries_for_one_flag_or_many(
    agent: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    RiskFlag.objects.filter(consumer=consumer).exclude(kind=RiskFlag.Kind.EXTORTION).delete()
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(URL).json()["risk_flags"]) == 1
    for kind in (RiskFlag.Kind.NEGATIVE_BURST, RiskFlag.Kind.NEGATIVE_THEN_REFUND, RiskFlag.Kind.DUPLICATE_TEXT):
        RiskFlag.objects.create(consumer=consumer, kind=kind, detected_at=datetime(2026, 2, 1, tzinfo=UTC))
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(URL).json()["risk_flags"]) == 4
    assert len(one) == len(many)
