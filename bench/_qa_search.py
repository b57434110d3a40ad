"""The kinds of query bench/qa_search.py times, as a supervisor types them on the search page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

TERM_QUERIES = ["退款", "物流", "快递", "投诉", "发票", "地址", "赔偿", "售后", "签收", "换货", "会员", "运费", "经理",
                "律师", "抱歉", "差评"]  # fmt: skip
PHRASE_QUERIES = ['"全额退款"', '"说了多少遍"', '"七天无理由退货"', '"物流信息"', '"原路退回"', '"工作日"',
                  '"我要投诉你"', '"质量问题"', '"转运中心"', '"充电宝鼓包"', '"加我微信"', '"不在家"']  # fmt: skip
BOOLEAN_QUERIES = ["退款 AND NOT 运费", "投诉 AND 经理", "快递 OR 物流", "(退款 OR 退货) AND NOT 质量", "发票 NOT 电子",
                   "差评 AND 退款", '"全额退款" AND NOT 优惠券', "律师 OR 起诉 OR 12315"]  # fmt: skip
FILTERED_QUERIES = ["退款", '"全额退款"', "抱歉", "快递", "优惠券", "微信"]
ENGLISH_QUERIES = ["refund", "iPhone", "tracking", "PayPal", "email", "manager", "sorry", '"tracking number"']


def query_sets() -> dict[str, list[tuple[str, Any]]]:
    """The kinds of query a supervisor types on the search page, with the page's filters."""
    from django.utils import timezone

    from qa.search_query import Filters

    none = Filters()
    today = timezone.localdate()
    week = Filters(speaker="agent", since=today - timedelta(days=7), until=today)
    return {
        "term": [(q, none) for q in TERM_QUERIES],
        "phrase": [(q, none) for q in PHRASE_QUERIES],
        "boolean": [(q, none) for q in BOOLEAN_QUERIES],
        "filtered (agent, last 7 days)": [(q, week) for q in FILTERED_QUERIES],
        "english": [(q, none) for q in ENGLISH_QUERIES],
    }
