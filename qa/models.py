from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex, GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.text import PII_KINDS
from qa.matching import RuleSetError, RuleSpec, validate_spec


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    CHINESE = "zh", _("Chinese")


class Speaker(models.TextChoices):
    AGENT = "agent", _("Agent")
    CONSUMER = "consumer", _("Consumer")
    BOT = "bot", _("Bot")
    UNKNOWN = "unknown", _("Unknown speaker")


class Recording(models.Model):
    """A call's audio, uploaded for transcription, with where its transcription stands."""

    tenant_field: ClassVar[str | None] = "ticket__merchant"

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for transcription")
        TRANSCRIBING = "transcribing", _("Transcribing")
        DONE = "done", _("Transcribed")
        FAILED = "failed", _("Failed")

    audio = models.FileField(_("audio"), upload_to="recordings/%Y/%m/")
    language = models.CharField(_("language"), max_length=8, default=Language.ENGLISH, choices=Language.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recordings", verbose_name=_("agent")
    )
    consumer = models.ForeignKey(
        "crm.Consumer", on_delete=models.PROTECT, related_name="recordings", verbose_name=_("consumer")
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="recordings",
        verbose_name=_("ticket"),
    )  # fmt: skip
    called_at = models.DateTimeField(_("call started at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.TextField(_("failure reason"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("uploaded by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    transcribed_at = models.DateTimeField(_("transcribed at"), null=True, blank=True)
    # The uploader's Idempotency-Key (empty: none was sent): a retried upload returns this recording.
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="qa_recording_status")]
        constraints = [
            # Keys are their uploader's own, like refunds' (tickets_refund_key_per_requester).
            models.UniqueConstraint(
                fields=["uploaded_by", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                name="qa_recording_key_per_uploader",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return _("Recording #%(id)s") % {"id": self.pk}


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


class Category(models.TextChoices):
    COMPLIANCE = "compliance", _("Compliance")
    COURTESY = "courtesy", _("Courtesy")
    RISK = "risk", _("Risk")
    PRIVACY = "privacy", _("Privacy")


class Severity(models.IntegerChoices):
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    CRITICAL = 4, _("Critical")


class RuleKind(models.TextChoices):
    KEYWORD = "keyword", _("Keyword (any of a list)")
    PHRASE = "phrase", _("Phrase")
    PROXIMITY = "proximity", _("Proximity (A within N of B)")
    REGEX = "regex", _("Regular expression")
    REQUIRED = "required", _("Required phrase (its absence is the finding)")
    PII = "pii", _("Personal data read out (phone, ID or bank card number)")


class PiiKind(models.TextChoices):
    PHONE = "phone", _("Phone number")
    ID = "id", _("ID number")
    CARD = "card", _("Bank card number")


def all_pii_kinds() -> list[str]:
    return list(PII_KINDS)


class ProximityScope(models.TextChoices):
    SEGMENT = "segment", _("Within one turn")
    CALL = "call", _("Within the call (one speaker's turns)")


class SpeakerScope(models.TextChoices):
    AGENT = "agent", _("Agent")
    CONSUMER = "consumer", _("Consumer")
    ANY = "any", _("Any speaker")


class RuleDefinition(models.Model):
    """What a rule matches; shared by the rule (its current definition) and its frozen versions."""

    kind = models.CharField(_("kind"), max_length=16, choices=RuleKind.choices)
    # keyword/required: any of these; phrase: one or more phrases; proximity: the A terms.
    terms = models.JSONField(_("terms"), default=list, blank=True)
    # proximity only: the B terms, and how close (in tokens of the normalised text) they must be.
    near_terms = models.JSONField(_("near terms"), default=list, blank=True)
    distance = models.PositiveSmallIntegerField(_("distance (tokens)"), null=True, blank=True)
    pattern = models.TextField(_("regular expression"), blank=True)
    speaker = models.CharField(_("speaker"), max_length=16, choices=SpeakerScope.choices, default=SpeakerScope.ANY)
    # proximity only: one turn, or the turns of one speaker across the call.
    scope = models.CharField(
        _("proximity scope"), max_length=8, choices=ProximityScope.choices, default=ProximityScope.SEGMENT
    )
    # A match is dropped when one of these ends within negation_window tokens before it (没法保证 退款).
    negations = models.JSONField(_("negation terms"), default=list, blank=True)
    negation_window = models.PositiveSmallIntegerField(_("negation window (tokens)"), null=True, blank=True)
    # pii only: which numbers the rule looks for.
    pii_kinds = models.JSONField(_("personal numbers"), default=all_pii_kinds, blank=True)

    class Meta:
        abstract = True

    def spec(self, key: int = 0) -> RuleSpec:
        """The definition as the rule engine reads it."""
        return RuleSpec(
            key=key, kind=self.kind, speaker=self.speaker, terms=tuple(self.terms or ()),
            near_terms=tuple(self.near_terms or ()), distance=self.distance, pattern=self.pattern, scope=self.scope,
            negations=tuple(self.negations or ()), negation_window=self.negation_window,
            pii_kinds=tuple(self.pii_kinds or ()),
        )  # fmt: skip

    def clean(self) -> None:
        super().clean()
        spec = self.spec()
        try:
            validate_spec(spec)
        except RuleSetError as error:
            raise ValidationError({error.field: error.message}) from None


class Rule(RuleDefinition):
    """A QA rule supervisors tune; editing it freezes the old definition as a RuleVersion."""

    tenant_field: ClassVar[str | None] = None

    name = models.CharField(_("name"), max_length=120, unique=True)
    # A rule's name is data, written in the desk's language; the English one is what an English reader sees.
    name_en = models.CharField(_("name in English"), max_length=120, blank=True,
                               help_text=_("Shown instead of the name on English pages; blank: the name."))  # fmt: skip
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices, default=Severity.MEDIUM)
    active = models.BooleanField(_("active"), default=False)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("QA rule")
        verbose_name_plural = _("QA rules")
        ordering = ["-severity", "name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name in the reader's language: the English name on an English page when it has one."""
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class RuleVersion(RuleDefinition):
    """A rule's definition as it stood at one version; findings cite the version that found them."""

    tenant_field: ClassVar[str | None] = None

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions", verbose_name=_("rule"))
    number = models.PositiveIntegerField(_("version"))
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("rule version")
        verbose_name_plural = _("rule versions")
        ordering = ["rule", "-number"]
        constraints = [models.UniqueConstraint(fields=["rule", "number"], name="qa_rule_version_number")]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.number}"


class Finding(models.Model):
    """What a rule found in a transcript: the passage, the rule version, and the supervisor's verdict."""

    tenant_field: ClassVar[str | None] = "transcript__ticket__merchant"

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed")

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="findings")
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="findings", verbose_name=_("rule"))
    rule_version = models.ForeignKey(
        RuleVersion, on_delete=models.PROTECT, related_name="findings", verbose_name=_("rule version")
    )
    # Denormalised from the rule version and transcript for the queue's filters and ordering.
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="qa_findings",
        verbose_name=_("agent"),
    )  # fmt: skip
    # None for a required phrase that never came: the whole transcript is the finding.
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, null=True, blank=True, related_name="findings", verbose_name=_("segment")
    )
    matched_text = models.TextField(_("matched text"), blank=True)
    start = models.PositiveIntegerField(_("start offset"), default=0)
    end = models.PositiveIntegerField(_("end offset"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(_("note"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("reviewed by"),
    )  # fmt: skip
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(_("found at"), auto_now_add=True)

    class Meta:
        verbose_name = _("QA finding")
        verbose_name_plural = _("QA findings")
        ordering = ["-severity", "created_at", "pk"]
        constraints = [
            # Re-evaluating never duplicates: one finding per rule and place, whatever the rule's version.
            models.UniqueConstraint(
                fields=["rule", "transcript", "segment", "start"], name="qa_finding_once", nulls_distinct=False
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-severity", "created_at"], name="qa_finding_queue"),
            models.Index(fields=["agent", "occurred_at"], name="qa_finding_agent"),
        ]

    def __str__(self) -> str:
        return _("Finding #%(id)s") % {"id": self.pk}


class RuleRun(models.Model):
    """A rule version applied to the transcripts of the last N days in the background, with its progress."""

    tenant_field: ClassVar[str | None] = None

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs", verbose_name=_("rule"))
    rule_version = models.ForeignKey(
        RuleVersion, on_delete=models.PROTECT, related_name="runs", verbose_name=_("rule version")
    )
    days = models.PositiveSmallIntegerField(_("days"))
    # The window's start, fixed when the run is asked for: a run that waits in the queue reads the same days.
    since = models.DateTimeField(_("transcripts since"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    transcripts_total = models.PositiveIntegerField(_("transcripts to read"), null=True, blank=True)
    transcripts_done = models.PositiveIntegerField(_("transcripts read"), default=0)
    findings_added = models.PositiveIntegerField(_("findings added"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("rule run over history")
        verbose_name_plural = _("rule runs over history")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["rule", "-created_at"], name="qa_rulerun_rule")]

    def __str__(self) -> str:
        return _("Run #%(id)s") % {"id": self.pk}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.transcripts_total:
            return 0
        return min(100, self.transcripts_done * 100 // self.transcripts_total)


class Scorecard(models.Model):
    """An agent's QA week: what they handled, what was confirmed against them, and the score."""

    tenant_field: ClassVar[str | None] = None

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_scorecards", verbose_name=_("agent")
    )
    week = models.DateField(_("week of"), help_text=_("The Monday the week starts on."))
    calls = models.PositiveIntegerField(_("calls"), default=0)
    chats = models.PositiveIntegerField(_("chats"), default=0)
    confirmed = models.JSONField(_("confirmed findings per category"), default=dict)
    score = models.DecimalField(
        _("score"), max_digits=5, decimal_places=1,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )  # fmt: skip
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        ordering = ["agent", "-week"]
        constraints = [models.UniqueConstraint(fields=["agent", "week"], name="qa_scorecard_week")]

    def __str__(self) -> str:
        return f"{self.agent} {self.week}"
