"""The QA search index: one document per segment, speaker-aware, with agent, date, department and ticket.

Text goes through ``core.search.cjk_analyzer`` so that phrase hits equal substring truth (DESIGN.md
§7). Writes happen only in the ``search`` queue's single worker (``qa.tasks.index_transcripts``) and
in ``manage.py reindex``; the admin's search page only reads.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from whoosh import fields, query
from whoosh.qparser import QueryParser
from whoosh.qparser.dateparse import DateParserPlugin

from core.search import CJKTokenizer, SearchIndex, cjk_analyzer
from core.text import mask_pii
from qa.models import Segment, Transcript


def _schema() -> fields.Schema:
    text = fields.TEXT(analyzer=cjk_analyzer(), phrase=True)
    # A query word that analyses into several tokens (退款 -> one bigram; 全额退款 -> three) is a phrase.
    text.multitoken_query = "phrase"
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),  # segment id
        # Looked up by exact value only (replacing a transcript): one term, not Whoosh's 16 range tiers.
        transcript=fields.NUMERIC(stored=True, signed=False, bits=64, shift_step=0),
        seq=fields.STORED(),  # shown, never searched
        kind=fields.ID(stored=True),
        speaker=fields.ID(stored=True),
        agent=fields.ID(stored=True),
        department=fields.ID(stored=True),
        ticket=fields.ID(stored=True),
        date=fields.DATETIME(stored=True, sortable=True),
        day=fields.ID(),  # local date, YYYYMMDD: what the page's date filters look up
        text=text,
    )


INDEX = SearchIndex("qa", _schema())


def _documents(transcript_ids: list[int]) -> Iterator[dict[str, object]]:
    heads = {
        t["id"]: t
        for t in Transcript.objects.filter(pk__in=transcript_ids).values(
            "id", "kind", "agent_id", "department_id", "ticket_id", "started_at"
        )
    }
    rows = (
        Segment.objects.filter(transcript_id__in=list(heads))
        .order_by("transcript_id", "seq")
        .values_list("transcript_id", "id", "seq", "speaker", "text", "start_ms")
    )
    for transcript_id, group in groupby(rows.iterator(chunk_size=5000), key=lambda r: r[0]):
        head = heads[transcript_id]
        for _tid, segment_id, seq, speaker, text, start_ms in group:
            when = timezone.make_naive(
                head["started_at"] + timedelta(milliseconds=start_ms or 0), timezone.get_default_timezone()
            )
            yield {
                "id": str(segment_id),
                "transcript": transcript_id,
                "seq": seq,
                "kind": head["kind"],
                "speaker": speaker,
                "agent": str(head["agent_id"] or ""),
                "department": str(head["department_id"] or ""),
                "ticket": str(head["ticket_id"] or ""),
                "date": when,
                "day": when.strftime("%Y%m%d"),
                "text": text,
            }


def index_transcripts(
    transcript_ids: Iterable[int], *, fresh: bool = False, writer_options: dict[str, Any] | None = None
) -> int:
    """Replace these transcripts' segments in the index. Returns the number of segments written.

    ``fresh``: the index holds none of them yet (a rebuild), so there is nothing to delete first.
    """
    ids = list(transcript_ids)
    if not ids:
        return 0
    written = _write(INDEX, ids, fresh=fresh, writer_options=writer_options)
    Transcript.objects.filter(pk__in=ids).update(indexed_at=timezone.now())
    return written


def _write(index: SearchIndex, ids: list[int], *, fresh: bool, writer_options: dict[str, Any] | None) -> int:
    written = 0
    with index.writer(**(writer_options or {})) as writer:
        if not fresh:
            # A transcript's segments may have been replaced: drop its old documents first.
            writer.delete_by_query(query.Or([query.Term("transcript", transcript_id) for transcript_id in ids]))
        for document in _documents(ids):
            writer.add_document(**document)
            written += 1
    return written


def unindexed_transcript_ids(limit: int = 50_000) -> list[int]:
    settled = timezone.now() - timedelta(minutes=5)
    qs = Transcript.objects.filter(indexed_at=None, created_at__lt=settled).order_by("id")
    return list(qs.values_list("id", flat=True)[:limit])


# --- Searching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    speaker: str = ""
    kind: str = ""
    agent: int | None = None
    department: int | None = None
    ticket: int | None = None
    since: date | None = None
    until: date | None = None


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
    total: int
    page: int
    pages: int
    query: str


class SearchSyntaxError(ValueError):
    """The query could not be parsed."""


def parse(text: str) -> query.Query:
    """Whoosh's syntax: words, "phrases", AND/OR/NOT, (groups), field:value, date:[a to b].

    The parser forgives most mistakes; a date it cannot read, or a query left with nothing to look
    for, is an error the page shows.
    """
    errors: list[str] = []
    parser = QueryParser("text", INDEX.schema)
    parser.add_plugin(DateParserPlugin(callback=errors.append))
    try:
        parsed = parser.parse(text)
    except Exception as error:  # whoosh raises several kinds for bad syntax
        raise SearchSyntaxError(
            _("Check the query's quotes, parentheses and operators (%(detail)s).") % {"detail": error}
        ) from None
    if errors:
        raise SearchSyntaxError(_("Cannot read the date %(date)s.") % {"date": ", ".join(map(str, errors))})
    if parsed is query.NullQuery or not list(parsed.leaves() if not parsed.is_leaf() else [parsed]):
        raise SearchSyntaxError(_("The query has nothing to search for."))
    return parsed


def _filter_query(filters: Filters) -> query.Query | None:
    terms: list[query.Query] = []
    for name in ("speaker", "kind"):
        value = getattr(filters, name)
        if value:
            terms.append(query.Term(name, value))
    for name in ("agent", "department", "ticket"):
        value = getattr(filters, name)
        if value:
            terms.append(query.Term(name, str(value)))
    if filters.since or filters.until:
        # A few day terms, not a DateRange: that expands into dozens of range tiers over one
        # distinct timestamp per segment, and costs seconds at a million segments.
        start = filters.since.strftime("%Y%m%d") if filters.since else None
        end = filters.until.strftime("%Y%m%d") if filters.until else None
        terms.append(query.TermRange("day", start, end))
    return query.And(terms) if terms else None


def search(
    text: str, filters: Filters = Filters(), *, page: int = 1, per_page: int = 20, mask: bool = True
) -> SearchPage:
    """Run a query (phrases in quotes, AND/OR/NOT, field:value) with filters; newest first, highlighted."""
    parsed = parse(text)
    restrict = _filter_query(filters)
    # Filters join the query rather than going in as filter=, which builds a set of every document
    # the filter allows (hundreds of thousands) on each request.
    combined = query.And([parsed, restrict]) if restrict is not None else parsed
    with INDEX.searcher() as searcher:
        results = searcher.search_page(combined, page, pagelen=per_page, sortedby="date", reverse=True)
        found = [(int(hit["id"]), hit.fields()) for hit in results]
        total, pages, number = results.total, results.pagecount, results.pagenum
    texts = dict(Segment.objects.filter(pk__in=[segment_id for segment_id, _f in found]).values_list("id", "text"))
    phrases = _phrases(parsed)
    hits = []
    for segment_id, stored in found:
        if segment_id not in texts:  # deleted since it was indexed; the next index run drops it
            continue
        shown = mask_pii(texts[segment_id]) if mask else texts[segment_id]
        hits.append(
            SearchHit(
                segment_id=segment_id,
                transcript_id=stored["transcript"],
                seq=stored["seq"],
                speaker=stored["speaker"],
                kind=stored["kind"],
                when=timezone.make_aware(stored["date"]),
                highlighted=highlight(shown, phrases),
            )
        )
    return SearchPage(hits=hits, total=total, page=number, pages=pages, query=text)


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


def highlight(text: str, phrases: list[list[str]]) -> SafeString:
    """``text`` escaped, with every occurrence of the phrases (as the index sees them) in <mark>."""
    if not phrases:
        return mark_safe(html.escape(text))
    at: dict[int, dict[str, tuple[int, int]]] = {}
    for token in CJKTokenizer()(text, positions=True, chars=True):
        at.setdefault(token.pos, {})[token.text] = (token.startchar, token.endchar)
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


def rebuild(
    transcript_ids: Iterable[int], *, batch: int = 1000, progress: Callable[[int], object] | None = None
) -> int:
    """Rebuild the index from the database (``manage.py reindex``) into a fresh index, then swap it in.

    Searches keep working on the old index meanwhile. Transcripts the ``search`` worker indexed while
    the rebuild ran went into the old index: they are indexed again after the swap.
    """
    began = timezone.now()
    staged = INDEX.staging()
    ids = list(transcript_ids)
    written = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        written += _write(staged, chunk, fresh=True, writer_options={"limitmb": 256})
        if progress is not None:
            progress(len(chunk))
    INDEX.swap_in(staged)
    Transcript.objects.filter(pk__in=ids).update(indexed_at=began)
    late = list(Transcript.objects.filter(indexed_at__gt=began).values_list("id", flat=True))
    if late:
        written += index_transcripts(late)
    return written
