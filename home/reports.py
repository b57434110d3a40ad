"""The supervisor's weekly report: volume, response and handle times, SLA, CSAT and bot containment per day.

Every figure is one set-based query grouped by local day (five queries, whatever the range or the volume),
and the page, its charts and its CSV read the same ``Report``. What each figure counts:

- *volume*: tickets created that day, by channel and by kind;
- *first response* and *handle time*: median and 90th percentile, in minutes, of the tickets created that
  day that have one (first response − created; resolved − created);
- *SLA attainment*: of the tickets created that day under an SLA, the share not breached;
- *CSAT*: answers given that day, to a chat's survey (chat.satisfaction) and to a phone or web ticket's
  (tickets.surveys; a ticket that has a chat is rated by its chat only), the share of 4–5 stars and the average;
- *bot containment*: of the chats ended that day, the share that never went to a person (no handoff).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Aggregate, Count, DurationField, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from chat.models import ChatSession, Satisfaction
from core.charts import Bar, bar_chart, line_chart
from core.privacy import shown
from core.satisfaction import SATISFIED
from core.users import Actor
from tickets.models import Department, Ticket, TicketKind, TicketSatisfaction

DEFAULT_DAYS = 7
MAX_DAYS = 92  # a quarter: the longest range the report reads at once


class Percentile(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction)`` over an interval."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass(frozen=True)
class Range:
    """The report's days, both ends included (local days), and the department it is cut to (None: all)."""

    start: date
    end: date
    department: Department | None = None

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.start, time.min, tzinfo=zone)
        return start, datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone)


def parse_range(query: Any, *, today: date | None = None) -> Range:
    """The range a request asks for (``start``, ``end`` as YYYY-MM-DD, ``department`` as an id): by default the
    last 7 days up to today; refused, naming the field, when a date is not a date, the end is before the start,
    the range is longer than MAX_DAYS or the department does not exist."""
    today = today or timezone.localdate()
    errors: dict[str, str] = {}
    end = _date(query.get("end"), today, "end", errors)
    start = _date(query.get("start"), end - timedelta(days=DEFAULT_DAYS - 1), "start", errors)
    if not errors and end < start:
        errors["end"] = _("The end date is before the start date.")
    elif not errors and (end - start).days + 1 > MAX_DAYS:
        errors["end"] = _("A report covers at most %(n)s days.") % {"n": MAX_DAYS}
    department = None
    raw = (query.get("department") or "").strip()
    if raw:
        department = Department.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
        if department is None:
            errors["department"] = _("There is no such department.")
    if errors:
        raise ValidationError(errors)
    return Range(start, end, department)


def _date(raw: str | None, default: date, name: str, errors: dict[str, str]) -> date:
    if not (raw or "").strip():
        return default
    try:
        value = parse_date(str(raw).strip())
    except ValueError:
        value = None
    if value is None:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return default
    return value


@dataclass
class Day:
    """One day's figures; times in minutes, shares in percent (None: nothing to count that day)."""

    day: date
    tickets: int = 0
    channels: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    first_response_median: float | None = None
    first_response_p90: float | None = None
    handle_median: float | None = None
    handle_p90: float | None = None
    sla_tickets: int = 0
    sla_met: int = 0
    csat_responses: int = 0
    csat_satisfied: int = 0
    csat_stars: int = 0  # the answers' scores added up (the average is over chats' and tickets' answers together)
    chats_ended: int = 0
    chats_contained: int = 0

    @property
    def sla_attainment(self) -> float | None:
        return _share(self.sla_met, self.sla_tickets)

    @property
    def csat_satisfied_share(self) -> float | None:
        return _share(self.csat_satisfied, self.csat_responses)

    @property
    def csat_average(self) -> float | None:
        return round(self.csat_stars / self.csat_responses, 2) if self.csat_responses else None

    @property
    def containment(self) -> float | None:
        return _share(self.chats_contained, self.chats_ended)


@dataclass
class Report:
    """The range's days and their sums over the whole range."""

    range: Range
    days: list[Day]
    total: Day

    def channel_rows(self) -> list[tuple[str, int]]:
        return [(str(label), self.total.channels.get(value, 0)) for value, label in Ticket.Channel.choices]

    def kind_rows(self) -> list[tuple[str, int]]:
        return [(str(label), self.total.kinds.get(value, 0)) for value, label in TicketKind.choices]


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _minutes(delta: timedelta | None) -> float | None:
    return None if delta is None else round(max(delta.total_seconds(), 0) / 60, 1)


