"""QA's models, one module per family: recordings, transcripts (and their searchable segments), rules (and
their frozen versions), findings (with the runs and scorecards they feed).

Import them from here (``from qa.models import Rule``); the modules are how the code is laid out, not an API."""

from __future__ import annotations

from qa.models.findings import Finding, RuleRun, Scorecard
from qa.models.recordings import Language, Recording, Speaker
from qa.models.rules import (
    Category,
    PiiKind,
    ProximityScope,
    Rule,
    RuleDefinition,
    RuleKind,
    RuleVersion,
    Severity,
    SpeakerScope,
    all_pii_kinds,
)
from qa.models.transcripts import Segment, SegmentSearch, Transcript

__all__ = [
    "Category",
    "Finding",
    "Language",
    "PiiKind",
    "ProximityScope",
    "Recording",
    "Rule",
    "RuleDefinition",
    "RuleKind",
    "RuleRun",
    "RuleVersion",
    "Scorecard",
    "Segment",
    "SegmentSearch",
    "Severity",
    "Speaker",
    "SpeakerScope",
    "Transcript",
    "all_pii_kinds",
]
