"""Transcript search in PostgreSQL: one ``qa.SegmentSearch`` row per segment, a ``tsvector`` under a GIN index.

The vector is built here in Python by ``core.search.cjk_tokens`` — Chinese character unigrams and
bigrams at token positions, Latin words and numbers as words — and so are the queries (a phrase is a
``<->`` chain of adjacent bigrams) and the highlights: one tokenizer, so phrase hits equal substring
truth. The rows are written in the transaction that stores the transcript
(``qa.services.save_transcript`` calls ``qa.search_index.index_transcript``): no separate writer, no files, no lost
update. ``manage.py reindex`` rewrites them all after a tokenizer change.

Each query chooses its plan (see ``_newest``) by the planner's estimate, a phrase counted as its rarest
token: a common one is read newest first along the ``(spoken_at DESC, segment_id DESC)`` index; the
rest take at most ``CAP + 1`` matches through the GIN bitmap (dates narrowed by a BRIN index), sorted in
memory when that is all of them, else paged from the newest rows, the newest slices of time, or a walk.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from django.db import connection
from django.utils.safestring import SafeString, mark_safe
from whoosh import query

from core.search import cjk_tokens
from core.text import mask_pii
from qa.models import SegmentSearch
from qa.search_index import TABLE
from qa.search_query import NO_FILTERS, Filters, _and, _dates_sql, _Sql, parse, where

# Totals are exact up to CAP; beyond it a search says "1,000+" and pages through the newest CAP.
CAP = 1000


@dataclass(frozen=True)
class SearchHit:
    segment_id: int
    transcript_id: int
    seq: int
    speaker: str
    kind: str
    when: datetime
    highlighted: SafeString


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    total: int  # exact when not ``capped``; else CAP
    page: int
    pages: int
    query: str
    capped: bool = False  # more than CAP segments match

    @property
    def shown_total(self) -> str:
        return f"{self.total:,}+" if self.capped else f"{self.total:,}"


# --- Searching -----------------------------------------------------------------------------------


def _planned(
    sql: str, params: Sequence[Any], *, bitmap_memory: bool = False, **switches: bool
) -> list[tuple[Any, ...]]:
    """Run one query with the planner's ``enable_*`` switches set for it alone; its rows.

    One round trip: the switches, the query and their reset go as one multi-statement string (Django's
    psycopg cursor binds parameters client-side), which PostgreSQL runs as one implicit transaction,
    so ``SET LOCAL`` ends with it; the reset is for a caller's explicit transaction (tests).
    ``bitmap_memory``: ``work_mem`` of ``BITMAP_MEMORY`` for this statement, so that a GIN bitmap of a
    common token stays exact (at the default 4 MB it turns lossy past ~100,000 rows, and then every row
    of every page it names is read and its vector checked again).
    """
    settings = [f"enable_{name} = {'on' if on else 'off'}" for name, on in switches.items()]
    if bitmap_memory:
        settings.append(f"work_mem = '{BITMAP_MEMORY}'")
    before = "".join(f"SET LOCAL {setting}; " for setting in settings)
    after = "".join(f"; SET LOCAL {setting.split(' = ')[0]} TO DEFAULT" for setting in settings)
    with connection.cursor() as cursor:
        cursor.execute(before + sql + after, params)
        raw = cursor.cursor
        while raw.description is None and raw.nextset():
            pass
        return raw.fetchall()


BITMAP_MEMORY = "64MB"

# A query the planner's statistics call common (at least one row in WINDOW / (CAP + 1) of its date
# range) first looks through the newest WINDOW rows along the date index: milliseconds of reading.
WINDOW = 50_000

# The newest stretches of time a query with more than CAP hits but few in a day is paged from (the GIN
# bitmap ANDed with the BRIN block ranges of the stretch), before a walk of the date index.
SLICES = (timedelta(days=1), timedelta(days=7), timedelta(days=31))
PAGE_WALK = 10_000  # rows of the date index a page is first looked for in (milliseconds of reading)


@dataclass
class _Statistics:
    """The planner's most common lexemes of the vectors with their frequencies, as last read."""

    read_at: float = -math.inf
    frequencies: dict[str, float] = field(default_factory=dict)


_STATISTICS = _Statistics()
STATISTICS_SECONDS = 600.0  # ANALYZE refreshes them rarely; reading them costs a few ms


