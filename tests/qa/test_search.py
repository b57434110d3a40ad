"""Transcript search in PostgreSQL (qa.searching): truth, syntax, filters, plans, masking, the write path."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.search import tsvector
from qa import search_query, searching
from qa.models import Segment, SegmentSearch, Transcript
from qa.search_query import Filters, SearchSyntaxError
from qa.services import SegmentIn, save_transcript
from tests.qa import factories

pytestmark = pytest.mark.django_db

# Words of customer-service talk, with the stopwords (了, 的) that jieba's analyzer would drop.
WORDS = ["我", "要", "申请", "退款", "全额", "退", "款", "说了", "多少遍", "了", "的", "爱买不买", "快递", "没有",
         "收到", "你们", "客服", "怎么", "回事", "订单", "号", "请", "稍等", "好的", "谢谢", "多少", "遍", "买", "不",
         "爱", "说", "额", "全", "refund", "please", "order", "delivery", " ", "，"]  # fmt: skip


def corpus(transcripts: int, lines: int, *, seed: int = 7) -> list[str]:
    """Random talk saved through the import path; returns every segment's text."""
    rng = random.Random(seed)
    texts = []
    for _ in range(transcripts):
        segments = []
        for i in range(lines):
            text = "".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
            segments.append(SegmentIn("consumer", text, i * 5000, i * 5000 + 4000))
            texts.append(text)
        started = timezone.now() - timedelta(minutes=rng.randint(0, 60 * 24 * 30))
        save_transcript(kind="call", source="import", segments=segments, started_at=started)
    return texts


def found(q: str, **filters: object) -> list[str]:
    return sorted(h.highlighted for h in searching.search(q, Filters(**filters), per_page=1000).hits)  # type: ignore[arg-type]


def test_phrase_search_hits_exactly_the_segments_containing_the_phrase() -> None:
    texts = corpus(300, 10)
    assert SegmentSearch.objects.count() == 3000
    for phrase in ["全额退款", "说了多少遍", "爱买不买", "退款", "了", "收到你们", "多少遍了", "买不买", "款了"]:
        truth = sum(phrase in text for text in texts)
        assert truth > 0, phrase
        assert search_query.matching(f'"{phrase}"').count() == truth, phrase
        page = searching.search(f'"{phrase}"', per_page=1000)
        assert (page.total, page.capped) == (min(truth, searching.CAP), truth > searching.CAP), phrase
        assert all(phrase in hit.highlighted for hit in page.hits)
        # Unquoted, a Chinese word is a phrase too.
        assert searching.search(phrase, per_page=1).total == min(truth, searching.CAP), phrase


def test_hits_come_newest_first_and_page_through() -> None:
    base = timezone.now()
    made = [
        factories.transcript([("consumer", f"第{n}次退款")], started_at=base - timedelta(hours=n)) for n in range(5)
    ]
    first = searching.search("退款", per_page=2)
    assert [h.transcript_id for h in first.hits] == [made[0].pk, made[1].pk]
    assert (first.total, first.pages, first.page) == (5, 3, 1)
    last = searching.search("退款", per_page=2, page=9)  # past the end: the last page
    assert ([h.transcript_id for h in last.hits], last.page) == ([made[4].pk], 3)


