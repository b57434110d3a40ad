"""The Celery app: broker is Redis, periodic tasks live in django-celery-beat's tables."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("servicedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs are declared here, in code. django-celery-beat's DatabaseScheduler copies them into
# its tables when beat starts, where an operator sees them in the admin.
app.conf.beat_schedule = {
    "core.heartbeat": {"task": "core.tasks.heartbeat", "schedule": 30.0},
}
