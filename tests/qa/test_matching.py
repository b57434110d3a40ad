from __future__ import annotations

import pytest

from qa.matching import Hit, RuleSet, RuleSetError, RuleSpec
from qa.normalising import normalise


def hits(spec: RuleSpec, *segments: tuple[str, str]) -> list[Hit]:
    return RuleSet([spec]).match(list(segments))


def test_keyword_matches_inside_chinese_words_whatever_the_segmentation() -> None:
    found = hits(RuleSpec(1, "keyword", terms=["退款"]), ("consumer", "我要申请退款"))
    assert [(h.segment, h.start, h.end, h.text) for h in found] == [(0, 4, 6, "退款")]


def test_keyword_is_any_of_the_list_and_folds_width_case_and_spaces() -> None:
    spec = RuleSpec(1, "keyword", terms=["退款", "Refund"])
    found = hits(spec, ("consumer", "我要 退 款"), ("consumer", "ＲＥＦＵＮＤ now"), ("agent", "好的"))
    assert [(h.segment, h.text) for h in found] == [(0, "退 款"), (1, "ＲＥＦＵＮＤ")]


def test_english_keywords_match_whole_words_only() -> None:
    spec = RuleSpec(1, "keyword", terms=["agent"])
    assert hits(spec, ("consumer", "the agents and a reagent")) == []
    assert [h.text for h in hits(spec, ("consumer", "give me an Agent."))] == ["Agent"]


def test_phrase_matches_chinese_with_stopwords_and_english_across_spaces() -> None:
    spec = RuleSpec(2, "phrase", terms=["说了多少遍", "not my  problem"])
    found = hits(spec, ("agent", "我都说了多少遍了"), ("agent", "That is NOT my problem, sir"))
    assert [h.text for h in found] == ["说了多少遍", "NOT my problem"]


def test_a_longer_term_swallows_a_shorter_one_of_the_same_rule() -> None:
    found = hits(RuleSpec(1, "keyword", terms=["退款", "全额退款"]), ("consumer", "要求全额退款"))
    assert [h.text for h in found] == ["全额退款"]


def test_proximity_counts_tokens_between_the_two_matches() -> None:
    spec = RuleSpec(3, "proximity", terms=["退款"], near_terms=["投诉"], distance=3)
    assert [h.text for h in hits(spec, ("consumer", "不退款我就去投诉"))] == ["退款我就去投诉"]  # 3 between
    assert hits(spec, ("consumer", "不退款的话我就去投诉")) == []  # 5 between
    english = RuleSpec(3, "proximity", terms=["refund"], near_terms=["lawyer"], distance=2)
    assert [h.text for h in hits(english, ("consumer", "my lawyer wants the refund"))] == ["lawyer wants the refund"]
    assert hits(english, ("consumer", "my lawyer says that you owe a refund")) == []


def test_proximity_needs_both_sides_in_the_same_segment() -> None:
    spec = RuleSpec(3, "proximity", terms=["退款"], near_terms=["投诉"], distance=10)
    assert hits(spec, ("consumer", "退款"), ("consumer", "投诉")) == []


def test_regex_runs_on_normalised_text_and_reports_raw_offsets() -> None:
    spec = RuleSpec(4, "regex", pattern=r"订单号?\s?\d{6,}")
    found = hits(spec, ("agent", "您的 订单 号 123456789 已经发货"))
    assert [(h.start, h.end, h.text) for h in found] == [(3, 17, "订单 号 123456789")]


def test_required_phrase_absence_is_one_finding_and_presence_none() -> None:
    spec = RuleSpec(5, "required", speaker="agent", terms=["您好", "hello"])
    assert hits(spec, ("agent", "HELLO, how can I help"), ("consumer", "hi")) == []
    assert hits(spec, ("agent", "有什么事"), ("consumer", "您好")) == [Hit(5, None, 0, 0, "")]
    # The agent never spoke (a bot-only chat): nothing is missing.
    assert hits(spec, ("consumer", "在吗"), ("bot", "您好")) == []


def test_speaker_scope_limits_which_segments_a_rule_reads() -> None:
    spec = RuleSpec(1, "keyword", speaker="agent", terms=["滚"])
    assert [h.segment for h in hits(spec, ("consumer", "滚"), ("agent", "你滚"))] == [1]


def test_pii_read_out_is_found_in_digits_and_spoken_chinese_digits() -> None:
    spec = RuleSpec(6, "pii", speaker="agent")
    found = hits(
        spec,
        ("agent", "您的手机是 138 0013 8000 对吗"),
        ("agent", "号码一三八零零一三八零零零"),
        ("agent", "身份证110101199003074578，卡号6222 0212 3456 7890 123"),
        ("consumer", "我的是13800138000"),
    )
    assert [(h.segment, h.text) for h in found] == [
        (0, "138 0013 8000"),
        (1, "一三八零零一三八零零零"),
        (2, "110101199003074578"),
        (2, "6222 0212 3456 7890 123"),
    ]


def test_one_pass_serves_many_rules_sharing_terms() -> None:
    rules = RuleSet(
        [
            RuleSpec(1, "keyword", terms=["退款"]),
            RuleSpec(2, "phrase", terms=["全额退款"]),
            RuleSpec(3, "proximity", terms=["退款"], near_terms=["投诉"], distance=5),
        ]
    )
    found = rules.match([("consumer", "不给全额退款就投诉")])
    assert sorted((h.key, h.text) for h in found) == [(1, "退款"), (2, "全额退款"), (3, "退款就投诉")]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (RuleSpec(1, "keyword", terms=[" "]), "terms"),
        (RuleSpec(1, "proximity", terms=["a"], distance=2), "near_terms"),
        (RuleSpec(1, "proximity", terms=["a"], near_terms=["b"]), "distance"),
        (RuleSpec(1, "regex", pattern="(unclosed"), "pattern"),
    ],
)
def test_bad_rule_definitions_name_the_field(spec: RuleSpec, field: str) -> None:
    with pytest.raises(RuleSetError, match=f"^{field}:"):
        RuleSet([spec])


def test_normalise_maps_every_character_back_to_the_raw_text() -> None:
    raw = "Ｈｅｌｌｏ  World\t退 款！"
    norm = normalise(raw)
    assert norm.text == "hello world退款!"
    assert [raw[i] for i in norm.offsets] == [*list("Ｈｅｌｌｏ"), " ", *list("World"), "退", "款", "！"]
