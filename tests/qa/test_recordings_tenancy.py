"""Recordings follow the transcripts' rule: an agent lists, opens and plays only their own calls; QA reads all.

Another agent's recording is not there for them (404, the same answer as a recording that does not exist),
in the API, the admin list, the admin page and its audio, exactly where that call's transcript is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import roles
from qa.models import Recording
from tests.crm import factories as f
from tests.qa import factories

pytestmark = pytest.mark.django_db
AUDIO = b"RIFF" + bytes(range(60))


@pytest.fixture(autouse=True)
def _media(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def people(make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "mine": make_user("agent-a", roles.AGENT),
        "theirs": make_user("agent-b", roles.AGENT),
        "supervisor": make_user("supervisor-r", roles.SUPERVISOR),
    }


def call(agent: User) -> Recording:
    recording = Recording.objects.create(
        audio=ContentFile(AUDIO, name="call.wav"), agent=agent, consumer=f.consumer(), language="en",
        called_at=timezone.now(), status=Recording.Status.DONE,
    )  # fmt: skip
    factories.transcript([("agent", "您好"), ("consumer", "耳机坏了")], agent=agent, recording=recording)
    return recording


def body(response: Any) -> bytes:
    streamed = getattr(response, "streaming_content", None)
    return b"".join(streamed) if streamed is not None else bytes(response.content)


def test_an_agent_lists_only_their_own_recordings_and_a_supervisor_lists_all(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    mine, theirs = call(people["mine"]), call(people["theirs"])
    also_mine = call(people["mine"])
    agent = client_for(people["mine"])
    assert [r["id"] for r in agent.get("/api/recordings/").json()["results"]] == [also_mine.pk, mine.pk]
    assert agent.get("/api/recordings/?agent=agent-b").json()["results"] == []  # no filter reaches them
    everyone = client_for(people["supervisor"]).get("/api/recordings/").json()["results"]
    assert [r["id"] for r in everyone] == [also_mine.pk, theirs.pk, mine.pk]
    page = agent.get("/admin/qa/recording/")
    assert [r.pk for r in page.context["cl"].result_list] == [also_mine.pk, mine.pk]
    assert [r.pk for r in client_for(people["supervisor"]).get("/admin/qa/recording/").context["cl"].result_list] == [
        also_mine.pk, theirs.pk, mine.pk,
    ]  # fmt: skip


def test_another_agents_recording_is_a_404_wherever_its_transcript_is(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    mine, theirs = call(people["mine"]), call(people["theirs"])
    agent = client_for(people["mine"])
    for recording, expected in ((mine, 200), (theirs, 404)):
        answers = {
            "transcript": agent.get(f"/admin/qa/transcript/{recording.transcript.pk}/change/").status_code,
            "api": agent.get(f"/api/recordings/{recording.pk}/").status_code,
            "page": agent.get(f"/admin/qa/recording/{recording.pk}/change/").status_code,
            "audio": agent.get(f"/admin/qa/recording/{recording.pk}/audio/").status_code,
            "transcript audio": agent.get(f"/admin/qa/transcript/{recording.transcript.pk}/audio/").status_code,
        }
        assert answers == dict.fromkeys(answers, expected), recording
    denied = agent.get(f"/api/recordings/{theirs.pk}/")
    assert denied.json()["code"] == "not_found"
    assert body(agent.get(f"/admin/qa/recording/{mine.pk}/audio/")) == AUDIO
    # The same answer as for a recording that does not exist: nothing to probe.
    assert agent.get("/api/recordings/999999/").status_code == 404
    assert agent.get("/admin/qa/recording/999999/audio/").status_code == 404


def test_a_supervisor_opens_and_plays_any_agents_recording(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    theirs = call(people["theirs"])
    supervisor = client_for(people["supervisor"])
    assert supervisor.get(f"/api/recordings/{theirs.pk}/").json()["id"] == theirs.pk
    assert supervisor.get(f"/admin/qa/recording/{theirs.pk}/change/").status_code == 200
    assert body(supervisor.get(f"/admin/qa/recording/{theirs.pk}/audio/")) == AUDIO


def test_the_agents_recording_lists_cost_the_same_queries_for_one_row_or_many(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    call(people["theirs"])
    call(people["mine"])
    agent = client_for(people["mine"])
    counts: dict[str, list[int]] = {"/api/recordings/": [], "/admin/qa/recording/": []}
    for _ in range(2):
        for url, seen in counts.items():
            with CaptureQueriesContext(connection) as queries:
                assert agent.get(url).status_code == 200
            seen.append(len(queries))
        call(people["mine"])
        call(people["mine"])
    assert {url: seen[0] == seen[1] for url, seen in counts.items()} == dict.fromkeys(counts, True), counts