def test_boolean_operators_fields_and_filters(make_user: Callable[..., User]) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    old = timezone.now() - timedelta(days=10)
    factories.transcript([("agent", "您好，请问有什么可以帮您"), ("consumer", "我要退款")], agent=alice)
    factories.transcript([("agent", "稍等"), ("consumer", "快递没有收到，我要投诉")], agent=bob, started_at=old)
    factories.transcript([("consumer", "I want a refund for my orders")], agent=bob, kind="chat")

    assert found("退款 OR 投诉") == ["快递没有收到，我要<mark>投诉</mark>", "我要<mark>退款</mark>"]
    assert found("我要 AND NOT 投诉") == ["<mark>我要</mark>退款"]
    assert found("我要 NOT (投诉 OR 稍等)") == ["<mark>我要</mark>退款"]
    assert found("speaker:agent 稍等") == ["<mark>稍等</mark>"]
    assert found("speaker:agent OR 投诉") == ["快递没有收到，我要<mark>投诉</mark>", "您好，请问有什么可以帮您", "稍等"]
    assert found("kind:chat") == ["I want a refund for my orders"]
    assert found(f"agent:{alice.pk} 我要") == ["<mark>我要</mark>退款"]
    assert found("我要", agent=alice.pk) == ["<mark>我要</mark>退款"]
    assert found("我要", agent=bob.pk, speaker="agent") == []
    days_ago = lambda n: timezone.localdate(timezone.now() - timedelta(days=n))  # noqa: E731  (dates are local)
    assert found("我要", since=days_ago(2)) == ["<mark>我要</mark>退款"]
    assert found("我要", until=days_ago(5)) == ["快递没有收到，<mark>我要</mark>投诉"]
    assert found("我要", kind="chat") == []
    assert found("帮*") == ["您好，请问有什么可以帮您"]
    # English is stemmed: refunds finds refund, order finds orders.
    assert found('"refunds for my order"', kind="chat") == ["I want a <mark>refund for my orders</mark>"]


def test_latin_words_and_numbers_are_whole_words() -> None:
    factories.transcript([("consumer", "订单12345号没到"), ("agent", "Don't worry, ORDER-12345 ships today")])
    assert found("12345") == ["Don&#x27;t worry, ORDER-<mark>12345</mark> ships today", "订单<mark>12345</mark>号没到"]
    assert found("1234") == []  # a number is one word, not its digits
    assert found('"单12345号"') == ["订<mark>单12345号</mark>没到"]
    assert found("don't") == ["<mark>Don&#x27;t</mark> worry, ORDER-12345 ships today"]
    assert found('"order 12345 ship"') == ["Don&#x27;t worry, <mark>ORDER-12345 ships</mark> today"]


def test_tsvector_keeps_positions_and_quotes_lexemes() -> None:
    assert tsvector("全额退款") == "'全':1 '全额':1 '额':2 '额退':2 '退':3 '退款':3 '款':4"
    assert tsvector("Don't 退 don't") == "'don''t':1,3 '退':2"
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::tsvector @@ %s::tsquery", [tsvector("你说 don't"), "'说' <-> 'don''t'"])
        assert cursor.fetchone() == (True,)


def test_a_term_with_no_match_finds_nothing() -> None:
    factories.transcript([("consumer", "我要退款")])
    page = searching.search('"没有这个词"')
    assert (page.hits, page.total, page.pages, page.capped) == ([], 0, 1, False)


