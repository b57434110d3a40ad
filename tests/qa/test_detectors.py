"""The rule engine's sharper detectors: negation before a match, proximity across a speaker's turns,
the PII detector's parts chosen per rule, and a held-out style check of labelled calls."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from qa import evaluation
from qa.matching import Hit, RuleSet, RuleSetError, RuleSpec
from qa.models import Finding, Rule, RuleVersion
from tests.qa import factories


def hits(spec: RuleSpec, *segments: tuple[str, str]) -> list[Hit]:
    return RuleSet([spec]).match(list(segments))


PROMISE = RuleSpec(
    1, "proximity", speaker="agent", terms=["保证", "一定"], near_terms=["退款"], distance=4,
    negations=["没法", "不能", "无法", "不敢"], negation_window=2,
)  # fmt: skip


def test_a_negation_just_before_the_match_means_no_promise() -> None:
    assert hits(PROMISE, ("agent", "这个我没法保证退款")) == []
    assert hits(PROMISE, ("agent", "我不能保证给您退款")) == []
    assert hits(PROMISE, ("agent", "无法 保证 退款")) == []
    found = hits(PROMISE, ("agent", "我保证给您退款"))
    assert [(h.start, h.end, h.text) for h in found] == [(1, 7, "保证给您退款")]


def test_a_negation_counts_only_within_its_window_and_only_before_the_match() -> None:
    # 没法 ends three tokens before 保证: outside a window of 2, so the promise stands.
    assert [h.text for h in hits(PROMISE, ("agent", "没法说别的，保证退款"))] == ["保证退款"]
    # After the match a negation changes nothing ("I promise the refund, nothing else can be done").
    assert [h.text for h in hits(PROMISE, ("agent", "保证退款，别的没法"))] == ["保证退款"]
    # Only the negated one of two promises in a turn is dropped.
    found = hits(PROMISE, ("agent", "运费没法保证退款，货款一定退款"))
    assert [h.text for h in found] == ["一定退款"]


def test_a_negation_term_that_contains_the_match_negates_it() -> None:
    spec = RuleSpec(2, "keyword", terms=["保证"], negations=["不保证"], negation_window=0)
    assert hits(spec, ("agent", "我们不保证")) == []
    assert [h.text for h in hits(spec, ("agent", "我们保证"))] == ["保证"]


def test_negation_applies_to_keywords_regexes_and_personal_numbers() -> None:
    keyword = RuleSpec(3, "keyword", terms=["refund"], negations=["no"], negation_window=1)
    assert hits(keyword, ("agent", "no full refund")) == []
    assert [h.text for h in hits(keyword, ("agent", "a full refund"))] == ["refund"]
    regex = RuleSpec(4, "regex", pattern=r"加.{0,2}微信", negations=["不要"], negation_window=0)
    assert hits(regex, ("agent", "请不要加微信")) == []
    pii = RuleSpec(5, "pii", negations=["尾号"], negation_window=0)
    assert hits(pii, ("agent", "尾号13800138000")) == []


def test_call_scope_pairs_one_speakers_turns_across_the_call() -> None:
    spec = RuleSpec(6, "proximity", speaker="agent", terms=["保证"], near_terms=["退款"], distance=4, scope="call")
    call = [("agent", "您放心，我保证"), ("consumer", "真的吗？那退款呢"), ("agent", "给您退款")]
    found = hits(spec, *call)
    # 保证 ends turn 0; 给您 are the agent's 2 tokens before 退款: the consumer's words do not count.
    assert [(h.segment, h.start, h.end, h.text) for h in found] == [(0, 5, 7, "保证")]
    # The same turns, one segment at a time (the default scope), find nothing.
    assert hits(RuleSpec(6, "proximity", speaker="agent", terms=["保证"], near_terms=["退款"], distance=4), *call) == []


def test_call_scope_needs_both_from_one_speaker_within_the_distance() -> None:
    spec = RuleSpec(7, "proximity", speaker="any", terms=["保证"], near_terms=["退款"], distance=3, scope="call")
    # A from the agent, B from the consumer: two speakers, no pair.
    assert hits(spec, ("agent", "我保证"), ("consumer", "退款")) == []
    # Too far: 4 of the agent's tokens between them.
    assert hits(spec, ("agent", "我保证"), ("agent", "今天给您退款")) == []
    # Within one turn the span covers both, as in the segment scope.
    assert [(h.segment, h.text) for h in hits(spec, ("consumer", "嗯"), ("agent", "保证退款"))] == [(1, "保证退款")]


def test_call_scope_honours_negations_in_the_turn_of_each_term() -> None:
    spec = RuleSpec(8, "proximity", speaker="agent", terms=["保证"], near_terms=["退款"], distance=6, scope="call",
                    negations=["没法"], negation_window=1)  # fmt: skip
    assert hits(spec, ("agent", "这个没法保证"), ("agent", "退款要审核")) == []
    assert [h.segment for h in hits(spec, ("agent", "这个能保证"), ("agent", "退款要审核"))] == [0]


def test_a_pii_rule_finds_only_the_kinds_of_number_it_names() -> None:
    text = ("agent", "手机13800138000，身份证110101199003074578，卡号6222 0212 3456 7890 123")
    phones = hits(RuleSpec(9, "pii", pii_kinds=("phone",)), text)
    assert [h.text for h in phones] == ["13800138000"]
    cards_and_ids = hits(RuleSpec(9, "pii", pii_kinds=("id", "card")), text)
    assert [h.text for h in cards_and_ids] == ["110101199003074578", "6222 0212 3456 7890 123"]
    assert len(hits(RuleSpec(9, "pii"), text)) == 3  # all three by default


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (RuleSpec(1, "keyword", terms=["a"], negations=["不"]), "negation_window"),
        (RuleSpec(1, "required", terms=["您好"], negations=["不"], negation_window=1), "negations"),
        (RuleSpec(1, "keyword", terms=["a"], scope="call"), "scope"),
        (RuleSpec(1, "proximity", terms=["a"], near_terms=["b"], distance=1, scope="day"), "scope"),
        (RuleSpec(1, "pii", pii_kinds=()), "pii_kinds"),
        (RuleSpec(1, "pii", pii_kinds=("phone", "passport")), "pii_kinds"),
    ],
)
def test_bad_detector_settings_name_the_field(spec: RuleSpec, field: str) -> None:
    with pytest.raises(RuleSetError, match=f"^{field}:"):
        RuleSet([spec])


# --- A held-out style check ------------------------------------------------------------------------
# Six rules and labelled turns written for this test alone (none of the wording is in the demo or the
# other tests): each turn lists the rules that must fire on it, and no other may.

HELD_OUT_RULES = [
    RuleSpec(11, "proximity", speaker="agent", terms=["保证", "肯定", "包您"], near_terms=["退款", "赔偿", "退钱"],
             distance=5, negations=["没法", "不能", "无法", "不敢", "不好"], negation_window=2),
    RuleSpec(12, "pii", speaker="agent", pii_kinds=("phone",)),
    RuleSpec(13, "pii", speaker="agent", pii_kinds=("id", "card")),
    RuleSpec(14, "keyword", speaker="consumer", terms=["投诉", "曝光", "消协"], negations=["不想", "不会"],
             negation_window=1),
    RuleSpec(15, "proximity", speaker="agent", terms=["加我"], near_terms=["微信", "vx"], distance=6, scope="call"),
    RuleSpec(16, "phrase", speaker="agent", terms=["不是我的问题", "你自己去查"]),
]  # fmt: skip

HELD_OUT_CALL: list[tuple[str, str, set[int]]] = [
    ("agent", "您好，请问有什么可以帮您", set()),
    ("consumer", "我买的台灯不亮了，我要退钱", set()),
    ("agent", "您别急，这个肯定给您退款", {11}),
    ("agent", "运费这块我不好保证赔偿", set()),
    ("agent", "审核之前我没法保证退款", set()),
    ("consumer", "我不想投诉，就想快点解决", set()),
    ("consumer", "再拖我就去消协", {14}),
    ("agent", "您的手机是 1 3 9 1 2 3 4 5 6 7 8 吗", {12}),
    ("agent", "或者 1391-234-5678 这个号", {12}),
    ("agent", "one three nine one two three four five six seven eight", {12}),
    ("agent", "订单号 139123456781234567 我记下了", set()),
    ("agent", "运单 62220212345678901234 已经签收", set()),
    ("agent", "身份证 110101199003074578 核对无误", {13}),
    ("agent", "退款卡号 6222 0212 3456 7890 123", {13}),
    ("agent", "这个不是我的问题", {16}),
    ("agent", "物流信息你自己去查", {16}),
    ("agent", "要不你加我", {15}),
    ("consumer", "好的", set()),
    ("agent", "私人微信就行", set()),  # the pair's finding is on 加我, two turns up
    ("consumer", "我要曝光你们", {14}),
    ("agent", "我保证今天处理", set()),
    ("agent", "还有其他问题吗", set()),
]


def test_held_out_rules_find_exactly_the_labelled_turns() -> None:
    rules = RuleSet(HELD_OUT_RULES)
    found = {(h.segment, h.key) for h in rules.match([(speaker, text) for speaker, text, _ in HELD_OUT_CALL])}
    expected = {(index, key) for index, (_, _, keys) in enumerate(HELD_OUT_CALL) for key in keys}
    true_positives = found & expected
    assert (len(true_positives) / len(found), len(true_positives) / len(expected)) == (1.0, 1.0)
    assert found == expected


# --- The detectors' settings on a rule ---------------------------------------------------------------


def _form(**fields: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "name": "读号", "description": "", "kind": "pii", "terms": "", "near_terms": "", "distance": "",
        "scope": "segment", "negations": "", "negation_window": "", "pattern": "", "pii_kinds": ["phone"],
        "speaker": "agent", "category": "privacy", "severity": "4", "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0", **fields,
    }  # fmt: skip


@pytest.mark.django_db
def test_a_rules_detector_settings_are_edited_in_the_admin_versioned_and_used(
    client_for: Callable[[User], Client], supervisor: User
) -> None:
    client = client_for(supervisor)
    assert client.post(reverse("admin:qa_rule_add"), _form(active="on")).status_code == 302
    rule = Rule.objects.get(name="读号")
    assert (rule.pii_kinds, rule.version) == (["phone"], 1)
    call = factories.transcript([("agent", "手机13800138000，身份证110101199003074578")])
    evaluation.evaluate_transcripts([call.pk])
    assert list(Finding.objects.values_list("matched_text", flat=True)) == ["13800138000"]
    change = reverse("admin:qa_rule_change", args=[rule.pk])
    data = _form(pii_kinds=["card", "phone", "id"], **{"versions-INITIAL_FORMS": "1", "active": "on"})
    assert client.post(change, data).status_code == 302
    rule.refresh_from_db()
    assert (rule.pii_kinds, rule.version) == (["phone", "id", "card"], 2)
    assert RuleVersion.objects.get(rule=rule, number=1).pii_kinds == ["phone"]
    evaluation.evaluate_transcripts([call.pk])
    assert sorted(Finding.objects.values_list("matched_text", "rule_version__number")) == [
        ("110101199003074578", 2), ("13800138000", 1),
    ]  # fmt: skip
    refused = client.post(change, _form(pii_kinds=[], **{"versions-INITIAL_FORMS": "1"}))
    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["pii_kinds"]


@pytest.mark.django_db
def test_negations_and_call_scope_are_stored_and_a_hidden_field_does_not_start_a_version(
    client_for: Callable[[User], Client], supervisor: User
) -> None:
    client = client_for(supervisor)
    data = _form(name="承诺", kind="proximity", terms="保证", near_terms="退款", distance="4", scope="call",
                 negations="没法\n 不能 \n", negation_window="2", pii_kinds=[])  # fmt: skip
    assert client.post(reverse("admin:qa_rule_add"), data).status_code == 302
    rule = Rule.objects.get(name="承诺")
    assert (rule.scope, rule.negations, rule.negation_window, rule.pii_kinds) == (
        "call", ["没法", "不能"], 2, ["phone", "id", "card"],
    )  # fmt: skip
    change = reverse("admin:qa_rule_change", args=[rule.pk])
    assert client.post(change, {**data, "description": "新说明", "versions-INITIAL_FORMS": "1"}).status_code == 302
    rule.refresh_from_db()
    assert (rule.description, rule.version) == ("新说明", 1)
    missing = client.post(change, {**data, "negation_window": "", "versions-INITIAL_FORMS": "1"})
    assert list(missing.context["adminform"].form.errors) == ["negation_window"]
