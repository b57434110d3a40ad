"""The digest read aloud: its script, and recording it with espeak-ng (``radio.speech``) into the digest's audio
(MP3, compressed by LAME)."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import formats, translation
from django.utils.translation import gettext as _

from radio import speech
from radio.models import Digest, DigestItem


def digest_script(digest: Digest, items: Sequence[DigestItem]) -> list[str]:
    """What the radio says, sentence by sentence, in the site's language (the consumers' words as they were)."""
    with translation.override(settings.LANGUAGE_CODE):
        lines = [
            _("Nine O'Clock Radio, %(channel)s, %(date)s.")
            % {"channel": digest.channel.name, "date": formats.date_format(digest.day, "MONTH_DAY_FORMAT")},
            _("Today %(items)s voices from %(customers)s customers.")
            % {"items": digest.items_count, "customers": digest.customers},
        ]
        for item in items:
            lines.append(_("Number %(n)s: %(headline)s.") % {"n": item.position, "headline": item.headline})
            lines.append(_("%(n)s customers said:") % {"n": item.customers} if item.customers > 1
                         else _("A customer said:"))  # fmt: skip
            lines.append(item.quote)
            if item.note:
                lines.append(_("The agent's note: %(note)s") % {"note": item.note})
        if digest.items_count > len(items):
            lines.append(_("%(n)s more on the digest page.") % {"n": digest.items_count - len(items)})
        lines.append(_("That was %(channel)s. Have a good day.") % {"channel": digest.channel.name})
    return lines


def render_digest_audio(digest_id: int) -> str:
    """Record a digest's audio (idempotent: a ready recording is kept). Returns the digest's audio status.

    Without espeak-ng the digest says so (status "unavailable") and everything else works; a recording
    that comes out silent is refused (status "failed").
    """
    with transaction.atomic():
        digest = (
            Digest.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel")
            .filter(pk=digest_id)
            .first()
        )
        if digest is None:  # gone, or another worker is recording it right now
            return "busy"
        recorded = bool(digest.audio) and digest.audio.storage.exists(digest.audio.name)
        if digest.audio_status == Digest.Audio.READY and recorded:
            return digest.audio_status
        if digest.items_count == 0:
            digest.audio_status = Digest.Audio.NONE
            digest.save(update_fields=["audio_status"])
            return digest.audio_status
        items = list(digest.items.order_by("position")[: settings.RADIO_AUDIO_ITEMS])
        fields = ["audio", "audio_status", "audio_error", "audio_seconds"]
        try:
            audio = speech.speak(digest_script(digest, items))
        except speech.SpeechUnavailable as error:
            digest.audio_status, digest.audio_error = Digest.Audio.UNAVAILABLE, str(error)
        except speech.SpeechFailed as error:
            digest.audio_status, digest.audio_error = Digest.Audio.FAILED, str(error)
        else:
            if digest.audio:
                digest.audio.delete(save=False)
            name = f"{digest.day:%Y/%m/%d}/{digest.channel.code}-{digest.pk}.mp3"
            digest.audio.save(name, ContentFile(speech.mp3(audio.wav)), save=False)
            digest.audio_status, digest.audio_error = Digest.Audio.READY, ""
            digest.audio_seconds = round(audio.seconds, 1)
        digest.save(update_fields=fields)
    return digest.audio_status
