"""The search indexes: one small interface over Whoosh, and the two analyzers the product needs.

Where each analyzer belongs (DESIGN.md §7):

- ``cjk_analyzer`` is for *finding text* (the QA search). Chinese runs are indexed as character
  unigrams plus overlapping bigrams at the same token position, Latin words lower-cased and stemmed.
  Positions are token indexes, nothing is dropped, and the segmentation never depends on context, so a
  phrase query hits exactly the texts that contain the phrase as a substring. Bigrams keep phrase
  queries fast: a quoted 全额退款 intersects three short bigram posting lists, not four long
  character lists.
- ``chinese_word_analyzer`` (jieba's ``ChineseAnalyzer``) is for *ranking by words* (BM25 in the
  bot's knowledge base). It stores character offsets as positions and drops stopwords, so phrase
  queries must not be run against it.

The indexes have one writer (the ``search`` Celery queue's single worker process); readers open
them from shared storage. When one Whoosh index is no longer enough, this module is the seam to swap.
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


class CJKTokenizer(Tokenizer):
    """Chinese as unigrams + bigrams at one position each, Latin words stemmed; see the module docstring.

    In query mode a Chinese run yields only its bigrams (and its last character when a token follows,
    to keep the positions consecutive); a single character yields its unigram.
    """

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
        text = value.translate(_FOLD).lower()
        matches = list(_TOKEN_RE.finditer(text))
        query = mode == "query"
        pos = start_pos
        for index, match in enumerate(matches):
            start = match.start()
            run = match.group("cjk")
            if run is None:
                yield self._emit(token, _stem(match.group("word")), pos, start_char + start, start_char + match.end())
                pos += 1
                continue
            last = len(run) - 1
            more_follow = index + 1 < len(matches)
            for i, char in enumerate(run):
                at = start_char + start + i
                if i < last:
                    if not query:
                        yield self._emit(token, char, pos, at, at + 1)
                    yield self._emit(token, run[i : i + 2], pos, at, at + 2)
                elif not query or last == 0 or more_follow:
                    yield self._emit(token, char, pos, at, at + 1)
                pos += 1

    @staticmethod
    def _emit(token: Token, text: str, pos: int, start: int, end: int) -> Token:
        token.text = text
        token.boost = 1.0
        token.stopped = False
        if token.positions:
            token.pos = pos
        if token.chars:
            token.startchar = start
            token.endchar = end
        return token


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
