"""The transcript search's query language, compiled to SQL for ``qa.SegmentSearch``: Whoosh's parser reads the
text (terms, "phrases", AND/OR/NOT, field:value filters, dates), and each part becomes a ``tsquery`` of
``core.search`` lexemes (a phrase a ``<->`` chain of adjacent bigrams) or a plain SQL condition (speaker, kind,
agent, department, ticket, dates). ``qa.searching`` runs what is compiled here and chooses the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from whoosh import fields, query
from whoosh.qparser import QueryParser
from whoosh.qparser.dateparse import DateParserPlugin

from core.search import cjk_analyzer, tsquery_lexeme
from qa.models import SegmentSearch

# A phrase's token that plans are chosen by (``qa.searching``'s statistics).
Rarest = Callable[[Sequence[str]], str]


# --- The query language --------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    speaker: str = ""
    kind: str = ""
    agent: int | None = None
    department: int | None = None
    ticket: int | None = None
    since: date | None = None
    until: date | None = None


NO_FILTERS = Filters()


class SearchSyntaxError(ValueError):
    """The query could not be parsed."""


def _schema() -> fields.Schema:
    """The fields the query language knows; only parsed against, never indexed (the index is SQL)."""
    text = fields.TEXT(analyzer=cjk_analyzer(), phrase=True)
    # A query word that analyses into several tokens (退款 -> one bigram; 全额退款 -> three) is a phrase.
    text.multitoken_query = "phrase"
    return fields.Schema(
        kind=fields.ID(),
        speaker=fields.ID(),
        agent=fields.ID(),
        department=fields.ID(),
        ticket=fields.ID(),
        date=fields.DATETIME(),
        text=text,
    )


SCHEMA = _schema()


def parse(text: str) -> query.Query:
    """The syntax: words, "phrases", AND/OR/NOT, (groups), field:value, date:[a to b], prefix*.

    The parser forgives most mistakes; a date it cannot read, or a query left with nothing to look
    for, is an error the page shows.
    """
    errors: list[str] = []
    parser = QueryParser("text", SCHEMA)
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


@dataclass(frozen=True)
class _TsQuery:
    """A part of the query over the text, as ``tsquery`` source."""

    source: str


@dataclass(frozen=True)
class _Sql:
    """A part of the query as an SQL condition over the search table."""

    sql: str
    params: tuple[Any, ...] = ()


def _as_sql(part: _TsQuery | _Sql) -> _Sql:
    return _Sql("vector @@ %s::tsquery", (part.source,)) if isinstance(part, _TsQuery) else part


_ID_COLUMNS = {"agent": "agent_id", "department": "department_id", "ticket": "ticket_id"}


def _compile(node: query.Query, *, rarest: Rarest | None = None) -> _TsQuery | _Sql:
    """A parsed query as one ``tsquery`` where it is all text, else SQL with the text parts as ``@@``.

    ``rarest``: for estimating only — a phrase (outside a NOT) becomes the token it names (``qa.searching``'s
    statistics choose it).
    """
    if isinstance(node, query.Not):
        inner = _compile(node.query)
        if isinstance(inner, _TsQuery):
            return _TsQuery(f"!({inner.source})")
        return _Sql(f"NOT ({inner.sql})", inner.params)
    if isinstance(node, query.AndNot):
        return _compile(query.And([node.a, query.Not(node.b)]), rarest=rarest)
    if isinstance(node, query.AndMaybe):
        return _compile(node.a, rarest=rarest)  # the optional part only ranks; we sort by time
    if isinstance(node, (query.And, query.Or)):
        parts = [_compile(child, rarest=rarest) for child in node.children()]
        texts = [p for p in parts if isinstance(p, _TsQuery)]
        others = [p for p in parts if isinstance(p, _Sql)]
        ts_op, sql_op = ("&", " AND ") if isinstance(node, query.And) else ("|", " OR ")
        combined = _TsQuery(f" {ts_op} ".join(f"({p.source})" for p in texts)) if texts else None
        if not others and combined is not None:
            return combined
        conditions = ([_as_sql(combined)] if combined is not None else []) + others
        return _Sql(sql_op.join(f"({c.sql})" for c in conditions), tuple(p for c in conditions for p in c.params))
    field = getattr(node, "fieldname", None)
    if field == "text":
        if isinstance(node, query.Phrase) and rarest is not None:
            return _TsQuery(tsquery_lexeme(rarest(node.words)))
        if isinstance(node, query.Phrase):
            return _TsQuery(" <-> ".join(tsquery_lexeme(word) for word in node.words))
        if isinstance(node, query.Prefix):
            return _TsQuery(f"{tsquery_lexeme(node.text)}:*")
        if isinstance(node, query.Term):
            return _TsQuery(tsquery_lexeme(node.text))
    if isinstance(node, query.Term) and field in ("speaker", "kind"):
        return _Sql(f"{field} = %s", (node.text,))
    if isinstance(node, query.Term) and field in _ID_COLUMNS:
        if not str(node.text).isdigit():
            raise SearchSyntaxError(_("%(field)s: takes a number.") % {"field": field})
        return _Sql(f"{_ID_COLUMNS[field]} = %s", (int(node.text),))
    if isinstance(node, query.DateRange):
        conditions = []
        if node.startdate is not None:
            conditions.append(_Sql("spoken_at >= %s", (_aware(node.startdate),)))
        if node.enddate is not None:
            conditions.append(_Sql("spoken_at <= %s", (_aware(node.enddate),)))
        if not conditions:
            raise SearchSyntaxError(_("The query has nothing to search for."))
        return _Sql(" AND ".join(c.sql for c in conditions), tuple(p for c in conditions for p in c.params))
    raise SearchSyntaxError(_("This search cannot look for %(part)s.") % {"part": node})


def _aware(moment: datetime) -> datetime:
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _filter_sql(filters: Filters) -> list[_Sql]:
    columns = {"speaker": "speaker", "kind": "kind", **_ID_COLUMNS}
    conditions = [_Sql(f"{column} = %s", (getattr(filters, name),)) for name, column in columns.items()
                  if getattr(filters, name)]  # fmt: skip
    return conditions + _dates_sql(filters)


def _dates_sql(filters: Filters) -> list[_Sql]:
    conditions = []
    if filters.since:
        conditions.append(_Sql("spoken_at >= %s", (_midnight(filters.since),)))
    if filters.until:
        conditions.append(_Sql("spoken_at < %s", (_midnight(filters.until + timedelta(days=1)),)))
    return conditions


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def where(parsed: query.Query, filters: Filters = Filters(), *, rarest: Rarest | None = None) -> _Sql:
    """The WHERE clause (over the search table's own columns) of a parsed query and the page's filters.

    With ``rarest``, a wider clause for the planner's estimate alone (see ``_compile``), never for finding.
    """
    return _and([_as_sql(_compile(parsed, rarest=rarest)), *_filter_sql(filters)])


def _and(conditions: Sequence[_Sql]) -> _Sql:
    return _Sql(" AND ".join(f"({c.sql})" for c in conditions), tuple(p for c in conditions for p in c.params))


def matching(text: str) -> QuerySet[SegmentSearch]:
    """The search rows a query matches, unordered (the transcript changelist's search box filters by it)."""
    condition = where(parse(text))
    return SegmentSearch.objects.filter(RawSQL(condition.sql, condition.params, output_field=BooleanField()))
