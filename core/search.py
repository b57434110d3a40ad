"""Search text analysis, and one small interface over Whoosh for the bot's knowledge base.

Where each analyzer belongs:

- ``cjk_tokens`` is for *finding text* (the QA transcript search in PostgreSQL, ``qa.searching``).
  Chinese runs are indexed as character unigrams plus overlapping bigrams at the same token position,
  Latin words lower-cased and stemmed, numbers as words. Positions are token indexes, nothing is
  dropped, and the segmentation never depends on context, so a phrase query hits exactly the texts
  that contain the phrase as a substring. ``tsvector`` writes its index form, ``tsquery_lexeme`` its
  query form, and ``CJKTokenizer`` hands it to Whoosh's query parser: one tokenizer for all three.
- ``chinese_word_analyzer`` (jieba's ``ChineseAnalyzer``) is for *ranking by words* (BM25 in the
  bot's knowledge base, a Whoosh index). It stores character offsets as positions and drops
  stopwords, so phrase queries must not be run against it.

The Whoosh indexes have one writer (the ``search`` Celery queue's single worker process); readers
open them from shared storage.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from whoosh import index as whoosh_index
from whoosh.analysis import Analyzer, Token, Tokenizer
from whoosh.fields import Schema
from whoosh.lang.porter import stem
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter

# Full-width ASCII (！ to ～) and the ideographic space fold to their half-width forms, one character
# for one, so that token offsets still point into the original text.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[a-z0-9]+(?:'[a-z]+)?)")


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    return stem(word) if word.isalpha() else word


def cjk_tokens(value: str, *, query: bool = False) -> Iterator[tuple[str, int, int, int]]:
    """The one tokenizer of transcript search: (token, position, start, end) for index, query and highlight.

    Chinese runs give a unigram and the bigram starting there at each position; Latin words and numbers
    are one stemmed token each. In query mode a Chinese run yields only its bigrams (and its last
    character when a token follows, to keep the positions consecutive); a single character yields its
    unigram.
    """
    text = value.translate(_FOLD).lower()
    matches = list(_TOKEN_RE.finditer(text))
    pos = 0
    for index, match in enumerate(matches):
        start = match.start()
        run = match.group("cjk")
        if run is None:
            yield _stem(match.group("word")), pos, start, match.end()
            pos += 1
            continue
        last = len(run) - 1
        more_follow = index + 1 < len(matches)
        for i, char in enumerate(run):
            at = start + i
            if i < last:
                if not query:
                    yield char, pos, at, at + 1
                yield run[i : i + 2], pos, at, at + 2
            elif not query or last == 0 or more_follow:
                yield char, pos, at, at + 1
            pos += 1


# PostgreSQL keeps positions 1..16383 in a tsvector; later ones share the last.
_MAX_POSITION = 16383


@lru_cache(maxsize=20_000)
def tsvector(value: str) -> str:
    """``value`` as a PostgreSQL ``tsvector`` literal of ``cjk_tokens`` (positions from 1), for ``::tsvector``.

    Built here, not by ``to_tsvector``, so that the index, the query (``tsquery_lexeme``) and the
    highlighting share one tokenizer. Cached: calls repeat their greetings and closings (您好, 好的, 再见)
    word for word, and a segment's vector depends on its text alone.
    """
    positions: dict[str, list[int]] = {}
    for token, pos, _start, _end in cjk_tokens(value):
        at = positions.get(token)
        if at is None:
            positions[token] = [min(pos + 1, _MAX_POSITION)]
        elif at[-1] < _MAX_POSITION:
            at.append(pos + 1 if pos < _MAX_POSITION else _MAX_POSITION)
    return " ".join(f"{tsquery_lexeme(token)}:{','.join(map(str, at))}" for token, at in positions.items())


def tsquery_lexeme(token: str) -> str:
    """One token quoted as a ``tsvector`` / ``tsquery`` lexeme: in single quotes, quotes and backslashes doubled."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


class CJKTokenizer(Tokenizer):
    """``cjk_tokens`` as a Whoosh tokenizer: what the query parser analyses query words with."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for text, pos, start, end in cjk_tokens(value, query=mode == "query"):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def cjk_analyzer() -> Analyzer:
    """The analyzer for finding text; phrase hits equal substring truth (see the module docstring)."""
    return CJKTokenizer()


def chinese_word_analyzer() -> Analyzer:
    """jieba's analyzer, for ranking by words (BM25). Never use it for phrase queries."""
    from jieba.analyse.analyzer import ChineseAnalyzer

    return ChineseAnalyzer()


class SearchIndex:
    """One Whoosh index under ``SEARCH_INDEX_DIR/<name>``, created with ``schema`` when missing."""

    def __init__(self, name: str, schema: Schema) -> None:
        self.name = name
        self.schema = schema
        self._local = threading.local()  # this thread's open searcher, see searcher()

    @property
    def path(self) -> Path:
        return Path(settings.SEARCH_INDEX_DIR) / self.name

    def index(self) -> whoosh_index.Index:
        path = self.path
        if whoosh_index.exists_in(str(path)):
            return whoosh_index.open_dir(str(path))
        path.mkdir(parents=True, exist_ok=True)
        return whoosh_index.create_in(str(path), self.schema)

    @contextmanager
    def writer(self, *, timeout: float = 30.0, **options: Any) -> Iterator[IndexWriter]:
        """A writer that commits on success and cancels on error, waiting up to ``timeout`` s for the lock.

        Segments are written as separate files, not one compound file: Whoosh opens a compound file's
        parts by copying each into memory (BytesIO over the mmap), which made every search at a million
        documents pay ~0.7 s to open and close the index.
        """
        options.setdefault("compound", False)
        writer = self.index().writer(timeout=timeout, **options)
        try:
            yield writer
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    @contextmanager
    def searcher(self, **options: Any) -> Iterator[Searcher]:
        """A searcher this thread keeps open: opening one costs ~0.7 s at a million documents.

        It is reused while the index folder is unchanged (same inode, same modification time: every
        commit, rebuild swap or clear creates or removes files in it) and reopened otherwise.
        """
        if options:
            with self.index().searcher(**options) as searcher:
                yield searcher
            return
        if not self.path.exists():
            self.index()  # creates it empty
        stat = os.stat(self.path)
        key = (str(self.path), stat.st_ino, stat.st_mtime_ns)
        cached: tuple[tuple[str, int, int], Searcher] | None = getattr(self._local, "searcher", None)
        if cached is not None and cached[0] == key:
            searcher = cached[1]
        else:
            if cached is not None:
                cached[1].close()
            searcher = self.index().searcher()
            self._local.searcher = (key, searcher)
        yield searcher

    def clear(self) -> None:
        """Delete the index; the next ``index()`` creates it empty."""
        shutil.rmtree(self.path, ignore_errors=True)

    def staging(self) -> SearchIndex:
        """An empty index beside this one to rebuild into; ``swap_in`` then replaces this one with it.

        Readers keep using the old index until the swap, so a rebuild never shows a half-built index.
        """
        staged = SearchIndex(f"{self.name}.rebuilding", self.schema)
        staged.clear()
        return staged

    def swap_in(self, staged: SearchIndex) -> None:
        retired = self.path.with_name(f"{self.name}.retired")
        shutil.rmtree(retired, ignore_errors=True)
        if self.path.exists():
            self.path.rename(retired)
        staged.path.rename(self.path)
        shutil.rmtree(retired, ignore_errors=True)
