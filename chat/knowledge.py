"""The bot's knowledge base: stored in a Whoosh index, ranked in process.

Articles are indexed by one writer (the ``search`` Celery queue: ``chat.tasks.index_knowledge_article``,
enqueued on commit when an article changes); ``rebuild_index`` rebuilds it whole (``manage.py
reindex_knowledge``). The ASGI process only reads: it keeps one searcher open and refreshes it when the
index has changed, checking at most every ``REFRESH_SECONDS``; when the searcher changed, it rebuilds its
``retrieval.Ranker`` from the stored articles (only changed articles are analysed again). The synonym
groups (``Synonym``, edited in the admin) are checked at the same pace; new groups rebuild the ranker too.

Ranking and confidence live in ``retrieval`` (BM25F over synonym concepts and character bigrams, general
IDF, typo tolerance, language fallback) and the decision in ``understanding``; confidence is the best
article's coverage of the question's weighted words. Whoosh still holds the jieba-analysed ``content``
field, so the index also answers word queries, but the bot does not use it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.searching import Searcher

from chat import analysis, understanding
from chat.models import HandoffPhrase, KnowledgeArticle, Synonym
from chat.retrieval import Article, Ranker
from chat.understanding import Kind, Understanding
from core.search import SearchIndex, chinese_word_analyzer

REFRESH_SECONDS = 2.0
log = logging.getLogger(__name__)


def _schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True),
        language=ID(stored=True),
        title=STORED(),
        answer=STORED(),
        questions=STORED(),
        # Title (twice: it is the question itself), other wordings and answer, ranked as one field.
        content=TEXT(analyzer=chinese_word_analyzer()),
    )


INDEX = SearchIndex("knowledge", _schema())


@dataclass(frozen=True)
class Hit:
    article_id: int
    title: str
    answer: str
    score: float
    confidence: float


def _document(article: KnowledgeArticle) -> dict[str, str]:
    content = "\n".join([article.title, article.title, article.questions, article.answer])
    return {"id": str(article.pk), "language": article.language, "title": article.title, "answer": article.answer,
            "questions": article.questions, "content": content}  # fmt: skip


def index_article(article_id: int) -> bool:
    """Bring one article's entry up to date (added, replaced, or removed when inactive or deleted)."""
    article = KnowledgeArticle.objects.filter(pk=article_id).first()
    KnowledgeArticle.forget_scopes()  # the scopes follow the index, whatever changed the article
    with INDEX.writer() as writer:
        if article is None or not article.active:
            writer.delete_by_term("id", str(article_id))
            return False
        writer.update_document(**_document(article))
    return True


def rebuild_index() -> int:
    """Index every active article from scratch; returns how many."""
    INDEX.clear()
    KnowledgeArticle.forget_scopes()
    count = 0
    with INDEX.writer() as writer:
        for article in KnowledgeArticle.objects.filter(active=True).order_by("pk").iterator():
            writer.add_document(**_document(article))
            count += 1
    reset_searcher()
    return count


_lock = threading.Lock()
_searcher: Searcher | None = None
_checked = 0.0
_ranker: Ranker | None = None
_ranked_from: Searcher | None = None
_rebuilding = False


_groups: list[list[str]] | None = None


def synonym_groups() -> list[list[str]]:
    """The synonym groups the bot reads: the admin's (``Synonym``, cached), or the shipped seed while the
    table is empty."""
    groups = Synonym.active_groups()
    return analysis.seed_synonyms() if groups is None else groups


def _current_searcher() -> Searcher:
    """The index's searcher, and the synonym groups, both checked at most every ``REFRESH_SECONDS``."""
    global _searcher, _checked, _groups
    now = time.monotonic()
    if _searcher is None:
        _searcher = INDEX.index().searcher()
        _checked = now
        _groups = synonym_groups()
    elif now - _checked > REFRESH_SECONDS:
        _checked = now
        _searcher = _searcher.refresh()  # the same searcher when nothing changed
        _groups = synonym_groups()
    return _searcher


def _warm() -> None:
    # jieba, the IDF tables and the stopwords, which take seconds; not the ranker, which reads the synonym table:
    # a thread started at import must not touch the database (in a test process it would open the connection
    # pool on the development database before the test database is set up). The first question builds it.
    analysis.prepare()


def warm_up() -> None:
    """Load jieba and the IDF tables (a few seconds) in the background, so that the first question does not
    wait for them."""
    threading.Thread(target=_warm, name="knowledge-warm-up", daemon=True).start()


def reset_searcher() -> None:
    """Forget the cached searcher and ranker (after a rebuild in this process, or between tests)."""
    global _searcher, _ranker, _ranked_from
    with _lock:
        if _searcher is not None:
            _searcher.close()
        _searcher = None
        _ranked_from = None


def articles_of(searcher: Searcher) -> list[Article]:
    """The indexed articles, as the ranker takes them."""
    return [Article(int(doc["id"]), doc["title"], doc["answer"], doc["language"],
                    tuple(line for line in doc.get("questions", "").splitlines() if line.strip()))
            for doc in searcher.all_stored_fields()]  # fmt: skip


