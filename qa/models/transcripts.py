"""A conversation's words: the transcript, its turns (segments) and their full-text search rows."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex, GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from qa.models.recordings import Language, Recording, Speaker


class Transcript(models.Model):
    """What was said in one call or one chat, as speaker-labelled segments; what QA reads and searches."""

    tenant_field: ClassVar[str | None] = "ticket__merchant"

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        CHAT = "chat", _("Chat")

    class Source(models.TextChoices):
        RECOGNISER = "recogniser", _("Speech recogniser")
        IMPORT = "import", _("Imported")
        CHAT = "chat", _("Chat timeline")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    recording = models.OneToOneField(
        Recording, on_delete=models.CASCADE, null=True, blank=True, related_name="transcript",
        verbose_name=_("recording"),
    )  # fmt: skip
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="transcripts",
        verbose_name=_("ticket"),
    )  # fmt: skip
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="transcripts",
        verbose_name=_("agent"),
    )  # fmt: skip
    consumer = models.ForeignKey(
        "crm.Consumer", on_delete=models.SET_NULL, null=True, blank=True, related_name="transcripts",
        verbose_name=_("consumer"),
    )  # fmt: skip
    department = models.ForeignKey(
        "tickets.Department", on_delete=models.SET_NULL, null=True, blank=True, related_name="transcripts",
        verbose_name=_("department"),
    )  # fmt: skip
    language = models.CharField(_("language"), max_length=8, default=Language.CHINESE, choices=Language.choices)
    # An import's caller-given id: importing the same transcript again updates it instead of adding one.
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True, unique=True)
    started_at = models.DateTimeField(_("started at"), db_index=True)
    # A chat's transcript covers its timeline up to this event; newer messages make it stale.
    through_event = models.PositiveBigIntegerField(_("through timeline event"), null=True, blank=True)
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    characters = models.PositiveIntegerField(_("characters"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    evaluated_at = models.DateTimeField(_("rules evaluated at"), null=True, blank=True)
    indexed_at = models.DateTimeField(_("indexed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("transcript")
        verbose_name_plural = _("transcripts")
        ordering = ["-started_at"]
        # Agents view their own transcripts; this one lets supervisors read and search everyone's.
        permissions = [("search_transcript", _("Can read and search every transcript and chat"))]
        constraints = [
            # A chat has one transcript, refreshed as the chat goes on.
            models.UniqueConstraint(fields=["ticket"], condition=Q(kind="chat"), name="qa_one_transcript_per_chat"),
        ]
        indexes = [models.Index(fields=["agent", "started_at"], name="qa_transcript_agent")]

    def __str__(self) -> str:
        return _("%(kind)s transcript #%(id)s") % {"kind": self.get_kind_display(), "id": self.pk}


class Segment(models.Model):
    """One speaker's turn in a transcript, with its time in the recording when there is one."""

    tenant_field: ClassVar[str | None] = "transcript__ticket__merchant"

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="segments")
    seq = models.PositiveIntegerField(_("number"))
    speaker = models.CharField(_("speaker"), max_length=16, choices=Speaker.choices)
    start_ms = models.PositiveIntegerField(_("start (ms)"), null=True, blank=True)
    end_ms = models.PositiveIntegerField(_("end (ms)"), null=True, blank=True)
    text = models.TextField(_("text"))

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["transcript", "seq"]
        constraints = [models.UniqueConstraint(fields=["transcript", "seq"], name="qa_segment_seq")]

    def __str__(self) -> str:
        return f"{self.transcript_id}#{self.seq}"


class SegmentSearch(models.Model):
    """A segment as transcript search reads it: its tokens as a ``tsvector`` and the columns it is filtered on.

    Written with the segment, in the same transaction (``qa.search_index.index_transcripts``); the agent,
    department and ticket are copied from the transcript, so one table answers a search.
    """

    tenant_field: ClassVar[str | None] = "transcript__ticket__merchant"

    segment = models.OneToOneField(Segment, on_delete=models.CASCADE, primary_key=True, related_name="search")
    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="+")
    # When the segment was said (the transcript's start plus the segment's offset): newest first.
    spoken_at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=Transcript.Kind.choices)
    speaker = models.CharField(max_length=16, choices=Speaker.choices)
    # Plain ids, not relations: filters only, copied from the transcript when it is saved.
    agent_id = models.BigIntegerField(null=True)
    department_id = models.BigIntegerField(null=True)
    ticket_id = models.BigIntegerField(null=True)
    vector = SearchVectorField()

    class Meta:
        verbose_name = _("segment search entry")
        verbose_name_plural = _("segment search entries")
        indexes = [
            GinIndex(fields=["vector"], name="qa_segmentsearch_vector"),
            models.Index(F("spoken_at").desc(), F("segment").desc(), name="qa_segmentsearch_newest"),
            # Rows are written in time order, so a block range's dates are narrow: a date range as a bitmap of
            # blocks costs a few hundred kB of reading, where the B-tree above lists every row of the range.
            BrinIndex(fields=["spoken_at"], name="qa_segmentsearch_spoken", pages_per_range=16),
        ]

    def __str__(self) -> str:
        return str(self.segment_id)
