"""Where a nomination comes from (a ticket, a live chat, a transcript or a QA finding) and the consumer's words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.utils.translation import gettext as _

from core.tenancy import allows
from core.text import mask_pii
from core.users import Actor
from qa.models import Finding, Segment, Severity, Speaker, Transcript
from radio.models import SourceKind
from tickets.models import Department, Ticket, TicketEvent

QUOTE_MAX = 1000  # characters of the consumer's words offered as the quote


@dataclass(frozen=True)
class Source:
    """A nomination's source, resolved: what to quote and where the case belongs."""

    kind: str
    id: int
    label: str  # PII masked, like the quote
    quote: str  # the consumer's own words, PII masked; may be empty when they said nothing
    ticket: Ticket | None
    department: Department | None
    severity: int
    obj: Any  # the source row, for permission checks


def parse_kind(value: str) -> str:
    if value not in SourceKind.values:
        raise ValidationError({"source": _("Unknown source: choose ticket, chat, transcript or finding.")})
    return value


def parse_id(value: Any) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise ValidationError({"id": _("The source id must be a positive whole number.")})
    return number


def resolve(kind: str, source_id: int) -> Source:
    """Load a source and the consumer's words in it; a missing source is a ValidationError on ``id``."""
    kind = parse_kind(kind)
    try:
        return _RESOLVERS[kind](source_id)
    except ObjectDoesNotExist:
        raise ValidationError(
            {"id": _("There is no %(kind)s with id %(id)s.") % {"kind": SourceKind(kind).label, "id": source_id}}
        ) from None


def can_nominate_from(user: Actor, source: Source) -> bool:
    """The user may nominate this source: they may add nominations and may see the source itself."""
    if not user.has_perm("radio.add_nomination"):
        return False
    if source.kind in (SourceKind.TICKET, SourceKind.CHAT):
        return bool(user.has_perm("tickets.view_ticket")) and allows(user, source.ticket)
    if source.kind == SourceKind.TRANSCRIPT:
        return bool(user.has_perm("qa.view_transcript")) and allows(user, source.obj)
    return bool(user.has_perm("qa.view_finding")) and allows(user, source.obj)


def _join(texts: list[str]) -> str:
    """The consumer's turns, oldest first, whole turns only, up to QUOTE_MAX characters, PII masked."""
    parts: list[str] = []
    used = 0
    for text in texts:
        text = " ".join(text.split())
        if not text:
            continue
        if used + len(text) > QUOTE_MAX:
            if not parts:
                parts.append(text[: QUOTE_MAX - 1] + "…")
            break
        parts.append(text)
        used += len(text) + 1
    return mask_pii("\n".join(parts))


def _ticket_quote(ticket: Ticket) -> str:
    bodies = TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.MESSAGE, author_kind=TicketEvent.Author.CONSUMER
    ).order_by("created_at", "id")
    return _join(list(bodies.values_list("body", flat=True)))


def _ticket(source_id: int) -> Source:
    ticket = Ticket.objects.select_related("department").get(pk=source_id)
    return Source(
        kind=SourceKind.TICKET, id=ticket.pk, label=_("Ticket #%(id)s: %(subject)s") % {"id": ticket.pk,
        "subject": mask_pii(ticket.subject)}, quote=_ticket_quote(ticket), ticket=ticket, department=ticket.department,
        severity=Severity.MEDIUM, obj=ticket,
    )  # fmt: skip


def _chat(source_id: int) -> Source:
    # A live chat is a ticket with a conversation; its timeline holds the consumer's messages.
    try:
        chat_model = apps.get_model("chat", "ChatSession")
    except LookupError:
        raise ObjectDoesNotExist from None
    chat = chat_model.objects.select_related("ticket__department").get(pk=source_id)
    ticket = chat.ticket
    return Source(
        kind=SourceKind.CHAT, id=chat.pk, label=_("Chat #%(id)s (ticket #%(ticket)s)") % {"id": chat.pk,
        "ticket": ticket.pk}, quote=_ticket_quote(ticket), ticket=ticket, department=ticket.department,
        severity=Severity.MEDIUM, obj=chat,
    )  # fmt: skip


def _consumer_texts(transcript: Transcript, around: int | None = None) -> list[str]:
    segments = Segment.objects.filter(transcript=transcript, speaker=Speaker.CONSUMER)
    if around is None:
        return list(segments.order_by("seq").values_list("text", flat=True))
    # The consumer's turns nearest to the finding's place: the one just before it and the one just after.
    before = segments.filter(seq__lt=around).order_by("-seq").values_list("text", flat=True).first()
    after = segments.filter(seq__gt=around).order_by("seq").values_list("text", flat=True).first()
    return [text for text in (before, after) if text]


def _transcript(source_id: int) -> Source:
    transcript = Transcript.objects.select_related("ticket", "department").get(pk=source_id)
    return Source(
        kind=SourceKind.TRANSCRIPT, id=transcript.pk, label=str(transcript),
        quote=_join(_consumer_texts(transcript)), ticket=transcript.ticket,
        department=transcript.department or getattr(transcript.ticket, "department", None),
        severity=Severity.MEDIUM, obj=transcript,
    )  # fmt: skip


def _finding(source_id: int) -> Source:
    finding = Finding.objects.select_related(
        "segment", "rule", "transcript__ticket__department", "transcript__department"
    ).get(pk=source_id)
    transcript, segment = finding.transcript, finding.segment
    if segment is None:  # a required phrase never said: the whole conversation is the finding
        texts = _consumer_texts(transcript)
    elif segment.speaker == Speaker.CONSUMER:
        texts = [segment.text]
    else:
        texts = _consumer_texts(transcript, around=segment.seq)
    return Source(
        kind=SourceKind.FINDING, id=finding.pk,
        label=_("QA finding #%(id)s: %(rule)s") % {"id": finding.pk, "rule": finding.rule.display_name},
        quote=_join(texts), ticket=transcript.ticket,
        department=transcript.department or getattr(transcript.ticket, "department", None),
        severity=finding.severity, obj=finding,
    )  # fmt: skip


_RESOLVERS: dict[str, Callable[[int], Source]] = {
    SourceKind.TICKET: _ticket,
    SourceKind.CHAT: _chat,
    SourceKind.TRANSCRIPT: _transcript,
    SourceKind.FINDING: _finding,
}
