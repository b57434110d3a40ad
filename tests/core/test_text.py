from __future__ import annotations

import pytest

from core.text import mask_phone, mask_pii, normalize


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
