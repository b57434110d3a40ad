"""QA's state changes: concurrent saves of one transcript, reviews and what they recompute."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from qa import evaluation, services
from qa.models import Finding, Scorecard, Transcript
from qa.segments import SegmentIn
from tests.qa import factories


@pytest.mark.django_db(transaction=True)
def test_two_saves_of_one_new_transcript_racing_give_one_transcript() -> None:
    created, waiting = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                Transcript.objects.create(
                    kind="call", source="import", external_id="race-1", started_at=timezone.now(), characters=1
                )
                created.set()
                waiting.wait(5)
                time.sleep(0.3)  # the second save is now blocked on the unique external id
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    def second() -> None:
        try:
            created.wait(5)
            waiting.set()
            services.save_transcript(
                kind="call", source="import", external_id="race-1", started_at=timezone.now(),
                segments=[SegmentIn("consumer", "第二次导入")],
            )  # fmt: skip
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    transcript = Transcript.objects.get(external_id="race-1")
    assert list(transcript.segments.values_list("text", flat=True)) == ["第二次导入"]


@pytest.mark.django_db
def test_review_recomputes_the_scorecard_and_a_second_review_changes_nothing(
    make_user: Callable[..., User],
) -> None:
    agent, supervisor, other = make_user("a"), make_user("s"), make_user("s2")
    factories.rule("rude", "phrase", speaker="agent", terms=["爱买不买"], severity=3)
    transcript = factories.transcript([("agent", "爱买不买")], agent=agent)
    evaluation.evaluate_transcripts([transcript.pk])
    finding = Finding.objects.get()
    assert services.review_findings([finding], verdict="confirmed", by=supervisor, note="态度") == 1
    card = Scorecard.objects.get(agent=agent)
    assert (card.calls, card.confirmed, card.score) == (1, {"compliance": 1}, 40)
    assert services.review_findings([finding], verdict="dismissed", by=other) == 0
    finding.refresh_from_db()
    assert (finding.status, finding.reviewed_by, finding.note) == ("confirmed", supervisor, "态度")


@pytest.mark.django_db
def test_a_verdict_other_than_confirm_or_dismiss_is_refused() -> None:
    with pytest.raises(ValueError):
        services.review_findings([], verdict="open", by=None)


@pytest.mark.django_db
def test_a_transcript_without_segments_is_refused() -> None:
    with pytest.raises(ValueError):
        services.save_transcript(kind="call", source="import", segments=[], started_at=timezone.now())
    assert not Transcript.objects.exists()
