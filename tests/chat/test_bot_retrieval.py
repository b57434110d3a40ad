"""The bot's ranker on its own (no database): synonyms, typos, stopwords, segmentation, languages, and the
decision to answer, offer "猜你想问" or say nothing."""

from __future__ import annotations

import pytest

from chat import analysis
from chat.retrieval import Article, Ranker
from chat.understanding import Kind, Thresholds, decide, understand

# These tests need no database, but the session's role fixture (tests/conftest.py) does, and pytest-django
# creates the test database only when a collected test asks for it: run alone, this module must ask.
pytestmark = pytest.mark.django_db

ARTICLES = [
    Article(1, "如何开具发票", "在订单详情点击申请开票，填写抬头和税号，电子发票发送到邮箱。", "zh-hans"),
    Article(2, "修改或取消订单", "未发货的订单可在订单详情点击取消订单，款项原路退回。", "zh-hans"),
    Article(3, "账号安全", "请在安全中心修改密码并开启登录保护。", "zh-hans"),
    Article(4, "退款多久到账", "退款审核通过后原路退回：银行卡 1–3 个工作日到账。", "zh-hans"),
    Article(5, "商品保修", "电子产品享受一年保修，在订单中申请售后并选择维修。", "zh-hans"),
    Article(6, "七天无理由退货", "签收后 7 天内商品完好可申请七天无理由退货。", "zh-hans"),
    Article(7, "How long does a refund take?", "Approved refunds go back the way you paid in 3 working days.", "en"),
    Article(8, "Seven-day no-reason returns", "Within 7 days of delivery goods can be returned.", "en"),
]  # fmt: skip


@pytest.fixture(scope="module")
def ranker() -> Ranker:
    analysis.prepare()
    return Ranker(ARTICLES)


def best(ranker: Ranker, question: str, language: str = "zh-hans") -> str:
    found = ranker.rank(question, language).best
    assert found is not None, question
    return found.article.title


@pytest.mark.parametrize(
    ("question", "title"),
    [("我想撤销订单", "修改或取消订单"), ("东西压坏了", "商品保修"), ("钱什么时候退回来", "退款多久到账"),
     ("can I send it back", "Seven-day no-reason returns")],
)  # fmt: skip
def test_synonyms_link_the_consumers_word_to_the_articles(ranker: Ranker, question: str, title: str) -> None:
    language = "en" if question.isascii() else "zh-hans"
    assert best(ranker, question, language) == title


def test_without_the_synonym_table_a_synonym_finds_nothing() -> None:
    bare = Ranker(ARTICLES, synonyms=[])
    assert bare.rank("撤销", "zh-hans").best is None
    assert Ranker(ARTICLES, synonyms=[["取消", "撤销"]]).rank("撤销", "zh-hans").best.article.id == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("question", "title", "fixed"),
    [("发漂怎么开", "如何开具发票", "发票"), ("忘了密马登不上", "账号安全", "密码"),
     ("refnd time", "How long does a refund take?", "refund")],
)  # fmt: skip
def test_misspelt_words_are_read_as_the_article_word_that_sounds_or_spells_alike(
    ranker: Ranker, question: str, title: str, fixed: str
) -> None:
    ranking = ranker.rank(question, "en" if question.isascii() else "zh-hans")
    assert ranking.best is not None and ranking.best.article.title == title
    assert fixed in ranking.corrected.values()


def test_stopwords_do_not_dilute_the_topic_word(ranker: Ranker) -> None:
    assert [term.word for term in analysis.analyse("我想问一下能帮我看看吗", ranker.thesaurus)] == []
    padded = ranker.rank("你好，请问一下我想知道发票怎么开啊", "zh-hans").best
    plain = ranker.rank("发票怎么开", "zh-hans").best
    assert padded is not None and plain is not None
    assert padded.article.id == plain.article.id == 1 and padded.coverage == plain.coverage


def test_service_words_stay_whole_and_do_not_become_their_parts(ranker: Ranker) -> None:
    words = [term.word for term in analysis.analyse("我没收到快递", ranker.thesaurus)]
    assert "没收到" in words and "没收" not in words


def test_an_english_question_in_a_chinese_chat_finds_the_english_article(ranker: Ranker) -> None:
    assert best(ranker, "how long does my refund take", "zh-hans") == "How long does a refund take?"
    # Strictly in the chat's language, the Chinese article answers through the shared concept.
    strict = ranker.rank("how long does my refund take", "zh-hans", strict=True).best
    assert strict is not None and strict.article.language == "zh-hans"


def test_a_question_in_chinese_characters_is_never_answered_by_an_english_article() -> None:
    # The English article shares the concept (被黑 and "hacked" are one), the Chinese base has nothing on it.
    ranker = Ranker([Article(1, "My account was hacked", "Reset your password.", "en"),
                     Article(2, "退款多久到账", "退款原路退回，1–3 个工作日到账。", "zh-hans")])  # fmt: skip
    assert [c.article.language for c in ranker.rank("号被黑了咋整", "zh-hans").candidates] in ([], ["zh-hans"])
    assert best(ranker, "my account was hacked", "zh-hans") == "My account was hacked"


def test_a_topic_only_the_chinese_base_knows_is_found_from_an_english_chat(ranker: Ranker) -> None:
    assert best(ranker, "how do I cancel my order", "en") == "修改或取消订单"


def test_a_mixed_chinese_and_english_question_finds_the_chinese_article(ranker: Ranker) -> None:
    assert best(ranker, "我要开个invoice", "zh-hans") == "如何开具发票"


@pytest.mark.parametrize("question", ["量子计算机的原理是什么", "今天天气怎么样", "tell me a joke", "12345"])
def test_out_of_scope_questions_get_no_answer(ranker: Ranker, question: str) -> None:
    seen = understand(question, "zh-hans", ranker)
    assert (seen.kind, seen.candidates) == (Kind.NONE, [])


def test_a_clear_paraphrase_is_answered_and_a_vague_one_is_offered(ranker: Ranker) -> None:
    clear = understand("电子发票怎么申请", "zh-hans", ranker)
    assert clear.kind == Kind.ANSWER and [c.article.id for c in clear.candidates] == [1]
    vague = understand("退货退款", "zh-hans", ranker)  # a refund or a return? 猜你想问
    assert vague.kind == Kind.OFFER and {c.article.id for c in vague.candidates} == {4, 6}


def test_the_decision_follows_its_thresholds(ranker: Ranker) -> None:
    ranking = ranker.rank("电子发票怎么申请", "zh-hans")
    assert decide(ranking, Thresholds(answer_coverage=1.01))[0] == Kind.OFFER
    assert decide(ranking, Thresholds(answer_coverage=1.01, offer_coverage=1.01))[0] == Kind.NONE


def test_a_rebuilt_ranker_analyses_only_the_articles_that_changed(ranker: Ranker) -> None:
    changed = Article(3, "账号安全", "请立即修改密码。", "zh-hans")
    rebuilt = Ranker([*ARTICLES[:2], changed, *ARTICLES[3:]], previous=ranker)
    unchanged = (ARTICLES[0].title, ARTICLES[0].body, ARTICLES[0].wordings)
    assert rebuilt._analysed[unchanged] is ranker._analysed[unchanged]
    assert (changed.title, changed.body, ()) not in ranker._analysed
    assert best(rebuilt, "密码忘了") == "账号安全"
