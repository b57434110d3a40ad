"""Malicious reviewer detection: each rule, its evidence, the supervisor's verdict and its effects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from crm.models import Consumer, Review, RiskFlag
from crm.risk import detect_risk_flags
from crm.selectors import instant_refund_blocked
from crm.services import record_review, review_risk_flag, review_risk_flags
from tests.crm import factories as f

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def negative_reviews(who: Consumer, shops: int, per_shop: int = 1, *, start_days_ago: float = 5,
                     spread_hours: float = 12,
                     text: str | None = None) -> list[Review]:  # fmt: skip
    made = []
    for s in range(shops):
        shop = f.merchant()
        for k in range(per_shop):
            at = NOW - timedelta(days=start_days_ago) + timedelta(hours=spread_hours * (s * per_shop + k))
            # Different words each time unless given: a copied text is a rule of its own (duplicate_text).
            words = text or f"第{s * per_shop + k}次买，质量太差了"
            made.append(f.review(f.order(who, shop, placed_at=at - timedelta(days=3)), (1, 2, 2), words, created_at=at))
    return made


def flags(who: Consumer) -> dict[str, str]:
    return dict(RiskFlag.objects.filter(consumer=who).values_list("kind", "status"))


def test_negative_burst_needs_five_reviews_across_four_shops_within_seven_days() -> None:
    burst, too_few_shops, too_spread = f.consumer(), f.consumer(), f.consumer()
    reviews = negative_reviews(burst, shops=5)
    negative_reviews(too_few_shops, shops=3, per_shop=2)
    negative_reviews(too_spread, shops=5, start_days_ago=40, spread_hours=48)  # 5 reviews over 8 days
    detect_risk_flags(now=NOW)
    assert flags(burst) == {"negative_burst": "open"}
    assert flags(too_few_shops) == {} and flags(too_spread) == {}
    evidence = RiskFlag.objects.get(consumer=burst).evidence
    assert evidence["reviews"] == 5 and evidence["shops"] == 5
    assert evidence["review_ids"] == sorted(r.pk for r in reviews)


def test_negative_then_refund_needs_three_orders_with_the_refund_demand_after_the_review() -> None:
    leverage, honest = f.consumer(), f.consumer()
    for who, gap in ((leverage, timedelta(hours=20)), (honest, -timedelta(hours=20))):
        for words in ("一般", "还行吧", "凑合用"):  # different words: a copied text is a rule of its own
            reviewed = NOW - timedelta(days=10)
            o = f.order(who, f.merchant(), placed_at=reviewed - timedelta(days=3), refund_requested_at=reviewed + gap)
            f.review(o, (2, 2, 2), words, created_at=reviewed)
    detect_risk_flags(now=NOW)
    assert flags(leverage) == {"negative_then_refund": "open"}
    assert flags(honest) == {}  # asked for the refund first, then complained: not leverage
    assert RiskFlag.objects.get(consumer=leverage).evidence["orders"] == 3


@pytest.mark.parametrize(
    "text", ["不退款就差评，你们看着办", "不赔钱就投诉到平台", "返现20元就改好评", "差评等着吧走着瞧"]
)
def test_extortion_phrases_are_found_with_the_phrase_as_evidence(text: str) -> None:
    who = f.consumer()
    f.review(f.order(who, f.merchant()), (3, 3, 3), f"东西还行。{text}", created_at=NOW - timedelta(days=1))
    detect_risk_flags(now=NOW)
    assert flags(who) == {"extortion": "open"}
    assert RiskFlag.objects.get(consumer=who).evidence["phrases"][0] in text


def test_plain_complaints_are_not_extortion() -> None:
    who = f.consumer()
    f.review(f.order(who, f.merchant()), (1, 1, 1), "退款太慢了，给差评", created_at=NOW - timedelta(days=1))
    detect_risk_flags(now=NOW)
    assert flags(who) == {}


def test_duplicate_texts_ignore_spaces_case_and_punctuation() -> None:
    copier, unlucky = f.consumer(), f.consumer()
    for variant in ("垃圾商家，假货！千万别买", "垃圾商家 假货 千万别买!!", "垃圾商家假货。千万别买"):
        f.review(f.order(copier, f.merchant()), (1, 1, 1), variant, created_at=NOW - timedelta(days=3))
    only_shop = f.merchant()  # the same text three times to one shop: one bad shop, not a campaign
    for _ in range(3):
        f.review(f.order(unlucky, only_shop), (1, 1, 1), "垃圾商家假货千万别买", created_at=NOW - timedelta(days=3))
    detect_risk_flags(now=NOW)
    assert flags(copier) == {"duplicate_text": "open"}
    assert flags(unlucky) == {}
    assert RiskFlag.objects.get(consumer=copier).evidence["copies"] == 3


def test_detection_is_idempotent_and_refreshes_the_open_flag() -> None:
    who = f.consumer()
    negative_reviews(who, shops=5)
    detect_risk_flags(now=NOW)
    detect_risk_flags(now=NOW)
    assert RiskFlag.objects.filter(consumer=who).count() == 1
    negative_reviews(who, shops=1, start_days_ago=4)
    detect_risk_flags(now=NOW)
    flag = RiskFlag.objects.get(consumer=who)
    assert flag.evidence["reviews"] == 6


def test_a_cleared_flag_is_not_raised_again_without_newer_evidence(supervisor: User) -> None:
    who = f.consumer()
    negative_reviews(who, shops=5, start_days_ago=6)
    detect_risk_flags(now=NOW)
    review_risk_flag(RiskFlag.objects.get(consumer=who), status="cleared", reviewer=supervisor, note="误报")
    RiskFlag.objects.filter(consumer=who).update(reviewed_at=NOW)  # as if cleared at NOW
    detect_risk_flags(now=NOW)
    assert list(RiskFlag.objects.filter(consumer=who).values_list("status", flat=True)) == ["cleared"]
    negative_reviews(who, shops=5, start_days_ago=-1)  # a new burst after the clearing
    detect_risk_flags(now=NOW + timedelta(days=5))
    assert sorted(RiskFlag.objects.filter(consumer=who).values_list("status", flat=True)) == ["cleared", "open"]


def test_a_confirmed_flag_blocks_instant_refunds_and_holds_new_negative_reviews(supervisor: User) -> None:
    who = f.consumer()
    negative_reviews(who, shops=5)
    detect_risk_flags(now=NOW)
    assert instant_refund_blocked(who) is False  # open is only a suspicion
    review_risk_flag(RiskFlag.objects.get(consumer=who), status="confirmed", reviewer=supervisor, note="核实")
    assert instant_refund_blocked(who) is True
    shop = f.merchant()
    negative = record_review(f.order(who, shop), item_stars=1, service_stars=1, logistics_stars=2, text="差")
    positive = record_review(f.order(who, shop), item_stars=5, service_stars=5, logistics_stars=5, text="好")
    assert (negative.moderation, positive.moderation) == ("held", "published")


def test_flag_verdicts_follow_their_transitions(supervisor: User) -> None:
    who = f.consumer()
    negative_reviews(who, shops=5)
    detect_risk_flags(now=NOW)
    flag = RiskFlag.objects.get(consumer=who)
    review_risk_flag(flag, status="cleared", reviewer=supervisor)
    with pytest.raises(ValidationError) as error:
        review_risk_flag(flag, status="confirmed", reviewer=supervisor)
    assert "status" in error.value.message_dict
    with pytest.raises(ValidationError):
        review_risk_flag(flag, status="bogus", reviewer=supervisor)
    flag.refresh_from_db()
    assert flag.status == "cleared" and flag.reviewed_by == supervisor


def test_record_review_rejects_bad_stars_naming_the_field() -> None:
    o = f.order(f.consumer(), f.merchant())
    with pytest.raises(ValidationError) as error:
        record_review(o, item_stars=0, service_stars=6, logistics_stars=3)
    assert set(error.value.message_dict) == {"item_stars", "service_stars"}
    assert not Review.objects.exists()


def test_supervisor_confirms_in_the_admin_and_agent_cannot(
    supervisor: User, agent: User, client_for: Callable[[User], Client]
) -> None:
    who = f.consumer()
    negative_reviews(who, shops=5)
    detect_risk_flags(now=NOW)
    flag = RiskFlag.objects.get(consumer=who)
    data = {"action": "confirm", "_selected_action": [flag.pk]}
    agent_client = client_for(agent)
    assert 'value="confirm"' not in agent_client.get("/admin/crm/riskflag/").content.decode()
    agent_client.post("/admin/crm/riskflag/", data)  # not offered, so not done
    assert agent_client.get(f"/admin/crm/riskflag/{flag.pk}/change/").status_code == 200  # may look, read only
    flag.refresh_from_db()
    assert flag.status == "open"
    response = client_for(supervisor).post("/admin/crm/riskflag/", data)
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.status, flag.reviewed_by) == ("confirmed", supervisor)


def test_a_new_burst_after_clearing_is_raised_even_when_an_older_window_is_bigger(supervisor: User) -> None:
    who = f.consumer()
    negative_reviews(who, shops=7, start_days_ago=30, spread_hours=10)  # the bigger, older window
    detect_risk_flags(now=NOW)
    review_risk_flag(RiskFlag.objects.get(consumer=who), status="cleared", reviewer=supervisor)
    RiskFlag.objects.filter(consumer=who).update(reviewed_at=NOW - timedelta(days=10))
    negative_reviews(who, shops=5, start_days_ago=5)  # a smaller burst after the clearing
    detect_risk_flags(now=NOW)
    assert sorted(RiskFlag.objects.filter(consumer=who).values_list("status", flat=True)) == ["cleared", "open"]


def test_a_second_review_of_one_order_is_refused_by_the_constraint() -> None:
    o = f.order(f.consumer(), f.merchant())
    record_review(o, item_stars=5, service_stars=5, logistics_stars=5)
    with pytest.raises(ValidationError) as error:
        record_review(o, item_stars=1, service_stars=1, logistics_stars=1)
    assert "order" in error.value.message_dict
    assert Review.objects.filter(order=o).count() == 1


def test_flags_reviewed_together_follow_the_same_transitions_and_keep_a_typed_note(supervisor: User) -> None:
    first, second, third = f.consumer(), f.consumer(), f.consumer()
    for who in (first, second, third):
        negative_reviews(who, shops=5)
    detect_risk_flags(now=NOW)
    flags = {who: RiskFlag.objects.get(consumer=who) for who in (first, second, third)}
    review_risk_flag(flags[second], status="cleared", reviewer=supervisor, note="误报")
    RiskFlag.objects.filter(pk=flags[third].pk).update(note="页面上写的")

    assert review_risk_flags(flags.values(), status="confirmed", reviewer=supervisor) == 2
    got = {who: RiskFlag.objects.values_list("status", "note", "reviewed_by").get(consumer=who) for who in flags}
    assert got == {
        first: ("confirmed", "", supervisor.pk), second: ("cleared", "误报", supervisor.pk),
        third: ("confirmed", "页面上写的", supervisor.pk),
    }  # fmt: skip
    assert review_risk_flags(flags.values(), status="confirmed", reviewer=supervisor, note="核实") == 0
    with pytest.raises(ValidationError):
        review_risk_flags(flags.values(), status="bogus", reviewer=supervisor)