def report(span: Range) -> Report:
    """The figures of ``span``, per day and in total: 5 queries (tickets by channel and kind, ticket times and
    SLA, chats' CSAT, tickets' CSAT, chats) for the days plus 5 for the totals (percentiles do not add up)."""
    days = {d: Day(d) for d in span.days}
    total = Day(span.start)
    _fill(span, lambda day: days.get(day) if day else None, by_day=True)
    _fill(span, lambda _day: total, by_day=False)
    return Report(span, list(days.values()), total)


def _fill(span: Range, pick: Callable[[date | None], Day | None], by_day: bool) -> None:
    """Add the figures of ``span`` to the ``Day`` that ``pick`` gives for a row's day (None: a row to skip)."""
    start, end = span.bounds()
    dept = span.department
    tickets = Ticket.objects.filter(created_at__gte=start, created_at__lt=end)
    chats = ChatSession.objects.filter(state=ChatSession.State.ENDED, ended_at__gte=start, ended_at__lt=end)
    answers = Satisfaction.objects.filter(created_at__gte=start, created_at__lt=end)
    ticket_answers = _ticket_answers(start, end)
    if dept is not None:
        tickets = tickets.filter(department=dept)
        chats = chats.filter(ticket__department=dept)
        answers = answers.filter(chat__ticket__department=dept)
        ticket_answers = ticket_answers.filter(ticket__department=dept)

    def rows(queryset: QuerySet[Any], stamp: str, *extra: str, **aggregates: Any) -> list[tuple[Day, dict[str, Any]]]:
        if by_day:
            found = list(queryset.annotate(day=TruncDate(stamp)).values("day", *extra).annotate(**aggregates))
        elif extra:
            found = list(queryset.values(*extra).annotate(**aggregates))
        else:
            found = [queryset.aggregate(**aggregates)]
        return [(day, row) for row in found if (day := pick(row.get("day"))) is not None]

    for day, row in rows(tickets.order_by(), "created_at", "channel", "kind", n=Count("pk")):
        day.tickets += row["n"]
        day.channels[row["channel"]] = day.channels.get(row["channel"], 0) + row["n"]
        day.kinds[row["kind"]] = day.kinds.get(row["kind"], 0) + row["n"]

    waited = F("first_response_at") - F("created_at")
    took = F("resolved_at") - F("created_at")
    has_sla = ~Q(sla_state=Ticket.SLAState.NONE)
    for day, row in rows(
        tickets.order_by(), "created_at",
        fr50=Percentile(waited, 0.5), fr90=Percentile(waited, 0.9),
        ht50=Percentile(took, 0.5), ht90=Percentile(took, 0.9),
        sla=Count("pk", filter=has_sla), met=Count("pk", filter=has_sla & ~Q(sla_state=Ticket.SLAState.BREACHED)),
    ):  # fmt: skip
        day.first_response_median, day.first_response_p90 = _minutes(row["fr50"]), _minutes(row["fr90"])
        day.handle_median, day.handle_p90 = _minutes(row["ht50"]), _minutes(row["ht90"])
        day.sla_tickets, day.sla_met = row["sla"] or 0, row["met"] or 0

    for queryset in (answers, ticket_answers):  # one question, one scale (core.satisfaction)
        for day, row in rows(
            queryset.order_by(), "created_at",
            n=Count("pk"), satisfied=Count("pk", filter=Q(score__gte=SATISFIED)), stars=Sum("score"),
        ):  # fmt: skip
            day.csat_responses += row["n"] or 0
            day.csat_satisfied += row["satisfied"] or 0
            day.csat_stars += row["stars"] or 0

    # Contained: the bot alone from start to end — never handed off, so never queued for nor taken by a person.
    contained = Q(handoff_reason="", accepted_at=None)
    for day, row in rows(chats.order_by(), "ended_at", n=Count("pk"), contained=Count("pk", filter=contained)):
        day.chats_ended, day.chats_contained = row["n"] or 0, row["contained"] or 0


def _ticket_answers(start: datetime, end: datetime) -> QuerySet[TicketSatisfaction]:
    """The answers to tickets' surveys in [start, end): never one of a ticket that has a chat, whose answer is the
    chat's (so a chat's ticket is counted once; tickets.surveys offers such a ticket no survey anyway)."""
    return TicketSatisfaction.objects.filter(created_at__gte=start, created_at__lt=end, ticket__chat__isnull=True)


COMMENTS = 10  # the page lists this many of the range's latest CSAT comments


@dataclass(frozen=True)
class Comment:
    """A consumer's CSAT comment as the reader may see it (personal numbers masked unless they may see them)."""

    ticket_id: int
    score: int
    text: str
    at: datetime


