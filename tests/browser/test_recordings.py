"""A supervisor uploads a call recording in the admin, follows it in the list, and retries a failed one."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile

from core.demo import ensure_demo_logins
from qa.models import Recording, Transcript
from tests.crm import factories as f
from tests.qa import speech
from tickets import services as tickets
from tickets.models import Department

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_supervisor_uploads_a_call_and_retries_a_failed_one(
    browser: Any, live_server: Any, screenshot_dir: Path, transactional_db: None, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    ensure_demo_logins()
    from django.contrib.auth.models import User

    agent, supervisor = User.objects.get(username="agent"), User.objects.get(username="supervisor")
    consumer = f.consumer("C-REC-1", display_name="王小明")
    at = datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI)
    wav = speech.wav(b"\1\0" * 8000)
    failed = Recording.objects.create(
        audio=ContentFile(wav, name="old.wav"), agent=agent, consumer=consumer, language="en", called_at=at,
        status="failed", attempts=2, failure_reason="No speech was recognised in the recording.",
    )  # fmt: skip
    ticket = tickets.open_ticket(
        consumer, subject="耳机坏了", department=Department.objects.create(code="as", name="售后")
    )
    done = Recording.objects.create(
        audio=ContentFile(wav, name="done.wav"), agent=agent, consumer=consumer, language="en", called_at=at,
        ticket=ticket, status="done", attempts=1, duration_seconds=184.5, transcribed_at=at,
    )  # fmt: skip
    Transcript.objects.create(kind="call", source="recogniser", recording=done, started_at=at, agent=agent)
    upload = tmp_path / "call.wav"
    upload.write_bytes(wav)

    context = browser.new_context(
        locale="en", extra_http_headers={"Accept-Language": "en-US,en;q=0.9"}, viewport={"width": 1366, "height": 800}
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/qa/recording/add/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", "supervisor-demo-pass")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/qa/recording/add/")

    page.set_input_files("#id_audio", str(upload))
    page.select_option("#id_agent", value=str(agent.pk))
    page.click(timeout=5000, selector="#id_consumer + .select2-container .select2-selection")
    page.fill(".select2-search__field", "C-REC-1")
    page.click(timeout=5000, selector=".select2-results__option:has-text('C-REC-1')")
    page.fill("#id_called_at_0", "2026-11-23")
    page.fill("#id_called_at_1", "14:30:00")
    page.screenshot(path=str(screenshot_dir / "qa-recording-upload.png"), full_page=True)
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/admin/qa/recording/")

    new = Recording.objects.exclude(pk__in=[failed.pk, done.pk]).get()
    assert (new.agent, new.consumer, new.uploaded_by, new.status) == (agent, consumer, supervisor, "pending")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 3
    assert "No speech was recognised in the recording." in page.locator("#result_list").inner_text()
    page.screenshot(path=str(screenshot_dir / "qa-recording-list.png"), full_page=True)

    page.locator(f"#result_list input[value='{failed.pk}']").check()
    page.select_option("select[name=action]", "retry")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector(".messagelist")
    assert "1 recording is queued for transcription again." in page.locator(".messagelist").inner_text()
    failed.refresh_from_db()
    assert (failed.status, failed.failure_reason) == ("pending", "")

    page.goto(f"{live_server.url}/admin/qa/recording/{done.pk}/change/")
    assert page.get_by_role("link", name="Open the transcript").is_visible()
    # The player can seek: the audio is served by byte range (Chromium offers no seeking otherwise).
    page.evaluate("() => { const a = document.querySelector('audio'); a.preload = 'auto'; a.load(); }")
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1", timeout=10000)
    seekable = "() => { const a = document.querySelector('audio'); return a.seekable.length ? a.seekable.end(0) : 0; }"
    assert page.evaluate(seekable) > 0
    page.screenshot(path=str(screenshot_dir / "qa-recording-detail.png"), full_page=True)
    context.close()