def _frequencies() -> dict[str, float]:
    if monotonic() - _STATISTICS.read_at > STATISTICS_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = %s AND attname = 'vector'",
                [TABLE],
            )
            row = cursor.fetchone()
        _STATISTICS.frequencies = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
        _STATISTICS.read_at = monotonic()
    return _STATISTICS.frequencies


def _rarest(words: Sequence[str]) -> str:
    """The phrase's token the statistics find least often (one they do not list is rarer than all they do).

    The planner takes a phrase's tokens as independent and multiplies their frequencies, which calls
    全额退款 (one segment in 45) one in a million; a phrase is at most as frequent as its rarest token,
    so that is what the plan is chosen by.
    """
    frequencies = _frequencies()
    return min(words, key=lambda word: frequencies.get(word, 0.0))


def loosened(parsed: Any, filters: Filters = NO_FILTERS) -> _Sql:
    """The query's condition with each phrase as its rarest token: what its plan is chosen by, never what finds."""
    return where(parsed, filters, rarest=_rarest)


def _estimate(condition: _Sql) -> float:
    """The planner's estimate of the rows matching ``condition`` (from its statistics: no rows read)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {TABLE} WHERE {condition.sql}", condition.params)
        return float(cursor.fetchone()[0][0]["Plan"]["Plan Rows"])


_ORDERED = "ORDER BY spoken_at DESC, segment_id DESC"


def _newest(condition: _Sql, loose: _Sql, window: _Sql, *, offset: int, limit: int) -> tuple[list[int], int, bool]:
    """(segment ids of the page, total up to CAP, capped): the plan chosen for this query.

    1. Common by the planner's statistics (of ``loose``, the condition with each phrase as its rarest
       token): the newest WINDOW rows of the page's date range, read along the date index, until
       CAP + 1 of them match — "1,000+" and the page, without the GIN (whose bitmap of a common term
       costs more than reading a few thousand rows).
    2. Otherwise, or when the window held CAP or fewer: at most CAP + 1 matches through the GIN
       bitmap (the date index and sequential scans switched off: a rare term or one with no match
       must not walk the whole table; dates narrowed by the BRIN index's block ranges), counted and
       paged in the same statement. Up to CAP matches are the whole answer.
    3. More than CAP: the page from the newest PAGE_WALK rows of the range along the date index;
       when they hold less, from the newest SLICES of time through the bitmaps (a hundred hits a
       day would otherwise walk a hundred thousand rows of the date index); when those hold less,
       a walk of the date index to the page.
    """
    in_range = _estimate(window)
    common = bool(in_range) and _estimate(loose) / in_range >= (CAP + 1) / WINDOW
    if common:
        recent = (
            f"SELECT ARRAY(SELECT segment_id FROM (SELECT * FROM {TABLE} WHERE {window.sql} {_ORDERED} "
            f"LIMIT {WINDOW}) AS recent WHERE {condition.sql} {_ORDERED} LIMIT {CAP + 1})"
        )
        [(found,)] = _planned(recent, (*window.params, *condition.params), bitmapscan=False, seqscan=False)
        if len(found) > CAP:
            return found[offset : offset + limit], CAP, True
    capped = (
        f"WITH hits AS MATERIALIZED (SELECT segment_id, spoken_at FROM {TABLE} WHERE {condition.sql} LIMIT {CAP + 1}) "
        f"SELECT (SELECT count(*) FROM hits), ARRAY(SELECT segment_id FROM hits {_ORDERED} LIMIT %s OFFSET %s)"
    )
    [(total, ids)] = _planned(
        capped, (*condition.params, limit, offset), bitmap_memory=True, indexscan=False, seqscan=False
    )
    if total <= CAP:
        return ids, total, False
    paged = _walked(condition, window, offset=offset, limit=limit)
    if paged is None:
        paged = _sliced(condition, window, offset=offset, limit=limit)
    if paged is not None:
        return paged, CAP, True
    walk = f"SELECT segment_id FROM {TABLE} WHERE {condition.sql} {_ORDERED} LIMIT %s OFFSET %s"
    rows = _planned(walk, (*condition.params, limit, offset), bitmapscan=False, seqscan=False)
    return [segment_id for (segment_id,) in rows], CAP, True


def _walked(condition: _Sql, window: _Sql, *, offset: int, limit: int) -> list[int] | None:
    """The page from the newest PAGE_WALK rows of the range, read along the date index, or None if they hold less."""
    sql = (
        f"SELECT segment_id FROM (SELECT * FROM {TABLE} WHERE {window.sql} {_ORDERED} LIMIT {PAGE_WALK}) AS recent "
        f"WHERE {condition.sql} {_ORDERED} LIMIT %s OFFSET %s"
    )
    rows = _planned(sql, (*window.params, *condition.params, limit, offset), bitmapscan=False, seqscan=False)
    return [segment_id for (segment_id,) in rows] if len(rows) == limit else None


def _sliced(condition: _Sql, window: _Sql, *, offset: int, limit: int) -> list[int] | None:
    """The page from the newest slice of time that holds it whole (see ``SLICES``), or None.

    A slice is everything since its start, so a full page from it is the page of the whole range.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(spoken_at) FROM {TABLE} WHERE {window.sql}", window.params)
        newest = cursor.fetchone()[0]
    if newest is None:
        return None
    sql = f"SELECT segment_id FROM {TABLE} WHERE ({condition.sql}) AND spoken_at >= %s {_ORDERED} LIMIT %s OFFSET %s"
    for span in SLICES:
        params = (*condition.params, newest - span, limit, offset)
        rows = _planned(sql, params, bitmap_memory=True, indexscan=False, seqscan=False)
        if len(rows) == limit:
            return [segment_id for (segment_id,) in rows]
    return None


def search(
    text: str, filters: Filters = NO_FILTERS, *, page: int = 1, per_page: int = 20, mask: bool = True
) -> SearchPage:
    """Run a query (phrases in quotes, AND/OR/NOT, field:value) with filters; newest first, highlighted."""
    parsed = parse(text)
    condition, loose = where(parsed, filters), loosened(parsed, filters)
    window = _and(_dates_sql(filters) or [_Sql("TRUE")])
    number = max(page, 1)
    ids, total, capped = _newest(condition, loose, window, offset=(number - 1) * per_page, limit=per_page)
    pages = max(math.ceil(total / per_page), 1)
    if number > pages:  # past the end: show the last page, as the pager would
        number = pages
        ids, total, capped = _newest(condition, loose, window, offset=(number - 1) * per_page, limit=per_page)
    rows = {
        row["segment_id"]: row
        for row in SegmentSearch.objects.filter(pk__in=ids).values(
            "segment_id", "transcript_id", "segment__seq", "speaker", "kind", "spoken_at", "segment__text"
        )
    }
    phrases = _phrases(parsed)
    hits = []
    for segment_id in ids:
        row = rows.get(segment_id)
        if row is None:  # its transcript was replaced a moment ago
            continue
        shown = mask_pii(row["segment__text"]) if mask else row["segment__text"]
        hits.append(
            SearchHit(
                segment_id=segment_id,
                transcript_id=row["transcript_id"],
                seq=row["segment__seq"],
                speaker=row["speaker"],
                kind=row["kind"],
                when=row["spoken_at"],
                highlighted=highlight(shown, phrases),
            )
        )
    return SearchPage(hits=hits, total=total, page=number, pages=pages, query=text, capped=capped)


def _phrases(parsed: query.Query) -> list[list[str]]:
    """The query's text terms and phrases as token lists (negated ones left out), for highlighting."""
    phrases: list[list[str]] = []

    def walk(node: query.Query) -> None:
        if isinstance(node, query.Not):
            return
        if isinstance(node, query.Phrase) and node.fieldname == "text":
            phrases.append(list(node.words))
        elif isinstance(node, query.Term) and node.fieldname == "text":
            phrases.append([node.text])
        elif node.is_leaf():
            return
        else:
            for child in node.children():
                walk(child)

    walk(parsed)
    return phrases


def highlight(text: str, phrases: Sequence[Sequence[str]]) -> SafeString:
    """``text`` escaped, with every occurrence of the phrases (as the index sees them) in <mark>."""
    if not phrases:
        return mark_safe(html.escape(text))
    at: dict[int, dict[str, tuple[int, int]]] = {}
    for token, pos, start, end in cjk_tokens(text):
        at.setdefault(pos, {})[token] = (start, end)
    spans = []
    for words in phrases:
        for pos, tokens in at.items():
            if words[0] not in tokens:
                continue
            ends = [at.get(pos + i, {}).get(word) for i, word in enumerate(words)]
            if all(ends):
                spans.append((ends[0][0], ends[-1][1]))  # type: ignore[index]
    spans.sort()
    out, last = [], 0
    for start, end in spans:
        if start < last:
            start = last
            if start >= end:
                continue
        out.append(html.escape(text[last:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        last = end
    out.append(html.escape(text[last:]))
    return mark_safe("".join(out))