def _current_ranker() -> Ranker:
    """The ranker of what the index holds (call with ``_lock`` held). The first one is built at once;
    after a change the old one keeps answering while a thread builds the new one (README: a rebuild of
    3,000 articles takes seconds, a question milliseconds)."""
    global _ranker, _ranked_from, _rebuilding
    searcher = _current_searcher()
    groups = _groups if _groups is not None else synonym_groups()
    if _ranker is None or _ranked_from is None:
        _ranker = Ranker(articles_of(searcher), groups, previous=_ranker)
        _ranked_from = searcher
    elif (searcher is not _ranked_from or groups != _ranker.groups) and not _rebuilding:
        _rebuilding = True
        threading.Thread(target=_rebuild, args=(_ranked_from, searcher, articles_of(searcher), groups, _ranker),
                         daemon=True, name="knowledge-ranker").start()  # fmt: skip
    return _ranker


def _rebuild(
    replacing: Searcher, searcher: Searcher, articles: list[Article], groups: list[list[str]], previous: Ranker
) -> None:
    global _ranker, _ranked_from, _rebuilding
    try:
        fresh = Ranker(articles, groups, previous=previous)
        with _lock:
            if _ranked_from is replacing:  # not reset nor rebuilt meanwhile
                _ranker, _ranked_from = fresh, searcher
    finally:
        with _lock:
            _rebuilding = False


def ranker() -> Ranker:
    """This process's ranker, brought up to date with the index."""
    with _lock:
        return _current_ranker()


def article(article_id: int) -> Article | None:
    """An indexed article by id (a "猜你想问" tap names one), or None when it is no longer indexed."""
    return ranker().by_id.get(article_id)


# The scopes of the current version, as this process last read them (``KnowledgeArticle.scope_ids``): a version
# names one state of the articles, so its lists never change; every article change makes a new version.
_scopes: tuple[str, dict[int | None, frozenset[int]]] = ("", {})


def _scope_of(version: str | None, shop_id: int | None) -> frozenset[int]:
    global _scopes
    known_version, known = _scopes
    if version is not None and version == known_version and shop_id in known:
        return known[shop_id]
    ids = KnowledgeArticle.scope_ids(shop_id)  # reads the version again, and the list, and fills the cache
    if version is not None:
        _scopes = (version, {**(known if version == known_version else {}), shop_id: ids})
    return ids


def scope_ids(shop_id: int | None) -> frozenset[int]:
    """The active articles of one shop (None: the platform's own): a shop's never answer anyone else's chat.

    Cached (``KnowledgeArticle.scope_ids``): a bot answer reads no article table; every change drops it. Only the
    scopes' version is read from Redis; the lists of the version this process knows are kept here."""
    return _scope_of(cache.get(KnowledgeArticle.SCOPE_VERSION_KEY), shop_id)


def _phrases_and_scope_version() -> tuple[tuple[str, ...], str | None]:
    """The admin's handoff phrases (``HandoffPhrase.active_phrases``) and the scopes' version in one Redis round
    trip: the two reads every bot answer makes (a miss reads the table as the model does)."""
    found = cache.get_many([HandoffPhrase.CACHE_KEY, KnowledgeArticle.SCOPE_VERSION_KEY])
    phrases = found.get(HandoffPhrase.CACHE_KEY)
    return (HandoffPhrase.active_phrases() if phrases is None else tuple(phrases),
            found.get(KnowledgeArticle.SCOPE_VERSION_KEY))  # fmt: skip


def understand(text: str, language: str, shop_id: int | None = None) -> Understanding:
    """What the bot makes of a message in a chat in ``language`` (``understanding.understand``), with the
    admin's handoff phrases (``HandoffPhrase``, cached) on top of the built-in ones.

    In a shop's chat the shop's articles answer first; the platform's answer when the shop's do not (an offer
    from the shop gives way to a clear answer from the platform)."""
    (phrases, version), current = _phrases_and_scope_version(), ranker()
    platform = _scope_of(version, None)
    if shop_id is None:
        return understanding.understand(text, language, current, handoff_phrases=phrases, among=platform)
    own = understanding.understand(text, language, current, handoff_phrases=phrases,
                                   among=_scope_of(version, shop_id))  # fmt: skip
    if own.kind not in (Kind.NONE, Kind.OFFER):
        return own
    fallback = understanding.understand(text, language, current, handoff_phrases=phrases, among=platform)
    return fallback if fallback.kind == Kind.ANSWER or own.kind == Kind.NONE else own


def search(text: str, language: str) -> Hit | None:
    """The best article in ``language`` only, with its confidence (coverage); None when nothing matches."""
    best = ranker().rank(text, language, strict=True).best
    if best is None:
        return None
    article = best.article
    return Hit(article.id, article.title, article.body, best.score, best.coverage)