@pytest.mark.parametrize("window", [50_000, 100])  # answered from the newest rows; by the GIN look-up and the walk
def test_more_than_a_thousand_hits_say_1000_plus_and_still_come_newest_first(
    window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(searching, "WINDOW", window)
    base = timezone.now() - timedelta(days=1)
    lines = [SegmentIn("consumer", f"第{n}遍退款", n * 1000) for n in range(1100)]
    transcript = save_transcript(kind="call", source="import", segments=lines, started_at=base)
    factories.transcript([("consumer", "退款吗")], started_at=base - timedelta(days=1))
    page = searching.search("退款")
    assert (page.total, page.capped, page.shown_total, page.pages) == (1000, True, "1,000+", 50)
    assert [h.seq for h in page.hits] == list(range(1099, 1079, -1))
    assert all(h.transcript_id == transcript.pk for h in page.hits)
    assert [h.seq for h in searching.search("退款", page=2).hits] == list(range(1079, 1059, -1))
    # Filters narrow below the cap: then the total is exact again.
    narrowed = searching.search("退款", Filters(until=timezone.localdate(base - timedelta(days=1))))
    assert (narrowed.total, narrowed.capped, narrowed.shown_total) == (1, False, "1")


def test_the_plan_is_chosen_per_query() -> None:
    lines = [SegmentIn("consumer", "退款" if n % 2 else "谢谢") for n in range(2100)]
    save_transcript(kind="call", source="import", segments=lines, started_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE qa_segmentsearch")
    for q, common in (("没有", False), ("退款", True)):
        with CaptureQueriesContext(connection) as captured:
            page = searching.search(q)
        plans = [query["sql"] for query in captured.captured_queries if "SET LOCAL" in query["sql"]]
        assert page.capped == common, q
        if common:  # read from the newest rows along the date index, the GIN never asked
            assert len(plans) == 1 and "enable_bitmapscan = off" in plans[0] and "LIMIT 50000" in plans[0]
        else:  # decided by the capped GIN look-up (date index and sequential scans off), no walk after it
            assert "enable_indexscan = off" in plans[-1] and "LIMIT 1001" in plans[-1]


def test_search_masks_pii_unless_asked_not_to() -> None:
    factories.transcript([("agent", "您的手机号是13800138000对吗")])
    assert searching.search("手机号").hits[0].highlighted == "您的<mark>手机号</mark>是138****8000对吗"
    assert "13800138000" in searching.search("手机号", mask=False).hits[0].highlighted


def test_search_page_masks_pii_for_a_searcher_without_the_pii_permission(
    make_user: Callable[..., User], client_for: Callable[[User], Client], supervisor: User
) -> None:
    searcher = make_user("qa_reader")
    searcher.user_permissions.add(*Permission.objects.filter(codename__in=["search_transcript", "view_transcript"]))
    factories.transcript([("agent", "您的手机号是13800138000对吗")])
    url = reverse("admin:qa_transcript_search")
    masked = client_for(searcher).get(url, {"q": "手机号"}).content.decode()
    assert "138****8000" in masked and "13800138000" not in masked
    assert "13800138000" in client_for(supervisor).get(url, {"q": "手机号"}).content.decode()


def test_search_page_says_1000_plus(client_for: Callable[[User], Client], supervisor: User) -> None:
    lines = [SegmentIn("consumer", "全额退款") for _ in range(1001)]
    save_transcript(kind="call", source="import", segments=lines, started_at=timezone.now())
    response = client_for(supervisor).get(reverse("admin:qa_transcript_search"), {"q": "全额退款"})
    assert response.context["page"].capped
    assert "1,000+" in response.content.decode()


def test_transcript_changelist_search_box_uses_the_full_text_search(
    client_for: Callable[[User], Client], supervisor: User
) -> None:
    hit = factories.transcript([("consumer", "我要全额退款"), ("agent", "好的")])
    factories.transcript([("consumer", "全额的退款")])  # the characters, not the phrase
    by_id = factories.transcript([("consumer", "你好")])
    url = reverse("admin:qa_transcript_changelist")
    client = client_for(supervisor)
    assert list(client.get(url, {"q": "全额退款"}).context["cl"].result_list) == [hit]
    assert list(client.get(url, {"q": str(by_id.pk)}).context["cl"].result_list) == [by_id]
    assert list(client.get(url, {"q": "date:notadate"}).context["cl"].result_list) == []  # unreadable: exact fields


def test_search_rows_are_written_with_the_transcript_and_roll_back_with_it() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.transcript([("consumer", "全额退款")])
        assert SegmentSearch.objects.count() == 1  # written in the same transaction
        raise RuntimeError("the import fails later")
    assert (Transcript.objects.count(), Segment.objects.count(), SegmentSearch.objects.count()) == (0, 0, 0)
    assert searching.search("退款").total == 0


def test_replacing_a_transcript_replaces_its_search_rows(make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    factories.transcript([("consumer", "旧的内容"), ("consumer", "不变")], external_id="ext-1")
    factories.transcript([("consumer", "新的内容"), ("consumer", "不变")], external_id="ext-1", agent=alice)
    assert searching.search("旧的").total == 0
    assert searching.search("新的").total == 1
    # The kept segment's row carries the transcript's new agent too.
    assert searching.search("不变", Filters(agent=alice.pk)).total == 1
    assert SegmentSearch.objects.count() == 2


def test_deleting_a_transcript_deletes_its_search_rows() -> None:
    factories.transcript([("consumer", "全额退款")]).delete()
    assert SegmentSearch.objects.count() == 0


@pytest.mark.parametrize("text", ["date:[tomorrow to", "date:notadate", "", "   ", "，", "agent:alice", "*"])
def test_bad_query_syntax_is_a_clear_error(text: str) -> None:
    with pytest.raises(SearchSyntaxError):
        search_query.where(search_query.parse(text))


def test_highlight_escapes_html() -> None:
    assert searching.highlight("<b>退款</b>", [["退款"]]) == "&lt;b&gt;<mark>退款</mark>&lt;/b&gt;"


def test_reindex_command_rewrites_every_search_row() -> None:
    factories.transcript([("consumer", "全额退款")])
    factories.transcript([("agent", "稍等"), ("consumer", "谢谢")])
    SegmentSearch.objects.all().update(vector="")  # as after a tokenizer change
    assert searching.search("退款").total == 0
    out = StringIO()
    call_command("reindex", quiet=True, batch=1, stdout=out)
    assert out.getvalue() == "Indexed 3 segments.\n"
    assert (searching.search("退款").total, searching.search("谢谢").total) == (1, 1)
    assert SegmentSearch.objects.count() == 3


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def _newest_ids(q: str, count: int) -> list[int]:
    """The ``count`` newest segments matching ``q``, by reading every row: the truth a page must equal."""
    return list(
        search_query.matching(q).order_by("-spoken_at", "-segment_id").values_list("segment_id", flat=True)[:count]
    )


def test_a_phrase_is_estimated_by_its_rarest_token_and_found_in_full() -> None:
    lines = [SegmentIn("consumer", text) for text in ["全额"] * 60 + ["退款"] * 60 + ["全额退款"] * 10]
    save_transcript(kind="call", source="import", segments=lines, started_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE qa_segmentsearch")
    searching._STATISTICS.read_at = float("-inf")  # statistics read before this test's ANALYZE
    loose = searching.loosened(search_query.parse('"全额退款" AND NOT "全额退"'))
    # The phrase becomes its rarest token (额退: 10 of 130); under NOT it stays a phrase.
    assert loose.params == ("('额退') & (!('全额' <-> '额退'))",)
    assert search_query.where(search_query.parse('"全额退款"')).params == ("'全额' <-> '额退' <-> '退款'",)
    assert searching.search('"全额退款"').total == 10


def test_a_long_phrase_common_in_the_statistics_reads_the_newest_rows_not_the_gin() -> None:
    # Six bigrams, each in half the rows: multiplied as independent they would make 1.6 %, under the
    # 2 % that is read from the newest rows; the phrase itself is in half the rows.
    lines = [SegmentIn("consumer", "七天无理由退货" if n % 2 else "谢谢") for n in range(2100)]
    save_transcript(kind="call", source="import", segments=lines, started_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE qa_segmentsearch")
    searching._STATISTICS.read_at = float("-inf")
    with CaptureQueriesContext(connection) as captured:
        page = searching.search('"七天无理由退货"')
    plans = [sql for sql in _statements(captured) if "SET LOCAL" in sql]
    assert (page.total, page.capped) == (1000, True)
    assert len(plans) == 1 and "LIMIT 50000" in plans[0] and "work_mem" not in plans[0]
    assert [h.segment_id for h in page.hits] == _newest_ids('"七天无理由退货"', 20)


def test_a_sparse_query_with_more_than_a_thousand_hits_is_paged_from_the_newest_slice_of_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(searching, "PAGE_WALK", 50)  # the newest 50 rows hold less than a page
    now = timezone.now()
    old = [SegmentIn("consumer", f"投诉经理{n}", n * 1000) for n in range(1000)]
    save_transcript(kind="call", source="import", segments=old, started_at=now - timedelta(days=3))
    recent = [SegmentIn("consumer", "我要投诉经理" if n % 10 == 0 else "谢谢", n * 1000) for n in range(300)]
    save_transcript(kind="call", source="import", segments=recent, started_at=now - timedelta(hours=2))
    with CaptureQueriesContext(connection) as captured:
        page = searching.search("投诉 AND 经理")
    statements = _statements(captured)
    assert (page.total, page.capped, [h.segment_id for h in page.hits]) == (
        1000,
        True,
        _newest_ids("投诉 AND 经理", 20),
    )
    assert all(h.highlighted == "我要<mark>投诉</mark><mark>经理</mark>" for h in page.hits)
    # estimates (range, query), the capped GIN look-up, the newest 50 rows, the newest moment, the
    # first slice (a day: GIN ∧ BRIN, work_mem raised), the page's rows; no walk of the date index after it.
    assert len(statements) == 7, statements
    assert "LIMIT 50)" in statements[3] and "max(spoken_at)" in statements[4]
    assert "enable_indexscan = off" in statements[5] and "work_mem = '64MB'" in statements[5]
    # The second page is in the day as well; the third is not (30 hits): the week's slice holds it.
    assert [h.segment_id for h in searching.search("投诉 AND 经理", page=2).hits] == _newest_ids("投诉 AND 经理", 40)[
        20:
    ]
    assert [h.segment_id for h in searching.search("投诉 AND 经理", page=3).hits] == _newest_ids("投诉 AND 经理", 60)[
        40:
    ]


def test_a_sparse_query_whose_slices_hold_less_than_the_page_walks_the_date_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(searching, "PAGE_WALK", 50)
    now = timezone.now()
    old = [SegmentIn("consumer", f"投诉经理{n}", n * 1000) for n in range(1010)]
    save_transcript(kind="call", source="import", segments=old, started_at=now - timedelta(days=40))
    save_transcript(kind="call", source="import", segments=[SegmentIn("consumer", "谢谢", n) for n in range(100)],
                    started_at=now)  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        page = searching.search("投诉 AND 经理")
    statements = _statements(captured)
    assert (page.total, page.capped, [h.segment_id for h in page.hits]) == (
        1000,
        True,
        _newest_ids("投诉 AND 经理", 20),
    )
    # ... the newest moment, three slices (a day, a week, a month) empty, then the walk, the page's rows.
    assert len(statements) == 10, statements
    assert "enable_bitmapscan = off" in statements[-2] and "LIMIT 50)" not in statements[-2]


def test_a_filtered_search_finds_what_the_filters_and_terms_find_by_every_plan(
    make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    now = timezone.now()
    for days, agent in ((1, alice), (3, bob), (9, alice)):
        lines = [("agent" if n % 2 else "consumer", "退款" if n % 3 else "快递") for n in range(60)]
        factories.transcript(lines, agent=agent, started_at=now - timedelta(days=days))
    today = timezone.localdate(now)  # the filters' dates are local days
    week = Filters(speaker="agent", agent=alice.pk, since=today - timedelta(days=7), until=today)
    truth = list(
        SegmentSearch.objects.filter(
            speaker="agent", agent_id=alice.pk, spoken_at__gte=now - timedelta(days=7), segment__text="退款"
        )
        .order_by("-spoken_at", "-segment_id")
        .values_list("segment_id", flat=True)
    )
    assert len(truth) == 20
    for window, cap in ((50_000, 1000), (10, 1000), (10, 5)):  # the newest rows; the GIN; the slices
        monkeypatch.setattr(searching, "WINDOW", window)
        monkeypatch.setattr(searching, "CAP", cap)
        monkeypatch.setattr(searching, "PAGE_WALK", 5)
        page = searching.search("退款", week, per_page=cap if cap < 20 else 20)
        assert [h.segment_id for h in page.hits] == truth[: min(cap, 20)], (window, cap)
        assert (page.total, page.capped) == ((20, False) if cap == 1000 else (5, True)), (window, cap)
