from __future__ import annotations

import pytest

from core.text import Masked, mask_phone, mask_pii, masked, normalize, pii_spans


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13800138000", "138****8000"),
        ("138 0013 8000", "138****8000"),
        ("+86 138-0013-8000", "861******8000"),
        ("12345", "1***5"),
        ("123", "***"),
        ("", ""),
        ("not a number", ""),
    ],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_mask_pii_masks_phone_id_and_card_numbers_in_free_text() -> None:
    text = "我的手机13912345678，身份证110105199001011234，卡号6222 0212 3456 7890 123，订单号20240101"
    assert mask_pii(text) == ("我的手机139****5678，身份证110***********1234，卡号**** **** **** 0123，订单号20240101")


def test_mask_pii_leaves_text_without_numbers_alone() -> None:
    assert mask_pii("不退款就差评") == "不退款就差评"


def test_normalize_folds_width_case_and_spaces() -> None:
    assert normalize("ＡＢＣ　退款\t\n Refund  ") == "abc 退款 refund"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # The free text an agent saw verbatim (issue: personal numbers leak in free text).
        (
            "我的手机13912345678 身份证110101199003071234 卡号6222020200112233445",
            "我的手机139****5678 身份证110***********1234 卡号**** **** **** 3445",
        ),
        ("号码是一三八一二三四五六七八", "号码是138****5678"),
        ("幺三九幺二三四五六七八", "139****5678"),
        ("１３９１２３４５６７８", "139****5678"),
        ("1 3 8 1 2 3 4 5 6 7 8", "138****5678"),
        ("1381 234 5678", "138****5678"),
        ("+86 139-1234-5678", "+86 139****5678"),
        ("call me on one three eight one two three four five six seven eight", "call me on 138****5678"),
        ("one three eight double one two three four five six seven", "138****4567"),
        ("身份证11010519900101123X", "身份证110***********123X"),
        ("卡号 6222 0202 0011 2233", "卡号 **** **** **** 2233"),
    ],
)
def test_mask_pii_finds_numbers_however_they_are_written(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "订单号 202412071234567890 还没到",  # an 18-digit order number is not an ID number
        "订单号2024120712345678901",  # nor is a 19-digit one a card
        "order 6222020200112233445 is late",
        "13912345678901",  # a phone's digits inside a longer number
        "价格 12 元 3 件，one two three",
        "202412071234567890",  # 18 digits without a valid birth date
    ],
)
def test_mask_pii_leaves_order_numbers_and_counts_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_pii_spans_point_at_the_raw_text_and_can_be_limited_by_kind() -> None:
    text = "手机一三八一二三四五六七八，卡号6222020200112233445"
    spans = pii_spans(text)
    assert [(text[s.start : s.end], s.kind) for s in spans] == [
        ("一三八一二三四五六七八", "phone"),
        ("6222020200112233445", "card"),
    ]
    assert [s.kind for s in pii_spans(text, kinds=["card"])] == ["card"]


def test_masked_maps_places_of_the_original_to_the_masked_text() -> None:
    text = "手机13912345678，卡号6222020200112233445。"
    hidden = masked(text)
    assert hidden.text == "手机139****5678，卡号**** **** **** 3445。"
    assert (hidden.at(0), hidden.at(2), hidden.at(13), hidden.at(len(text))) == (0, 2, 13, len(hidden.text))
    # Inside a number: the edge of its mask.
    assert (hidden.at(5), hidden.at(5, end=True)) == (2, 13)
    card = text.index("6222")
    assert (hidden.at(card + 3), hidden.at(card + 3, end=True)) == (16, 35)
    assert hidden.text[hidden.at(len(text) - 1)] == "。"
    assert masked("") == Masked("")
