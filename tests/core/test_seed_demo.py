from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from core import roles
from core.demo import DEMO_LOGINS
from core.models import DemoDataset
from core.seeding import analyze_changed
from crm.models import Consumer, CreditRating, CreditTier, Order, Review, RiskFlag
from merchants.models import Merchant, MerchantMembership, MerchantScore
from tickets import demo as tickets_demo
from tickets.models import Ticket


def _seed(**options: object) -> str:
    out = StringIO()
    call_command("seed_demo", quiet=True, stdout=out, **options)
    return out.getvalue()


def _snapshot() -> tuple[list[tuple[object, ...]], ...]:
    return (
        list(
            Consumer.objects.order_by("external_id").values_list(
                "external_id", "display_name", "phone", "registered_at"
            )
        ),
        list(Merchant.objects.order_by("code").values_list("code", "name", "category", "city", "opened_at")),
        list(
            Order.objects.order_by("order_no").values_list(
                "order_no", "consumer__external_id", "merchant__code", "item_title", "amount", "status", "placed_at"
            )
        ),
    )


@pytest.mark.django_db
def test_seed_demo_loads_chinese_marketplace_data_at_the_requested_scale() -> None:
    output = _seed(scale=2, seed=7)
    malicious_orders = Order.objects.filter(order_no__contains="E").count()
    assert (Consumer.objects.count(), Merchant.objects.count()) == (400, 12)
    assert Order.objects.count() == 4000 + malicious_orders and malicious_orders % 6 == 0 and malicious_orders > 0
    assert f"{4000 + malicious_orders:,} orders" in output
    merchant = Merchant.objects.first()
    assert merchant is not None and merchant.name.endswith(("店", "铺"))
    assert all(len(phone) == 11 and phone.startswith("1") for phone in Consumer.objects.values_list("phone", flat=True))
    amounts = list(Order.objects.values_list("amount", flat=True))
    assert min(amounts) > 0 and all(a == a.quantize(a.__class__("0.01")) for a in amounts)
    counts = DemoDataset.objects.get().counts
    assert set(counts) >= {"users", "consumers", "merchants", "orders", "reviews", "risk flags", "tickets"}


@pytest.mark.django_db
def test_demo_tells_the_story_every_tier_flagged_reviewers_and_score_trends() -> None:
    _seed()
    tiers = set(Consumer.objects.values_list("tier__name", flat=True))
    assert tiers == set(CreditTier.objects.values_list("name", flat=True))
    assert RiskFlag.objects.filter(status="confirmed").exists() and RiskFlag.objects.filter(status="open").exists()
    assert all(flag.evidence.get("review_ids") for flag in RiskFlag.objects.all())
    assert set(RiskFlag.objects.values_list("kind", flat=True)) == set(RiskFlag.Kind.values)
    days_per_merchant = set(
        MerchantScore.objects.values("merchant").annotate(n=Count("day")).values_list("n", flat=True)
    )
    assert days_per_merchant == {30}
    assert len(set(MerchantScore.objects.values_list("service_score", flat=True))) > 5  # shops differ


@pytest.mark.django_db
def test_seed_demo_is_deterministic_for_a_seed() -> None:
    _seed(seed=3)
    first = _snapshot()
    from tests.demo_support import forget_higher_apps_demo
    from tickets.models import CannedReply, Department, RefundRequest, SLAPolicy, Ticket

    forget_higher_apps_demo()
    for model in (RefundRequest, Ticket, CannedReply, SLAPolicy, Department, MerchantScore, RiskFlag, Review,
                  CreditRating, Order, Consumer):  # fmt: skip
        model.objects.all().delete()
    MerchantMembership.objects.all().delete()
    Merchant.objects.all().delete()
    DemoDataset.objects.all().delete()
    _seed(seed=3)
    assert _snapshot() == first


@pytest.mark.django_db
def test_second_run_keeps_the_data_and_does_not_duplicate_it() -> None:
    _seed()
    counts = (Consumer.objects.count(), Order.objects.count(), User.objects.count())
    output = _seed()
    assert "already loaded" in output
    assert (Consumer.objects.count(), Order.objects.count(), User.objects.count()) == counts


@pytest.mark.django_db
@pytest.mark.parametrize(("options", "message"), [({"scale": 0}, "--scale"), ({"seed": 5000}, "--seed")])
def test_seed_demo_rejects_bad_arguments_and_writes_nothing(options: dict[str, int], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _seed(**options)
    assert not DemoDataset.objects.exists() and not Consumer.objects.exists()


@pytest.mark.django_db
def test_every_demo_login_can_sign_in_to_the_admin() -> None:
    _seed()
    for login in DEMO_LOGINS:
        client = Client()
        response = client.post("/admin/login/?next=/admin/", {"username": login.username, "password": login.password})
        assert response.status_code == 302, login.username
        home = client.get("/admin/")
        if login.role == roles.BUSINESS:  # business teams read the radio: their home is /radio/
            assert (home.status_code, home["Location"]) == (302, "/radio/")
            assert client.get("/radio/").status_code == 200
        else:
            assert home.status_code == 200, login.username


@pytest.mark.django_db
def test_demo_merchant_staff_belongs_to_a_demo_merchant() -> None:
    _seed()
    membership = MerchantMembership.objects.select_related("merchant").get(user__username="merchant")
    assert membership.merchant.code.startswith("M001")


@pytest.mark.django_db
def test_seed_demo_marks_the_dataset_finished_and_says_how_long_each_app_took() -> None:
    output = _seed()
    dataset = DemoDataset.objects.get()
    assert dataset.finished_at is not None and dataset.finished_at >= dataset.loaded_at
    assert re.search(r"\(core \d+\.\ds, crm \d+\.\ds, merchants \d+\.\ds, tickets \d+\.\ds, chat \d+\.\ds, "
                     r"qa \d+\.\ds, radio \d+\.\ds\)", output), output  # fmt: skip


@pytest.mark.django_db
def test_a_run_that_stopped_half_way_is_refused_and_nothing_is_loaded_over_it() -> None:
    DemoDataset.objects.create(seed=1, scale=1, counts={"users": 5})  # not finished
    with pytest.raises(CommandError, match="stopped before it finished"):
        _seed()
    assert DemoDataset.objects.count() == 1 and not Consumer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_each_app_commits_on_its_own_so_a_crash_keeps_the_apps_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(ctx: object) -> dict[str, int]:
        raise RuntimeError("the tickets demo crashed")

    monkeypatch.setattr(tickets_demo, "seed", crash)
    with pytest.raises(RuntimeError, match="crashed"):
        _seed()

    dataset = DemoDataset.objects.get()
    assert dataset.finished_at is None and {"users", "consumers", "orders"} <= set(dataset.counts)
    assert Consumer.objects.count() == 200 and Order.objects.exists() and not Ticket.objects.exists()
    with pytest.raises(CommandError, match="stopped before it finished"):
        _seed()


@pytest.mark.django_db
def test_what_a_transaction_wrote_is_analyzed_so_the_planner_knows_its_size() -> None:
    Consumer.objects.bulk_create(
        Consumer(external_id=f"A{i}", display_name="顾客", registered_at=timezone.now()) for i in range(300)
    )
    analyze_changed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'crm_consumer'")
        assert cursor.fetchone()[0] == 300
