"""The nightly jobs: declared in code, installed into django-celery-beat, run by a real worker, and on demand."""

from __future__ import annotations

import time
from io import StringIO

from celery import current_app
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from crm.models import CreditRating
from crm.tasks import nightly_rating
from merchants.models import MerchantScore
from merchants.tasks import nightly_merchant_scores
from tests.conftest import celery_process, stop_process
from tests.crm import factories as f


def test_nightly_jobs_are_installed_into_beat_with_their_schedules(transactional_db: None) -> None:
    beat = celery_process("beat", "-l", "warning", "--schedule", "/dev/null")
    try:
        deadline = time.monotonic() + 30
        while PeriodicTask.objects.filter(name__in=["crm.nightly_rating", "merchants.nightly_scores"]).count() < 2:
            assert beat.poll() is None and time.monotonic() < deadline, "beat did not install the nightly jobs"
            time.sleep(0.2)
    finally:
        stop_process(beat)
    rating = PeriodicTask.objects.select_related("crontab").get(name="crm.nightly_rating")
    scores = PeriodicTask.objects.select_related("crontab").get(name="merchants.nightly_scores")
    assert (rating.task, rating.crontab.hour, rating.crontab.minute) == ("crm.tasks.nightly_rating", "2", "0")
    assert (scores.task, scores.crontab.hour, scores.crontab.minute) == (
        "merchants.tasks.nightly_merchant_scores",
        "3",
        "0",
    )
    assert str(rating.crontab.timezone) == current_app.conf.timezone


def test_a_real_worker_runs_the_nightly_jobs(celery_worker: object) -> None:
    who = f.consumer()
    f.order(who, f.merchant())
    nightly_rating.delay()
    nightly_merchant_scores.delay()
    deadline = time.monotonic() + 30
    while not (CreditRating.objects.filter(consumer=who).exists() and MerchantScore.objects.exists()):
        assert time.monotonic() < deadline, "the worker did not run the nightly jobs"
        time.sleep(0.2)


def test_rate_consumers_command_rates_everyone(db: None) -> None:
    people = [f.consumer() for _ in range(3)]
    out = StringIO()
    call_command("rate_consumers", "--quiet", stdout=out)
    assert "Rated 3 consumers on 34 indicators" in out.getvalue()
    assert CreditRating.objects.filter(consumer__in=people).count() == 3
