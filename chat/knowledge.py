"""The bot's knowledge base as a Whoosh index: BM25 over jieba's words (DESIGN.md §7).

Articles are indexed by one writer (the ``search`` Celery queue: ``chat.tasks.index_knowledge_article``,
which the admin enqueues on commit when an article changes); ``rebuild_index`` rebuilds it whole (``manage.py
reindex_knowledge``). The ASGI process only reads: ``search`` keeps one searcher open and refreshes it
when the index has changed, checking at most every ``REFRESH_SECONDS``.

Confidence is the share of the question's information that the best article covers: the sum of the
IDF of the query words that the article contains, over the sum for all query words. Common words
("怎么", "how") weigh little, rare ones ("发票", "invoice") much, and a word the index has never seen
weighs most, so a question about something the base does not know scores low.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from whoosh import query as q
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.searching import Searcher

from chat.models import KnowledgeArticle
from core.search import SearchIndex, chinese_word_analyzer

REFRESH_SECONDS = 2.0
MAX_QUERY_WORDS = 40


def _schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True),
        language=ID(stored=True),
        title=STORED(),
        answer=STORED(),
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
            "content": content}  # fmt: skip


def index_article(article_id: int) -> bool:
    """Bring one article's entry up to date (added, replaced, or removed when inactive or deleted)."""
    article = KnowledgeArticle.objects.filter(pk=article_id).first()
    with INDEX.writer() as writer:
        if article is None or not article.active:
            writer.delete_by_term("id", str(article_id))
            return False
        writer.update_document(**_document(article))
    return True


def rebuild_index() -> int:
    """Index every active article from scratch; returns how many."""
    INDEX.clear()
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


def _current_searcher() -> Searcher:
    global _searcher, _checked
    now = time.monotonic()
    if _searcher is None:
        _searcher = INDEX.index().searcher()
        _checked = now
    elif now - _checked > REFRESH_SECONDS:
        _checked = now
        _searcher = _searcher.refresh()  # the same searcher when nothing changed
    return _searcher


def warm_up() -> None:
    """Load jieba's dictionary (about a second) in the background, so the first question does not wait for it."""
    import jieba

    threading.Thread(target=jieba.initialize, name="jieba-warm-up", daemon=True).start()


def reset_searcher() -> None:
    """Forget the cached searcher (after a rebuild in this process, or between tests)."""
    global _searcher
    with _lock:
        if _searcher is not None:
            _searcher.close()
        _searcher = None


def words(text: str) -> list[str]:
    """The question's distinct words, as the index sees them (jieba, lower-cased, stemmed, stopwords out)."""
    seen: dict[str, None] = {}
    for token in chinese_word_analyzer()(text):
        if token.text.strip():
            seen.setdefault(token.text, None)
        if len(seen) >= MAX_QUERY_WORDS:
            break
    return list(seen)


def search(text: str, language: str) -> Hit | None:
    """The best article for a question in ``language``, with its confidence; None when nothing matches."""
    terms = words(text)
    if not terms:
        return None
    with _lock:
        searcher = _current_searcher()
        query = q.Or([q.Term("content", term) for term in terms])
        results = searcher.search(query, limit=1, filter=q.Term("language", language), terms=True)
        if not results:
            return None
        best = results[0]
        matched = {text.decode() if isinstance(text, bytes) else text for _field, text in best.matched_terms()}
        weights = {term: searcher.idf("content", term) for term in terms}
        total = sum(weights.values())
        confidence = sum(w for term, w in weights.items() if term in matched) / total if total else 0.0
        return Hit(int(best["id"]), best["title"], best["answer"], float(best.score), round(confidence, 3))
