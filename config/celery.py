"""The Celery app: broker is Redis, periodic tasks live in django-celery-beat's tables."""

from __future__ import annotations

import os
import re

from celery import Celery
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("servicedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs are declared here, in code. django-celery-beat's DatabaseScheduler copies them into
# its tables when beat starts, where an operator sees them in the admin.
# Installed into django-celery-beat when missing (core/beat.py); after that the admin owns them.


def digest_time(value: str) -> tuple[int, int]:
    """RADIO_DIGEST_TIME, "HH:MM" (24-hour), as (hour, minute); a bad value names the setting."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if match is None:
        raise ImproperlyConfigured(f"RADIO_DIGEST_TIME must be HH:MM (24-hour), not {value!r}.")
    return int(match.group(1)), int(match.group(2))


# Read from the environment, not django.conf.settings: this module loads while settings do.
_DIGEST_HOUR, _DIGEST_MINUTE = digest_time(os.environ.get("RADIO_DIGEST_TIME", "08:30"))

app.conf.beat_schedule = {
    "core.heartbeat": {"task": "core.tasks.heartbeat", "schedule": 30.0},
    # The outbox: tasks whose message the broker could not take at their commit (core.queue).
    "core.sweep_outbox": {"task": "core.tasks.sweep_outbox", "schedule": crontab()},  # every minute
    # The supervisors' wallboard: its numbers pushed over /ws/events/ to the open pages.
    "home.push_wallboard": {"task": "home.tasks.push_wallboard", "schedule": 10.0},
    # Nightly, in TIME_ZONE: risk rules and credit ratings, then merchants' service scores.
    "crm.nightly_rating": {"task": "crm.tasks.nightly_rating", "schedule": crontab(hour=2, minute=0)},
    "tickets.check_sla": {"task": "tickets.tasks.check_sla", "schedule": crontab()},  # every minute
    # 极速维权: trusted consumers' disputes the merchant left unanswered past INSTANT_DISPUTE_HOURS.
    "tickets.instant_disputes": {"task": "tickets.tasks.decide_unanswered_disputes", "schedule": crontab()},
    # 极速退货: approved returns whose goods were not scanned by their deadline expire.
    "tickets.expire_returns": {"task": "tickets.tasks.expire_unsent_returns", "schedule": crontab(minute=5)},
    # Live chat: requeue chats accepted but unanswered (CHAT_ACCEPT_TIMEOUT), resolve idle bot-only chats.
    "chat.sweep_chats": {"task": "chat.tasks.sweep_chats", "schedule": 15.0},
    # Chats become transcripts, and whatever a dead worker left unevaluated is evaluated.
    "qa.sweep": {"task": "qa.tasks.sweep", "schedule": crontab(minute="*/5")},
    "qa.scorecards": {"task": "qa.tasks.compute_scorecards", "schedule": crontab(hour=4, minute=0)},
    "merchants.nightly_scores": {
        "task": "merchants.tasks.nightly_merchant_scores",
        "schedule": crontab(hour=3, minute=0),
    },
    # The Nine O'Clock Radio's morning digests, at RADIO_DIGEST_TIME (default 08:30) in TIME_ZONE.
    "radio.morning_digests": {
        "task": "radio.tasks.build_morning_digests",
        "schedule": crontab(hour=_DIGEST_HOUR, minute=_DIGEST_MINUTE),
    },
}
