"""The radio's Celery tasks: the morning build (Celery Beat, RADIO_DIGEST_TIME) and recording each digest."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from radio import audio, building


@shared_task
def build_morning_digests() -> dict[str, object]:
    """Beat, every morning: build every channel's digest of the day. Running it again the same day does nothing."""
    day = timezone.localdate()
    created = building.build_digests(day)
    return {"day": day.isoformat(), "digests": len(created)}


@shared_task(acks_late=True)
def render_digest_audio(digest_id: int) -> str:
    """Record one digest's audio with espeak-ng (or mark it unavailable when the server has none)."""
    return audio.render_digest_audio(digest_id)
