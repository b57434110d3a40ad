"""Risk patterns: varied extortion wording found, honest complaints left alone, versions, backtests, refund holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from crm.models import Consumer, RiskFlag, RiskPattern, RiskPatternVersion
from crm.risk import detect_risk_flags
from crm.selectors import instant_refund_blocked
from crm.services import save_risk_pattern
from tests.crm import factories as f

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def reviewer(*texts: str, days_ago: float = 3) -> Consumer:
    who = f.consumer()
    for text in texts:
        at = NOW - timedelta(days=days_ago)
        f.review(f.order(who, f.merchant(), placed_at=at - timedelta(days=2)), (1, 1, 1), text, created_at=at)
    return who


def flags(who: Consumer) -> dict[str, str]:
    return dict(RiskFlag.objects.filter(consumer=who).values_list("kind", "status"))


@pytest.mark.parametrize(
    "text",
    [
        "不给我退钱我就差评到底",
        "退款，否则差评",
        "不 退 款 就 差 评！",
        "差评到你退款为止",
        "返现20元就改好评",
        "三天内不处理退款的话，等着收差评吧",
        "要么退款要么一星",
        "钱不退给我，我就天天差评",
        "给我赔50块，我就删差评",
        "再不退款我就发微博曝光你们",
    ],
)
def test_varied_extortion_wording_raises_an_extortion_flag_naming_the_pattern(text: str) -> None:
    who = reviewer(text)
    detect_risk_flags(now=NOW)

    assert flags(who) == {"extortion": "open"}
    evidence = RiskFlag.objects.get(consumer=who).evidence
    assert evidence["score"] >= 7 and evidence["reviews"] == 1
    assert len(evidence["patterns"]) == 1 and evidence["patterns"][0].endswith(" v1")


@pytest.mark.parametrize(
    "text",
    ["商家不给退款，差评", "质量太差，已经退款了，差评", "客服不处理问题，差评！", "不满意，退货了",
     "好评返现活动不错", "商家拒绝退款，我已经投诉到平台了", "不退不换的东西别买，差评",
     "商家不退款就算了，还骂人，差评"],
)  # fmt: skip
def test_honest_complaints_about_refunds_raise_no_flag(text: str) -> None:
    who = reviewer(text)
    detect_risk_flags(now=NOW)
    assert flags(who) == {}


def test_the_pattern_window_is_a_year_and_ends_at_the_reference_time() -> None:
    edge, old, later = (
        reviewer("不退款就差评", days_ago=200),
        reviewer("不退款就差评", days_ago=400),
        reviewer("不退款就差评", days_ago=-1),
    )
    detect_risk_flags(now=NOW)
    assert (flags(edge), flags(old), flags(later)) == ({"extortion": "open"}, {}, {})


def test_two_abusive_reviews_raise_an_abuse_flag_and_one_does_not() -> None:
    twice, once = reviewer("什么垃圾店，去死吧", "死全家的商家"), reviewer("去死吧")
    detect_risk_flags(now=NOW)
    assert (flags(twice), flags(once)) == ({"abuse": "open"}, {})


def test_editing_a_definition_freezes_a_new_version_and_a_rename_does_not(supervisor: User) -> None:
    pattern = save_risk_pattern(RiskPattern(name="新话术", match="phrase", terms="拉黑你家\n"), by=supervisor)
    pattern.terms = "拉黑你家\n全网拉黑\n"
    save_risk_pattern(pattern, by=supervisor)
    pattern.name = "新话术（拉黑）"
    save_risk_pattern(pattern, by=supervisor)

    assert pattern.version == 2
    assert list(RiskPatternVersion.objects.filter(pattern=pattern).values_list("number", "terms", "created_by")) == [
        (2, "拉黑你家\n全网拉黑\n", supervisor.pk),
        (1, "拉黑你家\n", supervisor.pk),
    ]


def test_a_bad_definition_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as bad_regex:
        save_risk_pattern(RiskPattern(name="坏", match="regex", terms="(退款"))
    with pytest.raises(ValidationError) as no_near:
        save_risk_pattern(RiskPattern(name="坏2", match="proximity", terms="退款"))
    assert list(bad_regex.value.message_dict) == ["terms"]
    assert list(no_near.value.message_dict) == ["near_terms"]
    assert not RiskPattern.objects.filter(name__in=["坏", "坏2"]).exists()


def test_a_pattern_added_in_the_admin_catches_new_wording_and_an_inactive_one_nothing(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    who = reviewer("不给我办好就全网拉黑你家")
    detect_risk_flags(now=NOW)
    assert flags(who) == {}
    response = client_for(supervisor).post(
        "/admin/crm/riskpattern/add/",
        {"name": "拉黑", "description": "", "flag": "extortion", "match": "phrase", "terms": "全网拉黑",
         "near_terms": "", "then_terms": "", "distance": "12", "weight": "6", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    RiskPattern.objects.exclude(name="拉黑").update(active=False)
    detect_risk_flags(now=NOW)
    assert flags(who) == {"extortion": "open"}
    assert RiskPatternVersion.objects.get(pattern__name="拉黑").number == 1


def test_an_open_extortion_flag_with_a_high_score_holds_instant_refunds_until_cleared(supervisor: User) -> None:
    strong, weak, burst = f.consumer(), f.consumer(), f.consumer()
    RiskFlag.objects.create(consumer=strong, kind="extortion", evidence={"score": 8}, detected_at=NOW)
    RiskFlag.objects.create(consumer=weak, kind="extortion", evidence={"score": 5}, detected_at=NOW)
    RiskFlag.objects.create(consumer=burst, kind="negative_burst", evidence={"reviews": 9}, detected_at=NOW)

    assert [instant_refund_blocked(who) for who in (strong, weak, burst)] == [True, False, False]
    RiskFlag.objects.filter(consumer=strong).update(status="cleared")
    RiskFlag.objects.filter(consumer=burst).update(status="confirmed")
    assert [instant_refund_blocked(who) for who in (strong, weak, burst)] == [False, False, True]


def test_the_backtest_page_shows_what_the_patterns_find_and_writes_nothing(
    supervisor: User, agent: User, client_for: Callable[[User], Client]
) -> None:
    reviewer("退款，否则差评", days_ago=1)  # NOW is some months before the page's now: 400 days reach it
    reviewer("物流很快", days_ago=1)
    page = client_for(supervisor).get(
        "/admin/crm/riskpattern/backtest/", {"days": "400"}, headers={"Accept-Language": "en"}
    )

    assert page.status_code == 200
    outcome = page.context["outcome"]
    assert outcome.reviews_scanned == 2
    assert {r.name: (r.reviews, r.consumers) for r in outcome.patterns}["退款否则差评 (pay, or else)"] == (1, 1)
    assert outcome.would_flag == {"extortion": 1} and outcome.already_flagged == {"extortion": 0}
    assert "RISK_PATTERN_LOOKBACK_DAYS" in page.content.decode()
    assert not RiskFlag.objects.exists()
    assert client_for(agent).get("/admin/crm/riskpattern/backtest/").status_code == 403


def test_a_short_text_copied_to_several_shops_is_a_copied_text() -> None:
    copier = reviewer("垃圾", "垃圾！", "垃 圾")
    twice = reviewer("差差差", "差差差")
    detect_risk_flags(now=NOW)
    assert (flags(copier), flags(twice)) == ({"duplicate_text": "open"}, {})
