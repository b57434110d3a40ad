from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from qa import searching
from qa.models import Transcript
from qa.searching import Filters, SearchSyntaxError
from tests.qa import factories

# Words of customer-service talk, with the stopwords (了, 的) that jieba's analyzer would drop.
WORDS = [
    "我",
    "要",
    "申请",
    "退款",
    "全额",
    "退",
    "款",
    "说了",
    "多少遍",
    "了",
    "的",
    "爱买不买",
    "快递",
    "没有",
    "收到",
    "你们",
    "客服",
    "怎么",
    "回事",
    "订单",
    "号",
    "请",
    "稍等",
    "好的",
    "谢谢",
    "多少",
    "遍",
    "买",
    "不",
    "爱",
    "说",
    "额",
    "全",
    "refund",
    "please",
    "order",
    "delivery",
]


@pytest.fixture
def index() -> Iterator[None]:
    searching.INDEX.clear()
    yield
    searching.INDEX.clear()


def index_all() -> None:
    searching.index_transcripts(Transcript.objects.values_list("id", flat=True))


@pytest.mark.django_db
def test_phrase_search_hits_exactly_the_segments_containing_the_phrase(index: None) -> None:
    rng = random.Random(7)
    texts = []
    for _ in range(150):
        lines = []
        for _ in range(10):
            text = "".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
            lines.append(("consumer", text))
            texts.append(text)
        factories.transcript(lines)
    index_all()
    for phrase in ["全额退款", "说了多少遍", "爱买不买", "退款", "了", "收到你们", "多少遍了", "买不买"]:
        truth = sum(phrase in text for text in texts)
        assert truth > 0, phrase
        page = searching.search(f'"{phrase}"', per_page=1000)
        assert page.total == truth, phrase
        assert all(phrase in hit.highlighted for hit in page.hits)
        # Unquoted, a Chinese word is a phrase too.
        assert searching.search(phrase, per_page=1).total == truth, phrase


@pytest.mark.django_db
def test_boolean_operators_fields_and_filters(index: None, make_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = make_user("alice"), make_user("bob")
    old = timezone.now() - timedelta(days=10)
    factories.transcript([("agent", "您好，请问有什么可以帮您"), ("consumer", "我要退款")], agent=alice)
    factories.transcript([("agent", "稍等"), ("consumer", "快递没有收到，我要投诉")], agent=bob, started_at=old)
    factories.transcript([("consumer", "I want a refund for my orders")], agent=bob, kind="chat")
    index_all()

    def found(q: str, **filters: object) -> list[str]:
        return sorted(h.highlighted for h in searching.search(q, Filters(**filters)).hits)  # type: ignore[arg-type]

    assert found("退款 OR 投诉") == ["快递没有收到，我要<mark>投诉</mark>", "我要<mark>退款</mark>"]
    assert found("我要 AND NOT 投诉") == ["<mark>我要</mark>退款"]
    assert found("speaker:agent 稍等") == ["<mark>稍等</mark>"]
    assert found("我要", agent=alice.pk) == ["<mark>我要</mark>退款"]
    assert found("我要", since=(timezone.now() - timedelta(days=2)).date()) == ["<mark>我要</mark>退款"]
    assert found("我要", until=(timezone.now() - timedelta(days=5)).date()) == ["快递没有收到，<mark>我要</mark>投诉"]
    # English is stemmed: refunds finds refund, order finds orders.
    assert found('"refunds for my order"', kind="chat") == ["I want a <mark>refund for my orders</mark>"]


@pytest.mark.django_db
def test_search_masks_pii_unless_asked_not_to(index: None) -> None:
    factories.transcript([("agent", "您的手机号是13800138000对吗")])
    index_all()
    assert searching.search("手机号").hits[0].highlighted == "您的<mark>手机号</mark>是138****8000对吗"
    assert "13800138000" in searching.search("手机号", mask=False).hits[0].highlighted


@pytest.mark.django_db
def test_reindexing_a_replaced_transcript_leaves_no_stale_segments(index: None) -> None:
    first = factories.transcript([("consumer", "旧的内容")], external_id="ext-1")
    index_all()
    factories.transcript([("consumer", "新的内容")], external_id="ext-1")
    searching.index_transcripts([first.pk])
    assert searching.search("旧的").total == 0
    assert searching.search("新的").total == 1


@pytest.mark.parametrize("text", ["date:[tomorrow to", "date:notadate", "", "   "])
def test_bad_query_syntax_is_a_clear_error(text: str) -> None:
    with pytest.raises(SearchSyntaxError):
        searching.parse(text)


def test_highlight_escapes_html() -> None:
    assert searching.highlight("<b>退款</b>", [["退款"]]) == "&lt;b&gt;<mark>退款</mark>&lt;/b&gt;"


@pytest.mark.django_db
def test_reindex_command_rebuilds_from_the_database(index: None) -> None:
    from io import StringIO

    from django.core.management import call_command

    first = factories.transcript([("consumer", "全额退款")])
    factories.transcript([("agent", "稍等"), ("consumer", "谢谢")])
    searching.index_transcripts([first.pk])
    searching.index_transcripts([first.pk])  # indexing twice replaces, never duplicates
    assert searching.search("退款").total == 1
    out = StringIO()
    call_command("reindex", quiet=True, stdout=out)
    assert "Indexed 3 segments of 2 transcripts." in out.getvalue()
    assert (searching.search("退款").total, searching.search("谢谢").total) == (1, 1)
    assert not Transcript.objects.filter(indexed_at=None).exists()
