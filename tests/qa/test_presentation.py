"""QA passages are masked whole before they are marked or cut: no number survives in pieces."""

from __future__ import annotations

from qa.presentation import marked, passage

SAID = "我的手机13912345678 身份证110101199003071234 卡号6222020200112233445 一三八一二三四五六七八"


def test_a_mark_inside_a_number_covers_its_whole_mask() -> None:
    start = SAID.index("1391") + 3  # a keyword rule matched "1234" inside the phone number
    html = passage(SAID, start, start + 4, mask=True, context=None)
    assert html == ("我的手机<mark>139****5678</mark> 身份证110***********1234 卡号**** **** **** 3445 138****5678")


def test_a_cut_never_leaves_digits_of_a_number_whole() -> None:
    start = SAID.index("卡号")
    html = passage(SAID, start, start + 2, mask=True, context=8)
    assert html == "…***1234 <mark>卡号</mark>**** ***…"  # cut apart first, "62220202" would have been shown
    assert passage(SAID, start, start + 2, mask=False, context=8) == "…<mark>卡号</mark>62220202…"


def test_marked_spans_over_numbers_in_chinese_numerals_mark_the_mask() -> None:
    start = SAID.index("一三八")
    html = marked(SAID, [(start + 1, start + 3, "rule"), (SAID.index("手机"), SAID.index("手机") + 2, "pii")],
                  mask=True)  # fmt: skip
    assert html == (
        '我的<mark title="pii">手机</mark>139****5678 身份证110***********1234 卡号**** **** **** 3445 '
        '<mark title="rule">138****5678</mark>'
    )
    whole = marked(SAID, [(start, start + 3, "rule")], mask=False)
    assert whole.endswith('<mark title="rule">一三八</mark>一二三四五六七八')
