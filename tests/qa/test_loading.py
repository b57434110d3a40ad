"""Many new transcripts added at once (qa.loading, the demo's calls and chats): stored as save_transcript stores one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from qa import loading, search_query
from qa.loading import NewTranscript
from qa.models import Segment, SegmentSearch, Transcript
from qa.segments import SegmentIn
from qa.services import save_transcript

pytestmark = pytest.mark.django_db

LINES = [
    SegmentIn("agent", "您好，请问有什么可以帮您", 0, 2000),
    SegmentIn("consumer", "我要退款\t马上\\退", 2500, 4000),
]


def _search_rows(transcript_id: int) -> list[tuple[object, ...]]:
    return list(
        SegmentSearch.objects.filter(transcript_id=transcript_id)
        .order_by("segment__seq")
        .values_list("spoken_at", "kind", "speaker", "agent_id", "vector")
    )


def test_added_transcripts_are_stored_with_their_segments_and_search_rows_like_saved_ones() -> None:
    agent = User.objects.create(username="qa-agent")
    started = timezone.now() - timedelta(hours=2)
    added = loading.add_transcripts(
        [
            NewTranscript(
                kind="call",
                source="import",
                started_at=started,
                segments=LINES,
                agent_id=agent.pk,
                external_id="call-1",
                duration_seconds=4.0,
            ),
            NewTranscript(kind="call", source="import", started_at=started, segments=[SegmentIn("consumer", "没收到")]),
        ]
    )
    saved = save_transcript(kind="call", source="import", segments=LINES, started_at=started, agent=agent)

    first, second = Transcript.objects.filter(pk__in=added).order_by("pk")
    assert [first.pk, second.pk] == added
    assert (first.external_id, first.characters, first.agent_id, first.duration_seconds, first.evaluated_at) == (
        "call-1", 21, agent.pk, 4.0, None,
    )  # fmt: skip
    assert first.indexed_at is not None and (second.characters, second.external_id) == (3, None)
    assert list(first.segments.order_by("seq").values_list("seq", "speaker", "text", "start_ms", "end_ms")) == [
        (0, "agent", "您好，请问有什么可以帮您", 0, 2000),
        (1, "consumer", "我要退款\t马上\\退", 2500, 4000),
    ]
    assert _search_rows(first.pk) == _search_rows(saved.pk)
    assert SegmentSearch.objects.count() == Segment.objects.count() == 5
    assert sorted(search_query.matching('"我要退款"').values_list("transcript_id", flat=True)) == [first.pk, saved.pk]


def test_a_transcript_stored_already_is_refused_and_nothing_of_its_chunk_is_added() -> None:
    started = timezone.now()
    loading.add_transcripts([NewTranscript(kind="call", source="import", started_at=started, segments=LINES,
                                           external_id="call-1")])  # fmt: skip
    again = [
        NewTranscript(kind="call", source="import", started_at=started, segments=LINES, external_id="call-2"),
        NewTranscript(kind="call", source="import", started_at=started, segments=LINES, external_id="call-1"),
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        loading.add_transcripts(again)

    assert list(Transcript.objects.values_list("external_id", flat=True)) == ["call-1"]
    assert Segment.objects.count() == SegmentSearch.objects.count() == 2


def test_adding_nothing_writes_nothing() -> None:
    assert loading.add_transcripts([]) == []
    assert not Transcript.objects.exists()