def latest_comments(span: Range, user: Actor) -> list[Comment]:
    """The range's latest CSAT answers that have a comment, chats' and tickets' together, newest first: 2 queries."""
    start, end = span.bounds()
    answers = Satisfaction.objects.filter(created_at__gte=start, created_at__lt=end).exclude(comment="")
    ticket_answers = _ticket_answers(start, end).exclude(comment="")
    if span.department is not None:
        answers = answers.filter(chat__ticket__department=span.department)
        ticket_answers = ticket_answers.filter(ticket__department=span.department)
    fields = ("score", "comment", "created_at")
    rows = [
        *answers.order_by("-created_at", "-pk").values_list("chat__ticket_id", *fields)[:COMMENTS],
        *ticket_answers.order_by("-created_at", "-pk").values_list("ticket_id", *fields)[:COMMENTS],
    ]
    rows.sort(key=lambda row: (row[3], row[0]), reverse=True)
    return [Comment(ticket, score, shown(text, user), at) for ticket, score, text, at in rows[:COMMENTS]]


# --- the charts and the CSV ---------------------------------------------------------------------


def charts(result: Report) -> list[tuple[str, SafeString]]:
    """A title and an SVG chart per figure, a point or bar per day (core.charts), in the page's order."""
    empty = _("Nothing to show for these days.")

    def bars(value: Callable[[Day], float | None], unit: str, label: str) -> SafeString:
        shown = [Bar(d.day, round(value(d) or 0), f"{d.day.isoformat()}: {_cell(value(d)) or '—'} {unit}")
                 for d in result.days]  # fmt: skip
        peak = max((bar.value for bar in shown), default=0)
        return bar_chart(shown, label=label, peak_label=f"{peak} {unit}")

    def line(value: Callable[[Day], float | None], label: str) -> SafeString:
        series = [(d.day, value(d)) for d in result.days]
        return line_chart([(d, v) for d, v in series if v is not None], [], label=label, empty=empty)

    titles = {
        "first_response": _("First response, median per day"),
        "handle": _("Handle time, median per day"),
        "sla": _("SLA attainment per day (%)"),
        "csat": _("CSAT satisfied per day (%)"),
        "containment": _("Bot containment per day (%)"),
    }
    return [
        (titles["first_response"], bars(lambda d: d.first_response_median, _("min"), titles["first_response"])),
        (titles["handle"], bars(lambda d: d.handle_median, _("min"), titles["handle"])),
        (titles["sla"], line(lambda d: d.sla_attainment, titles["sla"])),
        (titles["csat"], line(lambda d: d.csat_satisfied_share, titles["csat"])),
        (titles["containment"], line(lambda d: d.containment, titles["containment"])),
    ]


def volume_chart(result: Report) -> SafeString:
    """Tickets per day as bars."""
    shown = [Bar(d.day, d.tickets, f"{d.day.isoformat()}: {d.tickets}") for d in result.days]
    peak = max((bar.value for bar in shown), default=0)
    return bar_chart(shown, label=_("Tickets per day"), peak_label=f"{peak} {_('tickets')}")


# --- the CSV ---------------------------------------------------------------------------------------


def _cell(value: float | int | None) -> str:
    return "" if value is None else str(value)


def csv_text(result: Report) -> str:
    """The figures per day (and a total line) as CSV with a header, starting with a UTF-8 byte-order mark so
    that Excel reads the Chinese headers."""
    channels = list(Ticket.Channel.choices)
    kinds = list(TicketKind.choices)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [_("Date"), _("Tickets")]
        + [_("Channel: %(name)s") % {"name": label} for _v, label in channels]
        + [_("Kind: %(name)s") % {"name": label} for _v, label in kinds]
        + [
            _("First response, median (min)"), _("First response, p90 (min)"),
            _("Handle time, median (min)"), _("Handle time, p90 (min)"),
            _("Tickets under an SLA"), _("SLA attainment (%)"),
            _("CSAT responses"), _("CSAT satisfied (%)"), _("CSAT average (1–5)"),
            _("Chats ended"), _("Bot containment (%)"),
        ]
    )  # fmt: skip
    for day, label in [*((d, d.day.isoformat()) for d in result.days), (result.total, _("Total"))]:
        writer.writerow(
            [label, day.tickets]
            + [day.channels.get(value, 0) for value, _l in channels]
            + [day.kinds.get(value, 0) for value, _l in kinds]
            + [
                _cell(day.first_response_median), _cell(day.first_response_p90),
                _cell(day.handle_median), _cell(day.handle_p90),
                day.sla_tickets, _cell(day.sla_attainment),
                day.csat_responses, _cell(day.csat_satisfied_share), _cell(day.csat_average),
                day.chats_ended, _cell(day.containment),
            ]
        )  # fmt: skip
    return out.getvalue()
